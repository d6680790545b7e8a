// What counts as unread in a chat the agent serves, and what the agent has
// seen. A customer's message and a colleague's note are unread until the agent
// has the chat's tab on screen with the page visible (ChatsView.isViewing);
// then the customer is sent the "read" receipt. Each console remembers, per
// agent and conversation, the newest message seen (localStorage), so a reload
// does not count the replayed transcript again, and another console tab of the
// same agent clears its count when this one shows the chat.

import { compareMessageIds } from "../../shared/transport.js";
import { STORAGE } from "../constants.js";

// Conversations remembered per agent; the oldest seen ones go first.
const REMEMBERED = 200;

/** A message that asks for the agent's attention: the customer's, or a note a colleague wrote. */
export function asksForAttention(message, agent) {
  if (message.kind === "customer") return true;
  return message.kind === "note" && Boolean(message.data) && message.data.agent !== agent;
}

/** The newest message seen per conversation, kept in this browser for one agent. */
export class SeenMessages {
  constructor(agent) {
    this.key = `${STORAGE.seen}.${agent}`;
  }

  read() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.key) || "{}");
      return stored && typeof stored === "object" ? stored : {};
    } catch {
      return {}; // an unreadable entry is treated as nothing seen
    }
  }

  /** The newest message id seen in the conversation, or null. */
  get(conversationId) {
    const id = this.read()[conversationId];
    return typeof id === "string" ? id : null;
  }

  covers(conversationId, messageId) {
    const seen = this.get(conversationId);
    return Boolean(seen) && compareMessageIds(messageId, seen) <= 0;
  }

  /** Records `messageId` as seen (never moving backwards). */
  record(conversationId, messageId) {
    const all = this.read();
    const seen = all[conversationId];
    if (typeof seen === "string" && compareMessageIds(messageId, seen) <= 0) return;
    delete all[conversationId];
    all[conversationId] = messageId;
    const ids = Object.keys(all);
    for (const old of ids.slice(0, Math.max(0, ids.length - REMEMBERED))) delete all[old];
    localStorage.setItem(this.key, JSON.stringify(all));
  }

  /** Calls `changed()` when another console tab records something. */
  watch(changed) {
    const listener = (event) => {
      if (event.key === this.key) changed();
    };
    window.addEventListener("storage", listener);
    return () => window.removeEventListener("storage", listener);
  }
}

/** One chat's unread messages: their ids, so what another console tab saw can be taken off. */
export class UnreadMessages {
  constructor(conversationId, seen) {
    this.conversationId = conversationId;
    this.seen = seen;
    this.ids = [];
  }

  get count() {
    return this.ids.length;
  }

  /** A message the agent did not see as it arrived; false if it was seen before (a replay). */
  add(messageId) {
    if (this.seen.covers(this.conversationId, messageId) || this.ids.includes(messageId)) return false;
    this.ids.push(messageId);
    return true;
  }

  /** The agent looked at the chat, whose newest message is `newestId`. */
  clear(newestId) {
    this.ids = [];
    if (newestId) this.seen.record(this.conversationId, newestId);
  }

  /** Drops what has been seen meanwhile (in another console tab); whether the count changed. */
  refresh() {
    const before = this.ids.length;
    this.ids = this.ids.filter((id) => !this.seen.covers(this.conversationId, id));
    return this.ids.length !== before;
  }
}
