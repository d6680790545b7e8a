// Small pieces the Teach view's panels share: formatting, notices, buttons,
// the chips for reasons and verdicts. Everything from the server is text.

import { h, replaceChildren, timeElement } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { INBOX_REASONS, VERDICTS, humanize, intentLabel } from "../constants.js";

const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
const wholePercentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });

export const NONE = "—";

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** A measurement: 0.934 -> "93.4%", 0.9 -> "90.0%"; anything else "—". */
export function percent(value) {
  return isNumber(value) ? percentFormat.format(value) : NONE;
}

/** A share or a confidence: 0.576 -> "58%". */
export function share(value) {
  return isNumber(value) ? wholePercentFormat.format(value) : NONE;
}

/** An F1 or accuracy change in percentage points: "+1.2 pts", "−3.0 pts". */
export function points(delta) {
  if (!isNumber(delta)) return NONE;
  const value = delta * 100;
  const sign = value > 0.05 ? "+" : value < -0.05 ? "−" : "±";
  return `${sign}${Math.abs(value).toFixed(1)} pts`;
}

/** A unix time in seconds as a <time>: "12 Mar, 14:05" with the full date as its tooltip. */
export function when(seconds, className = null) {
  if (!isNumber(seconds)) return h("span", { class: className }, NONE);
  return timeElement(seconds * 1000, undefined, className, { dated: true });
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** The name of an intent or FAQ topic for people, with its code for precision. */
export function intentName(name) {
  if (!name) return h("span", { class: "muted" }, "no guess");
  return h("span", { class: "intent-name" },
    h("span", { class: "intent-label" }, intentLabel(name)), " ",
    h("code", { class: "intent-code" }, name));
}

export function reasonChip(reason, count = null) {
  return h("span", { class: `chip inbox-reason inbox-reason-${reason}` },
    INBOX_REASONS[reason] || humanize(reason),
    count === null ? null : h("span", { class: "chip-count" }, String(count)));
}

export function verdictChip(verdict) {
  const known = VERDICTS[verdict];
  return h("span", { class: `chip verdict verdict-${verdict || "none"}` }, known ? known.label : humanize(verdict) || "Not evaluated");
}

/** A notice line in a panel: success (a status) or error (an alert), with a dismiss button. */
export class Notice {
  constructor() {
    this.status = h("div", { class: "teach-notice", role: "status", "aria-live": "polite" });
    this.alert = h("div", { class: "teach-notice is-error", role: "alert" });
    this.element = h("div", { class: "teach-notices" }, this.status, this.alert);
    this.clear();
  }

  success(text) {
    this.show(this.status, "check", text);
  }

  error(text) {
    this.show(this.alert, "info", text);
  }

  show(element, iconName, text) {
    this.clear();
    const dismiss = h("button", { type: "button", class: "icon-button small", "aria-label": "Dismiss", onclick: () => this.clear() }, icon("close"));
    replaceChildren(element, icon(iconName), h("span", { class: "notice-text" }, text), dismiss);
    element.hidden = false;
  }

  clear() {
    replaceChildren(this.status);
    replaceChildren(this.alert);
    this.status.hidden = true;
    this.alert.hidden = true;
  }
}

/** A button whose label (.button-label) can be swapped for "Saving…" without losing its icon. */
export function button(text, props = {}, iconName = null) {
  return h("button", { type: "button", class: "button", ...props },
    iconName ? icon(iconName) : null, h("span", { class: "button-label" }, text));
}
