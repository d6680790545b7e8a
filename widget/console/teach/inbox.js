// The Teach view's inbox: groups of customer messages the bot handled badly,
// each labelled in one go (assign to an intent or FAQ topic, a new FAQ topic
// or intent with its answer, out of scope, skip), and the conversation a
// message came from in a side panel.

import { h, placeInOrder, replaceChildren, syncList, timeElement } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { newId } from "../../shared/transport.js";
import {
  INBOX_REASONS, TEACH_LIMITS, TEACH_NAME_PATTERN, TEACH_STRINGS, describeTeachError, humanize, intentLabel, reasonLabel,
} from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";
import {
  Notice, button, intentName, isNumber, plural, reasonChip, share, when,
} from "./shared.js";
import { messageElement } from "../transcript.js";

/** What the worker did, in one sentence, from a decision's ack. */
function resultText(kind, result) {
  const items = isNumber(result.items) ? result.items : 0;
  const added = isNumber(result.added) ? result.added : items;
  const already = isNumber(result.already_there) && result.already_there
    ? ` (${result.already_there} ${result.already_there === 1 ? "was" : "were"} there already)` : "";
  const next = " Train the bot to put it live.";
  switch (kind) {
    case "label":
      return `${plural(added, "example")} added to ${result.intent}${already}.${next}`;
    case "new_faq":
      return `New FAQ topic ${result.intent} created with ${plural(added, "example")} and its answer.${next}`;
    case "new_intent":
      return `New intent ${result.intent} created with ${plural(added, "example")} and its answer.${next}`;
    case "out_of_scope":
      return `${plural(items, "message")} marked out of scope: the bot learns these are not its business${already}.`;
    case "skip":
      return `${plural(items, "message")} skipped.`;
    default:
      return "Done.";
  }
}

export class InboxPanel {
  constructor(view) {
    this.view = view;
    this.cards = new Map(); // group id -> GroupCard
    this.selected = new Set(); // item ids
    this.expanded = new Set(); // group ids
    this.notice = new Notice();
    this.summary = h("p", { class: "panel-summary" }, "Loading the inbox…");
    this.heading = h("h2", { id: "inbox-title", tabindex: "-1" }, "Inbox");
    this.list = h("ul", { class: "group-list", "aria-labelledby": "inbox-title" });
    this.empty = h("div", { class: "empty-state small inbox-empty", hidden: true },
      icon("inbox", "icon empty-icon"),
      h("h3", {}, TEACH_STRINGS.emptyInbox),
      h("p", {}, TEACH_STRINGS.emptyInboxText));
    this.side = new ConversationPanel(view);
    this.main = h("div", { class: "inbox-main" },
      h("div", { class: "panel-head" }, h("div", {}, this.heading, this.summary)),
      this.notice.element, this.list, this.empty);
    this.element = h("div", { class: "inbox-panel" }, this.main, this.side.element);
  }

  update(data) {
    const groups = Array.isArray(data.groups) ? data.groups : [];
    const open = isNumber(data.open) ? data.open : groups.reduce((sum, group) => sum + (group.size || 0), 0);
    this.summary.textContent = groups.length
      ? `${plural(open, "message")} to look at, in ${plural(groups.length, "group")} of similar messages. Biggest groups first.`
      : "";
    const ids = new Set(groups.map((group) => group.id));
    const present = new Set(groups.flatMap((group) => (group.items || []).map((item) => item.id)));
    for (const id of [...this.selected]) if (!present.has(id)) this.selected.delete(id);

    // A group is named after its oldest message, so it is renamed when that one is labelled
    // elsewhere: the card that shared its messages carries on (open, ticked, focused).
    const order = [...this.cards.keys()];
    const claimed = new Map(); // new group id -> card
    for (const group of groups) {
      const card = this.cards.get(group.id);
      if (card) claimed.set(group.id, card);
    }
    const taken = new Set(claimed.values());
    for (const group of groups) {
      if (claimed.has(group.id)) continue;
      const itemIds = new Set((group.items || []).map((item) => item.id));
      const heir = [...this.cards.values()].find((card) => !taken.has(card) && card.items.some((item) => itemIds.has(item.id)));
      if (!heir) continue;
      if (this.expanded.delete(heir.id)) this.expanded.add(group.id);
      heir.id = group.id;
      claimed.set(group.id, heir);
      taken.add(heir);
    }
    for (const id of [...this.expanded]) if (!ids.has(id)) this.expanded.delete(id);

    let lostFocusAt = -1;
    order.forEach((id, index) => {
      const card = this.cards.get(id);
      if (taken.has(card)) return;
      if (card.element.contains(document.activeElement)) lostFocusAt = index;
      card.element.remove();
    });
    this.cards = new Map(groups.map((group) => [group.id, claimed.get(group.id) || new GroupCard(this, group.id)]));
    for (const group of groups) this.cards.get(group.id).update(group);
    placeInOrder(this.list, [...this.cards.values()].map((card) => card.element)); // the worker's order: biggest first
    this.empty.hidden = groups.length > 0;
    if (lostFocusAt >= 0) {
      // The group just labelled is gone: go on with the one that took its place.
      const next = [...this.cards.values()][Math.min(lostFocusAt, this.cards.size - 1)];
      if (next) next.focusTitle();
      else this.heading.focus();
    }
  }

  /** Sends a decision on items; the notice says what the worker did. */
  async decide(kind, data, { showErrors = true } = {}) {
    this.notice.clear();
    try {
      const result = await this.sendInBatches(kind, data);
      this.notice.success(resultText(kind, result));
      return result;
    } catch (error) {
      if (showErrors) this.notice.error(describeTeachError(error));
      throw error;
    }
  }

  /**
   * A request names at most itemsPerRequest messages: a bigger group goes in
   * batches, the first creating a new topic or intent and the rest labelled with it.
   */
  async sendInBatches(kind, data) {
    const ids = data.item_ids;
    const size = TEACH_LIMITS.itemsPerRequest;
    const result = { ...(await this.view.request(kind, { ...data, item_ids: ids.slice(0, size) })) };
    for (let start = size; start < ids.length; start += size) {
      const batch = ids.slice(start, start + size);
      const more = kind === "new_faq" || kind === "new_intent"
        ? await this.view.request("label", { item_ids: batch, intent: result.intent })
        : await this.view.request(kind, { ...data, item_ids: batch });
      for (const name of ["items", "added", "already_there"]) {
        if (isNumber(more[name])) result[name] = (isNumber(result[name]) ? result[name] : 0) + more[name];
      }
    }
    return result;
  }

  destroy() {
    this.side.close();
  }
}

// ---- one group ----------------------------------------------------------------

class GroupCard {
  constructor(panel, id) {
    this.panel = panel;
    this.id = id;
    this.group = null;
    this.rows = new Map(); // item id -> {element, checkbox}
    const base = `group-${newId().slice(0, 12)}`; // not the group's id: that can change (InboxPanel.update)
    this.titleId = `${base}-title`;
    this.title = h("h3", { class: "group-title", id: this.titleId, tabindex: "-1" });
    this.size = h("span", { class: "group-size" });
    this.reasons = h("div", { class: "chips group-reasons" });
    this.suggestion = h("p", { class: "group-suggestion" });
    this.samples = h("ul", { class: "group-samples", "aria-label": "Examples from this group" });
    this.scope = h("p", { class: "group-scope", id: `${base}-scope`, "aria-live": "polite" });

    this.toggle = h("button", {
      type: "button", class: "button small ghost group-toggle", "aria-expanded": "false", "aria-controls": `${base}-messages`,
      onclick: () => this.setExpanded(!this.panel.expanded.has(this.id)),
    });
    this.selectAll = h("input", { type: "checkbox", class: "select-all", "aria-label": "Select all messages in this group" });
    this.selectAll.addEventListener("change", () => this.selectEvery(this.selectAll.checked));
    this.tbody = h("tbody", {});
    this.messages = h("div", { class: "group-messages", id: `${base}-messages`, hidden: true },
      h("table", { class: "message-table" },
        h("caption", { class: "visually-hidden" }, "Messages in this group"),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", class: "col-select" }, this.selectAll),
          h("th", { scope: "col" }, "Message"),
          h("th", { scope: "col", class: "col-when" }, "When"),
          h("th", { scope: "col", class: "col-guess" }, "Bot's guess"),
          h("th", { scope: "col", class: "col-open" }, h("span", { class: "visually-hidden" }, "Conversation")))),
        this.tbody));

    const described = { "aria-describedby": this.scope.id };
    this.actions = [
      button("Assign to…", { class: "button primary", ...described, onclick: () => this.assign() }, "check"),
      button("New FAQ topic", { ...described, onclick: () => this.newFaq() }),
      button("New intent", { ...described, onclick: () => this.newIntent() }),
      button("Out of scope", { ...described, onclick: () => this.simple("out_of_scope") }),
      button("Skip", { class: "button ghost", ...described, onclick: () => this.simple("skip") }),
    ];
    this.element = h("li", { class: "group-card", "aria-labelledby": this.titleId },
      h("div", { class: "group-head" },
        h("div", { class: "group-heading" }, this.title, this.size),
        this.reasons),
      this.suggestion,
      this.samples,
      this.messages,
      h("div", { class: "group-footer" },
        this.toggle,
        h("div", { class: "group-actions", role: "group", "aria-label": "Label these messages" }, this.scope, h("div", { class: "group-buttons" }, this.actions))));
  }

  get items() {
    return (this.group && Array.isArray(this.group.items)) ? this.group.items : [];
  }

  update(group) {
    this.group = group;
    const items = this.items;
    const size = isNumber(group.size) ? group.size : items.length;
    const first = items[0];
    this.title.textContent = first ? `“${first.text}”` : "Messages";
    this.size.textContent = size > 1 ? `and ${plural(size - 1, "similar message")}` : "1 message";

    const counts = group.reasons || {};
    replaceChildren(this.reasons, Object.keys(INBOX_REASONS)
      .filter((reason) => counts[reason] > 0)
      .map((reason) => reasonChip(reason, counts[reason])));

    const suggestion = group.suggestion;
    replaceChildren(this.suggestion, suggestion && suggestion.intent
      ? ["The bot's best guess: ", intentName(suggestion.intent), ` for ${share(suggestion.share)} of them`]
      : h("span", { class: "muted" }, "The bot had no guess for these."));

    replaceChildren(this.samples, items.slice(1, 1 + TEACH_LIMITS.groupSamples).map((item) => h("li", {}, `“${item.text}”`)));
    this.samples.hidden = this.panel.expanded.has(this.id) || items.length < 2;

    // Rows keyed by item, so a push does not lose the focus or the ticks.
    syncList(this.tbody, this.rows, items, { key: (item) => item.id, create: (item) => this.createRow(item) });
    this.setExpanded(this.panel.expanded.has(this.id), false);
    this.renderSelection();
  }

  createRow(item) {
    const checkbox = h("input", { type: "checkbox", "aria-label": `Select “${item.text}”` });
    checkbox.checked = this.panel.selected.has(item.id);
    checkbox.addEventListener("change", () => {
      if (checkbox.checked) this.panel.selected.add(item.id);
      else this.panel.selected.delete(item.id);
      this.renderSelection();
    });
    const reasons = Array.isArray(item.reasons) ? item.reasons : [];
    const confidence = isNumber(item.confidence) ? item.confidence : null;
    const open = button("Open conversation", {
      class: "button small", "aria-label": `Open conversation: “${item.text}”`,
      onclick: () => this.panel.side.open(item, open),
    }, "panel");
    const element = h("tr", { dataset: { item: item.id } },
      h("td", { class: "col-select" }, checkbox),
      h("td", {},
        h("p", { class: "message-text" }, item.text),
        h("div", { class: "chips" },
          reasons.map((reason) => reasonChip(reason)),
          item.handoff_reason ? h("span", { class: "chip chip-group" }, `Handoff: ${reasonLabel(item.handoff_reason)}`) : null)),
      h("td", { class: "col-when" }, when(item.time)),
      h("td", { class: "col-guess" },
        intentName(item.intent),
        confidence === null ? null : h("span", { class: `guess-confidence ${confidence < 0.4 ? "is-low" : ""}` }, ` ${share(confidence)} sure`)),
      h("td", { class: "col-open" }, open));
    return { element, checkbox };
  }

  setExpanded(expanded, focus = true) {
    if (expanded) this.panel.expanded.add(this.id);
    else this.panel.expanded.delete(this.id);
    this.messages.hidden = !expanded;
    this.samples.hidden = expanded || this.items.length < 2;
    this.toggle.setAttribute("aria-expanded", String(expanded));
    const count = this.items.length;
    replaceChildren(this.toggle, expanded ? "Hide messages" : `Show ${count === 1 ? "the message" : `all ${count} messages`}`);
    if (expanded && focus) this.selectAll.focus();
  }

  selectEvery(checked) {
    for (const item of this.items) {
      if (checked) this.panel.selected.add(item.id);
      else this.panel.selected.delete(item.id);
    }
    this.renderSelection();
  }

  /** The selected messages of this group, or all of them when none is selected. */
  targetItems() {
    const picked = this.items.filter((item) => this.panel.selected.has(item.id));
    return picked.length ? picked : this.items;
  }

  renderSelection() {
    const picked = this.items.filter((item) => this.panel.selected.has(item.id)).length;
    for (const item of this.items) {
      const row = this.rows.get(item.id);
      if (row) {
        row.checkbox.checked = this.panel.selected.has(item.id);
        row.element.classList.toggle("is-selected", row.checkbox.checked);
      }
    }
    this.selectAll.checked = picked > 0 && picked === this.items.length;
    this.selectAll.indeterminate = picked > 0 && picked < this.items.length;
    const all = this.items.length;
    this.scope.textContent = picked && picked < all
      ? `For the ${plural(picked, "selected message")}:`
      : `For ${all === 1 ? "this message" : `all ${all} messages`}:`;
  }

  focusTitle() {
    this.title.focus();
  }

  setBusy(busy) {
    for (const action of this.actions) action.disabled = busy;
    this.element.classList.toggle("is-busy", busy);
    this.element.setAttribute("aria-busy", String(busy));
  }

  async run(kind, data, pressed, inDialog = true) {
    this.setBusy(true);
    const label = pressed ? pressed.querySelector(".button-label") : null;
    const before = label ? label.textContent : "";
    if (label) label.textContent = "Saving…";
    try {
      return await this.panel.decide(kind, data, { showErrors: !inDialog });
    } finally {
      if (label) label.textContent = before;
      this.setBusy(false);
    }
  }

  async simple(kind) {
    const ids = this.targetItems().map((item) => item.id);
    const pressed = this.actions[kind === "skip" ? 4 : 3];
    try {
      await this.run(kind, { item_ids: ids }, pressed, false);
    } catch {
      // Shown in the inbox's notice.
    }
  }

  assign() {
    const items = this.targetItems();
    assignDialog(this.panel.view, items, this.group.suggestion, (intent) => this.run("label", { item_ids: items.map((item) => item.id), intent }, this.actions[0]));
  }

  newFaq() {
    const items = this.targetItems();
    newTopicDialog(this.panel.view, items, "faq",
      (data) => this.run("new_faq", { item_ids: items.map((item) => item.id), ...data }, this.actions[1]));
  }

  newIntent() {
    const items = this.targetItems();
    newTopicDialog(this.panel.view, items, "intent",
      (data) => this.run("new_intent", { item_ids: items.map((item) => item.id), ...data }, this.actions[2]));
  }
}

// ---- the dialogs --------------------------------------------------------------------

/** Runs `submit`; errors stay in the dialog (it stays open), success closes it. */
function submitting(dialog, form, error, submitButton, busyText, submit) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    let data;
    try {
      data = form.collect();
    } catch (invalid) {
      error.textContent = invalid.message;
      if (invalid.field) invalid.field.focus();
      else error.scrollIntoView({ block: "nearest" });
      return;
    }
    const label = submitButton.querySelector(".button-label") || submitButton;
    const before = label.textContent;
    submitButton.disabled = true;
    label.textContent = busyText;
    try {
      await submit(data);
      dialog.close();
    } catch (failure) {
      error.textContent = describeTeachError(failure);
      error.scrollIntoView({ block: "nearest" });
      submitButton.disabled = false;
      label.textContent = before;
    }
  });
}

class Invalid extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

function messagesPhrase(items) {
  return items.length === 1 ? "this message" : `these ${items.length} messages`;
}

function firstExamples(items) {
  return items.length === 1 ? "This message becomes its first example" : `These ${items.length} messages become its first examples`;
}

/** Assign to an existing intent or FAQ topic: a searchable list that shows each one's answer. */
function assignDialog(view, items, suggestion, submit) {
  const titleId = dialogTitleId();
  const catalog = view.catalog.intents.filter((entry) => entry && typeof entry.name === "string");
  const suggested = suggestion && suggestion.intent;
  const search = h("input", { type: "search", id: `${titleId}-search`, autocomplete: "off", spellcheck: "false", placeholder: "e.g. card, refund, greet" });
  const empty = h("p", { class: "picker-empty muted", hidden: true });
  const error = h("p", { class: "form-error", role: "alert" });
  const submitButton = button("Assign", { type: "submit", class: "button primary" }, "check");
  const cancel = button("Cancel", {});

  const entries = catalog.map((entry) => {
    const id = `${titleId}-${entry.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const radio = h("input", { type: "radio", name: "intent", value: entry.name, id });
    const examples = Array.isArray(entry.examples) ? entry.examples.length : entry.examples;
    const isFaq = entry.kind === "faq" || entry.name.startsWith("faq/");
    const element = h("li", { class: "choice picker-choice" },
      radio,
      h("label", { for: id },
        h("span", { class: "choice-title" }, intentLabel(entry.name), " ", h("code", { class: "intent-code" }, entry.name),
          entry.name === suggested ? h("span", { class: "chip chip-topic" }, "Bot's guess") : null),
        h("span", { class: "choice-meta" }, isFaq ? "FAQ topic" : "Intent", isNumber(examples) ? ` · ${plural(examples, "example")}` : ""),
        entry.answer
          ? h("span", { class: "choice-answer" }, entry.answer)
          : h("span", { class: "choice-answer muted" }, "No answer of its own")));
    const haystack = `${entry.name} ${intentLabel(entry.name)} ${entry.answer || ""}`.toLowerCase();
    return { entry, radio, element, haystack, isFaq };
  });
  const faqs = entries.filter((entry) => entry.isFaq);
  const intents = entries.filter((entry) => !entry.isFaq);
  const fieldset = (legend, list) => (list.length
    ? h("fieldset", { class: "picker-group" }, h("legend", {}, legend), h("ul", { class: "choices" }, list.map((entry) => entry.element)))
    : null);
  const lists = [fieldset("FAQ topics", faqs), fieldset("Intents", intents)].filter(Boolean);

  const form = h("form", { class: "picker-form", novalidate: true },
    h("h2", { id: titleId }, `Assign ${messagesPhrase(items)} to…`),
    h("p", { class: "dialog-text" }, "Pick what the customer meant. The messages become examples the bot learns from; its answer stays as it is."),
    h("div", { class: "field" }, h("label", { for: search.id }, "Search intents and FAQ topics"), search),
    h("div", { class: "picker-list", tabindex: "-1" }, lists.length ? lists : h("p", { class: "muted" }, "The list of intents and FAQ topics has not arrived yet."), empty),
    error,
    h("div", { class: "dialog-actions" }, cancel, submitButton));
  const dialog = modal(titleId, "wide form-dialog", form);
  cancel.addEventListener("click", () => dialog.close());

  const visible = () => entries.filter((entry) => !entry.element.hidden);
  search.addEventListener("input", () => {
    const needle = search.value.trim().toLowerCase();
    for (const entry of entries) entry.element.hidden = Boolean(needle) && !entry.haystack.includes(needle);
    for (const group of lists) group.hidden = ![...group.querySelectorAll(".picker-choice")].some((li) => !li.hidden);
    const shown = visible();
    empty.hidden = shown.length > 0;
    empty.textContent = `Nothing matches “${search.value.trim()}”. Create a new FAQ topic or intent instead.`;
    if (shown.length === 1) shown[0].radio.checked = true;
  });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown") return;
    const shown = visible();
    if (!shown.length) return;
    event.preventDefault();
    const target = shown.find((entry) => entry.radio.checked) || shown[0];
    target.radio.checked = true;
    target.radio.focus();
  });
  const preselected = entries.find((entry) => entry.entry.name === suggested);
  if (preselected) preselected.radio.checked = true;
  search.focus();

  form.collect = () => {
    const picked = entries.find((entry) => entry.radio.checked && !entry.element.hidden);
    if (!picked) throw new Invalid("Pick an intent or FAQ topic from the list.", search);
    return picked.entry.name;
  };
  submitting(dialog, form, error, submitButton, "Assigning…", submit);
}

/** A new FAQ topic (key, category, answer) or a new intent (name, answer) from the messages. */
function newTopicDialog(view, items, kind, submit) {
  const isFaq = kind === "faq";
  const titleId = dialogTitleId();
  const nameInput = h("input", {
    id: `${titleId}-name`, autocomplete: "off", spellcheck: "false", maxlength: String(TEACH_LIMITS.nameCharacters),
    "aria-describedby": `${titleId}-name-hint`, placeholder: isFaq ? "e.g. metal_card" : "e.g. ask_opening_hours",
  });
  const nameHint = h("p", { class: "field-hint", id: `${titleId}-name-hint` },
    isFaq ? "Lower-case words joined by underscores. Customers never see it." : "Lower-case words joined by underscores.");
  if (isFaq) {
    nameInput.addEventListener("input", () => {
      const value = nameInput.value.trim();
      nameHint.textContent = value
        ? `Lower-case words joined by underscores. It becomes faq/${value}; customers never see it.`
        : "Lower-case words joined by underscores. Customers never see it.";
    });
  }

  const categories = [...new Set(view.catalog.categories.filter((category) => typeof category === "string"))];
  const NEW = "\u0000new";
  const categorySelect = h("select", { id: `${titleId}-category` },
    categories.map((category) => h("option", { value: category }, humanize(category))),
    h("option", { value: NEW }, "New category…"));
  const newCategory = h("input", { id: `${titleId}-new-category`, autocomplete: "off", spellcheck: "false", maxlength: String(TEACH_LIMITS.nameCharacters), placeholder: "e.g. loans" });
  const newCategoryField = h("div", { class: "field", hidden: categories.length > 0 },
    h("label", { for: newCategory.id }, "New category name"), newCategory);
  if (!categories.length) categorySelect.value = NEW;
  categorySelect.addEventListener("change", () => {
    newCategoryField.hidden = categorySelect.value !== NEW;
    if (!newCategoryField.hidden) newCategory.focus();
  });

  const answer = h("textarea", {
    id: `${titleId}-answer`, rows: "4", maxlength: String(TEACH_LIMITS.answerCharacters), "aria-describedby": `${titleId}-answer-hint`,
  });
  const counter = h("span", { class: "field-counter" }, `0 / ${TEACH_LIMITS.answerCharacters}`);
  answer.addEventListener("input", () => { counter.textContent = `${answer.value.length} / ${TEACH_LIMITS.answerCharacters}`; });

  const answers = isFaq ? new AgentAnswers(view, items, (text) => {
    answer.value = text;
    answer.dispatchEvent(new Event("input"));
    answer.focus();
  }) : null;

  const error = h("p", { class: "form-error", role: "alert" });
  const submitButton = button(isFaq ? "Create FAQ topic" : "Create intent", { type: "submit", class: "button primary" }, "check");
  const cancel = button("Cancel", {});
  const form = h("form", { class: "topic-form", novalidate: true },
    h("h2", { id: titleId }, isFaq ? "New FAQ topic" : "New intent"),
    h("p", { class: "dialog-text" }, isFaq
      ? `A question the bot does not know yet. ${firstExamples(items)}, and the bot answers it with the answer below.`
      : `Something customers say that is not a question from the FAQ. ${firstExamples(items)}, and the bot replies with the answer below.`),
    h("div", { class: isFaq ? "field-row" : "" },
      h("div", { class: "field" }, h("label", { for: nameInput.id }, isFaq ? "Topic name" : "Intent name"), nameInput, nameHint),
      isFaq ? h("div", { class: "field" }, h("label", { for: categorySelect.id }, "Category"), categorySelect) : null),
    isFaq ? newCategoryField : null,
    h("div", { class: "field" },
      h("label", { for: answer.id }, "Answer"),
      answer,
      h("p", { class: "field-hint", id: `${titleId}-answer-hint` },
        h("span", {}, "Written for customers. {bank_name}, {help_url}, {support_phone} and {support_email} are filled in."), counter)),
    answers ? answers.element : null,
    error,
    h("div", { class: "dialog-actions" }, cancel, submitButton));
  const dialog = modal(titleId, "wide form-dialog", form);
  cancel.addEventListener("click", () => dialog.close());
  nameInput.focus();
  if (answers) answers.load();

  form.collect = () => {
    const name = nameInput.value.trim();
    const what = isFaq ? "topic name" : "intent name";
    if (!name) throw new Invalid(`Give the new ${isFaq ? "topic" : "intent"} a name.`, nameInput);
    if (!TEACH_NAME_PATTERN.test(name)) throw new Invalid(`The ${what} may only have lower-case letters, digits and underscores, starting with a letter.`, nameInput);
    const text = answer.value.trim();
    if (!text) throw new Invalid("Write the answer the bot should give.", answer);
    if (!isFaq) return { name, answer: text };
    const category = categorySelect.value === NEW ? newCategory.value.trim() : categorySelect.value;
    if (!category) throw new Invalid("Choose a category, or name a new one.", categorySelect.value === NEW ? newCategory : categorySelect);
    if (!TEACH_NAME_PATTERN.test(category)) throw new Invalid("A category name may only have lower-case letters, digits and underscores.", newCategory);
    return { key: name, category, answer: text };
  };
  submitting(dialog, form, error, submitButton, "Creating…", submit);
}

/** What agents answered in these messages' conversations, offered as a starting point. */
class AgentAnswers {
  constructor(view, items, use) {
    this.view = view;
    this.items = items;
    this.use = use;
    this.list = h("ul", { class: "answer-list", "aria-label": "Agents' answers" });
    this.status = h("p", { class: "muted", role: "status" }, "Looking for agents' answers in these conversations…");
    this.element = h("section", { class: "agent-answers", "aria-labelledby": "agent-answers-title" },
      h("h3", { id: "agent-answers-title" }, "Use an agent's answer"),
      h("p", { class: "field-hint" }, "What agents told these customers in chats that were handed over. Pick one to start from, then edit it."),
      this.status, this.list);
  }

  async load() {
    const seen = new Set();
    const conversations = [];
    for (const item of [...this.items].sort((a, b) => (b.time || 0) - (a.time || 0))) {
      if (item.conversation_id && !seen.has(item.conversation_id)) {
        seen.add(item.conversation_id);
        conversations.push(item.conversation_id);
      }
    }
    const found = [];
    const texts = new Set();
    for (const conversationId of conversations.slice(0, TEACH_LIMITS.answerConversations)) {
      try {
        const reply = await this.view.request("conversation", { conversation_id: conversationId });
        for (const answer of Array.isArray(reply.answers) ? reply.answers : []) {
          const text = String(answer.text || "").trim();
          if (text && !texts.has(text)) {
            texts.add(text);
            found.push(answer);
          }
        }
      } catch {
        // A conversation that cannot be read has no answers to offer.
      }
    }
    if (!this.element.isConnected) return; // the dialog was closed meanwhile
    this.status.textContent = found.length ? `${plural(found.length, "answer")} found.` : TEACH_STRINGS.noAnswers;
    replaceChildren(this.list, found.map((answer) => h("li", { class: "answer-item" },
      h("blockquote", { class: "answer-text" }, String(answer.text)),
      h("div", { class: "answer-meta" },
        h("span", {}, answer.agent ? `${answer.agent}` : "An agent"),
        isNumber(answer.ts) ? timeElement(answer.ts, undefined, "muted") : null,
        button("Use this answer", { class: "button small", onclick: () => this.use(String(answer.text)) })))));
  }
}

// ---- the conversation a message came from ---------------------------------------------------

class ConversationPanel {
  constructor(view) {
    this.view = view;
    this.current = null;
    this.opener = null;
    this.heading = h("h2", { id: "teach-conversation-title", tabindex: "-1" }, "Conversation");
    this.meta = h("p", { class: "side-meta" });
    this.body = h("div", { class: "side-body", tabindex: "0", role: "region", "aria-label": "Transcript" });
    this.closeButton = h("button", { type: "button", class: "icon-button", "aria-label": "Close conversation", onclick: () => this.close(true) }, icon("close"));
    this.element = h("aside", { class: "conversation-side", "aria-labelledby": this.heading.id, hidden: true },
      h("header", { class: "side-head" }, h("div", {}, this.heading, this.meta), this.closeButton),
      this.body);
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close(true);
      }
    });
  }

  async open(item, opener) {
    const token = newId();
    this.current = token;
    this.opener = opener;
    this.element.hidden = false;
    this.element.parentElement.classList.add("has-side");
    this.meta.textContent = `Conversation ${String(item.conversation_id).slice(0, 8)} · the message in the inbox is marked`;
    replaceChildren(this.body, h("p", { class: "muted side-loading", role: "status" }, "Loading the conversation…"));
    this.heading.focus();
    let reply;
    try {
      reply = await this.view.request("conversation", { conversation_id: item.conversation_id });
    } catch (error) {
      if (this.current !== token) return;
      replaceChildren(this.body, h("p", { class: "inline-error", role: "alert" }, icon("info"), h("span", {}, describeTeachError(error))));
      return;
    }
    if (this.current !== token) return;
    const messages = Array.isArray(reply.messages) ? reply.messages : [];
    if (!messages.length) {
      replaceChildren(this.body, h("div", { class: "empty-state small" }, icon("info", "icon empty-icon"),
        h("p", {}, TEACH_STRINGS.conversationMissing),
        h("p", {}, "The message itself: ", h("q", {}, item.text))));
      return;
    }
    const rendered = messages.map((message) => messageElement(message, (agent) => (agent ? `Agent ${agent}` : "Agent")));
    replaceChildren(this.body, h("ol", { class: "transcript teach-transcript" }, rendered));
    // The inbox message: the first customer message with its text.
    const index = messages.findIndex((message) => message.kind === "customer" && message.text === item.text);
    const mark = index < 0 ? null : rendered[index];
    if (mark) {
      mark.classList.add("is-inbox-message");
      mark.querySelector(".msg-meta").append(h("span", { class: "chip chip-topic" }, "In the inbox"));
      mark.scrollIntoView({ block: "center" });
    }
  }

  close(returnFocus = false) {
    this.current = null;
    this.element.hidden = true;
    if (this.element.parentElement) this.element.parentElement.classList.remove("has-side");
    replaceChildren(this.body);
    if (returnFocus && this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }
}
