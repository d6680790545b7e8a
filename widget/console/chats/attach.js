// Files an agent sends into a chat: the paperclip next to the composer, a paste into it, or a drop on the
// chat. Each goes over HTTP (shared/files.js) with the agent's login token, shown as "sending" with its
// progress until the bridge stores it; its stored message (over the socket, with the id it was sent with)
// then replaces it, as a typed reply's does (ConversationTab.settlePending).

import { h } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { uploadElement } from "../../shared/attachment-view.js";
import { FILE_ACCEPT, filesOf, precheck, uploadFile } from "../../shared/files.js";
import { newId } from "../../shared/transport.js";
import { FILE_REFUSALS } from "../constants.js";

export const FILE_BUTTON_TITLE = "Attach a picture or PDF (or paste or drop one)";

/**
 * The paperclip button, with paste and drop on the composer's text and the transcript: all send files, and
 * none while the button is disabled (a private note is being written, the chat is not this agent's). A file
 * dropped then is still caught, so the browser does not open it in place of the console.
 */
export function fileControls(tab, textarea) {
  const input = h("input", { type: "file", accept: FILE_ACCEPT, multiple: true, hidden: true });
  input.addEventListener("change", () => {
    const files = filesOf(input);
    input.value = "";
    files.forEach((file) => sendFile(tab, file));
  });
  const button = h("button", {
    type: "button", class: "icon-button attach-button", "aria-label": "Attach a picture or PDF", title: FILE_BUTTON_TITLE,
    onclick: () => input.click(),
  }, icon("attach"));
  textarea.addEventListener("paste", (event) => {
    const files = filesOf(event.clipboardData);
    if (!files.length || button.disabled) return;
    event.preventDefault();
    files.forEach((file) => sendFile(tab, file));
  });
  for (const zone of [tab.log, textarea]) {
    zone.addEventListener("dragover", (event) => {
      if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
      event.preventDefault();
      if (!button.disabled) tab.log.classList.add("is-dropping");
    });
    zone.addEventListener("dragleave", () => tab.log.classList.remove("is-dropping"));
    zone.addEventListener("drop", (event) => {
      tab.log.classList.remove("is-dropping");
      const files = filesOf(event.dataTransfer);
      if (!files.length) return;
      event.preventDefault();
      if (button.disabled) return;
      files.forEach((file) => sendFile(tab, file));
    });
  }
  return { button, input };
}

/** One file into the chat, shown as "sending" with its progress, then as the bridge stored it or why it did not. */
export async function sendFile(tab, file) {
  const id = newId();
  const status = h("p", { class: "msg-status" }, "Sending…");
  const element = h("li", { class: "msg msg-agent is-pending" },
    h("div", { class: "msg-meta" }, h("span", { class: "msg-author" }, "You")),
    h("div", { class: "msg-bubble" }, uploadElement(file.name || "file", { uploading: "Sending" })), status);
  tab.pending.set(id, element);
  tab.list.append(element);
  tab.stickToBottom = true;
  tab.scrollToEnd();
  try {
    const refused = precheck(file);
    if (refused) throw refused;
    await uploadFile(new URL("/", location.href), tab.id, `Bearer ${tab.view.token}`, file, {
      clientId: id, onProgress: (fraction) => { element.querySelector("progress").value = fraction; },
    });
    status.textContent = "Sent";
  } catch (error) {
    tab.failPending(id, `Not sent: ${FILE_REFUSALS[error.code] || error.message}`);
  }
}
