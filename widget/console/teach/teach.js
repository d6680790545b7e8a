// The content editors' view: teach the bot from real conversations.
//
// One socket, /ws/content (docs/bridge-protocol.md, "Content staff"). The
// bridge pushes the catalogue of intents and FAQ topics, the inbox (customer
// messages the bot handled badly, grouped by meaning), the training job, the
// models and the audit trail on connect and whenever they change; the panels
// (inbox.js, train.js, models.js, audit.js) render those and turn clicks into
// requests, each answered by an ack or an error with the same id.

import { h } from "../../shared/dom.js";
import { PendingRequests } from "../../shared/requests.js";
import { Transport } from "../../shared/transport.js";
import { TEACH_STRINGS, loginProtocols, socketUrl } from "../constants.js";
import { Tabs } from "../tabs.js";
import { AuditPanel } from "./audit.js";
import { InboxPanel } from "./inbox.js";
import { ModelsPanel } from "./models.js";
import { TrainPanel } from "./train.js";
import { View } from "../view.js";

export function createTeachView(context) {
  return new TeachView(context);
}

// Replies to a request: its ack, or a reply of its own type (conversation, model, audit).
const REPLY_TYPES = new Set(["ack", "conversation", "model", "audit"]);
const LOST = { code: "offline", message: TEACH_STRINGS.connectionLost };

class TeachView extends View {
  constructor({ session, watchConnection }) {
    super();
    this.catalog = { intents: [], categories: [] };
    this.transport = new Transport(socketUrl("/ws/content"), { protocols: loginProtocols(session.token) });
    watchConnection(this.transport);
    // Requests are asked on one connection and not resent after a reconnect: the
    // editor sees whether one was done in the pushes that follow, and can try again.
    this.waiting = new PendingRequests(this.transport, { lost: LOST.message });
    this.transport.on("envelope", (envelope) => this.receive(envelope));

    this.inbox = new InboxPanel(this);
    this.train = new TrainPanel(this);
    this.models = new ModelsPanel(this);
    this.audit = new AuditPanel(this);
    this.tabs = new Tabs("teach", "Teaching", [
      { id: "inbox", label: "Inbox", icon: "inbox", panel: this.inbox.element },
      { id: "train", label: "Train & deploy", icon: "bolt", panel: this.train.element, busyText: "(training)" },
      { id: "models", label: "Models", icon: "bot", panel: this.models.element },
      { id: "audit", label: "Audit trail", icon: "clock", panel: this.audit.element },
    ], { classes: { list: "teach-tabs", tab: "teach-tab", panels: "teach-panels", panel: "teach-panel" } });
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
    if (envelope.type === "error") {
      this.waiting.refused(envelope);
      return;
    }
    // A reply may be a push as well (audit): it is shown below too.
    if (REPLY_TYPES.has(envelope.type) && envelope.id) this.waiting.settle(envelope.id, data);
    try {
      switch (envelope.type) {
        case "catalog":
          this.catalog = { intents: Array.isArray(data.intents) ? data.intents : [], categories: Array.isArray(data.categories) ? data.categories : [] };
          break;
        case "inbox":
          this.inbox.update(data);
          this.tabs.setCount("inbox", Number.isFinite(data.open) && data.open > 0 ? data.open : "");
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

  /** Asks the bridge on this connection; resolves with the reply's data, or rejects with the error. */
  request(type, data = {}) {
    return this.waiting.ask(type, data);
  }

  /** Puts a model live; `override` for one evaluated as worse, with the editor's reason. */
  deploy(modelId, override = false, reason = "") {
    return this.request("deploy", { model_id: modelId, override, ...(reason ? { reason } : {}) });
  }

  // ---- the view's life -----------------------------------------------------------

  destroy() {
    this.waiting.dropAsked(LOST);
    this.inbox.destroy();
    this.train.destroy();
    this.transport.close();
  }
}
