// The queue in the agents' sidebar: who is waiting and for how long, newly
// arrived customers marked (and alerted) until the agent looks at them (points
// at one, or has had the queue on screen for TIMING.freshSeenMs), and the
// claim button (in a group assigned automatically, only supervisors claim: agents
// get its chats offered, offers.js).

import { h, replaceChildren, syncList } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { STRINGS, TIMING, chatTitle, describeError, reasonLabel } from "../constants.js";
import { beganAt, customerPresenceChip, renderCustomerPresence } from "../presence.js";
import { labelChips } from "../workspace/labels.js";
import { SlaCountdown } from "./sla.js";

/** Seconds as a clock: "0:05", "12:30", "1:02:03". */
function formatWait(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/** A card's title, as the chat's tab and header name it (a lost claim names the chat the same way). */
function cardTitle(item) {
  return chatTitle(item.topic, item.reason, item.customer_name);
}

/** An item with the moments its wait and its customer's presence began, on this page's clock. */
function withClocks(item, now) {
  return { ...item, since: now - item.waiting_seconds * 1000, presenceSince: beganAt(item.customer_presence_seconds, now) };
}

export class QueuePanel {
  constructor(view) {
    this.view = view;
    this.items = [];
    this.known = null; // ids in the last queue; null until the first one (which never alerts)
    this.fresh = new Set();
    this.onScreenSince = new Map(); // fresh id -> when the queue began to show it (ms)
    this.claiming = new Set();
    this.entries = new Map();
    this.error = h("div", { class: "inline-error", role: "alert", hidden: true });
    this.list = h("ul", { class: "queue-list", "aria-label": "Customers waiting" });
    this.empty = h("div", { class: "empty-state small" }, icon("inbox", "icon empty-icon"),
      h("p", {}, "Nobody is waiting. New customers appear here at once."));
    this.element = h("div", { class: "queue-panel" }, this.error, this.list, this.empty);
  }

  /** The whole queue (on connect, on request, after a resync). */
  update(items) {
    const now = Date.now();
    this.show(items.map((item) => withClocks(item, now)));
  }

  /** A change of the queue: items added or changed, ids removed; the order is the bridge's (queued_at). */
  change({ added = [], updated = [], removed = [] }) {
    const now = Date.now();
    const byId = new Map(this.items.map((item) => [item.conversation_id, item]));
    for (const id of removed) byId.delete(id);
    for (const item of [...added, ...updated]) {
      byId.set(item.conversation_id, withClocks(item, now));
    }
    this.show([...byId.values()].sort((a, b) => a.queued_at - b.queued_at));
  }

  show(items) {
    this.items = items;
    const ids = new Set(items.map((item) => item.conversation_id));
    const arrived = this.known ? items.filter((item) => !this.known.has(item.conversation_id)) : [];
    // A conversation that leaves the queue and comes back (transferred, agent lost) alerts again.
    this.known = ids;
    for (const item of arrived) this.fresh.add(item.conversation_id);
    for (const id of [...this.fresh]) {
      if (!ids.has(id)) {
        this.fresh.delete(id);
        this.onScreenSince.delete(id);
      }
    }
    for (const id of [...this.claiming]) if (!ids.has(id)) this.claiming.delete(id);
    // Keeps the bridge's order: oldest first.
    syncList(this.list, this.entries, items, {
      key: (item) => item.conversation_id,
      create: (item) => this.createEntry(item.conversation_id),
      update: (entry, item) => this.fill(entry, item),
    });
    this.empty.hidden = items.length > 0;
    this.view.sidebarTabs.setCount("queue", items.length, this.fresh.size > 0);
    this.tick();
    if (arrived.length && this.view.newWorkAlerts()) this.view.chime();
    this.view.updateAttention();
  }

  createEntry(conversationId) {
    const claim = h("button", { type: "button", class: "button primary small", onclick: () => this.claim(conversationId) });
    // Supervisors may read any chat first (read-only, with notes), as from a mention.
    const open = this.view.supervisor
      ? h("button", { type: "button", class: "button small", onclick: () => this.view.openReadOnly(conversationId) }, "Open")
      : null;
    const wait = h("span", {});
    const topic = h("p", { class: "queue-topic" });
    const body = h("div", { class: "queue-body" });
    const presence = customerPresenceChip(); // connected, typing, or gone and since when
    const sla = new SlaCountdown(); // the first response's target (sla.js)
    const element = h("li", { class: "queue-item" },
      h("div", { class: "queue-top" }, topic, presence.element,
        h("span", { class: "wait" }, icon("clock"), h("span", { class: "visually-hidden" }, "Waiting "), wait)),
      body,
      // The countdown sits with the buttons: in the chips it moved Claim when "New" went on the first press.
      h("div", { class: "queue-actions" }, sla.element, open, claim));
    // Looking at an item (clicking, tabbing into it) is enough to stop alerting about it.
    element.addEventListener("focusin", () => this.acknowledge(conversationId));
    element.addEventListener("pointerdown", () => this.acknowledge(conversationId));
    return { element, claim, open, wait, topic, body, presence, sla, item: null };
  }

  fill(entry, item) {
    const id = item.conversation_id;
    const claiming = this.claiming.has(id);
    entry.item = item;
    entry.sla.set(item.sla);
    entry.element.classList.toggle("is-new", this.fresh.has(id));
    const offeredOnly = item.assignment === "automatic" && !this.view.roles.includes("supervisor");
    entry.claim.disabled = claiming || offeredOnly;
    entry.claim.textContent = claiming ? "Claiming…" : offeredOnly ? "Assigned automatically" : "Claim";
    const title = cardTitle(item);
    entry.claim.setAttribute("aria-label", `Claim chat: ${title}`);
    if (entry.open) entry.open.setAttribute("aria-label", `Open chat read-only: ${title}`);
    entry.topic.textContent = title;
    const details = item.details || {};
    replaceChildren(entry.body,
      // A signed-in customer: who, as their site signed them (never what they typed about themselves).
      item.customer_name
        ? h("p", { class: "queue-customer" }, h("bdi", { class: "queue-customer-name" }, item.customer_name), " ",
          h("span", { class: "chip chip-verified", title: "Signed by the site: this is who the customer is signed in as" }, "✓ Verified"))
        : null,
      h("div", { class: "chips" },
        this.fresh.has(id) ? h("span", { class: "chip chip-new" }, "New") : null,
        // A colleague's note named this agent (docs/bridge-protocol.md "Notes and mentions").
        item.mentioned ? h("span", { class: "chip chip-mentioned" }, icon("mention"), "Mentioned you") : null,
        h("span", { class: `chip reason reason-${item.reason || "unknown"}` }, reasonLabel(item.reason)),
        h("span", { class: "chip chip-group", title: "Skill group" }, h("span", { class: "visually-hidden" }, "Group: "), item.group),
        // Sent back to the queue by a colleague: who, so the next agent knows whom to ask.
        item.transferred_by ? h("span", { class: "chip chip-transferred" }, `Transferred by ${this.view.nameOf(item.transferred_by)}`) : null,
        // Written again after a closed chat: the chat's details show that one (earlier-panel.js).
        item.follows ? h("span", { class: "chip chip-earlier", title: "The customer wrote again after a closed chat: it is in the chat's details" }, "Wrote again") : null,
        labelChips(item.labels, this.view.labels)),
      // What the customer said last first (it follows them as they write while waiting), the bot's summary below.
      item.last_message
        ? h("p", { class: "queue-last" }, h("span", { class: "queue-last-label" }, `${STRINGS.lastMessage} `),
          h("span", { class: "queue-last-text" }, item.last_message.text))
        : null,
      item.summary ? h("p", { class: "queue-summary" }, item.summary) : null,
      details.description || details.contact
        ? h("dl", { class: "queue-details" },
          details.description ? [h("dt", {}, "Customer says"), h("dd", {}, details.description)] : null,
          details.contact ? [h("dt", {}, "Contact"), h("dd", {}, details.contact)] : null)
        : null);
  }

  /** Every card again (the label set changed: names and colours). */
  refill() {
    for (const entry of this.entries.values()) {
      if (entry.item) this.fill(entry, entry.item);
    }
  }

  tick() {
    const now = Date.now();
    this.acknowledgeSeen(now);
    for (const entry of this.entries.values()) {
      const seconds = (now - entry.item.since) / 1000;
      entry.wait.textContent = formatWait(seconds);
      renderCustomerPresence(entry.presence, entry.item.customer_presence, entry.item.presenceSince, now);
      entry.sla.render(now);
      entry.element.classList.toggle("wait-long", seconds >= 120 && seconds < 300);
      entry.element.classList.toggle("wait-critical", seconds >= 300);
    }
  }

  /** New cards the agent has had in front of them long enough are no longer new. */
  acknowledgeSeen(now) {
    const view = this.view;
    const looking = view.visible && document.visibilityState === "visible" && view.sidebarTabs.selected === "queue";
    for (const id of [...this.fresh]) {
      const since = this.onScreenSince.get(id);
      if (!looking) this.onScreenSince.delete(id);
      else if (since === undefined) this.onScreenSince.set(id, now);
      else if (now - since >= TIMING.freshSeenMs) this.acknowledge(id);
    }
  }

  async claim(conversationId) {
    this.acknowledge(conversationId);
    this.error.hidden = true;
    this.claiming.add(conversationId);
    const entry = this.entries.get(conversationId);
    if (entry) this.fill(entry, entry.item);
    try {
      await this.view.claim(conversationId);
    } catch (failure) {
      this.showError(failure && failure.code === "already_claimed" && entry
        ? STRINGS.claimedFirst.replace("{who}", failure.agent ? this.view.nameOf(failure.agent) : "Another agent")
          .replace("{chat}", cardTitle(entry.item))
        : describeError(failure));
    } finally {
      this.claiming.delete(conversationId);
      const current = this.entries.get(conversationId);
      if (current) this.fill(current, current.item);
    }
  }

  showError(text) {
    replaceChildren(this.error, icon("info"), h("span", {}, text),
      h("button", { type: "button", class: "icon-button small", "aria-label": "Dismiss", onclick: () => { this.error.hidden = true; } }, icon("close")));
    this.error.hidden = false;
  }

  freshItems() {
    return this.items.filter((item) => this.fresh.has(item.conversation_id));
  }

  acknowledge(conversationId) {
    this.onScreenSince.delete(conversationId);
    if (!this.fresh.delete(conversationId)) return;
    const entry = this.entries.get(conversationId);
    if (entry) this.fill(entry, entry.item);
    this.view.sidebarTabs.setCount("queue", this.items.length, this.fresh.size > 0);
    this.view.updateAttention();
  }

  acknowledgeAll() {
    for (const id of [...this.fresh]) this.acknowledge(id);
  }

  focusFirstFresh() {
    const first = this.freshItems()[0];
    if (first) this.entries.get(first.conversation_id).claim.focus();
  }
}
