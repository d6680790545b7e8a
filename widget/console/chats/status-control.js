// The agent's own status in the console's header: available or away (offline
// follows from having no console open). Away, the agent keeps their chats and
// sees the queue, but gets no new work and customers are not promised their
// slots. The bridge tells every console of the agent when it changes.

import { h } from "../../shared/dom.js";
import { AGENT_STATUS_WORDS } from "../presence.js";

const HINTS = {
  available: "You take new chats; waiting customers count on you.",
  away: "You keep your chats but get no new ones; waiting customers are not promised your time.",
};

export class StatusControl {
  /**
   * @param {(status: string) => Promise<object>} choose sends the choice; resolves with the new status
   * @param {(failure: object) => void} refused tells the agent why it did not change
   */
  constructor(choose, refused) {
    this.choose = choose;
    this.refused = refused;
    this.current = null;
    this.select = h("select", { id: "agent-status", class: "agent-status-select", "aria-label": "Your status", disabled: true },
      h("option", { value: "available" }, AGENT_STATUS_WORDS.available),
      h("option", { value: "away" }, AGENT_STATUS_WORDS.away));
    this.dot = h("span", { class: "agent-status-dot", "aria-hidden": "true" });
    this.element = h("span", { class: "agent-status" }, this.dot, this.select);
    this.select.addEventListener("change", () => this.changed());
  }

  /** The bridge's word (agent_status): on connect, after a choice, from another tab. */
  update({ status }) {
    this.current = status === "away" ? "away" : "available";
    this.select.value = this.current;
    this.select.disabled = false;
    this.element.dataset.status = this.current;
    this.element.title = HINTS[this.current];
  }

  /** Available becomes away and back (the keyboard shortcut); nothing before the bridge has said which. */
  toggle() {
    if (!this.current || this.select.disabled) return;
    this.select.value = this.current === "away" ? "available" : "away";
    this.changed();
  }

  async changed() {
    const wanted = this.select.value;
    this.select.disabled = true;
    try {
      this.update(await this.choose(wanted));
    } catch (failure) {
      // Not changed: show what the bridge still has.
      if (this.current) this.update({ status: this.current });
      this.refused(failure);
    }
  }
}
