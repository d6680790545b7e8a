// The transfer dialog of a chat: the bridge's list of the team, a colleague
// with room or a skill group's queue to pick, a note for whoever takes it
// (shown to them first, kept in the transcript as a private note), and the
// transfer sent through the chat's tab.

import { h, replaceChildren } from "../../shared/dom.js";
import { icon } from "../../shared/icons.js";
import { newId } from "../../shared/transport.js";
import { LIMITS, describeError } from "../constants.js";
import { dialogTitleId, modal } from "../dialogs.js";

/** The transfer choice: an online colleague, or a skill group's queue. */
export async function transferDialog(view, tab) {
  const titleId = dialogTitleId();
  const body = h("div", { class: "transfer-body" }, h("p", { class: "muted" }, "Loading your team…"));
  const error = h("p", { class: "form-error", role: "alert" });
  const noteId = `transfer-note-${newId()}`;
  const note = h("textarea", {
    id: noteId, class: "transfer-note", rows: "2", maxlength: String(LIMITS.messageCharacters),
    placeholder: "e.g. Already checked the card status: blocked since Monday.",
  });
  const noteField = h("div", { class: "transfer-note-field" },
    h("label", { for: noteId }, "Note for whoever takes the chat ", h("span", { class: "muted" }, "(optional; only your team sees it)")),
    note);
  const submit = h("button", { type: "submit", class: "button primary", disabled: true }, icon("transfer"), "Transfer");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const form = h("form", { class: "transfer-form", novalidate: true },
    h("h2", { id: titleId }, "Transfer chat"),
    h("p", { class: "dialog-text" }, "Pass this conversation to a colleague who is online, or back to the front of a skill group's queue."),
    body, noteField, error,
    h("div", { class: "dialog-actions" }, cancel, submit));
  const dialog = modal(titleId, "wide", form);
  cancel.addEventListener("click", () => dialog.close());
  cancel.focus();

  let team;
  try {
    team = await view.waiting.ask("team");
  } catch (failure) {
    replaceChildren(body);
    error.textContent = describeError(failure);
    return;
  }
  const choice = (value, title, meta, disabled) => {
    const id = `choice-${newId()}`;
    return h("li", { class: `choice${disabled ? " is-disabled" : ""}` },
      h("input", { type: "radio", name: "target", value, id, disabled }),
      h("label", { for: id }, h("span", { class: "choice-title" }, title), h("span", { class: "choice-meta" }, meta)));
  };
  const colleagues = team.agents.filter((agent) => agent.name !== view.agent);
  view.learnNames(team.agents);
  const groupsText = (groups) => (groups.includes("all") ? "all groups" : groups.join(", "));
  // Only a colleague available, with a console open and room takes a chat (the bridge refuses the others).
  const available = (agent) => agent.status === "available" && agent.online && agent.serving < agent.max_chats;
  const situation = (agent) => {
    if (agent.status === "away") return "away";
    if (agent.status === "offline") return "offline";
    if (!agent.online) return "available · console closed";
    return `${agent.serving} of ${agent.max_chats} chats${agent.serving < agent.max_chats ? "" : " · full"} · ${groupsText(agent.groups)}`;
  };
  colleagues.sort((a, b) => Number(available(b)) - Number(available(a)) || a.name.localeCompare(b.name));
  replaceChildren(body,
    h("fieldset", {},
      h("legend", {}, "Colleagues"),
      colleagues.length
        ? h("ul", { class: "choices" }, colleagues.map((agent) => choice(
          `agent:${agent.name}`, agent.display_name || agent.name, // display names are unique: never the login
          situation(agent), !available(agent))))
        : h("p", { class: "muted" }, "No colleagues yet.")),
    h("fieldset", {},
      h("legend", {}, "Skill groups"),
      h("ul", { class: "choices" }, team.groups.map((group) => choice(
        `group:${group}`, group, "front of this group's queue", false)))));
  const radios = [...form.querySelectorAll("input[type=radio]")];
  for (const radio of radios) radio.addEventListener("change", () => { submit.disabled = false; });
  const first = radios.find((radio) => !radio.disabled);
  if (first) first.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = radios.find((radio) => radio.checked);
    if (!picked) return;
    const [kind, ...rest] = picked.value.split(":");
    const target = rest.join(":");
    error.textContent = "";
    submit.disabled = true;
    submit.lastChild.textContent = "Transferring…";
    try {
      const written = note.value.trim();
      await tab.act("transfer", {
        ...(kind === "agent" ? { to_agent: target } : { to_group: target }),
        ...(written ? { note: written } : {}),
      });
      dialog.close();
    } catch (failure) {
      error.textContent = describeError(failure);
      submit.disabled = false;
      submit.lastChild.textContent = "Transfer";
    }
  });
}
