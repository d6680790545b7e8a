// The chats view's keyboard shortcuts (their keys: SHORTCUTS in constants.js)
// and the help overlay that lists them, opened with "?" or the header's
// button. A single key acts only when the agent is not typing in a text field
// and no dialog is open; a chord (Alt+↓, Ctrl+Enter) and Esc in the composer
// act while typing too. Each action does what its button would.

import { h } from "../../shared/dom.js";
import { KEY_NAMES, SHORTCUTS, SHORTCUT_TEXT } from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";

const FOCUSABLE = "button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])";

/** "Alt+ArrowDown" -> {key: "ArrowDown", alt: true, control: false, shift: false}. */
function parseChord(chord) {
  const parts = chord.split("+");
  const key = parts.pop();
  return { key, alt: parts.includes("Alt"), control: parts.includes("Control"), shift: parts.includes("Shift") };
}

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** The shortcut `event` stands for, or null. */
function shortcutFor(event) {
  if (event.defaultPrevented || event.isComposing) return null;
  const typing = isTyping(event.target);
  const modified = event.altKey || event.ctrlKey || event.metaKey;
  for (const shortcut of SHORTCUTS) {
    for (const chord of shortcut.chords) {
      const wanted = parseChord(chord);
      // Ctrl on other systems is Cmd on a Mac.
      const control = event.ctrlKey || event.metaKey;
      if (wanted.key === event.key && wanted.alt === event.altKey && wanted.control === control
          && wanted.shift === event.shiftKey) return shortcut;
    }
    if (typing || modified) continue;
    // A single key is matched by what it types ("?" is Shift+/ on most keyboards; Shift+J is not "j").
    if (shortcut.keys.includes(event.key)) return shortcut;
  }
  return null;
}

function keyLabel(chord) {
  return chord.split("+").map((part) => h("kbd", {}, KEY_NAMES[part] || (part.length === 1 ? part.toUpperCase() : part)))
    .flatMap((kbd, index) => (index ? ["+", kbd] : [kbd]));
}

/** The overlay listing every shortcut; Tab stays inside it, Esc closes it. */
export function shortcutsHelp() {
  const titleId = dialogTitleId();
  const close = h("button", { type: "button", class: "button" }, "Close");
  const groups = [...new Set(SHORTCUTS.map((shortcut) => shortcut.group))];
  const dialog = modal(titleId, "shortcuts-help",
    h("h2", { id: titleId }, SHORTCUT_TEXT.title),
    h("p", { class: "dialog-text" }, SHORTCUT_TEXT.lead),
    groups.map((group) => h("section", { class: "shortcut-group" },
      h("h3", {}, group),
      h("dl", { class: "shortcut-list" }, SHORTCUTS.filter((shortcut) => shortcut.group === group).map((shortcut) => [
        h("dt", {}, [...shortcut.keys, ...shortcut.chords].map((keys, index) => [index ? " or " : null, keyLabel(keys)])),
        h("dd", {}, shortcut.label),
      ])))),
    h("div", { class: "dialog-actions" }, close));
  close.addEventListener("click", () => dialog.close());
  // A modal dialog keeps the page behind it inert; this keeps Tab from leaving for the browser's own controls.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const focusable = [...dialog.querySelectorAll(FOCUSABLE)].filter((element) => !element.disabled);
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  close.focus();
  return dialog;
}

/** Listens for the shortcuts while the chats view is shown; `view` is the ChatsView. */
export class Shortcuts {
  constructor(view) {
    this.view = view;
    this.button = h("button", {
      type: "button", class: "icon-button shortcuts-button", "aria-label": SHORTCUT_TEXT.title, title: `${SHORTCUT_TEXT.title} (?)`,
      "aria-keyshortcuts": "?", onclick: () => shortcutsHelp(),
    }, h("span", { "aria-hidden": "true" }, "?"));
    this.onKey = (event) => this.keydown(event);
    document.addEventListener("keydown", this.onKey);
  }

  keydown(event) {
    if (!this.view.visible || document.querySelector("dialog[open]")) return;
    const shortcut = shortcutFor(event);
    if (!shortcut) return;
    if (this.run(shortcut.id, event.target) !== false) event.preventDefault();
  }

  /** Does what the shortcut stands for; false when it did nothing here (the key keeps its usual meaning). */
  run(id, target) {
    const view = this.view;
    const tab = view.conversations.get(view.activeId);
    const inComposer = Boolean(tab) && tab.composer.element.contains(target);
    switch (id) {
      case "help":
        shortcutsHelp();
        return true;
      case "next":
      case "previous":
        return this.move(id === "next" ? 1 : -1, inComposer);
      case "claim":
        return this.claimOldest();
      case "status":
        view.statusControl.toggle();
        return true;
      case "leave":
        if (!inComposer || tab.composer.menuOpen) return false;
        tab.log.focus();
        return true;
      default:
        break;
    }
    if (!tab) {
      view.toast(SHORTCUT_TEXT.noChat);
      return true;
    }
    const composer = tab.composer;
    const press = (button) => {
      if (!button.hidden && !button.disabled) button.click();
    };
    if (id === "reply") {
      composer.setNoteMode(false);
      composer.focus();
    } else if (id === "note") {
      composer.setNoteMode(true);
      composer.focus();
    } else if (id === "canned") {
      if (composer.viewOnly) return false;
      composer.setNoteMode(false);
      if (!composer.menuOpen) press(composer.cannedButton);
    } else if (id === "send") {
      composer.submit();
    } else if (id === "transfer") {
      press(tab.transferButton);
    } else if (id === "close") {
      press(tab.viewOnly ? tab.closeViewButton : tab.closeButton);
    }
    return true;
  }

  /** The next or previous chat tab (round the ends); from the composer, into the next chat's composer. */
  move(step, inComposer) {
    const tabs = [...this.view.conversations.values()];
    if (!tabs.length) {
      this.view.toast(SHORTCUT_TEXT.noChat);
      return true;
    }
    const index = tabs.findIndex((tab) => tab.id === this.view.activeId);
    const next = tabs[(index + step + tabs.length) % tabs.length];
    this.view.activate(next.id, inComposer);
    if (!inComposer) next.tabButton.focus();
    return true;
  }

  /** Claims the customer who has waited longest and is still there (the queue is oldest first); says why not
   *  when nobody is: only customers who have left, or only chats offered in turn (a group assigned automatically). */
  claimOldest() {
    const queue = this.view.queue;
    const claims = this.view.roles.includes("supervisor");
    const claimable = queue.items.filter((item) => !queue.claiming.has(item.conversation_id)
      && (item.assignment !== "automatic" || claims));
    const here = claimable.filter((item) => item.customer_presence !== "gone");
    if (here.length) queue.claim(here[0].conversation_id);
    else if (claimable.length) this.view.toast(SHORTCUT_TEXT.onlyGone);
    else if (queue.items.length) this.view.toast(SHORTCUT_TEXT.onlyOffered);
    else this.view.toast(SHORTCUT_TEXT.nobodyWaiting);
    return true;
  }

  destroy() {
    document.removeEventListener("keydown", this.onKey);
  }
}
