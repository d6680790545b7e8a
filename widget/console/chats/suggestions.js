// Suggested replies above the composer: for the customer's latest message,
// the bot's FAQ answers as its model ranks them and replies colleagues gave
// before to similar messages (docs/bridge-protocol.md "Suggested replies").
// One click (or Enter on the focused suggestion) puts the text into the
// composer to edit; nothing is ever sent without the agent pressing Send.
// When the bot is not answering the strip just shows nothing.

import { h, replaceChildren } from "../../shared/dom.js";
import { humanize } from "../constants.js";

// A burst of customer messages (or the transcript arriving) asks once, after it.
const ASK_AFTER_MS = 400;
const SOURCE_LABELS = { faq: "FAQ", agent: "Team reply" };

export class SuggestionStrip {
  constructor(tab) {
    this.tab = tab;
    this.wantedFor = null; // the customer message the strip should show suggestions for
    this.shownFor = null;
    this.timer = null;
    this.asking = false;
    this.list = h("div", { class: "suggestion-list" });
    this.element = h("section", { class: "suggestions", "aria-label": "Suggested replies", hidden: true },
      h("h3", { class: "suggestions-title" }, "Suggested replies"), this.list);
  }

  /** The customer wrote (or their message was sent again after a reconnect): suggestions for the latest. */
  customerMessage(messageId) {
    if (messageId === this.wantedFor) return;
    this.wantedFor = messageId;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.ask(), ASK_AFTER_MS);
  }

  async ask() {
    if (this.asking || this.wantedFor === this.shownFor) return;
    this.asking = true;
    const wanted = this.wantedFor;
    try {
      const answer = await this.tab.view.waiting.ask("suggest", { conversation_id: this.tab.id });
      this.render(answer.message_id === null ? [] : answer.items || []);
      this.shownFor = wanted;
    } catch {
      this.render([]); // the bot is down, or the chat moved on: no suggestions, nothing else changes
      this.shownFor = wanted;
    } finally {
      this.asking = false;
    }
    if (this.wantedFor !== this.shownFor) this.customerMessage(this.wantedFor); // another came meanwhile
  }

  render(items) {
    this.element.hidden = items.length === 0;
    replaceChildren(this.list, items.map((item) => {
      const source = SOURCE_LABELS[item.source] || item.source;
      const topic = humanize(item.topic);
      return h("button", {
        type: "button", class: `suggestion suggestion-${item.source === "agent" ? "agent" : "faq"}`,
        title: item.text, "aria-label": `Use suggestion (${source}${topic ? `, ${topic}` : ""}): ${item.text}`,
        onclick: () => this.tab.composer.insertSuggestion(item.text),
      },
      h("span", { class: "suggestion-meta" }, h("span", { class: "suggestion-source" }, source), topic ? ` · ${topic}` : ""),
      h("span", { class: "suggestion-text" }, item.text));
    }));
  }

  destroy() {
    clearTimeout(this.timer);
  }
}
