// The chat this customer had just before this one (docs/bridge-protocol.md "conversation", ``earlier``): they
// wrote again after it was closed, in the same browser, signed in or not. How it ended, who served it, what the
// customer wrote there last, how they rated it and what the bot's handoff said, with "Open" to read it (read-only, through this chat: the bridge lets whoever
// may read this one read that one; one only the archive keeps, ``archived``, opens in the Search view), so nobody asks the customer to explain again.

import { h, replaceChildren, timeElement } from "../../shared/dom.js";
import { describeError, humanize } from "../constants.js";
import { lasted } from "../presence.js";
import { dispositionLabel } from "../workspace/closing-dialog.js";

export class EarlierPanel {
  /** @param tab the ConversationTab it belongs to */
  constructor(tab) {
    this.tab = tab;
    this.view = tab.view;
    this.element = h("section", { class: "details-section earlier-chat", "aria-label": "Earlier chat", hidden: true });
  }

  /** The chat's ``conversation`` data; rendered again when the team's names arrive (ConversationTab.renderNames). */
  render(data) {
    const earlier = data.earlier;
    this.element.hidden = !earlier;
    if (!earlier) {
      replaceChildren(this.element);
      return;
    }
    const closed = earlier.closed_at
      ? ["closed ", h("span", { class: "earlier-chat-ago" }, Date.now() - earlier.closed_at < 60000 ? "just now" : `${lasted(earlier.closed_at)} ago`),
        " (", timeElement(earlier.closed_at, undefined, null, { dated: true }), ")"]
      : ["closed"];
    const summary = (earlier.summary || "").split("\n")[0].trim();
    replaceChildren(this.element,
      h("h3", {}, "Earlier chat"),
      h("p", { class: "earlier-chat-outcome" }, "The customer wrote again after a chat that was ", ...closed,
        earlier.by ? [" by ", h("span", { class: "earlier-chat-agent" }, this.view.nameOf(earlier.by))] : null, "."),
      h("p", { class: "chips" },
        h("span", { class: "chip earlier-chat-disposition" }, earlier.disposition ? dispositionLabel(earlier.disposition) : "No outcome given"),
        earlier.rating ? h("span", { class: "chip earlier-chat-rating", title: earlier.rating.comment || "" }, `${"★".repeat(earlier.rating.score)} ${earlier.rating.score}/5`) : null,
        (earlier.topics || []).length ? h("span", { class: "muted earlier-chat-topics" }, earlier.topics.map(humanize).join(", ")) : null),
      earlier.last_message ? h("blockquote", { class: "earlier-chat-said" },
        h("span", { class: "visually-hidden" }, "The customer's last words there: "), earlier.last_message.text) : null,
      summary ? h("p", { class: "earlier-chat-summary" }, summary) : null,
      earlier.closing_note ? h("p", { class: "muted earlier-chat-note" }, `Closing note: ${earlier.closing_note}`) : null,
      // A chat itself opened through another (a chain of chats): the bridge opens only the one that chat follows.
      this.view.viewedVia.has(this.tab.id)
        ? h("p", { class: "muted earlier-chat-remark" }, "Only the chat just before the one you serve opens from it.")
        : earlier.archived && !this.view.openArchived
          ? h("p", { class: "muted earlier-chat-remark" }, "It is only in the archive now, which this console cannot open.")
          : h("button", {
            type: "button", class: "button earlier-chat-open", "data-conversation": earlier.conversation_id,
            onclick: () => (earlier.archived
              ? this.view.openArchived(earlier.conversation_id, this.tab.id)
              : this.view.viewConversation(earlier.conversation_id, true, this.tab.id)
                .catch((failure) => this.view.toast(describeError(failure), "error"))),
          }, "Open earlier chat"));
  }
}
