// The console's modal dialogs: built with h(), removed from the page when
// closed, focus back where it was.

import { h } from "../shared/dom.js";
import { newId } from "../shared/transport.js";

/** A fresh id for a dialog's title (its accessible name). */
export function dialogTitleId() {
  return `dialog-${newId()}`;
}

/** Opens a modal <dialog> named by the element `labelledBy`; `className` adds to "dialog" (e.g. "wide"). */
export function modal(labelledBy, className, ...children) {
  const opener = document.activeElement;
  const dialog = h("dialog", { class: className ? `dialog ${className}` : "dialog", "aria-labelledby": labelledBy }, ...children);
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Asks before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog({ title, text, confirm, danger = false }) {
  return new Promise((resolve) => {
    const titleId = dialogTitleId();
    let confirmed = false;
    const yes = h("button", { type: "button", class: `button ${danger ? "danger" : "primary"}` }, confirm);
    const no = h("button", { type: "button", class: "button" }, "Cancel");
    const dialog = modal(titleId, null,
      h("h2", { id: titleId }, title),
      h("p", { class: "dialog-text" }, text),
      h("div", { class: "dialog-actions" }, no, yes));
    dialog.addEventListener("close", () => resolve(confirmed));
    no.addEventListener("click", () => dialog.close());
    yes.addEventListener("click", () => {
      confirmed = true;
      dialog.close();
    });
    no.focus();
  });
}
