"""The customer's open request and a queue that refuses them, in chromium against a real bridge, Rasa and Redis:
no form is offered that the bridge would refuse (the open request is shown instead), a refusal says until when,
and the widget follows the request's real state once an agent deals with it."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from harness.servers import add_agent, running_bridge
from tests.browser.conftest import screenshot
from tests.browser.test_widget import TIME, Agent, notices, open_chat, open_demo, say, stored_conversation


def test_a_refused_customer_with_an_open_request_is_told_until_when_and_shown_their_request(
        customer_context, background_loop, redis_url, rasa_url):
    prefix = f"hbreq{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    # One queue entry per address (per ten-minute window): queued once, then refused until the window ends.
    with running_bridge(redis_url, rasa_url, "bridge-web-request", prefix, HANDOFF_MAX_QUEUE_ENTRIES_PER_IP="1") as bridge:
        page, errors = open_demo(customer_context, f"http://{bridge}")
        open_chat(page)
        page.get_by_role("button", name="Talk to a person").click()
        expect(page.locator(".queue__position")).to_have_text("You're number 1 in the queue")
        page.get_by_label("Phone number or email", exact=True).fill("07700 900123")  # nobody online: the form is open
        page.get_by_label("Best time to call (optional)").fill("tomorrow after 5pm")
        page.get_by_role("button", name="Send request").click()
        status = page.locator(".request-status__text")
        expect(status).to_have_text(re.compile(r"We'll call you at the time you asked for: tomorrow after 5pm\.$"))

        # The button again: refused by the address's cap, which says until when; no second form is offered.
        page.get_by_role("button", name="Talk to a person").click()
        refusal = page.locator(".refusal")
        expect(refusal.get_by_role("alert")).to_have_text(re.compile(
            rf"^Sorry, we can't add you to the queue for a person right now\. You can try again after {TIME}\.$"))
        expect(refusal).to_contain_text("You already have a request with us: our team will get back to you.")
        expect(refusal.get_by_role("button", name="Request a callback")).to_be_hidden()
        expect(refusal.get_by_role("button", name="Leave a message")).to_be_hidden()
        expect(status).to_be_visible()
        refusal.get_by_role("button", name="Dismiss").click()

        # Asked in words: the notice in the log says until when too, and offers no form either.
        say(page, "I'd like to talk to a real person")
        refused = notices(page, "queue_refused")
        # Said as it is now: their request is open, so no other is offered, in words or buttons.
        expect(refused.locator(".message__notice")).to_have_text(re.compile(
            rf"You can try again after {TIME}\. You already have a request with us: our team will get back to you\.$"), use_inner_text=True)
        expect(refused.get_by_role("button", name="Request a callback")).to_be_hidden()
        expect(page.locator("form").filter(has=page.get_by_role("button", name="Send request"))).to_be_hidden()
        screenshot(page, "widget-refused-with-open-request")

        # An agent deals with the request: the widget says so, and offers the ways to reach us again.
        conversation_id = stored_conversation(page)["conversationId"]
        ann = Agent(background_loop, bridge, "ann")
        try:
            items = ann.expect("requests")["data"]["items"]
            request = next(item for item in items if item["conversation"] == conversation_id)
            ann.send("request_done", {"request_id": request["id"]}, id="done")
            background_loop.run(ann.client.acknowledged("done"))
        finally:
            ann.leave()
        expect(status).to_have_text("Our team has dealt with your callback request.")
        expect(refused.get_by_role("button", name="Request a callback")).to_be_visible()
        expect(refused.locator(".message__notice")).to_have_text(re.compile(
            rf"You can try again after {TIME}, or ask us to call you back or leave a message and we'll get back to you\.$"), use_inner_text=True)
        page.reload()
        expect(page.locator(".request-status__text")).to_have_text("Our team has dealt with your callback request.")
        assert errors == [], errors


def test_the_customer_cancels_their_callback_and_the_widget_says_so_after_a_reload(
        customer_context, background_loop, redis_url, rasa_url):
    """Issue 13: the request's confirmation has "Cancel this request"; once pressed the widget says nobody will call,
    the agents' list says cancelled, a reload shows it the same, and a new request may be left."""
    prefix = f"hbreq{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    with running_bridge(redis_url, rasa_url, "bridge-web-cancel", prefix) as bridge:
        page, errors = open_demo(customer_context, f"http://{bridge}")
        open_chat(page)
        page.get_by_role("button", name="Talk to a person").click()
        expect(page.locator(".queue__position")).to_have_text("You're number 1 in the queue")
        page.get_by_label("Phone number or email", exact=True).fill("07700 900123")  # nobody online: the form is open
        page.get_by_role("button", name="Send request").click()
        status = page.locator(".request-status__text")
        expect(status).to_have_text(re.compile(r"We'll call you as soon as we can\.$"))
        cancel = page.get_by_role("button", name="Cancel this request")
        screenshot(page, "widget-request-with-cancel")
        cancel.click()
        expect(status).to_have_text("You've cancelled your callback request: we won't call you about it.")
        expect(cancel).to_be_hidden()

        conversation_id = stored_conversation(page)["conversationId"]
        ann = Agent(background_loop, bridge, "ann")
        try:
            items = ann.expect("requests")["data"]["items"]
            request = next(item for item in items if item["conversation"] == conversation_id)
            assert (request["state"], request["handled_by"]) == ("cancelled", "customer"), request
        finally:
            ann.leave()

        page.reload()
        expect(page.locator(".request-status__text")).to_have_text(
            "You've cancelled your callback request: we won't call you about it.")
        expect(page.get_by_role("button", name="Cancel this request")).to_be_hidden()
        say(page, "I'd like to talk to a real person")  # queued again: a new request may be left
        expect(page.locator(".queue__position")).to_have_text("You're number 1 in the queue")
        page.get_by_label("Phone number or email", exact=True).fill("ann@example.com")
        page.get_by_role("button", name="Send request").click()
        expect(page.locator(".request-status__text")).to_have_text(re.compile(r"^Callback requested at"))
        assert errors == [], errors
