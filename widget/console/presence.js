// Who is there: a customer's presence (connected, typing, gone: the queue card
// and the chat's header) and an agent's status (available, away, offline: the
// header's control and the dashboard's team list), in words, from the bridge's
// state and how long it has lasted (docs/bridge-protocol.md, "Agents' status and
// customers' presence"). Each keeps the moment it began on this page's clock
// (now minus the seconds the bridge sent), so it counts on without asking again.

import { h } from "../shared/dom.js";

/** The moment a state began, on this page's clock; null when the bridge does not know. */
export function beganAt(seconds, now = Date.now()) {
  return typeof seconds === "number" ? now - seconds * 1000 : null;
}

/** "less than a minute", "3 min", "1 h 05 min". */
export function lasted(since, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - since) / 60000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

const CUSTOMER_WORDS = { connected: "Connected", typing: "Typing…", gone: "Gone" };

/** "Connected", "Typing…", "Left 3 min ago" (or "Left just now"). */
export function customerPresenceText(state, since, now = Date.now()) {
  if (state !== "gone" || since === null) return CUSTOMER_WORDS[state] || CUSTOMER_WORDS.gone;
  return now - since < 60000 ? "Left just now" : `Left ${lasted(since, now)} ago`;
}

/** A chip showing a customer's presence; fill it with renderCustomerPresence. */
export function customerPresenceChip() {
  const text = h("span", { class: "presence-text" });
  const element = h("span", { class: "chip presence-chip" },
    h("span", { class: "presence-dot", "aria-hidden": "true" }),
    h("span", { class: "visually-hidden" }, "Customer: "), text);
  return { element, text };
}

export function renderCustomerPresence(chip, state, since, now = Date.now()) {
  const known = CUSTOMER_WORDS[state] ? state : "gone";
  chip.element.dataset.presence = known;
  chip.element.className = `chip presence-chip presence-${known}`;
  chip.text.textContent = customerPresenceText(known, since, now);
  chip.element.title = known === "gone" ? "The customer has no chat window open" : "The customer has the chat open";
}

export const AGENT_STATUS_WORDS = { available: "Available", away: "Away", offline: "Offline" };
