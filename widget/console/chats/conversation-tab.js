// One chat the agent serves, as a tab and its panel: the transcript (in the
// bridge's order, the agent's sends shown until stored), the customer's typing
// and read receipts, and the actions that end it here (transfer, hand back,
// close). The note a transfer carried is pinned above the transcript; a chat
// opened read-only (a mention, a supervisor) has notes only, no actions, and
// says who serves it, or, once closed, who closed it, how it ended and its rating.

import { h, replaceChildren, timeElement } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { compareMessageIds, newId } from "../../shared/transport.js";
import { TIMING, chatTitle, describeError, reasonLabel, shortId } from "../constants.js";
import { confirmDialog } from "../dialogs.js";
import { beganAt, customerPresenceChip, renderCustomerPresence } from "../presence.js";
import { messageElement, transferTarget, withMentions } from "../transcript.js";
import { Composer } from "./composer.js";
import { fetchFile } from "../../shared/files.js";
import { ContactPanel } from "./contact-panel.js";
import { EarlierPanel } from "./earlier-panel.js";
import { renderHandoff } from "./handoff-panel.js";
import { SlaCountdown } from "./sla.js";
import { SuggestionStrip } from "./suggestions.js";
import { TranscriptMailAction } from "./transcript-mail.js";
import { transferDialog } from "./transfer-dialog.js";
import { UnreadMessages, asksForAttention } from "./unread.js";
import { closingDialog, dispositionLabel } from "../workspace/closing-dialog.js";
import { labelChips, labelPicker } from "../workspace/labels.js";

// System notices after which the agent serving this tab is the one the customer talks to.
const SERVING_STARTS = new Set(["agent_joined", "transferred"]);

/** Back with the assistant, not handed over now: a read-only view says so rather than "Unknown reason". */
function withAssistant(data) {
  return data.state === "bot" && !data.reason;
}

/** Why the chat is with a person, or that it is with the assistant now. */
function reasonOf(data) {
  return withAssistant(data) ? "With the assistant" : reasonLabel(data.reason);
}

export class ConversationTab {
  constructor(view, data) {
    this.view = view;
    this.id = data.conversation_id;
    this.messages = new Map();
    this.order = [];
    this.pending = new Map();
    this.unreadMessages = new UnreadMessages(this.id, view.seenMessages);
    this.countUnread = false;
    this.lastCustomerId = null;
    this.readSent = null;
    this.seenUpTo = null;
    this.receiptElement = null;
    this.leaving = null;
    this.labels = data.labels || [];
    this.stickToBottom = true;
    this.typingTimer = null;
    this.readTimer = null;

    const panelId = `conversation-${this.id}`;
    // The response-time target's countdown (sla.js), in the header and, in short, on the tab.
    this.sla = new SlaCountdown();
    this.tabSla = h("span", { class: "chip tab-sla", hidden: true, "aria-hidden": "true" });
    this.tabTitle = h("span", { class: "tab-title" });
    this.tabBadge = h("span", { class: "tab-badge", hidden: true });
    this.tabTyping = h("span", { class: "tab-typing", hidden: true, title: "Customer is typing" }, h("span", { class: "visually-hidden" }, "typing"));
    this.tabButton = h("button", {
      type: "button", role: "tab", class: "conversation-tab", id: `tab-${this.id}`, "aria-controls": panelId,
      onclick: () => view.activate(this.id, false),
    }, this.tabTitle, h("span", { class: "tab-id" }, shortId(this.id)), this.tabSla, this.tabTyping, this.tabBadge);

    this.heading = h("h2", { class: "conversation-title" });
    this.headMeta = h("div", { class: "conversation-meta" });
    this.presence = customerPresenceChip(); // the customer: connected, typing, or gone and since when
    this.presenceState = { state: "gone", since: null };
    this.actionError = h("div", { class: "inline-error", role: "alert", hidden: true });
    this.transferButton = h("button", { type: "button", class: "button", onclick: () => transferDialog(view, this) }, icon("transfer"), "Transfer");
    this.handBackButton = h("button", { type: "button", class: "button", onclick: () => this.handBack() }, icon("bot"), "Hand back to bot");
    this.closeButton = h("button", { type: "button", class: "button danger-outline", onclick: () => closingDialog(view, this) }, icon("check"), "Close chat");
    this.labelsButton = h("button", { type: "button", class: "button", onclick: () => labelPicker(view, this) }, "Labels");
    this.transcriptMail = new TranscriptMailAction(this); // "Email transcript" (./transcript-mail.js)
    this.labelRow = h("div", { class: "chips conversation-labels", "aria-label": "Labels" });
    this.detailsToggle = h("button", {
      type: "button", class: "button details-toggle", "aria-expanded": "false", "aria-controls": `details-${this.id}`,
      onclick: () => this.toggleDetails(),
    }, icon("panel"), "Details");

    this.pinned = h("section", { class: "pinned-note", "aria-label": "Note from the transfer", hidden: true });
    // The customer's open callback or message request (requests.js), with "Mark done" right here.
    this.requestBox = h("section", { class: "chat-request", "aria-label": "Open request", hidden: true });
    this.viewBanner = h("p", { class: "view-banner", hidden: true });
    this.closedSummary = h("section", { class: "closed-summary", "aria-label": "How the chat ended", hidden: true });
    this.closeViewButton = h("button", { type: "button", class: "button", hidden: true, onclick: () => this.closeView() }, icon("close"), "Close");
    this.list = h("ol", { class: "transcript" });
    this.log = h("div", { class: "transcript-scroll", role: "log", "aria-label": "Transcript", tabindex: "0" }, this.list);
    this.log.addEventListener("scroll", () => {
      this.stickToBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 60;
    });
    // A picture takes its height only once loaded: the end stays in view if it was (load does not bubble).
    this.log.addEventListener("load", () => {
      if (this.stickToBottom) this.scrollToEnd();
    }, true);
    // So does a change of size after the scroll: the log shrinking as the panels around it fill in (suggested
    // replies, the composer growing, the handoff details), or the transcript growing by anything but a message.
    const keepEnd = new ResizeObserver(() => {
      if (this.stickToBottom) this.scrollToEnd();
    });
    keepEnd.observe(this.log);
    keepEnd.observe(this.list);
    this.typing = h("p", { class: "typing-indicator", "aria-live": "polite" });
    this.composer = new Composer(this);
    this.suggestions = new SuggestionStrip(this); // for the customer's latest message
    // Focusable so keyboard users can scroll it.
    // Who a signed-in customer is and their history (contact-panel.js), above the handoff's details.
    this.contact = new ContactPanel(this);
    // The chat the customer had just before this one, when they wrote again after its close (earlier-panel.js).
    this.earlier = new EarlierPanel(this);
    this.handoffDetails = h("div", { class: "handoff-details" });
    this.details = h("aside", { class: "handoff-panel", id: `details-${this.id}`, "aria-label": "Handoff details", tabindex: "0" },
      this.contact.element, this.earlier.element, this.handoffDetails);

    this.panel = h("section", { class: "conversation", role: "tabpanel", id: panelId, "aria-labelledby": this.tabButton.id, hidden: true },
      h("header", { class: "conversation-head" },
        h("div", { class: "conversation-heading" }, this.heading, this.headMeta, this.labelRow),
        h("div", { class: "conversation-actions" }, this.detailsToggle, this.labelsButton, this.transcriptMail.button,
          this.transferButton, this.handBackButton, this.closeButton, this.closeViewButton)),
      this.actionError, this.transcriptMail.status,
      h("div", { class: "conversation-body" },
        h("div", { class: "chat-column" }, this.viewBanner, this.closedSummary, this.pinned, this.requestBox, this.log,
          this.typing, this.suggestions.element, this.composer.element),
        this.details));
    this.update(data);
    this.showRequest(view.requests.openRequestOf(this.id));
  }

  showRequest(item) {
    this.view.requests.renderInChat(this.requestBox, item);
  }

  update(data) {
    this.data = data;
    const handoff = data.handoff || {};
    // As its queue card named it: one chat, one name; a signed-in customer's name first, as their site
    // signed it (their card shows it under the title; the contact panel says "verified").
    const name = data.contact && data.contact.name;
    const title = chatTitle(handoff.topic, data.reason, name);
    this.tabTitle.textContent = name && title !== name ? `${name} · ${title}` : title;
    this.heading.textContent = this.tabTitle.textContent;
    if (data.customer_presence) this.setPresence(data.customer_presence);
    this.sla.set(data.view || data.state !== "agent" ? null : data.sla); // a read-only view counts nothing down
    renderHandoff(this.handoffDetails, data);
    this.contact.update(data);
    this.setViewOnly(Boolean(data.view));
    this.renderNames();
    if (data.labels) this.setLabels(data.labels);
    this.transcriptMail.update(data);
  }

  /** Whatever names a colleague, by their display name once the team is known (view.nameOf). */
  renderNames() {
    const data = this.data;
    const nameOf = (login) => this.view.nameOf(login);
    replaceChildren(this.headMeta,
      this.presence.element,
      this.sla.element,
      data.state === "closed" ? h("span", { class: "chip chip-closed" }, "Closed") : null,
      h("span", { class: `chip reason reason-${data.reason || (withAssistant(data) ? "bot" : "unknown")}` }, reasonOf(data)),
      data.transferred_by ? h("span", { class: "chip chip-transferred" }, `Transferred by ${nameOf(data.transferred_by)}`) : null,
      h("span", { class: "meta-item" }, h("span", { class: "visually-hidden" }, "Conversation "), shortId(this.id)));
    this.earlier.render(data);
    this.renderPinned(data.transfer_note || null);
    this.viewBanner.textContent = !this.viewOnly ? "" : `Read only: ${
      data.closed ? "this chat is closed"
        : data.serving_agent ? `${nameOf(data.serving_agent)} is serving this chat`
          : withAssistant(data) ? "the assistant is serving this customer now (earlier chats are in the transcript)"
            : "nobody is serving this chat"}. You can add notes for the team.`;
    this.renderClosed(this.viewOnly ? data.closed || null : null);
    for (const entry of this.messages.values()) { // a transfer note names whom it went to
      if (entry.message.kind !== "note" || !(entry.message.data && entry.message.data.transfer) || !entry.element) continue;
      const element = this.renderMessage(entry.message);
      entry.element.replaceWith(element);
      entry.element = element;
    }
  }

  /** A closed chat read by a colleague: who closed it and when, its outcome, closing note and rating. */
  renderClosed(closed) {
    this.closedSummary.hidden = !closed;
    if (!closed) return replaceChildren(this.closedSummary);
    const rating = closed.rating;
    const row = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
    replaceChildren(this.closedSummary,
      h("h3", { class: "closed-title" }, "Closed by ", this.view.nameOf(closed.by || "") || "an agent",
        Number.isFinite(closed.closed_at) ? [" · ", timeElement(closed.closed_at, undefined, null, { dated: true })] : null),
      h("dl", { class: "closed-facts" },
        row("Outcome", closed.disposition ? dispositionLabel(closed.disposition) : "None given"),
        row("Closing note", closed.closing_note || h("span", { class: "muted" }, "None")),
        row("Rating", rating
          ? [`${rating.score} of 5`, rating.comment ? h("span", { class: "closed-comment" }, ` · “${rating.comment}”`) : null]
          : h("span", { class: "muted" }, "Not rated yet"))));
  }

  /** The note the transfer carried, first thing the receiving agent reads (it stays in the transcript too). */
  renderPinned(note) {
    this.pinned.hidden = !note;
    if (!note) return replaceChildren(this.pinned);
    replaceChildren(this.pinned,
      h("p", { class: "pinned-head" }, icon("note"),
        h("strong", {}, `${note.by_name || note.by} transferred this chat ${transferTarget(note, (login) => this.view.nameOf(login))} with a note`),
        h("span", { class: "note-privacy" }, "Only your team sees this")),
      h("p", { class: "msg-text" }, withMentions(String(note.text || ""), this.view.agent)));
  }

  /** Read-only (a colleague's chat opened from a mention): notes only, no actions; false once it is this agent's. */
  setViewOnly(viewOnly) {
    this.viewOnly = viewOnly;
    this.panel.classList.toggle("is-view-only", viewOnly);
    for (const button of [this.labelsButton, this.transferButton, this.handBackButton, this.closeButton]) button.hidden = viewOnly;
    this.closeViewButton.hidden = !viewOnly;
    this.viewBanner.hidden = !viewOnly;
    this.tabButton.classList.toggle("is-view-only", viewOnly);
    this.composer.setViewOnly(viewOnly);
  }

  async closeView() {
    this.leaving = { type: "unview" };
    try {
      await this.view.waiting.ask("unview", { conversation_id: this.id });
    } catch (error) {
      this.leaving = null;
      this.showActionError(error);
    }
  }

  /** The chat before this one again (``earlier``: rated since this chat opened); null once it is gone. */
  setEarlier(earlier) {
    this.data = { ...this.data, earlier };
    this.earlier.render(this.data);
  }

  setLabels(ids) {
    this.labels = ids;
    this.renderLabels();
  }

  renderLabels() {
    replaceChildren(this.labelRow, labelChips(this.labels, this.view.labels));
  }

  /** The bridge's word on the customer (the conversation, customer_presence): state and seconds so far. */
  setPresence({ state, seconds }) {
    this.presenceState = { state, since: beganAt(seconds) };
    this.tick();
  }

  tick(now = Date.now()) {
    renderCustomerPresence(this.presence, this.presenceState.state, this.presenceState.since, now);
    const level = this.sla.render(now);
    this.tabSla.hidden = !level;
    this.tabSla.className = `chip tab-sla sla-${level}`;
    this.tabSla.textContent = this.sla.element.textContent;
  }

  setActive(active) {
    this.tabButton.setAttribute("aria-selected", String(active));
    this.tabButton.tabIndex = active ? 0 : -1;
    this.panel.hidden = !active;
    if (active) {
      this.tabButton.classList.remove("is-arrived");
      if (this.stickToBottom) this.scrollToEnd();
    }
  }

  markArrived() {
    this.tabButton.classList.add("is-arrived");
  }

  get unread() {
    return this.unreadMessages.count;
  }

  /** The agent is looking at this tab: nothing is unread, the customer may learn it was read. */
  seen() {
    this.unreadMessages.clear(this.order[this.order.length - 1]);
    this.renderBadge();
    this.scheduleRead();
  }

  renderBadge() {
    this.tabBadge.hidden = this.unread === 0;
    replaceChildren(this.tabBadge, String(this.unread), h("span", { class: "visually-hidden" }, " unread"));
  }

  // ---- the transcript ---------------------------------------------------------

  receiveMessage(envelope) {
    const id = envelope.id;
    if (!id || this.messages.has(id)) return; // the transcript is sent again after a reconnect
    const message = { id, ...envelope.data };
    const element = this.renderMessage(message);
    this.messages.set(id, { message, element });
    let index = this.order.length;
    while (index > 0 && compareMessageIds(this.order[index - 1], id) > 0) index -= 1;
    this.order.splice(index, 0, id);
    this.sla.message(message);
    if (element) this.list.insertBefore(element, this.elementAfter(index));

    const notice = message.kind === "system" ? (message.data || {}).notice : "";
    if (notice === "transcript_sent") this.transcriptMail.sent();
    if (notice === "transcript_failed") this.transcriptMail.failed();
    if (message.kind === "system" && SERVING_STARTS.has(message.data && message.data.notice)) {
      this.countUnread = true;
      this.unreadMessages.clear(null);
    }
    if (message.kind === "customer") {
      if (!this.lastCustomerId || compareMessageIds(id, this.lastCustomerId) > 0) {
        this.lastCustomerId = id;
        this.suggestions.customerMessage(id);
      }
      this.customerTyping(false);
    }
    // Unread until the agent sees this tab (unread.js); news in a tab not on screen may notify (notifications.js).
    if (asksForAttention(message, this.view.agent)) {
      if (this.view.isViewing(this)) this.seen();
      else if (this.countUnread && this.unreadMessages.add(id)) this.view.unreadArrived(this, message);
      this.renderBadge();
      this.view.updateAttention();
    }
    if (message.kind === "agent" || message.kind === "note") {
      if (message.data && message.data.agent === this.view.agent) this.settlePending(message);
      if (message.kind === "agent") this.refreshReceipt();
    }
    if (this.stickToBottom) this.scrollToEnd();
  }

  /** The element a message at `index` of the order goes before (pending sends stay last). */
  elementAfter(index) {
    for (const id of this.order.slice(index + 1)) {
      const element = this.messages.get(id).element;
      if (element) return element;
    }
    return this.pending.values().next().value || null;
  }

  renderMessage(message) {
    // Each agent message signed by who wrote it (a colleague's before a transfer is theirs, not "You").
    const element = messageElement(message, (agent, data) => (agent === this.view.agent ? "You" : data.shown_as || agent || "Agent"),
      this.view.agent, (login) => this.view.nameOf(login),
      // A contact's earlier chat opened from the history beside another: its files through that one, as the view.
      (attachment) => fetchFile(new URL("/", location.href), this.id, attachment.id, `Bearer ${this.view.token}`,
        { via: this.view.viewedVia.get(this.id) || null }));
    // "Sent" or "Seen" under the agent's latest message (refreshReceipt).
    if (element && message.kind === "agent") element.append(h("p", { class: "msg-status" }));
    return element;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // ---- the agent's sends --------------------------------------------------------

  send(text) {
    const id = newId();
    const element = h("li", { class: "msg msg-agent is-pending" },
      h("div", { class: "msg-meta" }, h("span", { class: "msg-author" }, "You")),
      h("div", { class: "msg-bubble" }, h("p", { class: "msg-text" }, text)),
      h("p", { class: "msg-status" }, "Sending…"));
    this.pending.set(id, element);
    this.list.append(element);
    this.stickToBottom = true;
    this.scrollToEnd();
    this.view.waiting.send("message", { conversation_id: this.id, text }, id).then(() => {
      // Usually the stored copy has replaced this one already; if not, it is on its way.
      element.querySelector(".msg-status").textContent = "Sent";
    }, (error) => this.failPending(id, `Not sent: ${describeError(error)}`));
  }

  /** A private note for the team: shown yellow at once, replaced by the stored copy. */
  sendNote(text) {
    const id = newId();
    const element = h("li", { class: "msg msg-note msg-own is-pending" },
      h("div", { class: "msg-meta" }, h("span", { class: "badge badge-note" }, icon("note"), "Note"), h("span", { class: "msg-author" }, "You")),
      h("div", { class: "msg-bubble" }, h("p", { class: "msg-text" }, withMentions(text, this.view.agent))),
      h("p", { class: "msg-status" }, "Saving…"));
    this.pending.set(id, element);
    this.list.append(element);
    this.stickToBottom = true;
    this.scrollToEnd();
    this.view.waiting.send("note", { conversation_id: this.id, text }, id).then((ack) => {
      const mentioned = (ack && ack.mentioned) || [];
      // Colleagues as the console shows them (their display names), never by login.
      const told = mentioned.map((name) => this.view.nameOf(name)).join(", ");
      element.querySelector(".msg-status").textContent = mentioned.length ? `Saved · ${told} notified` : "Saved";
      if (mentioned.length) this.view.toast(`Note saved; ${told} notified.`);
    }, (error) => this.failPending(id, `Not saved: ${describeError(error)}`));
  }

  /**
   * A send the bridge refused: it stays where it was sent (later messages go below it, not above: it is no
   * longer pending), says why, loses its progress bar (a file's), and can be dismissed.
   */
  failPending(id, text) {
    const element = this.pending.get(id);
    if (!element) return;
    this.pending.delete(id);
    element.classList.add("is-failed");
    for (const bar of element.querySelectorAll("progress")) bar.remove();
    replaceChildren(element.querySelector(".msg-status"), text, " ",
      h("button", { type: "button", class: "button small ghost msg-dismiss", onclick: () => element.remove() }, "Dismiss"));
  }

  /** The stored copy of a sent message arrived (named by the id it was sent with): the "sending…" copy goes. */
  settlePending(message) {
    const element = this.pending.get(message.client_id);
    if (!element) return;
    element.remove();
    this.pending.delete(message.client_id);
  }

  // ---- signals ----------------------------------------------------------------

  customerTyping(active) {
    clearTimeout(this.typingTimer);
    this.typing.textContent = active ? "Customer is typing…" : "";
    this.tabTyping.hidden = !active;
    if (active) this.typingTimer = setTimeout(() => this.customerTyping(false), TIMING.customerTypingTimeoutMs);
  }

  customerRead(upTo) {
    if (!this.seenUpTo || compareMessageIds(upTo, this.seenUpTo) > 0) this.seenUpTo = upTo;
    this.refreshReceipt();
  }

  /**
   * "Seen" or "Sent" under the agent's latest stored message only; none in a read-only view, which never
   * learns what the customer read before it opened (it would say "Sent" where the sender sees "Seen").
   */
  refreshReceipt() {
    const lastAgent = [...this.order].reverse().find((id) => this.messages.get(id).message.kind === "agent");
    if (!lastAgent) return;
    const element = this.messages.get(lastAgent).element;
    if (this.receiptElement && (this.receiptElement !== element || this.viewOnly)) this.receiptElement.querySelector(".msg-status").textContent = "";
    if (this.viewOnly) {
      this.receiptElement = null;
      return;
    }
    this.receiptElement = element;
    const seen = this.seenUpTo && compareMessageIds(lastAgent, this.seenUpTo) <= 0;
    const status = element.querySelector(".msg-status");
    status.textContent = seen ? "Seen" : "Sent";
    element.classList.toggle("is-seen", Boolean(seen));
  }

  scheduleRead() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      const upTo = this.lastCustomerId;
      if (!upTo || !this.view.isViewing(this)) return;
      if (this.readSent && compareMessageIds(upTo, this.readSent) <= 0) return;
      this.view.signal("read", { conversation_id: this.id, up_to: upTo });
      this.readSent = upTo;
    }, TIMING.readReceiptDelayMs);
  }

  // ---- actions ----------------------------------------------------------------

  /** hand_back, close or transfer: acknowledged, then the bridge sends "released". */
  async act(type, extra = {}) {
    this.leaving = { type, ...extra };
    this.setBusy(true);
    this.actionError.hidden = true;
    try {
      await this.view.waiting.send(type, { conversation_id: this.id, ...extra });
    } catch (error) {
      this.leaving = null;
      this.setBusy(false);
      throw error;
    }
  }

  /** Asked first: a mis-click would leave a customer who wanted a person with the bot again. */
  async handBack() {
    const sure = await confirmDialog({
      title: "Hand this chat back to the bot?",
      text: "The customer is no longer served by a person: the assistant answers them again. They can ask for a person again.",
      confirm: "Hand back",
    });
    if (!sure) return;
    try {
      await this.act("hand_back");
    } catch (error) {
      this.showActionError(error);
    }
  }

  showActionError(error) {
    replaceChildren(this.actionError, icon("info"), h("span", {}, describeError(error)));
    this.actionError.hidden = false;
  }

  setBusy(busy) {
    for (const button of [this.labelsButton, this.transferButton, this.handBackButton, this.closeButton]) button.disabled = busy;
    this.composer.setDisabled(busy);
  }

  toggleDetails() {
    const open = !this.panel.classList.contains("show-details");
    this.panel.classList.toggle("show-details", open);
    this.detailsToggle.setAttribute("aria-expanded", String(open));
  }

  destroy() {
    clearTimeout(this.typingTimer);
    clearTimeout(this.readTimer);
    this.composer.destroy();
    this.suggestions.destroy();
    this.tabButton.remove();
    this.panel.remove();
  }
}
