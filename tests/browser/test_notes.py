"""Private notes, @mentions and transfer notes in the console, in chromium, against a real bridge.

The customers are real websocket clients (tests/browser/test_console.py): whatever the console
shows of a note, the customer's socket must never receive it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from playwright.sync_api import expect

from harness.clients import staff
from tests.browser.conftest import screenshot
from tests.browser.test_console import (  # noqa: F401 - fixtures: the consoles, customers, a tidy bridge
    Console, Customer, ann, claimed_by, customers, sue, tidy,
)


def notes_received(customer: Customer) -> List[Dict[str, Any]]:
    """Every note the customer's socket was sent (none, ever)."""
    return [e for e in customer.client.received if e["type"] == "message" and e["data"]["kind"] == "note"]


def note_box(console: Console):
    return console.conversation.get_by_role("textbox", name="Private note for your team")


def test_a_note_looks_like_a_note_says_it_is_private_and_never_reaches_the_customer(ann, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    composer = ann.conversation.locator(".composer")
    ann.conversation.get_by_role("button", name="Note", exact=True).click()
    expect(composer).to_have_class(re.compile("is-note"))
    expect(ann.conversation.get_by_role("button", name="Note", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(ann.conversation.get_by_role("button", name="Add note", exact=True)).to_be_visible()
    note_box(ann).fill("Card blocked since Monday <img src=x onerror=alert(1)> see https://help.example/cards")
    note_box(ann).press("Enter")
    note = ann.transcript.locator(".msg-note").filter(has_text="Card blocked since Monday")
    expect(note).to_have_count(1)
    expect(note.locator(".msg-status")).to_have_count(0)  # the stored copy replaced the one being saved
    expect(note).to_contain_text("Only your team sees this")
    expect(note.locator(".badge-note")).to_have_text("Note")
    expect(note.locator(".msg-author")).to_have_text("You")
    expect(note).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text, never run
    expect(note.locator("img")).to_have_count(0)
    expect(note.get_by_role("link", name="https://help.example/cards")).to_be_visible()
    # Visibly unlike a message: a yellow, dashed bubble.
    colour = note.locator(".msg-bubble").evaluate("element => getComputedStyle(element).backgroundColor")
    assert colour == "rgb(255, 247, 209)", colour
    screenshot(ann.page, "console-note")

    # The note sent, the composer is back to replying (the agent trial: the next reply became a note).
    expect(composer).not_to_have_class(re.compile("is-note"))
    expect(ann.conversation.get_by_role("button", name="Reply", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(ann.conversation.get_by_role("textbox", name="Reply to the customer")).to_be_focused()
    ann.reply("Thanks for waiting, I'm checking your card now.")
    assert customer.expect("message", kind="agent")["data"]["text"] == "Thanks for waiting, I'm checking your card now."
    assert notes_received(customer) == []


def test_a_mention_notifies_the_colleague_who_opens_the_chat_read_only_and_answers_with_a_note(ann, sue, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.conversation.get_by_role("button", name="Note", exact=True).click()
    note_box(ann).press_sequentially("Could you check this @su")
    menu = ann.conversation.get_by_role("listbox", name="Colleagues to mention")
    expect(menu.get_by_role("option", name=re.compile(r"^@sue"))).to_be_visible()
    note_box(ann).press("Enter")  # takes the highlighted colleague
    expect(note_box(ann)).to_have_value("Could you check this @sue ")
    note_box(ann).press_sequentially("the card status is odd")
    note_box(ann).press("Enter")
    expect(ann.transcript.locator(".msg-note .mention")).to_have_text("@sue")
    expect(ann.page.get_by_text("Note saved; Sue notified.")).to_be_visible()  # by display name (trial 16)
    ann.conversation.get_by_role("button", name="Note", exact=True).click()  # sent, it was back to replying
    # Picked before words that follow, a mention adds no second space (trial 16).
    note_box(ann).fill(" please look")
    note_box(ann).evaluate("(box) => box.setSelectionRange(0, 0)")
    note_box(ann).press_sequentially("@su")
    expect(menu.get_by_role("option", name=re.compile(r"^@sue"))).to_be_visible()
    note_box(ann).press("Enter")
    expect(note_box(ann)).to_have_value("@sue please look")
    note_box(ann).fill("")

    # Sue is told: the Mentions tab counts it, the list says who and what.
    expect(sue.tab(r"^Mentions 1$")).to_be_visible()
    # With counts on every tab the alert sound's button stays within the sidebar (trial 16: pushed off its edge).
    assert sue.page.evaluate("""() => {
        const sidebar = document.querySelector('.sidebar').getBoundingClientRect();
        const bell = document.querySelector('.sidebar-head > button').getBoundingClientRect();
        return bell.right <= sidebar.right && bell.width > 0;
    }""")
    sue.tab("^Mentions").click()
    mention = sue.page.get_by_role("list", name="Notes that mention you").get_by_role("listitem").first
    expect(mention).to_contain_text("Ann Lee mentioned you")
    expect(mention).to_contain_text("the card status is odd")
    screenshot(sue.page, "console-mentions")
    mention.get_by_role("button", name=re.compile("^Open the chat")).click()
    # Read-only: a banner, no actions, notes only; the mention is seen now.
    expect(sue.conversation.locator(".view-banner")).to_have_text(re.compile(r"^Read only: Ann Lee is serving this chat"))
    expect(sue.conversation.get_by_role("button", name="Transfer")).to_be_hidden()
    expect(sue.conversation.get_by_role("button", name="Reply", exact=True)).to_be_disabled()
    expect(sue.transcript.locator(".msg-note .mention.is-me")).to_have_text("@sue")
    expect(sue.tab(r"^Mentions$")).to_be_visible()
    note_box(sue).fill("@ann it was blocked by the fraud team; unblocked now")
    note_box(sue).press("Enter")
    screenshot(sue.page, "console-mention-view")
    answer = ann.transcript.locator(".msg-note").filter(has_text="it was blocked by the fraud team")
    expect(answer.locator(".msg-author")).to_have_text("Sue")
    ann.tab("^Mentions").click()
    expect(ann.page.get_by_role("list", name="Notes that mention you")).to_contain_text("Sue mentioned you")
    expect(ann.tab(r"^Mentions$")).to_be_visible()  # read as it came: the chat was on screen
    customer.say("hello?")
    expect(sue.transcript.locator(".msg-customer").filter(has_text="hello?")).to_have_count(1)  # live
    sue.conversation.get_by_role("button", name="Close", exact=True).click()
    expect(sue.page.get_by_text("Closed the chat you were reading.")).to_be_visible()
    expect(sue.page.get_by_role("tablist", name="Your chats").get_by_role("tab")).to_have_count(0)
    assert notes_received(customer) == []


def test_a_queued_chat_a_colleague_mentioned_you_in_is_marked_in_your_queue(ann, customers, background_loop, address):
    customer = customers()
    customer.ask_for_person()

    async def supervisor_notes() -> None:
        supervisor = await staff(address, "sue")
        await supervisor.acknowledged(await supervisor.note("@ann she called before about this card", customer.conversation_id))
        await supervisor.close()

    background_loop.run(supervisor_notes())
    card = ann.queue_item("Mentioned you")
    expect(card).to_have_count(1)
    expect(ann.tab(r"^Mentions 1$")).to_be_visible()
    screenshot(ann.page, "console-queue-mentioned")
    claimed_by(ann, customer)
    expect(ann.transcript.locator(".msg-note")).to_contain_text("she called before about this card")
    expect(ann.tab(r"^Mentions$")).to_be_visible()  # seen: the chat is on screen
    assert notes_received(customer) == []


def test_a_transfer_note_is_pinned_for_the_receiver_whose_colleague_is_signed_as_such(ann, sue, customers):
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    ann.reply("Hello, I'm Ann. Let me look at your card.")
    customer.expect("message", kind="agent")
    ann.conversation.get_by_role("button", name="Transfer").click()
    dialog = ann.page.get_by_role("dialog", name="Transfer chat")
    dialog.get_by_role("radio", name=re.compile(r"^Sue ")).check()
    dialog.get_by_role("textbox", name=re.compile("^Note for whoever takes the chat")).fill(
        "Already checked the card status: blocked since Monday.")
    screenshot(ann.page, "console-transfer-note-dialog")
    dialog.get_by_role("button", name="Transfer").click()
    expect(ann.page.get_by_text("Chat transferred to Sue.")).to_be_visible()

    pinned = sue.conversation.locator(".pinned-note")
    expect(pinned).to_be_visible()
    expect(pinned).to_contain_text("Ann Lee transferred this chat to Sue with a note")
    expect(pinned).to_contain_text("Already checked the card status: blocked since Monday.")
    expect(sue.transcript.locator(".msg-note .badge-note")).to_have_text("Transfer note to Sue")
    # Ann's message is Ann's, not Sue's own; Sue's reply is hers.
    earlier = sue.transcript.locator(".msg-agent").filter(has_text="Hello, I'm Ann.")
    expect(earlier).to_have_class(re.compile("msg-colleague"))
    expect(earlier.locator(".msg-author")).to_have_text("Ann Lee")
    sue.reply("Hi, Sue here: I'll unblock it.")
    own = sue.transcript.locator(".msg-agent").filter(has_text="Sue here")
    expect(own).to_have_class(re.compile("msg-own"))
    expect(own.locator(".msg-author")).to_have_text("You")
    assert earlier.locator(".msg-bubble").evaluate("e => getComputedStyle(e).backgroundColor") != \
        own.locator(".msg-bubble").evaluate("e => getComputedStyle(e).backgroundColor")
    screenshot(sue.page, "console-transfer-note")
    customer.expect("message", kind="agent")
    assert notes_received(customer) == []
