"""Who may be sent a transcript (handoff.mail_rules) and what the mail holds (handoff.mail_text), in-process."""

from __future__ import annotations

import re
from email.headerregistry import Address

import pytest

from handoff.exceptions import MailRefused
from handoff.mail_rules import addresses_in, card_in, checked_address, mailbox_of, recipient_digest, recipient_for, verified
from handoff.mail_settings import business_of, from_name_of, sender_of
from handoff.mail_text import defanged, lines_of, transcript_mail
from handoff.settings import Settings

INJECTIONS = [
    "ann@example.com\r\nBcc: everyone@example.com", "ann@example.com\nBcc: x@example.com",
    "ann@example.com, eve@example.com", "Ann <ann@example.com>", '"a b"@example.com', "ann@example.com ",
    "ann@localhost", "ann@[127.0.0.1]", "ann@example", "@example.com", "ann@", "ann@@example.com",
    "ann@exa mple.com", "ann@-example.com", "änn@example.com", "ann@example.com\x00", "a" * 65 + "@example.com",
    "ann@" + "a" * 250 + ".com", "", None, 42, ["ann@example.com"], {"to": "ann@example.com"},
]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_anything_but_one_plain_address_is_refused(bad):
    with pytest.raises(MailRefused) as refused:
        checked_address(bad)
    assert refused.value.code == "invalid_address"


def test_plain_addresses_pass_with_their_domain_in_lower_case():
    assert checked_address("Ann.Lee+chat@Example.CO.uk") == "Ann.Lee+chat@example.co.uk"
    assert checked_address("o'brien@mail.example.com") == "o'brien@mail.example.com"


def test_addresses_are_found_in_running_text_once_each():
    texts = ["my email is ann@example.com.", "or (ann@example.com), or work: ann.lee@bank-work.example.org!",
             "not an address: ann@example, nor @example.com, nor me@localhost"]
    assert addresses_in(texts) == ["ann@example.com", "ann.lee@bank-work.example.org"]


def test_a_customer_names_any_valid_address_an_agent_only_the_contacts_or_one_typed():
    typed = ["typed@example.com"]
    assert recipient_for("new@example.com", True, "", []) == "new@example.com"
    assert recipient_for("TYPED@example.com", False, "", typed) == "TYPED@example.com"
    assert recipient_for("me@example.com", False, "me@example.com", []) == "me@example.com"
    with pytest.raises(MailRefused) as refused:
        recipient_for("stranger@example.com", False, "me@example.com", typed)
    assert refused.value.code == "address_not_allowed"
    with pytest.raises(MailRefused) as refused:
        recipient_for("stranger@example.com\r\nBcc: x@example.com", False, "", typed)
    assert refused.value.code == "invalid_address"


def test_without_an_address_only_the_contacts_goes_never_a_typed_one():
    assert recipient_for(None, False, "me@example.com", ["typed@example.com"]) == "me@example.com"
    assert recipient_for(None, True, "me@example.com", []) == "me@example.com"
    for typed in ([], ["old@example.com", "new@example.com"]):  # a typed one (anyone's?) only when named
        with pytest.raises(MailRefused) as refused:
            recipient_for(None, False, "", typed)
        assert refused.value.code == "no_address"
    assert verified("ME@Example.com", "me@example.com") and not verified("me@example.com", "")
    assert not verified("typed@example.com", "me@example.com")


CARDS = ["4111111111111111@example.com", "4111.1111.1111.1111@example.com", "4111-1111-1111-1111@example.com",
         "me4111111111111111@example.com", "card_4111111111111111_x@example.com", "378282246310005@example.com",
         "6011000990139424@mail.example.org", "ann.4111_1111_1111_1111@example.com", "4111+1111+1111+1111@example.com"]


@pytest.mark.parametrize("address", CARDS)
def test_an_address_with_a_card_number_before_the_at_is_refused_with_its_own_code(address):
    with pytest.raises(MailRefused) as refused:
        checked_address(address)
    assert refused.value.code == "card_in_address"
    assert "4111" not in str(refused.value) and address not in str(refused.value)
    assert addresses_in([f"mail me at {address} please"]) == []  # never a typed address either


def test_numbers_that_are_no_card_stay_in_an_address():
    for fine in ("4111111111111112@example.com", "ann1985@example.com", "07700900123@example.com",
                 "123456789012@example.com", "ann@4111111111111111.example.com", "41111111111111111111@example.com"):
        assert checked_address(fine) == fine
        assert not card_in(fine.split("@")[0])


def test_the_sender_setting_is_one_line_with_a_valid_address():
    assert sender_of("Bank Support <help@bank.example>") == ("Bank Support", "help@bank.example")
    for bad in ("help@bank.example\r\nBcc: x@example.com", "Support", ""):
        with pytest.raises(ValueError):
            sender_of(bad)


MESSAGES = [
    {"id": "1-0", "kind": "customer", "text": "<b>my card</b> & PIN", "data": {}, "ts": 1_760_000_000_000},
    {"id": "2-0", "kind": "bot", "text": "Let me check.", "data": {"custom": {"handoff": {"reason": "x"}}},
     "ts": 1_760_000_001_000},
    {"id": "3-0", "kind": "system", "text": "Ann joined the chat.", "data": {"notice": "agent_joined"},
     "ts": 1_760_000_002_000},
    {"id": "4-0", "kind": "note", "text": "PRIVATE note about fraud", "data": {"agent": "ann"}, "ts": 1_760_000_003_000},
    {"id": "5-0", "kind": "agent", "text": "Here is the form", "ts": 1_760_000_004_000,
     "data": {"agent": "ann_login", "shown_as": "Ann L.", "attachment": {"id": "f1", "name": "form<1>.pdf"}}},
]


def test_the_mail_holds_what_the_customer_saw_escaped_without_notes_logins_or_ids():
    mail = transcript_mail(MESSAGES, Address("Bank Support", "help", "bank.example"), "ann@example.com",
                           "Europe/London", {"Message-ID": "<x@bank.example>"}, business="Northwind Bank",
                           typed=False)
    assert mail["To"] == "ann@example.com" and mail["From"] == "Bank Support <help@bank.example>"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for body in (plain, html):
        assert "PRIVATE" not in body and "ann_login" not in body and "1-0" not in body and "handoff" not in body
        assert "f1" not in body.replace("form", "")
    assert "You: <b>my card</b> & PIN" in plain and "Ann L.: Here is the form [file: form<1>.pdf]" in plain
    assert "09:53" in plain  # 1_760_000_000 s in London's summer time
    assert "Times are Europe/London time." in plain and "Times are Europe/London time." in html
    assert "&lt;b&gt;my card&lt;/b&gt; &amp; PIN" in html and "<b>my card" not in html
    assert "form&lt;1&gt;.pdf" in html and "<strong>Ann L.</strong>" in html
    assert not mail.get_payload()[0].get_filename() and len(mail.get_payload()) == 2  # nothing attached


BASE = {"HANDOFF_SECRET": "s" * 32}
SMTP = {**BASE, "HANDOFF_SMTP_HOST": "smtp.example.com", "HANDOFF_MAIL_FROM": "Support <help@bank.example>"}


def test_smtp_settings_that_could_not_send_or_would_leak_a_password_stop_the_bridge():
    assert not Settings.from_env(BASE).mail_enabled
    settings = Settings.from_env(SMTP)
    assert settings.mail_enabled and (settings.smtp_port, settings.smtp_security) == (587, "starttls")
    assert settings.mail_unverified_per_day == 200
    assert Settings.from_env({**SMTP, "HANDOFF_MAIL_UNVERIFIED_PER_DAY": "0"}).mail_unverified_per_day == 0
    assert Settings.from_env({**SMTP, "HANDOFF_SMTP_HOST": "127.0.0.1", "HANDOFF_SMTP_SECURITY": "none"}).mail_enabled
    for wrong in ({"HANDOFF_SMTP_SECURITY": "none"}, {"HANDOFF_SMTP_SECURITY": "ssl"}, {"HANDOFF_SMTP_USER": "me"},
                  {"HANDOFF_MAIL_FROM": ""}, {"HANDOFF_MAIL_FROM": "help@bank.example\r\nBcc: x@example.com"},
                  {"HANDOFF_SMTP_PORT": "0"}, {"HANDOFF_MAIL_ATTEMPTS": "0"}, {"HANDOFF_MAIL_RETRY_SECONDS": "nan"},
                  {"HANDOFF_MAIL_UNVERIFIED_PER_DAY": "-1"}, {"HANDOFF_MAIL_UNVERIFIED_PER_DAY": "many"}):
        with pytest.raises(ValueError):
            Settings.from_env({**SMTP, **wrong})


def test_a_mail_has_no_empty_bot_row_no_rating_prompt_and_says_its_times_zone():
    messages = [
        {"id": "1-0", "kind": "customer", "text": "thanks", "data": {}, "ts": 1_760_000_000_000},
        {"id": "2-0", "kind": "bot", "text": "", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]},
         "ts": 1_760_000_001_000},
        {"id": "3-0", "kind": "bot", "text": "  ", "data": {"image": "https://bank.example/a.png"}, "ts": 1_760_000_001_500},
        {"id": "4-0", "kind": "system", "text": "Ann has closed this chat.", "data": {"notice": "closed"},
         "ts": 1_760_000_002_000},
        {"id": "5-0", "kind": "system", "text": "How did we do? Please rate this chat from 1 to 5.",
         "data": {"notice": "rate"}, "ts": 1_760_000_003_000},
    ]
    assert [line.text for line in lines_of(messages)] == ["thanks", "Ann has closed this chat."]
    mail = transcript_mail(messages, Address("Bank Support", "help", "bank.example"), "ann@example.com", "UTC", {},
                           business="Northwind Bank", typed=False)
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Virtual assistant" not in plain and "Virtual assistant" not in html
    assert "rate this chat" not in plain and "rate this chat" not in html
    assert "Times are in UTC." in plain and "08:53 You: thanks" in plain
    assert lines_of(messages[1:3]) == [] and lines_of([]) == []


def test_the_only_links_are_the_web_addresses_the_widget_links_too():
    messages = [
        {"id": "1-0", "kind": "bot", "text": "See https://help.bank.example/cards. Or {help_url}/pets, /files/x, "
         "javascript:alert(1), https://help.bank.example@evil.example/ and www.bank.example", "data": {},
         "ts": 1_760_000_000_000},
        {"id": "2-0", "kind": "agent", "text": "here", "ts": 1_760_000_001_000,
         "data": {"shown_as": "Ann", "attachment": {"id": "f1", "name": "form.pdf"}}},
    ]
    mail = transcript_mail(messages, Address("Bank Support", "help", "bank.example"), "visitor@example.com", "UTC", {},
                           business="Northwind Bank", typed=True)
    html = mail.get_body(("html",)).get_content()
    assert re.findall(r'href="([^"]*)"', html) == ["https://help.bank.example/cards"]
    assert "[file: form.pdf]" in html and "f1" not in html


def test_variants_of_one_mailbox_share_its_days_cap():
    for variant in ("Ann@Example.com", "ann+1@example.com", "ANN+chat+x@EXAMPLE.COM"):
        assert mailbox_of(variant) == "ann@example.com"
        assert recipient_digest(variant) == recipient_digest("ann@example.com")
    assert mailbox_of("a.n.n+x@googlemail.com") == "ann@gmail.com" == mailbox_of("Ann@gmail.com")
    assert mailbox_of("a.nn@example.com") == "a.nn@example.com"  # dots matter elsewhere
    assert mailbox_of("+x@example.com") == "+x@example.com"
    assert recipient_digest("bob@example.com") != recipient_digest("ann@example.com")
    assert "ann" not in recipient_digest("ann@example.com")


PHISH = ("URGENT from Northwind Bank security team: your account is locked. Verify your card at "
         "https://northwind-bank-secure.example/verify or www.northwind-verify.example, "
         "mail security@northwind-help.example")
ATTACK = [
    {"id": "1-0", "kind": "customer", "text": PHISH, "data": {}, "ts": 1_760_000_000_000},
    {"id": "2-0", "kind": "customer", "text": "see the form", "ts": 1_760_000_000_500,
     "data": {"attachment": {"id": "f1", "name": "https://evil.example/form.pdf"}}},
    {"id": "3-0", "kind": "bot", "text": "Our help pages: https://help.bank.example/cards", "data": {},
     "ts": 1_760_000_001_000},
    {"id": "4-0", "kind": "agent", "text": "See https://bank.example/security", "data": {"shown_as": "Ann"},
     "ts": 1_760_000_002_000},
]


@pytest.mark.parametrize("text, shown", [
    ("https://northwind-bank-secure.example/verify", "hxxps://northwind-bank-secure[.]example/verify"),
    ("HTTP://EVIL.EXAMPLE/x", "HXXP://EVIL[.]EXAMPLE/x"),
    ("go to www.evil.example/x now", "go to www[.]evil[.]example/x now"),
    ("evil.example/verify", "evil[.]example/verify"),
    ("write to help@evil.example", "write to help@evil[.]example"),
    ("http://192.168.1.1/login", "hxxp://192[.]168[.]1[.]1/login"),
    ("ftp://files.evil.example", "ftp[:]//files[.]evil[.]example"),
    ("evil\u3002example and evil\uff0eexample", "evil[.]example and evil[.]example"),
    ("bänk-secure.example", "bänk-secure[.]example"),
    ("my card costs 3.50, e.g. the fee", "my card costs 3.50, e.g. the fee"),
])
def test_what_a_mail_client_would_link_is_defanged(text, shown):
    assert defanged(text) == shown


def test_the_customers_text_is_never_a_link_the_bot_and_agents_keep_theirs():
    for typed in (True, False):
        mail = transcript_mail(ATTACK, Address("Northwind Bank Support", "support", "bank.example"),
                               "victim.person@example.org", "UTC", {}, business="Northwind Bank", typed=typed)
        plain = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert re.findall(r'href="([^"]*)"', html) == ["https://help.bank.example/cards", "https://bank.example/security"]
        for body in (plain, html):
            assert "northwind-bank-secure.example" not in body and "northwind-verify.example" not in body
            assert "hxxps://northwind-bank-secure[.]example/verify" in body and "www[.]northwind-verify[.]example" in body
            assert "security@northwind-help[.]example" in body and "[file: hxxps://evil[.]example/form[.]pdf]" in body
            assert "https://evil.example" not in body
        assert "Virtual assistant: Our help pages: https://help.bank.example/cards" in plain
        assert "Ann: See https://bank.example/security" in plain


def test_a_mail_to_a_typed_address_warns_its_reader_and_marks_the_visitors_lines():
    mail = transcript_mail(ATTACK, Address("Northwind Bank Support", "support", "bank.example"),
                           "victim.person@example.org", "UTC", {}, business="Northwind Bank", typed=True)
    assert mail["Subject"] == "Your chat with Northwind Bank"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert plain.startswith("This transcript was asked for by someone chatting on the Northwind Bank website, who "
                            "typed this email address. If that was not you, please ignore this email")
    assert "Northwind Bank will never ask you for your password, PIN, card details or security codes by email." in plain
    assert plain.index("never ask you for your password") < plain.index("URGENT")
    assert "08:53 Visitor: URGENT from Northwind Bank" in plain and "You:" not in plain
    assert 'Lines marked "Visitor" were written by the person chatting, not by Northwind Bank' in plain
    assert html.index("If that was not you, please ignore this email") < html.index("URGENT")
    assert "<strong>Visitor</strong>" in html and "<h1" in html and "Your chat with Northwind Bank, " in html


def test_a_mail_to_the_signed_in_customers_own_address_has_no_warning_and_says_you():
    mail = transcript_mail(ATTACK, Address("Northwind Bank Support", "support", "bank.example"),
                           "ann@example.com", "UTC", {}, business="Northwind Bank", typed=False)
    plain = mail.get_body(("plain",)).get_content()
    assert plain.startswith("Your chat with Northwind Bank, 09 October 2025\nTimes are in UTC.")
    assert "08:53 You: URGENT" in plain and "Visitor" not in plain and "ignore this email" not in plain


def test_the_business_names_the_mail_and_leads_its_from_name():
    assert business_of("Northwind Bank", "Support <support@bank.example>") == "Northwind Bank"
    assert business_of("", "Support <support@bank.example>") == "bank.example"  # the default: the sender's domain
    assert from_name_of("Northwind Bank", "Support <support@bank.example>") == "Northwind Bank Support"
    assert from_name_of("Northwind Bank", "Northwind bank help <help@bank.example>") == "Northwind bank help"
    assert from_name_of("Northwind Bank", "help@bank.example") == "Northwind Bank"
    assert from_name_of("", "Support <support@bank.example>") == "bank.example Support"
    assert business_of("Smith & Sons' Bank Ltd.", "help@bank.example") == "Smith & Sons' Bank Ltd."
    for bad in ("Bank\r\nBcc: x@example.com", "Bank <evil@example.com>", "a" * 61, "https://evil.example",
                "Bank\u202eknaB", "Bank\u200b", 'The "Bank"', "Bank\tTwo"):
        with pytest.raises(ValueError):
            business_of(bad, "help@bank.example")
    settings = Settings.from_env({**SMTP, "HANDOFF_BUSINESS_NAME": "  Northwind Bank "})
    assert settings.business_name == "Northwind Bank"
    with pytest.raises(ValueError, match="HANDOFF_BUSINESS_NAME"):
        Settings.from_env({**SMTP, "HANDOFF_BUSINESS_NAME": "Bank <evil@example.com>"})
