// The supervisors' view: today's numbers and charts, pushed live by the
// bridge on /ws/supervisor (docs/bridge-protocol.md, "Supervisors").

import { h, replaceChildren } from "../shared/dom.js";
import { AgentFigures, WaitingList } from "./agent-view.js";
import { AssignmentModes } from "./assignment-modes.js";
import { PendingRequests } from "../shared/requests.js";
import { RequestBoard } from "./request-board.js";
import { SlaBoard } from "./sla-board.js";
import { Transport } from "../shared/transport.js";
import { barList, columns, groupedColumns } from "./charts.js";
import { loginProtocols, reasonLabel, socketUrl } from "./constants.js";
import { TeamStatus } from "./team-status.js";
import { View } from "./view.js";
import { dispositionLabel } from "./workspace/closing-dialog.js";
import { WorkspaceManager } from "./workspace/manager.js";

export function createDashboardView(context) {
  return new DashboardView(context);
}

const NONE = "—";
const numbers = new Intl.NumberFormat();
const shares = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const averages = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 2 });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

const count = (value) => (value === null || value === undefined ? NONE : numbers.format(value));
const share = (value) => (value === null || value === undefined ? NONE : shares.format(value));

/** "0.4 s", "48 s", "4 min 20 s", "1 h 05 min"; null is "—". */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return NONE;
  if (seconds < 10) return `${Number(seconds.toFixed(1))} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")} min`;
}

// Each tile: its label, its value and a line of context, from one dashboard payload.
const NOW_TILES = [
  { label: "Queue now", value: (d) => count(d.now.queue_length), note: () => "waiting for a person" },
  { label: "Oldest wait", value: (d) => (d.now.queue_length ? duration(d.now.oldest_wait_seconds) : NONE), note: (d) => (d.now.queue_length ? "longest wait in the queue" : "nobody is waiting") },
  { label: "Waiting so far", value: (d) => duration(d.waiting && d.waiting.median_seconds), note: (d) => (d.waiting && d.waiting.count ? `median of the ${count(d.waiting.count)} in the queue` : "nobody is waiting") },
  { label: "Agents online", value: (d) => count(d.now.agents_online), note: () => "connected to the console" },
  { label: "Agents available", value: (d) => count(d.now.agents_available), note: () => "online and not away: take new chats" },
  { label: "Chats with agents", value: (d) => count(d.now.conversations_with_agents), note: () => "being served right now" },
];

const TODAY_TILES = [
  { label: "Conversations today", value: (d) => count(d.conversations), note: (d) => `${count(d.contained)} handled by the bot alone` },
  { label: "Containment rate", value: (d) => share(d.containment_rate), note: () => "never handed to a person" },
  { label: "Handoffs", value: (d) => count(d.handoffs), note: handoffsNote, title: (d) => d.handoffs_note },
  { label: "Median wait", value: (d) => duration(d.wait.median_seconds), note: (d) => `${count(d.wait.count)} claimed from the queue` },
  { label: "90th percentile wait", value: (d) => duration(d.wait.p90_seconds), note: () => "9 in 10 served waited less" },
  { label: "Customer wait (90%)", value: (d) => duration(d.customer_wait && d.customer_wait.p90_seconds), note: () => "served, gave up, or still waiting" },
  { label: "Abandoned", value: (d) => share(d.abandoned && d.abandoned.rate), note: abandonedNote },
  { label: "Refused", value: (d) => count(d.refused && d.refused.count), note: refusedNote },
  { label: "First response", value: (d) => duration(d.first_response && d.first_response.median_seconds), note: firstResponseNote },
  { label: "CSAT average", value: (d) => (d.csat.average === null ? NONE : averages.format(d.csat.average)), note: () => "out of 5" },
  { label: "Satisfied", value: (d) => share(d.csat.satisfied_rate), note: () => "rated 4 or 5" },
  { label: "Ratings", value: (d) => count(d.csat.count), note: () => "customers who rated a chat" },
];

/** "12 handoffs in 10 conversations" when some conversation was handed over more than once. */
function handoffsNote(d) {
  if (d.handoffs_note) return `${count(d.handoffs)} handoffs in ${count(d.handed_over)} conversation${d.handed_over === 1 ? "" : "s"}`;
  return topReason(d.handoffs_by_reason);
}

function abandonedNote(d) {
  const abandoned = d.abandoned || {};
  if (!abandoned.count) return "nobody left the queue unserved";
  return `${count(abandoned.count)} left before being served, after ${duration(abandoned.median_seconds)} (median)`;
}

/** Handoffs the queue's caps turned away (full, or too many from one address): offered a callback instead. */
function refusedNote(d) {
  return d.refused && d.refused.count ? "queue full or limits: offered a callback or a message" : "nobody turned away";
}

function firstResponseNote(d) {
  const first = d.first_response || {};
  return first.count ? `claim to first reply; 9 in 10 within ${duration(first.p90_seconds)}` : "claim to the agent's first reply";
}

function topReason(byReason) {
  const [first] = Object.entries(byReason || {});
  return first ? `most often: ${reasonLabel(first[0]).toLowerCase()}` : "none yet";
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

class Tile {
  constructor(spec) {
    this.spec = spec;
    const labelId = `kpi-${slug(spec.label)}`;
    this.value = h("p", { class: "kpi-value" }, NONE);
    this.note = h("p", { class: "kpi-note" });
    this.element = h("div", { class: "kpi", role: "group", "aria-labelledby": labelId },
      h("p", { class: "kpi-label", id: labelId }, spec.label), this.value, this.note);
    this.value.addEventListener("animationend", () => this.value.classList.remove("is-updated"));
  }

  render(data, firstTime) {
    const value = this.spec.value(data);
    if (!firstTime && value !== this.value.textContent) this.value.classList.add("is-updated");
    this.value.textContent = value;
    this.note.textContent = this.spec.note(data);
    if (this.spec.title) this.note.title = this.spec.title(data) || ""; // the whole story, on hover
  }
}

const CSAT_NAMES = { 1: "1 (very poor)", 2: "2 (poor)", 3: "3 (okay)", 4: "4 (good)", 5: "5 (great)" };

class DashboardView extends View {
  constructor({ session, watchConnection, openChat }) {
    super();
    this.rendered = false;
    this.transport = new Transport(socketUrl("/ws/supervisor"), { protocols: loginProtocols(session.token) });
    watchConnection(this.transport);
    this.waiting = new PendingRequests(this.transport);
    this.manager = new WorkspaceManager(this.waiting);
    this.transport.on("envelope", (envelope) => this.receive(envelope));

    this.nowTiles = NOW_TILES.map((spec) => new Tile(spec));
    this.todayTiles = TODAY_TILES.map((spec) => new Tile(spec));
    this.day = h("p", { class: "dashboard-day" }, "Waiting for the first figures…");
    this.updated = h("p", { class: "dashboard-updated" });
    this.reasons = h("div", { class: "chart-slot" });
    this.satisfaction = h("div", { class: "chart-slot" });
    this.hourly = h("div", { class: "chart-slot wide" });
    this.labelCounts = h("div", { class: "chart-slot" });
    this.dispositionCounts = h("div", { class: "chart-slot" });
    this.team = new TeamStatus(openChat); // who is available, away or offline, since when, and their chats
    this.assignment = new AssignmentModes(this.waiting); // each group: claimed by hand or offered automatically
    this.waitingList = new WaitingList(this.waiting); // who waits now; a supervisor assigns one to an agent
    this.agentFigures = new AgentFigures(); // each agent's chats, response and handling times, CSAT, SLA breaches today
    this.requestBoard = new RequestBoard(this.waiting); // open callbacks and messages, given to an agent
    this.sla = new SlaBoard(openChat); // response-time breaches today, chats at risk now
    this.element = h("section", { class: "view dashboard-view", "aria-labelledby": "dashboard-title", hidden: true },
      h("header", { class: "dashboard-head" },
        h("div", {}, h("h1", { id: "dashboard-title" }, "Dashboard"), this.day),
        h("div", { class: "dashboard-refresh" },
          h("span", { class: "live-dot", "aria-hidden": "true" }), this.updated,
          h("button", { type: "button", class: "button small", onclick: () => this.transport.sendNow("dashboard", {}) }, "Refresh"))),
      h("section", { class: "kpi-section", "aria-labelledby": "kpi-now-title" },
        h("h2", { id: "kpi-now-title", class: "section-title" }, "Right now"),
        h("div", { class: "kpi-grid now" }, this.nowTiles.map((tile) => tile.element))),
      this.team.element,
      this.waitingList.element,
      this.requestBoard.element,
      this.assignment.element,
      this.agentFigures.element,
      this.sla.element,
      h("section", { class: "kpi-section", "aria-labelledby": "kpi-today-title" },
        h("h2", { id: "kpi-today-title", class: "section-title" }, "Today"),
        h("div", { class: "kpi-grid" }, this.todayTiles.map((tile) => tile.element))),
      h("div", { class: "chart-grid" }, this.reasons, this.satisfaction, this.labelCounts, this.dispositionCounts, this.hourly),
      this.manager.element);
    this.transport.connect();
  }

  receive(envelope) {
    const data = envelope.data || {};
    if (envelope.type === "dashboard") this.render(data);
    else if (envelope.type === "labels") this.manager.setLabels(data.items || []);
    else if (envelope.type === "canned") this.manager.setCanned(data.items || []);
    else if (envelope.type === "requests") this.requestBoard.setItems(Array.isArray(data.items) ? data.items : []);
    else if (["ack", "search_results", "search_conversation"].includes(envelope.type)) this.waiting.settle(envelope.id, data);
    else if (envelope.type === "error") this.waiting.refused(envelope);
  }

  render(data) {
    const firstTime = !this.rendered;
    this.rendered = true;
    for (const tile of [...this.nowTiles, ...this.todayTiles]) tile.render(data, firstTime);
    this.team.render(Array.isArray(data.agents) ? data.agents : []);
    this.assignment.render(data.assignment);
    this.waitingList.render(Array.isArray(data.waiting_list) ? data.waiting_list : [], Array.isArray(data.agents) ? data.agents : []);
    this.agentFigures.render(Array.isArray(data.per_agent) ? data.per_agent : []);
    this.requestBoard.setAgents(Array.isArray(data.agents) ? data.agents : []);
    this.sla.render(data.sla, data.agents);
    const [year, month, day] = String(data.day || "").split("-").map(Number);
    this.day.textContent = year ? dayFormat.format(new Date(year, month - 1, day)) : "";
    this.updated.textContent = `Updated ${clock.format(new Date())}`;

    const reasons = Object.entries(data.handoffs_by_reason || {});
    replaceChildren(this.reasons, barList({
      title: "Handoffs by reason",
      description: "Why the bot handed conversations to a person today",
      rows: reasons.map(([reason, value]) => ({ label: reasonLabel(reason), value })),
      unit: "Handoffs",
      empty: "No handoffs yet today.",
    }));

    const distribution = (data.csat && data.csat.distribution) || {};
    replaceChildren(this.satisfaction, columns({
      title: "Customer satisfaction",
      description: data.csat && data.csat.count ? `${count(data.csat.count)} rating${data.csat.count === 1 ? "" : "s"} today, from 1 (very poor) to 5 (great)` : "No ratings yet today",
      rows: [1, 2, 3, 4, 5].map((score) => ({ label: String(score), name: CSAT_NAMES[score], value: distribution[score] || 0, className: `score-${score}` })),
      unit: "Ratings",
    }));

    replaceChildren(this.labelCounts, barList({
      title: "Labels",
      description: "Conversations given each label today",
      rows: (data.labels || []).map((label) => ({ label: label.name, value: label.count })),
      unit: "Conversations",
      empty: "No labels set up yet.",
    }));
    replaceChildren(this.dispositionCounts, barList({
      title: "Closed as",
      description: "What agents said became of the chats they closed today",
      rows: Object.entries(data.dispositions || {}).map(([disposition, value]) => ({ label: dispositionLabel(disposition), value })),
      unit: "Chats",
      empty: "No dispositions configured.",
    }));

    const hourly = Array.isArray(data.hourly) ? data.hourly : [];
    const hours = hourly.map((entry) => String(entry.hour).padStart(2, "0"));
    replaceChildren(this.hourly, groupedColumns({
      title: "Conversations and handoffs by hour",
      description: "Today, in the bridge's time zone",
      categories: hours,
      categoryNames: hours.map((hour, index) => `${hour}:00–${String((hourly[index].hour + 1) % 24).padStart(2, "0")}:00`),
      series: [
        { name: "Conversations", className: "series-conversations", values: hourly.map((entry) => entry.conversations) },
        { name: "Handoffs", className: "series-handoffs", values: hourly.map((entry) => entry.handoffs) },
      ],
      labelEvery: 3,
    }));
  }

  destroy() {
    this.team.destroy();
    this.waitingList.destroy();
    this.sla.destroy();
    this.transport.close();
  }
}
