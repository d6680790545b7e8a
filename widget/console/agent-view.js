// The dashboard's per-agent view and the conversations waiting now (the
// dashboard's "per_agent" and "waiting_list", docs/bridge-protocol.md
// "Per-agent view and assigning"): each agent's chats taken and closed today,
// their median first response and handling time, their customers' ratings, their
// late answers (response-time targets missed);
// and every waiting customer, which a supervisor may hand to an available
// agent ("assign"). The bridge refuses an agent who is offline, away or at
// their limit, and says why here.

import { h, replaceChildren } from "../shared/dom.js";
import { agentChoice, askToAssign } from "./assign-choice.js";
import { TIMING, humanize, reasonLabel } from "./constants.js";

const NONE = "—";

/** "48 s", "4 min 20 s"; null is "—". */
function seconds(value) {
  if (value === null || value === undefined) return NONE;
  const whole = Math.round(value);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** Today's late answers: the total, then "first reply 1 · reply 2" for those there were ("0" when none). */
function breachesCell(breaches) {
  const first = (breaches && breaches.first) || 0;
  const reply = (breaches && breaches.reply) || 0;
  const kinds = [first ? `first reply ${first}` : "", reply ? `reply ${reply}` : ""].filter(Boolean).join(" · ");
  return h("td", { class: `agent-sla${first + reply ? " has-breaches" : ""}`, dataset: { count: String(first + reply) } },
    h("span", { class: "agent-sla-count" }, String(first + reply)),
    kinds ? h("span", { class: "team-login" }, ` (${kinds})`) : null);
}

export class AgentFigures {
  constructor() {
    this.body = h("tbody", {});
    this.element = h("section", { class: "kpi-section agent-figures", "aria-labelledby": "agent-figures-title" },
      h("h2", { id: "agent-figures-title", class: "section-title" }, "Agents today"),
      h("table", { class: "team-table", id: "agent-figures", "aria-labelledby": "agent-figures-title" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Agent"), h("th", { scope: "col" }, "Taken"), h("th", { scope: "col" }, "Closed"),
          h("th", { scope: "col" }, "First response (median)"), h("th", { scope: "col" }, "Handling (median)"),
          h("th", { scope: "col" }, "CSAT"), h("th", { scope: "col" }, "SLA breaches"))),
        this.body));
  }

  render(rows) {
    replaceChildren(this.body, rows.length ? rows.map((row) => h("tr", { "data-agent": row.name },
      h("th", { scope: "row" }, h("span", { class: "team-name" }, row.display_name),
        h("span", { class: "team-login" }, row.name)),
      h("td", { class: "agent-taken" }, String(row.taken)),
      h("td", { class: "agent-closed" }, String(row.closed)),
      h("td", { class: "agent-first-response" }, seconds(row.first_response.median_seconds)),
      h("td", { class: "agent-handling" }, seconds(row.handling.median_seconds)),
      h("td", { class: "agent-csat" }, row.csat.count
        ? `${row.csat.average.toFixed(1)} (${row.csat.count} rating${row.csat.count === 1 ? "" : "s"})` : NONE),
      breachesCell(row.sla_breaches)))
      : [h("tr", {}, h("td", { colspan: "7" }, "No agents yet."))]);
  }
}

export class WaitingList {
  constructor(waiting) {
    this.waiting = waiting; // the supervisor socket's pending requests
    this.chosen = new Map(); // conversation -> the agent chosen for it: kept when the next push redraws the list
    this.waits = []; // [cell, when the wait began]: the waits count on between the bridge's pushes
    this.error = h("p", { class: "inline-error", role: "alert", hidden: true });
    this.body = h("tbody", {});
    this.element = h("section", { class: "kpi-section waiting-list", "aria-labelledby": "waiting-list-title" },
      h("h2", { id: "waiting-list-title", class: "section-title" }, "Waiting now"),
      this.error,
      h("table", { class: "team-table", id: "waiting-list", "aria-labelledby": "waiting-list-title" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Conversation"), h("th", { scope: "col" }, "Group"),
          h("th", { scope: "col" }, "Waiting"), h("th", { scope: "col" }, "Reason / topic"),
          h("th", { scope: "col" }, "Assign to"))),
        this.body));
    this.timer = setInterval(() => this.tick(), TIMING.tickMs);
  }

  destroy() {
    clearInterval(this.timer);
  }

  /** ``items``: the dashboard's waiting list; ``agents``: its team list (who is available now). */
  render(items, agents) {
    const available = agents.filter((agent) => agent.status === "available" && agent.connected !== false);
    // Agents as people know them (their display name), never the login.
    const nameOf = (login) => (agents.find((agent) => agent.name === login) || { display_name: login }).display_name;
    const listed = new Set(items.map((item) => item.conversation_id));
    for (const id of this.chosen.keys()) if (!listed.has(id)) this.chosen.delete(id);
    const now = Date.now();
    this.waits = [];
    replaceChildren(this.body, items.length ? items.map((item) => {
      const short = item.conversation_id.slice(0, 6);
      const choice = agentChoice({ label: `Agent for #${short}`, rowId: item.conversation_id, agents: available,
        chosen: this.chosen, optionText: (agent) => agent.display_name });
      return h("tr", { "data-conversation": item.conversation_id },
        // A signed-in customer by the name their site signed (whom a supervisor is assigning), else the chat's id.
        h("th", { scope: "row" }, item.customer_name ? h("bdi", {}, item.customer_name) : null,
          item.customer_name ? " " : null, h("span", { class: "team-login" }, `#${short}`)),
        h("td", {}, item.group),
        this.waitCell(now - item.waiting_seconds * 1000, now),
        h("td", {}, [item.reason ? reasonLabel(item.reason) : null, humanize(item.topic)].filter(Boolean).join(" · ") || NONE,
          item.offered_to ? h("span", { class: "team-login" }, ` offered to ${nameOf(item.offered_to)}`) : null),
        h("td", {}, choice, h("button", {
          type: "button", class: "button small", onclick: () => this.assign(item.conversation_id, choice.value),
        }, "Assign")));
    }) : [h("tr", {}, h("td", { colspan: "5" }, "Nobody is waiting."))]);
  }

  waitCell(began, now) {
    const cell = h("td", { class: "waiting-for" }, seconds((now - began) / 1000));
    this.waits.push([cell, began]);
    return cell;
  }

  tick(now = Date.now()) {
    for (const [cell, began] of this.waits) cell.textContent = seconds((now - began) / 1000);
  }

  async assign(conversationId, agent) {
    await askToAssign(this.waiting, this.error, "assign", { conversation_id: conversationId, agent });
  }
}
