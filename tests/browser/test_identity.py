"""Signed-in customers in chromium against a real bridge, Rasa and Redis (docs/identity.md): the same
contact in a second browser (no shared storage) resumes the open conversation, live in both; a refused
identity leaves a working anonymous chat; the console's contact panel shows who the customer is, their
history (each conversation opening read-only) and the note colleagues keep about them; after a logout the
browser's signed conversation is forgotten (never resumed by the next person), and a widget refused it by
the bridge (identity_required) starts anew."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from pathlib import Path
from typing import Any, Dict, List, Tuple

import handoff_client
from playwright.sync_api import BrowserContext, Page, expect

from handoff.identity import sign
from harness.clients import staff
from harness.files import image
from harness.servers import IDENTITY_SECRET
from tests.browser.conftest import new_context, screenshot, watch_for_errors
from tests.browser.test_attachments import choose_file
from tests.browser.test_console import (  # noqa: F401 - fixtures: the console, a tidy bridge
    Console, Customer, ann, claimed_by, tidy,
)
from tests.browser.test_widget import open_chat, open_demo, queue_for_a_person, say, stored_conversation
from tests.handoff.test_attachments import upload


def signed(contact_id: str, **changes: Any) -> str:
    fields: Dict[str, Any] = {"id": contact_id, "name": "Grace Hopper", "email": "grace@example.com",
                              "issued_at": int(time.time()), **changes}
    return sign(IDENTITY_SECRET, fields)


def signed_in(identity: str) -> str:
    return "?" + urllib.parse.urlencode({"identity": identity})


def customer_log(page: Any, kind: str) -> Any:
    return page.locator(f'.log .message[data-kind="{kind}"] .message__bubble')


def test_a_second_browser_of_the_same_contact_resumes_the_conversation_live_in_both(browser, customer_context, site):
    contact = f"web-{time.time_ns()}"
    phone, phone_errors = open_demo(customer_context, site, signed_in(signed(contact)))
    open_chat(phone)
    say(phone, "my card hasn't arrived")
    expect(customer_log(phone, "bot").last).to_be_visible()
    started = stored_conversation(phone)["conversationId"]

    laptop_context = new_context(browser)  # shares no storage with the phone's
    try:
        laptop, laptop_errors = open_demo(laptop_context, site, signed_in(signed(contact)))
        open_chat(laptop)
        expect(customer_log(laptop, "customer").filter(has_text="my card hasn't arrived")).to_be_visible()
        assert stored_conversation(laptop)["conversationId"] == started
        say(laptop, "it was due last Tuesday")
        expect(customer_log(phone, "customer").filter(has_text="it was due last Tuesday")).to_be_visible()
        say(phone, "thanks")
        expect(customer_log(laptop, "customer").filter(has_text="thanks")).to_be_visible()
        screenshot(laptop, "widget-signed-in-second-browser")
        assert phone_errors == [] and laptop_errors == [], (phone_errors, laptop_errors)
    finally:
        laptop_context.close()


def test_a_signed_in_customer_leaving_a_message_finds_their_own_address_filled_in(customer_context, site):
    """A customer trial typed the address the bank already knows: a message starts with the welcome's verified
    email (never for a callback, which needs a phone), and what the customer types instead is kept."""
    page, errors = open_demo(customer_context, site, signed_in(signed(f"mailer-{time.time_ns()}")))
    open_chat(page)
    say(page, "my card hasn't arrived")
    expect(customer_log(page, "bot").last).to_be_visible()
    queue_for_a_person(page)
    contact = page.get_by_label("Phone number or email", exact=True)
    expect(page.get_by_label("Call me back")).to_be_checked()  # nobody is online: the form is open already
    expect(contact).to_have_value("")
    page.get_by_text("Reply by message", exact=True).click()
    expect(contact).to_have_value("grace@example.com")
    page.get_by_text("Call me back", exact=True).click()
    expect(contact).to_have_value("")  # the address is no phone number
    page.get_by_text("Reply by message", exact=True).click()
    contact.fill("g.hopper@example.org")
    page.get_by_text("Call me back", exact=True).click()
    page.get_by_text("Reply by message", exact=True).click()
    expect(contact).to_have_value("g.hopper@example.org")
    assert errors == [], errors


def watched_page(context: BrowserContext, site: str, query: str = "") -> Tuple[Page, List[Any], List[str], List[str]]:
    """A new tab (the browser's localStorage, a tab's own sessionStorage) on the demo page: its errors, the
    frames it sent on its sockets and the error codes it received, from its first socket on."""
    page = context.new_page()
    errors = watch_for_errors(page)
    sent: List[str] = []
    codes: List[str] = []

    def received(payload: Any) -> None:
        envelope = json.loads(payload)
        if envelope.get("type") == "error":
            codes.append(envelope["data"]["code"])

    page.on("websocket", lambda ws: (ws.on("framesent", lambda payload: sent.append(str(payload))),
                                     ws.on("framereceived", received)))
    page.goto(f"{site}/{query}")
    return page, errors, sent, codes


def test_after_logout_the_signed_conversation_is_forgotten_and_the_next_person_starts_fresh(
        customer_context, site, tmp_path: Path):
    contact = f"leaving-{time.time_ns()}"
    page, errors, _, _ = watched_page(customer_context, site, signed_in(signed(contact)))
    open_chat(page)
    say(page, "my account number is 12345678")
    expect(customer_log(page, "bot").last).to_be_visible()
    photo = tmp_path / "card.png"
    photo.write_bytes(image("PNG", 320, 240, "#d1242f"))
    choose_file(page, "Attach a picture or PDF", photo)  # sent and shown with the identity (X-Identity)
    expect(page.locator(".message--customer .attachment--image[data-state='ready']")).to_have_count(1)
    theirs = stored_conversation(page)
    assert theirs["contact"] == contact
    assert errors == [], errors
    page.close()

    # Logged out: the site renders the page without the identity, in the same browser.
    after, after_errors, sent, codes = watched_page(customer_context, site)
    open_chat(after)
    expect(customer_log(after, "customer")).to_have_count(0)
    say(after, "what are your opening hours?")
    expect(customer_log(after, "bot").last).to_be_visible()
    fresh = stored_conversation(after)
    assert fresh["conversationId"] != theirs["conversationId"] and "contact" not in fresh
    assert not [frame for frame in sent if theirs["conversationId"] in frame], "the signed one was never named"
    assert codes == [] and after_errors == [], (codes, after_errors)
    expect(customer_log(after, "customer").filter(has_text="12345678")).to_have_count(0)


def test_an_anonymous_visitors_unsent_message_never_reaches_the_next_signed_in_customer(customer_context, site):
    """A shared browser: a visitor's message still unsent (its socket lost) when they left, then a signed-in
    customer opens the page. The visitor's message is dropped with their conversation, never sent into the
    customer's (the bridge resumes no anonymous conversation for a signed hello, so nothing else would)."""
    visitor, _, _, _ = watched_page(customer_context, site)
    open_chat(visitor)
    say(visitor, "what are your opening hours?")
    expect(customer_log(visitor, "bot").last).to_be_visible()
    anonymous = stored_conversation(visitor)["conversationId"]
    visitor.evaluate("""() => {
      const key = Object.keys(localStorage).find((name) => name.startsWith("support-chat:") && name.endsWith(":outbox"))
        || Object.keys(localStorage).find((name) => name.endsWith(":conversation")).replace(/:conversation$/, ":outbox");
      localStorage.setItem(key, JSON.stringify([{ type: "message", id: "unsent-1", data: { text: "visitor secret 4411" } }]));
    }""")
    visitor.close()

    contact = f"next-{time.time_ns()}"
    page, errors, sent, codes = watched_page(customer_context, site, signed_in(signed(contact)))
    open_chat(page)
    say(page, "has my card been sent?")
    expect(customer_log(page, "bot").last).to_be_visible()
    theirs = stored_conversation(page)
    assert theirs["contact"] == contact and theirs["conversationId"] != anonymous
    assert not [frame for frame in sent if "visitor secret 4411" in frame], "the visitor's message was never sent"
    expect(customer_log(page, "customer").filter(has_text="visitor secret")).to_have_count(0)
    assert codes == [] and errors == [], (codes, errors)


def test_a_signed_conversation_the_bridge_refuses_is_forgotten_and_the_widget_starts_anew(customer_context, site):
    """The page's identity has expired (the bridge refuses it: anonymous), and the browser holds the customer's
    signed conversation: the bridge answers identity_required, and the widget says hello anew, never stuck."""
    contact = f"expiring-{time.time_ns()}"
    page, _, _, _ = watched_page(customer_context, site, signed_in(signed(contact)))
    open_chat(page)
    say(page, "my card was swallowed")
    expect(customer_log(page, "bot").last).to_be_visible()
    theirs = stored_conversation(page)["conversationId"]
    page.close()

    expired = signed(contact, issued_at=int(time.time()) - 2 * 24 * 3600)
    later, errors, _, codes = watched_page(customer_context, site, signed_in(expired))
    open_chat(later)
    say(later, "is the branch open today?")
    expect(customer_log(later, "bot").last).to_be_visible()
    assert codes == ["identity_expired", "identity_required"], codes
    fresh = stored_conversation(later)
    assert fresh["conversationId"] != theirs and "contact" not in fresh
    expect(customer_log(later, "customer").filter(has_text="swallowed")).to_have_count(0)
    assert errors == [], errors


def test_a_refused_identity_warns_on_the_console_and_the_chat_works_anonymously(customer_context, site):
    forged = sign("not-the-site-secret-" + "x" * 20, {"id": "someone", "issued_at": int(time.time())})
    warnings: list = []
    page = customer_context.new_page()
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    page.goto(f"{site}/{signed_in(forged)}")
    open_chat(page)
    say(page, "how do I top up my account?")
    expect(customer_log(page, "bot").last).to_be_visible()
    assert any("invalid_identity" in warning and "anonymously" in warning for warning in warnings), warnings
    conversation = stored_conversation(page)["conversationId"]
    page.reload()  # the same page (the same refused identity): the anonymous chat goes on, never lost
    expect(customer_log(page, "customer").filter(has_text="how do I top up my account?")).to_be_visible()
    assert stored_conversation(page)["conversationId"] == conversation


def test_the_contact_panel_shows_who_history_and_a_note_colleagues_see(ann, site, background_loop, address):
    contact = f"panel-{time.time_ns()}"

    async def earlier_conversation() -> str:
        """Last week's chat: handed over, resolved by Sue, rated 5."""
        identity = signed(contact)
        customer = await handoff_client.Customer.connect(address, identity=identity)
        await asyncio.to_thread(upload, address, customer.conversation_id, image("PNG", 320, 240, "#1f6feb"),
                                f"Conversation {customer.token}", "receipt.png", content_type="image/png",
                                headers={"X-Identity": identity})  # a picture the customer sent that week
        await customer.acknowledged(await customer.talk_to_person())
        sue = await staff(address, "sue")
        await sue.acknowledged(await sue.claim(customer.conversation_id))
        await sue.send("close", {"conversation_id": customer.conversation_id, "disposition": "resolved"}, id="close")
        await sue.expect("ack", conversation_id=customer.conversation_id)
        await customer.expect("status", state="closed")
        await customer.send("rating", {"score": 5, "comment": "lovely"}, id="rate")
        await customer.expect("ack")
        for each in (customer, sue):
            await each.close()
        return customer.conversation_id

    earlier = background_loop.run(earlier_conversation())
    now = Customer(background_loop, background_loop.run(handoff_client.Customer.connect(
        address, identity=signed(contact, name="Grace B. Hopper"))))
    try:
        now.send("talk_to_person", {}, id="talk")
        now.expect("status", state="queued")
        claimed_by(ann, now)
        panel = ann.conversation.locator(".contact-panel")
        expect(panel.locator(".chip-verified")).to_have_text("✓ Verified")
        expect(panel.locator(".contact-name")).to_have_text("Grace B. Hopper")  # as signed this time
        expect(panel.locator(".contact-email")).to_have_text("grace@example.com")
        expect(panel.locator(".contact-id")).to_have_text(contact)
        past = panel.locator(f'.contact-history-item[data-conversation="{earlier}"]')
        expect(past.locator(".contact-history-outcome")).to_have_text("Resolved")
        expect(past.locator(".contact-history-rating")).to_contain_text("5/5")

        note = "Prefers email, not calls. <img src=x onerror=alert(1)>"
        panel.get_by_role("textbox", name="Note about this customer").fill(note)
        panel.get_by_role("button", name="Save note").click()
        expect(ann.page.get_by_text("Note about the customer saved.")).to_be_visible()
        expect(panel.locator(".contact-note-by")).to_contain_text("Last saved by Ann Lee")
        expect(panel.locator("img")).to_have_count(0)
        screenshot(ann.page, "console-contact-panel")

        past.click()  # the earlier conversation, read-only
        expect(ann.conversation.locator(".closed-summary")).to_be_visible()
        # Its picture opens too, through the chat Ann serves (?via=), as the conversation did.
        expect(ann.conversation.locator(".msg-customer .attachment--image[data-state='ready']")).to_have_count(1)
        expect(ann.conversation.locator(".closed-summary")).to_contain_text("Resolved")
        expect(ann.conversation.locator(".contact-panel .contact-name")).to_have_text("Grace Hopper")  # as then
        expect(ann.conversation.locator(".contact-remark")).to_have_text(
            "Their history and note are beside the chat you opened this from.")

        # A colleague opening the customer's chat next time sees the note, as text.
        ann.page.reload()
        ann.page.get_by_role("tab", name="Asked for a person").first.click()
        box = ann.conversation.locator(".contact-panel").get_by_role("textbox", name="Note about this customer")
        expect(box).to_have_value(note)
    finally:
        background_loop.run(now.client.close())
