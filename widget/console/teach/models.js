// The Teach view's training, models and audit trail: one action trains and
// evaluates a new model against the deployed one; a model evaluated as worse
// goes live only with an explicit override; earlier models stay one click
// (roll back) away; every step is in the audit trail.

import { formatTime, h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import {
  AUDIT_ACTIONS, JOB_RUNNING, JOB_STATES, TEACH_LIMITS, TEACH_STRINGS, TIMING, VERDICTS, describeTeachError, humanize,
} from "../constants.js";
import { confirmDialog, dialogTitleId, modal } from "../dialogs.js";
import { regressedTopics, renderChanges, renderRegressions, undoButton, undoneLabels } from "./changes.js";
import {
  NONE, Notice, button, intentName, isNumber, percent, plural, points, verdictChip, when,
} from "./shared.js";

const DROP = -0.005; // an F1 change below this is shown as a drop

function seconds(total) {
  if (!isNumber(total) || total < 0) return NONE;
  if (total < 60) return `${Math.round(total)} s`;
  return `${Math.floor(total / 60)} min ${String(Math.round(total % 60)).padStart(2, "0")} s`;
}

// ---- the evaluation report ------------------------------------------------------------

/** The whole evaluation report (docs: teach-spec "Evaluation report") as DOM. */
function renderReport(report, { idPrefix }) {
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
function overrideForm(idPrefix, deploy, topics = []) {
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

// ---- train & deploy ----------------------------------------------------------------------

export class TrainPanel {
  constructor(view) {
    this.view = view;
    this.job = null;
    this.current = null;
    this.requesting = false;
    this.notice = new Notice();
    this.trainDeploy = button("Train and deploy", { class: "button primary", onclick: () => this.start(true) }, "bolt");
    this.trainOnly = button("Train only", { onclick: () => this.start(false) });
    this.live = h("p", { class: "panel-summary" });
    this.stateChip = h("span", { class: "chip job-state" });
    this.fill = h("span", { class: "progress-fill" });
    this.progress = h("div", {
      class: "progress", role: "progressbar", "aria-label": "Training progress", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0",
    }, this.fill);
    this.percent = h("span", { class: "progress-percent", "aria-hidden": "true" });
    this.stage = h("p", { class: "job-stage", "aria-live": "polite" });
    this.meta = h("p", { class: "job-meta" });
    this.error = h("div", { class: "inline-error job-error", role: "alert", hidden: true });
    this.report = h("div", { class: "job-report" });
    this.after = h("div", { class: "job-after" });
    this.jobCard = h("section", { class: "card job-card", "aria-labelledby": "job-title", hidden: true },
      h("div", { class: "card-head" }, h("h3", { id: "job-title" }, "Latest training"), this.stateChip),
      h("div", { class: "progress-row" }, this.progress, this.percent),
      this.stage, this.meta, this.error, this.after, this.report);
    this.element = h("div", { class: "train-panel scroll-panel" },
      h("div", { class: "panel-head" }, h("div", {}, h("h2", {}, "Train & deploy"), this.live)),
      h("section", { class: "card train-card", "aria-label": "Train a new model" },
        h("p", {}, "Train a new model from everything labelled so far. It is checked first, then compared with the model customers talk to now on examples it never saw: accuracy, each intent and topic, and whether stuck conversations are still handed to a person."),
        h("div", { class: "train-buttons" }, this.trainDeploy, this.trainOnly),
        h("p", { class: "field-hint" }, "“Train and deploy” puts the new model live only if it is not worse. Training takes about half a minute.")),
      this.notice.element,
      this.jobCard);
    this.ticker = setInterval(() => this.renderMeta(), TIMING.tickMs);
    this.renderButtons();
  }

  get running() {
    return Boolean(this.job && JOB_RUNNING.has(this.job.state));
  }

  async start(deploy) {
    this.notice.clear();
    this.requesting = true;
    this.renderButtons();
    const pressed = deploy ? this.trainDeploy : this.trainOnly;
    const label = pressed.querySelector(".button-label");
    const before = label.textContent;
    label.textContent = "Starting…";
    try {
      await this.view.request("train", { deploy });
      this.notice.success(deploy ? "Training started. The new model goes live when it is done, unless it is worse." : "Training started.");
    } catch (error) {
      this.notice.error(describeTeachError(error));
    } finally {
      label.textContent = before;
      this.requesting = false;
      this.renderButtons();
    }
  }

  renderButtons() {
    const disabled = this.requesting || this.running;
    this.trainDeploy.disabled = disabled;
    this.trainOnly.disabled = disabled;
  }

  update(job) {
    const previous = this.job;
    this.job = job;
    this.renderButtons();
    this.jobCard.hidden = !job;
    if (!job) return;
    const state = String(job.state || "");
    this.stateChip.textContent = JOB_STATES[state] || humanize(state);
    this.stateChip.className = `chip job-state job-${state}`;
    const fraction = isNumber(job.progress) ? Math.min(Math.max(job.progress, 0), 1) : 0;
    const value = Math.round(fraction * 100);
    this.progress.setAttribute("aria-valuenow", String(value));
    this.progress.setAttribute("aria-valuetext", `${value}% — ${job.stage || JOB_STATES[state] || ""}`);
    this.progress.classList.toggle("is-running", JOB_RUNNING.has(state));
    this.progress.classList.toggle("is-failed", state === "failed");
    this.progress.classList.toggle("is-refused", state === "refused");
    this.fill.style.width = `${value}%`;
    this.percent.textContent = `${value}%`;
    this.stage.textContent = job.stage || JOB_STATES[state] || "";
    this.error.hidden = state !== "failed";
    replaceChildren(this.error, icon("info"), h("span", {}, `Training failed: ${job.error || "see the teaching worker's log"}`));
    // The report is rebuilt only when it changes (it has a "show all" state of its own).
    const reportKey = `${job.id}:${job.report ? "report" : ""}`;
    if (!previous || this.reportKey !== reportKey) {
      this.reportKey = reportKey;
      replaceChildren(this.report, job.report
        ? [h("h3", { class: "report-title" }, "How the new model compares"), renderReport(job.report, { idPrefix: "job-report" })]
        : null);
    }
    this.renderAfter();
    this.renderMeta();
  }

  modelsChanged(data) {
    this.current = data.current || null;
    const live = (Array.isArray(data.models) ? data.models : []).find((model) => model.id === this.current);
    replaceChildren(this.live, this.current
      ? ["Customers talk to model ", h("code", {}, this.current), live && isNumber(live.deployed_at) ? [", live since ", when(live.deployed_at)] : null, "."]
      : "No model is deployed yet.");
    this.renderAfter();
  }

  /** Under a finished job: deploy it (a ready one), or the override for a refused one. */
  renderAfter() {
    const job = this.job;
    const afterKey = job ? `${job.id}:${job.state}:${job.model_id}:${this.current}` : "";
    if (afterKey === this.afterKey) return;
    this.afterKey = afterKey;
    if (!job || !job.model_id || JOB_RUNNING.has(job.state) || job.state === "failed") {
      replaceChildren(this.after);
      return;
    }
    const isLive = job.model_id === this.current;
    if (isLive) {
      replaceChildren(this.after, h("p", { class: "job-live" }, icon("check"), h("span", {}, "Model ", h("code", {}, job.model_id), " is live: customers talk to it now.")));
      return;
    }
    if (job.state === "refused") {
      replaceChildren(this.after, overrideForm("job-override", (reason) => this.deploy(job.model_id, true, reason),
        regressedTopics(job.report)));
      return;
    }
    const deploy = button("Deploy this model", { class: "button primary" }, "check");
    deploy.addEventListener("click", async () => {
      deploy.disabled = true;
      try {
        await this.deploy(job.model_id, false, "");
      } catch (error) {
        this.notice.error(describeTeachError(error));
        deploy.disabled = false;
      }
    });
    replaceChildren(this.after, h("div", { class: "job-ready" }, h("p", {}, "Model ", h("code", {}, job.model_id), " is ready but not live."), deploy));
  }

  async deploy(modelId, override, reason) {
    await this.view.deploy(modelId, override, reason);
    this.notice.success(`Model ${modelId} deployed${override ? " with an override" : ""}. Customers talk to it within a few seconds.`);
  }

  renderMeta() {
    const job = this.job;
    if (!job) return;
    const started = isNumber(job.started) ? job.started : null;
    const finished = isNumber(job.finished) ? job.finished : null;
    const parts = [];
    if (job.by) parts.push(`Started by ${job.by}`);
    if (started) parts.push(formatTime(started * 1000).short);
    if (JOB_RUNNING.has(job.state) && started) parts.push(`running for ${seconds(Date.now() / 1000 - started)}`);
    else if (started && finished) parts.push(`took ${seconds(finished - started)}`);
    parts.push(job.deploy_requested ? "deploys when done, unless worse" : "trained only, not deployed automatically");
    this.meta.textContent = parts.join(" · ");
  }

  destroy() {
    clearInterval(this.ticker);
  }
}

// ---- models ---------------------------------------------------------------------------

export class ModelsPanel {
  constructor(view) {
    this.view = view;
    this.current = null;
    this.history = [];
    this.notice = new Notice();
    this.summary = h("p", { class: "panel-summary" }, "Loading the models…");
    this.rollbackButton = button("Roll back", { class: "button danger-outline", onclick: () => this.rollback() }, "transfer");
    this.rollbackHint = h("p", { class: "field-hint" });
    this.tbody = h("tbody", {});
    this.empty = h("p", { class: "muted empty-row", hidden: true }, "No model has been trained or published yet.");
    this.element = h("div", { class: "models-panel scroll-panel" },
      h("div", { class: "panel-head" },
        h("div", {}, h("h2", {}, "Models"), this.summary),
        h("div", { class: "panel-head-actions" }, this.rollbackButton, this.rollbackHint)),
      this.notice.element,
      h("div", { class: "card table-card" },
        h("div", { class: "table-scroll" },
          h("table", { class: "data-table models-table" },
            h("caption", { class: "visually-hidden" }, "Trained models, newest first"),
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Model"), h("th", { scope: "col" }, "Trained"), h("th", { scope: "col" }, "By"),
              h("th", { scope: "col" }, "Verdict"), h("th", { scope: "col", class: "number" }, "Accuracy"),
              h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
            this.tbody)),
        this.empty));
  }

  update(data) {
    this.current = data.current || null;
    this.history = Array.isArray(data.history) ? data.history : [];
    const models = Array.isArray(data.models) ? data.models : [];
    const live = models.find((model) => model.id === this.current);
    replaceChildren(this.summary, this.current
      ? ["Customers talk to ", h("code", {}, this.current), live && isNumber(live.deployed_at) ? [" since ", when(live.deployed_at)] : null,
        ". Earlier models are kept so you can go back."]
      : "No model is deployed yet.");
    const previous = this.history[1];
    this.rollbackButton.disabled = !previous;
    replaceChildren(this.rollbackHint, previous ? ["Back to ", h("code", {}, previous)] : "Nothing deployed before this one.");
    replaceChildren(this.tbody, models.map((model) => this.row(model)));
    this.empty.hidden = models.length > 0;
  }

  row(model) {
    const summary = model.report_summary || model.report || null;
    const accuracy = summary && summary.candidate ? summary.candidate.accuracy : null;
    const before = summary && summary.current ? summary.current.accuracy : null;
    const isLive = model.id === this.current;
    const wasLive = this.history.includes(model.id) || isNumber(model.deployed_at);
    const kept = model.kept !== false;
    const status = isLive ? h("span", { class: "chip chip-live" }, icon("check"), "Live")
      : !kept ? h("span", { class: "muted" }, "File no longer kept")
        : wasLive ? h("span", { class: "muted" }, "Was live") : h("span", { class: "muted" }, "Never live");
    const report = button("Report", { class: "button small", "aria-label": `Report for ${model.id}` });
    report.addEventListener("click", () => this.showReport(model.id));
    const deploy = !isLive && kept
      ? button(model.verdict === "worse" ? "Deploy…" : "Deploy", {
        class: `button small ${model.verdict === "worse" ? "danger-outline" : "primary"}`, "aria-label": `Deploy ${model.id}`,
      })
      : null;
    if (deploy) deploy.addEventListener("click", () => this.deploy(model));
    return h("tr", { class: isLive ? "is-live" : null, dataset: { model: model.id } },
      h("th", { scope: "row" }, h("code", { class: "model-id" }, model.id ? String(model.id) : NONE)),
      h("td", {}, when(model.created)),
      h("td", {}, model.by || NONE),
      h("td", {}, verdictChip(model.verdict), summary && summary.stuck_corpus_passed === false ? h("span", { class: "chip verdict-worse" }, "Stuck detection fails") : null),
      h("td", { class: "number" }, isNumber(accuracy) ? [h("strong", {}, percent(accuracy)), isNumber(before) ? h("span", { class: "muted small" }, ` (was ${percent(before)})`) : null] : NONE),
      h("td", {}, status),
      h("td", {}, h("div", { class: "row-actions" }, report, deploy)));
  }

  async showReport(modelId) {
    const titleId = dialogTitleId();
    const body = h("div", { class: "report-body" }, h("p", { class: "muted", role: "status" }, "Loading the report…"));
    const close = button("Close", {});
    const dialog = modal(titleId, "report-dialog",
      h("h2", { id: titleId }, "Report for model ", h("code", {}, modelId)),
      body,
      h("div", { class: "dialog-actions" }, close));
    close.addEventListener("click", () => dialog.close());
    close.focus();
    try {
      const model = await this.view.request("model", { model_id: modelId });
      replaceChildren(body,
        h("p", { class: "dialog-text" }, "Trained ", when(model.created), model.by ? ` by ${model.by}` : "",
          model.base ? [", compared with ", h("code", {}, model.base)] : null, "."),
        renderReport(model.report, { idPrefix: `${titleId}-report` }));
    } catch (error) {
      replaceChildren(body, h("p", { class: "inline-error", role: "alert" }, icon("info"), h("span", {}, describeTeachError(error))));
    }
  }

  async deploy(model) {
    if (model.verdict === "worse") {
      this.overrideDialog(model);
      return;
    }
    const confirmed = await confirmDialog({
      title: `Deploy model ${model.id}?`,
      text: "Customers talk to it within a few seconds. You can roll back at any time.",
      confirm: "Deploy",
    });
    if (!confirmed) return;
    this.notice.clear();
    try {
      await this.view.deploy(model.id);
      this.notice.success(`Model ${model.id} deployed. Customers talk to it within a few seconds.`);
    } catch (error) {
      this.notice.error(describeTeachError(error));
    }
  }

  overrideDialog(model) {
    const titleId = dialogTitleId();
    const cancel = button("Cancel", {});
    let dialog = null;
    const form = overrideForm(`${titleId}-override`, async (reason) => {
      await this.view.deploy(model.id, true, reason);
      dialog.close();
      this.notice.success(`Model ${model.id} deployed with an override. Customers talk to it within a few seconds.`);
    }, Array.isArray(model.regressions) ? model.regressions.map(String) : []);
    dialog = modal(titleId, "wide",
      h("h2", { id: titleId }, "Deploy model ", h("code", {}, model.id), "?"),
      form,
      h("div", { class: "dialog-actions" }, cancel));
    cancel.addEventListener("click", () => dialog.close());
    form.querySelector("input[type=checkbox]").focus();
  }

  async rollback() {
    const previous = this.history[1];
    if (!previous) return;
    const confirmed = await confirmDialog({
      title: "Roll back to the previous model?",
      text: `Model ${previous} goes live again instead of ${this.current}. ${TEACH_STRINGS.rollbackConfirm}`,
      confirm: "Roll back",
      danger: true,
    });
    if (!confirmed) return;
    this.notice.clear();
    this.rollbackButton.disabled = true;
    try {
      const result = await this.view.request("rollback", {});
      this.notice.success(`Rolled back: model ${result.model_id || previous} is live again.`);
    } catch (error) {
      this.notice.error(describeTeachError(error));
    } finally {
      this.rollbackButton.disabled = !this.history[1];
    }
  }
}

// ---- the audit trail ----------------------------------------------------------------------

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
