// The supervisors' workspace manager, under the dashboard: the label set and
// the canned responses (create, edit, delete). Every change goes to the bridge
// (label_save, label_delete, canned_save, canned_delete), which pushes the new
// lists to every console: these lists are redrawn from those pushes only.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { newId } from "../../shared/transport.js";
import { describeError } from "../constants.js";
import { confirmDialog } from "../dialogs.js";
import { labelChip } from "./labels.js";

// New labels' colours, in turn: each new label gets the first one no label has yet (the supervisor may choose another).
const LABEL_PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#0e7490", "#c2410c", "#db2777",
  "#4d7c0f", "#57606a"];

/** The first colour of the palette no label has (the first again when every one is taken). */
function freeColour(labels) {
  const taken = new Set(labels.map((label) => String(label.colour).toLowerCase()));
  return LABEL_PALETTE.find((colour) => !taken.has(colour)) || LABEL_PALETTE[0];
}

function field(label, input) {
  const id = `field-${newId()}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id, class: "field-label" }, label), input);
}

/** A form that creates, or edits the item given to edit(); `save` sends it and resolves when acknowledged. */
class EditorForm {
  constructor({ what, inputs, values, save }) {
    this.what = what;
    this.inputs = inputs;
    this.values = values;
    this.save = save;
    this.editing = null;
    this.error = h("p", { class: "form-error", role: "alert" });
    this.submit = h("button", { type: "submit", class: "button primary" }, `Add ${what}`);
    this.cancel = h("button", { type: "button", class: "button", hidden: true, onclick: () => this.reset() }, "Cancel");
    this.element = h("form", { class: "editor-form", novalidate: true, "aria-label": `New ${what}` },
      Object.entries(inputs).map(([label, input]) => field(label, input)),
      this.error, h("div", { class: "editor-actions" }, this.cancel, this.submit));
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  edit(item) {
    this.editing = item;
    this.values(item);
    this.submit.textContent = `Save ${this.what}`;
    this.element.setAttribute("aria-label", `Edit ${this.what}`);
    this.cancel.hidden = false;
    this.error.textContent = "";
    Object.values(this.inputs)[0].focus();
  }

  reset() {
    this.editing = null;
    this.values(null);
    this.submit.textContent = `Add ${this.what}`;
    this.element.setAttribute("aria-label", `New ${this.what}`);
    this.cancel.hidden = true;
    this.error.textContent = "";
  }

  async send() {
    this.submit.disabled = true;
    this.error.textContent = "";
    try {
      await this.save(this.editing);
      this.reset();
    } catch (failure) {
      this.error.textContent = describeError(failure);
    } finally {
      this.submit.disabled = false;
    }
  }
}

export class WorkspaceManager {
  constructor(waiting) {
    this.waiting = waiting;
    this.labels = [];
    this.canned = [];

    const name = h("input", { type: "text", maxlength: "32", required: true, autocomplete: "off" });
    // The supervisor's own choice of colour (the input's "input" event) is theirs: labels arriving meanwhile never move it.
    const colour = h("input", { type: "color", value: LABEL_PALETTE[0], oninput: () => { this.colourChosen = true; } });
    this.labelColour = colour;
    this.colourChosen = false;
    this.labelForm = new EditorForm({
      what: "label",
      inputs: { Name: name, Colour: colour },
      values: (label) => {
        name.value = label ? label.name : "";
        colour.value = label ? label.colour : freeColour(this.labels);
        this.colourChosen = false;
      },
      save: (label) => this.waiting.ask("label_save", {
        name: name.value, colour: colour.value, ...(label ? { label_id: label.id } : {}),
      }),
    });
    this.labelList = h("ul", { class: "editor-list label-list", "aria-label": "Labels" });

    const shortcut = h("input", { type: "text", maxlength: "24", required: true, autocomplete: "off", pattern: "[a-z0-9][a-z0-9_-]*" });
    const title = h("input", { type: "text", maxlength: "60", required: true, autocomplete: "off" });
    const text = h("textarea", { rows: "3", maxlength: "2000", required: true });
    this.cannedForm = new EditorForm({
      what: "canned response",
      inputs: { "Shortcut (agents type /shortcut)": shortcut, Title: title, "Text ({agent} becomes the agent's name)": text },
      values: (item) => {
        shortcut.value = item ? item.shortcut : "";
        title.value = item ? item.title : "";
        text.value = item ? item.text : "";
      },
      save: (item) => this.waiting.ask("canned_save", {
        shortcut: shortcut.value.trim().replace(/^\//, ""), title: title.value, text: text.value,
        ...(item ? { replaces: item.shortcut } : {}),
      }),
    });
    this.cannedList = h("ul", { class: "editor-list canned-list", "aria-label": "Canned responses" });

    this.element = h("div", { class: "workspace-manager" },
      h("section", { class: "editor-section", "aria-labelledby": "labels-title" },
        h("h2", { id: "labels-title", class: "section-title" }, "Labels"),
        h("p", { class: "muted" }, "Agents put these on their chats; the dashboard counts them."),
        this.labelList, this.labelForm.element),
      h("section", { class: "editor-section", "aria-labelledby": "canned-title" },
        h("h2", { id: "canned-title", class: "section-title" }, "Canned responses"),
        h("p", { class: "muted" }, "Agents insert these by typing /shortcut in a chat."),
        this.cannedList, this.cannedForm.element));
    this.renderLabels();
    this.renderCanned();
  }

  setLabels(labels) {
    this.labels = labels;
    // A new label's suggested colour another label has meanwhile (the one just added) moves on to a free one; a colour
    // the supervisor chose stays (labels may arrive after they picked it, the first list too).
    const taken = labels.some((label) => String(label.colour).toLowerCase() === this.labelColour.value.toLowerCase());
    if (!this.labelForm.editing && !this.colourChosen && taken) this.labelColour.value = freeColour(labels);
    this.renderLabels();
  }

  setCanned(items) {
    this.canned = items;
    this.renderCanned();
  }

  renderLabels() {
    replaceChildren(this.labelList, this.labels.length
      ? this.labels.map((label) => h("li", { class: "editor-item" },
        labelChip(label),
        h("span", { class: "editor-item-actions" },
          h("button", { type: "button", class: "button small", "aria-label": `Edit label ${label.name}`, onclick: () => this.labelForm.edit(label) }, "Edit"),
          h("button", {
            type: "button", class: "button small danger-outline", "aria-label": `Delete label ${label.name}`,
            onclick: () => this.remove(`Delete the label “${label.name}”?`, "label_delete", { label_id: label.id }),
          }, icon("close"), "Delete"))))
      : h("li", { class: "muted" }, "No labels yet."));
  }

  renderCanned() {
    replaceChildren(this.cannedList, this.canned.length
      ? this.canned.map((item) => h("li", { class: "editor-item" },
        h("span", { class: "canned-shortcut" }, `/${item.shortcut}`),
        h("span", { class: "editor-item-text" }, h("span", { class: "canned-title" }, item.title),
          h("span", { class: "canned-preview" }, item.text)),
        h("span", { class: "editor-item-actions" },
          h("button", { type: "button", class: "button small", "aria-label": `Edit /${item.shortcut}`, onclick: () => this.cannedForm.edit(item) }, "Edit"),
          h("button", {
            type: "button", class: "button small danger-outline", "aria-label": `Delete /${item.shortcut}`,
            onclick: () => this.remove(`Delete the canned response /${item.shortcut}?`, "canned_delete", { shortcut: item.shortcut }),
          }, icon("close"), "Delete"))))
      : h("li", { class: "muted" }, "No canned responses yet."));
  }

  async remove(question, type, data) {
    if (!(await confirmDialog({ title: question, text: "Agents stop seeing it at once.", confirm: "Delete", danger: true }))) return;
    try {
      await this.waiting.ask(type, data);
    } catch (failure) {
      await confirmDialog({ title: "Not deleted", text: describeError(failure), confirm: "OK" });
    }
  }
}
