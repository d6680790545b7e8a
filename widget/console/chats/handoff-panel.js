// The handoff payload, for the agent (docs/handoff-payload.md): beside a chat,
// the bot's summary, why it handed over (with its evidence), the topics, what
// the customer said while waiting, each message with the intent the bot
// understood, and the form fields filled in.

import { h, replaceChildren } from "../../shared/dom.js";
import { humanize, readableIntent, reasonLabel } from "../constants.js";

function percent(fraction) {
  return `${Math.round(fraction * 100)}%`;
}

// The stuck detector's measurements (docs/stuck-detection.md) in an agent's words; others are shown by their key.
// A repeat is found by its topic or by its words: "How alike" 31% read as "not alike" beside a repeat found by
// its topic (the agent trial), so the topic answered before comes first and the figure says what it measures.
const MEASUREMENTS = {
  topic: ["Topic answered before", humanize],
  topics: ["Topics", (value) => (Array.isArray(value) ? value.map(humanize).join(", ") : humanize(value)) || "—"],
  similarity: ["Words in common with the earlier message", (value) => (typeof value === "number" ? percent(value) : plainValue(value))],
  in_a_row: ["Messages in a row", plainValue],
  times_sent: ["Times the bot sent that reply", plainValue],
  turn_count: ["Messages without an answer that helped", plainValue],
};

/** A measurement as a term and its value. */
function measurement(key, value) {
  const [label, shown] = MEASUREMENTS[key] || [humanize(key), plainValue];
  return [h("dt", {}, label), h("dd", {}, shown(value))];
}

/** A plain value from a payload (numbers, strings, lists) as one readable line. */
function plainValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map(plainValue).join(", ");
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function section(title, ...content) {
  return h("section", { class: "details-section" }, h("h3", {}, title), ...content);
}

export function renderHandoff(container, data) {
  const handoff = data.handoff || {};
  const details = data.details || {};
  const evidence = handoff.evidence || {};
  const withBot = data.state === "bot" && !data.reason && !handoff.reason; // back with the assistant (a read-only view)
  // Matched by text and intent: evidence numbers its turns the stuck detector's way, which can skip form answers.
  const evidenceTurns = new Set((evidence.turns || []).map(turnKey));
  const turns = Array.isArray(handoff.turns) ? handoff.turns : [];
  const slots = Object.entries(handoff.slots || {});
  const topics = Array.isArray(handoff.topics) ? handoff.topics : [];
  const measurements = Object.entries(evidence).filter(([key]) => !["explanation", "turns", "phrases"].includes(key));
  const none = (text) => h("p", { class: "muted" }, text);

  replaceChildren(container,
    section("Summary",
      h("p", { class: "details-summary" }, handoff.summary
        || (withBot ? "Not handed over now: the assistant has this customer (earlier chats are in the transcript)."
          : "The bot gave no summary."))),
    section("Why the bot handed over",
      h("p", {}, h("span", { class: `chip reason reason-${data.reason || (withBot ? "bot" : "unknown")}` },
        withBot ? "With the assistant" : reasonLabel(data.reason || handoff.reason))),
      evidence.explanation ? h("p", { class: "details-explanation" }, humanize(evidence.explanation), ".") : null,
      Array.isArray(evidence.phrases) && evidence.phrases.length
        ? h("div", { class: "chips" }, h("span", { class: "muted" }, "Phrases:"), evidence.phrases.map((phrase) => h("span", { class: "chip chip-quote" }, `“${phrase}”`)))
        : null,
      measurements.length
        ? h("dl", { class: "kv" }, measurements.map(([key, value]) => measurement(key, value)))
        : null),
    section("Topics",
      topics.length ? h("div", { class: "chips" }, topics.map((topic) => h("span", { class: "chip chip-topic" }, humanize(topic)))) : none("No topic recognised.")),
    section("Customer",
      details.description || details.contact
        ? h("dl", { class: "kv" },
          details.description ? [h("dt", {}, "Says"), h("dd", {}, details.description)] : null,
          details.contact ? [h("dt", {}, "Contact"), h("dd", {}, details.contact)] : null)
        : none("No details given while waiting.")),
    section("What the bot understood",
      turns.length ? turnsTable(turns, evidenceTurns) : none("No messages analysed.")),
    section("Slots",
      slots.length
        ? h("dl", { class: "kv" }, slots.map(([name, value]) => [h("dt", {}, humanize(name)), h("dd", {}, plainValue(value))]))
        : none("The customer filled in no form fields.")));
}

function turnKey(turn) {
  return `${turn.intent}\u0000${turn.text}`;
}

function turnsTable(turns, evidenceTurns) {
  return h("table", { class: "turns" },
    h("caption", { class: "visually-hidden" }, "Customer messages with the detected intent (for one not understood, the best guess), its confidence and the bot's reply"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "Message, intent and reply"), h("th", { scope: "col" }, "Confidence"))),
    h("tbody", {}, turns.map((turn, index) => {
      // Not understood: nlu_fallback's confidence is only the threshold; the classifier's real best guess says more.
      const notUnderstood = turn.intent === "nlu_fallback";
      const guess = notUnderstood && turn.best_guess && typeof turn.best_guess === "object" ? turn.best_guess : null;
      const shown = notUnderstood ? guess && guess.confidence : turn.confidence;
      const confidence = typeof shown === "number" ? shown : null;
      const bar = h("span", { class: "confidence-fill" });
      if (confidence !== null) bar.style.width = percent(confidence);
      const level = confidence === null ? "" : confidence >= 0.8 ? "high" : confidence >= 0.5 ? "medium" : "low";
      const isEvidence = evidenceTurns.has(turnKey(turn));
      return h("tr", { class: isEvidence ? "is-evidence" : null },
        h("td", { class: "turn-number" }, String(index + 1)),
        h("td", {},
          h("p", { class: "turn-text" }, turn.text || ""),
          h("p", { class: "turn-intent" },
            h("span", { class: "intent-label", title: turn.intent || "" }, readableIntent(turn.intent)),
            turn.topic ? h("span", { class: "muted" }, ` · ${humanize(turn.topic)}`) : null,
            guess ? h("span", { class: "muted turn-guess" },
              ` · best guess: ${guess.topic ? humanize(guess.topic) : readableIntent(guess.intent)}`) : null,
            isEvidence ? h("span", { class: "chip chip-evidence" }, "Evidence") : null),
          turn.bot_reply ? h("p", { class: "turn-reply" }, `Bot: ${turn.bot_reply}`) : null),
        h("td", { class: "turn-confidence", title: guess ? "Confidence of the best guess" : null },
          confidence === null ? "—" : [
            h("span", { class: `confidence-bar confidence-${level}`, "aria-hidden": "true" }, bar),
            h("span", { class: "confidence-value" }, percent(confidence)),
          ]));
    })));
}
