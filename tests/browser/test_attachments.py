"""Attachments in chromium against a real bridge: a customer sends a picture from the widget by its button and
the agent sees it in the console and opens it; an agent sends a PDF from the console and the customer downloads
it from the widget; a disguised file is refused in the widget's words (docs/bridge-protocol.md "Attachments")."""

from __future__ import annotations

import re
import time
from pathlib import Path

import redis as redis_sync
from playwright.sync_api import Page, expect

from harness.files import HTML_AS_PNG, image, pdf
from tests.browser.conftest import screenshot
from tests.browser.test_console import (  # noqa: F401 - fixtures: the console, customers, a tidy bridge
    Console, ann, claimed_by, customers, tidy,
)
from tests.handoff.test_attachments import as_customer, upload
from tests.browser.test_widget import open_chat, open_demo


def customer_with_ann(ann: Console, customer_context, site: str) -> Page:  # noqa: F811 - ann is a fixture's value
    """The widget on the demo page, its customer asking for a person and claimed by ann's console."""
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".queue__position")).to_be_visible()
    waiting = ann.page.locator("li.queue-item").filter(has_not_text="Customer: Left")
    waiting.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    expect(ann.transcript).to_contain_text("from our support team has joined the chat.")
    expect(page.locator(".header__status")).to_contain_text("Chatting with")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def choose_file(page: Page, button: str, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=button).click()
    chooser.value.set_files(str(path))


def test_a_customer_sends_a_picture_by_the_button_and_the_agent_sees_and_opens_it(ann, customer_context, site,  # noqa: F811
                                                                                 tmp_path):
    page = customer_with_ann(ann, customer_context, site)
    photo = tmp_path / "card front.png"
    photo.write_bytes(image("PNG", 320, 240, "#d1242f"))
    choose_file(page, "Attach a picture or PDF", photo)

    mine = page.locator(".message--customer .attachment--image[data-state='ready']")
    expect(mine).to_have_count(1)
    expect(mine.locator("img")).to_have_attribute("alt", "card front.png")
    expect(page.locator(".message--customer[data-pending]")).to_have_count(0)  # the stored copy replaced it

    thumbnail = ann.transcript.locator(".msg-customer .attachment--image[data-state='ready']")
    expect(thumbnail).to_have_count(1)
    assert thumbnail.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 240]
    screenshot(ann.page, "console-attachment")
    with ann.page.context.expect_page() as opened:
        thumbnail.click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url.startswith("blob:")
    assert full.evaluate("[document.images[0].naturalWidth, document.images[0].naturalHeight]") == [320, 240]
    full.close()
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_agent_sends_a_pdf_and_the_customer_downloads_it(ann, customer_context, site, tmp_path):  # noqa: F811
    page = customer_with_ann(ann, customer_context, site)
    statement = tmp_path / "statement.pdf"
    statement.write_bytes(pdf())
    choose_file(ann.page, "Attach a picture or PDF", statement)

    sent = ann.transcript.locator(".msg-agent .attachment--file")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("statement.pdf")
    expect(ann.transcript.locator(".msg-agent.is-pending")).to_have_count(0)

    link = page.locator(".message--agent .attachment--file")
    expect(link).to_contain_text("statement.pdf")
    screenshot(page, "widget-attachment")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "statement.pdf"
    assert Path(download.value.path()).read_bytes() == pdf()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_disguised_file_is_refused_in_the_widgets_words(ann, customer_context, site, tmp_path):  # noqa: F811
    page = customer_with_ann(ann, customer_context, site)
    fake = tmp_path / "holiday.png"
    fake.write_bytes(HTML_AS_PNG)
    choose_file(page, "Attach a picture or PDF", fake)
    failed = page.locator(".message--failed")
    expect(failed).to_contain_text(re.compile("Not sent: this file isn't what its name says"))
    expect(ann.transcript.locator(".attachment")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


# A file put on the clipboard or dragged in, as the browser hands it to the page.
PASTE = """(node, [bytes, name, type]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], name, {type}));
    node.dispatchEvent(new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true}));
}"""
DROP = """(node, [bytes, name, type]) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], name, {type}));
    for (const kind of ["dragover", "drop"]) {
        node.dispatchEvent(new DragEvent(kind, {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }
}"""


def test_a_picture_pasted_to_the_bot_is_kept_and_a_person_offered_then_one_dropped_by_the_agent(
        ann, customer_context, site):  # noqa: F811
    page, errors = open_demo(customer_context, site)
    open_chat(page)
    page.get_by_label("Type your message").evaluate(PASTE, [list(image("JPEG", 90, 60)), "screenshot.jpg", "image/jpeg"])
    expect(page.locator(".message--customer .attachment--image[data-state='ready']")).to_have_count(1)
    kept = page.locator(".message--system[data-notice='attachment_kept']")
    expect(kept).to_contain_text("I can't read files")
    kept.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".queue__position")).to_be_visible()

    waiting = ann.page.locator("li.queue-item").filter(has_not_text="Customer: Left")
    waiting.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    thumbnail = ann.transcript.locator(".msg-customer .attachment--image[data-state='ready']")
    expect(thumbnail).to_have_count(1)  # kept for the agent: in the transcript they read on claiming
    expect(thumbnail.locator("img")).to_have_attribute("alt", "screenshot.jpg")

    ann.transcript.evaluate(DROP, [list(image("GIF", 30, 30, "#1f883d")), "how-to.gif", "image/gif"])
    expect(ann.transcript.locator(".msg-agent .attachment--image[data-state='ready']")).to_have_count(1)
    expect(page.locator(".message--agent .attachment--image[data-state='ready'] img")).to_have_attribute("alt", "how-to.gif")
    assert errors == []


def test_a_file_pasted_or_dropped_while_writing_a_private_note_never_reaches_the_customer(
        ann, customer_context, site):  # noqa: F811
    page = customer_with_ann(ann, customer_context, site)
    ann.conversation.get_by_role("button", name="Note", exact=True).click()
    note = ann.conversation.get_by_role("textbox", name="Private note for your team")
    paperclip = ann.conversation.locator(".attach-button")
    expect(paperclip).to_be_hidden()  # a note carries no file: the paperclip steps aside
    expect(paperclip).to_be_disabled()
    internal = [list(image("PNG", 40, 40, "#cf222e")), "internal-screenshot.png", "image/png"]
    note.evaluate(PASTE, internal)
    ann.transcript.evaluate(DROP, internal)
    note.fill("the customer's card is blocked")
    note.press("Enter")
    expect(ann.transcript.locator(".msg-note")).to_contain_text("the customer's card is blocked")
    expect(ann.transcript.locator(".attachment")).to_have_count(0)

    ann.conversation.get_by_role("button", name="Reply", exact=True).click()
    expect(ann.conversation.get_by_role("button", name="Attach a picture or PDF")).to_be_enabled()
    ann.composer.evaluate(PASTE, [list(image("GIF", 30, 30)), "how-to.gif", "image/gif"])
    expect(page.locator(".message--agent .attachment--image[data-state='ready'] img")).to_have_attribute("alt", "how-to.gif")
    expect(page.locator(".attachment")).to_have_count(1)  # the pasted note picture never came
    expect(ann.transcript.locator(".attachment")).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_file_waiting_for_a_refused_chat_is_never_sent_later(customer_context, site, site_prefix, redis_url,
                                                              tmp_path):
    # The service has started as many chats as it may in these 10 minutes (and the next, should they turn).
    client = redis_sync.Redis.from_url(redis_url)
    window = int(time.time()) // 600
    spent = [f"{site_prefix}:window:conversations:*:{n}" for n in (window, window + 1)]
    for key in spent:
        client.incrby(key, 10**9)
        client.expire(key, 1200)
    try:
        page, errors = open_demo(customer_context, site)
        open_chat(page)
        private = tmp_path / "passport.png"
        private.write_bytes(image("PNG", 30, 20))
        choose_file(page, "Attach a picture or PDF", private)
        failed = page.locator(".message--failed")
        expect(failed).to_contain_text("passport.png")
        expect(failed).to_contain_text("Not sent")
    finally:
        for key in spent:
            client.decrby(key, 10**9)
    # A chat can start again: the customer writes, the bot answers, and the file chosen before never follows.
    page.get_by_label("Type your message").fill("hello")
    page.get_by_label("Type your message").press("Enter")
    expect(page.locator(".message--bot").last).to_be_visible()
    expect(page.locator(".message--customer .attachment--image")).to_have_count(0)  # only its "not sent" copy
    conversation = page.wait_for_function(  # kept by the widget once welcomed (a moment after the first answer)
        "() => { const key = Object.keys(localStorage).find((each) => each.startsWith('support-chat:v1')"
        " && each.endsWith(':conversation')); return key && JSON.parse(localStorage.getItem(key)); }").json_value()
    time.sleep(1)  # an upload would have followed the welcome at once
    assert not client.exists(f"{site_prefix}:files:{conversation['conversationId']}")
    assert errors == []


def test_a_file_the_bridge_refused_stays_where_it_was_sent_without_progress_and_can_be_dismissed(
        ann, customer_context, site, tmp_path):  # noqa: F811
    """Trial 16: a refused file's "Not sent" stayed below every later message, with a full progress bar and no
    way to take it away."""
    page = customer_with_ann(ann, customer_context, site)
    damaged = tmp_path / "form.pdf"
    damaged.write_bytes(pdf()[:-40])  # cut short: no %%EOF
    choose_file(ann.page, "Attach a picture or PDF", damaged)
    failed = ann.transcript.locator(".msg-agent.is-failed")
    expect(failed).to_contain_text("Not sent")
    expect(failed.locator("progress")).to_have_count(0)
    page.get_by_label("Type your message").fill("did you send something?")
    page.get_by_role("button", name="Send").click()
    later = ann.transcript.locator(".msg-customer").filter(has_text="did you send something?")
    expect(later).to_have_count(1)
    assert later.evaluate("(later) => Boolean(later.compareDocumentPosition(document.querySelector('.msg-agent.is-failed')) "
                          "& Node.DOCUMENT_POSITION_PRECEDING)"), "the customer's later message is above the failed file"
    failed.get_by_role("button", name="Dismiss").click()
    expect(failed).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def address_of(console: Console) -> str:
    return console.page.url.split("/")[2]


def test_a_picture_arriving_at_the_end_of_a_long_chat_is_scrolled_into_view_once_loaded(ann, customers):  # noqa: F811
    """Trial 16: a picture that arrived was cut off at the bottom: the transcript was not scrolled again once the
    picture had loaded and taken its height."""
    customer = customers()
    customer.ask_for_person()
    claimed_by(ann, customer)
    for number in range(6):  # (within the customer's burst of messages) more than the transcript shows
        customer.say(f"part {number} of a long story about my card: " + "it was fine until it was not, " * 12)
    expect(ann.transcript.locator(".msg-customer")).to_have_count(6)
    sent = upload(address_of(ann), customer.conversation_id, image("PNG", 400, 400),
                  as_customer(customer.client), "photo.png", client_id="photo")
    assert sent.status_code == 201, sent.text
    expect(ann.transcript.locator('.attachment--image[data-state="ready"]')).to_have_count(1)
    ann.page.wait_for_function("""() => {
        const log = document.querySelector('.conversation:not([hidden]) .transcript-scroll');
        const picture = log.querySelector('.attachment__image');
        return picture.complete && picture.naturalHeight > 0
            && log.scrollHeight - log.scrollTop - log.clientHeight < 2;
    }""", timeout=5000)
