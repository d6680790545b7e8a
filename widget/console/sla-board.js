// The dashboard's response-time targets (the dashboard's "sla", docs/bridge-protocol.md
// "Response-time targets"): breaches today per kind, group and agent, and the chats at risk
// now (a quarter of the target or less left) or already late: who serves each, its group, time left
// (counting down between the bridge's pushes).

import { h, replaceChildren } from "../shared/dom.js";
import { SLA, TIMING } from "./constants.js";

const KIND_NAMES = { first: "First response", reply: "Reply" };

/** "1:05 left" or "0:12 late". */
function left(seconds) {
  const whole = Math.abs(seconds);
  const text = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  return seconds < 0 ? `${text} late` : `${text} left`;
}

/** "ann 2, bob 1", by display name. */
function byWhom(counts, nameOf) {
  const entries = Object.entries(counts || {});
  return entries.length ? entries.map(([name, value]) => `${nameOf(name)} ${value}`).join(", ") : "none";
}

export class SlaBoard {
  constructor(openChat) {
    this.openChat = openChat;
    this.breaches = h("dl", { class: "sla-breaches" });
    this.atRisk = h("ul", { class: "sla-at-risk" });
    this.element = h("section", { class: "kpi-section sla-board", "aria-labelledby": "sla-title" },
      h("h2", { id: "sla-title", class: "section-title" }, "Response-time targets"),
      this.breaches,
      h("h3", { class: "section-subtitle" }, "At risk now"), this.atRisk);
    this.clocks = []; // each row's chip and when it is due, on this page's clock
    this.timer = setInterval(() => this.tick(), TIMING.tickMs);
  }

  tick(now = Date.now()) {
    for (const { chip, kind, dueAt } of this.clocks) {
      const seconds = Math.floor((dueAt - now) / 1000);
      chip.className = `chip sla-chip ${seconds < 0 ? "sla-breached" : "sla-at-risk"}`;
      chip.textContent = `${SLA.labels[kind]} ${left(seconds)}`;
    }
  }

  destroy() {
    clearInterval(this.timer);
  }

  /** ``sla`` of the dashboard; ``agents`` its team list (for display names). */
  render(sla, agents) {
    const names = new Map((agents || []).map((agent) => [agent.name, agent.display_name || agent.name]));
    const nameOf = (login) => names.get(login) || login;
    const breaches = (sla && sla.breaches) || {};
    replaceChildren(this.breaches, Object.keys(KIND_NAMES).map((kind) => {
      const entry = breaches[kind] || { count: 0 };
      return [h("dt", {}, `${KIND_NAMES[kind]} late today`),
        h("dd", { "data-kind": kind }, h("strong", { class: "sla-count" }, String(entry.count || 0)),
          entry.count ? ` · by group: ${byWhom(entry.by_group, (name) => name)} · by agent: ${byWhom(entry.by_agent, nameOf)}` : "")];
    }));
    const rows = (sla && sla.at_risk) || [];
    const now = Date.now();
    this.clocks = rows.map((row) => ({ chip: h("span", {}), kind: row.kind, dueAt: now + row.seconds_left * 1000 }));
    this.tick(now);
    replaceChildren(this.atRisk, rows.length
      ? rows.map((row, index) => h("li", { class: "sla-row", "data-conversation": row.conversation_id },
        this.clocks[index].chip,
        h("span", { class: "chip chip-group" }, row.group),
        h("span", {}, row.agent ? nameOf(row.agent) : "in the queue"),
        this.openChat ? h("button", { type: "button", class: "button small", onclick: () => this.openChat(row.conversation_id) }, "Open") : null))
      : h("li", { class: "muted" }, "Nobody is close to a target."));
  }
}
