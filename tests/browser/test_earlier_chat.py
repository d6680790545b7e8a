"""The chat before, in chromium against a real bridge, Rasa and Redis (handoff.earlier; issue 13: an agent never
makes a customer explain again): an anonymous customer whose chat Ann closed writes again in the same widget and
asks for a person; the new chat's card says they wrote again, its details show the earlier chat (when, by whom,
its outcome and closing note, and the rating the customer gives it meanwhile), and "Open earlier chat" opens it
read-only; a third chat shows the second."""

from __future__ import annotations

import re
import uuid
from typing import Dict

from playwright.sync_api import expect

from handoff_client import Customer
from tests.browser.conftest import screenshot
from tests.browser.test_console import ann, close_in_console, tidy  # noqa: F401 - fixtures: the console, a tidy bridge
from tests.browser.test_widget import bubbles, open_chat, open_demo, say, stored_conversation


async def rate(address: str, closed: Dict[str, str], score: int) -> None:
    """The closed chat rated by a client resuming it (as another tab of the customer's would)."""
    customer = Customer(address, conversation_id=closed["conversationId"], token=closed["token"])
    await customer.start()
    await customer.send("rating", {"score": score}, id="rate")
    await customer.acknowledged("rate")
    await customer.close()


def test_a_customer_writing_again_after_a_close_brings_the_earlier_chat_to_the_agent(
        ann, customer_context, site, tidy, background_loop, address):
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".queue__position")).to_be_visible()
    first = f"my husband died last week and I need to close his account ({uuid.uuid4().hex[:6]})"
    say(page, first)
    expect(bubbles(page, "customer").filter(has_text=first)).to_be_visible()

    card = ann.queue_item(first)
    expect(card.locator(".chip-earlier")).to_have_count(0)  # a first chat
    card.get_by_role("button", name=re.compile("^Claim chat")).click()
    expect(ann.transcript).to_contain_text(first)
    ann.reply("I'm so sorry for your loss. I've started closing the account.")
    close_in_console(ann, "Follow-up needed", "Death certificate to follow by post")
    expect(page.locator(".header__status")).to_have_text("Chat ended")
    closed = stored_conversation(page)

    # A minute later, in the same widget: a new chat, with a person again.
    again = f"sorry, one more question - can I still use his card to pay for the funeral? ({uuid.uuid4().hex[:6]})"
    page.get_by_label("Type your message").fill(again)
    page.get_by_role("button", name="Send", exact=True).click()  # not "Send rating": the closed chat's, unrated
    expect(page.get_by_role("separator")).to_have_text("New chat")
    # The assistant hands a bereaved customer over at once, promising "they will see what you've told me".
    expect(page.locator(".new-chat ~ .message--bot").first).to_contain_text("so you won't have to explain it again")
    expect(page.locator(".queue__position")).to_be_visible()

    card = ann.queue_item(again)
    expect(card.locator(".chip-earlier")).to_have_text("Wrote again")
    card.get_by_role("button", name=re.compile("^Claim chat")).click()
    expect(ann.transcript).to_contain_text(again)
    earlier = ann.conversation.locator(".earlier-chat")
    expect(earlier.get_by_role("heading", name="Earlier chat")).to_be_visible()
    expect(earlier.locator(".earlier-chat-outcome")).to_contain_text("closed just now")
    expect(earlier.locator(".earlier-chat-agent")).to_have_text("Ann Lee")  # by name, never the login
    expect(earlier.locator(".earlier-chat-disposition")).to_have_text("Follow-up needed")
    expect(earlier.locator(".earlier-chat-said")).to_contain_text(first)  # what she told Ann, not asked again
    expect(earlier.locator(".earlier-chat-note")).to_have_text("Closing note: Death certificate to follow by post")
    screenshot(ann.page, "console-earlier-chat")
    # The customer rates the closed chat now (from another tab still showing it): the panel shows it at once.
    expect(earlier.locator(".earlier-chat-rating")).to_have_count(0)
    background_loop.run(rate(address, closed, 4))
    expect(earlier.locator(".earlier-chat-rating")).to_have_text("★★★★ 4/5")

    earlier.get_by_role("button", name="Open earlier chat").click()  # read-only, through the chat Ann serves
    expect(ann.transcript).to_contain_text(first)
    expect(ann.conversation.locator(".closed-summary")).to_contain_text("Follow-up needed")
    expect(ann.conversation.locator(".view-banner")).to_have_text(re.compile(r"^Read only: this chat is closed"))
    ann.conversation.get_by_role("button", name="Close", exact=True).click()  # the view; the second chat is Ann's

    # A third chat: its earlier chat is the second; opened, the second's own earlier one says where it opens.
    close_in_console(ann, "Resolved")
    third = f"and do I need to tell anyone else? ({uuid.uuid4().hex[:6]})"
    page.get_by_label("Type your message").fill(third)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("separator").filter(has_text="New chat")).to_have_count(2)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".queue__position")).to_be_visible()
    card = ann.queue_item(third)
    expect(card.locator(".chip-earlier")).to_have_text("Wrote again")
    card.get_by_role("button", name=re.compile("^Claim chat")).click()
    expect(ann.transcript).to_contain_text(third)
    earlier = ann.conversation.locator(".earlier-chat")
    expect(earlier.locator(".earlier-chat-disposition")).to_have_text("Resolved")
    expect(earlier.locator(".earlier-chat-said")).to_contain_text(again)
    earlier.get_by_role("button", name="Open earlier chat").click()
    expect(ann.transcript).to_contain_text(again)
    expect(ann.conversation.locator(".earlier-chat-remark")).to_have_text(
        "Only the chat just before the one you serve opens from it.")
    assert errors == []
