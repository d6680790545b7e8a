"""A callback or message request beside the chat that deals with it, in chromium against a real bridge, Rasa and
Redis: the agent's chat shows the customer's open request with "Mark done", closing the chat settles it unless
the agent unticks it, the request card says how the chat ended, and the request dialog shows the files left
while the bot served."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from harness.files import image
from tests.browser.conftest import screenshot
from tests.browser.test_console import Console, ann, claimed_by, customers, short_id, tidy  # noqa: F401 - fixtures
from tests.handoff.test_attachments import upload


def _callback_then_chat(ann: Console, customers: Any) -> Any:
    """Queued, the customer leaves a callback request (back with the bot), asks for a person again, and ann claims."""
    customer = customers()
    customer.ask_for_person()
    customer.send("leave", {"kind": "callback", "contact": "07700 900123", "preferred_time": "tomorrow after 5pm",
                            "description": "a card payment to AMZN I don't recognise"}, id="leave")
    customer.expect("ack")
    customer.expect("status", state="bot")
    customer.ask_for_person()
    claimed_by(ann, customer)
    return customer


def test_the_chat_shows_the_open_request_and_closing_it_marks_the_request_done(ann, customers):
    customer = _callback_then_chat(ann, customers)
    box = ann.conversation.get_by_role("region", name="Open request")
    expect(box).to_contain_text("This customer has an open callback request")
    expect(box).to_contain_text("07700 900123")
    expect(box).to_contain_text("tomorrow after 5pm")
    expect(box).to_contain_text("a card payment to AMZN I don't recognise")
    expect(box.get_by_role("button", name="Mark done")).to_be_visible()
    screenshot(ann.page, "console-chat-open-request")

    ann.conversation.get_by_role("button", name="Close chat").click()
    confirm = ann.page.get_by_role("dialog", name="Close this chat?")
    settle = confirm.get_by_role("checkbox", name="Also mark their callback request done")
    expect(settle).to_be_checked()
    confirm.get_by_role("radio", name="Resolved", exact=True).check()
    screenshot(ann.page, "console-close-with-request")
    confirm.get_by_role("button", name="Close chat").click()
    expect(confirm).to_be_hidden()

    ann.tab(r"^Requests \d+$").click()
    card = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(
        has_text=short_id(customer.conversation_id))
    expect(card).to_contain_text("Done by Ann Lee in the chat (Resolved)")
    expect(card.get_by_role("button", name="Mark done")).to_have_count(0)
    while customer.expect("status")["data"].get("request", {}).get("state") != "done":
        pass  # the customer's status says so too


def test_an_unticked_request_stays_open_and_its_card_says_the_chat_ended(ann, customers):
    customer = _callback_then_chat(ann, customers)
    ann.conversation.get_by_role("button", name="Close chat").click()
    confirm = ann.page.get_by_role("dialog", name="Close this chat?")
    confirm.get_by_role("checkbox", name="Also mark their callback request done").uncheck()
    confirm.get_by_role("radio", name="Follow-up needed", exact=True).check()
    confirm.get_by_role("button", name="Close chat").click()
    expect(confirm).to_be_hidden()

    ann.tab(r"^Requests \d+$").click()
    card = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(
        has_text=short_id(customer.conversation_id))
    expect(card).to_contain_text("Served by Ann Lee in a chat since, closed: Follow-up needed.")
    expect(card).to_contain_text("Open")
    card.get_by_role("button", name="Mark done").click()
    expect(card).to_contain_text("Done by Ann Lee")


def test_a_file_the_customer_left_with_the_bot_shows_in_the_request_dialog(ann, customers, address):  # noqa: F811
    """The agent opening a request reads the picture the customer sent while the bot served (its thumbnail)."""
    customer = customers()
    sent = upload(address, customer.conversation_id, image("PNG", 320, 240, "#d1242f"),
                  f"Conversation {customer.client.token}", "receipt.png", client_id="receipt")
    assert sent.status_code == 201, sent.text
    customer.ask_for_person()
    customer.send("leave", {"kind": "message", "contact": "alex@example.com", "description": "See my receipt"},
                  id="leave")
    customer.expect("ack")
    ann.tab(r"^Requests \d+$").click()
    request = ann.page.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(
        has_text=short_id(customer.conversation_id))
    request.get_by_role("button", name="Open conversation").click()
    dialog = ann.page.get_by_role("dialog", name=re.compile("^Message from alex@example.com"))
    thumbnail = dialog.get_by_role("list", name="Transcript").locator(".attachment--image[data-state='ready']")
    expect(thumbnail).to_have_count(1)
    assert thumbnail.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 240]
    dialog.get_by_role("button", name="Close").click()
