// "Email transcript" in a chat's header: the bridge sends the conversation, once, to the customer's own
// address (a signed-in customer's) or the latest one they typed in the chat; never to one the agent types
// (docs/bridge-protocol.md "Transcripts by email"). Offered only when the bridge has an SMTP server
// (the conversation envelope's transcript_mail); the outcome arrives as a notice in the transcript.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { describeError } from "../constants.js";
import { confirmDialog } from "../dialogs.js";

export class TranscriptMailAction {
  constructor(tab) {
    this.tab = tab;
    this.button = h("button", { type: "button", class: "button", hidden: true, onclick: () => this.send() },
      icon("mail"), "Email transcript");
    // What became of the request: queued for whom, or why not (the notice in the transcript says "sent").
    this.status = h("p", { class: "transcript-mail-status", role: "status", hidden: true });
  }

  /** Offered while the bridge can send and this chat's transcript has not gone yet. */
  update(data) {
    this.available = Boolean(data.transcript_mail);
    this.button.hidden = !this.available || Boolean(this.done);
  }

  /** The transcript's "transcript_sent" notice: nothing more to send. */
  sent() {
    this.done = true;
    this.button.hidden = true;
  }

  /** Its "transcript_failed" notice: it may be sent again. */
  failed() {
    this.done = false;
    this.button.hidden = !this.available;
  }

  async send() {
    const sure = await confirmDialog({
      title: "Email the transcript to the customer?",
      text: "It goes once, to the customer's own address or the one they typed in this chat, without your notes.",
      confirm: "Send transcript",
    });
    if (!sure) return;
    this.button.disabled = true;
    try {
      const answer = await this.tab.view.waiting.ask("email_transcript", { conversation_id: this.tab.id });
      this.show(`Emailing the transcript to ${answer.to}…`, false);
      this.sent();
    } catch (error) {
      this.show(`Not sent: ${describeError(error)}`, true);
      if (error.code === "already_sent") this.sent();
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
