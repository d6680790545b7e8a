// A report's tables (docs/bridge-protocol.md, "Reports"): the one list of columns the Reports view shows
// and the CSV export writes, so the file says what the screen says. Values stay raw (numbers, text,
// null for "no sample"); the view formats them, the CSV writes them as they are.

import { reasonLabel } from "../constants.js";

const DAY_COLUMNS = [
  ["Conversations", (f) => f.conversations],
  ["Contained", (f) => f.contained],
  ["Containment rate", (f) => f.containment_rate],
  ["Handoffs", (f) => f.handoffs],
  ["Served", (f) => f.wait.count],
  ["Median wait (s)", (f) => f.wait.median_seconds],
  ["90th percentile wait (s)", (f) => f.wait.p90_seconds],
  ["Abandoned", (f) => f.abandoned.count],
  ["Abandonment rate", (f) => f.abandoned.rate],
  ["Median first response (s)", (f) => f.first_response.median_seconds],
  ["Median handling (s)", (f) => f.handling.median_seconds],
  ["SLA breaches, first response", (f) => f.sla_breaches.first],
  ["SLA breaches, reply", (f) => f.sla_breaches.reply],
  ["Ratings", (f) => f.csat.count],
  ["CSAT average", (f) => f.csat.average],
];

/** [{id, title, headers, rows}] for a report; the first cell of each row names it. */
export function reportTables(report) {
  const totals = report.totals;
  return [
    {
      id: "days", title: "By day",
      headers: ["Day", ...DAY_COLUMNS.map(([name]) => name)],
      rows: [...report.days.map((day) => [day.day, ...DAY_COLUMNS.map(([, value]) => value(day))]),
        ["Total", ...DAY_COLUMNS.map(([, value]) => value(totals))]],
    },
    {
      // As people read the reason, with the bridge's code beside it for whoever filters the CSV.
      id: "reasons", title: "Handoffs by reason",
      headers: ["Reason", "Code", "Handoffs"],
      rows: Object.entries(totals.handoffs_by_reason).map(([reason, handoffs]) => [reasonLabel(reason), reason, handoffs]),
    },
    {
      id: "ratings", title: "Ratings by score",
      headers: ["Score", "Ratings"],
      rows: ["1", "2", "3", "4", "5"].map((score) => [score, totals.csat.distribution[score] || 0]),
    },
    {
      id: "groups", title: "By skill group",
      headers: ["Skill group", "Handoffs", "Served", "Median wait (s)", "90th percentile wait (s)", "Abandoned",
        "Abandonment rate", "SLA breaches, first response", "SLA breaches, reply"],
      rows: report.groups.map((group) => [group.group, group.handoffs, group.served, group.wait.median_seconds,
        group.wait.p90_seconds, group.abandoned.count, group.abandoned.rate, group.sla_breaches.first,
        group.sla_breaches.reply]),
    },
    {
      id: "agents", title: "By agent",
      headers: ["Agent", "Name", "Taken", "Closed", "Median first response (s)", "Median handling (s)", "Ratings",
        "CSAT average", "SLA breaches, first response", "SLA breaches, reply"],
      rows: report.agents.map((agent) => [agent.name, agent.display_name, agent.taken, agent.closed, agent.first_response.median_seconds,
        agent.handling.median_seconds, agent.csat.count, agent.csat.average, agent.sla_breaches.first,
        agent.sla_breaches.reply]),
    },
  ];
}
