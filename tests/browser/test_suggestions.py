"""Suggested replies in chromium: the strip above the composer follows the customer's latest message,
one click (or Enter) puts a suggestion into the composer to edit, nothing is sent by it, and a
colleague's earlier reply is shown as text, never as markup."""

from __future__ import annotations

import re
import random
import string

from playwright.sync_api import expect

from harness.clients import claimed
from tests.browser.conftest import screenshot
from tests.browser.test_console import (  # noqa: F401 - the fixtures ann, customers and the autouse tidy
    ann, claimed_by, customers, tidy,
)

# A mark of this run, in letters only (six digits in a row would make a reply look like personal data).
RUN = "".join(random.choices(string.ascii_lowercase, k=6))
EARLIER_QUESTION = "my replacement card has not turned up in the post yet"
# Unique to the run: the index is shared by every test of the session (other replies may be suggested too).
EARLIER_REPLY = f"<b>Sorry</b> about that: I've ordered a new card by express post ({RUN})."


def test_the_strip_suggests_for_the_latest_customer_message_and_one_click_fills_the_composer(
        ann, customers, background_loop, address):
    async def colleague_answered_before() -> None:
        customer, sue = await claimed(address, "sue")
        await customer.say(EARLIER_QUESTION)
        await sue.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "customer", "the question")
        await sue.acknowledged(await sue.say(EARLIER_REPLY, customer.conversation_id))
        await sue.acknowledged(await sue.close_conversation(customer.conversation_id))
        for each in (customer, sue):
            await each.close()

    background_loop.run(colleague_answered_before())
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    strip = ann.conversation.get_by_role("region", name="Suggested replies")
    expect(strip).to_be_hidden()  # nothing the customer wrote to a person yet

    customer.say("I think I lost my card, what should I do?")
    lost = strip.get_by_role("button", name=re.compile(r"^Use suggestion \(FAQ, Lost or stolen card\)"))
    expect(lost).to_be_visible()
    expect(strip.get_by_role("button", name=re.compile(r"^Use suggestion \(FAQ"))).to_have_count(3)
    lost.click()
    expect(ann.composer).to_have_value(re.compile(r"^If your card is lost or stolen.*Freeze", re.S))
    expect(ann.composer).to_be_focused()
    ann.composer.press("End")
    ann.composer.press_sequentially(" Anything else?")
    expect(ann.composer).to_have_value(re.compile(r"Anything else\?$"))
    expect(ann.transcript).not_to_contain_text("If your card is lost or stolen")  # inserted, never sent
    ann.composer.fill("")

    customer.say("my replacement card still hasn't turned up in the post")
    team = strip.get_by_role("button", name=re.compile(r"^Use suggestion \(Team reply")).filter(has_text=EARLIER_REPLY)
    expect(team).to_be_visible()
    expect(team).to_contain_text(EARLIER_REPLY)  # the markup shown as text
    expect(strip.locator("b")).to_have_count(0)
    screenshot(ann.page, "console-suggestions")
    team.focus()
    ann.page.keyboard.press("Enter")
    expect(ann.composer).to_have_value(EARLIER_REPLY)
    ann.composer.press("Enter")  # the agent sends it, edited or not
    customer.expect("message", kind="agent", text=EARLIER_REPLY)
