// The composer of a chat, with canned responses: Enter sends, "/" (or the
// bolt button) opens the canned responses, and the customer is told,
// throttled, that the agent is typing.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { LIMITS, TIMING } from "../constants.js";

const SLASH_QUERY = /^\/([^\s]*)$/;

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
    this.sendButton = h("button", { type: "submit", class: "button primary" }, icon("send"), "Send");
    this.counter = h("span", { class: "composer-counter", hidden: true });
    this.announcer = h("span", { class: "visually-hidden", "aria-live": "polite" });
    this.element = h("form", { class: "composer", novalidate: true },
      this.menu,
      h("label", { for: this.textarea.id, class: "visually-hidden" }, "Reply to the customer"),
      h("div", { class: "composer-box" }, this.textarea,
        h("div", { class: "composer-buttons" }, this.cannedButton, this.sendButton)),
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

  setDisabled(disabled) {
    this.textarea.disabled = disabled;
    this.sendButton.disabled = disabled;
    this.cannedButton.disabled = disabled;
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
    const slash = this.textarea.value.match(SLASH_QUERY);
    if (slash) this.openMenu("slash", slash[1]);
    else if (this.menuOpen) this.closeMenu();
    this.typed();
  }

  autosize() {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 200)}px`;
  }

  submit() {
    const text = this.textarea.value.trim();
    if (!text || this.textarea.disabled) return;
    this.tab.send(text);
    this.textarea.value = "";
    this.input();
    this.stopTyping();
    this.textarea.focus();
  }

  // ---- typing signals: throttled, and "stopped" after a pause or a send ------------

  typed() {
    clearTimeout(this.idleTimer);
    if (!this.textarea.value.trim()) return this.stopTyping();
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

  choose(item) {
    const text = this.fillIn(item.text);
    const textarea = this.textarea;
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
