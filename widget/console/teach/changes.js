// Parts of a training report that say what to act on: the topics that got
// markedly worse (which block a deploy unless overridden), and what changed
// since the live model (labels added or undone, with who; examples per topic;
// new topics; answers). Also the audit trail's "Undo" for a label.
// Everything from the server is text: rendered with h(), never as HTML.

import { h } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { describeTeachError } from "../constants.js";
import { confirmDialog } from "../dialogs.js";
import { NONE, button, intentName, isNumber, plural, when } from "./shared.js";

const list = (value) => (Array.isArray(value) ? value : []);

/** The report's regressed topics: one row each, or null when none regressed. */
export function renderRegressions(report, idPrefix) {
  const rows = list(report && report.regressions);
  if (!rows.length) return null;
  return h("section", { class: "report-section regressions", "aria-labelledby": `${idPrefix}-regressions` },
    h("h4", { id: `${idPrefix}-regressions` }, icon("info"), " ", plural(rows.length, "topic"), " got markedly worse"),
    h("p", { class: "field-hint" }, "Worse on its own held-out questions beyond what chance explains (a paired test on the questions the two models answer differently, p ≤ 0.05, and at least 10 points lower). It is not deployed unless you override."),
    h("div", { class: "table-scroll" }, h("table", { class: "data-table regressions-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Intent or topic"), h("th", { scope: "col", class: "number" }, "Right now"),
        h("th", { scope: "col", class: "number" }, "Right with the new model"),
        h("th", { scope: "col", class: "number" }, "Newly wrong / right"), h("th", { scope: "col", class: "number" }, "p"))),
      h("tbody", {}, rows.map((row) => h("tr", { class: "is-drop", dataset: { topic: String(row.topic) } },
        h("th", { scope: "row" }, intentName(row.topic)),
        h("td", { class: "number" }, `${row.current_correct} of ${row.support}`),
        h("td", { class: "number" }, `${row.candidate_correct} of ${row.support}`),
        h("td", { class: "number" }, `${row.newly_wrong} / ${row.newly_right}`),
        h("td", { class: "number" }, isNumber(row.p_value) ? row.p_value.toFixed(3) : NONE)))))));
}

/** The names of the regressed topics, for the override form. */
export function regressedTopics(report) {
  return list(report && report.regressions).map((row) => String(row.topic));
}

const LABEL_STATES = { added: "added", undone: "undone", "added and undone": "added, then undone" };

/** What changed since the live model: labels (with who), examples per topic, topics, answers. */
export function renderChanges(report, idPrefix) {
  const changes = report && report.changes && typeof report.changes === "object" ? report.changes : null;
  if (!changes) return null;
  const labels = list(changes.labels);
  const examples = list(changes.examples);
  const answers = list(changes.responses);
  const nothing = !labels.length && !examples.length && !answers.length;
  return h("section", { class: "report-section changes", "aria-labelledby": `${idPrefix}-changes` },
    h("h4", { id: `${idPrefix}-changes` }, "What changed since the live model"),
    h("p", { class: "field-hint" }, changes.since ? ["Compared with ", h("code", {}, String(changes.since)), "."] : "There is no live model yet.",
      changes.source === "labels" ? " The live model was put in place from a file, so the examples are added up from the labels." : ""),
    nothing ? h("p", { class: "muted" }, "Nothing: the same examples and answers.") : null,
    labels.length ? h("ul", { class: "changes-labels" }, labels.map((label) => h("li", { dataset: { label: String(label.id) } },
      h("strong", {}, String(label.by || NONE)), " ", LABEL_STATES[label.state] || String(label.state), " a label: ",
      label.intent ? intentName(label.intent) : String(label.kind || ""), ` (${plural(isNumber(label.examples) ? label.examples : 0, "example")})`,
      label.undone_by ? ` — undone by ${label.undone_by}` : "", " · ", when(label.time)))) : null,
    examples.length ? h("div", { class: "table-scroll" }, h("table", { class: "data-table changes-examples" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Intent or topic"),
        h("th", { scope: "col", class: "number" }, "Examples added"), h("th", { scope: "col", class: "number" }, "Removed"))),
      h("tbody", {}, examples.map((row) => h("tr", { dataset: { topic: String(row.topic) } },
        h("th", { scope: "row" }, intentName(row.topic), list(changes.new_topics).includes(row.topic) ? h("span", { class: "chip" }, "new") : null),
        h("td", { class: "number" }, `+${row.added}`), h("td", { class: "number" }, `−${row.removed}`)))))) : null,
    list(changes.removed_topics).length ? h("p", {}, h("strong", {}, "Topics removed: "), list(changes.removed_topics).join(", ")) : null,
    answers.length ? h("ul", { class: "changes-answers" }, answers.map((answer) => h("li", {},
      h("code", {}, String(answer.name)), ": ",
      answer.before === null || answer.before === undefined ? "new answer " : [h("del", {}, String(answer.before)), " → "],
      answer.after === null || answer.after === undefined ? "removed" : h("ins", {}, String(answer.after))))) : null);
}

// ---- undoing a label ------------------------------------------------------------------------

const UNDOABLE = new Set(["label", "out_of_scope", "skipped"]);

/** The label ids of ``entries`` that were undone (their "undo_label" entries). */
export function undoneLabels(entries) {
  return new Set(entries.filter((entry) => entry.action === "undo_label" && entry.detail).map((entry) => entry.detail.label_id));
}

/** An "Undo" button for a label's audit entry (null for anything else, or a label already undone). */
export function undoButton(view, entry, undone) {
  const labelId = entry.detail && entry.detail.label_id;
  if (!UNDOABLE.has(entry.action) || !labelId || undone.has(labelId)) return null;
  const undo = button("Undo", { class: "button small danger-outline", "aria-label": `Undo this label (${labelId})` });
  undo.addEventListener("click", async () => {
    const confirmed = await confirmDialog({
      title: "Undo this label?",
      text: "Its examples are taken out of the training data (and a topic it created, if nothing else uses it), and its messages go back to the inbox. The next training leaves them out.",
      confirm: "Undo",
      danger: true,
    });
    if (!confirmed) return;
    undo.disabled = true;
    try {
      await view.request("undo_label", { label_id: labelId });
    } catch (error) {
      undo.disabled = false;
      undo.replaceWith(h("span", { class: "inline-error", role: "alert" }, describeTeachError(error)));
    }
  });
  return undo;
}
