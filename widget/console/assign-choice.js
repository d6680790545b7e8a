// What the supervisors' two assigning tables share (agent-view.js: waiting chats, "assign";
// request-board.js: open requests, "assign_request"): the choice of an agent, kept across
// re-renders, and the question to the bridge, whose refusal is shown in its own words.

import { h } from "../shared/dom.js";
import { describeError } from "./constants.js";

/**
 * A select of agents for one row: `chosen` (a Map of row id -> login) keeps the choice while the table redraws.
 * @param {{ label: string, rowId: string, agents: Array<{name: string}>, chosen: Map<string, string>,
 *           optionText: (agent: object) => string }} options
 */
export function agentChoice({ label, rowId, agents, chosen, optionText }) {
  const current = chosen.get(rowId) || "";
  const choice = h("select", { "aria-label": label, onchange: () => chosen.set(rowId, choice.value) },
    h("option", { value: "" }, "Choose an agent"),
    agents.map((agent) => h("option", { value: agent.name, selected: agent.name === current }, optionText(agent))));
  return choice;
}

/**
 * Asks the bridge to give the work to `data.agent` (asked once: a person retries by hand, it is never resent
 * later). On a refusal `error` shows the bridge's own words, which name the agent ("ava is away"); the console's
 * describeError speaks to an agent about themselves, so it is only the fallback. True when it was given.
 */
export async function askToAssign(waiting, error, type, data) {
  error.hidden = true;
  if (!data.agent) {
    error.textContent = "Choose an agent first.";
    error.hidden = false;
    return false;
  }
  try {
    await waiting.ask(type, data);
    return true;
  } catch (failure) {
    error.textContent = failure && failure.message ? failure.message : describeError(failure);
    error.hidden = false;
    return false;
  }
}
