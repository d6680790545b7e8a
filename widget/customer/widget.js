// The customer chat widget: the conversation with the bridge (through
// shared/transport.js) and what the customer sees (render.js).
//
//   import { ChatWidget } from "https://bridge.example/widget/customer/widget.js";
//   const chat = new ChatWidget({title: "Northwind Bank"});
//
// or, from any page, widget/chat.js's SupportChat.init(options).

import { FileError, fetchFile, precheck, uploadFile } from "../shared/files.js";
import { PendingRequests } from "../shared/requests.js";
import { hasVisible } from "../shared/text.js";
import { Transport, compareMessageIds, newId } from "../shared/transport.js";
import {
  AGENT_TYPING_TIMEOUT_MS, BOT_TYPING_TIMEOUT_MS, CUSTOMER_SOCKET_PATH, HOST_TAG, STORAGE_KEYS, STORAGE_PREFIX,
  TYPING_IDLE_MS, TYPING_SIGNAL_INTERVAL_MS,
} from "./constants.js";
import { contactOf, fill, resolveOptions } from "./options.js";
import { ChatView, isVisible } from "./render.js";

// This file sits at <bridge>/widget/customer/widget.js: the bridge is two folders up.
const DEFAULT_SERVER = new URL("../../", import.meta.url);
const STYLESHEET = new URL("widget.css", import.meta.url);

/** localStorage/sessionStorage under one namespace; storage may be unavailable (privacy modes), then memory. */
class WidgetStorage {
  constructor(server) {
    this.prefix = `${STORAGE_PREFIX}:${server.href}:`;
    this.memory = new Map();
  }

  read(area, key) {
    try {
      const raw = window[area].getItem(this.prefix + key);
      return raw === null ? null : JSON.parse(raw);
    } catch {
      return this.memory.get(area + key) ?? null;
    }
  }

  write(area, key, value) {
    try {
      if (value === null) window[area].removeItem(this.prefix + key);
      else window[area].setItem(this.prefix + key, JSON.stringify(value));
    } catch {
      this.memory.set(area + key, value);
    }
  }

  /** {conversationId, token, contact?}: ``contact``, the signed-in customer's id, when the conversation is theirs. */
  get conversation() {
    const stored = this.read("localStorage", STORAGE_KEYS.conversation);
    return stored && typeof stored.conversationId === "string" && typeof stored.token === "string" ? stored : null;
  }

  set conversation(value) {
    this.write("localStorage", STORAGE_KEYS.conversation, value);
  }

  get seenUpTo() {
    return this.read("localStorage", STORAGE_KEYS.seenUpTo);
  }

  set seenUpTo(id) {
    this.write("localStorage", STORAGE_KEYS.seenUpTo, id);
  }

  /** The closed chat the next new one follows ({conversation_id, token, contact}: ``contact`` as the closed one's
   * stored conversation had it), kept across a reload until the new chat's welcome. */
  get follows() {
    const stored = this.read("localStorage", STORAGE_KEYS.follows);
    return stored && typeof stored.conversation_id === "string" && typeof stored.token === "string" ? stored : null;
  }

  set follows(value) {
    this.write("localStorage", STORAGE_KEYS.follows, value);
  }

  get wasOpen() {
    return this.read("sessionStorage", STORAGE_KEYS.open) === true;
  }

  set wasOpen(open) {
    this.write("sessionStorage", STORAGE_KEYS.open, open);
  }

  /** The Transport's outboxStore: unacknowledged sends survive a reload. */
  get outbox() {
    return {
      load: () => {
        const items = this.read("localStorage", STORAGE_KEYS.outbox);
        return Array.isArray(items) ? items.filter((item) => item && typeof item.id === "string" && typeof item.type === "string") : [];
      },
      save: (items) => this.write("localStorage", STORAGE_KEYS.outbox, items.length ? items : null),
    };
  }
}

export class ChatWidget {
  /** @param {object} options see widget/README.md */
  constructor(options = {}) {
    this.options = resolveOptions(options, DEFAULT_SERVER);
    this.strings = this.options.strings;
    this.storage = new WidgetStorage(this.options.server);
    this.listeners = new Map();
    this.transport = null;
    this.isOpen = false;
    this.status = { state: null };
    this.messages = new Map(); // server id -> message
    this.pending = []; // customer messages sent but not acknowledged: {clientId, text, payload, serverId}
    this.requests = null; // talk_to_person, leave_queue, details, leave and rating waiting for their ack (with the transport)
    this.lastSeen = null; // the newest server message id this page has received
    this.awaitingWelcome = false;
    this.identityRefused = false; // the bridge refused options.identity: anonymous from then on
    this.helloContact = null; // the contact the last hello named (its identity), null for an anonymous hello
    this.welcomeWaiters = []; // files chosen before the conversation existed wait for its welcome: {resolve, reject}
    this.lastReadSent = null;
    this.timers = { botTyping: null, agentTyping: null, customerIdle: null };
    this.customerTypingSentAt = 0;

    this.host = document.createElement(HOST_TAG);
    const shadow = this.host.attachShadow({ mode: "open" });
    this.view = new ChatView(shadow, this.options, STYLESHEET, {
      toggle: () => this.toggle(),
      close: () => this.close(),
      send: (text) => this.send(text),
      quickReply: (title, payload) => this.send(title, payload),
      // Refused (the queue is full, or a cap): the customer is told why, with the callback/message form right there.
      talkToPerson: () => this.askForPerson(),
      retryNow: () => this.transport && this.transport.retryNow(),
      typing: () => this.customerTyping(),
      giveDetails: (data) => this.request("details", data),
      sendFiles: (files) => files.forEach((file) => this.sendFile(file)),
      loadFile: (attachment) => this.loadFile(attachment),
      leaveQueue: () => this.request("leave_queue", {}).catch((error) => console.error(`SupportChat: ${error.message}`)),
      leaveRequest: (data) => this.request("leave", data),
      cancelRequest: (requestId) => this.request("cancel_request", { request_id: requestId }),
      rate: (data) => this.request("rating", data),
      // Once per conversation (the bridge): asked on this connection, never resent by itself.
      emailTranscript: (to) => {
        this.connect();
        return this.requests.ask("email_transcript", { to });
      },
    });
    (document.body || document.documentElement).append(this.host);
    this.onVisibility = () => this.sendReadReceipt();
    document.addEventListener("visibilitychange", this.onVisibility);

    this.forgetAnotherContactsConversation();
    const stored = this.storage.conversation;
    const unsent = this.storage.outbox.load();
    if (!stored) this.view.showGreeting(this.options.greeting);
    for (const item of unsent) {
      if (item.type === "message" && item.data) this.showPending(item.id, item.data.text, item.data.payload);
    }
    // A stored conversation connects at once: it keeps a queue place and shows what came meanwhile. So does a
    // signed-in customer: their conversation may be open on another device.
    if (stored || unsent.length || this.options.identity) this.connect();
    if (this.storage.wasOpen) this.open({ focus: false });
    /** Resolves once the widget is styled and on the page. */
    this.ready = this.view.loaded.then(() => this);
  }

  // ---- public API ----------------------------------------------------------

  open({ focus = true } = {}) {
    if (!this.view) return;
    this.isOpen = true;
    this.storage.wasOpen = true;
    this.connect();
    this.view.setOpen(true, { focus });
    this.markSeen();
    this.sendReadReceipt();
    this.emit("open", {});
  }

  close() {
    if (!this.view || !this.isOpen) return;
    this.isOpen = false;
    this.storage.wasOpen = false;
    this.view.setOpen(false);
    this.emit("close", {});
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  /** Sends a message as if the customer had typed it (e.g. from a "Chat about this" link on the page). */
  send(text, payload = "") {
    const clean = String(text ?? "").trim();
    if (!hasVisible(clean) || !this.view) return;
    this.newChatAfterClose();
    this.connect();
    this.stopCustomerTyping();
    const data = payload ? { text: clean, payload } : { text: clean };
    const clientId = this.transport.sendReliable("message", data);
    this.showPending(clientId, clean, payload);
  }

  /**
   * "Talk to a person". Refused (the queue is full, or a cap): the customer is told why, with the callback/message
   * form right there. A chat closed while the request was on its way refuses it too: asked again in a new chat.
   */
  askForPerson(again = true) {
    this.newChatAfterClose();
    return this.request("talk_to_person", {}).catch((error) => {
      if (error.code === "conversation_closed" && again) {
        this.status = { ...this.status, state: "closed" };
        return this.askForPerson(false);
      }
      return error.code === "queue_full"
        ? this.view.showRefusal(this.view.refusedText(error.retryAt))
        : this.view.showConfirmation(fill(this.strings.notSent, { reason: error.message }), { error: true });
    });
  }

  /** on("message" | "status" | "open" | "close" | "connection" | "destroy", callback); returns a function that unsubscribes. */
  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(callback);
    return () => this.listeners.get(event).delete(callback);
  }

  /** Removes the widget from the page and closes its connection (the conversation stays stored). */
  destroy() {
    if (!this.view) return;
    if (this.transport) this.transport.close();
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.view.destroy();
    this.host.remove();
    this.view = null;
    this.emit("destroy", {});
    this.listeners.clear();
  }

  emit(event, value) {
    for (const callback of this.listeners.get(event) || []) {
      try {
        callback(value);
      } catch (error) {
        console.error(`SupportChat: a "${event}" listener failed`, error);
      }
    }
  }

  /** The identity this page says hello with (null: anonymous, or refused by the bridge). */
  get signedIdentity() {
    return this.options.identity && !this.identityRefused ? this.options.identity : null;
  }

  /**
   * A conversation stored in this browser that is not this page's customer's: a signed-in customer's when the
   * page is not theirs (they logged out, or someone else logged in; the bridge would refuse it anyway:
   * identity_required), or an anonymous visitor's when a signed-in customer opens the page (a signed hello
   * never resumes it). Forgotten before anything is shown or sent, with what was left unsent in it, so that
   * the next person starts fresh and nothing the last one typed reaches their conversation.
   */
  forgetAnotherContactsConversation() {
    const follows = this.storage.follows;
    // Nor does another customer's new chat follow their closed one (a shared computer), nor get what they wrote
    // for the new chat that was to follow it (unsent before its welcome).
    if (follows && (follows.contact || null) !== (contactOf(this.options.identity) || null)) {
      this.storage.follows = null;
      this.storage.outbox.save([]);
    }
    const stored = this.storage.conversation;
    // An anonymous conversation begun under this page's identity when the bridge refused it is this page's too.
    if (!stored || (stored.contact || stored.refusedFor || null) === (contactOf(this.options.identity) || null)) return;
    this.storage.conversation = null;
    this.storage.seenUpTo = null;
    this.storage.outbox.save([]);
  }

  // ---- connection ----------------------------------------------------------

  connect() {
    if (!this.transport) {
      const url = new URL(CUSTOMER_SOCKET_PATH, this.options.server);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      this.transport = new Transport(url.href, {
        greeting: () => this.hello(),
        readyType: "welcome",
        outboxStore: this.storage.outbox,
      });
      this.requests = new PendingRequests(this.transport);
      this.transport.on("envelope", (envelope) => this.receive(envelope));
      this.transport.on("state", (state) => this.connectionChanged(state));
      this.transport.on("failed", ({ item, error }) => this.sendFailed(item, error));
    }
    this.transport.connect();
  }

  /** The first frame of every connection: resume the stored conversation, from the last message seen. */
  hello() {
    this.awaitingWelcome = true;
    const stored = this.storage.conversation;
    const data = {};
    if (stored) {
      Object.assign(data, { conversation_id: stored.conversationId, token: stored.token });
      if (this.lastSeen) data.last_seen = this.lastSeen;
    } else if (this.storage.follows) {
      // The closed chat this new one follows: the agent who gets it sees the earlier one (docs/bridge-protocol.md
      // "hello"); stored until the welcome, so that a reload before it loses nothing.
      const { conversation_id: closedId, token } = this.storage.follows;
      data.follows = { conversation_id: closedId, token };
    }
    // The signed identity, until the bridge refuses it (then this page chats anonymously).
    if (this.signedIdentity) data.identity = this.signedIdentity;
    this.helloContact = this.signedIdentity ? contactOf(this.signedIdentity) : null;
    return { type: "hello", data };
  }

  connectionChanged(state) {
    if (!this.view) return;
    this.view.setConnection(state);
    if (state.connected) this.sendReadReceipt();
    this.emit("connection", state);
  }

  receive(envelope) {
    if (!this.view) return;
    const data = envelope.data || {};
    switch (envelope.type) {
      case "welcome":
        this.welcomed(data);
        break;
      case "message":
        this.received(envelope.id, data);
        break;
      case "ack":
        this.acknowledged(envelope.id, data);
        break;
      case "status":
        this.statusChanged(data);
        break;
      case "ended":
        this.chatEnded(data);
        break;
      case "typing":
        if (data.from === "agent") this.agentTyping(Boolean(data.active));
        break;
      case "read":
        if (data.from === "agent" && typeof data.up_to === "string") this.view.setAgentRead(data.up_to);
        break;
      case "error":
        // A refusal of a request asked on this connection (e.g. email_transcript) answers it: the form says why,
        // rather than "Sending…" for ever.
        if (this.requests && this.requests.refused(envelope)) break;
        this.failed(data);
        break;
      default:
        break;
    }
  }

  welcomed({ conversation_id: conversationId, token, transcript_mail: transcriptMail, email }) {
    this.awaitingWelcome = false;
    this.storage.follows = null; // the new chat is linked (or, its token no longer right, silently not): asked once
    this.view.transcriptMail.setAvailable(transcriptMail);
    this.view.transcriptMail.setOwnAddress(email); // a signed-in customer's verified address, or none
    this.view.setOwnAddress(email); // and where a message left for the team may be answered
    const stored = this.storage.conversation;
    // A signed-in customer's open conversation from another device (or their own instead of someone else's
    // on a shared computer): this page shows that one, replayed whole after the welcome.
    if (stored && stored.conversationId !== conversationId) this.clearConversation();
    // A signed hello's conversation is its contact's (the bridge resumes no other): remembered as theirs, so
    // that a page without their identity forgets it (forgetAnotherContactsConversation).
    const contact = this.helloContact || (stored && stored.conversationId === conversationId ? stored.contact : null);
    // Anonymous because the bridge refused this page's identity: kept for this page (the same identity) on reloads.
    const refusedFor = !contact && this.options.identity && this.identityRefused ? contactOf(this.options.identity) : null;
    if (!stored || stored.conversationId !== conversationId || (stored.contact || null) !== (contact || null)
        || (stored.refusedFor || null) !== refusedFor) {
      this.storage.conversation = contact ? { conversationId, token, contact }
        : refusedFor ? { conversationId, token, refusedFor } : { conversationId, token };
    }
    for (const { resolve } of this.welcomeWaiters.splice(0)) resolve(this.storage.conversation);
  }

  /** Files waiting for a welcome that will not come for them (the chat refused, or forgotten): never sent. */
  dropWelcomeWaiters(code) {
    const error = new FileError(code, this.strings[`error_${code}`] || this.strings.error_default);
    for (const { reject } of this.welcomeWaiters.splice(0)) reject(error);
  }

  /** The stored conversation, once there is one (a first file may start it). */
  conversation() {
    const stored = this.storage.conversation;
    if (stored && !this.awaitingWelcome) return Promise.resolve(stored);
    this.connect();
    return new Promise((resolve, reject) => this.welcomeWaiters.push({ resolve, reject }));
  }

  // ---- files (HTTP, shared/files.js) ----------------------------------------

  /** Sends a picture or PDF, shown as "sending" with its progress until the bridge has it (or says why not). */
  async sendFile(file) {
    if (!this.view) return;
    this.newChatAfterClose();
    const clientId = newId();
    const name = file.name || "file";
    this.pending.push({ clientId, text: name, payload: "", serverId: null, file: true });
    this.view.addPendingFile(clientId, name, Date.now());
    const refused = precheck(file);
    try {
      if (refused) throw refused;
      const { conversationId, token } = await this.conversation();
      const reply = await uploadFile(this.options.server, conversationId, `Conversation ${token}`, file, {
        clientId, identity: this.signedIdentity, onProgress: (fraction) => this.view && this.view.setUploadProgress(clientId, fraction),
      });
      this.fileStored(clientId, reply);
    } catch (error) {
      const index = this.pending.findIndex((item) => item.clientId === clientId);
      if (index < 0) return; // marked not sent already (refusedNewChat)
      this.pending.splice(index, 1);
      if (this.view) this.view.markFailed(clientId, this.strings[`file_error_${error.code}`] || error.message || this.strings.error_default);
    }
  }

  /** The bridge stored the file: its message replaces the "sending" one, unless its echo came first. */
  fileStored(clientId, { message_id: messageId, attachment }) {
    const index = this.pending.findIndex((item) => item.clientId === clientId);
    if (index < 0 || !this.view) return;
    const [item] = this.pending.splice(index, 1);
    if (item.serverId || this.messages.has(messageId)) return;
    const message = { id: messageId, kind: "customer", text: attachment.name, data: { attachment }, ts: Date.now() };
    this.messages.set(messageId, message);
    this.view.promotePending(clientId, message);
  }

  loadFile(attachment) {
    const stored = this.storage.conversation;
    if (!stored) return Promise.reject(new Error("no conversation"));
    return fetchFile(this.options.server, stored.conversationId, attachment.id, `Conversation ${stored.token}`,
      { identity: this.signedIdentity });
  }

  failed(error) {
    if (this.awaitingWelcome && (error.code === "invalid_identity" || error.code === "identity_expired")) {
      // Not a broken chat: the customer chats anonymously, and the site's developers read why.
      console.warn(`SupportChat: the bridge refused the signed identity (${error.code}: ${error.message}); `
        + "chatting anonymously. See docs/identity.md.");
      this.identityRefused = true;
      this.transport.write({ type: "hello", id: newId(), data: this.hello().data });
      return;
    }
    if (this.awaitingWelcome && (error.code === "invalid_token" || error.code === "identity_required")) {
      // The stored conversation expired, or is a signed-in customer's and this page is not theirs (any more):
      // start a new one on the same socket (a failed hello may be repeated), never a stuck widget.
      this.forgetConversation();
      this.transport.write({ type: "hello", id: newId(), data: this.hello().data });
      return;
    }
    if (this.awaitingWelcome && error.code === "too_many_conversations") {
      this.refusedNewChat();
      return;
    }
    if (error.code === "forbidden_origin") {
      console.error(`SupportChat: the bridge refused this page's origin (${location.origin}); `
        + "add it to the bridge's HANDOFF_ALLOWED_ORIGINS.");
    }
    // Errors about reliable sends reach sendFailed through the Transport; typing and read receipts may be lost.
  }

  /**
   * The bridge refused to start a chat (too many new ones from this address): one clear state. Nothing
   * retries by itself (the connection is closed; the customer's next message tries again), what they typed
   * or chose to send is marked not sent and forgotten (a file waiting for the chat is never sent later),
   * and they are told when to try again and, given the `phone` option, how else to reach the bank.
   */
  refusedNewChat() {
    this.dropWelcomeWaiters("too_many_conversations");
    this.transport.close();
    this.transport = null;
    this.requests = null;
    for (const item of this.pending) this.view.markFailed(item.clientId, this.strings.error_too_many_conversations);
    this.pending = [];
    this.storage.outbox.save([]);
    this.hideBotTyping();
    this.view.showRefusedNewChat();
  }

  /**
   * The conversation was erased at the customer's request while it was open (a supervisor's forget): this
   * page drops it (nothing of it is shown or stored any more), says so kindly, and the customer's next
   * message starts a new chat on a new connection (the old one is refused everything about the old chat).
   */
  chatEnded(data) {
    if (this.transport) this.transport.close();
    this.transport = null;
    this.requests = null;
    this.pending = [];
    this.storage.outbox.save([]);
    this.hideBotTyping();
    this.forgetConversation();
    this.view.setStatus(this.status); // nobody is with them any more: the header says the assistant, as a new chat
    this.view.transcriptMail.setAvailable(false);
    this.view.showConfirmation(this.strings[`chatEnded_${data.reason}`] || data.text || this.strings.chatEnded_forgotten);
  }

  /**
   * A closed chat stays as it ended: its outcome, labels, rating and transcript mail are its own (agents find it
   * so in Search and in the contact's history). What the customer writes, sends or asks for next starts a new
   * chat on a new connection, shown under a divider below the old one (a reload shows the new one alone).
   * The rating and the transcript mail of the closed chat still go to it: they do not come through here.
   */
  newChatAfterClose() {
    if (this.status.state !== "closed") return;
    const closed = this.storage.conversation;
    if (closed) {
      this.storage.follows = { conversation_id: closed.conversationId, token: closed.token,
        contact: closed.contact || closed.refusedFor || null };
    }
    if (this.transport) this.transport.close();
    this.transport = null;
    this.requests = null;
    this.storage.outbox.save([]);
    this.storage.conversation = null;
    this.storage.seenUpTo = null;
    this.messages.clear();
    this.lastSeen = null;
    this.lastReadSent = null;
    this.status = { state: null };
    this.view.setStatus(this.status);
    this.view.startNewChat(this.strings.newChat);
    this.updateUnread();
  }

  /** The stored conversation has expired: a fresh start. Files chosen for the old one are not sent to the new one. */
  forgetConversation() {
    this.dropWelcomeWaiters("conversation_expired");
    this.storage.conversation = null;
    this.storage.follows = null;
    this.clearConversation();
    this.view.showGreeting(this.options.greeting);
  }

  /** What this page shows of a conversation it no longer shows: gone, before another's replay. */
  clearConversation() {
    this.storage.seenUpTo = null;
    this.messages.clear();
    this.lastSeen = null;
    this.lastReadSent = null;
    this.status = { state: null };
    this.view.clearMessages();
    this.updateUnread();
  }

  // ---- messages ------------------------------------------------------------

  received(id, data) {
    if (typeof id !== "string" || this.messages.has(id)) return;
    const message = {
      id, kind: data.kind, text: typeof data.text === "string" ? data.text : "",
      data: data.data && typeof data.data === "object" ? data.data : {}, ts: Number(data.ts) || Date.now(),
    };
    if (!this.lastSeen || compareMessageIds(id, this.lastSeen) > 0) this.lastSeen = id;
    this.messages.set(id, message);
    if (message.kind === "customer") {
      this.customerMessage(message, typeof data.client_id === "string" ? data.client_id : "");
    } else {
      if (message.kind !== "agent") this.hideBotTyping();
      if (message.kind === "agent") this.agentTyping(false);
      if (isVisible(message)) this.view.addMessage(message);
    }
    if (this.isOpen) this.markSeen();
    this.updateUnread();
    if (message.kind === "agent") this.sendReadReceipt();
    this.emit("message", { id, kind: message.kind, text: message.text, ts: message.ts, agent: message.data.agent || null });
  }

  /**
   * The bridge echoes every customer message (other tabs see them too) with
   * the id its sender gave it: the echo of our own pending message replaces it.
   */
  customerMessage(message, clientId) {
    const mine = clientId && this.pending.find((item) => item.clientId === clientId && !item.serverId);
    if (mine) {
      mine.serverId = message.id;
      this.view.promotePending(mine.clientId, message);
      // The bridge has it and is asking the bot now (it acks once the bot has answered); never for a file.
      if (!mine.file && (this.status.state === "bot" || this.status.state === "closed")) this.showBotTyping();
    } else {
      this.view.addMessage(message);
    }
  }

  showPending(clientId, text, payload) {
    if (typeof text !== "string") return;
    this.pending.push({ clientId, text, payload: payload || "", serverId: null });
    this.view.addPending(clientId, text, Date.now());
  }

  acknowledged(clientId, data) {
    if (this.requests.settle(clientId, data)) return;
    const index = this.pending.findIndex((item) => item.clientId === clientId);
    if (index < 0) return;
    const [item] = this.pending.splice(index, 1);
    const messageId = data.message_id;
    if (typeof messageId !== "string" || item.serverId === messageId) return;
    if (this.messages.has(messageId)) {
      // Already shown: its echo came first (e.g. replayed after a reload).
      if (!item.serverId) this.view.removePending(clientId);
      return;
    }
    // Acked before its echo arrived, or its echo was another tab's identical message. The text is the
    // bridge's, as it stored it: what it masked (a card number, a password) is not shown again.
    const text = typeof data.text === "string" ? data.text : item.text;
    const message = { id: messageId, kind: "customer", text, data: item.payload ? { payload: item.payload } : {}, ts: Date.now() };
    this.messages.set(messageId, message);
    if (item.serverId) this.view.addMessage(message);
    else this.view.promotePending(clientId, message);
  }

  sendFailed(item, error) {
    if (error.code === "conversation_closed" && item.type === "message") {
      // The chat closed while this was on its way (or it was sent again after a reload): the closed chat stays as
      // it ended, and the message opens the next one, as anything sent after a close does. After this call the
      // transport settles the item in the outbox the new chat's transport shares: the new chat starts after it.
      queueMicrotask(() => this.resendInNewChat(item));
      return;
    }
    const reason = this.strings[`error_${error.code}`] || error.message || this.strings.error_default;
    if (this.requests.settle(item.id, null, Object.assign(new Error(reason), { code: error.code, retryAt: error.retry_at }))) return;
    const index = this.pending.findIndex((pending) => pending.clientId === item.id);
    if (index >= 0) this.pending.splice(index, 1);
    this.view.markFailed(item.id, reason);
    this.hideBotTyping();
  }

  /** A message the closed chat refused (sendFailed), sent again in a new chat, shown there. */
  resendInNewChat(item) {
    if (!this.view) return;
    const index = this.pending.findIndex((pending) => pending.clientId === item.id);
    if (index >= 0) this.pending.splice(index, 1);
    this.view.removePending(item.id);
    this.status = { ...this.status, state: "closed" };
    this.send(item.data.text, item.data.payload);
  }

  /** A reliable send other than a message; the promise settles with the bridge's ack or error. */
  request(type, data) {
    this.connect();
    return this.requests.send(type, data);
  }

  // ---- status, unread, typing ------------------------------------------------

  statusChanged(status) {
    if (!status || typeof status.state !== "string") return;
    const before = this.status.state;
    // The open request comes with a queued customer's own statuses, not with those of every queue change: kept.
    if (status.state === "queued" && status.request === undefined && this.status.request) {
      status = { ...status, request: this.status.request };
    }
    this.status = status;
    if (status.state !== "bot") this.hideBotTyping();
    if (status.state !== "agent") this.agentTyping(false);
    this.view.setStatus(status);
    // A conversation that turned out to be empty greets like a new one.
    if (!before && this.messages.size === 0 && this.pending.length === 0) this.view.showGreeting(this.options.greeting);
    this.emit("status", { ...status });
  }

  markSeen() {
    if (!this.lastSeen) return;
    const seen = this.storage.seenUpTo;
    if (!seen || compareMessageIds(this.lastSeen, seen) > 0) this.storage.seenUpTo = this.lastSeen;
    this.updateUnread();
  }

  updateUnread() {
    const seen = this.storage.seenUpTo;
    let count = 0;
    if (!this.isOpen) {
      for (const message of this.messages.values()) {
        if (message.kind !== "customer" && isVisible(message) && (!seen || compareMessageIds(message.id, seen) > 0)) count += 1;
      }
    }
    this.view.setUnread(count);
  }

  /** Tells the agent what the customer has seen: only while the window is open and the tab visible. */
  sendReadReceipt() {
    if (!this.transport || !this.isOpen || document.visibilityState !== "visible") return;
    let newest = null;
    for (const message of this.messages.values()) {
      if (message.kind === "agent" && (!newest || compareMessageIds(message.id, newest) > 0)) newest = message.id;
    }
    if (!newest || (this.lastReadSent && compareMessageIds(newest, this.lastReadSent) <= 0)) return;
    if (this.transport.sendNow("read", { up_to: newest })) this.lastReadSent = newest;
  }

  showBotTyping() {
    clearTimeout(this.timers.botTyping);
    this.view.setTyping(this.strings.botTyping);
    this.timers.botTyping = setTimeout(() => this.hideBotTyping(), BOT_TYPING_TIMEOUT_MS);
  }

  hideBotTyping() {
    if (!this.timers.botTyping) return;
    clearTimeout(this.timers.botTyping);
    this.timers.botTyping = null;
    this.view.setTyping(null);
  }

  agentTyping(active) {
    clearTimeout(this.timers.agentTyping);
    if (active) {
      this.hideBotTyping();
      this.view.setTyping(fill(this.strings.agentTyping, { agent: this.status.agent || this.strings.agent }));
      this.timers.agentTyping = setTimeout(() => this.agentTyping(false), AGENT_TYPING_TIMEOUT_MS);
    } else if (this.timers.agentTyping) {
      this.timers.agentTyping = null;
      this.view.setTyping(null);
    }
  }

  /** While queued or an agent serves: "typing" at most every few seconds, "stopped" after a pause (the agent
   *  sees it in the chat, and on the queue card while the customer waits). */
  customerTyping() {
    if ((this.status.state !== "agent" && this.status.state !== "queued") || !this.transport) return;
    const now = Date.now();
    if (now - this.customerTypingSentAt >= TYPING_SIGNAL_INTERVAL_MS && this.transport.sendNow("typing", { active: true })) {
      this.customerTypingSentAt = now;
    }
    clearTimeout(this.timers.customerIdle);
    this.timers.customerIdle = setTimeout(() => this.stopCustomerTyping(), TYPING_IDLE_MS);
  }

  stopCustomerTyping() {
    if (!this.customerTypingSentAt) return;
    clearTimeout(this.timers.customerIdle);
    this.customerTypingSentAt = 0;
    if (this.transport) this.transport.sendNow("typing", { active: false });
  }
}
