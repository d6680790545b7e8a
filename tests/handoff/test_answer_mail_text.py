"""A request's answer as an email (handoff.answer_mail.answer_mail), sans I/O: the business named, the customer's
words never a link, every text escaped, and the notice for an address whoever left the request typed."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from typing import Tuple

from handoff.answer_mail import answer_mail, answer_subject

SENDER = Address(display_name="Northwind Bank Support", username="support", domain="bank.example")
HEADERS = {"Date": "Mon, 07 Dec 2026 09:00:00 -0000", "Message-ID": "<1@bank.example>"}
QUESTION = "Urgent <b>now</b> & log in at https://evil.example/verify or www.evil.example"


def bodies(typed: bool, question: str = QUESTION,
           answer: str = "Visit https://bank.example/help <i>please</i>") -> Tuple[EmailMessage, str, str]:
    mail = answer_mail(question, "Ann Lee", answer, SENDER, "ann@example.com", HEADERS, business="Northwind Bank",
                       typed=typed)
    return mail, mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def test_a_typed_address_gets_the_notice_first_and_the_question_defanged_and_escaped():
    mail, plain, html = bodies(typed=True)
    assert mail["Subject"] == answer_subject("Northwind Bank") == "Your question to Northwind Bank: our answer"
    assert plain.startswith("This is our answer to a message someone left on the Northwind Bank website")
    assert "never ask you for your password" in plain and 'role="note"' in html
    for body in (plain, html):
        assert "evil.example" not in body and "hxxps://evil[.]example/verify" in body and "www[.]evil[.]example" in body
    assert "<a " not in html and "<b>" not in html and "<i>" not in html  # nothing linked, nothing of theirs as markup
    assert "Urgent &lt;b&gt;now&lt;/b&gt; &amp; log in" in html
    assert "Ann Lee answered:" in plain and "Visit https://bank.example/help <i>please</i>" in plain
    assert "reply in the chat on the Northwind Bank website" in plain


def test_the_signed_in_customers_own_address_gets_no_notice_and_a_bot_booked_request_no_question():
    _, plain, html = bodies(typed=False, question="")
    assert plain.startswith("Your question to Northwind Bank: our answer")
    assert "If that was not you" not in plain and 'role="note"' not in html
    assert "You asked:" not in plain and "You asked:" not in html
