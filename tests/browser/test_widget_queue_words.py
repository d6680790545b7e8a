"""What a queued customer reads with nobody to pick up (issue 13), in chromium against a real bridge, Rasa and
Redis: no promise of a person above the news that nobody is available, their first words answered once with
what becomes of them, and "no thanks, that's all" pointed to the way out, which takes them out."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from harness.servers import running_bridge
from tests.browser.conftest import screenshot
from tests.browser.test_widget import bubbles, notices, open_chat, open_demo, say

KEPT = "We've kept your message for the person who picks up your chat, but no one from our team is available right now"


def test_with_nobody_available_the_queued_customer_is_told_the_truth_once_and_shown_the_way_out(
        customer_context, redis_url, rasa_url):
    with running_bridge(redis_url, rasa_url, "bridge-web-words", f"hbwords{uuid.uuid4().hex[:6]}") as bridge:
        page, errors = open_demo(customer_context, f"http://{bridge}")
        open_chat(page)
        page.get_by_role("button", name="Talk to a person").click()
        expect(page.locator(".queue__position")).to_have_text("You're number 1 in the queue")
        expect(page.locator(".panel")).to_contain_text("No one from our team is available right now.")
        expect(bubbles(page, "bot").filter(has_text="I've put you in the queue for our support team.")).to_be_visible()
        expect(page.locator(".log")).not_to_contain_text(re.compile(r"get (you )?a person|asking a person"))

        page.get_by_role("button", name="Cancel").click()  # the callback form opened by itself: they wait instead
        say(page, "is anyone there?")
        expect(notices(page, "kept_for_person")).to_contain_text(KEPT)
        say(page, "hello??")
        expect(bubbles(page, "customer").filter(has_text="hello??")).to_be_visible()
        say(page, "no thanks, that's all")
        offer = notices(page, "leave_queue_offer")
        expect(offer).to_contain_text('press "Back to the assistant" below')
        expect(notices(page, "kept_for_person")).to_have_count(1)  # once, not after every message
        screenshot(page, "widget-queued-words-kept")

        page.get_by_role("button", name="Back to the assistant").click()
        expect(notices(page, "left_queue")).to_be_visible()
        expect(page.locator(".header__status")).to_have_text("Virtual assistant")
        assert errors == [], errors
