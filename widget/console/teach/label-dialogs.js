// The Teach inbox's labelling dialogs: assign messages to an existing intent
// or FAQ topic, or create a new FAQ topic or intent with its answer (what
// agents answered in those conversations offered as a start). Input is checked
// before it is sent, and errors stay in the dialog.

import { h, replaceChildren, timeElement } from "../../shared/dom.js";
import {
  TEACH_LIMITS, TEACH_NAME_PATTERN, TEACH_STRINGS, describeTeachError, humanize, intentLabel,
} from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";
import { button, isNumber, plural } from "./shared.js";

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
export function assignDialog(view, items, suggestion, submit) {
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
export function newTopicDialog(view, items, kind, submit) {
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
