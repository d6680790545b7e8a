// One stored message of a conversation as the console shows it: in an agent's
// chat, and in the conversation a Teach inbox message came from.

import { h, linkified, timeElement } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { attachmentElement } from "../shared/attachment-view.js";
import { reasonLabel } from "./constants.js";

// "@name" in a note: not inside a word or an address (handoff/mentions.py decides the same way).
const MENTION = /(?<![\p{L}\p{N}_@.+-])@([\p{L}\p{N}](?:[\p{L}\p{N}_-]{0,62}[\p{L}\p{N}])?)/gu;

/** A note's text as nodes: links as in messages, each "@name" marked (and "you" when it is `me`). */
export function withMentions(text, me = null) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    parts.push(linkified(text.slice(last, match.index)),
      h("span", { class: `mention${match[1] === me ? " is-me" : ""}` }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(linkified(text.slice(last)));
  return parts;
}

/** A message's file as a thumbnail or a PDF link (null: no file, or nothing to read it with). */
function attachmentOf(data, loadFile) {
  const attachment = data.attachment && typeof data.attachment === "object" ? data.attachment : null;
  if (!attachment || !loadFile) return null;
  return attachmentElement(attachment, () => loadFile(attachment),
    { open: "Open", download: "Download", loading: "Loading…", unavailable: "Unavailable" });
}

/** Where a transfer's note sent the chat: "to Bob Stone", "to the cards queue" (`nameOf`: a login as people know them). */
export function transferTarget(transfer, nameOf = (login) => login) {
  return transfer.to_agent ? `to ${nameOf(transfer.to_agent)}` : `to the ${transfer.to_group} queue`;
}

/**
 * A private note among agents: its own yellow look, its writer, and that only the team sees it
 * (the bridge never sends one to the customer).
 */
function noteElement(message, data, text, time, me, nameOf) {
  const own = Boolean(me) && data.agent === me;
  const author = own ? "You" : String(data.shown_as || data.agent || "Agent");
  const transfer = data.transfer && typeof data.transfer === "object" ? data.transfer : null;
  return h("li", { class: `msg msg-note${own ? " msg-own" : ""}`, dataset: message.id ? { id: message.id } : null },
    h("div", { class: "msg-meta" },
      h("span", { class: "badge badge-note" }, icon("note"), transfer ? `Transfer note ${transferTarget(transfer, nameOf)}` : "Note"),
      h("span", { class: "msg-author", title: data.agent ? `login: ${data.agent}` : null }, author), time),
    h("div", { class: "msg-bubble" },
      h("p", { class: "msg-text" }, withMentions(text, me)),
      h("p", { class: "note-privacy" }, "Only your team sees this")));
}

/**
 * A transcript <li> for {id, kind, text, data, ts}, or null for a bot message
 * a person would not see (custom data only). `agentName(name, data)` is how an
 * agent's messages are signed; with `me` (the console's login) the agent's own
 * messages and notes are styled as theirs, a colleague's as a colleague's.
 * Kinds other than customer, bot, agent and note are notices; `nameOf` shows a
 * colleague's login (a transfer note's receiver) as people know them. A message's file (data.attachment) is
 * read with `loadFile(attachment)` (a promise of its Blob): a thumbnail or a PDF link; without it, its name.
 */
export function messageElement(message, agentName, me = null, nameOf = (login) => login, loadFile = null) {
  const data = message.data && typeof message.data === "object" ? message.data : {};
  const text = typeof message.text === "string" ? message.text : "";
  const time = Number.isFinite(message.ts) ? timeElement(message.ts) : null;
  const kind = message.kind;
  if (kind === "note") return noteElement(message, data, text, time, me, nameOf);
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
    : h("span", { class: "msg-author", title: kind === "agent" && data.agent ? `login: ${data.agent}` : null },
      kind === "customer" ? "Customer" : agentName(data.agent, data));
  const whose = kind === "agent" && me ? (data.agent === me ? " msg-own" : " msg-colleague") : "";
  return h("li", { class: `msg msg-${kind}${whose}`, dataset: message.id ? { id: message.id } : null },
    h("div", { class: "msg-meta" }, author, time),
    h("div", { class: "msg-bubble" },
      attachmentOf(data, loadFile) || (text ? h("p", { class: "msg-text" }, linkified(text)) : null),
      buttons.length
        ? h("ul", { class: "msg-options", "aria-label": "Buttons offered" }, buttons.map((button) => h("li", {}, String(button.title || button.payload || ""))))
        : null,
      data.payload ? h("p", { class: "msg-payload" }, "Pressed a button (", h("code", {}, String(data.payload)), ")") : null));
}
