"""Privacy by default in the widget (issue 17): a card number typed in chromium is shown, stored and kept
masked; the customer is told once, in the transcript. Real bridge, Rasa and Redis."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.browser.test_widget import agent, empty_queue  # noqa: F401 - fixtures: an agent, an empty queue
from tests.browser.test_widget import (
    Agent, bubbles, notices, open_chat, open_demo, queue_for_a_person, say, shown_messages, stored_conversation,
)
from tests.handoff.test_masking import everything_in_redis, fresh_card, grouped, sightings

expect.set_options(timeout=STEP_TIMEOUT_MS)

# What was typed waits in the outbox until the bridge acknowledges it (a reload resends it); then it is gone.
OUTBOX_EMPTY = """() => !Object.keys(localStorage).some((name) => name.endsWith(":outbox"))"""
# Every text a stored message's bubble has shown, however briefly (a bubble shown and then replaced too).
RECORD_SHOWN = """() => {
  window.__shown = [];
  const root = document.querySelector("support-chat").shadowRoot;
  const record = () => root.querySelectorAll(".log .message[data-id] .message__bubble")
    .forEach((node) => window.__shown.push(node.textContent));
  new MutationObserver(record).observe(root, { childList: true, subtree: true, characterData: true });
}"""
PAGE_TEXT = """() => document.querySelector("support-chat").shadowRoot.innerHTML + document.body.innerHTML
  + JSON.stringify(Object.entries(localStorage)) + JSON.stringify(Object.entries(sessionStorage))"""


def test_a_card_number_typed_in_the_widget_is_shown_masked_and_kept_nowhere(customer_context, site, redis_url):
    card = fresh_card()
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    say(page, f"my card {grouped(card)} was declined, the cvc is 123")
    expect(bubbles(page, "customer")).to_have_text(["my card [card number] was declined, the cvc is [security code]"])
    expect(notices(page, "privacy")).to_contain_text("never send these in this chat")
    say(page, f"again: {card}")
    expect(bubbles(page, "customer").nth(1)).to_have_text("again: [card number]")
    expect(bubbles(page, "bot")).not_to_have_count(0)
    expect(notices(page, "privacy")).to_have_count(1)  # told once
    page.wait_for_function(OUTBOX_EMPTY)
    assert not sightings([card], iter([page.evaluate(PAGE_TEXT), repr(shown_messages(page))])), "on the page"
    assert not sightings([card], everything_in_redis(redis_url)), "in Redis"
    assert errors == []


def test_with_an_agent_the_card_number_is_masked_for_both_whichever_comes_first(customer_context, site,
                                                                                agent: Agent):  # noqa: F811
    """With a person the ack comes once the message is stored, often before its echo: the widget then shows
    the text the ack carries, the stored one."""
    card = fresh_card()
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    queue_for_a_person(page)
    agent.claim(stored_conversation(page)["conversationId"])
    expect(notices(page, "agent_joined")).to_be_visible()
    page.evaluate(RECORD_SHOWN)
    for number in range(3):
        say(page, f"card {number}: {card}")
        assert agent.expect("message", kind="customer", text=f"card {number}: [card number]")
    expect(bubbles(page, "customer")).to_have_text([f"card {number}: [card number]" for number in range(3)])
    expect(notices(page, "privacy")).to_have_count(1)
    page.wait_for_function(OUTBOX_EMPTY)
    assert not sightings([card], iter([page.evaluate(PAGE_TEXT)])), "on the page"
    assert not sightings([card], iter(page.evaluate("window.__shown"))), "shown for a moment"
    assert errors == []
