"""A message left in the widget with an email address, answered from the console: the answer reaches the
customer's mailbox (a real SMTP sink), the console's request dialog says where it went, and the widget says it
was emailed too; in chromium against a real bridge, Rasa and Redis."""

from __future__ import annotations

import re
import uuid
from typing import Iterator

import pytest
from playwright.sync_api import expect

from harness.mail import MailSink, mail_settings, received, running_mail_sink, wait_for_mail
from harness.servers import add_agent, running_bridge
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_widget import open_chat, open_demo


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    with running_mail_sink("answer-mail-sink-web") as server:
        yield server


@pytest.fixture(scope="module")
def answer_site(redis_url: str, rasa_url: str, sink: MailSink) -> Iterator[str]:
    prefix = f"hbwebanswer{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    with running_bridge(redis_url, rasa_url, "bridge-web-answer-mail", prefix, **mail_settings(sink)) as address:
        yield f"http://{address}"


def test_the_console_answers_a_message_and_the_customer_gets_it_by_email(
        customer_context, agent_context, answer_site, sink):
    to = f"web{uuid.uuid4().hex[:10]}@example.com"
    page, errors = open_demo(customer_context, answer_site)
    open_chat(page)
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_text("Reply by message", exact=True).click()  # nobody online: the form is open
    expect(page.get_by_label("Reply by message")).to_be_checked()
    page.get_by_label("Phone number or email", exact=True).fill(to)
    page.get_by_role("textbox", name="Your message (optional)").fill("Has my new card been posted?")
    page.get_by_role("button", name="Send request").click()
    status = page.locator(".request-status__text")
    expect(status).to_contain_text("Message sent at")

    console = agent_context.new_page()
    console_errors: list = []
    console.on("pageerror", lambda error: console_errors.append(str(error)))
    log_in(console, answer_site, "ann")
    console.get_by_role("tab", name=re.compile(r"^Requests \d+$")).click()
    request = console.get_by_role("list", name="Callbacks and messages").get_by_role("listitem").filter(has_text=to)
    request.get_by_role("button", name="Open conversation").click()
    dialog = console.get_by_role("dialog", name=re.compile(f"^Message from {re.escape(to)}"))
    expect(dialog).to_contain_text("Has my new card been posted?")
    dialog.get_by_label(re.compile("^Answer")).fill("Yes: it was posted on Monday.")
    dialog.get_by_role("button", name="Send answer").click()
    where = dialog.locator(".request-answer-where")
    expect(where).to_have_text(f"Answered in the chat and by email to {to}.")
    expect(dialog.get_by_role("button", name="Send answer")).to_be_hidden()  # once
    screenshot(console, "console-request-answered-by-email")
    dialog.get_by_role("button", name="Close").click()
    expect(request).to_contain_text("Answered by Ann Lee")
    expect(request).to_contain_text(f"Answered in the chat and by email to {to}.")

    expect(status).to_have_text("We've answered your request: see our reply above. We've also emailed it to you.")
    mail = wait_for_mail(sink.folder, to)
    assert mail["Subject"] == "Your question to Northwind Bank: our answer"
    plain = mail.get_body(("plain",)).get_content()
    assert "Has my new card been posted?" in plain and "Ann Lee answered:" in plain
    assert "Yes: it was posted on Monday." in plain and "ann" not in plain.replace("Ann", "")
    assert len([m for m in received(sink.folder) if m["X-Envelope-To"] == to]) == 1
    assert errors == [] and console_errors == []
