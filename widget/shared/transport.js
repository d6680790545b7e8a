// The bridge's websocket protocol for browsers (docs/bridge-protocol.md), with
// no rendering: the customer widget and the agent console both build on it.
//
// - Every frame is an envelope {type, id, data}.
// - "Reliable" sends (messages, claims, ratings...) get an id and stay in an
//   outbox until the bridge acknowledges that id; after a reconnect they are
//   sent again with the same id, and the bridge stores them once.
// - A lost connection is retried with exponential backoff and jitter; the
//   owner is told (state events) so it can show it.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30000;
// Errors after which a send is tried again later rather than given up.
const RETRYABLE = new Set(["rate_limited", "internal_error"]);

export function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Orders the bridge's message ids ("<ms>-<seq>"): negative, zero or positive. */
export function compareMessageIds(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}

export class Transport {
  /**
   * @param {string} url websocket URL
   * @param {object} options
   * @param {() => ({type: string, data: object}|null)} [options.greeting] sent first on every connection
   * @param {string} [options.readyType] the reply to the greeting after which the outbox is flushed
   * @param {{load: () => Array, save: (items: Array) => void}} [options.outboxStore] keeps unacknowledged sends across reloads
   * @param {string[]} [options.protocols] websocket subprotocols offered (the console's login token travels in one, never in the URL)
   */
  constructor(url, { greeting = () => null, readyType = null, outboxStore = null, protocols = [] } = {}) {
    this.url = url;
    this.protocols = protocols;
    this.greeting = greeting;
    this.readyType = readyType;
    this.outboxStore = outboxStore;
    this.outbox = outboxStore ? outboxStore.load() : [];
    this.listeners = new Map();
    this.socket = null;
    this.ready = false;
    this.closedForGood = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.retryAt = 0;
    this.onOnline = () => this.retryNow();
    window.addEventListener("online", this.onOnline);
  }

  /** Listen for "envelope" (every frame), "state" ({connected, retryAt}), "failed" ({item, error}). */
  on(kind, callback) {
    if (!this.listeners.has(kind)) this.listeners.set(kind, []);
    this.listeners.get(kind).push(callback);
    return this;
  }

  emit(kind, value) {
    for (const callback of this.listeners.get(kind) || []) {
      try {
        callback(value);
      } catch (error) {
        console.error(`support chat: a ${kind} listener failed`, error);
      }
    }
  }

  connect() {
    if (this.closedForGood || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.ready = false;
    const socket = new WebSocket(this.url, this.protocols);
    this.socket = socket;
    socket.addEventListener("open", () => {
      const greeting = this.greeting();
      if (greeting) this.write({ type: greeting.type, id: newId(), data: greeting.data });
      if (!this.readyType) this.becomeReady();
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      this.scheduleRetry();
    });
    // "error" is always followed by "close", which retries.
  }

  receive(raw) {
    let envelope;
    try {
      envelope = JSON.parse(raw);
    } catch {
      return;
    }
    if (!envelope || typeof envelope.type !== "string") return;
    if (envelope.type === this.readyType) {
      this.emit("envelope", envelope);
      this.becomeReady();
      return;
    }
    if (envelope.type === "ack" || envelope.type === "error") this.settle(envelope);
    this.emit("envelope", envelope);
  }

  becomeReady() {
    this.ready = true;
    this.attempt = 0;
    this.retryAt = 0;
    this.emit("state", { connected: true, retryAt: 0 });
    for (const item of this.outbox) this.write(item);
  }

  /** An ack or error for an outbox item removes it (or keeps a retryable one). */
  settle(envelope) {
    const index = this.outbox.findIndex((item) => item.id === envelope.id);
    if (index < 0) return;
    const item = this.outbox[index];
    if (envelope.type === "error") {
      const code = envelope.data && envelope.data.code;
      if (RETRYABLE.has(code)) {
        setTimeout(() => this.ready && this.outbox.includes(item) && this.write(item), 1000);
        return;
      }
      this.emit("failed", { item, error: envelope.data || {} });
    }
    this.outbox.splice(index, 1);
    this.saveOutbox();
  }

  /** Sent now if connected, else after the next (re)connection; acknowledged by the bridge. Returns the id. */
  sendReliable(type, data, id = newId()) {
    const item = { type, id, data };
    this.outbox.push(item);
    this.saveOutbox();
    if (this.ready) this.write(item);
    else this.connect();
    return id;
  }

  /** Fire and forget (typing, read receipts): dropped when not connected. */
  sendNow(type, data, id = null) {
    if (!this.ready) return false;
    this.write({ type, id, data });
    return true;
  }

  pending(type) {
    return this.outbox.filter((item) => !type || item.type === type);
  }

  write(envelope) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(envelope));
  }

  saveOutbox() {
    if (this.outboxStore) this.outboxStore.save(this.outbox);
  }

  scheduleRetry() {
    if (this.closedForGood) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.emit("state", { connected: false, retryAt: this.retryAt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.closedForGood || this.ready) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Closes for good (logout, or the widget removed from the page). */
  close() {
    this.closedForGood = true;
    clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
    if (this.socket) this.socket.close();
    this.socket = null;
  }

  /** Drops the connection as a network failure would (tests, "reconnect" buttons). */
  drop() {
    if (this.socket) this.socket.close();
  }
}
