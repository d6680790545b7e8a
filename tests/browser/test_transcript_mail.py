"""Transcripts by email in chromium against a real bridge, Rasa, Redis and SMTP server (harness.mail_sink): the
customer asks in the widget, an agent sends from the console, and each sees it sent, once."""

from __future__ import annotations

import re
import time
import urllib.parse
import uuid
from typing import Iterator, Tuple

import pytest
from playwright.sync_api import expect

from handoff.identity import sign
from harness.mail import MailSink, mail_settings, received, running_mail_sink, wait_for_mail
from harness.servers import IDENTITY_SECRET, add_agent, running_bridge
from tests.browser.conftest import screenshot
from tests.browser.test_widget import bubbles, notices, open_chat, open_demo, queued_with_console, say


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    with running_mail_sink("mail-sink-web") as server:
        yield server


@pytest.fixture(scope="module")
def mail_site(redis_url: str, rasa_url: str, sink: MailSink) -> Iterator[str]:
    prefix = f"hbwebmail{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    with running_bridge(redis_url, rasa_url, "bridge-web-mail", prefix, **mail_settings(sink)) as address:
        yield f"http://{address}"


def address() -> str:
    return f"web{uuid.uuid4().hex[:10]}@example.com"


def test_the_customer_asks_for_the_transcript_in_the_widget_and_gets_it_once(customer_context, mail_site, sink):
    to = address()
    page, errors = open_demo(customer_context, mail_site)
    open_chat(page)
    say(page, "hello there")
    expect(bubbles(page, "bot").first).to_be_visible()
    ask = page.get_by_role("button", name="Email me this chat")
    ask.click()
    field = page.get_by_label("Your email address")
    expect(field).to_be_focused()
    field.fill(f"{to}\nBcc: someone@example.com")  # an input drops the line break: still not one address
    page.get_by_role("button", name="Send transcript").click()
    expect(page.get_by_role("alert")).to_have_text("Please enter one email address, such as name@example.com.")
    field.fill(to)
    page.get_by_role("button", name="Send transcript").click()
    expect(notices(page, "transcript_sent")).to_contain_text(f"We've emailed the transcript of this chat to {to}.")
    expect(page.locator(".confirmation__text")).to_be_hidden()  # no "We're emailing…" once it says "sent"
    expect(ask).to_be_hidden()  # once per conversation
    screenshot(page, "widget-transcript-mail")
    mail = wait_for_mail(sink.folder, to)
    plain = mail.get_body(("plain",)).get_content()
    assert "Visitor: hello there" in plain and "If that was not you, please ignore this email" in plain
    assert errors == []


def test_an_agent_sends_the_transcript_from_the_console_to_the_address_the_customer_typed(
        customer_context, agent_context, mail_site, sink):
    typed = address()
    console, console_errors, page, errors = queued_with_console(
        agent_context, customer_context, mail_site, "ann", f"please write to me at {typed}")

    console.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    chat = console.locator(".conversation:not([hidden])")
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(typed)
    chat.get_by_role("button", name="Email transcript").click()
    dialog = console.get_by_role("dialog", name="Email the transcript to the customer?")
    typed_choice = dialog.get_by_role("radio", name=re.compile(re.escape(typed)))
    expect(typed_choice).not_to_be_checked()  # a typed address (anyone's?) only by the agent's choice
    send = dialog.get_by_role("button", name="Send transcript")
    expect(send).to_be_disabled()
    typed_choice.check()
    send.click()
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(f"We've emailed the transcript of this chat to {typed}.")
    expect(chat.locator(".transcript-mail-status")).to_be_hidden()  # no stale "Emailing…" above the chat
    expect(chat.get_by_role("button", name="Email transcript")).to_be_hidden()
    expect(notices(page, "transcript_sent")).to_be_visible()  # the customer sees it too
    expect(page.get_by_role("button", name="Email me this chat")).to_be_hidden()
    screenshot(console, "console-transcript-mail")
    mail = wait_for_mail(sink.folder, typed)
    plain = mail.get_body(("plain",)).get_content()
    assert re.search(r"Ann Lee: |Ann Lee from our support team", plain) and "ann:" not in plain
    assert errors == [] and console_errors == []


def test_the_widget_asks_and_tells_in_the_customers_language(customer_context, mail_site, sink):
    to = address()
    page, errors = open_demo(customer_context, mail_site, "?lang=es")
    open_chat(page, "Abrir el chat")
    page.get_by_label("Escribe tu mensaje").fill("hola")
    page.get_by_role("button", name="Enviar", exact=True).click()
    expect(bubbles(page, "customer").filter(has_text="hola")).to_be_visible()
    page.get_by_role("button", name="Enviarme este chat por correo").click()
    page.get_by_label("Tu correo electrónico").fill(to)
    page.get_by_role("button", name="Enviar transcripción").click()
    expect(notices(page, "transcript_sent")).to_contain_text(f"Hemos enviado la transcripción de este chat a {to}.")
    wait_for_mail(sink.folder, to)
    assert errors == []


@pytest.fixture(scope="module")
def failing_site(redis_url: str, rasa_url: str) -> Iterator[str]:
    """A bridge whose mail server refuses every mail for a while (451) and that tries once."""
    prefix = f"hbwebmailfail{uuid.uuid4().hex[:6]}"
    with running_mail_sink("mail-sink-web-failing", fail_first=1000) as failing:
        with running_bridge(redis_url, rasa_url, "bridge-web-mail-failing", prefix,
                            **mail_settings(failing, HANDOFF_MAIL_ATTEMPTS="1")) as address:
            yield f"http://{address}"


def test_every_refusal_is_said_plainly_and_a_failed_mail_takes_back_we_are_emailing(customer_context, failing_site):
    page, errors = open_demo(customer_context, failing_site)
    open_chat(page)
    page.get_by_role("button", name="Email me this chat").click()  # before the customer wrote anything
    field = page.get_by_label("Your email address")
    field.fill(address())
    page.get_by_role("button", name="Send transcript").click()
    expect(page.get_by_role("alert")).to_have_text(
        "There's nothing to email yet: write to us first, then ask for the transcript.")
    page.get_by_role("button", name="Cancel").click()
    say(page, "hello there")
    expect(bubbles(page, "customer").first).to_be_visible()
    page.get_by_role("button", name="Email me this chat").click()
    field.fill("4111111111111111@example.com")
    page.get_by_role("button", name="Send transcript").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That address has a card number in it. Please never send card numbers: enter an email address without one.")
    expect(field).to_be_focused()
    to = address()
    field.fill(to)
    page.get_by_role("button", name="Send transcript").click()
    expect(notices(page, "transcript_failed")).to_contain_text(f"We couldn't email the transcript to {to}.")
    expect(page.locator(".confirmation__text")).to_have_text("We couldn't email this chat. You can ask for it again.")
    expect(page.get_by_text("We're emailing")).to_have_count(0)
    expect(page.get_by_role("button", name="Email me this chat")).to_be_visible()  # it may be asked for again
    screenshot(page, "widget-transcript-mail-failed")
    assert errors == []


def test_a_signed_in_customers_form_starts_with_their_verified_address(customer_context, mail_site, sink):
    own = address()
    identity = sign(IDENTITY_SECRET, {"id": f"web-{time.time_ns()}", "name": "Grace Hopper", "email": own,
                                      "issued_at": int(time.time())})
    page, errors = open_demo(customer_context, mail_site, "?" + urllib.parse.urlencode({"identity": identity}))
    open_chat(page)
    say(page, "hello there")
    expect(bubbles(page, "bot").first).to_be_visible()
    page.get_by_role("button", name="Email me this chat").click()
    expect(page.get_by_label("Your email address")).to_have_value(own)
    page.get_by_role("button", name="Send transcript").click()
    expect(notices(page, "transcript_sent")).to_contain_text(own)
    wait_for_mail(sink.folder, own)
    assert [m["To"] for m in received(sink.folder) if m["X-Envelope-To"] == own] == [own]
    assert errors == []


@pytest.fixture(scope="module")
def capped_site(redis_url: str, rasa_url: str, sink: MailSink) -> Iterator[str]:
    """A bridge that sends nothing to typed addresses today (HANDOFF_MAIL_UNVERIFIED_PER_DAY=0)."""
    prefix = f"hbwebmailcap{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    with running_bridge(redis_url, rasa_url, "bridge-web-mail-capped", prefix,
                        **mail_settings(sink, HANDOFF_MAIL_UNVERIFIED_PER_DAY="0")) as address:
        yield f"http://{address}"


def test_the_console_says_why_a_transcript_was_not_sent_and_offers_it_again(
        customer_context, agent_context, capped_site, sink):
    typed = address()
    console, console_errors, page, errors = queued_with_console(
        agent_context, customer_context, capped_site, "ann", f"my address is {typed}")
    console.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    chat = console.locator(".conversation:not([hidden])")
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(typed)
    chat.get_by_role("button", name="Email transcript").click()
    dialog = console.get_by_role("dialog", name="Email the transcript to the customer?")
    dialog.get_by_role("radio", name=re.compile(re.escape(typed))).check()
    dialog.get_by_role("button", name="Send transcript").click()
    expect(chat.locator(".transcript-mail-status")).to_have_text(
        "Not sent: today's transcripts to addresses typed in chats are used up; "
        "a signed-in customer's own address still works.")
    expect(chat.get_by_role("button", name="Email transcript")).to_be_enabled()  # it may be tried again
    assert not [m for m in received(sink.folder) if m["X-Envelope-To"] == typed]
    assert errors == [] and console_errors == []


@pytest.fixture(scope="module")
def slow_site(redis_url: str, rasa_url: str) -> Iterator[Tuple[str, MailSink]]:
    """A bridge whose mail server refuses the first mail for now (451): it goes on the second attempt, a
    second or two later."""
    prefix = f"hbwebmailslow{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    with running_mail_sink("mail-sink-web-slow", fail_first=1) as slow:
        with running_bridge(redis_url, rasa_url, "bridge-web-mail-slow", prefix,
                            **mail_settings(slow, HANDOFF_MAIL_ATTEMPTS="2", HANDOFF_MAIL_RETRY_SECONDS="1")) as where:
            yield f"http://{where}", slow


def test_the_consoles_emailing_status_goes_once_the_transcript_says_it_was_emailed(
        customer_context, agent_context, slow_site):
    site, slow = slow_site
    typed = address()
    console, console_errors, page, errors = queued_with_console(
        agent_context, customer_context, site, "ann", f"mail it to {typed} please")
    console.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    chat = console.locator(".conversation:not([hidden])")
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(typed)
    chat.get_by_role("button", name="Email transcript").click()
    dialog = console.get_by_role("dialog", name="Email the transcript to the customer?")
    dialog.get_by_role("radio", name=re.compile(re.escape(typed))).check()
    dialog.get_by_role("button", name="Send transcript").click()
    status = chat.locator(".transcript-mail-status")
    expect(status).to_have_text(f"Emailing the transcript to {typed}…")  # the first attempt was refused
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(
        f"We've emailed the transcript of this chat to {typed}.")
    expect(status).to_be_hidden()  # the transcript says it now: nothing stale above the chat
    expect(chat.get_by_role("button", name="Email transcript")).to_be_hidden()
    screenshot(console, "console-transcript-mail-emailed")
    wait_for_mail(slow.folder, typed)
    assert errors == [] and console_errors == []
