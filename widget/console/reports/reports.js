// The supervisors' Reports view: the figures of a range of days from the archive (a "report" on
// /ws/supervisor; docs/bridge-protocol.md, "Reports"), drawn as charts (charts.js: inline SVG, each with
// its title and its numbers as a table beside it), and exported as CSV (csv.js).

import { h, replaceChildren } from "../../shared/dom.js";
import { PendingRequests } from "../../shared/requests.js";
import { Transport } from "../../shared/transport.js";
import { barList, columns, groupedColumns } from "../charts.js";
import { loginProtocols, reasonLabel, socketUrl } from "../constants.js";
import { View } from "../view.js";
import { csvFile } from "./csv.js";
import { reportTables } from "./tables.js";

export function createReportsView(context) {
  return new ReportsView(context);
}

const NONE = "—";
const numbers = new Intl.NumberFormat();
const shares = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

/** A table cell as people read it: rates as percentages, the rest as numbers; null is "—". */
function shown(header, value) {
  if (value === null || value === undefined) return NONE;
  if (typeof value !== "number") return String(value);
  return /rate$/.test(header) ? shares.format(value) : numbers.format(value);
}

/** YYYY-MM-DD of a local date. */
function isoDay(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

// The ranges offered with one click (the bridge refuses days after its today: "to" is never later).
const PRESETS = [
  { label: "Last 7 days", range: (today) => [new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6), today] },
  { label: "This month", range: (today) => [new Date(today.getFullYear(), today.getMonth(), 1), today] },
  { label: "Last month", range: (today) => [new Date(today.getFullYear(), today.getMonth() - 1, 1), new Date(today.getFullYear(), today.getMonth(), 0)] },
];

class ReportsView extends View {
  constructor({ session, watchConnection }) {
    super();
    this.report = null;
    this.asked = 0;  // the newest question's number: an older answer arriving late is not drawn over it
    this.transport = new Transport(socketUrl("/ws/supervisor"), { protocols: loginProtocols(session.token) });
    watchConnection(this.transport);
    this.waiting = new PendingRequests(this.transport);
    this.transport.on("envelope", (envelope) => this.receive(envelope));

    const today = new Date();
    this.from = h("input", { type: "date", id: "report-from", required: true, max: isoDay(today) });
    this.to = h("input", { type: "date", id: "report-to", required: true, max: isoDay(today) });
    this.setRange(...PRESETS[0].range(today));
    this.status = h("p", { class: "report-status", role: "status", "aria-live": "polite" }, "Reading the last 7 days…");
    this.exportButton = h("button", { type: "button", class: "button", disabled: true, onclick: () => this.exportCsv() }, "Export CSV");
    this.body = h("div", { class: "report-body" });
    const form = h("form", { class: "report-range", "aria-label": "Report range", onsubmit: (event) => { event.preventDefault(); this.ask(); } },
      h("div", { class: "report-field" }, h("label", { for: this.from.id }, "From"), this.from),
      h("div", { class: "report-field" }, h("label", { for: this.to.id }, "To"), this.to),
      h("button", { type: "submit", class: "button primary" }, "Show report"),
      PRESETS.map((preset) => h("button", { type: "button", class: "button small", onclick: () => { this.setRange(...preset.range(new Date())); this.ask(); } }, preset.label)),
      this.exportButton);
    this.element = h("section", { class: "view dashboard-view reports-view", "aria-labelledby": "reports-title", hidden: true },
      h("header", { class: "dashboard-head" }, h("div", {}, h("h1", { id: "reports-title" }, "Reports"), this.status)),
      form, this.body);
    // The view opens on the last 7 days: asked as soon as the supervisor's socket is ready.
    this.transport.on("state", ({ connected }) => { if (connected && this.asked === 0) this.ask(); });
    this.transport.connect();
  }

  /** Each time the view is opened its range is read again: today's figures grow while the console is open. */
  show() {
    super.show();
    if (this.asked > 0) this.ask();
  }

  setRange(first, last) {
    this.from.value = isoDay(first);
    this.to.value = isoDay(last);
  }

  receive(envelope) {
    if (envelope.type === "report") this.waiting.settle(envelope.id, envelope.data || {});
    else if (envelope.type === "error") this.waiting.refused(envelope);
  }

  async ask() {
    const asked = ++this.asked;
    this.status.textContent = "Reading the archive…";
    try {
      const report = await this.waiting.ask("report", { from: this.from.value, to: this.to.value });
      if (asked === this.asked) this.render(report);
    } catch (error) {
      if (asked === this.asked) this.status.textContent = `No report: ${(error && error.message) || "the bridge refused"}`;
    }
  }

  render(report) {
    this.report = report;
    this.exportButton.disabled = false;
    const days = report.days.length;
    const asOf = new Date().toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    this.status.textContent = `${report.from} to ${report.to} (${days} day${days === 1 ? "" : "s"}), dates in ${report.timezone}, as of ${asOf}`;
    const daily = report.days;
    // Each chart sits above the table of its numbers (the table is also what the CSV holds).
    const charts = {
      days: groupedColumns({
        title: "Conversations and handoffs by day",
        description: `Each day in ${report.timezone}`,
        categories: daily.map((day) => day.day.slice(5)),
        categoryNames: daily.map((day) => day.day),
        series: [
          { name: "Conversations", className: "series-conversations", values: daily.map((day) => day.conversations) },
          { name: "Handoffs", className: "series-handoffs", values: daily.map((day) => day.handoffs) },
        ],
        labelEvery: Math.max(1, Math.ceil(daily.length / 12)),
      }),
      reasons: barList({
        title: "Handoffs by reason",
        description: "Why the bot handed conversations to a person",
        rows: Object.entries(report.totals.handoffs_by_reason).map(([reason, value]) => ({ label: reasonLabel(reason), value })),
        unit: "Handoffs",
        empty: "No handoffs in these days.",
      }),
      ratings: columns({
        title: "Customer satisfaction",
        description: `${numbers.format(report.totals.csat.count)} ratings, from 1 (very poor) to 5 (great)`,
        rows: [1, 2, 3, 4, 5].map((score) => ({ label: String(score), name: String(score), value: report.totals.csat.distribution[score] || 0, className: `score-${score}` })),
        unit: "Ratings",
      }),
    };
    replaceChildren(this.body, reportTables(report).map((table) => this.table(table, charts[table.id] || null)));
  }

  /** A table as shown, under its chart when it has one; the last row of "By day" is the total. */
  table({ id, title, headers, rows }, chart) {
    const titleId = `report-${id}-title`;
    const lastIsTotal = id === "days";
    return h("section", { class: "kpi-section report-table", "aria-labelledby": titleId },
      h("h2", { id: titleId, class: "section-title" }, title),
      chart ? h("div", { class: "chart-slot report-chart" }, chart) : null,
      h("div", { class: "table-scroll" }, h("table", { class: "data-table", id: `report-${id}`, "aria-labelledby": titleId },
        h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
        h("tbody", {}, rows.length ? rows.map((row, index) => h("tr", { class: lastIsTotal && index === rows.length - 1 ? "report-total" : "" },
          h("th", { scope: "row" }, String(row[0])), row.slice(1).map((value, column) => h("td", {}, shown(headers[column + 1], value)))))
          : [h("tr", {}, h("td", { colspan: String(headers.length) }, "Nothing in these days."))]))));
  }

  exportCsv() {
    const report = this.report;
    if (!report) return;
    const text = csvFile(["Report", report.from, report.to, `dates in ${report.timezone}`], reportTables(report));
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    const link = h("a", { href: url, download: `report-${report.from}-to-${report.to}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  destroy() {
    this.waiting.dropAsked({ code: "offline", message: "The report was closed." });
    this.transport.close();
  }
}
