// The composer of a chat, with canned responses: Enter sends, "/" (or the
// bolt button) opens the canned responses, and the customer is told,
// throttled, that the agent is typing. Switched to "Note", it writes a private
// note for the team instead (yellow, never sent to the customer, no typing
// signal), where "@" offers the colleagues to mention; once the note is sent
// it is back to replying.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { hasVisible } from "../../shared/text.js";
import { LIMITS, TIMING } from "../constants.js";
import { FILE_BUTTON_TITLE, fileControls } from "./attach.js";

const SLASH_QUERY = /^\/([^\s]*)$/;
// "@" and what follows it up to the caret, where a mention may start (transcript.js MENTION).
const MENTION_QUERY = /(?<![\p{L}\p{N}_@.+-])@([\p{L}\p{N}_-]*)$/u;
const PLACEHOLDERS = {
  reply: "Write a reply…  (type / for canned responses)",
  note: "Note for your team…  (@ mentions a colleague)", // short: whole on one line in a read-only view too
};

export class Composer {
  constructor(tab) {
    this.tab = tab;
    this.view = tab.view;
    this.menuOpen = false;
    this.mode = "slash";
    this.options = [];
    this.activeIndex = 0;
    this.typingActive = false;
    this.typingSentAt = 0;
    this.idleTimer = null;
    this.noteMode = false;

    const base = `composer-${tab.id}`;
    this.textarea = h("textarea", {
      id: `${base}-input`, rows: "1", class: "composer-input", placeholder: "Write a reply…  (type / for canned responses)",
      "aria-describedby": `${base}-hint`, "aria-controls": `${base}-menu`, "aria-autocomplete": "list", maxlength: String(LIMITS.messageCharacters),
    });
    this.menu = h("ul", { class: "canned-menu", id: `${base}-menu`, role: "listbox", "aria-label": "Canned responses", hidden: true });
    this.cannedButton = h("button", {
      type: "button", class: "icon-button", "aria-label": "Canned responses", title: "Canned responses",
      "aria-haspopup": "listbox", "aria-expanded": "false", "aria-controls": this.menu.id,
    }, icon("bolt"));
    this.files = fileControls(tab, this.textarea); // pictures and PDFs: the paperclip, paste or drop
    this.sendLabel = h("span", {}, "Send");
    this.sendButton = h("button", { type: "submit", class: "button primary" }, icon("send"), this.sendLabel);
    this.replyMode = h("button", { type: "button", class: "composer-mode", "aria-pressed": "true", onclick: () => this.setNoteMode(false) },
      icon("chat"), "Reply");
    this.noteModeButton = h("button", { type: "button", class: "composer-mode composer-mode-note", "aria-pressed": "false", onclick: () => this.setNoteMode(true) },
      icon("note"), "Note");
    this.inputLabel = h("label", { for: this.textarea.id, class: "visually-hidden" }, "Reply to the customer");
    this.counter = h("span", { class: "composer-counter", hidden: true });
    this.announcer = h("span", { class: "visually-hidden", "aria-live": "polite" });
    this.element = h("form", { class: "composer", novalidate: true },
      h("div", { class: "composer-modes", role: "group", "aria-label": "Write a reply or a private note" }, this.replyMode, this.noteModeButton),
      this.menu,
      this.inputLabel,
      h("div", { class: "composer-box" }, this.textarea,
        h("div", { class: "composer-buttons" }, this.files.input, this.files.button, this.cannedButton, this.sendButton)),
      h("p", { class: "composer-hint", id: `${base}-hint` },
        h("span", {}, h("kbd", {}, "Enter"), " to send · ", h("kbd", {}, "Shift"), "+", h("kbd", {}, "Enter"), " for a new line · ", h("kbd", {}, "/"), " canned responses"),
        this.counter, this.announcer));

    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.textarea.addEventListener("keydown", (event) => this.keydown(event));
    this.textarea.addEventListener("input", () => this.input());
    this.textarea.addEventListener("blur", () => setTimeout(() => {
      if (!this.element.contains(document.activeElement)) this.closeMenu();
    }, 0));
    this.cannedButton.addEventListener("click", () => {
      if (this.menuOpen) return this.closeMenu();
      if (!this.textarea.value) {
        this.textarea.value = "/";
        this.input();
      } else {
        this.openMenu("insert", "");
      }
      this.textarea.focus();
    });
  }

  focus() {
    this.textarea.focus();
  }

  /** A private note for the team (true) or a reply to the customer (false). */
  setNoteMode(note) {
    if (note === this.noteMode || (!note && this.viewOnly)) return;
    this.noteMode = note;
    if (note) this.stopTyping();
    this.closeMenu();
    this.element.classList.toggle("is-note", note);
    this.replyMode.setAttribute("aria-pressed", String(!note));
    this.noteModeButton.setAttribute("aria-pressed", String(note));
    this.textarea.placeholder = note ? PLACEHOLDERS.note : PLACEHOLDERS.reply;
    this.inputLabel.textContent = note ? "Private note for your team" : "Reply to the customer";
    this.sendLabel.textContent = note ? "Add note" : "Send";
    this.updateFileControls();
    this.textarea.focus();
  }

  /** A chat this agent only reads (a colleague's, opened from a mention): notes only. */
  setViewOnly(viewOnly) {
    const was = this.viewOnly;
    this.viewOnly = viewOnly;
    this.replyMode.disabled = viewOnly;
    this.updateFileControls();
    if (viewOnly) this.setNoteMode(true);
    else if (was) this.setNoteMode(false); // the chat is this agent's now: back to replying
  }

  setDisabled(disabled) {
    this.textarea.disabled = disabled;
    this.sendButton.disabled = disabled;
    this.cannedButton.disabled = disabled;
    this.disabled = disabled;
    this.updateFileControls();
  }

  /** Files always go to the customer: so only from the agent serving the chat, and never while writing a
   *  private note (the paperclip, paste and drop all follow the button). */
  updateFileControls() {
    this.files.button.disabled = Boolean(this.disabled || this.viewOnly || this.noteMode);
    this.files.button.title = this.noteMode ? "Files go to the customer: switch to Reply to attach one" : FILE_BUTTON_TITLE;
  }

  keydown(event) {
    if (this.menuOpen) {
      const count = this.options.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (count) this.highlight((this.activeIndex + (event.key === "ArrowDown" ? 1 : -1) + count) % count);
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && count) {
        event.preventDefault();
        this.choose(this.options[this.activeIndex]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeMenu();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.submit();
    }
  }

  input() {
    this.autosize();
    const length = this.textarea.value.length;
    this.counter.hidden = length < LIMITS.messageCounterFrom;
    this.counter.textContent = `${length} / ${LIMITS.messageCharacters}`;
    const slash = this.noteMode ? null : this.textarea.value.match(SLASH_QUERY);
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    const mention = this.noteMode ? before.match(MENTION_QUERY) : null;
    if (slash) this.openMenu("slash", slash[1]);
    else if (mention) this.openMentions(mention[1]);
    else if (this.menuOpen) this.closeMenu();
    this.typed();
  }

  autosize() {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 200)}px`;
  }

  submit() {
    const text = this.textarea.value.trim();
    // Only spaces or zero-width characters: the bridge refuses it (empty_text), the customer would see nothing.
    if (!hasVisible(text) || this.textarea.disabled) return;
    const note = this.noteMode;
    if (note) this.tab.sendNote(text);
    else this.tab.send(text);
    this.textarea.value = "";
    this.input();
    this.stopTyping();
    // A note is an aside: staying in Note mode turned the agent's next reply into a note the customer never
    // got (the agent trial). Back to replying, said aloud; a read-only chat stays notes only (setNoteMode).
    if (note && !this.viewOnly) {
      this.setNoteMode(false);
      this.announcer.textContent = "Note added. Back to replying to the customer.";
    }
    this.textarea.focus();
  }

  // ---- typing signals: throttled, and "stopped" after a pause or a send ------------

  typed() {
    clearTimeout(this.idleTimer);
    if (!this.textarea.value.trim() || this.noteMode) return this.stopTyping(); // a note is not for the customer
    const now = Date.now();
    if (!this.typingActive || now - this.typingSentAt > TIMING.typingRepeatMs) {
      this.view.signal("typing", { conversation_id: this.tab.id, active: true });
      this.typingActive = true;
      this.typingSentAt = now;
    }
    this.idleTimer = setTimeout(() => this.stopTyping(), TIMING.typingIdleMs);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typingActive) return;
    this.typingActive = false;
    this.view.signal("typing", { conversation_id: this.tab.id, active: false });
  }

  // ---- canned responses ---------------------------------------------------------

  openMenu(mode, query) {
    this.mode = mode;
    const needle = query.toLowerCase();
    const canned = this.view.canned;
    this.options = needle
      ? [...canned.filter((item) => item.shortcut.startsWith(needle)),
        ...canned.filter((item) => !item.shortcut.startsWith(needle) && item.title.toLowerCase().includes(needle))]
      : canned;
    this.menuOpen = true;
    this.menu.hidden = false;
    this.menu.setAttribute("aria-label", "Canned responses");
    this.cannedButton.setAttribute("aria-expanded", "true");
    replaceChildren(this.menu, this.options.length
      ? this.options.map((item, index) => {
        const option = h("li", { role: "option", id: `${this.menu.id}-${index}`, class: "canned-option", "aria-selected": "false" },
          h("span", { class: "canned-shortcut" }, `/${item.shortcut}`),
          h("span", { class: "canned-title" }, item.title),
          h("span", { class: "canned-preview" }, this.fillIn(item.text)));
        option.addEventListener("mousedown", (event) => event.preventDefault()); // keeps the focus in the textarea
        option.addEventListener("click", () => this.choose(item));
        return option;
      })
      : h("li", { class: "canned-empty" }, canned.length ? `No canned response matches “/${query}”.` : "No canned responses are set up."));
    this.highlight(0);
    this.announcer.textContent = `${this.options.length} canned response${this.options.length === 1 ? "" : "s"}. Arrow keys to choose, Enter to insert.`;
  }

  // ---- @mentions ------------------------------------------------------------

  /** The colleagues whose login or display name starts with (else contains) what follows "@". */
  async openMentions(query) {
    const team = await this.view.colleagues();
    const before = this.textarea.value.slice(0, this.textarea.selectionStart).match(MENTION_QUERY);
    if (!this.noteMode || !before || before[1] !== query) return; // typed on meanwhile
    this.mode = "mention";
    const needle = query.toLowerCase();
    const names = (agent) => [agent.name.toLowerCase(), String(agent.display_name || "").toLowerCase()];
    const starts = team.filter((agent) => names(agent).some((name) => name.startsWith(needle)));
    const contains = team.filter((agent) => !starts.includes(agent) && names(agent).some((name) => name.includes(needle)));
    this.options = [...starts, ...contains];
    this.menuOpen = true;
    this.menu.hidden = false;
    this.menu.setAttribute("aria-label", "Colleagues to mention");
    replaceChildren(this.menu, this.options.length
      ? this.options.map((agent, index) => {
        const option = h("li", { role: "option", id: `${this.menu.id}-${index}`, class: "canned-option mention-option", "aria-selected": "false" },
          h("span", { class: "canned-shortcut" }, `@${agent.name}`),
          h("span", { class: "canned-title" }, agent.display_name || agent.name),
          h("span", { class: "canned-preview" }, agent.online ? "online" : "offline"));
        option.addEventListener("mousedown", (event) => event.preventDefault());
        option.addEventListener("click", () => this.choose(agent));
        return option;
      })
      : h("li", { class: "canned-empty" }, `No colleague matches “@${query}”.`));
    this.highlight(0);
    this.announcer.textContent = `${this.options.length} colleague${this.options.length === 1 ? "" : "s"} to mention. Arrow keys to choose, Enter to insert.`;
  }

  /** Puts "@login " in place of the "@query" before the caret (no second space when one follows already). */
  insertMention(agent) {
    const textarea = this.textarea;
    const end = textarea.selectionStart;
    const query = textarea.value.slice(0, end).match(MENTION_QUERY);
    const start = query ? end - query[0].length : end;
    const spaced = /^\s/.test(textarea.value.slice(end));
    textarea.setRangeText(`@${agent.name}${spaced ? "" : " "}`, start, end, "end");
    const after = start + agent.name.length + 2; // past "@login" and the space after it
    textarea.setSelectionRange(after, after);
  }

  highlight(index) {
    this.activeIndex = index;
    const options = [...this.menu.querySelectorAll("[role=option]")];
    options.forEach((option, position) => {
      option.setAttribute("aria-selected", String(position === index));
      option.classList.toggle("is-active", position === index);
    });
    if (options[index]) {
      this.textarea.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      this.textarea.removeAttribute("aria-activedescendant");
    }
  }

  closeMenu() {
    this.menuOpen = false;
    this.menu.hidden = true;
    this.cannedButton.setAttribute("aria-expanded", "false");
    this.textarea.removeAttribute("aria-activedescendant");
    this.announcer.textContent = "";
  }

  fillIn(text) {
    return text.replaceAll("{agent}", this.view.displayName);
  }

  /** A suggested reply (suggestions.js) at the caret, in place of any selection, to edit before sending. */
  insertSuggestion(text) {
    if (this.textarea.disabled) return;
    this.closeMenu();
    this.textarea.setRangeText(text, this.textarea.selectionStart, this.textarea.selectionEnd, "end");
    this.textarea.focus();
    this.input();
  }

  choose(item) {
    const textarea = this.textarea;
    if (this.mode === "mention") {
      this.insertMention(item);
      this.closeMenu();
      textarea.focus();
      this.input();
      return;
    }
    const text = this.fillIn(item.text);
    if (this.mode === "slash") {
      textarea.value = text;
      textarea.setSelectionRange(text.length, text.length);
    } else {
      textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
    }
    this.closeMenu();
    textarea.focus();
    this.input();
  }

  destroy() {
    clearTimeout(this.idleTimer);
  }
}
