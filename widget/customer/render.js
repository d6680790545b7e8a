// The customer widget's DOM: built once inside the shadow root, then updated
// in place (a status push must not wipe what the customer is typing in a
// form). It knows nothing of websockets: what the customer does goes to the
// `actions` callbacks, and the controller (widget.js) calls the methods here.
// Every text is a text node (dom.js h()), never HTML.

import { formatTime, h, linkified, replaceChildren, timeElement } from "../shared/dom.js";
import { compareMessageIds } from "../shared/transport.js";
import { hasVisible } from "../shared/text.js";
import {
  COUNTDOWN_TICK_MS, COUNTER_VISIBLE_FROM, MAX_COMMENT_CHARACTERS, MAX_DETAIL_CHARACTERS, MAX_TEXT_CHARACTERS,
  MIN_CONTRAST, RATING_SCORES,
} from "./constants.js";
import { icon } from "../shared/icons.js";
import { attachmentElement, uploadElement } from "../shared/attachment-view.js";
import { FILE_ACCEPT, filesOf } from "../shared/files.js";
import { contactKind } from "./contact.js";
import { TranscriptMail } from "./transcript-mail.js";
import { contrastRatio, fill } from "./options.js";

// Within this many pixels of the bottom, new messages keep the log scrolled down.
const STICKY_SCROLL_PX = 80;
const NOTICE_ICONS = { agent_joined: "person", back_to_bot: "bot", left_queue: "bot", agent_lost: "offline", closed: "check" };
// Notices that offer the callback/message form in the log (the queue refused a handoff: docs/bridge-protocol.md).
const REQUEST_OFFERS = new Set(["queue_refused"]);
// Notices that offer a person (a file sent to the bot, which cannot read it: attachment_kept; the callback the
// bot's form booked, refused by a cap: callback_not_booked).
const PERSON_OFFERS = new Set(["attachment_kept", "callback_not_booked"]);
// Notices whose news the panel shows while it is true (nobody available, the request sent, the rating asked
// for or received): shown (and announced) there once, never repeated in the log.
const PANEL_NOTICES = new Set(["no_agents", "request_stored", "rate"]);

/** What a status says of the last request: which, and in what state ("" for none). */
function requestKey(status) {
  const request = status && status.request;
  return request && typeof request === "object" ? `${request.id}:${request.state}` : "";
}

function hidden(text) {
  return h("span", { class: "visually-hidden" }, text);
}

/** The Rasa buttons worth showing: a title to read and a string payload. */
function quickReplies(data) {
  const buttons = Array.isArray(data.buttons) ? data.buttons : [];
  return buttons.filter((button) => button && typeof button.title === "string" && button.title.trim()
    && (button.payload === undefined || typeof button.payload === "string"));
}

/** Whether a message has anything for the customer to see (a bot reply may carry only `custom`). */
export function isVisible(message) {
  if (message.kind === "system" && PANEL_NOTICES.has((message.data || {}).notice)) return false;
  return Boolean(message.text && message.text.trim()) || quickReplies(message.data || {}).length > 0;
}

export class ChatView {
  /**
   * @param {ShadowRoot} shadow
   * @param {object} options resolved options (options.js)
   * @param {URL} stylesheetUrl
   * @param {object} actions callbacks: toggle, close, send(text), quickReply(title, payload), talkToPerson,
   *   retryNow, typing, leaveQueue, sendFiles(files), loadFile(attachment) (a promise of its Blob), giveDetails(data),
   *   leaveRequest(data), rate(data), emailTranscript(to), all but the last five returning nothing; those return
   *   promises settled by the bridge's answer.
   */
  constructor(shadow, options, stylesheetUrl, actions) {
    this.options = options;
    this.strings = options.strings;
    this.actions = actions;
    this.ownAddress = ""; // setOwnAddress
    this.nodes = new Map();
    this.countdownTimer = null;
    this.status = { state: null };
    this.requestOfferedWhileQueued = false;
    this.requestOpen = false; // a request of theirs is open: no form for another (renderRequest)
    this.lastCustomerTs = 0; // when the customer last wrote: a request's news older than that is not shown
    this.ratingSent = false;
    this.shownPosition = null; // the queue place last shown, to say when it grows

    const stylesheet = h("link", { rel: "stylesheet", href: stylesheetUrl.href });
    this.loaded = new Promise((resolve) => {
      stylesheet.addEventListener("load", resolve, { once: true });
      stylesheet.addEventListener("error", () => {
        console.error(`SupportChat: could not load the stylesheet ${stylesheetUrl.href}`);
        resolve();
      }, { once: true });
    });
    this.root = this.build();
    this.root.hidden = true; // no flash of unstyled widget
    this.loaded.then(() => {
      this.root.hidden = false;
      this.warnAboutContrast();
    });
    shadow.append(stylesheet, this.root);
  }

  // ---- building -------------------------------------------------------------

  build() {
    const { strings, options } = this;
    this.badge = h("span", { class: "launcher__badge", "aria-hidden": "true", hidden: true });
    this.unreadDescription = h("span", { id: "sc-unread", class: "visually-hidden" });
    this.launcher = h("button", {
      type: "button", class: "launcher", "aria-label": strings.openChat, "aria-expanded": "false",
      "aria-controls": "sc-window", "aria-describedby": "sc-unread", onclick: () => this.actions.toggle(),
    }, icon("chat", "icon launcher__open"), icon("close", "icon launcher__close"), this.badge, this.unreadDescription);

    this.window = h("section", {
      id: "sc-window", class: "window", role: "dialog", "aria-label": options.title, hidden: true,
    }, this.buildHeader(), this.buildBanner(), this.buildLog(), this.buildTyping(), this.buildPanel(), this.buildComposer());
    this.window.addEventListener("dragover", (event) => {
      if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
      event.preventDefault();
      this.window.dataset.dropping = "true";
    });
    this.window.addEventListener("dragleave", (event) => {
      if (!this.window.contains(event.relatedTarget)) delete this.window.dataset.dropping;
    });
    this.window.addEventListener("drop", (event) => {
      delete this.window.dataset.dropping;
      const files = filesOf(event.dataTransfer);
      if (!files.length) return;
      event.preventDefault();
      this.actions.sendFiles(files);
    });

    const root = h("div", {
      class: "root", dir: options.direction, lang: options.language, "data-position": options.position,
      "data-open": "false",
      onkeydown: (event) => {
        // Escape closes the window from anywhere in the widget, the launcher included.
        if (event.key === "Escape" && !this.window.hidden) {
          event.stopPropagation();
          this.actions.close();
        }
      },
    }, this.launcher, this.window);
    root.style.setProperty("--sc-primary", options.colors.primary);
    root.style.setProperty("--sc-on-primary", options.colors.onPrimary);
    return root;
  }

  buildHeader() {
    const { strings } = this;
    this.statusText = h("span", {}, strings.statusConnecting);
    this.statusLine = h("p", { class: "header__status", "data-state": "connecting" },
      h("span", { class: "header__dot", "aria-hidden": "true" }), this.statusText);
    // "Email me this chat" (./transcript-mail.js): its button here, its form in the panel.
    this.transcriptMail = new TranscriptMail(this, (to) => this.actions.emailTranscript(to));
    this.talkButton = h("button", { type: "button", class: "talk-button", onclick: () => this.actions.talkToPerson() },
      icon("person"), h("span", {}, strings.talkToPerson));
    return h("header", { class: "header" },
      h("div", { class: "header__row" },
        h("span", { class: "header__avatar", "aria-hidden": "true" }, icon("chat")),
        h("div", { class: "header__text" }, h("h2", { class: "header__title" }, h("bdi", {}, this.options.title)), this.statusLine),
        this.transcriptMail.button,
        h("button", { type: "button", class: "icon-button header__close", "aria-label": strings.closeChat, onclick: () => this.actions.close() },
          icon("close"))),
      this.talkButton);
  }

  buildBanner() {
    // The live region stays in the DOM; its content comes and goes so screen readers announce it.
    this.bannerRegion = h("div", { class: "banner-region", role: "status" });
    this.bannerCountdown = h("span", { "aria-hidden": "true" });
    this.banner = h("div", { class: "banner" },
      icon("offline"),
      h("div", { class: "banner__text" },
        h("p", {}, h("strong", {}, this.strings.connectionLost), " — ", this.bannerCountdown),
        h("p", { class: "banner__hint" }, this.strings.reconnectingHint)),
      h("button", { type: "button", class: "banner__retry", onclick: () => this.actions.retryNow() }, this.strings.retryNow));
    return this.bannerRegion;
  }

  buildLog() {
    this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": this.strings.conversation, tabindex: "0" });
    // A picture takes its height only once loaded: the end stays in view if it was (load does not bubble).
    this.atEnd = true;
    this.log.addEventListener("scroll", () => { this.atEnd = this.isNearEnd(); });
    this.log.addEventListener("load", () => {
      if (this.atEnd) this.scrollToEnd();
    }, true);
    return this.log;
  }

  buildTyping() {
    this.typingRegion = h("div", { class: "typing-region", role: "status" });
    this.typingText = h("span", { class: "typing__text" });
    this.typing = h("div", { class: "typing" },
      h("span", { class: "typing__dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")), this.typingText);
    return this.typingRegion;
  }

  buildPanel() {
    const { strings } = this;
    this.queuePosition = h("p", { class: "queue__position", id: "sc-queue-position" });
    this.queueWait = h("p", { class: "queue__wait", dir: "auto" });
    this.queueNoAgents = h("p", { class: "queue__no-agents", hidden: true }, strings.noAgents);
    this.queueMoved = h("p", { class: "queue__moved", hidden: true }, strings.queueMovedBack);
    this.queueActions = h("div", { class: "queue__actions" },
      h("button", { type: "button", class: "chip", onclick: () => this.openForm("details") }, strings.addDetails),
      h("button", { type: "button", class: "chip request-offer", onclick: () => this.openForm("request", "callback") }, strings.requestCallback),
      h("button", { type: "button", class: "chip request-offer", onclick: () => this.openForm("request", "message") }, strings.leaveMessage));
    // The way out of the queue, always there while queued (also beside an open form): never trapped.
    this.leaveQueueButton = h("button", { type: "button", class: "button button--quiet queue__leave",
      onclick: () => this.actions.leaveQueue() }, icon("bot"), h("span", {}, strings.leaveQueue));
    this.detailsForm = this.buildDetailsForm();
    this.requestForm = this.buildRequestForm();
    this.queueSection = h("section", { class: "queue", "aria-labelledby": "sc-queue-position", hidden: true },
      h("div", { class: "queue__summary", "aria-live": "polite" }, icon("clock"),
        h("div", {}, this.queuePosition, this.queueMoved, this.queueWait, this.queueNoAgents)),
      this.queueActions, this.detailsForm, this.requestForm, this.leaveQueueButton);

    // A request for a person the queue refused: why, and the callback/message form right here.
    this.refusalText = h("p", { class: "refusal__text" });
    this.refusalAlert = h("div", { class: "refusal__alert", role: "alert" }, icon("info"), this.refusalText);
    this.refusalActions = h("div", { class: "refusal__actions", role: "group", "aria-label": strings.otherWays },
      h("button", { type: "button", class: "chip request-offer", onclick: () => this.openForm("request", "callback", { within: "refusal" }) }, strings.requestCallback),
      h("button", { type: "button", class: "chip request-offer", onclick: () => this.openForm("request", "message", { within: "refusal" }) }, strings.leaveMessage),
      h("button", { type: "button", class: "button button--quiet", onclick: () => this.hideRefusal() }, strings.dismiss));
    // Refused while a request of theirs is open: no second form, but that one (shown below) is what we'll answer.
    this.refusalOpenRequest = h("p", { class: "refusal__open-request", hidden: true }, strings.requestAlreadyOpen);
    this.refusal = h("section", { class: "refusal", hidden: true }, this.refusalAlert, this.refusalOpenRequest, this.refusalActions);

    this.ratingForm = this.buildRatingForm();
    this.confirmationText = h("p", { class: "confirmation__text" });
    this.confirmation = h("div", { class: "confirmation", role: "status" });
    this.confirmationWhileQueued = false; // the confirmation shown speaks of the wait (showConfirmation)
    this.confirmationIcon = icon("check");
    this.confirmationBody = h("div", { class: "confirmation__body" }, this.confirmationIcon, this.confirmationText,
      h("button", { type: "button", class: "icon-button confirmation__dismiss", "aria-label": strings.dismiss,
        onclick: () => this.hideConfirmation() }, icon("close")));
    // What became of the last callback or message request (the bridge's status says, also after a reload).
    this.requestStatusText = h("p", { class: "request-status__text" });
    // An open request may be taken back (the bridge's cancel_request); the status that follows says so.
    this.requestCancelButton = h("button", { type: "button", class: "button button--quiet request-status__cancel",
      onclick: () => this.cancelRequest() }, strings.cancelRequest);
    this.requestCancelError = this.formError();
    this.requestStatus = h("div", { class: "request-status", role: "status", hidden: true }, icon("check"),
      h("div", { class: "request-status__body" }, this.requestStatusText, this.requestCancelButton, this.requestCancelError));
    // A rated chat says so, also after a reload (the bridge's status.rated).
    this.ratedStatus = h("div", { class: "request-status rated-status", role: "status", hidden: true }, icon("check"),
      h("p", { class: "rated-status__text" }, strings.ratingThanks));
    this.panel = h("div", { class: "panel", hidden: true }, this.queueSection, this.refusal, this.requestStatus, this.ratingForm,
      this.ratedStatus, this.transcriptMail.form, this.confirmation);
    return this.panel;
  }

  field(id, label, control, { error = null } = {}) {
    control.id = id;
    return h("div", { class: "field" }, h("label", { class: "field__label", for: id }, label), control, error);
  }

  /** Where a form says why the bridge refused it: beside the form, in view, as an error. */
  formError() {
    return h("p", { class: "form__error", role: "alert", hidden: true });
  }

  formActions(submitText, onCancel) {
    return h("div", { class: "form__actions" },
      onCancel && h("button", { type: "button", class: "button button--quiet", onclick: onCancel }, this.strings.cancel),
      h("button", { type: "submit", class: "button button--primary" }, submitText));
  }

  buildDetailsForm() {
    const { strings } = this;
    const description = h("textarea", { name: "description", rows: 2, maxlength: MAX_DETAIL_CHARACTERS, dir: "auto" });
    const contact = h("input", { name: "contact", type: "text", maxlength: MAX_DETAIL_CHARACTERS, autocomplete: "email", dir: "auto" });
    const form = h("form", { class: "form", hidden: true, novalidate: true, "aria-labelledby": "sc-details-title" },
      h("h3", { class: "form__title", id: "sc-details-title" }, strings.detailsTitle),
      this.field("sc-details-description", strings.detailsDescription, description),
      this.field("sc-details-contact", `${strings.contact} ${strings.optional}`, contact),
      this.formError(),
      this.formActions(strings.saveDetails, () => this.closeForms()));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = { description: description.value.trim(), contact: contact.value.trim() };
      this.submitForm(form, () => this.actions.giveDetails(data), () => {
        this.closeForms();
        this.showConfirmation(strings.detailsSaved, { whileQueued: true });
      });
    });
    return form;
  }

  /** A signed-in customer's verified address (the welcome's), the contact a message starts with; "" for none. */
  setOwnAddress(email) {
    this.ownAddress = typeof email === "string" ? email : "";
  }

  buildRequestForm() {
    const { strings } = this;
    const kinds = ["callback", "message"].map((kind) => h("input", { type: "radio", name: "kind", value: kind, id: `sc-kind-${kind}` }));
    const contactError = h("p", { class: "field__error", id: "sc-contact-error", hidden: true }, strings.contactRequired);
    const contact = h("input", { name: "contact", type: "text", maxlength: MAX_DETAIL_CHARACTERS, autocomplete: "tel", required: true,
      "aria-required": "true", dir: "auto" });
    const description = h("textarea", { name: "description", rows: 2, maxlength: MAX_DETAIL_CHARACTERS, dir: "auto" });
    const preferredTime = h("input", { name: "preferred_time", type: "text", maxlength: MAX_DETAIL_CHARACTERS, dir: "auto" });
    this.requestDescriptionLabel = h("span");
    const descriptionField = this.field("sc-request-description", this.requestDescriptionLabel, description);
    const timeField = this.field("sc-request-time", strings.preferredTime, preferredTime);
    this.requestCancel = h("button", { type: "button", class: "button button--quiet", onclick: () => this.closeForms() }, strings.cancel);
    const form = h("form", { class: "form", hidden: true, novalidate: true, "aria-labelledby": "sc-request-title" },
      h("h3", { class: "form__title", id: "sc-request-title" }, strings.requestTitle),
      h("fieldset", { class: "segmented" },
        h("legend", { class: "field__label" }, strings.requestKind),
        h("div", { class: "segmented__options" },
          kinds[0], h("label", { for: kinds[0].id }, strings.kindCallback),
          kinds[1], h("label", { for: kinds[1].id }, strings.kindMessage))),
      this.field("sc-request-contact", strings.contact, contact, { error: contactError }),
      descriptionField, timeField, this.formError(),
      h("div", { class: "form__actions" }, this.requestCancel,
        h("button", { type: "submit", class: "button button--primary" }, strings.sendRequest)));

    const kind = () => kinds.find((input) => input.checked)?.value || "callback";
    let filledIn = ""; // the signed-in customer's own address, put in for a message until they type another
    const showKind = () => {
      if (!contact.value.trim() || contact.value.trim() === filledIn) {
        filledIn = kind() === "message" ? this.ownAddress : "";
        contact.value = filledIn;
      }
      timeField.hidden = kind() !== "callback";
      contact.setAttribute("autocomplete", kind() === "callback" ? "tel" : "email");
      this.requestDescriptionLabel.textContent = `${kind() === "callback" ? strings.requestDescription : strings.messageDescription} ${strings.optional}`;
    };
    for (const input of kinds) input.addEventListener("change", showKind);
    this.chooseRequestKind = (value) => {
      for (const input of kinds) input.checked = input.value === value;
      showKind();
    };
    const showContactError = (message) => {
      contactError.hidden = !message;
      if (message) contactError.textContent = message;
      if (message) {
        contact.setAttribute("aria-invalid", "true");
        contact.setAttribute("aria-describedby", contactError.id);
      } else {
        contact.removeAttribute("aria-invalid");
        contact.removeAttribute("aria-describedby");
      }
    };
    contact.addEventListener("input", () => showContactError(null)); // checked again on sending
    const refuseContact = (message) => {
      showContactError(message);
      contact.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!contact.value.trim()) return refuseContact(strings.contactRequired);
      if (!contactKind(contact.value)) return refuseContact(strings.contactInvalid);
      const chosen = kind();
      const data = { kind: chosen, contact: contact.value.trim(), description: description.value.trim() };
      if (chosen === "callback" && preferredTime.value.trim()) data.preferred_time = preferredTime.value.trim();
      // The status that follows shows the request as sent (requestStatus), also after a reload.
      this.submitForm(form, () => this.actions.leaveRequest(data), () => {
        form.reset();
        this.closeForms();
        this.hideRefusal();
      }, (error) => (error.code === "invalid_contact" && (refuseContact(strings.contactInvalid), true))
        || (error.code === "request_limit_address" && (this.showFormError(form, this.requestLimitText(error.retryAt)), true)));
    });
    this.chooseRequestKind("callback");
    return form;
  }

  buildRatingForm() {
    const { strings } = this;
    const error = h("p", { class: "field__error", id: "sc-rating-error", hidden: true }, strings.ratingChoose);
    const stars = RATING_SCORES.map((score) => {
      const input = h("input", { type: "radio", name: "score", value: score, id: `sc-score-${score}`, class: "star-input" });
      const label = h("label", { for: input.id, class: "star", "data-score": score },
        icon("star"), hidden(fill(strings.ratingScore, { score, label: strings.ratingLabels[score - 1] })));
      return { input, label };
    });
    const starRow = h("div", { class: "stars" }, stars.map(({ input, label }) => [input, label]));
    const highlight = (upTo) => {
      for (const { label } of stars) label.toggleAttribute("data-filled", Number(label.dataset.score) <= upTo);
    };
    const chosen = () => Number(stars.find(({ input }) => input.checked)?.input.value || 0);
    for (const { input, label } of stars) {
      input.addEventListener("change", () => {
        error.hidden = true;
        highlight(chosen());
      });
      label.addEventListener("mouseenter", () => highlight(Number(label.dataset.score)));
      label.addEventListener("mouseleave", () => highlight(chosen()));
    }
    const comment = h("textarea", { name: "comment", rows: 2, maxlength: MAX_COMMENT_CHARACTERS, dir: "auto" });
    const form = h("form", { class: "form rating", hidden: true, novalidate: true },
      h("fieldset", { class: "rating__scores", "aria-describedby": error.id },
        h("legend", { class: "form__title" }, strings.ratingTitle), starRow, error),
      this.field("sc-rating-comment", strings.ratingComment, comment),
      this.formError(),
      this.formActions(strings.ratingSubmit, null));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const score = chosen();
      if (!score) {
        error.hidden = false;
        stars[0].input.focus();
        return;
      }
      const data = comment.value.trim() ? { score, comment: comment.value.trim() } : { score };
      this.submitForm(form, () => this.actions.rate(data), () => {
        this.ratingSent = true;
        this.renderPanel();
      });
    });
    return form;
  }

  buildComposer() {
    const { strings } = this;
    this.input = h("textarea", {
      id: "sc-input", class: "composer__input", rows: 1, maxlength: MAX_TEXT_CHARACTERS, dir: "auto",
      placeholder: strings.inputPlaceholder, "aria-describedby": "sc-counter", enterkeyhint: "send",
    });
    this.counter = h("span", { id: "sc-counter", class: "composer__counter", hidden: true });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is neither.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submitInput();
      }
    });
    this.input.addEventListener("input", () => {
      this.fitInput();
      this.actions.typing();
    });
    // Files: the paperclip, a paste or a drop anywhere on the window (docs/bridge-protocol.md "Attachments").
    this.fileInput = h("input", { type: "file", accept: FILE_ACCEPT, multiple: true, hidden: true, id: "sc-file" });
    this.fileInput.addEventListener("change", () => {
      const files = filesOf(this.fileInput);
      this.fileInput.value = "";
      if (files.length) this.actions.sendFiles(files);
    });
    this.input.addEventListener("paste", (event) => {
      const files = filesOf(event.clipboardData);
      if (!files.length) return;
      event.preventDefault();
      this.actions.sendFiles(files);
    });
    const form = h("form", { class: "composer", novalidate: true },
      h("label", { for: "sc-input", class: "visually-hidden" }, strings.inputLabel),
      this.fileInput,
      h("button", { type: "button", class: "composer__attach", "aria-label": strings.attachFile, title: strings.attachFile,
        onclick: () => this.fileInput.click() }, icon("attach")),
      this.input, this.counter,
      h("button", { type: "submit", class: "composer__send", "aria-label": strings.send }, icon("send")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitInput();
    });
    return form;
  }

  // ---- the window ------------------------------------------------------------

  /** Opening may move focus to the input; closing returns it to the launcher if it was in the window. */
  setOpen(open, { focus = true } = {}) {
    const focusWasInside = this.window.contains(this.root.getRootNode().activeElement);
    this.root.dataset.open = String(open);
    this.window.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    this.launcher.setAttribute("aria-label", open ? this.strings.closeChat : this.strings.openChat);
    if (open) {
      this.scrollToEnd();
      if (focus) this.input.focus();
    } else if (focusWasInside) {
      this.launcher.focus();
    }
  }

  setUnread(count) {
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 9 ? "9+" : String(count);
    this.unreadDescription.textContent = count ? fill(this.strings.unread, { count }) : "";
  }

  submitInput() {
    const text = this.input.value.trim();
    if (!hasVisible(text)) return; // only spaces or zero-width characters: nothing the agent could read
    this.input.value = "";
    this.fitInput();
    this.hideConfirmation();
    this.actions.send(text);
  }

  fitInput() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
    const length = this.input.value.length;
    this.counter.hidden = length < COUNTER_VISIBLE_FROM;
    this.counter.textContent = fill(this.strings.charactersLeft, { count: MAX_TEXT_CHARACTERS - length });
  }

  focusInput() {
    this.input.focus();
  }

  // ---- messages --------------------------------------------------------------

  showGreeting(text) {
    if (!text || this.nodes.has("greeting")) return;
    const node = h("div", { class: "message message--bot message--greeting", "data-greeting": "" },
      h("span", { class: "message__author" }, this.strings.assistant),
      h("div", { class: "message__bubble", dir: "auto" }, text));
    this.nodes.set("greeting", node);
    this.log.prepend(node);
    this.refresh();
  }

  /**
   * The closed chat above stays on screen; a divider, then the new chat's messages below it (the divider sorts
   * before any server id, so they are placed after it; the old chat's messages are no longer tracked).
   */
  startNewChat(text) {
    for (const [key, node] of [...this.nodes]) {
      if (key !== "greeting" && !key.startsWith("pending:")) {
        delete node.dataset.id;
        this.nodes.delete(key);
      }
    }
    for (const old of this.log.querySelectorAll(".new-chat")) old.dataset.id = "";
    const divider = h("div", { class: "new-chat", role: "separator", "data-id": "0-0" }, h("span", { dir: "auto" }, text));
    this.log.append(divider);
    this.refresh();
    this.scrollToEnd();
  }

  /** A stored message, placed by its server id. */
  addMessage(message) {
    if (this.nodes.has(message.id)) return;
    const stick = this.isNearEnd() || message.kind === "customer";
    const node = message.kind === "system" ? this.systemElement(message) : this.messageElement(message);
    const notice = message.kind === "system" ? (message.data || {}).notice : "";
    if (notice === "transcript_sent") this.transcriptMail.sent();
    if (notice === "transcript_failed") this.transcriptMail.failed();
    node.dataset.id = message.id;
    if (message.kind === "customer") this.customerWrote(node, message.ts);
    this.nodes.set(message.id, node);
    let anchor = null;
    for (let child = this.log.lastElementChild; child; child = child.previousElementSibling) {
      if ((child.dataset.id && compareMessageIds(child.dataset.id, message.id) < 0) || "greeting" in child.dataset) {
        anchor = child;
        break;
      }
    }
    if (anchor) anchor.after(node);
    else this.log.prepend(node);
    this.refresh();
    if (stick) this.scrollToEnd();
  }

  /** A customer message not yet acknowledged: last, marked "sending". */
  addPending(clientId, text, createdAt) {
    const node = this.messageElement({ kind: "customer", text, data: {}, ts: createdAt });
    node.dataset.pending = clientId;
    node.querySelector(".message__delivery").textContent = this.strings.sending;
    this.nodes.set(`pending:${clientId}`, node);
    this.log.append(node);
    this.refresh();
    this.scrollToEnd();
  }

  /** A file being sent: last, with its progress. */
  addPendingFile(clientId, name, createdAt) {
    const node = this.messageElement({ kind: "customer", text: "", data: {}, ts: createdAt });
    node.dataset.pending = clientId;
    node.querySelector(".message__meta").before(h("div", { class: "message__bubble message__bubble--file" },
      uploadElement(name, { uploading: this.strings.uploading })));
    node.querySelector(".message__delivery").textContent = this.strings.sending;
    this.nodes.set(`pending:${clientId}`, node);
    this.log.append(node);
    this.refresh();
    this.scrollToEnd();
  }

  setUploadProgress(clientId, fraction) {
    const progress = this.nodes.get(`pending:${clientId}`)?.querySelector("progress");
    if (progress) progress.value = fraction;
  }

  /** The bridge stored a pending message: it becomes that stored message. */
  promotePending(clientId, message) {
    this.removePending(clientId);
    this.addMessage(message);
  }

  removePending(clientId) {
    const node = this.nodes.get(`pending:${clientId}`);
    if (!node) return;
    node.remove();
    this.nodes.delete(`pending:${clientId}`);
    this.refresh();
  }

  markFailed(clientId, reason) {
    const node = this.nodes.get(`pending:${clientId}`);
    if (!node) return;
    node.classList.add("message--failed");
    node.querySelector(".message__delivery").textContent = fill(this.strings.notSent, { reason });
  }

  /** Removes the stored messages (a conversation that expired); unsent ones stay, they go to the next one. */
  clearMessages() {
    for (const [key, node] of this.nodes) {
      if (key !== "greeting" && !key.startsWith("pending:")) {
        node.remove();
        this.nodes.delete(key);
      }
    }
    this.refresh();
  }

  /**
   * A customer message stored: written while queued, it says the team will see it (until the agent has read it);
   * news of a request dealt with before it is no longer news (renderRequest).
   */
  customerWrote(node, ts) {
    if (this.status.state === "queued") node.querySelector(".message__delivery").textContent = this.strings.seenWhenTeamJoins;
    this.lastCustomerTs = Math.max(this.lastCustomerTs, Number(ts) || 0);
    if (this.status.request) {
      this.renderRequest(this.status);
      this.updatePanelVisibility();
    }
  }

  /** "Read" under the newest customer message the agent has read (replacing "Our team will see this…"). */
  setAgentRead(upTo) {
    let marked = false;
    const customers = [...this.log.querySelectorAll(".message--customer[data-id]")].reverse();
    for (const node of customers) {
      const delivery = node.querySelector(".message__delivery");
      const read = !marked && compareMessageIds(node.dataset.id, upTo) <= 0;
      delivery.textContent = read ? this.strings.readByAgent : "";
      marked ||= read;
    }
  }

  timeElement(ms) {
    return timeElement(ms, this.options.language, "message__time");
  }

  messageElement(message) {
    const { strings } = this;
    const data = message.data || {};
    const author = message.kind === "agent" ? (typeof data.agent === "string" && data.agent) || strings.agent
      : message.kind === "bot" ? strings.assistant : strings.you;
    const replies = message.kind === "bot" ? quickReplies(data) : [];
    const attachment = data.attachment && typeof data.attachment === "object" ? data.attachment : null;
    const words = { open: strings.openFile, download: strings.downloadFile, loading: strings.loadingFile, unavailable: strings.fileUnavailable };
    const bubble = attachment
      ? h("div", { class: "message__bubble message__bubble--file" }, attachmentElement(attachment, () => this.actions.loadFile(attachment), words))
      : message.text && h("div", { class: "message__bubble", dir: "auto" }, linkified(message.text));
    const node = h("div", { class: `message message--${message.kind}`, "data-kind": message.kind, "data-author": `${message.kind}:${author}` },
      message.kind === "customer" ? hidden(`${author}:`) : h("span", { class: "message__author", dir: "auto" }, author),
      bubble,
      h("div", { class: "message__meta" }, this.timeElement(message.ts), h("span", { class: "message__delivery" })),
      replies.length > 0 && h("div", { class: "quick-replies", role: "group", "aria-label": strings.suggestedReplies },
        replies.map((button) => h("button", {
          type: "button", class: "chip", dir: "auto",
          onclick: () => {
            this.actions.quickReply(button.title.trim(), button.payload || "");
            this.input.focus();
          },
        }, button.title.trim()))));
    return node;
  }

  systemElement(message) {
    const { strings } = this;
    const notice = (message.data && message.data.notice) || "";
    // A notice that names the agent (data.agent, their display name) in the widget's words when it has them.
    const agent = message.data && typeof message.data.agent === "string" ? message.data.agent : "";
    const named = agent && strings[`notice_${notice}_named`];
    // A refusal that ends says when, in the customer's clock (the bridge's text counts minutes from when it was said).
    const until = Number(message.data && message.data.retry_at);
    const timed = until > 0 && strings[`notice_${notice}_until`];
    // A notice about a mail names its address (data.to: the customer's own, or one they typed).
    const to = message.data && typeof message.data.to === "string" ? message.data.to : "";
    const addressed = to && strings[`notice_${notice}_to`];
    // A notice that states the wait carries its figures (data.wait_range, …, as a status has them): said in the widget's words.
    const waited = message.data && Array.isArray(message.data.wait_range) && strings[`notice_${notice}_wait`];
    const text = named ? fill(named, { agent })
      : addressed ? fill(addressed, { to })
      : waited ? fill(waited, { wait: this.waitSentence(message.data) })
      : timed ? fill(timed, { time: formatTime(until, this.options.language).short })
        : strings[`notice_${notice}`] || message.text;
    const offer = Array.isArray(message.data && message.data.offer) ? message.data.offer : [];
    const kinds = REQUEST_OFFERS.has(notice) ? ["callback", "message"].filter((kind) => offer.includes(kind)) : [];
    if (PERSON_OFFERS.has(notice) && offer.includes("talk_to_person")) kinds.push("talk_to_person");
    const labels = { callback: strings.requestCallback, message: strings.leaveMessage, talk_to_person: strings.talkToPerson };
    // While a request of theirs is open, a refusal offers no other request but says theirs will be answered.
    const offering = REQUEST_OFFERS.has(notice);
    const withOpenRequest = offering && `${this.refusedText(until, { offer: false })} ${strings.requestAlreadyOpen}`;
    // The ways to reach us instead, offered on the newest message only (refresh), as quick replies are.
    return h("div", { class: "message message--system", "data-kind": "system", "data-notice": notice },
      h("p", { class: "message__notice" },
        icon(NOTICE_ICONS[notice] || "info"), hidden(`${strings.notice}:`),
        h("span", { dir: "auto", class: offering ? "request-offer" : null }, text),
        offering && h("span", { dir: "auto", class: "request-open-only" }, withOpenRequest)),
      h("div", { class: "message__meta" }, this.timeElement(message.ts)),
      kinds.length > 0 && h("div", { class: "quick-replies request-offer", role: "group", "aria-label": strings.otherWays },
        kinds.map((kind) => h("button", {
          type: "button", class: "chip", onclick: () => (kind === "talk_to_person" ? this.actions.talkToPerson() : this.offerRequest(kind)),
        }, labels[kind]))));
  }

  /** Groups runs of one author, and keeps quick replies only on the newest message. */
  refresh() {
    let previous = null;
    for (const node of this.log.children) {
      node.classList.toggle("message--continued", Boolean(previous && node.dataset.author && previous.dataset.author === node.dataset.author));
      previous = node;
      const replies = node.querySelector(".quick-replies");
      if (replies) replies.hidden = node !== this.log.lastElementChild;
    }
  }

  isNearEnd() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICKY_SCROLL_PX;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // ---- typing, connection ----------------------------------------------------

  /** "The assistant is typing…" / "ann is typing…", or null to hide. */
  setTyping(text) {
    const stick = this.isNearEnd();
    if (text) {
      this.typingText.textContent = text;
      if (!this.typing.isConnected) this.typingRegion.append(this.typing);
    } else {
      this.typing.remove();
    }
    if (stick) this.scrollToEnd();
  }

  /** The Transport's state: connected, or the time of the next attempt. */
  setConnection({ connected, retryAt }) {
    clearInterval(this.countdownTimer);
    if (connected) {
      this.banner.remove();
      this.renderStatusLine();
      return;
    }
    const tick = () => {
      const seconds = Math.ceil((retryAt - Date.now()) / 1000);
      this.bannerCountdown.textContent = seconds > 0 ? fill(this.strings.reconnectingIn, { seconds }) : this.strings.reconnecting;
    };
    tick();
    this.countdownTimer = setInterval(tick, COUNTDOWN_TICK_MS);
    if (!this.banner.isConnected) this.bannerRegion.append(this.banner);
  }

  // ---- status, queue, rating ------------------------------------------------

  setStatus(status) {
    // An error said about the request or the queue no longer holds once either changed: cleared, never left to
    // contradict the news beside it ("Not sent: you already have a request open" next to "dealt with").
    if (requestKey(status) !== requestKey(this.status) || status.state !== this.status.state) this.clearErrors();
    if (status.state !== "queued") this.requestOfferedWhileQueued = false;
    if (status.state !== "closed") this.ratingSent = false;
    if (this.status.state === "queued" && status.state !== "queued") {
      this.closeForms();
      if (this.confirmationWhileQueued) this.hideConfirmation();
    }
    if (status.state && status.state !== "bot") this.hideRefusal(); // queued after all, or people have the chat
    this.status = status;
    this.renderStatusLine();
    this.renderPanel();
  }

  renderStatusLine() {
    const { strings } = this;
    const state = this.status.state;
    const text = {
      bot: strings.statusBot,
      queued: strings.statusQueued,
      agent: fill(strings.statusAgent, { agent: this.status.agent || strings.agent }),
      closed: strings.statusClosed,
    }[state] || strings.statusBot;
    this.statusText.textContent = text;
    this.statusLine.dataset.state = state || "bot";
    this.talkButton.hidden = Boolean(state) && state !== "bot";
  }

  /**
   * The bridge's estimate in the widget's language (its `wait` text is English): "about 6 minutes
   * (at most 9)", or a range while the bridge has little data ("5–10 minutes", "up to 3 minutes"). Without a number
   * (nobody available, closed) there is nothing to say here: the no-agents notice says it.
   */
  waitText(status) {
    const sentence = this.waitSentence(status);
    return sentence ? `${sentence} ${this.strings.queueHint}` : this.strings.queueHint;
  }

  /** The estimate alone ("Estimated wait: about 6 minutes (at most 9)."), also for a notice that states it; "" without a number. */
  waitSentence(status) {
    const { strings, options } = this;
    const range = Array.isArray(status.wait_range) ? status.wait_range : null;
    if (!range || !Number.isFinite(status.wait_minutes)) return "";
    const [low, high] = range;
    const minutes = new Intl.NumberFormat(options.language, { style: "unit", unit: "minute", unitDisplay: "long" });
    if (high <= 1) return strings.queueWaitUnderMinute;
    // A range from 0 is "up to", never "1–3 minutes": the customer may be taken at once.
    if (status.wait_basis === "thin_data" && low < 1) return fill(strings.queueWaitUpTo, { most: minutes.format(high) });
    if (status.wait_basis === "thin_data") return fill(strings.queueWaitRange, { range: minutes.formatRange(low, high) });
    return fill(strings.queueWaitAbout, { duration: minutes.format(status.wait_minutes), most: minutes.format(high) });
  }

  /**
   * A place that grows is said, not left to be noticed: someone went ahead (a customer whose agent
   * was lost or who was transferred goes back to the front; so does one in distress). Said until the
   * place changes again; ``position`` null: no longer queued.
   */
  noteMovedBack(position) {
    const before = this.shownPosition;
    this.shownPosition = Number.isFinite(position) ? position : null;
    if (this.shownPosition === null || !Number.isFinite(before)) {
      this.queueMoved.hidden = true;
    } else if (this.shownPosition !== before) {
      this.queueMoved.hidden = this.shownPosition < before;
    }
  }

  renderPanel() {
    const { status, strings } = this;
    const stick = this.isNearEnd();
    const queued = status.state === "queued";
    this.queueSection.hidden = !queued;
    if (queued) {
      // Set only when changed: this is a live region, and the bridge repeats the status on every queue change.
      const position = fill(strings.queuePosition, { position: status.position ?? "…" });
      if (this.queuePosition.textContent !== position) this.queuePosition.textContent = position;
      this.noteMovedBack(status.position);
      const nobody = status.agents_available === false;
      // With nobody online our own notice says so, with what to do instead.
      const wait = nobody ? "" : this.waitText(status);
      if (this.queueWait.textContent !== wait) this.queueWait.textContent = wait;
      this.queueWait.hidden = nobody;
      this.queueNoAgents.hidden = !nobody;
      this.queueSection.classList.toggle("queue--nobody", nobody);
      // With nobody to answer, the callback/message form is the main thing to offer (once: Cancel keeps it closed),
      // unless a request of theirs is open already.
      const requestOpen = Boolean(status.request) && status.request.state === "open";
      if (nobody && !this.requestOfferedWhileQueued && !requestOpen) {
        this.requestOfferedWhileQueued = true;
        this.openForm("request", "callback", { focus: false });
      }
    } else {
      this.noteMovedBack(null);
    }
    this.ratingForm.hidden = !(status.state === "closed" && status.rated === false && !this.ratingSent);
    this.ratedStatus.hidden = !(status.state === "closed" && (status.rated === true || this.ratingSent));
    this.renderRequest(status);
    this.updatePanelVisibility();
    if (stick) this.scrollToEnd();
  }

  /** The last request left, while the bot has the conversation, and an open one while queued (the customer
   * knows they have one); with an agent, people say more. While one is open, no form for another is offered
   * (the bridge would refuse it): the open request is shown instead, with the way to cancel it. */
  renderRequest({ request, state }) {
    const { strings } = this;
    const known = Boolean(request) && typeof request === "object";
    this.requestOpen = known && request.state === "open";
    this.root.dataset.requestOpen = String(this.requestOpen);
    if (this.requestOpen && !this.requestForm.hidden) this.closeForms();
    this.refusalOpenRequest.hidden = !this.requestOpen;
    // What became of a request is news until the customer writes again after it (they went on with the assistant).
    const stale = known && request.state !== "open" && Number(request.handled_ts) > 0
      && this.lastCustomerTs > Number(request.handled_ts);
    const shown = known && !stale
      && (state === "bot" || state === "closed" || (state === "queued" && request.state === "open"));
    this.requestStatus.hidden = !shown;
    if (!shown) return;
    this.shownRequestId = String(request.id);
    this.requestCancelButton.hidden = request.state !== "open";
    const callback = request.kind === "callback";
    const time = formatTime(Number(request.ts) || Date.now(), this.options.language).short;
    // Who looks after an open request, once it is assigned to someone (their display name, from the bridge).
    const assigned = request.agent ? ` ${fill(strings.requestAssignedTo, { agent: String(request.agent) })}` : "";
    const text = {
      // The time they asked to be called at, said back in their words; else "as soon as we can".
      open: (callback && request.preferred_time
        ? fill(strings.requestOpenCallbackAt, { time, when: String(request.preferred_time) })
        : fill(callback ? strings.requestOpenCallback : strings.requestOpenMessage, { time })) + assigned,
      // A callback answered in the chat is settled: no call follows.
      // A message left with an email address: the answer went to their mailbox too (the bridge says so).
      answered: callback ? strings.requestAnsweredCallback
        : request.emailed === true ? strings.requestAnsweredEmailed : strings.requestAnswered,
      done: callback ? strings.requestDoneCallback : strings.requestDoneMessage,
      cancelled: callback ? strings.requestCancelledCallback : strings.requestCancelledMessage,
    }[request.state] || "";
    this.requestStatus.dataset.state = request.state;
    if (this.requestStatusText.textContent !== text) this.requestStatusText.textContent = text;
  }

  /** The customer takes back the open request shown (renderRequest): the status that follows says it is cancelled. */
  async cancelRequest() {
    this.requestCancelButton.disabled = true;
    this.requestCancelError.hidden = true;
    try {
      await this.actions.cancelRequest(this.shownRequestId);
    } catch (error) {
      this.requestCancelError.textContent = fill(this.strings.notSent, { reason: error.message });
      this.requestCancelError.hidden = false;
    } finally {
      this.requestCancelButton.disabled = false;
    }
  }

  /** A form in the queue panel, or (`within: "refusal"`) the request form where the queue refused the customer. */
  openForm(which, kind = "callback", { focus = true, within = "queue" } = {}) {
    this.closeForms();
    const form = which === "details" ? this.detailsForm : this.requestForm;
    if (which === "request") {
      this.chooseRequestKind(kind);
      if (within === "refusal") this.refusal.append(form);
      else this.queueSection.insertBefore(form, this.leaveQueueButton);
    }
    form.hidden = false;
    this.queueActions.hidden = true;
    this.refusalActions.hidden = within === "refusal";
    this.updatePanelVisibility();
    if (focus) form.querySelector("input:not([type=radio]), textarea").focus();
  }

  closeForms() {
    for (const form of [this.detailsForm, this.requestForm]) {
      form.hidden = true;
      this.showFormError(form, "");
    }
    this.queueActions.hidden = false;
    this.refusalActions.hidden = false;
  }

  /** The queue refused them: why, until when if the cap ends (`retryAt`, ms), and the other ways to reach us unless
   *  a request of theirs is open (`offer` false: then the refusal says that one will be answered). */
  refusedText(retryAt, { offer = !this.requestOpen } = {}) {
    const { strings } = this;
    if (!(Number(retryAt) > 0)) return offer ? strings.queueRefused : strings.queueRefusedShort;
    const time = formatTime(Number(retryAt), this.options.language).short;
    return fill(offer ? strings.queueRefusedUntil : strings.queueRefusedUntilShort, { time });
  }

  /** The address's requests are used up (the bridge's cap): when to try again, and what is left (a person, the
   *  bank's phone number when the page gave one). */
  requestLimitText(retryAt) {
    const { strings, options } = this;
    const time = formatTime(Number(retryAt), options.language).short; // the bridge always says when (retry_at)
    return options.phone ? fill(strings.requestLimitAddressPhone, { time, phone: options.phone })
      : fill(strings.requestLimitAddress, { time });
  }

  /** The queue refused a request for a person: why (`text`, or nothing when the log says it), and the form. */
  showRefusal(text) {
    this.refusalText.textContent = text;
    this.refusalAlert.hidden = !text;
    this.refusal.hidden = false;
    this.updatePanelVisibility();
    this.scrollToEnd();
  }

  hideRefusal() {
    if (this.refusal.hidden) return;
    if (this.requestForm.parentNode === this.refusal) this.closeForms();
    this.refusal.hidden = true;
    this.updatePanelVisibility();
  }

  /** A notice's offer pressed: the callback/message form, below the log (the open request instead, if any). */
  offerRequest(kind) {
    this.showRefusal("");
    if (!this.requestOpen) this.openForm("request", kind, { within: "refusal" });
  }

  /** The errors shown in the forms and the panel. */
  clearErrors() {
    for (const form of [this.detailsForm, this.requestForm]) this.showFormError(form, "");
    if (this.confirmationBody.classList.contains("confirmation__body--error")) this.hideConfirmation();
  }

  showFormError(form, text) {
    const error = form.querySelector(".form__error");
    error.textContent = text;
    error.hidden = !text;
  }

  /** No chat could be started (the bridge's cap on new chats): no reconnecting banner, no "Talk to a person"
   *  until the customer tries again, and the bank's phone number when the page gave one. */
  showRefusedNewChat() {
    const { strings, options } = this;
    clearInterval(this.countdownTimer);
    this.banner.remove();
    this.statusText.textContent = strings.statusNotConnected;
    this.statusLine.dataset.state = "refused";
    this.talkButton.hidden = true;
    this.showConfirmation(options.phone ? fill(strings.tooManyConversationsPhone, { phone: options.phone })
      : strings.tooManyConversations, { error: true });
  }

  /** A short note in the panel: good news (`error` false), or what went wrong, styled as an error. */
  /** ``whileQueued``: it says something about the wait (the details saved), and goes when the wait ends. */
  showConfirmation(text, { error = false, whileQueued = false } = {}) {
    this.confirmationWhileQueued = whileQueued;
    this.confirmationText.textContent = text;
    this.confirmationBody.classList.toggle("confirmation__body--error", error);
    this.confirmationBody.setAttribute("role", error ? "alert" : "status");
    const shown = icon(error ? "info" : "check");
    this.confirmationIcon.replaceWith(shown);
    this.confirmationIcon = shown;
    if (!this.confirmationBody.isConnected) this.confirmation.append(this.confirmationBody);
    this.updatePanelVisibility();
  }

  hideConfirmation() {
    this.confirmationBody.remove();
    this.updatePanelVisibility();
  }

  updatePanelVisibility() {
    this.panel.hidden = this.queueSection.hidden && this.refusal.hidden && this.ratingForm.hidden && this.requestStatus.hidden
      && this.ratedStatus.hidden && this.transcriptMail.form.hidden && !this.confirmationBody.isConnected;
  }

  /**
   * Runs a form's request; the submit button says "Sending…" until the bridge answers. A refusal
   * is shown in the form, as an error (the form stays open), unless `refused(error)` dealt with it
   * (e.g. beside the field at fault).
   */
  async submitForm(form, request, done, refused = () => false) {
    const button = form.querySelector("button[type=submit]");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = this.strings.sending;
    this.showFormError(form, "");
    try {
      await request();
      done();
    } catch (error) {
      if (!refused(error)) this.showFormError(form, fill(this.strings.notSent, { reason: error.message }));
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  // ---- housekeeping ----------------------------------------------------------

  /** The chosen colours must stay readable: tell the site owner when they are not. */
  warnAboutContrast() {
    const style = getComputedStyle(this.launcher);
    const ratio = contrastRatio(style.backgroundColor, style.color);
    if (ratio < MIN_CONTRAST) {
      console.warn(`SupportChat: colors.primary and colors.onPrimary have a contrast of ${ratio.toFixed(1)}:1; `
        + `at least ${MIN_CONTRAST}:1 keeps text readable.`);
    }
  }

  destroy() {
    clearInterval(this.countdownTimer);
    replaceChildren(this.root);
  }
}
