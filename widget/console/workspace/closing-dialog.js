// Closing a chat: the agent picks what became of it (a disposition from the
// bridge's list, HANDOFF_DISPOSITIONS) and may leave a closing note for
// colleagues; both are stored with the close, in the same step. Without a list
// (a bridge older than dispositions, mid-deploy) the chat closes without one.

import { h } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { newId } from "../../shared/transport.js";
import { describeError } from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";

const MAX_NOTE = 1000;

/** "follow-up needed" -> "Follow-up needed". */
export function dispositionLabel(disposition) {
  return disposition.charAt(0).toUpperCase() + disposition.slice(1);
}

export function closingDialog(view, tab) {
  const titleId = dialogTitleId();
  const error = h("p", { class: "form-error", role: "alert" });
  const asksOutcome = view.dispositions.length > 0;
  const submit = h("button", { type: "submit", class: "button danger", disabled: asksOutcome }, icon("check"), "Close chat");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const noteId = `note-${newId()}`;
  const note = h("textarea", { id: noteId, class: "closing-note", rows: "3", maxlength: String(MAX_NOTE) });
  const choices = view.dispositions.map((disposition) => {
    const id = `disposition-${newId()}`;
    return h("li", { class: "choice" },
      h("input", { type: "radio", name: "disposition", value: disposition, id, required: true }),
      h("label", { for: id }, h("span", { class: "choice-title" }, dispositionLabel(disposition))));
  });
  // The customer's open callback or message request: settled with the close unless the agent unticks it.
  const request = view.requests.openRequestOf(tab.id);
  const settleId = `settle-${newId()}`;
  const settle = request && h("input", { type: "checkbox", id: settleId, checked: true });
  const form = h("form", { class: "closing-form", novalidate: true },
    h("h2", { id: titleId }, "Close this chat?"),
    h("p", { class: "dialog-text" }, "The conversation ends for the customer, who is asked to rate it. What became of it?"),
    asksOutcome ? h("fieldset", {}, h("legend", {}, "Outcome"), h("ul", { class: "choices" }, choices)) : null,
    settle && h("p", { class: "choice closing-settle" }, settle,
      h("label", { for: settleId }, `Also mark their ${request.kind === "callback" ? "callback" : "message"} request done`,
        h("span", { class: "muted" }, ` (${request.contact}${request.preferred_time ? `, ${request.preferred_time}` : ""})`))),
    h("label", { for: noteId, class: "field-label" }, "Closing note for colleagues (optional, never shown to the customer)"),
    note, error,
    h("div", { class: "dialog-actions" }, cancel, submit));
  const dialog = modal(titleId, null, form);
  const radios = [...form.querySelectorAll("input[type=radio]")];
  for (const radio of radios) radio.addEventListener("change", () => { submit.disabled = false; });
  cancel.addEventListener("click", () => dialog.close());
  if (radios[0]) radios[0].focus();
  else submit.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = radios.find((radio) => radio.checked);
    if (asksOutcome && !picked) return;
    submit.disabled = true;
    error.textContent = "";
    try {
      const closing = picked ? { disposition: picked.value } : {};
      if (note.value.trim()) closing.closing_note = note.value.trim();
      if (settle) closing.request_done = settle.checked;
      await tab.act("close", closing);
      dialog.close();
    } catch (failure) {
      error.textContent = describeError(failure);
      submit.disabled = false;
    }
  });
}
