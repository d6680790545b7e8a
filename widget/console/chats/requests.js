// Callbacks and messages customers left instead of waiting: the list beside
// the queue (all of the agent's groups, or only those assigned to them), and the
// dialog that opens one (its conversation and context), where the agent answers
// it or marks it done. A request may be assigned to one agent: a supervisor gives
// it, or the agent takes it ("Take it"); the agent is told when one is given to
// them. The bridge keeps what became of each request, so every agent's list says
// the same (docs/bridge-protocol.md "Requests assigned to an agent").

import { h, replaceChildren, timeElement } from "../../shared/dom.js";
import { fetchFile } from "../../shared/files.js";
import { icon } from "../../shared/icons.js";
import { LIMITS, describeError, humanize, reasonLabel, shortId } from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";
import { messageElement } from "../transcript.js";
import { dispositionLabel } from "../workspace/closing-dialog.js";

const KINDS = { callback: "Callback", message: "Message" };
const CONTACT_KINDS = { phone: "Phone", email: "Email" };

/** "Open", "Answered by Ann Lee", "Done by Bob", "Done by Bob in the chat (Resolved)", "Cancelled by the customer" (`nameOf`: a login as
 * colleagues know them). */
function stateText(item, nameOf) {
  if (item.state === "answered") return `Answered by ${nameOf(item.handled_by)}`;
  if (item.state === "done" && item.settled_in_chat) {
    return `Done by ${nameOf(item.handled_by)} in the chat (${dispositionLabel(item.settled_in_chat)})`;
  }
  if (item.state === "done") return `Done by ${nameOf(item.handled_by)}`;
  if (item.state === "cancelled") return "Cancelled by the customer";
  return "Open";
}

/** Where an answer went (`mailed`: the answer_request ack's `email`, or the list item's `answer_mail`): "Answered in
 *  the chat and by email to ann@example.com.", "Answered in the chat only: email is not set up here.". */
function answerWhere(mailed) {
  if (!mailed) return "Answered in the chat.";
  const to = mailed.to || "the customer";
  if (mailed.state === "queued" || mailed.state === "sent") return `Answered in the chat and by email to ${to}.`;
  if (mailed.state === "unavailable") return "Answered in the chat only: email is not set up here.";
  if (mailed.state === "not_sent") {
    return `Answered in the chat only: ${to} has had as many emails from us today as we send to one address.`;
  }
  if (mailed.state === "failed") return `Answered in the chat only: the email to ${to} could not be sent.`;
  return "Answered in the chat.";
}

/** The chat the customer had since leaving the request: "In a chat with Ann Lee now", "Served by Ann Lee in a
 *  chat since, closed: Resolved" (`nameOf` as for stateText). */
function servedSinceText(item, nameOf) {
  const chat = item.served_since;
  if (!chat) return "";
  if (!chat.closed) return `In a chat with ${nameOf(chat.agent)} now.`;
  return `Served by ${nameOf(chat.agent)} in a chat since${chat.disposition ? `, closed: ${dispositionLabel(chat.disposition)}` : ", now closed"}.`;
}

/** Whom an open request is assigned to: "Yours", "Assigned to Ann Lee"; none for nobody. */
function assigneeChip(item, me, nameOf) {
  if (!item.assigned_to) return null;
  const mine = item.assigned_to === me;
  return h("span", { class: `chip request-assignee${mine ? " is-mine" : ""}` },
    icon("person"), mine ? "Yours" : `Assigned to ${nameOf(item.assigned_to)}`);
}

function contactLine(item) {
  return h("p", { class: "request-contact" },
    h("span", { class: "visually-hidden" }, `${CONTACT_KINDS[item.contact_kind] || "Contact"}: `), item.contact);
}

/**
 * What the customer wrote with a request. A callback the assistant's form booked has none: its
 * description is the bot's summary cut to a request's length, shown once, in full, as the summary.
 */
function customerWords(request) {
  return request.booked_with === "bot" ? "" : request.description;
}

export class RequestsPanel {
  /** @param view the chats view: its `waiting` (PendingRequests), `sidebarTabs`, `agent` and `toast`. */
  constructor(view) {
    this.view = view;
    this.known = null;
    this.unseen = new Set(); // open requests new (or newly assigned to the agent) since they last looked
    this.items = [];
    this.onlyMine = false; // the filter: every request of the agent's groups, or those assigned to them
    this.filterButtons = ["all", "mine"].map((which) => h("button", {
      type: "button", class: "button small ghost", dataset: { filter: which }, "aria-pressed": String(which === "all"),
      onclick: () => this.filter(which === "mine"),
    }, which === "all" ? "All" : "Assigned to me"));
    this.list = h("ul", { class: "request-list", "aria-label": "Callbacks and messages" });
    this.empty = h("div", { class: "empty-state small" }, icon("phone", "icon empty-icon"), h("p", {}));
    this.element = h("div", { class: "requests-panel" },
      h("div", { class: "request-filter", role: "group", "aria-label": "Show requests" }, this.filterButtons),
      this.list, this.empty);
  }

  /** Every request of the agent's groups, or (`onlyMine`) those assigned to them. */
  filter(onlyMine) {
    this.onlyMine = onlyMine;
    for (const button of this.filterButtons) button.setAttribute("aria-pressed", String((button.dataset.filter === "mine") === onlyMine));
    this.refill();
  }

  shown() {
    return this.onlyMine ? this.items.filter((item) => item.assigned_to === this.view.agent) : this.items;
  }

  /** The newest first; open ones count on the tab. */
  update(items) {
    this.items = items;
    const open = items.filter((item) => item.state === "open");
    const looking = this.view.sidebarTabs.selected === "requests";
    if (this.known && !looking) for (const item of open) if (!this.known.has(item.id)) this.unseen.add(item.id);
    this.known = new Set(items.map((item) => item.id));
    this.refill();
    this.markTab();
    if (this.dialog) this.dialog.refresh(items.find((item) => item.id === this.dialog.request.id));
    for (const tab of this.view.conversations.values()) tab.showRequest(this.openRequestOf(tab.id));
  }

  /** The customer's open callback or message request in this conversation, or null. */
  openRequestOf(conversationId) {
    return this.items.find((item) => item.conversation === conversationId && item.state === "open") || null;
  }

  /** In the chat of a customer with an open request: what they asked for, prominently, with "Mark done". */
  renderInChat(box, item) {
    box.hidden = !item;
    if (!item) return replaceChildren(box);
    const kind = item.kind === "callback" ? "callback" : "message";
    return replaceChildren(box,
      h("p", { class: "chat-request-head" }, icon(kind === "callback" ? "phone" : "chat"),
        h("strong", {}, `This customer has an open ${kind} request`),
        Number.isFinite(Number(item.ts)) ? timeElement(Number(item.ts)) : null),
      h("dl", { class: "kv" },
        h("dt", {}, CONTACT_KINDS[item.contact_kind] || "Contact"), h("dd", {}, item.contact),
        item.preferred_time ? [h("dt", {}, "Preferred time"), h("dd", {}, item.preferred_time)] : null,
        customerWords(item) ? [h("dt", {}, "They wrote"), h("dd", {}, item.description)] : null),
      h("div", { class: "request-actions" },
        h("span", { class: "muted" }, "Dealt with in this chat? Mark it done, or leave it ticked when you close."),
        h("button", { type: "button", class: "button small", onclick: () => this.markDone(item) }, icon("check"), "Mark done")));
  }

  render(item) {
    const ts = Number(item.ts);
    const open = item.state === "open";
    const nameOf = (login) => this.view.nameOf(login);
    return h("li", { class: `request-item${open ? "" : " is-handled"}`, dataset: { id: item.id } },
      h("div", { class: "request-top" },
        h("span", { class: `chip request-${item.kind}` }, icon(item.kind === "callback" ? "phone" : "chat"), KINDS[item.kind] || humanize(item.kind)),
        h("span", { class: `chip request-state request-state-${item.state}` }, stateText(item, nameOf)),
        Number.isFinite(ts) ? timeElement(ts) : null),
      assigneeChip(item, this.view.agent, nameOf),
      contactLine(item),
      customerWords(item) ? h("p", { class: "request-description" }, item.description) : null,
      item.summary && item.summary !== customerWords(item) ? h("p", { class: "request-summary" }, item.summary) : null,
      item.preferred_time ? h("p", { class: "request-meta" }, "Preferred time: ", h("strong", {}, item.preferred_time)) : null,
      item.booked_with === "bot" ? h("p", { class: "request-meta" }, "Booked with the assistant") : null,
      item.state === "answered" && item.answer_mail
        ? h("p", { class: "request-answer-where" }, answerWhere(item.answer_mail)) : null,
      servedSinceText(item, nameOf) && !item.settled_in_chat
        ? h("p", { class: "request-served" }, servedSinceText(item, nameOf)) : null,
      h("p", { class: "request-meta" }, "Conversation ", h("code", { class: "conversation-id", title: item.conversation }, shortId(item.conversation))),
      h("div", { class: "request-actions" },
        h("button", { type: "button", class: "button small", onclick: () => this.open(item) }, "Open conversation"),
        open && !item.assigned_to
          ? h("button", { type: "button", class: "button small", onclick: () => this.take(item) }, icon("person"), "Take it") : null,
        open ? h("button", { type: "button", class: "button small", onclick: () => this.markDone(item) }, icon("check"), "Mark done") : null));
  }

  /** Every item again (the list changed, the filter did, or the team's display names arrived). */
  refill() {
    const shown = this.shown();
    replaceChildren(this.list, shown.map((item) => this.render(item)));
    this.empty.hidden = shown.length > 0;
    replaceChildren(this.empty.querySelector("p"), this.onlyMine
      ? "No requests assigned to you. A supervisor may give you one, or take one from All."
      : "No callbacks or messages. When a customer leaves one instead of waiting, it is listed here.");
  }

  /** The agent takes an open request for themselves (a colleague who took it first is named). */
  async take(item) {
    try {
      await this.view.waiting.ask("assign_request", { request_id: item.id });
      this.view.toast(`${KINDS[item.kind] || "Request"} from ${item.contact} is yours.`);
    } catch (failure) {
      this.view.toast(failure && failure.code === "already_assigned" ? failure.message : describeError(failure), "error");
    }
  }

  /** A request was assigned to this agent (`request_assigned`): told at once, in a notification when the console is not
   *  on screen, and the tab marked until they look. Their own take in another console is no news. */
  assigned({ request_id: requestId, by }) {
    if (!by || by === this.view.agent) return;
    const item = this.items.find((each) => each.id === requestId);
    const what = item ? `${KINDS[item.kind] || "Request"} from ${item.contact}` : "A request";
    const text = `${this.view.nameOf(by)} assigned you a ${item ? (KINDS[item.kind] || "request").toLowerCase() : "request"}${item ? ` from ${item.contact}` : ""}.`;
    this.view.toast(text);
    this.view.chime();
    this.view.notifications.requestAssigned(requestId, this.view.nameOf(by), what, () => {
      this.view.reveal();
      this.view.sidebarTabs.select("requests");
      this.filter(true);
    });
    if (this.view.sidebarTabs.selected !== "requests" || document.hidden) {
      this.unseen.add(requestId);
      this.markTab();
    }
  }

  acknowledge() {
    this.unseen.clear();
    this.markTab();
  }

  /** The tab counts the open requests, marked while one the agent has not seen is still open (one dealt with
   *  meanwhile is no news: no marked "0"). */
  markTab() {
    const open = new Set(this.items.filter((item) => item.state === "open").map((item) => item.id));
    for (const id of this.unseen) if (!open.has(id)) this.unseen.delete(id);
    this.view.sidebarTabs.setCount("requests", open.size, this.unseen.size > 0);
  }

  async markDone(item) {
    try {
      await this.view.waiting.ask("request_done", { request_id: item.id });
      this.view.toast(`${KINDS[item.kind] || "Request"} marked done.`);
    } catch (failure) {
      this.view.toast(describeError(failure), "error");
    }
  }

  async open(item) {
    this.dialog = new RequestDialog(this, item);
    await this.dialog.load();
  }
}

/** One request: its conversation and context, with an answer box and "Mark done". */
class RequestDialog {
  constructor(panel, request) {
    this.panel = panel;
    this.view = panel.view;
    this.request = request;
    const titleId = dialogTitleId();
    this.state = h("span", { class: "chip request-state" });
    this.error = h("p", { class: "form-error", role: "alert" });
    this.where = h("p", { class: "request-answer-where", role: "status", hidden: true }); // where the answer went
    this.emailed = undefined; // the answer_request ack's `email`, once this agent answered here
    this.body = h("div", { class: "request-dialog-body" }, h("p", { class: "muted" }, "Loading the conversation…"));
    this.answer = h("textarea", { id: `answer-${request.id}`, class: "request-answer", rows: "3", maxlength: String(LIMITS.messageCharacters) });
    this.send = h("button", { type: "button", class: "button primary", onclick: () => this.sendAnswer() }, icon("send"), "Send answer");
    this.done = h("button", { type: "button", class: "button", onclick: () => this.markDone() }, icon("check"), "Mark done");
    const close = h("button", { type: "button", class: "button" }, "Close");
    this.form = h("form", { class: "request-answer-form", novalidate: true },
      h("label", { for: this.answer.id }, request.kind === "message" && request.contact_kind === "email"
        ? "Answer (the customer sees it in the chat when they come back, and by email when email is set up)"
        : "Answer (the customer sees it in the chat when they come back)"),
      this.answer);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendAnswer();
    });
    this.dialog = modal(titleId, "form-dialog",
      h("h2", { id: titleId }, `${KINDS[request.kind] || "Request"} from `, request.contact, " ", this.state),
      this.body, this.form, this.where, this.error,
      h("div", { class: "dialog-actions" }, close, this.done, this.send));
    close.addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      if (panel.dialog === this) panel.dialog = null;
    });
    this.refresh(request);
    this.answer.focus();
  }

  /** The request as the bridge says now (another agent may have dealt with it meanwhile). */
  refresh(request) {
    if (!request) return;
    this.request = request;
    this.state.textContent = stateText(request, (login) => this.view.nameOf(login));
    this.state.className = `chip request-state request-state-${request.state}`;
    const open = request.state === "open";
    this.form.hidden = !open;
    this.done.hidden = !open;
    this.send.hidden = !open;
    // Answered: where it went (the list's word on the email once it has one, else what the answer's ack said).
    const mailed = request.answer_mail || this.emailed;
    this.where.hidden = request.state !== "answered" || (mailed === undefined && !request.answer_mail);
    if (!this.where.hidden) this.where.textContent = answerWhere(mailed);
  }

  async load() {
    let opened;
    try {
      opened = await this.view.waiting.ask("open_request", { request_id: this.request.id });
    } catch (failure) {
      replaceChildren(this.body);
      this.error.textContent = describeError(failure);
      return;
    }
    this.refresh(opened.request);
    const conversation = opened.conversation || {};
    const handoff = conversation.handoff || {};
    const details = conversation.details || {};
    const request = opened.request;
    const rows = [
      ["Conversation", h("code", { class: "conversation-id", title: conversation.conversation_id }, shortId(conversation.conversation_id))],
      customerWords(request) ? ["Request", request.description] : null,
      request.preferred_time ? ["Preferred time", request.preferred_time] : null,
      request.assigned_to ? ["Assigned to", request.assigned_to === this.view.agent ? "You" : this.view.nameOf(request.assigned_to)] : null,
      conversation.reason ? ["Handed over", reasonLabel(conversation.reason)] : null,
      handoff.summary ? ["Summary", handoff.summary] : null,
      Array.isArray(handoff.topics) && handoff.topics.length ? ["Topics", handoff.topics.map(humanize).join(", ")] : null,
      details.description ? ["Customer says", details.description] : null,
    ].filter(Boolean);
    // Files left while the bot served are the request's too: the agent handling it may read them.
    const loadFile = (attachment) => fetchFile(new URL("/", location.href), conversation.conversation_id, attachment.id,
      `Bearer ${this.view.token}`);
    const messages = (opened.messages || []).map((message) => messageElement(message,
      (name, data) => data.shown_as || name || "Agent", this.view.agent,
      (login) => this.view.nameOf(login), loadFile)).filter(Boolean);
    replaceChildren(this.body,
      h("dl", { class: "kv request-context" }, rows.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
      h("h3", { class: "request-transcript-title" }, "Conversation"),
      messages.length
        ? h("ol", { class: "transcript teach-transcript request-transcript", "aria-label": "Transcript" }, messages)
        : h("p", { class: "muted" }, "No messages."));
  }

  async sendAnswer() {
    const text = this.answer.value.trim();
    if (!text) {
      this.error.textContent = "Write an answer first.";
      this.answer.focus();
      return;
    }
    this.error.textContent = "";
    this.send.disabled = true;
    try {
      const reply = await this.view.waiting.ask("answer_request", { request_id: this.request.id, text });
      this.emailed = reply.email || null;
      this.view.toast(answerWhere(this.emailed));
      // The dialog stays open, saying where the answer went ("… and by email to …", "… in the chat only").
      this.refresh({ ...this.request, state: reply.state, handled_by: this.view.agent });
    } catch (failure) {
      this.error.textContent = describeError(failure);
    } finally {
      this.send.disabled = false;
    }
  }

  async markDone() {
    this.error.textContent = "";
    try {
      await this.view.waiting.ask("request_done", { request_id: this.request.id });
      this.view.toast(`${KINDS[this.request.kind] || "Request"} marked done.`);
      this.dialog.close();
    } catch (failure) {
      this.error.textContent = describeError(failure);
    }
  }
}
