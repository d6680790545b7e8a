// "Email me this chat": the header's button and its form in the widget's panel. The bridge offers it
// (welcome.transcript_mail) only when it has an SMTP server; it sends the transcript once per conversation,
// and says so in the conversation (the notice "transcript_sent" or "transcript_failed"). A signed-in
// customer's form starts with their verified address (the welcome's email); every refusal is said plainly
// in the form, and "We're emailing…" goes once the outcome is in the conversation.

import { h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { fill } from "./options.js";

const MAX_ADDRESS = 254;
// What the bridge checks strictly (handoff/mail_rules.py); here only the obvious slips, before asking.
const LOOKS_LIKE_ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[A-Za-z]{2,63}$/;

export class TranscriptMail {
  /**
   * @param {object} view the ChatView: its strings and form helpers (field, formError, formActions, submitForm)
   * @param {(to: string) => Promise<{to: string}>} send asks the bridge (rejects with {code, message})
   */
  constructor(view, send) {
    this.view = view;
    this.send = send;
    const { strings } = view;
    this.button = h("button", { type: "button", class: "icon-button header__mail", hidden: true,
      "aria-label": strings.emailTranscript, title: strings.emailTranscript, onclick: () => this.open() }, icon("mail"));
    this.input = h("input", { name: "to", type: "email", maxlength: MAX_ADDRESS, autocomplete: "email", dir: "ltr",
      "aria-describedby": "sc-mail-hint" });
    this.form = h("form", { class: "form transcript-mail", hidden: true, novalidate: true, "aria-labelledby": "sc-mail-title" },
      h("h3", { class: "form__title", id: "sc-mail-title" }, strings.emailTranscriptTitle),
      this.view.field("sc-mail-to", strings.emailAddress, this.input),
      h("p", { class: "field__hint", id: "sc-mail-hint" }, strings.emailTranscriptHint),
      this.view.formError(),
      this.view.formActions(strings.emailTranscriptSend, () => this.close()));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /** Offered or not (the bridge's welcome); never again once this conversation's transcript is on its way. */
  setAvailable(available) {
    this.available = Boolean(available);
    this.button.hidden = !this.available || Boolean(this.done);
    if (this.button.hidden) this.close();
  }

  /** A signed-in customer's own address (the welcome's), to start the form with; null for an anonymous one. */
  setOwnAddress(email) {
    this.ownAddress = typeof email === "string" ? email : "";
  }

  /** The conversation says it was sent (also after a reload): no second request, no "We're emailing…". */
  sent() {
    this.done = true;
    this.setAvailable(this.available);
    this.clearQueued();
  }

  /** The conversation says it could not be sent: it may be asked for again. */
  failed() {
    this.done = false;
    this.setAvailable(this.available);
    if (this.clearQueued()) this.view.showConfirmation(this.view.strings.emailTranscriptFailed, { error: true });
  }

  /** Takes away this form's "We're emailing…" if it is still shown; true if it was. */
  clearQueued() {
    const shown = Boolean(this.queuedText) && this.view.confirmationText.textContent === this.queuedText
      && this.view.confirmationBody.isConnected;
    if (shown) this.view.hideConfirmation();
    this.queuedText = "";
    return shown;
  }

  open() {
    this.view.hideConfirmation();
    if (!this.input.value && this.ownAddress) this.input.value = this.ownAddress;
    this.form.hidden = false;
    this.view.updatePanelVisibility();
    this.input.focus();
  }

  close() {
    this.form.hidden = true;
    this.view.showFormError(this.form, "");
    this.view.updatePanelVisibility();
  }

  submit() {
    const { strings } = this.view;
    const to = this.input.value.trim();
    if (!LOOKS_LIKE_ADDRESS.test(to)) {
      this.view.showFormError(this.form, strings.mailError_invalid_address);
      this.input.focus();
      return;
    }
    this.view.submitForm(this.form, () => this.send(to), () => {
      this.done = true;
      this.setAvailable(this.available);
      this.queuedText = fill(strings.emailTranscriptQueued, { to });
      this.view.showConfirmation(this.queuedText);
    }, (error) => {
      // Every refusal in words (the bridge's own message is English and for developers): a known code's,
      // else a general one.
      const text = strings[`mailError_${error.code}`] || strings.mailError_other;
      if (error.code === "already_sent") {
        this.sent();
        this.view.showConfirmation(text);
      } else {
        this.view.showFormError(this.form, text);
        if (["invalid_address", "card_in_address", "no_address"].includes(error.code)) this.input.focus();
      }
      return true;
    });
  }
}
