// The dashboard's control of how each skill group's chats reach agents (the
// dashboard's "assignment", docs/bridge-protocol.md "Automatic assignment"):
// claimed from the queue by hand, or offered automatically to the least busy
// available agent. A supervisor's change is stored for every bridge process and
// comes back with the next dashboard.

import { h, replaceChildren } from "../shared/dom.js";
import { describeError } from "./constants.js";

const MODES = [
  { mode: "manual", label: "Agents claim" },
  { mode: "automatic", label: "Automatic" },
];

export class AssignmentModes {
  constructor(waiting) {
    this.waiting = waiting;
    this.summary = h("p", { class: "team-summary" });
    this.error = h("p", { class: "inline-error", role: "alert", hidden: true });
    this.list = h("ul", { class: "assignment-list" });
    this.element = h("section", { class: "kpi-section assignment-modes", "aria-labelledby": "assignment-title" },
      h("h2", { id: "assignment-title", class: "section-title" }, "Assigning chats"),
      this.summary, this.error, this.list);
  }

  /** The groups and their modes, and how many offers are open now. */
  render(assignment) {
    const modes = (assignment && assignment.modes) || {};
    const offers = (assignment && assignment.offers) || 0;
    this.summary.textContent = `Per skill group: agents claim from the queue, or each chat is offered to the least busy available agent. ${offers} offer${offers === 1 ? "" : "s"} open now.`;
    replaceChildren(this.list, Object.entries(modes).map(([group, current]) => {
      const name = `assignment-${group}`;
      return h("li", { class: "assignment-row", "data-group": group },
        h("span", { class: "assignment-group", id: `${name}-label` }, group),
        h("div", { class: "assign-choices", role: "radiogroup", "aria-labelledby": `${name}-label` },
          MODES.map(({ mode, label }) => h("label", { class: "assign-choice" },
            h("input", { type: "radio", name, value: mode, checked: mode === current,
              onchange: () => this.choose(group, mode) }),
            h("span", {}, label)))));
    }));
  }

  async choose(group, mode) {
    this.error.hidden = true;
    try {
      await this.waiting.send("assignment_mode", { group, mode });
    } catch (failure) {
      this.error.textContent = describeError(failure);
      this.error.hidden = false;
    }
  }
}
