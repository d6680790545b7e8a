// Accessible tabs (a tablist, its tabs and their panels) with a counter in each
// tab: the chats view's queue and requests, the Teach view's sections. A
// hidden panel keeps its state.

import { h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";

// The chats sidebar's segmented control; the Teach view passes its own.
const SEGMENTS = { list: "segments", tab: "segment", panels: "tab-panels", panel: "tab-panel" };

export class Tabs {
  /**
   * @param {string} prefix of the tabs' and panels' ids
   * @param {string} label the tablist's accessible name
   * @param {Array<{id: string, label: string, panel: Element, icon?: string, busyText?: string}>} items
   *   busyText: what a screen reader hears for the tab's busy dot (setBusy)
   * @param {object} [options]
   * @param {(id: string) => void} [options.onSelect]
   * @param {{list: string, tab: string, panels: string, panel: string}} [options.classes]
   */
  constructor(prefix, label, items, { onSelect = () => {}, classes = SEGMENTS } = {}) {
    this.onSelect = onSelect;
    this.items = items.map((item) => {
      const count = h("span", { class: "tab-count" });
      const busy = item.busyText
        ? h("span", { class: "tab-busy", hidden: true }, h("span", { class: "visually-hidden" }, item.busyText))
        : null;
      const tab = h("button", {
        type: "button", role: "tab", id: `${prefix}-tab-${item.id}`, "aria-controls": `${prefix}-panel-${item.id}`,
        class: classes.tab, onclick: () => this.select(item.id),
      }, item.icon ? icon(item.icon) : null, h("span", {}, item.label), " ", count, busy);
      const panel = h("div", { role: "tabpanel", id: `${prefix}-panel-${item.id}`, "aria-labelledby": tab.id, class: classes.panel }, item.panel);
      return { id: item.id, tab, panel, count, busy };
    });
    this.list = h("div", { role: "tablist", class: classes.list, "aria-label": label }, this.items.map((item) => item.tab));
    this.list.addEventListener("keydown", (event) => this.keydown(event));
    this.panels = h("div", { class: classes.panels }, this.items.map((item) => item.panel));
    this.select(items[0].id);
  }

  /** Arrow keys move between the tabs (round the ends), Home and End to the first and last. */
  keydown(event) {
    const index = this.items.findIndex((item) => item.tab === document.activeElement);
    if (index < 0) return;
    const last = this.items.length - 1;
    const moves = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1, Home: 0, End: last };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = this.items[moves[event.key]];
    this.select(next.id);
    next.tab.focus();
  }

  select(id) {
    this.selected = id;
    for (const item of this.items) {
      const selected = item.id === id;
      item.tab.setAttribute("aria-selected", String(selected));
      item.tab.tabIndex = selected ? 0 : -1;
      item.panel.hidden = !selected;
    }
    this.onSelect(id);
  }

  /** The counter in a tab's label; "" hides it. */
  setCount(id, count, highlight = false) {
    const item = this.items.find((entry) => entry.id === id);
    item.count.textContent = String(count);
    item.count.classList.toggle("is-highlighted", highlight);
  }

  setBusy(id, busy) {
    const item = this.items.find((entry) => entry.id === id);
    item.busy.hidden = !busy;
  }
}
