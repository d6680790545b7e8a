// The agents' view: the live queue and left requests on the left, the chats
// they serve as tabs on the right (transcript, handoff details, composer).
//
// All protocol traffic goes through one Transport (docs/bridge-protocol.md);
// the classes below only turn envelopes into DOM and clicks into sends.

import { h, replaceChildren, syncList } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { PendingRequests } from "../shared/requests.js";
import { Transport, compareMessageIds, newId } from "../shared/transport.js";
import {
  LIMITS, STORAGE, TIMING, describeError, humanize, loginProtocols, readableIntent, reasonLabel, socketUrl,
} from "./constants.js";
import { confirmDialog, dialogTitleId, modal } from "./dialogs.js";
import { Tabs } from "./tabs.js";
import { RequestsPanel } from "./requests.js";
import { messageElement } from "./transcript.js";
import { View } from "./view.js";

export function createChatsView(context) {
  return new ChatsView(context);
}

// ---- small formatting helpers -------------------------------------------------

/** Seconds as a clock: "0:05", "12:30", "1:02:03". */
function formatWait(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

function shortId(conversationId) {
  return `#${conversationId.slice(0, 6)}`;
}

function percent(fraction) {
  return `${Math.round(fraction * 100)}%`;
}

/** A plain value from a payload (numbers, strings, lists) as one readable line. */
function plainValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map(plainValue).join(", ");
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// ---- the transfer dialog -----------------------------------------------------------

/** The transfer choice: an online colleague, or a skill group's queue. */
async function transferDialog(view, tab) {
  const titleId = dialogTitleId();
  const body = h("div", { class: "transfer-body" }, h("p", { class: "muted" }, "Loading your team…"));
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "button primary", disabled: true }, icon("transfer"), "Transfer");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const form = h("form", { class: "transfer-form", novalidate: true },
    h("h2", { id: titleId }, "Transfer chat"),
    h("p", { class: "dialog-text" }, "Pass this conversation to a colleague who is online, or back to the front of a skill group's queue."),
    body, error,
    h("div", { class: "dialog-actions" }, cancel, submit));
  const dialog = modal(titleId, "wide", form);
  cancel.addEventListener("click", () => dialog.close());
  cancel.focus();

  let team;
  try {
    team = await view.waiting.ask("team");
  } catch (failure) {
    replaceChildren(body);
    error.textContent = describeError(failure);
    return;
  }
  const choice = (value, title, meta, disabled) => {
    const id = `choice-${newId()}`;
    return h("li", { class: `choice${disabled ? " is-disabled" : ""}` },
      h("input", { type: "radio", name: "target", value, id, disabled }),
      h("label", { for: id }, h("span", { class: "choice-title" }, title), h("span", { class: "choice-meta" }, meta)));
  };
  const colleagues = team.agents.filter((agent) => agent.name !== view.agent);
  const available = (agent) => agent.online && agent.serving < agent.max_chats;
  colleagues.sort((a, b) => Number(available(b)) - Number(available(a)) || a.name.localeCompare(b.name));
  const groupsText = (groups) => (groups.includes("all") ? "all groups" : groups.join(", "));
  replaceChildren(body,
    h("fieldset", {},
      h("legend", {}, "Colleagues"),
      colleagues.length
        ? h("ul", { class: "choices" }, colleagues.map((agent) => choice(
          `agent:${agent.name}`, agent.name,
          !agent.online ? "offline" : `${agent.serving} of ${agent.max_chats} chats${available(agent) ? "" : " · full"} · ${groupsText(agent.groups)}`,
          !available(agent))))
        : h("p", { class: "muted" }, "No colleagues yet.")),
    h("fieldset", {},
      h("legend", {}, "Skill groups"),
      h("ul", { class: "choices" }, team.groups.map((group) => choice(
        `group:${group}`, group, "front of this group's queue", false)))));
  const radios = [...form.querySelectorAll("input[type=radio]")];
  for (const radio of radios) radio.addEventListener("change", () => { submit.disabled = false; });
  const first = radios.find((radio) => !radio.disabled);
  if (first) first.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = radios.find((radio) => radio.checked);
    if (!picked) return;
    const [kind, ...rest] = picked.value.split(":");
    const target = rest.join(":");
    error.textContent = "";
    submit.disabled = true;
    submit.lastChild.textContent = "Transferring…";
    try {
      await tab.act("transfer", kind === "agent" ? { to_agent: target } : { to_group: target });
      dialog.close();
    } catch (failure) {
      error.textContent = describeError(failure);
      submit.disabled = false;
      submit.lastChild.textContent = "Transfer";
    }
  });
}

// ---- the view ---------------------------------------------------------------------

/** What the agent is told when a chat leaves their tabs, by what they did (nothing: elsewhere). */
function releasedText(leaving) {
  if (!leaving) return "A chat is no longer yours: it was closed, handed back or transferred elsewhere.";
  if (leaving.type === "hand_back") return "Chat handed back to the bot.";
  if (leaving.type === "close") return "Chat closed. The customer is asked to rate it.";
  return leaving.to_agent ? `Chat transferred to ${leaving.to_agent}.` : `Chat moved to the front of the ${leaving.to_group} queue.`;
}

class ChatsView extends View {
  constructor({ session, sound, watchConnection, setAttention }) {
    super();
    this.agent = session.agent;
    this.displayName = session.displayName; // what customers see, never the login name
    this.sound = sound;
    this.setAttention = setAttention;
    this.visible = false;
    this.muted = localStorage.getItem(STORAGE.muted) === "1";
    this.canned = [];
    this.conversations = new Map();
    this.activeId = null;
    this.pendingClaims = new Set();
    this.restoring = null; // ids of conversations re-sent after a (re)connection, while they arrive

    this.transport = new Transport(socketUrl("/ws/agent"), { protocols: loginProtocols(session.token) });
    watchConnection(this.transport);
    this.waiting = new PendingRequests(this.transport);
    this.transport.on("envelope", (envelope) => this.receive(envelope));
    this.transport.on("failed", ({ item, error }) => this.waiting.settle(item.id, null, error));

    this.queue = new QueuePanel(this);
    this.requests = new RequestsPanel(this);
    this.build();
    this.onVisibility = () => this.viewingChanged();
    document.addEventListener("visibilitychange", this.onVisibility);
    this.ticker = setInterval(() => this.queue.tick(), TIMING.tickMs);
    this.transport.connect();
  }

  build() {
    this.muteButton = h("button", { type: "button", class: "icon-button", onclick: () => this.toggleMute() });
    this.renderMute();
    this.sidebarTabs = new Tabs("sidebar", "Queue and requests", [
      { id: "queue", label: "Queue", panel: this.queue.element },
      { id: "requests", label: "Requests", panel: this.requests.element },
    ], {
      onSelect: (id) => {
        if (id === "requests") this.requests.acknowledge();
      },
    });

    this.alertText = h("span", { class: "alert-text" });
    this.alertBanner = h("div", { class: "alert-banner", role: "status", hidden: true },
      icon("bell"), this.alertText,
      h("button", { type: "button", class: "button small", onclick: () => this.showNewInQueue() }, "Show"),
      h("button", { type: "button", class: "button small ghost", onclick: () => this.queue.acknowledgeAll() }, "Dismiss"));

    this.tabList = h("div", { class: "conversation-tabs", role: "tablist", "aria-label": "Your chats" });
    this.tabList.addEventListener("keydown", (event) => this.tabKeys(event));
    this.noChats = h("div", { class: "empty-state" },
      icon("chat", "icon empty-icon"),
      h("h2", {}, "No open chats"),
      h("p", {}, "Claim a customer from the queue to start. Every chat you serve opens here as a tab."));
    this.panels = h("div", { class: "conversation-panels" }, this.noChats);
    this.toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });

    this.element = h("section", { class: "view chats-view", "aria-label": "Chats", hidden: true },
      h("aside", { class: "sidebar", "aria-label": "Queue and requests" },
        h("div", { class: "sidebar-head" }, this.sidebarTabs.list, this.muteButton),
        this.sidebarTabs.panels),
      h("section", { class: "workspace", "aria-label": "Open chats" }, this.alertBanner, this.tabList, this.panels),
      this.toasts);
  }

  // ---- protocol --------------------------------------------------------------

  receive(envelope) {
    const data = envelope.data || {};
    const tab = this.conversations.get(data.conversation_id);
    switch (envelope.type) {
      case "queue":
        this.queue.update(data.items || []);
        this.waiting.settle(envelope.id, data);
        break;
      case "queue_changed":
        this.queue.change(data);
        break;
      case "requests":
        this.requests.update(data.items || []);
        break;
      case "canned":
        this.canned = data.items || [];
        this.awaitRestoredConversations();
        break;
      case "conversation":
        this.openConversation(data);
        break;
      case "message":
        if (tab) tab.receiveMessage(envelope);
        break;
      case "typing":
        if (tab) tab.customerTyping(Boolean(data.active));
        break;
      case "read":
        if (tab && typeof data.up_to === "string") tab.customerRead(data.up_to);
        break;
      case "released":
        this.release(data.conversation_id);
        break;
      case "ack":
      case "team":
      case "request":
        this.waiting.settle(envelope.id, data);
        break;
      case "error":
        this.waiting.refused(envelope);
        break;
      default:
        break;
    }
  }

  /**
   * After "canned" the bridge sends the conversations this agent serves; it answers a
   * question only after them. So a conversation arriving later was transferred here, and
   * a tab the bridge did not send again is no longer this agent's (closed in another
   * window, or requeued while this one was disconnected too long).
   */
  awaitRestoredConversations() {
    const restored = new Set();
    this.restoring = restored;
    this.waiting.ask("queue").then(() => {
      this.restoring = null;
      for (const id of [...this.conversations.keys()]) {
        if (!restored.has(id)) this.release(id);
      }
    }, () => { this.restoring = null; });
  }

  signal(type, data) {
    this.transport.sendNow(type, data);
  }

  // ---- conversations -----------------------------------------------------------

  claim(conversationId) {
    this.pendingClaims.add(conversationId);
    return this.waiting.send("claim", { conversation_id: conversationId }).catch((error) => {
      this.pendingClaims.delete(conversationId);
      // A claim resent after a reconnect is refused although it is ours already.
      if (!this.conversations.has(conversationId)) throw error;
    });
  }

  openConversation(data) {
    let tab = this.conversations.get(data.conversation_id);
    const isNew = !tab;
    if (tab) {
      tab.update(data);
    } else {
      tab = new ConversationTab(this, data);
      this.conversations.set(tab.id, tab);
      this.tabList.append(tab.tabButton);
      this.panels.append(tab.panel);
    }
    const claimedHere = this.pendingClaims.delete(tab.id);
    if (this.restoring) this.restoring.add(tab.id);
    const transferredHere = isNew && !claimedHere && !this.restoring;
    if (claimedHere || !this.activeId) this.activate(tab.id, claimedHere);
    else if (transferredHere) tab.markArrived();
    if (transferredHere) {
      this.chime();
      this.toast(data.transferred_by ? `${data.transferred_by} transferred a chat to you.` : "A colleague transferred a chat to you.");
    }
    this.noChats.hidden = this.conversations.size > 0;
    this.updateAttention();
  }

  release(conversationId) {
    const tab = this.conversations.get(conversationId);
    if (!tab) return;
    const index = [...this.conversations.keys()].indexOf(conversationId);
    this.toast(releasedText(tab.leaving));
    tab.destroy();
    this.conversations.delete(conversationId);
    if (this.activeId === conversationId) {
      this.activeId = null;
      const ids = [...this.conversations.keys()];
      const next = ids[Math.min(index, ids.length - 1)];
      if (next) {
        this.activate(next, false);
        this.conversations.get(next).tabButton.focus();
      }
    }
    this.noChats.hidden = this.conversations.size > 0;
    this.updateAttention();
  }

  activate(conversationId, focusComposer) {
    this.activeId = conversationId;
    for (const tab of this.conversations.values()) tab.setActive(tab.id === conversationId);
    if (focusComposer) this.conversations.get(conversationId).composer.focus();
    this.viewingChanged();
  }

  tabKeys(event) {
    const tabs = [...this.conversations.values()];
    const index = tabs.findIndex((tab) => tab.tabButton === document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    this.activate(next.id, false);
    next.tabButton.focus();
  }

  isViewing(tab) {
    return this.visible && document.visibilityState === "visible" && this.activeId === tab.id;
  }

  viewingChanged() {
    for (const tab of this.conversations.values()) {
      if (this.isViewing(tab)) tab.seen();
    }
    this.updateAttention();
  }

  // ---- alerts ----------------------------------------------------------------

  renderAlert() {
    const fresh = this.queue.freshItems();
    this.alertBanner.hidden = fresh.length === 0;
    if (fresh.length === 1) {
      const item = fresh[0];
      this.alertText.textContent = `New chat waiting: ${[reasonLabel(item.reason), humanize(item.topic)].filter(Boolean).join(" · ")}`;
    } else if (fresh.length) {
      this.alertText.textContent = `${fresh.length} new chats waiting`;
    }
  }

  showNewInQueue() {
    this.sidebarTabs.select("queue");
    this.queue.focusFirstFresh();
  }

  updateAttention() {
    this.renderAlert();
    const unread = [...this.conversations.values()].reduce((sum, tab) => sum + tab.unread, 0);
    this.setAttention(this.queue.freshItems().length + unread);
  }

  chime() {
    const context = this.muted ? null : this.sound.ready();
    if (!context) return;
    const start = context.currentTime;
    // Two short rising notes: noticeable, not alarming.
    [660, 880].forEach((frequency, index) => {
      const at = start + index * 0.16;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.32);
    });
  }

  toggleMute() {
    this.muted = !this.muted;
    localStorage.setItem(STORAGE.muted, this.muted ? "1" : "0");
    this.renderMute();
  }

  renderMute() {
    replaceChildren(this.muteButton, icon(this.muted ? "bellOff" : "bell"));
    this.muteButton.setAttribute("aria-pressed", String(this.muted));
    this.muteButton.setAttribute("aria-label", "Mute alert sound");
    this.muteButton.title = this.muted ? "Alert sound is muted" : "Alert sound is on";
  }

  toast(text, kind = "info") {
    const item = h("div", { class: `toast toast-${kind}` }, icon(kind === "error" ? "info" : "check"), h("span", {}, text));
    this.toasts.append(item);
    setTimeout(() => item.remove(), TIMING.toastMs);
  }

  // ---- the view's life ------------------------------------------------------

  show() {
    this.visible = true;
    super.show();
    this.viewingChanged();
  }

  hide() {
    this.visible = false;
    super.hide();
  }

  async confirmLeave() {
    // A message or a close just sent is finished by the bridge only if the socket stays until its ack.
    const deadline = Date.now() + TIMING.logoutGraceMs;
    while (this.transport.pending().length && Date.now() < deadline) {
      await new Promise((resolve) => { setTimeout(resolve, 100); });
    }
    const unsent = this.transport.pending().length;
    if (unsent && !(await confirmDialog({
      title: "Log out without sending?",
      text: `${unsent} message${unsent > 1 ? "s or actions have" : " or action has"} not reached the server yet, and will be lost.`,
      confirm: "Log out",
      danger: true,
    }))) return false;
    const count = this.conversations.size;
    if (!count) return true;
    return confirmDialog({
      title: "Log out?",
      text: `You are serving ${count} chat${count > 1 ? "s" : ""}. If you stay away, ${count > 1 ? "they go" : "it goes"} back to the front of the queue for a colleague.`,
      confirm: "Log out",
      danger: true,
    });
  }

  destroy() {
    clearInterval(this.ticker);
    document.removeEventListener("visibilitychange", this.onVisibility);
    for (const tab of this.conversations.values()) tab.destroy();
    this.transport.close();
  }
}

// ---- the queue ----------------------------------------------------------------------

class QueuePanel {
  constructor(view) {
    this.view = view;
    this.items = [];
    this.known = null; // ids in the last queue; null until the first one (which never alerts)
    this.fresh = new Set();
    this.claiming = new Set();
    this.entries = new Map();
    this.error = h("div", { class: "inline-error", role: "alert", hidden: true });
    this.list = h("ul", { class: "queue-list", "aria-label": "Customers waiting" });
    this.empty = h("div", { class: "empty-state small" }, icon("inbox", "icon empty-icon"),
      h("p", {}, "Nobody is waiting. New customers appear here at once."));
    this.element = h("div", { class: "queue-panel" }, this.error, this.list, this.empty);
  }

  /** The whole queue (on connect, on request, after a resync). */
  update(items) {
    const now = Date.now();
    this.show(items.map((item) => ({ ...item, since: now - item.waiting_seconds * 1000 })));
  }

  /** A change of the queue: items added or changed, ids removed; the order is the bridge's (queued_at). */
  change({ added = [], updated = [], removed = [] }) {
    const now = Date.now();
    const byId = new Map(this.items.map((item) => [item.conversation_id, item]));
    for (const id of removed) byId.delete(id);
    for (const item of [...added, ...updated]) {
      byId.set(item.conversation_id, { ...item, since: now - item.waiting_seconds * 1000 });
    }
    this.show([...byId.values()].sort((a, b) => a.queued_at - b.queued_at));
  }

  show(items) {
    this.items = items;
    const ids = new Set(items.map((item) => item.conversation_id));
    const arrived = this.known ? items.filter((item) => !this.known.has(item.conversation_id)) : [];
    // A conversation that leaves the queue and comes back (transferred, agent lost) alerts again.
    this.known = ids;
    for (const item of arrived) this.fresh.add(item.conversation_id);
    for (const id of [...this.fresh]) if (!ids.has(id)) this.fresh.delete(id);
    for (const id of [...this.claiming]) if (!ids.has(id)) this.claiming.delete(id);
    // Keeps the bridge's order: oldest first.
    syncList(this.list, this.entries, items, {
      key: (item) => item.conversation_id,
      create: (item) => this.createEntry(item.conversation_id),
      update: (entry, item) => this.fill(entry, item),
    });
    this.empty.hidden = items.length > 0;
    this.view.sidebarTabs.setCount("queue", items.length, this.fresh.size > 0);
    this.tick();
    if (arrived.length) this.view.chime();
    this.view.updateAttention();
  }

  createEntry(conversationId) {
    const claim = h("button", { type: "button", class: "button primary small", onclick: () => this.claim(conversationId) });
    const wait = h("span", {});
    const topic = h("p", { class: "queue-topic" });
    const body = h("div", { class: "queue-body" });
    const element = h("li", { class: "queue-item" },
      h("div", { class: "queue-top" }, topic,
        h("span", { class: "wait" }, icon("clock"), h("span", { class: "visually-hidden" }, "Waiting "), wait)),
      body,
      h("div", { class: "queue-actions" }, claim));
    // Looking at an item (clicking, tabbing into it) is enough to stop alerting about it.
    element.addEventListener("focusin", () => this.acknowledge(conversationId));
    element.addEventListener("pointerdown", () => this.acknowledge(conversationId));
    return { element, claim, wait, topic, body, item: null };
  }

  fill(entry, item) {
    const id = item.conversation_id;
    const claiming = this.claiming.has(id);
    entry.item = item;
    entry.element.classList.toggle("is-new", this.fresh.has(id));
    entry.claim.disabled = claiming;
    entry.claim.textContent = claiming ? "Claiming…" : "Claim";
    const topic = humanize(item.topic);
    entry.claim.setAttribute("aria-label", `Claim chat: ${topic || reasonLabel(item.reason)}`);
    entry.topic.textContent = topic || "No topic recognised";
    const details = item.details || {};
    replaceChildren(entry.body,
      h("div", { class: "chips" },
        this.fresh.has(id) ? h("span", { class: "chip chip-new" }, "New") : null,
        h("span", { class: `chip reason reason-${item.reason || "unknown"}` }, reasonLabel(item.reason)),
        h("span", { class: "chip chip-group", title: "Skill group" }, h("span", { class: "visually-hidden" }, "Group: "), item.group),
        // Sent back to the queue by a colleague: who, so the next agent knows whom to ask.
        item.transferred_by ? h("span", { class: "chip chip-transferred" }, `Transferred by ${item.transferred_by}`) : null),
      item.summary ? h("p", { class: "queue-summary" }, item.summary) : null,
      details.description || details.contact
        ? h("dl", { class: "queue-details" },
          details.description ? [h("dt", {}, "Customer says"), h("dd", {}, details.description)] : null,
          details.contact ? [h("dt", {}, "Contact"), h("dd", {}, details.contact)] : null)
        : null);
  }

  tick() {
    const now = Date.now();
    for (const entry of this.entries.values()) {
      const seconds = (now - entry.item.since) / 1000;
      entry.wait.textContent = formatWait(seconds);
      entry.element.classList.toggle("wait-long", seconds >= 120 && seconds < 300);
      entry.element.classList.toggle("wait-critical", seconds >= 300);
    }
  }

  async claim(conversationId) {
    this.acknowledge(conversationId);
    this.error.hidden = true;
    this.claiming.add(conversationId);
    const entry = this.entries.get(conversationId);
    if (entry) this.fill(entry, entry.item);
    try {
      await this.view.claim(conversationId);
    } catch (failure) {
      this.showError(describeError(failure));
    } finally {
      this.claiming.delete(conversationId);
      const current = this.entries.get(conversationId);
      if (current) this.fill(current, current.item);
    }
  }

  showError(text) {
    replaceChildren(this.error, icon("info"), h("span", {}, text),
      h("button", { type: "button", class: "icon-button small", "aria-label": "Dismiss", onclick: () => { this.error.hidden = true; } }, icon("close")));
    this.error.hidden = false;
  }

  freshItems() {
    return this.items.filter((item) => this.fresh.has(item.conversation_id));
  }

  acknowledge(conversationId) {
    if (!this.fresh.delete(conversationId)) return;
    const entry = this.entries.get(conversationId);
    if (entry) this.fill(entry, entry.item);
    this.view.sidebarTabs.setCount("queue", this.items.length, this.fresh.size > 0);
    this.view.updateAttention();
  }

  acknowledgeAll() {
    for (const id of [...this.fresh]) this.acknowledge(id);
  }

  focusFirstFresh() {
    const first = this.freshItems()[0];
    if (first) this.entries.get(first.conversation_id).claim.focus();
  }
}

// ---- one conversation -------------------------------------------------------------

// System notices after which the agent serving this tab is the one the customer talks to.
const SERVING_STARTS = new Set(["agent_joined", "transferred"]);

class ConversationTab {
  constructor(view, data) {
    this.view = view;
    this.id = data.conversation_id;
    this.messages = new Map();
    this.order = [];
    this.pending = new Map();
    this.unread = 0;
    this.countUnread = false;
    this.lastCustomerId = null;
    this.readSent = null;
    this.seenUpTo = null;
    this.receiptElement = null;
    this.leaving = null;
    this.stickToBottom = true;
    this.typingTimer = null;
    this.readTimer = null;

    const panelId = `conversation-${this.id}`;
    this.tabTitle = h("span", { class: "tab-title" });
    this.tabBadge = h("span", { class: "tab-badge", hidden: true });
    this.tabTyping = h("span", { class: "tab-typing", hidden: true, title: "Customer is typing" }, h("span", { class: "visually-hidden" }, "typing"));
    this.tabButton = h("button", {
      type: "button", role: "tab", class: "conversation-tab", id: `tab-${this.id}`, "aria-controls": panelId,
      onclick: () => view.activate(this.id, false),
    }, this.tabTitle, h("span", { class: "tab-id" }, shortId(this.id)), this.tabTyping, this.tabBadge);

    this.heading = h("h2", { class: "conversation-title" });
    this.headMeta = h("div", { class: "conversation-meta" });
    this.actionError = h("div", { class: "inline-error", role: "alert", hidden: true });
    this.transferButton = h("button", { type: "button", class: "button", onclick: () => transferDialog(view, this) }, icon("transfer"), "Transfer");
    this.handBackButton = h("button", { type: "button", class: "button", onclick: () => this.handBack() }, icon("bot"), "Hand back to bot");
    this.closeButton = h("button", { type: "button", class: "button danger-outline", onclick: () => this.confirmClose() }, icon("check"), "Close chat");
    this.detailsToggle = h("button", {
      type: "button", class: "button details-toggle", "aria-expanded": "false", "aria-controls": `details-${this.id}`,
      onclick: () => this.toggleDetails(),
    }, icon("panel"), "Details");

    this.list = h("ol", { class: "transcript" });
    this.log = h("div", { class: "transcript-scroll", role: "log", "aria-label": "Transcript", tabindex: "0" }, this.list);
    this.log.addEventListener("scroll", () => {
      this.stickToBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 60;
    });
    this.typing = h("p", { class: "typing-indicator", "aria-live": "polite" });
    this.composer = new Composer(this);
    // Focusable so keyboard users can scroll it.
    this.details = h("aside", { class: "handoff-panel", id: `details-${this.id}`, "aria-label": "Handoff details", tabindex: "0" });

    this.panel = h("section", { class: "conversation", role: "tabpanel", id: panelId, "aria-labelledby": this.tabButton.id, hidden: true },
      h("header", { class: "conversation-head" },
        h("div", { class: "conversation-heading" }, this.heading, this.headMeta),
        h("div", { class: "conversation-actions" }, this.detailsToggle, this.transferButton, this.handBackButton, this.closeButton)),
      this.actionError,
      h("div", { class: "conversation-body" },
        h("div", { class: "chat-column" }, this.log, this.typing, this.composer.element),
        this.details));
    this.update(data);
  }

  update(data) {
    const handoff = data.handoff || {};
    const topic = humanize(handoff.topic);
    this.tabTitle.textContent = topic || reasonLabel(data.reason);
    // Without a topic the reason is the chip below the heading already.
    this.heading.textContent = topic || "Customer chat";
    replaceChildren(this.headMeta,
      h("span", { class: `chip reason reason-${data.reason || "unknown"}` }, reasonLabel(data.reason)),
      data.transferred_by ? h("span", { class: "chip chip-transferred" }, `Transferred by ${data.transferred_by}`) : null,
      h("span", { class: "meta-item" }, h("span", { class: "visually-hidden" }, "Conversation "), shortId(this.id)));
    renderHandoff(this.details, data);
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

  /** The agent is looking at this tab: nothing is unread, the customer may learn it was read. */
  seen() {
    this.unread = 0;
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
    if (element) this.list.insertBefore(element, this.elementAfter(index));

    if (message.kind === "system" && SERVING_STARTS.has(message.data && message.data.notice)) {
      this.countUnread = true;
      this.unread = 0;
    }
    if (message.kind === "customer") {
      if (!this.lastCustomerId || compareMessageIds(id, this.lastCustomerId) > 0) this.lastCustomerId = id;
      this.customerTyping(false);
      if (this.view.isViewing(this)) this.scheduleRead();
      else if (this.countUnread) this.unread += 1;
      this.renderBadge();
      this.view.updateAttention();
    }
    if (message.kind === "agent") {
      if (message.data && message.data.agent === this.view.agent) this.settlePending(message);
      this.refreshReceipt();
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
    const element = messageElement(message, (agent) => (agent === this.view.agent ? "You" : agent || "Agent"));
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
    }, (error) => {
      element.classList.add("is-failed");
      element.querySelector(".msg-status").textContent = `Not sent: ${describeError(error)}`;
    });
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

  /** "Seen" or "Sent" under the agent's latest stored message only. */
  refreshReceipt() {
    const lastAgent = [...this.order].reverse().find((id) => this.messages.get(id).message.kind === "agent");
    if (!lastAgent) return;
    const element = this.messages.get(lastAgent).element;
    if (this.receiptElement && this.receiptElement !== element) this.receiptElement.querySelector(".msg-status").textContent = "";
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

  async handBack() {
    try {
      await this.act("hand_back");
    } catch (error) {
      this.showActionError(error);
    }
  }

  async confirmClose() {
    const confirmed = await confirmDialog({
      title: "Close this chat?",
      text: "The conversation ends for the customer, who is asked to rate it.",
      confirm: "Close chat",
      danger: true,
    });
    if (!confirmed) return;
    try {
      await this.act("close");
    } catch (error) {
      this.showActionError(error);
    }
  }

  showActionError(error) {
    replaceChildren(this.actionError, icon("info"), h("span", {}, describeError(error)));
    this.actionError.hidden = false;
  }

  setBusy(busy) {
    for (const button of [this.transferButton, this.handBackButton, this.closeButton]) button.disabled = busy;
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
    this.tabButton.remove();
    this.panel.remove();
  }
}

// ---- the handoff payload, for the agent (docs/handoff-payload.md) -------------------

function section(title, ...content) {
  return h("section", { class: "details-section" }, h("h3", {}, title), ...content);
}

function renderHandoff(container, data) {
  const handoff = data.handoff || {};
  const details = data.details || {};
  const evidence = handoff.evidence || {};
  // Matched by text and intent: evidence numbers its turns the stuck detector's way, which can skip form answers.
  const evidenceTurns = new Set((evidence.turns || []).map(turnKey));
  const turns = Array.isArray(handoff.turns) ? handoff.turns : [];
  const slots = Object.entries(handoff.slots || {});
  const topics = Array.isArray(handoff.topics) ? handoff.topics : [];
  const measurements = Object.entries(evidence).filter(([key]) => !["explanation", "turns", "phrases"].includes(key));
  const none = (text) => h("p", { class: "muted" }, text);

  replaceChildren(container,
    section("Summary",
      h("p", { class: "details-summary" }, handoff.summary || "The bot gave no summary.")),
    section("Why the bot handed over",
      h("p", {}, h("span", { class: `chip reason reason-${data.reason || "unknown"}` }, reasonLabel(data.reason || handoff.reason))),
      evidence.explanation ? h("p", { class: "details-explanation" }, humanize(evidence.explanation), ".") : null,
      Array.isArray(evidence.phrases) && evidence.phrases.length
        ? h("div", { class: "chips" }, h("span", { class: "muted" }, "Phrases:"), evidence.phrases.map((phrase) => h("span", { class: "chip chip-quote" }, `“${phrase}”`)))
        : null,
      measurements.length
        ? h("dl", { class: "kv" }, measurements.map(([key, value]) => [h("dt", {}, humanize(key)), h("dd", {}, plainValue(value))]))
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

// ---- the composer, with canned responses ----------------------------------------------

const SLASH_QUERY = /^\/([^\s]*)$/;

class Composer {
  constructor(tab) {
    this.tab = tab;
    this.view = tab.view;
    this.menuOpen = false;
    this.mode = "slash";
    this.options = [];
    this.activeIndex = 0;
    this.typingActive = false;
    this.typingSentAt = 0;
    this.idleTimer = null;

    const base = `composer-${tab.id}`;
    this.textarea = h("textarea", {
      id: `${base}-input`, rows: "1", class: "composer-input", placeholder: "Write a reply…  (type / for canned responses)",
      "aria-describedby": `${base}-hint`, "aria-controls": `${base}-menu`, "aria-autocomplete": "list", maxlength: String(LIMITS.messageCharacters),
    });
    this.menu = h("ul", { class: "canned-menu", id: `${base}-menu`, role: "listbox", "aria-label": "Canned responses", hidden: true });
    this.cannedButton = h("button", {
      type: "button", class: "icon-button", "aria-label": "Canned responses", title: "Canned responses",
      "aria-haspopup": "listbox", "aria-expanded": "false", "aria-controls": this.menu.id,
    }, icon("bolt"));
    this.sendButton = h("button", { type: "submit", class: "button primary" }, icon("send"), "Send");
    this.counter = h("span", { class: "composer-counter", hidden: true });
    this.announcer = h("span", { class: "visually-hidden", "aria-live": "polite" });
    this.element = h("form", { class: "composer", novalidate: true },
      this.menu,
      h("label", { for: this.textarea.id, class: "visually-hidden" }, "Reply to the customer"),
      h("div", { class: "composer-box" }, this.textarea,
        h("div", { class: "composer-buttons" }, this.cannedButton, this.sendButton)),
      h("p", { class: "composer-hint", id: `${base}-hint` },
        h("span", {}, h("kbd", {}, "Enter"), " to send · ", h("kbd", {}, "Shift"), "+", h("kbd", {}, "Enter"), " for a new line · ", h("kbd", {}, "/"), " canned responses"),
        this.counter, this.announcer));

    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.textarea.addEventListener("keydown", (event) => this.keydown(event));
    this.textarea.addEventListener("input", () => this.input());
    this.textarea.addEventListener("blur", () => setTimeout(() => {
      if (!this.element.contains(document.activeElement)) this.closeMenu();
    }, 0));
    this.cannedButton.addEventListener("click", () => {
      if (this.menuOpen) return this.closeMenu();
      if (!this.textarea.value) {
        this.textarea.value = "/";
        this.input();
      } else {
        this.openMenu("insert", "");
      }
      this.textarea.focus();
    });
  }

  focus() {
    this.textarea.focus();
  }

  setDisabled(disabled) {
    this.textarea.disabled = disabled;
    this.sendButton.disabled = disabled;
    this.cannedButton.disabled = disabled;
  }

  keydown(event) {
    if (this.menuOpen) {
      const count = this.options.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (count) this.highlight((this.activeIndex + (event.key === "ArrowDown" ? 1 : -1) + count) % count);
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && count) {
        event.preventDefault();
        this.choose(this.options[this.activeIndex]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeMenu();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.submit();
    }
  }

  input() {
    this.autosize();
    const length = this.textarea.value.length;
    this.counter.hidden = length < LIMITS.messageCounterFrom;
    this.counter.textContent = `${length} / ${LIMITS.messageCharacters}`;
    const slash = this.textarea.value.match(SLASH_QUERY);
    if (slash) this.openMenu("slash", slash[1]);
    else if (this.menuOpen) this.closeMenu();
    this.typed();
  }

  autosize() {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 200)}px`;
  }

  submit() {
    const text = this.textarea.value.trim();
    if (!text || this.textarea.disabled) return;
    this.tab.send(text);
    this.textarea.value = "";
    this.input();
    this.stopTyping();
    this.textarea.focus();
  }

  // ---- typing signals: throttled, and "stopped" after a pause or a send ------------

  typed() {
    clearTimeout(this.idleTimer);
    if (!this.textarea.value.trim()) return this.stopTyping();
    const now = Date.now();
    if (!this.typingActive || now - this.typingSentAt > TIMING.typingRepeatMs) {
      this.view.signal("typing", { conversation_id: this.tab.id, active: true });
      this.typingActive = true;
      this.typingSentAt = now;
    }
    this.idleTimer = setTimeout(() => this.stopTyping(), TIMING.typingIdleMs);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typingActive) return;
    this.typingActive = false;
    this.view.signal("typing", { conversation_id: this.tab.id, active: false });
  }

  // ---- canned responses ---------------------------------------------------------

  openMenu(mode, query) {
    this.mode = mode;
    const needle = query.toLowerCase();
    const canned = this.view.canned;
    this.options = needle
      ? [...canned.filter((item) => item.shortcut.startsWith(needle)),
        ...canned.filter((item) => !item.shortcut.startsWith(needle) && item.title.toLowerCase().includes(needle))]
      : canned;
    this.menuOpen = true;
    this.menu.hidden = false;
    this.cannedButton.setAttribute("aria-expanded", "true");
    replaceChildren(this.menu, this.options.length
      ? this.options.map((item, index) => {
        const option = h("li", { role: "option", id: `${this.menu.id}-${index}`, class: "canned-option", "aria-selected": "false" },
          h("span", { class: "canned-shortcut" }, `/${item.shortcut}`),
          h("span", { class: "canned-title" }, item.title),
          h("span", { class: "canned-preview" }, this.fillIn(item.text)));
        option.addEventListener("mousedown", (event) => event.preventDefault()); // keeps the focus in the textarea
        option.addEventListener("click", () => this.choose(item));
        return option;
      })
      : h("li", { class: "canned-empty" }, canned.length ? `No canned response matches “/${query}”.` : "No canned responses are set up."));
    this.highlight(0);
    this.announcer.textContent = `${this.options.length} canned response${this.options.length === 1 ? "" : "s"}. Arrow keys to choose, Enter to insert.`;
  }

  highlight(index) {
    this.activeIndex = index;
    const options = [...this.menu.querySelectorAll("[role=option]")];
    options.forEach((option, position) => {
      option.setAttribute("aria-selected", String(position === index));
      option.classList.toggle("is-active", position === index);
    });
    if (options[index]) {
      this.textarea.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      this.textarea.removeAttribute("aria-activedescendant");
    }
  }

  closeMenu() {
    this.menuOpen = false;
    this.menu.hidden = true;
    this.cannedButton.setAttribute("aria-expanded", "false");
    this.textarea.removeAttribute("aria-activedescendant");
    this.announcer.textContent = "";
  }

  fillIn(text) {
    return text.replaceAll("{agent}", this.view.displayName);
  }

  choose(item) {
    const text = this.fillIn(item.text);
    const textarea = this.textarea;
    if (this.mode === "slash") {
      textarea.value = text;
      textarea.setSelectionRange(text.length, text.length);
    } else {
      textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
    }
    this.closeMenu();
    textarea.focus();
    this.input();
  }

  destroy() {
    clearTimeout(this.idleTimer);
  }
}
