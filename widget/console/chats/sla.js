// Response-time targets (docs/bridge-protocol.md "Response-time targets"): the countdown on a chat's tab
// and header and on a queue card, ok, then at risk (SLA.riskFraction of the target left), then breached.
// The bridge states the due times (the `sla` of a conversation or queue item); in an open chat the
// clock then follows the transcript by the bridge's own rule, in the bridge's times (message `ts`):
// an agent's message answers what came before it, a customer's message after the first answer starts
// the reply clock unless one already runs.

import { h } from "../../shared/dom.js";
import { SLA } from "../constants.js";

/** "ok", "at-risk" or "breached": how much of a target of `totalSeconds` is left at `now`. */
export function slaLevel(dueMs, totalSeconds, now) {
  const left = dueMs - now;
  if (left < 0) return "breached";
  return left <= totalSeconds * 1000 * SLA.riskFraction ? "at-risk" : "ok";
}

/** Milliseconds as a clock: "1:05"; "1:02:03". */
function clock(ms) {
  const seconds = Math.floor(Math.abs(ms) / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/** The running clock of an `sla` (first response before reply), or null when none runs. */
function running(sla) {
  if (!sla) return null;
  if (sla.first_response_due_ms != null) return { kind: "first", due: sla.first_response_due_ms, total: sla.first_response_seconds };
  if (sla.reply_due_ms != null) return { kind: "reply", due: sla.reply_due_ms, total: sla.reply_seconds };
  return null;
}

export class SlaCountdown {
  constructor() {
    this.element = h("span", { class: "chip sla-chip", hidden: true, role: "timer" });
    this.sla = null;
    this.answeredAt = -Infinity; // the bridge's time of the latest agent message seen
  }

  /** The bridge's word (a conversation or queue item's `sla`; null: no targets to show). */
  set(sla) {
    this.sla = sla ? { ...sla } : null;
  }

  /** A message of the open chat's transcript (replayed or live), in the bridge's order. */
  message(message) {
    const sla = this.sla;
    if (!sla || !Number.isFinite(message.ts)) return;
    if (message.kind === "agent") {
      this.answeredAt = Math.max(this.answeredAt, message.ts);
      if (sla.first_response_due_ms != null && message.ts >= sla.first_response_due_ms - sla.first_response_seconds * 1000) {
        sla.first_response_due_ms = null;
      }
      if (sla.reply_due_ms != null && message.ts >= sla.reply_due_ms - sla.reply_seconds * 1000) sla.reply_due_ms = null;
    } else if (message.kind === "customer" && sla.first_response_due_ms == null && sla.reply_due_ms == null
      && message.ts > this.answeredAt) {
      sla.reply_due_ms = message.ts + sla.reply_seconds * 1000;
    }
  }

  /** No clock runs once the chat is not being served here (closed, handed back, read-only). */
  stop() {
    this.sla = null;
    this.render();
  }

  render(now = Date.now()) {
    const clockRunning = running(this.sla);
    this.element.hidden = !clockRunning;
    if (!clockRunning) return null;
    const level = slaLevel(clockRunning.due, clockRunning.total, now);
    const left = clockRunning.due - now;
    this.element.className = `chip sla-chip sla-${level}`;
    this.element.dataset.level = level;
    this.element.textContent = `${SLA.labels[clockRunning.kind]} ${left < 0 ? "late " : ""}${clock(left)}`;
    this.element.title = `${SLA.levels[level]}: ${SLA.labels[clockRunning.kind].toLowerCase()} due within ${clockRunning.total} s`;
    return level;
  }
}
