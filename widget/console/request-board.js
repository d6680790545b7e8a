// The supervisors' list of open callbacks and messages (the supervisor socket's
// "requests", docs/bridge-protocol.md "Requests assigned to an agent"): each
// open request with whom it is assigned to, and an agent of its group to give it
// to ("assign_request"). Agents offline may be chosen: a request waits for them.
// The bridge refuses an agent outside the request's group and says why here.

import { h, replaceChildren, timeElement } from "../shared/dom.js";
import { agentChoice, askToAssign } from "./assign-choice.js";

const KINDS = { callback: "Callback", message: "Message" };

/** Whether an agent (a dashboard team row, with its groups) takes a request of `group`. */
function takes(agent, group) {
  const groups = Array.isArray(agent.groups) ? agent.groups : [];
  return groups.includes("all") || groups.includes(group);
}

export class RequestBoard {
  constructor(waiting) {
    this.waiting = waiting; // the supervisor socket's pending requests
    this.items = [];
    this.agents = [];
    this.chosen = new Map(); // request -> the agent chosen for it: kept when the next push redraws the list
    this.error = h("p", { class: "inline-error", role: "alert", hidden: true });
    this.body = h("tbody", {});
    this.element = h("section", { class: "kpi-section request-board", "aria-labelledby": "request-board-title" },
      h("h2", { id: "request-board-title", class: "section-title" }, "Open callbacks and messages"),
      this.error,
      h("table", { class: "team-table", id: "request-board", "aria-labelledby": "request-board-title" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Request"), h("th", { scope: "col" }, "Group"), h("th", { scope: "col" }, "Left"),
          h("th", { scope: "col" }, "About"), h("th", { scope: "col" }, "Assigned to"),
          h("th", { scope: "col" }, "Assign to"))),
        this.body));
  }

  /** The requests of every group (the socket's `requests`); only the open ones are listed. */
  setItems(items) {
    this.items = items.filter((item) => item.state === "open");
    this.render();
  }

  /** The dashboard's team (who exists, their groups and display names). */
  setAgents(agents) {
    const before = JSON.stringify(this.agents.map((agent) => [agent.name, agent.display_name, agent.groups]));
    this.agents = agents;
    if (JSON.stringify(agents.map((agent) => [agent.name, agent.display_name, agent.groups])) !== before) this.render();
  }

  nameOf(login) {
    const agent = this.agents.find((each) => each.name === login);
    return agent ? agent.display_name : login;
  }

  render() {
    const listed = new Set(this.items.map((item) => item.id));
    for (const id of this.chosen.keys()) if (!listed.has(id)) this.chosen.delete(id);
    replaceChildren(this.body, this.items.length ? this.items.map((item) => this.row(item))
      : [h("tr", {}, h("td", { colspan: "6" }, "No open callbacks or messages."))]);
  }

  row(item) {
    const candidates = this.agents.filter((agent) => takes(agent, item.group) && agent.name !== item.assigned_to);
    const choice = agentChoice({
      label: `Agent for the ${(KINDS[item.kind] || "request").toLowerCase()} from ${item.contact}`, rowId: item.id,
      agents: candidates, chosen: this.chosen,
      optionText: (agent) => `${agent.display_name}${agent.status === "offline" ? " (offline)" : ""}`,
    });
    const ts = Number(item.ts);
    return h("tr", { "data-request": item.id },
      h("th", { scope: "row" }, `${KINDS[item.kind] || item.kind} · `, item.contact),
      h("td", {}, item.group),
      h("td", {}, Number.isFinite(ts) ? timeElement(ts) : ""),
      h("td", { class: "request-about" }, item.summary || item.description || "—"),
      h("td", { class: "request-assigned-to" }, item.assigned_to ? this.nameOf(item.assigned_to) : "Nobody yet"),
      h("td", {}, choice, h("button", { type: "button", class: "button small", onclick: () => this.assign(item.id, choice.value) },
        item.assigned_to ? "Reassign" : "Assign")));
  }

  async assign(requestId, agent) {
    if (await askToAssign(this.waiting, this.error, "assign_request", { request_id: requestId, agent })) this.chosen.delete(requestId);
  }
}
