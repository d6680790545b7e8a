// One stored message of a conversation as the console shows it: in an agent's
// chat, and in the conversation a Teach inbox message came from.

import { h, linkified, timeElement } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { reasonLabel } from "./constants.js";

/**
 * A transcript <li> for {id, kind, text, data, ts}, or null for a bot message
 * a person would not see (custom data only). `agentName(name)` is how an
 * agent's messages are signed. Kinds other than customer, bot and agent are
 * notices.
 */
export function messageElement(message, agentName) {
  const data = message.data && typeof message.data === "object" ? message.data : {};
  const text = typeof message.text === "string" ? message.text : "";
  const time = Number.isFinite(message.ts) ? timeElement(message.ts) : null;
  const kind = message.kind;
  if (kind !== "customer" && kind !== "bot" && kind !== "agent") {
    return h("li", { class: "msg msg-system" }, h("span", { class: "visually-hidden" }, "Notice: "), h("p", {}, text), time);
  }
  const buttons = Array.isArray(data.buttons) ? data.buttons : [];
  if (kind === "bot" && !text) {
    const handoff = data.custom && data.custom.handoff;
    if (handoff) return h("li", { class: "msg msg-event" }, icon("bolt"), h("p", {}, `The bot handed over: ${reasonLabel(handoff.reason)}`), time);
    if (!buttons.length) return null;
  }
  const author = kind === "bot"
    ? h("span", { class: "badge badge-bot" }, icon("bot"), "Bot")
    : h("span", { class: "msg-author" }, kind === "customer" ? "Customer" : agentName(data.agent));
  return h("li", { class: `msg msg-${kind}`, dataset: message.id ? { id: message.id } : null },
    h("div", { class: "msg-meta" }, author, time),
    h("div", { class: "msg-bubble" },
      text ? h("p", { class: "msg-text" }, linkified(text)) : null,
      buttons.length
        ? h("ul", { class: "msg-options", "aria-label": "Buttons offered" }, buttons.map((button) => h("li", {}, String(button.title || button.payload || ""))))
        : null,
      data.payload ? h("p", { class: "msg-payload" }, "Pressed a button (", h("code", {}, String(data.payload)), ")") : null));
}
