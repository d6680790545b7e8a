// The Search view (docs/bridge-protocol.md "Search"): archived conversations found by words and
// filters, newest first, each with its matching lines; any result opens whole, read-only.
//
// It asks on the staff socket the console already has (the Chats view's, else the Dashboard's):
// `search` and `search_open`. Matching lines come as text segments; a match is a <mark> whose
// text is set as text, so nothing a customer typed is ever read as HTML.

import { h, replaceChildren, timeElement } from "../shared/dom.js";
import { describeError, humanize } from "./constants.js";
import { View } from "./view.js";
import { dispositionLabel } from "./workspace/closing-dialog.js";

export function createSearchView(context) {
  return new SearchView(context);
}

const OUTCOMES = [
  ["", "Any outcome"], ["contained", "Bot only"], ["handed_off", "Handed to people (chat or request)"],
  ["requested", "Left a callback or message"], ["served", "Served by an agent"], ["abandoned", "Left before being served"], ["rated", "Rated"], ["open", "Still open"], ["closed", "Closed"],
];
const SENDERS = { customer: "Customer", bot: "Bot", agent: "Agent", system: "Notice", note: "Private note" };
const DAY_MS = 24 * 3600 * 1000;

/** Who wrote a message: an agent, and a private note's author, by the name customers and colleagues see. */
function senderOf(message) {
  const name = message.author_name || message.author || "";
  if (message.kind === "agent") return name || SENDERS.agent;
  if (message.kind === "note") return name ? `${SENDERS.note} (${name})` : SENDERS.note;
  return SENDERS[message.kind] || humanize(message.kind);
}

/** A message's text, or the file it carried. */
function textOf(message) {
  const attachment = (message.data || {}).attachment;
  return message.text || (attachment && attachment.name ? `📎 ${attachment.name}` : "");
}

/** Whether a message has anything to read (a bot turn of buttons or a handoff marker alone has not). */
function shownInTranscript(message) {
  return Boolean(textOf(message));
}

/** A line's segments as text nodes, the matches in <mark>. */
export function markedLine(segments) {
  return (segments || []).map((segment) => (segment.match ? h("mark", {}, segment.text) : segment.text));
}

function field(label, control) {
  return h("label", { class: "search-field" }, h("span", {}, label), control);
}

function dayStart(value) {
  return value ? new Date(`${value}T00:00:00`).getTime() : null;
}

class SearchView extends View {
  constructor({ staffRequests, labels, dispositions }) {
    super();
    this.requests = staffRequests;
    this.labels = labels;
    this.dispositions = dispositions;
    this.lastQuery = null;
    this.words = h("input", { type: "search", class: "search-words", name: "words", maxlength: "200", placeholder: "Words in the conversation" });
    this.part = h("input", { type: "checkbox", class: "search-part", name: "part" });
    this.customer = h("input", { type: "text", class: "search-customer", name: "customer", maxlength: "200", placeholder: "Id, email or name" });
    this.agent = h("input", { type: "text", class: "search-agent", name: "agent", maxlength: "200", placeholder: "Name or login" });
    this.label = h("select", { class: "search-label", name: "label" });
    this.disposition = h("select", { class: "search-disposition", name: "disposition" });
    this.outcome = h("select", { class: "search-outcome", name: "outcome" },
      OUTCOMES.map(([value, text]) => h("option", { value }, text)));
    this.since = h("input", { type: "date", class: "search-since", name: "since" });
    this.until = h("input", { type: "date", class: "search-until", name: "until" });
    this.status = h("p", { class: "muted search-status", role: "status", "aria-live": "polite" });
    this.results = h("ol", { class: "search-results", "aria-label": "Conversations found" });
    this.more = h("button", { type: "button", class: "button search-more", hidden: true, onclick: () => this.run(true) }, "More results");
    this.opened = h("section", { class: "search-opened", "aria-label": "Conversation", hidden: true });
    this.form = h("form", { class: "search-form", role: "search", onsubmit: (event) => { event.preventDefault(); this.run(false); } },
      field("Words", this.words),
      h("label", { class: "search-check" }, this.part, h("span", {}, "Match parts of words")),
      field("Customer", this.customer), field("Agent", this.agent), field("Label", this.label),
      field("Disposition", this.disposition), field("Outcome", this.outcome), field("From", this.since), field("To", this.until),
      h("button", { type: "submit", class: "button primary search-submit" }, "Search"));
    this.listing = h("div", { class: "search-listing" }, this.status, this.results, this.more);
    this.element = h("section", { class: "view search-view", "aria-labelledby": "search-title", hidden: true },
      h("h1", { id: "search-title" }, "Search"), this.form, this.listing, this.opened);
  }

  show() {
    super.show();
    this.fillChoices();
  }

  fillChoices() {
    const chosenLabel = this.label.value;
    replaceChildren(this.label, h("option", { value: "" }, "Any label"),
      (this.labels() || []).map((label) => h("option", { value: label.id }, label.name)));
    this.label.value = chosenLabel;
    const chosenDisposition = this.disposition.value;
    replaceChildren(this.disposition, h("option", { value: "" }, "Any disposition"),
      (this.dispositions() || []).map((item) => {
        const value = typeof item === "string" ? item : item.id || item.name;
        return h("option", { value }, dispositionLabel(String(value)));
      }));
    this.disposition.value = chosenDisposition;
  }

  query() {
    const query = {};
    for (const [name, input] of [["words", this.words], ["customer", this.customer], ["agent", this.agent],
      ["label", this.label], ["disposition", this.disposition], ["outcome", this.outcome]]) {
      if (input.value.trim()) query[name] = input.value.trim();
    }
    if (this.part.checked) query.part = true;
    const since = dayStart(this.since.value);
    const until = dayStart(this.until.value);
    if (since !== null) query.since = since;
    if (until !== null) query.until = until + DAY_MS; // the whole "To" day
    return query;
  }

  async run(more) {
    const query = more ? { ...this.lastQuery, offset: this.nextOffset } : this.query();
    this.lastQuery = more ? this.lastQuery : query;
    this.status.textContent = "Searching…";
    this.more.hidden = true;
    this.opened.hidden = true;
    this.listing.hidden = false;
    try {
      const page = await this.requests().ask("search", query);
      if (!more) replaceChildren(this.results);
      this.results.append(...page.results.map((result) => this.resultItem(result)));
      this.nextOffset = page.next_offset;
      this.more.hidden = page.next_offset === null || page.next_offset === undefined;
      const shown = this.results.children.length;
      this.status.textContent = shown ? `${shown} conversation${shown === 1 ? "" : "s"} shown, newest first.` : "Nothing found.";
    } catch (failure) {
      this.status.textContent = describeError(failure);
    }
  }

  outcomeChips(result) {
    return [
      h("span", { class: "chip search-state" }, result.disposition ? dispositionLabel(result.disposition) : humanize(result.state)),
      result.rating ? h("span", { class: "chip" }, `${"★".repeat(result.rating)} ${result.rating}/5`) : null,
    ];
  }

  resultItem(result) {
    const who = result.contact ? result.contact.name || result.contact.email || result.contact.id : "Anonymous customer";
    return h("li", { class: "search-result", "data-conversation": result.conversation_id },
      h("div", { class: "search-result-head" },
        timeElement(result.started, undefined, "search-when", { dated: true }),
        h("bdi", { class: "search-who" }, who),
        result.agent ? h("bdi", { class: "muted search-agent-name" }, `with ${result.agent_name || result.agent}`) : null,
        ...this.outcomeChips(result),
        h("button", { type: "button", class: "button small search-open", onclick: () => this.open(result.conversation_id) }, "Open")),
      h("ul", { class: "search-lines" }, (result.lines || []).map((line) => h("li", { class: `search-line sender-${line.sender}` },
        h("span", { class: "search-sender" }, SENDERS[line.sender] || humanize(line.sender), line.author ? ` (${line.author_name || line.author})` : "", ": "),
        h("span", { class: "search-line-text" }, markedLine(line.segments))))));
  }

  /** Opens a conversation read-only: a search result, or (``via``) a contact's older one from the Chats view. */
  async open(conversationId, via = null) {
    this.status.textContent = "Opening…";
    try {
      const data = await this.requests().ask("search_open", via ? { conversation_id: conversationId, via } : { conversation_id: conversationId });
      this.renderOpened(data);
      this.status.textContent = "";
    } catch (failure) {
      this.status.textContent = describeError(failure);
    }
  }

  /** The conversation's labels by name (a label deleted since is left out). */
  labelChips(ids) {
    const names = new Map((this.labels() || []).map((label) => [label.id, label.name]));
    const shown = (ids || []).filter((id) => names.has(id));
    return shown.length ? h("p", { class: "search-labels" }, shown.map((id) => h("span", { class: "chip" }, names.get(id)))) : null;
  }

  renderOpened(data) {
    const who = data.contact ? data.contact.name || data.contact.email || data.contact.id : "Anonymous customer";
    replaceChildren(this.opened,
      h("header", { class: "search-opened-head" },
        h("button", { type: "button", class: "button ghost search-back", onclick: () => { this.opened.hidden = true; this.listing.hidden = false; } }, "← Back to results"),
        h("h2", {}, h("bdi", {}, who), " · ", timeElement(data.started, undefined, null, { dated: true })),
        h("p", { class: "muted" }, data.source === "archive" ? "From the archive (read-only)" : "Read-only",
          data.agent ? ` · last agent ${data.agent_name || data.agent}` : ""),
        ...this.outcomeChips(data),
        this.labelChips(data.labels),
        data.closing_note ? h("p", { class: "search-closing-note" }, `Closing note: ${data.closing_note}`) : null),
      h("ol", { class: "search-transcript" }, data.messages.filter(shownInTranscript).map((message) =>
        h("li", { class: `search-message sender-${message.kind}` },
          h("span", { class: "search-sender" }, senderOf(message)),
          " ", timeElement(message.ts, undefined, "muted"),
          h("p", { class: "search-message-text" }, textOf(message))))));
    this.listing.hidden = true;
    this.opened.hidden = false;
  }
}
