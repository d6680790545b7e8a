// One group of similar messages in the Teach inbox: the bot's best guess,
// its messages (each with a tick box and a button that opens its
// conversation), and the actions that label the ticked ones, or all, in one go.

import { h, replaceChildren, syncList } from "../../shared/dom.js";
import { newId } from "../../shared/transport.js";
import { INBOX_REASONS, TEACH_LIMITS, reasonLabel } from "../constants.js";
import { assignDialog, newTopicDialog } from "./label-dialogs.js";
import { button, intentName, isNumber, plural, reasonChip, share, when } from "./shared.js";

export class GroupCard {
  constructor(panel, id) {
    this.panel = panel;
    this.id = id;
    this.group = null;
    this.rows = new Map(); // item id -> {element, checkbox}
    const base = `group-${newId().slice(0, 12)}`; // not the group's id: that can change (InboxPanel.update)
    this.titleId = `${base}-title`;
    this.title = h("h3", { class: "group-title", id: this.titleId, tabindex: "-1" });
    this.size = h("span", { class: "group-size" });
    this.reasons = h("div", { class: "chips group-reasons" });
    this.suggestion = h("p", { class: "group-suggestion" });
    this.samples = h("ul", { class: "group-samples", "aria-label": "Examples from this group" });
    this.scope = h("p", { class: "group-scope", id: `${base}-scope`, "aria-live": "polite" });

    this.toggle = h("button", {
      type: "button", class: "button small ghost group-toggle", "aria-expanded": "false", "aria-controls": `${base}-messages`,
      onclick: () => this.setExpanded(!this.panel.expanded.has(this.id)),
    });
    this.selectAll = h("input", { type: "checkbox", class: "select-all", "aria-label": "Select all messages in this group" });
    this.selectAll.addEventListener("change", () => this.selectEvery(this.selectAll.checked));
    this.tbody = h("tbody", {});
    this.messages = h("div", { class: "group-messages", id: `${base}-messages`, hidden: true },
      h("table", { class: "message-table" },
        h("caption", { class: "visually-hidden" }, "Messages in this group"),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", class: "col-select" }, this.selectAll),
          h("th", { scope: "col" }, "Message"),
          h("th", { scope: "col", class: "col-when" }, "When"),
          h("th", { scope: "col", class: "col-guess" }, "Bot's guess"),
          h("th", { scope: "col", class: "col-open" }, h("span", { class: "visually-hidden" }, "Conversation")))),
        this.tbody));

    const described = { "aria-describedby": this.scope.id };
    this.actions = [
      button("Assign to…", { class: "button primary", ...described, onclick: () => this.assign() }, "check"),
      button("New FAQ topic", { ...described, onclick: () => this.newFaq() }),
      button("New intent", { ...described, onclick: () => this.newIntent() }),
      button("Out of scope", { ...described, onclick: () => this.simple("out_of_scope") }),
      button("Skip", { class: "button ghost", ...described, onclick: () => this.simple("skip") }),
    ];
    this.element = h("li", { class: "group-card", "aria-labelledby": this.titleId },
      h("div", { class: "group-head" },
        h("div", { class: "group-heading" }, this.title, this.size),
        this.reasons),
      this.suggestion,
      this.samples,
      this.messages,
      h("div", { class: "group-footer" },
        this.toggle,
        h("div", { class: "group-actions", role: "group", "aria-label": "Label these messages" }, this.scope, h("div", { class: "group-buttons" }, this.actions))));
  }

  get items() {
    return (this.group && Array.isArray(this.group.items)) ? this.group.items : [];
  }

  update(group) {
    this.group = group;
    const items = this.items;
    const size = isNumber(group.size) ? group.size : items.length;
    const first = items[0];
    this.title.textContent = first ? `“${first.text}”` : "Messages";
    this.size.textContent = size > 1 ? `and ${plural(size - 1, "similar message")}` : "1 message";

    const counts = group.reasons || {};
    replaceChildren(this.reasons, Object.keys(INBOX_REASONS)
      .filter((reason) => counts[reason] > 0)
      .map((reason) => reasonChip(reason, counts[reason])));

    const suggestion = group.suggestion;
    replaceChildren(this.suggestion, suggestion && suggestion.intent
      ? ["The bot's best guess: ", intentName(suggestion.intent), ` for ${share(suggestion.share)} of them`]
      : h("span", { class: "muted" }, "The bot had no guess for these."));

    replaceChildren(this.samples, items.slice(1, 1 + TEACH_LIMITS.groupSamples).map((item) => h("li", {}, `“${item.text}”`)));
    this.samples.hidden = this.panel.expanded.has(this.id) || items.length < 2;

    // Rows keyed by item, so a push does not lose the focus or the ticks.
    syncList(this.tbody, this.rows, items, { key: (item) => item.id, create: (item) => this.createRow(item) });
    this.setExpanded(this.panel.expanded.has(this.id), false);
    this.renderSelection();
  }

  createRow(item) {
    const checkbox = h("input", { type: "checkbox", "aria-label": `Select “${item.text}”` });
    checkbox.checked = this.panel.selected.has(item.id);
    checkbox.addEventListener("change", () => {
      if (checkbox.checked) this.panel.selected.add(item.id);
      else this.panel.selected.delete(item.id);
      this.renderSelection();
    });
    const reasons = Array.isArray(item.reasons) ? item.reasons : [];
    const confidence = isNumber(item.confidence) ? item.confidence : null;
    const open = button("Open conversation", {
      class: "button small", "aria-label": `Open conversation: “${item.text}”`,
      onclick: () => this.panel.side.open(item, open),
    }, "panel");
    const element = h("tr", { dataset: { item: item.id } },
      h("td", { class: "col-select" }, checkbox),
      h("td", {},
        h("p", { class: "message-text" }, item.text),
        h("div", { class: "chips" },
          reasons.map((reason) => reasonChip(reason)),
          item.handoff_reason ? h("span", { class: "chip chip-group" }, `Handoff: ${reasonLabel(item.handoff_reason)}`) : null)),
      h("td", { class: "col-when" }, when(item.time)),
      h("td", { class: "col-guess" },
        intentName(item.intent),
        confidence === null ? null : h("span", { class: `guess-confidence ${confidence < 0.4 ? "is-low" : ""}` }, ` ${share(confidence)} sure`)),
      h("td", { class: "col-open" }, open));
    return { element, checkbox };
  }

  setExpanded(expanded, focus = true) {
    if (expanded) this.panel.expanded.add(this.id);
    else this.panel.expanded.delete(this.id);
    this.messages.hidden = !expanded;
    this.samples.hidden = expanded || this.items.length < 2;
    this.toggle.setAttribute("aria-expanded", String(expanded));
    const count = this.items.length;
    replaceChildren(this.toggle, expanded ? "Hide messages" : `Show ${count === 1 ? "the message" : `all ${count} messages`}`);
    if (expanded && focus) this.selectAll.focus();
  }

  selectEvery(checked) {
    for (const item of this.items) {
      if (checked) this.panel.selected.add(item.id);
      else this.panel.selected.delete(item.id);
    }
    this.renderSelection();
  }

  /** The selected messages of this group, or all of them when none is selected. */
  targetItems() {
    const picked = this.items.filter((item) => this.panel.selected.has(item.id));
    return picked.length ? picked : this.items;
  }

  renderSelection() {
    const picked = this.items.filter((item) => this.panel.selected.has(item.id)).length;
    for (const item of this.items) {
      const row = this.rows.get(item.id);
      if (row) {
        row.checkbox.checked = this.panel.selected.has(item.id);
        row.element.classList.toggle("is-selected", row.checkbox.checked);
      }
    }
    this.selectAll.checked = picked > 0 && picked === this.items.length;
    this.selectAll.indeterminate = picked > 0 && picked < this.items.length;
    const all = this.items.length;
    this.scope.textContent = picked && picked < all
      ? `For the ${plural(picked, "selected message")}:`
      : `For ${all === 1 ? "this message" : `all ${all} messages`}:`;
  }

  focusTitle() {
    this.title.focus();
  }

  setBusy(busy) {
    for (const action of this.actions) action.disabled = busy;
    this.element.classList.toggle("is-busy", busy);
    this.element.setAttribute("aria-busy", String(busy));
  }

  async run(kind, data, pressed, inDialog = true) {
    this.setBusy(true);
    const label = pressed ? pressed.querySelector(".button-label") : null;
    const before = label ? label.textContent : "";
    if (label) label.textContent = "Saving…";
    try {
      return await this.panel.decide(kind, data, { showErrors: !inDialog });
    } finally {
      if (label) label.textContent = before;
      this.setBusy(false);
    }
  }

  async simple(kind) {
    const ids = this.targetItems().map((item) => item.id);
    const pressed = this.actions[kind === "skip" ? 4 : 3];
    try {
      await this.run(kind, { item_ids: ids }, pressed, false);
    } catch {
      // Shown in the inbox's notice.
    }
  }

  assign() {
    const items = this.targetItems();
    assignDialog(this.panel.view, items, this.group.suggestion, (intent) => this.run("label", { item_ids: items.map((item) => item.id), intent }, this.actions[0]));
  }

  newFaq() {
    const items = this.targetItems();
    newTopicDialog(this.panel.view, items, "faq",
      (data) => this.run("new_faq", { item_ids: items.map((item) => item.id), ...data }, this.actions[1]));
  }

  newIntent() {
    const items = this.targetItems();
    newTopicDialog(this.panel.view, items, "intent",
      (data) => this.run("new_intent", { item_ids: items.map((item) => item.id), ...data }, this.actions[2]));
  }
}
