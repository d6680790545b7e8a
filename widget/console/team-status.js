// The dashboard's team list: every agent, available, away or offline, since
// when, and the chats they serve now (the dashboard's "agents",
// docs/bridge-protocol.md), each one a supervisor may open read-only in the
// Chats view (`openChat`, when the account has it). The times count on
// between the bridge's pushes.

import { h, replaceChildren } from "../shared/dom.js";
import { TIMING } from "./constants.js";
import { AGENT_STATUS_WORDS, beganAt, lasted } from "./presence.js";

const ORDER = { available: 0, away: 1, offline: 2 };

export class TeamStatus {
  constructor(openChat = null) {
    this.openChat = openChat;
    this.rows = [];
    this.summary = h("p", { class: "team-summary" });
    this.body = h("tbody", {});
    this.element = h("section", { class: "kpi-section team-status", "aria-labelledby": "team-status-title" },
      h("h2", { id: "team-status-title", class: "section-title" }, "Team"),
      this.summary,
      h("table", { class: "team-table", id: "team-status", "aria-labelledby": "team-status-title" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Agent"), h("th", { scope: "col" }, "Status"),
          h("th", { scope: "col" }, "For"), h("th", { scope: "col" }, "Chats now"))),
        this.body));
    this.timer = setInterval(() => this.tick(), TIMING.tickMs);
  }

  /** The bridge's list: each agent's status and how long so far. */
  render(agents) {
    const now = Date.now();
    this.rows = agents
      .map((agent) => ({ ...agent, began: beganAt(agent.seconds, now) }))
      .sort((a, b) => (ORDER[a.status] ?? 3) - (ORDER[b.status] ?? 3) || a.display_name.localeCompare(b.display_name));
    // "Available" as the "Agents available" figure counts it: a console connected and not away; one whose
    // console closed stays available for the grace period, counted apart.
    const counts = { available: 0, away: 0, offline: 0, closed: 0 };
    for (const agent of this.rows) {
      if (agent.status === "available" && !agent.connected) counts.closed += 1;
      else if (agent.status in counts) counts[agent.status] += 1;
    }
    this.summary.textContent = `${counts.available} available, ${counts.away} away, ${counts.offline} offline`
      + (counts.closed ? `, ${counts.closed} available with the console closed` : "");
    replaceChildren(this.body, this.rows.map((agent) => {
      const since = h("td", { class: "team-since" });
      const row = h("tr", { "data-agent": agent.name, "data-status": agent.status },
        h("th", { scope: "row" }, h("span", { class: "team-name" }, agent.display_name),
          h("span", { class: "team-login" }, agent.name)),
        h("td", {}, h("span", { class: `chip agent-status-chip status-${agent.status}` },
          AGENT_STATUS_WORDS[agent.status] || agent.status,
          agent.status !== "offline" && !agent.connected ? " (console closed)" : "")),
        since,
        h("td", { class: "team-chats" }, String(agent.serving), this.chatLinks(agent)));
      agent.sinceCell = since;
      return row;
    }));
    this.tick(now);
  }

  /** "Open" for each chat the agent serves (read-only, in the Chats view). */
  chatLinks(agent) {
    const chats = Array.isArray(agent.chats) ? agent.chats : [];
    if (!this.openChat || !chats.length) return null;
    return h("ul", { class: "team-chat-links", "aria-label": `Chats ${agent.display_name} serves` },
      chats.map((id) => h("li", {}, h("button", {
        type: "button", class: "button small", onclick: () => this.openChat(id),
        "aria-label": `Open ${agent.display_name}'s chat #${id.slice(0, 6)} read-only`,
      }, `Open #${id.slice(0, 6)}`))));
  }

  tick(now = Date.now()) {
    for (const agent of this.rows) {
      agent.sinceCell.textContent = agent.began === null ? "—" : lasted(agent.began, now);
    }
  }

  destroy() {
    clearInterval(this.timer);
  }
}
