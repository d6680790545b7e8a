// The supervisors' Privacy view: forget a customer (docs/data-model.md "Forget this
// customer"). A signed-in customer by the site's customer id, an anonymous one by a
// conversation id; the supervisor confirms first, as nothing can bring it back. The
// bridge removes it from every store, audits who and how many (never what), and
// answers with the counts shown here.

import { h, replaceChildren } from "../shared/dom.js";
import { PendingRequests } from "../shared/requests.js";
import { Transport } from "../shared/transport.js";
import { confirmDialog } from "./dialogs.js";
import { describeError, loginProtocols, socketUrl } from "./constants.js";
import { View } from "./view.js";

const KINDS = {
  contact_id: { label: "Customer id (signed-in customer)", what: "customer" },
  conversation_id: { label: "Conversation id (anonymous customer)", what: "conversation" },
};
// What the counts say (one, several), in the order shown; any other count the bridge adds is shown by its name.
const COUNT_LABELS = {
  conversations: ["conversation", "conversations"], messages: ["live message", "live messages"],
  archived_messages: ["archived message", "archived messages"], archived_conversations: ["archived conversation", "archived conversations"],
  tracker_keys: ["bot conversation record", "bot conversation records"], inbox_items: ["teaching inbox item", "teaching inbox items"],
  inbox_candidates: ["teaching inbox candidate", "teaching inbox candidates"], suggestions: ["suggested reply", "suggested replies"],
};

/** "1 conversation", "3 live messages": a count with its label. */
function counted(name, value) {
  const [one, several] = COUNT_LABELS[name] || [name.replaceAll("_", " "), name.replaceAll("_", " ")];
  return `${value} ${value === 1 ? one : several}`;
}

export function createPrivacyView(context) {
  return new PrivacyView(context);
}

class PrivacyView extends View {
  constructor({ session, watchConnection }) {
    super();
    this.session = session;
    this.watchConnection = watchConnection;
    this.transport = null; // opened the first time the view is shown
    this.kind = h("select", { id: "forget-kind", class: "input" },
      Object.entries(KINDS).map(([value, { label }]) => h("option", { value }, label)));
    this.target = h("input", { id: "forget-target", class: "input", type: "text", maxlength: 128, autocomplete: "off",
      required: true, spellcheck: "false" });
    this.button = h("button", { type: "submit", class: "button danger" }, "Forget…");
    this.error = h("p", { class: "inline-error", role: "alert", hidden: true });
    this.result = h("div", { class: "forget-result", role: "status" });
    const form = h("form", { class: "forget-form", onsubmit: (event) => { event.preventDefault(); this.ask(); } },
      h("label", { for: "forget-kind" }, "Who"), this.kind,
      h("label", { for: "forget-target" }, "Their id"), this.target,
      this.button);
    this.element = h("section", { class: "view privacy-view", "aria-labelledby": "privacy-title", hidden: true },
      h("h1", { id: "privacy-title" }, "Privacy"),
      h("section", { class: "kpi-section", "aria-labelledby": "forget-title" },
        h("h2", { id: "forget-title", class: "section-title" }, "Forget a customer"),
        h("p", { class: "dialog-text" }, "Removes every conversation of the customer from the live chats, the archive, "
          + "the bot's records, the teaching inbox and suggested replies. Who did it and how many are kept in the audit; "
          + "what was said is not."),
        form, this.error, this.result));
  }

  show() {
    super.show();
    if (this.transport) return;
    this.transport = new Transport(socketUrl("/ws/supervisor"), { protocols: loginProtocols(this.session.token) });
    this.watchConnection(this.transport);
    this.waiting = new PendingRequests(this.transport);
    this.transport.on("envelope", (envelope) => {
      if (envelope.type === "forgotten") this.waiting.settle(envelope.id, envelope.data || {});
      else if (envelope.type === "error") this.waiting.refused(envelope);
    });
    this.transport.connect();
  }

  async ask() {
    const kind = this.kind.value;
    const target = this.target.value.trim();
    if (!target) return;
    this.error.hidden = true;
    const confirmed = await confirmDialog({
      title: `Forget this ${KINDS[kind].what}?`,
      text: `Everything kept about ${KINDS[kind].what} “${target}” is deleted from every store. This cannot be undone.`,
      confirm: "Forget for good",
      danger: true,
    });
    if (!confirmed) return;
    this.button.disabled = true;
    try {
      const data = await this.waiting.ask("forget", { [kind]: target });
      this.showCounts(target, data.counts || {});
      this.target.value = "";
    } catch (failure) {
      this.error.textContent = failure && failure.code === "not_found"
        ? "No store keeps that customer or conversation." : describeError(failure);
      this.error.hidden = false;
    } finally {
      this.button.disabled = false;
    }
  }

  showCounts(target, counts) {
    const shown = Object.keys(COUNT_LABELS).filter((name) => name in counts)
      .concat(Object.keys(counts).filter((name) => !(name in COUNT_LABELS)).sort());
    replaceChildren(this.result,
      h("p", {}, `Forgotten: ${target}`),
      h("ul", { class: "forget-counts" }, shown.map((name) =>
        h("li", { "data-count": name }, counted(name, counts[name])))));
  }

  destroy() {
    if (this.transport) this.transport.close();
  }
}
