"""Transcripts by email keep what must stay private (issue 17), through a real bridge, Redis and SMTP server
(harness.mail_sink): a card number never reaches a recipient, the outbox, a notice or Redis by way of an
"address", the mail holds the masked text only, and an anonymous customer's mail names no id and links
nowhere it should not; and it is no phishing tool (an anonymous visitor's text is no link, a typed address's
reader is warned, the mail names the business)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import redis as redis_sync

from handoff_client import Customer, Transport
from harness.clients import claimed
from harness.mail import MailSink, mail_settings, received, running_mail_sink, wait_for_mail
from harness.servers import add_agent, running_bridge

CARD = "4111111111111111"
GROUPED = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    with running_mail_sink("mail-sink-privacy") as server:
        yield server


@pytest.fixture(scope="module")
def site(redis_url: str, rasa_url: str, sink: MailSink) -> Iterator[Dict[str, str]]:
    prefix = f"hbprivmail{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    with running_bridge(redis_url, rasa_url, "bridge-privacy-mail", prefix, **mail_settings(sink)) as address:
        yield {"address": address, "prefix": prefix}


async def answer(client: Transport, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] in ("ack", "error"), f"the answer to {kind}")


def everything_in(redis_url: str, prefix: str) -> str:
    """Every key of the bridge's and what it holds, as one text."""
    client = redis_sync.Redis.from_url(redis_url)
    readers = {"string": client.get, "hash": client.hgetall, "set": client.smembers, "stream": client.xrange,
               "list": lambda key: client.lrange(key, 0, -1), "zset": lambda key: client.zrange(key, 0, -1)}
    try:
        found: List[str] = []
        for raw in client.scan_iter(f"{prefix}:*", count=1000):
            kind = client.type(raw).decode()
            found.append(raw.decode("utf-8", "replace") + repr(readers[kind](raw)) if kind in readers else "")
        return "\n".join(found)
    finally:
        client.close()


def test_a_card_number_as_an_address_reaches_nobody_and_nothing_keeps_it(site, sink, redis_url):
    good = f"priv{uuid.uuid4().hex[:10]}@example.com"

    async def scenario() -> List[str]:
        customer = await Customer.connect(site["address"])
        await customer.acknowledged(await customer.say(f"my card is {GROUPED}, mail me at {CARD}@example.com"))
        codes = []
        for to in (f"{CARD}@example.com", f"{GROUPED.replace(' ', '.')}@example.com", f"me-{CARD}@example.com"):
            codes.append((await answer(customer, "email_transcript", {"to": to}))["data"]["code"])
        queued = await answer(customer, "email_transcript", {"to": good})
        assert queued["type"] == "ack", queued
        await customer.close()
        return codes

    assert asyncio.run(scenario()) == ["card_in_address"] * 3
    mail = wait_for_mail(sink.folder, good)
    stored = everything_in(redis_url, site["prefix"])
    for body in (mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content(), stored):
        assert CARD not in body and GROUPED not in body and "4111.1111" not in body
    assert "[card number]" in mail.get_body(("plain",)).get_content()
    assert not [m for m in received(sink.folder) if "4111" in m["X-Envelope-To"]]


def test_an_anonymous_customers_mail_names_no_id_and_links_only_what_the_widget_links(site, sink):
    to = f"anon{uuid.uuid4().hex[:10]}@example.com"

    async def scenario() -> str:
        customer, ann = await claimed(site["address"], "ann")
        conversation_id = customer.conversation_id
        await customer.acknowledged(await customer.say("hello, is https://help.northwind-bank.example/cards right?"))
        await ann.acknowledged(await ann.say("Yes: see https://help.northwind-bank.example/cards. "
                                             "Not https://help.northwind-bank.example@evil.example/ though.",
                                             conversation_id))
        await ann.acknowledged(await ann.note("PRIVATE: anonymous visitor", conversation_id))
        await ann.acknowledged(await ann.close_conversation(conversation_id))  # its rating prompt is live-only
        queued = await answer(customer, "email_transcript", {"to": to})
        assert queued["type"] == "ack", queued
        await customer.close()
        await ann.close()
        return conversation_id

    conversation_id = asyncio.run(scenario())
    mail = wait_for_mail(sink.folder, to)
    plain, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    for body in (plain, html):
        assert conversation_id not in body and "PRIVATE" not in body and "ann:" not in body.replace("Ann", "")
        assert "rate this chat" not in body and "Virtual assistant: \n" not in body
    assert set(re.findall(r'href="([^"]*)"', html)) == {"https://help.northwind-bank.example/cards"}
    assert "Times are " in plain and "Ann Lee: Yes" in plain


def test_an_anonymous_visitors_phishing_text_mailed_to_someone_else_links_nowhere_and_is_marked_theirs(site, sink):
    """The attack of the trial: a visitor writes as the bank's "security team" with a link to a look-alike site,
    then has the transcript mailed to a victim's address."""
    victim = f"victim.person{uuid.uuid4().hex[:6]}@example.org"
    phish = ("URGENT from Northwind Bank security team: your account is locked. Verify your card details at "
             "https://northwind-bank-secure.example/verify or www.northwind-bank-secure.example today")

    async def scenario() -> None:
        customer = await Customer.connect(site["address"])
        await customer.acknowledged(await customer.say(phish))
        queued = await answer(customer, "email_transcript", {"to": victim})
        assert queued["type"] == "ack", queued
        await customer.close()

    asyncio.run(scenario())
    mail = wait_for_mail(sink.folder, victim)
    assert mail["From"] == "Northwind Bank Support <support@bank.example>"
    assert mail["Subject"] == "Your chat with Northwind Bank"
    plain, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    for body in (plain, html):
        assert "northwind-bank-secure.example" not in body and "https://northwind" not in body
        assert "hxxps://northwind-bank-secure[.]example/verify" in body and "www[.]northwind-bank-secure[.]example" in body
        assert body.index("If that was not you, please ignore this email") < body.index("URGENT")
        assert "Northwind Bank will never ask you for your password, PIN, card details or security codes by email." \
            in body
    assert not [link for link in re.findall(r'href="([^"]*)"', html) if "secure" in link]  # the bot's keep theirs
    assert re.search(r"\d\d:\d\d Visitor: URGENT from Northwind Bank security team", plain)
    assert "<strong>Visitor</strong>" in html and "You:" not in plain
