// Chats offered to this agent by automatic assignment (docs/bridge-protocol.md "Automatic
// assignment"): each as a card above the queue, with the customer's context as the queue
// shows it and how long is left to accept; Accept opens the chat as a claim does, Decline
// passes it to the next colleague. The bridge sends the whole list at every change.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { STRINGS, describeError, humanize, reasonLabel } from "../constants.js";

export class OffersPanel {
  constructor(view) {
    this.view = view;
    this.items = [];
    this.busy = new Set(); // ids being accepted or declined
    this.error = h("div", { class: "inline-error", role: "alert", hidden: true });
    this.list = h("ul", { class: "offer-list", "aria-label": "Chats offered to you" });
    this.element = h("section", { class: "offers-panel", "aria-label": "Chats offered to you", hidden: true },
      this.error, this.list);
  }

  /** The whole list of open offers; a new one chimes. */
  update(items) {
    const known = new Set(this.items.map((item) => item.conversation_id));
    const now = Date.now();
    this.items = items.map((item) => ({ ...item, until: now + item.offer_seconds * 1000 }));
    for (const id of [...this.busy]) if (!items.some((item) => item.conversation_id === id)) this.busy.delete(id);
    replaceChildren(this.list, this.items.map((item) => this.card(item)));
    this.element.hidden = this.items.length === 0;
    if (items.some((item) => !known.has(item.conversation_id))) this.view.chime();
    this.tick();
  }

  card(item) {
    const id = item.conversation_id;
    const topic = humanize(item.topic) || reasonLabel(item.reason);
    const busy = this.busy.has(id);
    return h("li", { class: "offer-item", "data-conversation": id },
      h("div", { class: "offer-top" },
        h("p", { class: "offer-title" }, icon("bell"), h("span", {}, `Offered to you: ${topic}`)),
        h("span", { class: "offer-left", "data-left": id })),
      h("div", { class: "chips" },
        h("span", { class: `chip reason reason-${item.reason || "unknown"}` }, reasonLabel(item.reason)),
        h("span", { class: "chip chip-group", title: "Skill group" }, item.group)),
      item.last_message
        ? h("p", { class: "queue-last" }, h("span", { class: "queue-last-label" }, `${STRINGS.lastMessage} `),
          h("span", { class: "queue-last-text" }, item.last_message.text))
        : null,
      item.summary ? h("p", { class: "queue-summary" }, item.summary) : null,
      h("div", { class: "offer-actions" },
        h("button", { type: "button", class: "button primary small", disabled: busy, "aria-label": `Accept chat: ${topic}`,
          onclick: () => this.answer(id, "offer_accept") }, busy ? "Accepting…" : "Accept"),
        h("button", { type: "button", class: "button small ghost", disabled: busy, "aria-label": `Decline chat: ${topic}`,
          onclick: () => this.answer(id, "offer_decline") }, "Decline")));
  }

  /** Puts the focus on the Accept button of the offer of this conversation; false when there is none. */
  focus(conversationId) {
    const card = [...this.list.children].find((each) => each.dataset.conversation === conversationId);
    const accept = card && card.querySelector("button.primary");
    if (accept) accept.focus();
    return Boolean(accept);
  }

  /** The seconds left on each card (the bridge withdraws an offer when they run out). */
  tick() {
    const now = Date.now();
    for (const item of this.items) {
      const left = this.list.querySelector(`[data-left="${CSS.escape(item.conversation_id)}"]`);
      if (left) left.textContent = `${Math.max(0, Math.ceil((item.until - now) / 1000))} s to accept`;
    }
  }

  async answer(conversationId, type) {
    this.error.hidden = true;
    this.busy.add(conversationId);
    this.update(this.items.map(({ until, ...item }) => ({ ...item, offer_seconds: Math.max(0, (until - Date.now()) / 1000) })));
    try {
      if (type === "offer_accept") await this.view.acceptOffer(conversationId);
      else await this.view.waiting.send(type, { conversation_id: conversationId });
    } catch (failure) {
      this.busy.delete(conversationId);
      replaceChildren(this.error, icon("info"), h("span", {}, describeError(failure)));
      this.error.hidden = false;
    }
  }
}
