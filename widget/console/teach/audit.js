// The Teach view's audit trail: who labelled, trained, deployed and rolled
// back what, and when, each entry as a sentence; a label can be undone here.

import { h, replaceChildren } from "../../shared/dom.js";
import { AUDIT_ACTIONS, VERDICTS, humanize } from "../constants.js";
import { undoButton, undoneLabels } from "./changes.js";
import { NONE, button, isNumber, plural, when } from "./shared.js";

function quoted(text, limit = 140) {
  const value = String(text);
  return `“${value.length > limit ? `${value.slice(0, limit - 1)}…` : value}”`;
}

/** An audit entry's detail as a sentence (the raw values only for actions this page does not know). */
function auditDetail(action, detail) {
  const d = detail && typeof detail === "object" ? detail : {};
  const items = Array.isArray(d.items) ? d.items.length : null;
  const messages = items === null ? "" : plural(items, "message");
  switch (action) {
    case "label": {
      const target = d.new === "faq" ? `new FAQ topic ${d.intent}${d.category ? ` (${d.category})` : ""}`
        : d.new === "intent" ? `new intent ${d.intent}` : String(d.intent || "");
      const added = isNumber(d.added) ? `; ${plural(d.added, "example")} added` : "";
      const answer = d.answer ? `; answer ${quoted(d.answer)}` : "";
      return `${messages} → ${target}${added}${answer}`;
    }
    case "out_of_scope":
      return `${messages} → out of scope`;
    case "skipped":
      return messages;
    case "train":
      return d.deploy ? "Train and deploy unless worse" : "Train only";
    case "trained":
      return `Model ${d.model_id}: ${(VERDICTS[d.verdict] || {}).label || humanize(d.verdict)}${d.base ? `, compared with ${d.base}` : ""}`;
    case "train_failed":
      return String(d.error || "");
    case "undo_label": {
      const removed = isNumber(d.removed) ? `${plural(d.removed, "example")} taken out` : "";
      return `Label by ${d.label_by || NONE} (${d.intent || "no intent"}) undone: ${[removed, d.topic_removed ? "the topic removed" : "", messages ? `${messages} back in the inbox` : ""].filter(Boolean).join(", ")}`;
    }
    case "deploy": {
      const regressed = Array.isArray(d.regressed_topics) && d.regressed_topics.length ? `; topics worse: ${d.regressed_topics.join(", ")}` : "";
      if (d.override) return `Model ${d.model_id} — worse, deployed with an override${d.reason ? `: ${quoted(d.reason)}` : ""}${regressed}`;
      const job = /^job (\S+)$/.exec(String(d.reason || ""));
      if (job) return `Model ${d.model_id}, right after training (job ${job[1]})`;
      return `Model ${d.model_id}${d.reason ? `: ${quoted(d.reason)}` : ""}`;
    }
    case "rollback":
      return `From ${d.from_model} back to ${d.to_model}`;
    default:
      return Object.entries(d).map(([key, value]) => `${humanize(key)}: ${typeof value === "object" ? JSON.stringify(value) : value}`).join("; ");
  }
}

export class AuditPanel {
  constructor(view) {
    this.view = view;
    this.tbody = h("tbody", {});
    this.empty = h("p", { class: "muted empty-row", hidden: true }, "Nothing has been done yet.");
    this.refresh = button("Refresh", { class: "button small", onclick: () => this.reload() });
    this.element = h("div", { class: "audit-panel scroll-panel" },
      h("div", { class: "panel-head" },
        h("div", {}, h("h2", {}, "Audit trail"), h("p", { class: "panel-summary" }, "Who labelled, trained, deployed and rolled back what, and when. Newest first; the last 100. A label can be undone here.")),
        h("div", { class: "panel-head-actions" }, this.refresh)),
      h("div", { class: "card table-card" },
        h("div", { class: "table-scroll" },
          h("table", { class: "data-table audit-table" },
            h("caption", { class: "visually-hidden" }, "Audit trail, newest first"),
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Details"))),
            this.tbody)),
        this.empty));
  }

  update(entries) {
    const undone = undoneLabels(entries);
    replaceChildren(this.tbody, entries.map((entry) => h("tr", { class: `audit-${entry.action}` },
      h("td", { class: "nowrap" }, when(entry.time)),
      h("td", {}, String(entry.who || NONE)),
      h("td", { class: "nowrap" }, AUDIT_ACTIONS[entry.action] || humanize(entry.action)),
      h("td", { class: "audit-detail" }, auditDetail(entry.action, entry.detail), " ", undoButton(this.view, entry, undone)))));
    this.empty.hidden = entries.length > 0;
  }

  async reload() {
    this.refresh.disabled = true;
    try {
      await this.view.request("audit", {});
    } catch {
      // The connection banner says why; the table keeps what it had.
    } finally {
      this.refresh.disabled = false;
    }
  }
}
