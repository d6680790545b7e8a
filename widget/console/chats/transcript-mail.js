// "Email transcript" in a chat's header: the bridge sends the conversation, once, to the customer's own
// address (a signed-in customer's) or one they typed in the chat; never to one the agent types
// (docs/bridge-protocol.md "Transcripts by email"). The agent picks the address in a dialog: the verified
// one is chosen already, a typed one (it could be anyone's) only by clicking it. Offered only when the
// bridge has an SMTP server (the conversation envelope's transcript_mail); the outcome arrives as a notice
// in the transcript, which then says it: the status above the chat ("Emailing the transcript to …") goes.

import { h, replaceChildren } from "../../shared/dom.js";
import { newId } from "../../shared/transport.js";
import { icon } from "../../shared/icons.js";
import { describeError } from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";

// Why a transcript was not sent, in the agent's words (docs/bridge-protocol.md "Transcripts by email").
const MAIL_REFUSALS = {
  already_sent: "this chat's transcript was emailed already.",
  no_address: "the customer has given no email address to send it to.",
  address_not_allowed: "that address is neither the customer's own nor one they typed in this chat.",
  invalid_address: "that is not one plain email address.",
  card_in_address: "that address has a card number in it, and is never written to.",
  nothing_to_send: "there is nothing in this chat to send yet.",
  mail_limit_address: "as many transcripts as one customer's address may ask for today were sent.",
  mail_limit_recipient: "that address has had as many transcripts as it may get today.",
  mail_limit_unverified: "today's transcripts to addresses typed in chats are used up; a signed-in customer's own address still works.",
  mail_unavailable: "transcripts by email are not set up on this server.",
};

export class TranscriptMailAction {
  constructor(tab) {
    this.tab = tab;
    this.button = h("button", { type: "button", class: "button", hidden: true, onclick: () => this.send() },
      icon("mail"), "Email transcript");
    // What became of the request: queued for whom, or why not (the notice in the transcript says "sent").
    this.status = h("p", { class: "transcript-mail-status", role: "status", hidden: true });
    this.outcomes = 0; // notices of an outcome seen: one that came before the request's answer ends it
  }

  /** Offered while the bridge can send and this chat's transcript has not gone yet. */
  update(data) {
    this.available = Boolean(data.transcript_mail);
    this.button.hidden = !this.available || Boolean(this.done);
  }

  /** The transcript's "transcript_sent" notice: nothing more to send, and "Emailing…" is over. */
  sent() {
    this.outcomes += 1;
    this.hideProgress();
    this.markDone();
  }

  /** Its "transcript_failed" notice: it may be sent again ("Emailing…" is over: the notice says why). */
  failed() {
    this.outcomes += 1;
    this.hideProgress();
    this.done = false;
    this.button.hidden = !this.available;
  }

  markDone() {
    this.done = true;
    this.button.hidden = true;
  }

  /** The status goes if it says "Emailing…" (a refusal the agent has not read yet stays). */
  hideProgress() {
    if (!this.status.classList.contains("is-error")) this.status.hidden = true;
  }

  /** The picker: resolves with the address the agent chose, or null (cancelled, or nothing to choose). */
  pick(found) {
    return new Promise((resolve) => {
      const titleId = dialogTitleId();
      let chosen = null;
      const choice = (value, title, meta, checked) => {
        const id = `mail-to-${newId()}`;
        return h("li", { class: "choice" },
          h("input", { type: "radio", name: "mail-to", value, id, checked }),
          h("label", { for: id }, h("span", { class: "choice-title", dir: "ltr" }, title),
            h("span", { class: "choice-meta" }, meta)));
      };
      const options = [
        ...(found.verified ? [choice(found.verified, found.verified, "their own address (signed in, verified)", true)] : []),
        ...found.typed.map((typed) => choice(typed, typed, "typed by the customer in this chat: not verified", false)),
      ];
      const send = h("button", { type: "submit", class: "button primary", disabled: !found.verified }, "Send transcript");
      const cancel = h("button", { type: "button", class: "button" }, "Cancel");
      const form = h("form", {},
        h("h2", { id: titleId }, "Email the transcript to the customer?"),
        h("p", { class: "dialog-text" }, options.length
          ? "It goes once, without your notes. Choose the address: one the customer typed could be anyone's, "
            + "so pick it only if they asked for it there."
          : "The customer has given no email address in this chat."),
        options.length ? h("fieldset", {}, h("legend", {}, "Send to"), h("ul", { class: "choices" }, options)) : null,
        h("div", { class: "dialog-actions" }, cancel, options.length ? send : null));
      const dialog = modal(titleId, null, form);
      const radios = [...form.querySelectorAll("input[type=radio]")];
      for (const radio of radios) radio.addEventListener("change", () => { send.disabled = false; });
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const picked = radios.find((radio) => radio.checked);
        if (!picked) return;
        chosen = picked.value;
        dialog.close();
      });
      cancel.addEventListener("click", () => dialog.close());
      dialog.addEventListener("close", () => resolve(chosen));
      (radios.find((radio) => radio.checked) || radios[0] || cancel).focus();
    });
  }

  async send() {
    this.button.disabled = true;
    try {
      const found = await this.tab.view.waiting.ask("mail_addresses", { conversation_id: this.tab.id });
      const to = await this.pick({ verified: found.verified || null, typed: found.typed || [] });
      if (!to) return;
      const outcomes = this.outcomes;
      const answer = await this.tab.view.waiting.ask("email_transcript", { conversation_id: this.tab.id, to });
      // Queued; unless its outcome's notice came first (a fast mail server), it is on its way.
      if (this.outcomes === outcomes) {
        this.show(`Emailing the transcript to ${answer.to}…`, false);
        this.markDone();
      }
    } catch (error) {
      this.show(`Not sent: ${MAIL_REFUSALS[error.code] || describeError(error)}`, true);
      if (error.code === "already_sent") this.markDone();
    } finally {
      this.button.disabled = false;
    }
  }

  show(text, isError) {
    replaceChildren(this.status, icon(isError ? "info" : "mail"), h("span", {}, text));
    this.status.classList.toggle("is-error", isError);
    this.status.hidden = false;
  }
}
