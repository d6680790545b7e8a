// Labels on conversations (docs/bridge-protocol.md, "Labels, dispositions and
// canned responses"): the chips a chat and a queue card show, and the picker an
// agent labels their chat with. Names are text nodes; a colour is set only
// when it is a #rrggbb the bridge checked, through the CSSOM (never markup).

import { h, replaceChildren } from "../../shared/dom.js";
import { newId } from "../../shared/transport.js";
import { describeError } from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";

const COLOUR = /^#[0-9a-f]{6}$/;

/** A label's chip, in its colour: a dot of it, and the chip tinted with it. */
export function labelChip(label) {
  const chip = h("span", { class: "chip chip-label", "data-label-id": label.id },
    h("span", { class: "label-dot", "aria-hidden": "true" }), h("span", { class: "visually-hidden" }, "Label: "), label.name);
  if (COLOUR.test(label.colour)) chip.style.setProperty("--label-colour", label.colour);
  return chip;
}

/** The chips of the label ids `ids`, in their order; ids of labels no longer in the set are left out. */
export function labelChips(ids, labels) {
  const byId = new Map(labels.map((label) => [label.id, label]));
  return (ids || []).filter((id) => byId.has(id)).map((id) => labelChip(byId.get(id)));
}

/** Checkboxes of the whole set; each change is sent at once (`label_conversation`) and shown when acknowledged. */
export function labelPicker(view, tab) {
  const titleId = dialogTitleId();
  const error = h("p", { class: "form-error", role: "alert" });
  const done = h("button", { type: "button", class: "button primary" }, "Done");
  const list = h("ul", { class: "choices label-choices" });
  const dialog = modal(titleId, null,
    h("h2", { id: titleId }, "Labels"),
    h("p", { class: "dialog-text" }, "Label this chat for your colleagues and the dashboard. Supervisors manage the list."),
    list, error, h("div", { class: "dialog-actions" }, done));
  done.addEventListener("click", () => dialog.close());
  if (!view.labels.length) {
    replaceChildren(list, h("li", { class: "muted" }, "No labels are set up yet."));
    done.focus();
    return;
  }
  replaceChildren(list, view.labels.map((label) => {
    const id = `label-${newId()}`;
    const box = h("input", { type: "checkbox", id, checked: tab.labels.includes(label.id) });
    box.addEventListener("change", async () => {
      box.disabled = true;
      error.textContent = "";
      try {
        const answer = await view.waiting.ask("label_conversation", { conversation_id: tab.id, label_id: label.id, on: box.checked });
        tab.setLabels(answer.labels);
      } catch (failure) {
        box.checked = !box.checked;
        error.textContent = describeError(failure);
      } finally {
        box.disabled = false;
      }
    });
    return h("li", { class: "choice" }, box, h("label", { for: id }, labelChip(label)));
  }));
  list.querySelector("input").focus();
}
