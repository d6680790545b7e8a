"""Transcripts by email in chromium against a real bridge, Rasa, Redis and SMTP server (harness.mail_sink): the
customer asks in the widget, an agent sends from the console, and each sees it sent, once."""

from __future__ import annotations

import re
import uuid
from typing import Iterator

import pytest
from playwright.sync_api import expect

from harness.mail import MailSink, mail_settings, running_mail_sink, wait_for_mail
from harness.servers import add_agent, running_bridge
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_widget import bubbles, notices, open_chat, open_demo, say


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
    expect(page.locator(".confirmation__text")).to_have_text(
        f"We're emailing this chat to {to}. It says here when it's sent.")
    expect(notices(page, "transcript_sent")).to_contain_text(f"We've emailed the transcript of this chat to {to}.")
    expect(ask).to_be_hidden()  # once per conversation
    screenshot(page, "widget-transcript-mail")
    mail = wait_for_mail(sink.folder, to)
    assert "You: hello there" in mail.get_body(("plain",)).get_content()
    assert errors == []


def test_an_agent_sends_the_transcript_from_the_console_to_the_address_the_customer_typed(
        customer_context, agent_context, mail_site, sink):
    typed = address()
    console = agent_context.new_page()  # online first: the widget then offers the queue, not the request form
    console_errors: list = []
    console.on("pageerror", lambda error: console_errors.append(str(error)))
    log_in(console, mail_site, "ann")
    expect(console.get_by_role("button", name="Log out")).to_be_visible()
    page, errors = open_demo(customer_context, mail_site)
    open_chat(page)
    page.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".queue__position")).to_be_visible()
    say(page, f"please write to me at {typed}")
    expect(bubbles(page, "customer").filter(has_text=typed)).to_be_visible()

    console.get_by_role("button", name="Claim chat: Asked for a person").first.click()
    chat = console.locator(".conversation:not([hidden])")
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(typed)
    chat.get_by_role("button", name="Email transcript").click()
    console.get_by_role("dialog", name="Email the transcript to the customer?").get_by_role(
        "button", name="Send transcript").click()
    expect(chat.locator(".transcript-mail-status")).to_have_text(f"Emailing the transcript to {typed}…")
    expect(chat.get_by_role("log", name="Transcript")).to_contain_text(f"We've emailed the transcript of this chat to {typed}.")
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
    page.get_by_role("button", name="Enviarme este chat por correo").click()
    page.get_by_label("Tu correo electrónico").fill(to)
    page.get_by_role("button", name="Enviar transcripción").click()
    expect(notices(page, "transcript_sent")).to_contain_text(f"Hemos enviado la transcripción de este chat a {to}.")
    wait_for_mail(sink.folder, to)
    assert errors == []
