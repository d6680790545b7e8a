// The Teach view's inbox: groups of customer messages the bot handled badly,
// each labelled in one go (assign to an intent or FAQ topic, a new FAQ topic
// or intent with its answer, out of scope, skip), and the conversation a
// message came from in a side panel.

import { h, placeInOrder } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { TEACH_LIMITS, TEACH_STRINGS, describeTeachError } from "../constants.js";
import { ConversationPanel } from "./conversation-panel.js";
import { GroupCard } from "./group-card.js";
import { Notice, isNumber, plural } from "./shared.js";

/** What the worker did, in one sentence, from a decision's ack. */
function resultText(kind, result) {
  const items = isNumber(result.items) ? result.items : 0;
  const added = isNumber(result.added) ? result.added : items;
  const already = isNumber(result.already_there) && result.already_there
    ? ` (${result.already_there} ${result.already_there === 1 ? "was" : "were"} there already)` : "";
  const next = " Train the bot to put it live.";
  switch (kind) {
    case "label":
      return `${plural(added, "example")} added to ${result.intent}${already}.${next}`;
    case "new_faq":
      return `New FAQ topic ${result.intent} created with ${plural(added, "example")} and its answer.${next}`;
    case "new_intent":
      return `New intent ${result.intent} created with ${plural(added, "example")} and its answer.${next}`;
    case "out_of_scope":
      return `${plural(items, "message")} marked out of scope: the bot learns these are not its business${already}.`;
    case "skip":
      return `${plural(items, "message")} skipped.`;
    default:
      return "Done.";
  }
}

export class InboxPanel {
  constructor(view) {
    this.view = view;
    this.cards = new Map(); // group id -> GroupCard
    this.selected = new Set(); // item ids
    this.expanded = new Set(); // group ids
    this.notice = new Notice();
    this.summary = h("p", { class: "panel-summary" }, "Loading the inbox…");
    this.heading = h("h2", { id: "inbox-title", tabindex: "-1" }, "Inbox");
    this.list = h("ul", { class: "group-list", "aria-labelledby": "inbox-title" });
    this.empty = h("div", { class: "empty-state small inbox-empty", hidden: true },
      icon("inbox", "icon empty-icon"),
      h("h3", {}, TEACH_STRINGS.emptyInbox),
      h("p", {}, TEACH_STRINGS.emptyInboxText));
    this.side = new ConversationPanel(view);
    this.main = h("div", { class: "inbox-main" },
      h("div", { class: "panel-head" }, h("div", {}, this.heading, this.summary)),
      this.notice.element, this.list, this.empty);
    this.element = h("div", { class: "inbox-panel" }, this.main, this.side.element);
  }

  update(data) {
    const groups = Array.isArray(data.groups) ? data.groups : [];
    const open = isNumber(data.open) ? data.open : groups.reduce((sum, group) => sum + (group.size || 0), 0);
    this.summary.textContent = groups.length
      ? `${plural(open, "message")} to look at, in ${plural(groups.length, "group")} of similar messages. Biggest groups first.`
      : "";
    const ids = new Set(groups.map((group) => group.id));
    const present = new Set(groups.flatMap((group) => (group.items || []).map((item) => item.id)));
    for (const id of [...this.selected]) if (!present.has(id)) this.selected.delete(id);

    // A group is named after its oldest message, so it is renamed when that one is labelled
    // elsewhere: the card that shared its messages carries on (open, ticked, focused).
    const order = [...this.cards.keys()];
    const claimed = new Map(); // new group id -> card
    for (const group of groups) {
      const card = this.cards.get(group.id);
      if (card) claimed.set(group.id, card);
    }
    const taken = new Set(claimed.values());
    for (const group of groups) {
      if (claimed.has(group.id)) continue;
      const itemIds = new Set((group.items || []).map((item) => item.id));
      const heir = [...this.cards.values()].find((card) => !taken.has(card) && card.items.some((item) => itemIds.has(item.id)));
      if (!heir) continue;
      if (this.expanded.delete(heir.id)) this.expanded.add(group.id);
      heir.id = group.id;
      claimed.set(group.id, heir);
      taken.add(heir);
    }
    for (const id of [...this.expanded]) if (!ids.has(id)) this.expanded.delete(id);

    let lostFocusAt = -1;
    order.forEach((id, index) => {
      const card = this.cards.get(id);
      if (taken.has(card)) return;
      if (card.element.contains(document.activeElement)) lostFocusAt = index;
      card.element.remove();
    });
    this.cards = new Map(groups.map((group) => [group.id, claimed.get(group.id) || new GroupCard(this, group.id)]));
    for (const group of groups) this.cards.get(group.id).update(group);
    placeInOrder(this.list, [...this.cards.values()].map((card) => card.element)); // the worker's order: biggest first
    this.empty.hidden = groups.length > 0;
    if (lostFocusAt >= 0) {
      // The group just labelled is gone: go on with the one that took its place.
      const next = [...this.cards.values()][Math.min(lostFocusAt, this.cards.size - 1)];
      if (next) next.focusTitle();
      else this.heading.focus();
    }
  }

  /** Sends a decision on items; the notice says what the worker did. */
  async decide(kind, data, { showErrors = true } = {}) {
    this.notice.clear();
    try {
      const result = await this.sendInBatches(kind, data);
      this.notice.success(resultText(kind, result));
      return result;
    } catch (error) {
      if (showErrors) this.notice.error(describeTeachError(error));
      throw error;
    }
  }

  /**
   * A request names at most itemsPerRequest messages: a bigger group goes in
   * batches, the first creating a new topic or intent and the rest labelled with it.
   */
  async sendInBatches(kind, data) {
    const ids = data.item_ids;
    const size = TEACH_LIMITS.itemsPerRequest;
    const result = { ...(await this.view.request(kind, { ...data, item_ids: ids.slice(0, size) })) };
    for (let start = size; start < ids.length; start += size) {
      const batch = ids.slice(start, start + size);
      const more = kind === "new_faq" || kind === "new_intent"
        ? await this.view.request("label", { item_ids: batch, intent: result.intent })
        : await this.view.request(kind, { ...data, item_ids: batch });
      for (const name of ["items", "added", "already_there"]) {
        if (isNumber(more[name])) result[name] = (isNumber(result[name]) ? result[name] : 0) + more[name];
      }
    }
    return result;
  }

  destroy() {
    this.side.close();
  }
}
