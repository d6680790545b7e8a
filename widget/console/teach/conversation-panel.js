// The conversation a message in the Teach inbox came from, in a side panel
// beside the inbox (asked of the bridge when opened).

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { newId } from "../../shared/transport.js";
import { TEACH_STRINGS, describeTeachError } from "../constants.js";
import { messageElement } from "../transcript.js";

export class ConversationPanel {
  constructor(view) {
    this.view = view;
    this.current = null;
    this.opener = null;
    this.heading = h("h2", { id: "teach-conversation-title", tabindex: "-1" }, "Conversation");
    this.meta = h("p", { class: "side-meta" });
    this.body = h("div", { class: "side-body", tabindex: "0", role: "region", "aria-label": "Transcript" });
    this.closeButton = h("button", { type: "button", class: "icon-button", "aria-label": "Close conversation", onclick: () => this.close(true) }, icon("close"));
    this.element = h("aside", { class: "conversation-side", "aria-labelledby": this.heading.id, hidden: true },
      h("header", { class: "side-head" }, h("div", {}, this.heading, this.meta), this.closeButton),
      this.body);
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close(true);
      }
    });
  }

  async open(item, opener) {
    const token = newId();
    this.current = token;
    this.opener = opener;
    this.element.hidden = false;
    this.element.parentElement.classList.add("has-side");
    this.meta.textContent = `Conversation ${String(item.conversation_id).slice(0, 8)} · the message in the inbox is marked`;
    replaceChildren(this.body, h("p", { class: "muted side-loading", role: "status" }, "Loading the conversation…"));
    this.heading.focus();
    let reply;
    try {
      reply = await this.view.request("conversation", { conversation_id: item.conversation_id });
    } catch (error) {
      if (this.current !== token) return;
      replaceChildren(this.body, h("p", { class: "inline-error", role: "alert" }, icon("info"), h("span", {}, describeTeachError(error))));
      return;
    }
    if (this.current !== token) return;
    const messages = Array.isArray(reply.messages) ? reply.messages : [];
    if (!messages.length) {
      replaceChildren(this.body, h("div", { class: "empty-state small" }, icon("info", "icon empty-icon"),
        h("p", {}, TEACH_STRINGS.conversationMissing),
        h("p", {}, "The message itself: ", h("q", {}, item.text))));
      return;
    }
    const rendered = messages.map((message) => messageElement(message, (agent) => (agent ? `Agent ${agent}` : "Agent")));
    replaceChildren(this.body, h("ol", { class: "transcript teach-transcript" }, rendered));
    // The inbox message: the first customer message with its text.
    const index = messages.findIndex((message) => message.kind === "customer" && message.text === item.text);
    const mark = index < 0 ? null : rendered[index];
    if (mark) {
      mark.classList.add("is-inbox-message");
      mark.querySelector(".msg-meta").append(h("span", { class: "chip chip-topic" }, "In the inbox"));
      mark.scrollIntoView({ block: "center" });
    }
  }

  close(returnFocus = false) {
    this.current = null;
    this.element.hidden = true;
    if (this.element.parentElement) this.element.parentElement.classList.remove("has-side");
    replaceChildren(this.body);
    if (returnFocus && this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }
}
