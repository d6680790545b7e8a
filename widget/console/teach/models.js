// The Teach view's models: every trained model with its verdict, its report,
// deploying an earlier one, and rolling back to the previous live model.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { TEACH_STRINGS, describeTeachError } from "../constants.js";
import { confirmDialog, dialogTitleId, modal } from "../dialogs.js";
import { overrideForm, renderReport } from "./report.js";
import { NONE, Notice, button, isNumber, percent, verdictChip, when } from "./shared.js";

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
