// Browser notifications (the Notification API) for what the agent is not
// looking at: a customer's message in a chat tab not on screen or while the
// page is hidden, a colleague's mention, a chat transferred to them. The
// permission is asked for only when the agent clicks "Turn on notifications"
// in the header; they can turn them off again there (remembered in this
// browser). One notification per conversation at a time: its `tag` is the
// conversation, so a newer one replaces it (also one from another console tab
// of the same agent, which the browser shows once), and within
// TIMING.notifyCoalesceMs further arrivals are only counted into the next.
// Clicking one focuses the console and opens that conversation.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { NOTIFICATION_BUTTON, NOTIFICATION_TEXT, STORAGE, TIMING } from "../constants.js";

// A notification's body: the first characters of what was written, on one line.
const BODY_CHARACTERS = 140;

function oneLine(text) {
  const line = String(text || "").replace(/\s+/g, " ").trim();
  return line.length > BODY_CHARACTERS ? `${line.slice(0, BODY_CHARACTERS - 1)}…` : line;
}

export class DesktopNotifications {
  constructor() {
    this.supported = typeof window.Notification === "function";
    this.shown = new Map(); // tag -> {notification, at, pending}
    this.button = h("button", { type: "button", class: "button small ghost notifications-toggle", onclick: () => this.toggle() });
    this.button.hidden = !this.supported;
    this.render();
    // The permission can change in the browser's site settings meanwhile: the button follows.
    if (this.supported && navigator.permissions) {
      navigator.permissions.query({ name: "notifications" }).then((status) => {
        status.addEventListener("change", () => this.render());
      }, () => {});
    }
  }

  get permission() {
    return this.supported ? window.Notification.permission : "denied";
  }

  get enabled() {
    return this.permission === "granted" && localStorage.getItem(STORAGE.notifications) !== "off";
  }

  /**
   * The header's button, as the agent saw it: asks the browser (this click is the gesture it needs), or turns them
   * off or on. The agent's choice is kept at the click: the browser's answer may come much later (or never, while
   * its prompt stays open), and must not turn them on again after the agent turned them off meanwhile.
   */
  async toggle() {
    if (this.button.dataset.state === "on") {
      localStorage.setItem(STORAGE.notifications, "off");
    } else if (this.permission === "granted") {
      localStorage.removeItem(STORAGE.notifications);
    } else if (this.permission === "default") {
      localStorage.removeItem(STORAGE.notifications);
      try {
        await window.Notification.requestPermission();
      } catch {
        // Older browsers take a callback instead; treated as not allowed.
      }
    }
    this.render();
  }

  render() {
    const state = this.enabled ? "on" : this.permission === "denied" ? "denied" : "off";
    const words = NOTIFICATION_BUTTON[state];
    replaceChildren(this.button, icon(state === "on" ? "bell" : "bellOff"), h("span", {}, words.label));
    this.button.title = words.hint;
    this.button.setAttribute("aria-pressed", String(state === "on"));
    this.button.disabled = state === "denied";
    this.button.dataset.state = state;
  }

  /**
   * Shows `title` and `body` for the conversation `tag`, unless one was shown for it less than
   * TIMING.notifyCoalesceMs ago: then `count` more arrivals are kept for the next one.
   * @param {string} tag the conversation (with a prefix per kind of news)
   * @param {(pending: number) => string} title what to say, given how many arrivals it covers
   * @param {() => void} open what clicking it does (after the console has the focus)
   */
  notify(tag, title, body, open) {
    if (!this.enabled) return;
    const now = Date.now();
    const last = this.shown.get(tag);
    const pending = (last ? last.pending : 0) + 1;
    if (last && now - last.at < TIMING.notifyCoalesceMs) {
      last.pending = pending;
      return;
    }
    let notification;
    try {
      notification = new window.Notification(title(pending), { body: oneLine(body), tag, lang: document.documentElement.lang || "en" });
    } catch {
      return; // a browser that only notifies from a service worker: the tab's badge and the sound still tell
    }
    notification.addEventListener("click", () => {
      window.focus();
      notification.close();
      this.shown.delete(tag);
      open();
    });
    this.shown.set(tag, { notification, at: now, pending: 0 });
  }

  /** The agent is looking at this conversation now: its notifications go. */
  clear(conversationId) {
    for (const [tag, entry] of [...this.shown]) {
      if (!tag.endsWith(`:${conversationId}`)) continue;
      entry.notification.close();
      this.shown.delete(tag);
    }
  }

  /** A customer's message in a chat this agent serves, not on screen. */
  message(conversationId, text, open) {
    this.notify(`chat:${conversationId}`,
      (count) => (count > 1 ? NOTIFICATION_TEXT.messages.replace("{count}", String(count)) : NOTIFICATION_TEXT.message), text, open);
  }

  /** A colleague's note mentioned this agent. */
  mention(conversationId, byName, excerpt, open) {
    this.notify(`mention:${conversationId}`, () => NOTIFICATION_TEXT.mention.replace("{name}", byName), excerpt, open);
  }

  /** A supervisor assigned a callback or message request to this agent (`what`: "Callback from 07700 900123"). */
  requestAssigned(requestId, byName, what, open) {
    this.notify(`request:${requestId}`, () => NOTIFICATION_TEXT.requestAssigned.replace("{name}", byName), what, open);
  }

  /** A chat was transferred (or, `assigned`, given by a supervisor) to this agent; `byName` may be unknown. */
  transfer(conversationId, byName, topic, open, assigned = false) {
    const said = assigned ? NOTIFICATION_TEXT.assigned : NOTIFICATION_TEXT.transfer;
    this.notify(`chat:${conversationId}`,
      () => (byName ? said.replace("{name}", byName) : NOTIFICATION_TEXT.transferAnonymous), topic, open);
  }

  destroy() {
    for (const entry of this.shown.values()) entry.notification.close();
    this.shown.clear();
  }
}
