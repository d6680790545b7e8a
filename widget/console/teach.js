// The content editors' view: teach the bot from real conversations.
//
// One socket, /ws/content (docs/bridge-protocol.md, "Content staff"). The
// bridge pushes the catalogue of intents and FAQ topics, the inbox (customer
// messages the bot handled badly, grouped by meaning), the training job, the
// models and the audit trail on connect and whenever they change; the panels
// (teach-inbox.js, teach-models.js) render those and turn clicks into
// requests, each answered by an ack or an error with the same id.

import { h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { Transport, newId } from "../shared/transport.js";
import { TEACH_STRINGS, socketUrl } from "./constants.js";
import { InboxPanel } from "./teach-inbox.js";
import { AuditPanel, ModelsPanel, TrainPanel } from "./teach-models.js";

export function createTeachView(context) {
  return new TeachView(context);
}

// Replies to a request: its ack, or a reply of its own type (conversation, model, audit).
const REPLY_TYPES = new Set(["ack", "conversation", "model", "audit"]);

class TeachView {
  constructor({ session, watchConnection }) {
    this.agent = session.agent;
    this.waiters = new Map();
    this.catalog = { intents: [], categories: [] };
    this.transport = new Transport(socketUrl("/ws/content", session.token));
    watchConnection(this.transport);
    this.transport.on("envelope", (envelope) => this.receive(envelope));
    this.transport.on("state", ({ connected }) => {
      if (!connected) this.dropWaiters();
    });

    this.inbox = new InboxPanel(this);
    this.train = new TrainPanel(this);
    this.models = new ModelsPanel(this);
    this.audit = new AuditPanel(this);
    this.tabs = new TeachTabs([
      { id: "inbox", label: "Inbox", icon: "inbox", panel: this.inbox },
      { id: "train", label: "Train & deploy", icon: "bolt", panel: this.train },
      { id: "models", label: "Models", icon: "bot", panel: this.models },
      { id: "audit", label: "Audit trail", icon: "clock", panel: this.audit },
    ]);
    this.element = h("section", { class: "view teach-view", "aria-labelledby": "teach-title", hidden: true },
      h("header", { class: "teach-head" },
        h("div", { class: "teach-heading" },
          h("h1", { id: "teach-title" }, "Teach the bot"),
          h("p", { class: "teach-lead" }, "Label what customers asked, train a new model, check it, and put it live.")),
        this.tabs.list),
      this.tabs.panels);
    this.transport.connect();
  }

  // ---- protocol ----------------------------------------------------------------

  receive(envelope) {
    const data = envelope.data || {};
    const waiter = envelope.id ? this.waiters.get(envelope.id) : null;
    if (waiter && envelope.type === "error") {
      this.settle(envelope.id, null, data);
      return;
    }
    if (waiter && REPLY_TYPES.has(envelope.type)) this.settle(envelope.id, data, null);
    try {
      switch (envelope.type) {
        case "catalog":
          this.catalog = { intents: Array.isArray(data.intents) ? data.intents : [], categories: Array.isArray(data.categories) ? data.categories : [] };
          this.inbox.catalogChanged();
          break;
        case "inbox":
          this.inbox.update(data);
          this.tabs.setCount("inbox", Number.isFinite(data.open) ? data.open : 0);
          break;
        case "job":
          this.train.update(data.job || null);
          this.tabs.setBusy("train", this.train.running);
          break;
        case "models":
          this.models.update(data);
          this.train.modelsChanged(data);
          break;
        case "audit":
          this.audit.update(Array.isArray(data.entries) ? data.entries : []);
          break;
        default:
          break;
      }
    } catch (error) {
      // A payload this page does not understand must not break the rest of it.
      console.error(`teach: could not show ${envelope.type}`, error);
    }
  }

  /**
   * Sends a request on this connection and resolves with its reply's data (or
   * rejects with the error). Not resent after a reconnect: the editor sees
   * whether it was done in the pushes that follow, and can try again.
   */
  request(type, data = {}) {
    const id = newId();
    const done = new Promise((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    if (!this.transport.sendNow(type, data, id)) {
      this.settle(id, null, { code: "offline", message: "try again in a moment." });
    }
    return done;
  }

  settle(id, data, error) {
    const waiter = this.waiters.get(id);
    if (!waiter) return;
    this.waiters.delete(id);
    if (error) waiter.reject(error);
    else waiter.resolve(data);
  }

  dropWaiters() {
    for (const id of [...this.waiters.keys()]) {
      this.settle(id, null, { code: "offline", message: TEACH_STRINGS.connectionLost });
    }
  }

  select(tabId) {
    this.tabs.select(tabId);
  }

  // ---- the view's life -----------------------------------------------------------

  show() {
    this.element.hidden = false;
  }

  hide() {
    this.element.hidden = true;
  }

  async confirmLeave() {
    return true;
  }

  destroy() {
    this.dropWaiters();
    this.inbox.destroy();
    this.train.destroy();
    this.transport.close();
  }
}

/** The four sections as accessible tabs (arrow keys, Home, End); each panel keeps its state when hidden. */
class TeachTabs {
  constructor(items) {
    this.items = items.map((item) => {
      const count = h("span", { class: "tab-count" });
      const busy = h("span", { class: "tab-busy", hidden: true }, h("span", { class: "visually-hidden" }, "(training)"));
      const tab = h("button", {
        type: "button", role: "tab", id: `teach-tab-${item.id}`, "aria-controls": `teach-panel-${item.id}`,
        class: "teach-tab", onclick: () => this.select(item.id),
      }, icon(item.icon), h("span", {}, item.label), count, busy);
      const panel = h("div", { role: "tabpanel", id: `teach-panel-${item.id}`, "aria-labelledby": tab.id, class: "teach-panel" },
        item.panel.element);
      return { ...item, owner: item.panel, tab, panel, count, busy };
    });
    this.list = h("div", { role: "tablist", class: "teach-tabs", "aria-label": "Teaching" }, this.items.map((item) => item.tab));
    this.list.addEventListener("keydown", (event) => {
      const index = this.items.findIndex((item) => item.tab === document.activeElement);
      if (index < 0) return;
      const last = this.items.length - 1;
      const moves = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1, Home: 0, End: last };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = this.items[moves[event.key]];
      this.select(next.id);
      next.tab.focus();
    });
    this.panels = h("div", { class: "teach-panels" }, this.items.map((item) => item.panel));
    this.select(items[0].id);
  }

  select(id) {
    for (const item of this.items) {
      const selected = item.id === id;
      item.tab.setAttribute("aria-selected", String(selected));
      item.tab.tabIndex = selected ? 0 : -1;
      item.panel.hidden = !selected;
      if (selected && item.owner.shown) item.owner.shown();
    }
  }

  setCount(id, count) {
    const item = this.items.find((entry) => entry.id === id);
    item.count.textContent = count ? String(count) : "";
  }

  setBusy(id, busy) {
    const item = this.items.find((entry) => entry.id === id);
    item.busy.hidden = !busy;
  }
}
