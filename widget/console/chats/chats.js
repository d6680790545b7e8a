// The agents' view: the live queue and left requests on the left, the chats
// they serve as tabs on the right (transcript, handoff details, composer).
//
// All protocol traffic goes through this view's one Transport
// (docs/bridge-protocol.md); its parts beside it (queue.js, requests.js,
// conversation-tab.js with composer.js, handoff-panel.js, transfer-dialog.js;
// mentions.js; alert-sound.js) only turn envelopes into DOM and clicks into sends.
// Staying on top: unread.js (counts), notifications.js (the browser's), shortcuts.js.

import { h } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { PendingRequests } from "../../shared/requests.js";
import { Transport } from "../../shared/transport.js";
import { TIMING, describeError, humanize, loginProtocols, reasonLabel, socketUrl } from "../constants.js";
import { confirmDialog } from "../dialogs.js";
import { Tabs } from "../tabs.js";
import { View } from "../view.js";
import { AlertSound } from "./alert-sound.js";
import { ConversationTab } from "./conversation-tab.js";
import { MentionsPanel } from "./mentions.js";
import { DesktopNotifications } from "./notifications.js";
import { OffersPanel } from "./offers.js";
import { QueuePanel } from "./queue.js";
import { RequestsPanel } from "./requests.js";
import { Shortcuts } from "./shortcuts.js";
import { StatusControl } from "./status-control.js";
import { SeenMessages } from "./unread.js";

export function createChatsView(context) {
  return new ChatsView(context);
}

// Why a chat closed under the agent's eyes when a supervisor erased its customer (the bridge's "released"
// with reason "forgotten"): nothing of it is left to read.
const RELEASED_FORGOTTEN = "A chat was closed: a supervisor erased this customer's data at their request, so the "
  + "conversation has been deleted.";

/** What the agent is told when a chat leaves their tabs, by what they did (nothing: elsewhere). */
function releasedText(leaving, nameOf) {
  if (leaving && leaving.type === "unview") return "Closed the chat you were reading.";
  if (!leaving) return "A chat is no longer yours: it was closed, handed back or transferred elsewhere.";
  if (leaving.type === "hand_back") return "Chat handed back to the bot.";
  if (leaving.type === "close") return "Chat closed. The customer is asked to rate it.";
  return leaving.to_agent ? `Chat transferred to ${nameOf(leaving.to_agent)}.` : `Chat moved to the front of the ${leaving.to_group} queue.`;
}

class ChatsView extends View {
  constructor({ session, sound, watchConnection, setAttention, reveal, openArchived }) {
    super();
    this.openArchived = openArchived; // a contact's conversation only the archive keeps (console.js: the Search view)
    this.agent = session.agent;
    this.reveal = reveal; // shows this view (a notification was clicked)
    this.displayName = session.displayName; // what customers see, never the login name
    this.roles = session.roles; // a supervisor may still claim in a group assigned automatically
    this.supervisor = session.roles.includes("supervisor"); // may open any chat read-only (queue cards, dashboard)
    this.token = session.token; // files go over HTTP with it (attach.js, shared/files.js)
    this.setAttention = setAttention;
    this.visible = false;
    this.canned = [];
    this.labels = []; // the label set (workspace/labels.js)
    this.dispositions = []; // what closing a chat asks for (workspace/closing-dialog.js)
    this.conversations = new Map();
    this.activeId = null;
    this.pendingClaims = new Set();
    this.pendingViews = new Set(); // conversations asked to open read-only, to show when they arrive
    this.viewedVia = new Map(); // a read-only chat opened through a signed-in customer's history -> the chat it came from
    this.assignedBy = new Map(); // conversation -> the supervisor who assigned it here, until it arrives
    this.team = null; // the colleagues to mention: {at, agents} (colleagues())
    this.names = new Map(); // login -> display name, from the bridge's team (nameOf)
    this.restoring = null; // ids of conversations re-sent after a (re)connection, while they arrive

    this.transport = new Transport(socketUrl("/ws/agent"), { protocols: loginProtocols(session.token) });
    watchConnection(this.transport);
    this.waiting = new PendingRequests(this.transport);
    this.transport.on("envelope", (envelope) => this.receive(envelope));
    this.transport.on("failed", ({ item, error }) => this.waiting.settle(item.id, null, error));

    this.alertSound = new AlertSound(sound);
    // Available or away, in the console's header (console.js places a view's headerControl there).
    this.statusControl = new StatusControl((status) => this.waiting.send("set_status", { status }),
      (failure) => this.toast(describeError(failure), "error"));
    this.notifications = new DesktopNotifications();
    this.shortcuts = new Shortcuts(this);
    this.headerControl = h("span", { class: "header-controls" },
      this.notifications.button, this.statusControl.element, this.shortcuts.button);
    this.seenMessages = new SeenMessages(this.agent);
    this.unwatchSeen = this.seenMessages.watch(() => this.seenElsewhere());
    this.queue = new QueuePanel(this);
    this.requests = new RequestsPanel(this);
    this.mentions = new MentionsPanel(this);
    this.offers = new OffersPanel(this); // automatic assignment's offers (offers.js)
    this.build();
    this.onVisibility = () => this.viewingChanged();
    document.addEventListener("visibilitychange", this.onVisibility);
    this.ticker = setInterval(() => {
      this.queue.tick();
      this.offers.tick();
      for (const tab of this.conversations.values()) tab.tick();
    }, TIMING.tickMs);
    this.transport.connect();
  }

  build() {
    this.sidebarTabs = new Tabs("sidebar", "Queue and requests", [
      { id: "queue", label: "Queue", panel: this.queue.element },
      { id: "requests", label: "Requests", panel: this.requests.element },
      { id: "mentions", label: "Mentions", panel: this.mentions.element },
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
    this.headerAlert = this.alertBanner; // console.js places it in the top bar, where it covers nothing

    this.element = h("section", { class: "view chats-view", "aria-label": "Chats", hidden: true },
      h("aside", { class: "sidebar", "aria-label": "Queue and requests" },
        h("div", { class: "sidebar-head" }, this.sidebarTabs.list, this.alertSound.button),
        this.offers.element, this.sidebarTabs.panels),
      h("section", { class: "workspace", "aria-label": "Open chats" }, this.tabList, this.panels),
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
      case "offers":
        this.offers.update(data.items || []);
        this.updateAttention(); // an offer is new work for this agent (the header's alert says so)
        break;
      case "queue_changed":
        this.queue.change(data);
        break;
      case "requests":
        this.requests.update(data.items || []);
        break;
      case "chat_assigned": // a supervisor gave this agent a waiting chat: its `conversation` follows
        this.assignedBy.set(data.conversation_id, data.by);
        break;
      case "request_assigned":
        this.requests.assigned(data);
        break;
      case "mentions":
        this.mentions.update(data);
        this.waiting.settle(envelope.id, data);
        break;
      case "canned":
        this.canned = data.items || [];
        if (!data.changed) {
          this.awaitRestoredConversations(); // a supervisor's change is not followed by the chats
          this.colleagues(); // the team's display names, for whatever names a colleague
        }
        break;
      case "labels":
        this.labels = data.items || [];
        this.queue.refill();
        for (const open of this.conversations.values()) open.renderLabels();
        break;
      case "dispositions":
        this.dispositions = data.items || [];
        break;
      case "conversation_labels":
        if (tab) tab.setLabels(data.labels || []);
        break;
      case "earlier":
        if (tab) tab.setEarlier(data.earlier || null);
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
      case "customer_presence":
        if (tab) tab.setPresence(data);
        break;
      case "agent_status":
        this.statusControl.update(data);
        this.updateAttention(); // away: no new-work alerts
        if (envelope.id) this.waiting.settle(envelope.id, data);
        break;
      case "read":
        if (tab && typeof data.up_to === "string") tab.customerRead(data.up_to);
        break;
      case "released":
        this.release(data.conversation_id, data.reason);
        break;
      case "ack":
      case "team":
      case "request":
      case "suggestions":
      case "contact":
      case "mail_addresses":
      case "search_results":
      case "search_conversation":
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
      for (const [id, tab] of [...this.conversations]) {
        if (restored.has(id)) continue;
        // A read-only view is asked for again (and goes when it may no longer be read).
        if (tab.viewOnly) this.viewConversation(id, false).catch(() => this.release(id));
        else this.release(id);
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

  /** Takes a chat offered to this agent: it opens as a claimed one does. */
  acceptOffer(conversationId) {
    this.pendingClaims.add(conversationId);
    return this.waiting.send("offer_accept", { conversation_id: conversationId }).catch((error) => {
      this.pendingClaims.delete(conversationId);
      throw error;
    });
  }

  /** The colleagues one may @mention (the team, without this agent), asked for at most once a minute. */
  async colleagues() {
    if (!this.team || Date.now() - this.team.at > TIMING.teamRefreshMs) {
      const asked = this.waiting.ask("team").then((team) => {
        this.learnNames(team.agents || []);
        return (team.agents || []).filter((agent) => agent.name !== this.agent);
      });
      this.team = { at: Date.now(), agents: asked };
      asked.catch(() => { this.team = null; });
    }
    try {
      return await this.team.agents;
    } catch (error) {
      return [];
    }
  }

  /** The team's display names (a `team` reply's agents): what the console shows for a colleague's login. */
  learnNames(agents) {
    let changed = false;
    for (const agent of agents) {
      if (!agent.display_name || this.names.get(agent.name) === agent.display_name) continue;
      this.names.set(agent.name, agent.display_name);
      changed = true;
    }
    if (!changed) return;
    this.queue.refill();
    this.requests.refill();
    for (const tab of this.conversations.values()) tab.renderNames();
  }

  /** A colleague as people know them: their display name once the team is known, else their login. */
  nameOf(login) {
    return this.names.get(login) || login;
  }

  /**
   * A colleague's chat opened read-only (from a mention), or this agent's own tab for it; ``via``: a chat of the
   * same signed-in customer this agent may read (their history, contact-panel.js), kept to open it again.
   */
  async viewConversation(conversationId, activate = true, via = this.viewedVia.get(conversationId)) {
    if (activate && this.conversations.has(conversationId)) {
      this.activate(conversationId, true);
      return;
    }
    if (activate) this.pendingViews.add(conversationId);
    if (via) this.viewedVia.set(conversationId, via);
    try {
      await this.waiting.ask("view", via ? { conversation_id: conversationId, via } : { conversation_id: conversationId });
    } catch (error) {
      this.pendingViews.delete(conversationId);
      throw error;
    }
  }

  /** A chat opened read-only from a click (a queue card, the dashboard): a refusal is said in a toast. */
  openReadOnly(conversationId) {
    this.viewConversation(conversationId).catch((failure) => this.toast(describeError(failure), "error"));
  }

  openConversation(data) {
    let tab = this.conversations.get(data.conversation_id);
    const isNew = !tab;
    if (data.view) {
      if (tab && !tab.viewOnly) return; // served here: the chat is open already
      if (tab) tab.update(data);
      else {
        tab = new ConversationTab(this, data);
        this.conversations.set(tab.id, tab);
        this.tabList.append(tab.tabButton);
        this.panels.append(tab.panel);
      }
      if (this.restoring) this.restoring.add(tab.id);
      if (this.pendingViews.delete(tab.id) || !this.activeId) this.activate(tab.id, true);
      this.noChats.hidden = true;
      this.updateAttention();
      return;
    }
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
    const assignedBy = this.assignedBy.get(tab.id);
    this.assignedBy.delete(tab.id);
    if (transferredHere) {
      // Given by a supervisor from the waiting list, or transferred by a colleague: said as it happened.
      const by = assignedBy || data.transferred_by;
      if (!this.isViewing(tab)) {
        this.notifications.transfer(tab.id, by && this.nameOf(by), tab.tabTitle.textContent, () => this.openFromNotification(tab.id),
          Boolean(assignedBy));
      }
      this.chime();
      if (assignedBy) this.toast(`${this.nameOf(assignedBy)} assigned you a chat.`);
      else this.toast(by ? `${this.nameOf(by)} transferred a chat to you.` : "A colleague transferred a chat to you.");
    }
    this.noChats.hidden = this.conversations.size > 0;
    this.updateAttention();
  }

  /** A chat that is no longer open here; `reason` "forgotten": a supervisor erased the customer meanwhile. */
  release(conversationId, reason = "") {
    const tab = this.conversations.get(conversationId);
    if (!tab) return;
    const index = [...this.conversations.keys()].indexOf(conversationId);
    this.toast(reason === "forgotten" ? RELEASED_FORGOTTEN : releasedText(tab.leaving, (login) => this.nameOf(login)));
    tab.destroy();
    this.conversations.delete(conversationId);
    this.viewedVia.delete(conversationId);
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
      if (!this.isViewing(tab)) continue;
      tab.seen();
      this.mentions.seen(tab.id);
      this.notifications.clear(tab.id);
    }
    this.updateAttention();
  }

  /** Another console tab of this agent saw some chats: their counts here drop too. */
  seenElsewhere() {
    for (const tab of this.conversations.values()) {
      if (tab.unreadMessages.refresh()) tab.renderBadge();
    }
    this.updateAttention();
  }

  /** A message the agent did not see arrived in `tab` (ConversationTab); a customer's, live, notifies. */
  unreadArrived(tab, message) {
    if (message.kind !== "customer" || this.restoring || tab.viewOnly) return; // a replay after (re)connecting
    this.notifications.message(tab.id, message.text, () => this.openFromNotification(tab.id));
  }

  /** A colleague's note mentioned this agent (mentions.js), in a chat not on screen. */
  mentionArrived(item) {
    const tab = this.conversations.get(item.conversation_id);
    if (tab && this.isViewing(tab)) return;
    this.notifications.mention(item.conversation_id, item.by_name || item.by, item.excerpt, () => {
      this.reveal();
      this.mentions.open(item.conversation_id);
    });
  }

  /** A notification about one of this agent's chats was clicked: that chat, on screen. */
  openFromNotification(conversationId) {
    if (!this.conversations.has(conversationId)) return; // gone meanwhile
    this.reveal();
    this.activate(conversationId, true);
  }

  // ---- alerts ----------------------------------------------------------------

  /** Away means no new work, so no alerts for it: no banner, sound or count for new chats in the queue. */
  newWorkAlerts() {
    return this.statusControl.current !== "away";
  }

  /** The new chats in the queue this agent can take: claimable, or (a group assigned automatically) offered to
   *  them; none while away. Another agent's offer is no new work for them. */
  alertItems() {
    if (!this.newWorkAlerts()) return [];
    const offered = new Set(this.offers.items.map((item) => item.conversation_id));
    const claims = this.roles.includes("supervisor");
    return this.queue.freshItems().filter((item) => item.assignment !== "automatic" || claims
      || offered.has(item.conversation_id));
  }

  renderAlert() {
    const fresh = this.alertItems();
    this.alertBanner.hidden = !this.visible || fresh.length === 0; // only with the chats on screen
    if (fresh.length === 1) {
      const item = fresh[0];
      const offered = this.offers.items.some((each) => each.conversation_id === item.conversation_id);
      this.alertText.textContent = `${offered ? "Offered to you" : "New chat waiting"}: ${[reasonLabel(item.reason), humanize(item.topic)].filter(Boolean).join(" · ")}`;
    } else if (fresh.length) {
      this.alertText.textContent = `${fresh.length} new chats waiting`;
    }
  }

  showNewInQueue() {
    const first = this.alertItems()[0];
    if (first && this.offers.focus(first.conversation_id)) return; // an offer: its Accept, above the tabs
    this.sidebarTabs.select("queue");
    this.queue.focusFirstFresh();
  }

  updateAttention() {
    this.renderAlert();
    const unread = [...this.conversations.values()].reduce((sum, tab) => sum + tab.unread, 0);
    this.setAttention(this.alertItems().length + unread + this.mentions.unseen);
  }

  chime() {
    this.alertSound.chime();
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
    this.renderAlert();
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
    this.unwatchSeen();
    this.shortcuts.destroy();
    this.notifications.destroy();
    for (const tab of this.conversations.values()) tab.destroy();
    this.transport.close();
  }
}
