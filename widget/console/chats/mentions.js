// The agent's mentions, beside the queue and the requests: each conversation a
// colleague's note mentioned them in (who, what the note says, when), unseen
// ones marked and counted. "Open" shows the conversation: their own tab if
// they serve it, else read-only, where they can answer with a note. The
// bridge keeps the mentions in Redis and pushes them to every console of the
// agent (docs/bridge-protocol.md "Notes and mentions").

import { h, replaceChildren, syncList, timeElement } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { describeError } from "../constants.js";
import { withMentions } from "../transcript.js";

export class MentionsPanel {
  constructor(view) {
    this.view = view;
    this.items = [];
    this.unseen = 0;
    this.known = null; // note ids already shown: a new one chimes (not the first list)
    this.entries = new Map();
    this.error = h("div", { class: "inline-error", role: "alert", hidden: true });
    this.list = h("ul", { class: "mention-list", "aria-label": "Notes that mention you" });
    this.empty = h("div", { class: "empty-state small" }, icon("mention", "icon empty-icon"),
      h("p", {}, "No mentions yet. When a colleague writes @your-name in a note, it appears here."));
    this.element = h("div", { class: "mentions-panel" }, this.error, this.list, this.empty);
  }

  update({ items = [], unseen = 0 }) {
    const arrived = this.known ? items.filter((item) => !item.seen && !this.known.has(item.note_id)) : [];
    this.known = new Set(items.map((item) => item.note_id));
    this.items = items;
    this.unseen = unseen;
    syncList(this.list, this.entries, items, {
      key: (item) => item.conversation_id,
      create: (item) => this.createEntry(item.conversation_id),
      update: (entry, item) => this.fill(entry, item),
    });
    this.empty.hidden = items.length > 0;
    this.view.sidebarTabs.setCount("mentions", unseen || "", unseen > 0);
    // A mention in the chat on screen is read as it arrives.
    for (const item of items) {
      const tab = this.view.conversations.get(item.conversation_id);
      if (!item.seen && tab && this.view.isViewing(tab)) this.seen(item.conversation_id);
    }
    if (arrived.length) {
      for (const item of arrived) this.view.mentionArrived(item);
      this.view.chime();
      const first = arrived[0];
      this.view.toast(`${first.by_name || first.by} mentioned you in a note.`);
    }
    this.view.updateAttention();
  }

  createEntry(conversationId) {
    const open = h("button", { type: "button", class: "button primary small", onclick: () => this.open(conversationId) }, "Open");
    const who = h("p", { class: "mention-who" });
    const excerpt = h("p", { class: "mention-excerpt" });
    const when = h("span", { class: "mention-when" });
    const element = h("li", { class: "mention-item" },
      h("div", { class: "mention-top" }, icon("mention"), who, when), excerpt, h("div", { class: "queue-actions" }, open));
    return { element, open, who, excerpt, when };
  }

  fill(entry, item) {
    entry.element.classList.toggle("is-unseen", !item.seen);
    replaceChildren(entry.who, h("strong", {}, item.by_name || item.by), " mentioned you",
      item.count > 1 ? ` (${item.count} times)` : null, item.seen ? null : h("span", { class: "chip chip-new" }, "New"));
    replaceChildren(entry.when, timeElement(item.ts, undefined, null, { dated: true }));
    replaceChildren(entry.excerpt, withMentions(String(item.excerpt || ""), this.view.agent));
    entry.open.setAttribute("aria-label", `Open the chat ${item.by_name || item.by} mentioned you in`);
  }

  /** Opens the conversation and marks the mention seen (on every console of this agent). */
  async open(conversationId) {
    this.error.hidden = true;
    try {
      await this.view.viewConversation(conversationId);
      // The mention shown: a newer one arrived meanwhile stays unseen.
      const shown = this.items.find((entry) => entry.conversation_id === conversationId);
      await this.view.waiting.ask("mention_seen", { conversation_id: conversationId, note_id: shown?.note_id ?? "" });
    } catch (failure) {
      replaceChildren(this.error, icon("info"), h("span", {}, describeError(failure)));
      this.error.hidden = false;
    }
  }

  /** The mention in this conversation, if unseen, is seen now (the agent is looking at its tab). */
  seen(conversationId) {
    const item = this.items.find((entry) => entry.conversation_id === conversationId);
    if (item && !item.seen) {
      this.view.waiting.ask("mention_seen", { conversation_id: conversationId, note_id: item.note_id }).catch(() => {});
    }
  }
}
