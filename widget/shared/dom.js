// Building DOM without HTML strings: everything anyone typed becomes a text
// node, so a message like "<img src=x onerror=...>" is shown, never run.

/**
 * h("button", {class: "send", type: "button", "aria-label": "Send", onclick: fn}, "Send")
 * Attributes are set with setAttribute, "on*" functions become listeners,
 * children are nodes or strings (as text), null/false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** SVG elements (the dashboard's charts), with the same rules as h(). */
export function svg(tag, props = {}, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** "14:05" or "1:05 PM" (with `dated`, "12 Mar, 14:05") in the reader's language, the hour without a leading zero
 * where the language writes none; the full date and time for a tooltip. */
export function formatTime(ms, locale, { dated = false } = {}) {
  const date = new Date(ms);
  const short = dated ? { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" } : { hour: "numeric", minute: "2-digit" };
  return {
    short: new Intl.DateTimeFormat(locale, short).format(date),
    full: new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(date),
    iso: date.toISOString(),
  };
}

/** A <time> showing "14:05" (or "12 Mar, 14:05"), with the full date and time as its tooltip. */
export function timeElement(ms, locale, className = null, { dated = false } = {}) {
  const time = formatTime(ms, locale, { dated });
  return h("time", { class: className, datetime: time.iso, title: time.full }, time.short);
}

/**
 * Keeps a list's elements in step with `items`, keyed by `key(item)`: an entry
 * ({element, ...}) whose key is gone is removed, a new one is made by
 * `create(item)`, each is passed to `update(entry, item)`, and the elements
 * are put in the items' order (placeInOrder: the ones kept keep their focus).
 */
export function syncList(container, entries, items, { key, create, update = () => {} }) {
  const keys = new Set(items.map(key));
  for (const [id, entry] of entries) {
    if (!keys.has(id)) {
      entry.element.remove();
      entries.delete(id);
    }
  }
  const elements = items.map((item) => {
    const id = key(item);
    if (!entries.has(id)) entries.set(id, create(item));
    const entry = entries.get(id);
    update(entry, item);
    return entry.element;
  });
  placeInOrder(container, elements);
}

/**
 * Makes `elements` the children of `container`, in this order, moving only
 * those out of place: moving an element takes the keyboard focus out of it,
 * so a list updated while someone works in it must not move the rest.
 */
export function placeInOrder(container, elements) {
  let expected = container.firstChild;
  for (const element of elements) {
    if (element === expected) expected = element.nextSibling;
    else container.insertBefore(element, expected);
  }
}

// Web addresses in messages become links; only http(s), so no "javascript:" ever becomes one.
const WEB_ADDRESS = /\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]]/g;
// The part naming the host: up to the path, query or fragment.
const AUTHORITY = /^https?:\/\/([^/?#]*)/i;

/**
 * The text as text nodes, with web addresses as links that open in a new tab. An address with
 * a user name ("https://bank.example@evil.example/") stays text: it looks like the bank's and is not.
 */
export function linkified(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(WEB_ADDRESS)) {
    if (AUTHORITY.exec(match[0])[1].includes("@")) continue;
    parts.push(text.slice(last, match.index),
      h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}
