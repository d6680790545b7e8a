// Sends that wait for the bridge's answer (an ack, a reply, or an error with
// the same envelope id): the customer widget's requests, the console's
// claims, actions and questions. Each settles once.

import { newId } from "./transport.js";

// What an asked request rejects with when there is no connection to send it on.
const OFFLINE = { code: "offline", message: "Not connected to the server; try again in a moment." };

export class PendingRequests {
  /**
   * @param {import("./transport.js").Transport} transport
   * @param {object} [options]
   * @param {string} [options.lost] why an asked request failed when its connection was lost
   */
  constructor(transport, { lost = "The connection was lost; try again." } = {}) {
    this.transport = transport;
    this.waiters = new Map();
    // A request asked on a connection is never answered on the next one.
    transport.on("state", ({ connected }) => {
      if (!connected) this.dropAsked({ code: "offline", message: lost });
    });
  }

  /** Sent reliably: kept and resent across reconnects until the bridge answers (failures come through the transport's "failed"). */
  send(type, data, id = newId()) {
    const done = this.wait(id, true);
    this.transport.sendReliable(type, data, id);
    return done;
  }

  /** Sent on this connection only (a question, or something the user retries by hand); rejected at once when offline. */
  ask(type, data = {}) {
    const id = newId();
    const done = this.wait(id, false);
    if (!this.transport.sendNow(type, data, id)) this.settle(id, null, OFFLINE);
    return done;
  }

  wait(id, reliable) {
    return new Promise((resolve, reject) => this.waiters.set(id, { resolve, reject, reliable }));
  }

  /** Resolves with the answer's data, or rejects with `error`; false when nothing waits for `id`. */
  settle(id, data, error = null) {
    const waiter = this.waiters.get(id);
    if (!waiter) return false;
    this.waiters.delete(id);
    if (error) waiter.reject(error);
    else waiter.resolve(data);
    return true;
  }

  /**
   * An "error" envelope: it answers an asked request. A reliable send is
   * settled by the transport's "failed" instead, after the retries of a
   * retryable error. False when it answered nothing here.
   */
  refused(envelope) {
    const waiter = this.waiters.get(envelope.id);
    return Boolean(waiter && !waiter.reliable) && this.settle(envelope.id, null, envelope.data || {});
  }

  /** Rejects every asked request (the connection is gone, or the page is leaving). */
  dropAsked(error) {
    for (const [id, waiter] of this.waiters) {
      if (!waiter.reliable) this.settle(id, null, error);
    }
  }
}
