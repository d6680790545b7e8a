"""Privacy by default in the widget (issue 17): a card number typed in chromium is shown, stored and kept
masked; the customer is told once, in the transcript. Real bridge, Rasa and Redis."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.browser.test_widget import bubbles, notices, open_chat, open_demo, say, shown_messages
from tests.handoff.test_masking import everything_in_redis, fresh_card, grouped, sightings

expect.set_options(timeout=STEP_TIMEOUT_MS)

# What was typed waits in the outbox until the bridge acknowledges it (a reload resends it); then it is gone.
OUTBOX_EMPTY = """() => !Object.keys(localStorage).some((name) => name.endsWith(":outbox"))"""
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
