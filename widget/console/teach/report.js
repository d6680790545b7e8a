// A training's evaluation report in the Teach view: the verdict, the
// regressed topics, accuracy and macro-F1 before and after, stuck detection,
// per-intent F1 and the mix-ups that got worse; and the override form that a
// model evaluated as worse needs before it goes live.

import { h } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { TEACH_LIMITS, TEACH_STRINGS, VERDICTS, describeTeachError, humanize } from "../constants.js";
import { renderChanges, renderRegressions } from "./changes.js";
import { NONE, button, intentName, isNumber, percent, plural, points } from "./shared.js";

const DROP = -0.005; // an F1 change below this is shown as a drop

/** The whole evaluation report (docs: teach-spec "Evaluation report") as DOM. */
export function renderReport(report, { idPrefix }) {
  if (!report || typeof report !== "object") {
    return h("p", { class: "muted" }, "This model has no evaluation report (it was registered from a file).");
  }
  const current = report.current && typeof report.current === "object" ? report.current : null;
  const candidate = report.candidate && typeof report.candidate === "object" ? report.candidate : {};
  const verdict = report.verdict || "";
  const known = VERDICTS[verdict];
  const reasons = Array.isArray(report.reasons) ? report.reasons : [];
  const corpus = report.stuck_corpus && typeof report.stuck_corpus === "object" ? report.stuck_corpus : null;

  const comparison = (label, name, note) => {
    const before = current ? current[name] : null;
    const after = candidate[name];
    const delta = isNumber(before) && isNumber(after) ? after - before : null;
    return h("div", { class: `report-tile${isNumber(delta) && delta < DROP ? " is-drop" : ""}`, role: "group", "aria-label": label },
      h("p", { class: "report-tile-label" }, label),
      h("p", { class: "report-tile-value" },
        current ? [h("span", { class: "report-before" }, percent(before)), h("span", { "aria-label": " then " }, " → ")] : null,
        h("strong", {}, percent(after))),
      h("p", { class: "report-tile-note" }, isNumber(delta) ? `${points(delta)} · ${note}` : note));
  };

  const perIntent = (Array.isArray(report.per_intent) ? report.per_intent : []).slice()
    .sort((a, b) => (isNumber(a.delta) ? a.delta : 0) - (isNumber(b.delta) ? b.delta : 0));
  const tbody = h("tbody", {}, perIntent.map((row, index) => {
    const delta = isNumber(row.delta) ? row.delta : null;
    const state = delta === null ? "" : delta < DROP ? "is-drop" : delta > -DROP ? "is-gain" : "";
    return h("tr", { class: state || null, hidden: index >= TEACH_LIMITS.perIntentRows },
      h("th", { scope: "row" }, intentName(row.intent)),
      h("td", { class: "number" }, isNumber(row.support) ? String(row.support) : NONE),
      h("td", { class: "number" }, percent(row.current_f1)),
      h("td", { class: "number" }, percent(row.candidate_f1)),
      h("td", { class: "number delta" }, delta === null ? "new" : [
        delta < DROP ? h("span", { class: "visually-hidden" }, "Worse: ") : null, points(delta)]));
  }));
  const showAll = perIntent.length > TEACH_LIMITS.perIntentRows
    ? button(`Show all ${perIntent.length} intents and topics`, { class: "button small ghost" })
    : null;
  if (showAll) {
    showAll.addEventListener("click", () => {
      for (const row of tbody.rows) row.hidden = false;
      showAll.remove();
    });
  }

  const confusions = Array.isArray(report.worse_confusions) ? report.worse_confusions : [];
  const listOf = (values) => (Array.isArray(values) ? values : []).map((value) => {
    if (value && typeof value === "object") return value.name || value.file || value.id || value.title || Object.values(value).join(" · ");
    return String(value);
  });
  const missed = corpus ? listOf(corpus.missed) : [];
  const falseHandoffs = corpus ? listOf(corpus.false_handoffs) : [];

  return h("div", { class: "report" },
    h("div", { class: `verdict-banner verdict-${verdict || "none"}`, role: "group", "aria-label": "Verdict" },
      icon(verdict === "worse" ? "info" : "check"),
      h("div", {},
        h("p", { class: "verdict-title" }, "Verdict: ", h("strong", {}, known ? known.label : humanize(verdict) || "None")),
        h("p", {}, known ? known.text : ""),
        reasons.length ? h("ul", { class: "verdict-reasons" }, reasons.map((reason) => h("li", {}, String(reason)))) : null)),
    renderRegressions(report, idPrefix),
    h("div", { class: "report-tiles" },
      comparison("Accuracy", "accuracy", `on ${plural(isNumber(report.heldout) ? report.heldout : 0, "held-out example")}`),
      comparison("Macro-F1", "macro_f1", "the average over intents and topics"),
      h("div", { class: `report-tile ${corpus && corpus.passed === false ? "is-drop" : ""}`, role: "group", "aria-label": "Stuck detection" },
        h("p", { class: "report-tile-label" }, "Stuck detection"),
        h("p", { class: "report-tile-value" }, h("strong", {}, !corpus ? NONE : corpus.passed ? "Passes" : "Fails")),
        h("p", { class: "report-tile-note" }, corpus
          ? `finds ${percent(corpus.recall)} of stuck conversations, ${percent(corpus.false_handoff_rate)} needless handoffs${isNumber(corpus.conversations) ? ` (${corpus.conversations} conversations)` : ""}`
          : "not checked"))),
    missed.length || falseHandoffs.length
      ? h("div", { class: "report-section" },
        missed.length ? h("p", {}, h("strong", {}, "Stuck conversations it missed: "), missed.join(", ")) : null,
        falseHandoffs.length ? h("p", {}, h("strong", {}, "Handed over needlessly: "), falseHandoffs.join(", ")) : null)
      : null,
    h("section", { class: "report-section", "aria-labelledby": `${idPrefix}-per-intent` },
      h("h4", { id: `${idPrefix}-per-intent` }, "Per intent and topic (F1, worst change first)"),
      perIntent.length
        ? h("div", { class: "table-scroll" }, h("table", { class: "data-table per-intent" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Intent or topic"), h("th", { scope: "col", class: "number" }, "Examples"),
            h("th", { scope: "col", class: "number" }, "Current"), h("th", { scope: "col", class: "number" }, "New"),
            h("th", { scope: "col", class: "number" }, "Change"))),
          tbody))
        : h("p", { class: "muted" }, "No per-intent figures."),
      showAll),
    h("section", { class: "report-section", "aria-labelledby": `${idPrefix}-confusions` },
      h("h4", { id: `${idPrefix}-confusions` }, "Mix-ups that got worse"),
      confusions.length
        ? h("div", { class: "table-scroll" }, h("table", { class: "data-table confusions" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Customer meant"), h("th", { scope: "col" }, "Bot understood"),
            h("th", { scope: "col", class: "number" }, "Current"), h("th", { scope: "col", class: "number" }, "New"))),
          h("tbody", {}, confusions.map((row) => h("tr", {},
            h("td", {}, intentName(row.expected)), h("td", {}, intentName(row.predicted)),
            h("td", { class: "number" }, isNumber(row.current) ? String(row.current) : NONE),
            h("td", { class: "number" }, isNumber(row.candidate) ? String(row.candidate) : NONE))))))
        : h("p", { class: "muted" }, "None: no mix-up got more frequent.")),
    renderChanges(report, idPrefix));
}

/** "I understand… deploy anyway", a reason, and the button it enables; names the regressed ``topics``. */
export function overrideForm(idPrefix, deploy, topics = []) {
  const agree = h("input", { type: "checkbox", id: `${idPrefix}-agree` });
  const reason = h("input", { id: `${idPrefix}-reason`, maxlength: "1000", autocomplete: "off", placeholder: "e.g. the new topic matters more than a small drop" });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = button("Deploy anyway", { class: "button danger", disabled: true });
  agree.addEventListener("change", () => { submit.disabled = !agree.checked; });
  submit.addEventListener("click", async () => {
    if (!agree.checked) return;
    error.textContent = "";
    submit.disabled = true;
    const label = submit.querySelector(".button-label");
    label.textContent = "Deploying…";
    try {
      await deploy(reason.value.trim());
    } catch (failure) {
      error.textContent = describeTeachError(failure);
    } finally {
      label.textContent = "Deploy anyway";
      submit.disabled = !agree.checked;
    }
  });
  return h("div", { class: "override-box", role: "group", "aria-labelledby": `${idPrefix}-title` },
    h("h4", { id: `${idPrefix}-title` }, "Deploy it anyway?"),
    h("p", {}, "This model did worse than the one customers talk to now. Deploy it only if you know why, for example because a new topic matters more than a small drop elsewhere. You can roll back at any time."),
    topics.length ? h("p", { class: "override-topics" }, h("strong", {}, "Customers asking about these get worse answers: "),
      topics.map((topic, index) => [index ? ", " : "", h("code", {}, topic)]), ". The audit trail records your name with them.") : null,
    h("div", { class: "check-field" }, agree, h("label", { for: agree.id }, TEACH_STRINGS.overrideAgreement)),
    h("div", { class: "field" }, h("label", { for: reason.id }, "Why (kept in the audit trail)"), reason),
    error,
    h("div", { class: "override-actions" }, submit));
}
