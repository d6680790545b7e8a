// Who a signed-in customer is (docs/identity.md), at the top of a chat's details: the attributes the
// site signed, marked verified; the note colleagues keep about them; their other conversations with
// how each ended, its topics and rating, each opening read-only. An anonymous customer has none of it.

import { h, replaceChildren, timeElement } from "../../shared/dom.js";
import { describeError, humanize } from "../constants.js";
import { dispositionLabel } from "../workspace/closing-dialog.js";

// As the bridge caps it (handoff/contacts.py MAX_CONTACT_NOTE).
const MAX_NOTE = 1000;

function section(title, ...content) {
  return h("section", { class: "details-section contact-section" }, h("h3", {}, title), ...content);
}

export class ContactPanel {
  /** @param tab the ConversationTab it belongs to */
  constructor(tab) {
    this.tab = tab;
    this.view = tab.view;
    this.element = h("div", { class: "contact-panel", "aria-label": "Customer", hidden: true });
    this.card = null;
    this.asked = null; // the contact id last asked about: one request per customer, not per update
  }

  /** The chat's ``conversation`` data: its signed contact, or none. */
  update(data) {
    const signed = data.contact;
    this.element.hidden = !signed;
    if (!signed) {
      replaceChildren(this.element);
      this.card = null;
      this.asked = null;
      return;
    }
    if (this.asked === signed.id) return;
    this.asked = signed.id;
    // A chat opened from the customer's history: who they are is shown; their history and note are beside the chat
    // it was opened from (the bridge lets this agent read this one only through that one).
    const fromHistory = this.view.viewedVia.has(this.tab.id);
    this.render(signed, null, fromHistory ? "Their history and note are beside the chat you opened this from." : null);
    if (!fromHistory) this.load(signed);
  }

  async load(signed) {
    try {
      const reply = await this.view.waiting.ask("contact", { conversation_id: this.tab.id });
      this.card = reply && reply.contact;
      this.render(signed, this.card);
    } catch (failure) {
      this.render(signed, null, `History not shown: ${describeError(failure)}`);
    }
  }

  render(signed, card, remark = null) {
    const who = card || signed;
    replaceChildren(this.element,
      section("Customer",
        h("p", { class: "contact-verified" }, h("span", { class: "chip chip-verified", title: "Signed by the site: this is who the customer is signed in as" }, "✓ Verified"),
          " ", h("bdi", { class: "contact-name" }, who.name || who.id)),
        h("dl", { class: "kv" },
          h("dt", {}, "Email"), h("dd", { class: "contact-email" }, who.email || "—"),
          h("dt", {}, "Customer id"), h("dd", { class: "contact-id" }, who.id),
          card && card.first_seen ? [h("dt", {}, "First seen"), h("dd", {}, timeElement(card.first_seen, undefined, null, { dated: true }))] : null)),
      card ? this.noteSection(card) : null,
      card ? this.historySection(card) : null,
      remark && !card ? h("p", { class: "muted contact-remark" }, remark) : null);
  }

  noteSection(card) {
    const field = h("textarea", {
      class: "contact-note-input", rows: "3", maxlength: String(MAX_NOTE), "aria-label": "Note about this customer",
      placeholder: "A note your colleagues will see next time",
    });
    field.value = card.note ? card.note.text : "";
    const status = h("p", { class: "muted contact-note-status", "aria-live": "polite" });
    const save = h("button", { type: "button", class: "button", onclick: () => this.saveNote(field, save, status) }, "Save note");
    const saved = card.note
      ? h("p", { class: "muted contact-note-by" }, "Last saved by ", this.view.nameOf(card.note.by), ", ",
        timeElement(card.note.at, undefined, null, { dated: true }))
      : null;
    return section("Note about the customer", field, h("div", { class: "contact-note-actions" }, save, status), saved);
  }

  async saveNote(field, button, status) {
    const text = field.value.trim();
    if (!text) {
      status.textContent = "Write something first.";
      return;
    }
    button.disabled = true;
    try {
      const reply = await this.view.waiting.ask("contact_note", { conversation_id: this.tab.id, text });
      this.card = reply && reply.contact;
      if (this.card) this.render(this.card, this.card);
      this.view.toast("Note about the customer saved.");
    } catch (failure) {
      status.textContent = describeError(failure);
      button.disabled = false;
    }
  }

  historySection(card) {
    const others = (card.conversations || []).filter((past) => past.conversation_id !== this.tab.id);
    if (!others.length) return section("Previous conversations", h("p", { class: "muted" }, "None: this is their first."));
    return section("Previous conversations",
      h("ul", { class: "contact-history" }, others.map((past) => h("li", {},
        h("button", {
          type: "button", class: "contact-history-item", "data-conversation": past.conversation_id,
          // One only the archive keeps opens in the Search view (read-only, not live).
          onclick: () => (past.archived && this.view.openArchived
            ? this.view.openArchived(past.conversation_id, this.tab.id)
            : this.view.viewConversation(past.conversation_id, true, this.tab.id)
              .catch((failure) => this.view.toast(describeError(failure), "error"))),
        },
        h("span", { class: "contact-history-when" }, timeElement(past.started, undefined, null, { dated: true })),
        h("span", { class: "chip contact-history-outcome" },
          past.disposition ? dispositionLabel(past.disposition) : past.state === "closed" ? "Closed" : humanize(past.state)),
        past.rating ? h("span", { class: "chip contact-history-rating", title: past.rating.comment || "" }, `${"★".repeat(past.rating.score)} ${past.rating.score}/5`) : null,
        (past.topics || []).length ? h("span", { class: "muted contact-history-topics" }, past.topics.map(humanize).join(", ")) : null)))));
  }
}
