// The Teach view's "Train & deploy" panel: one action trains and evaluates a
// new model against the deployed one, with the job's progress, its report,
// and deploying it (a model evaluated as worse only with an override).

import { formatTime, h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { JOB_RUNNING, JOB_STATES, TIMING, describeTeachError, humanize } from "../constants.js";
import { regressedTopics } from "./changes.js";
import { overrideForm, renderReport } from "./report.js";
import { NONE, Notice, button, isNumber, when } from "./shared.js";

function seconds(total) {
  if (!isNumber(total) || total < 0) return NONE;
  if (total < 60) return `${Math.round(total)} s`;
  return `${Math.floor(total / 60)} min ${String(Math.round(total % 60)).padStart(2, "0")} s`;
}

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
