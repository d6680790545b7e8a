"""A message request's answer by email, through real bridge processes and a real SMTP server (harness.mail_sink):
the customer who left an email address gets the agent's answer in their mailbox once, from the agent's display
name, with what they asked (masked as stored) and no ids; a callback or a phone number gets none; the cap per
recipient counts it; without mail set up the answer stays in the chat and the agent is told so."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import redis as redis_sync

from handoff.identity import sign
from handoff.mail_rules import recipient_digest
from handoff_client import Agent, Customer
from harness.clients import queued_customer, staff
from harness.mail import MailSink, mail_settings, received, running_mail_sink, wait_for_mail
from harness.servers import IDENTITY_SECRET, add_agent, running_bridge

CARD = "4111 1111 1111 1111"


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    with running_mail_sink("answer-mail-sink") as server:
        yield server


@pytest.fixture(scope="module")
def answer_bridge(redis_url, rasa_url, bridge_prefix, bridge, sink) -> Iterator[str]:
    """A bridge process that sends through the sink (the ``bridge`` fixture's accounts, its Redis)."""
    settings = mail_settings(sink, HANDOFF_MAIL_PER_ADDRESS_PER_DAY="1000", HANDOFF_MAIL_PER_RECIPIENT_PER_DAY="2",
                             HANDOFF_MAIL_RETRY_SECONDS="1")
    with running_bridge(redis_url, rasa_url, "bridge-answer-mail", bridge_prefix, **settings) as address:
        yield address


def address() -> str:
    return f"r{uuid.uuid4().hex[:10]}@example.com"


async def left(where: str, kind: str, contact: str, description: str, identity: Optional[str] = None) -> Customer:
    """A customer (signed in with ``identity``) who waited, then left a request instead, and went away."""
    if identity is None:
        customer = await queued_customer(where)
    else:
        customer = await Customer.connect(where, identity=identity)
        await customer.send("talk_to_person", id="talk")
        await customer.expect("status", state="queued")
    key = uuid.uuid4().hex
    await customer.send("leave", {"kind": kind, "contact": contact, "description": description}, id=key)
    await customer.acknowledged(key)
    await customer.close()
    return customer


async def request_of(agent: Agent, conversation_id: str, state: str = "open") -> Dict[str, Any]:
    """The conversation's request as the agent's list shows it, once it is in ``state``."""
    while True:
        items = [item for item in (await agent.expect("requests"))["data"]["items"]
                 if item["conversation"] == conversation_id]
        if items and items[0]["state"] == state:
            return items[0]


async def open_requests(agent: Agent, *customers: Customer) -> List[Dict[str, Any]]:
    """The customers' open requests, from the first list of the agent's that has them all."""
    while True:
        items = {item["conversation"]: item for item in (await agent.expect("requests"))["data"]["items"]
                 if item["state"] == "open"}
        if all(customer.conversation_id in items for customer in customers):
            return [items[customer.conversation_id] for customer in customers]


async def answered(agent: Agent, request_id: str, text: str) -> Dict[str, Any]:
    key = uuid.uuid4().hex
    await agent.send("answer_request", {"request_id": request_id, "text": text}, id=key)
    return (await agent.acknowledged(key))["data"]


async def list_until_mail(agent: Agent, conversation_id: str, state: str) -> Dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        item = await request_of(agent, conversation_id, "answered")
        if (item.get("answer_mail") or {}).get("state") == state:
            return item
    raise AssertionError(f"the request's answer mail never became {state}")


def test_the_answer_to_a_message_reaches_the_customers_mailbox_once(answer_bridge, sink):
    to = address()
    found: Dict[str, Any] = {}

    async def scenario() -> Tuple[str, str]:
        customer = await left(answer_bridge, "message", to,
                              f"Is my card <b>{CARD}</b> blocked? & why, see https://evil.example/verify")
        ann = await staff(answer_bridge, "ann")
        request = await request_of(ann, customer.conversation_id)
        found["stored"] = request["description"]
        ack = await answered(ann, request["id"], "No: it works again. <i>Sorry</i> & thanks.")
        assert ack["email"] == {"state": "queued", "to": to}, ack
        again = await answered(ann, request["id"], "No: it works again. <i>Sorry</i> & thanks.")  # a resend
        assert again["message_id"] == ack["message_id"] and again["email"]["to"] == to, again
        assert again["email"]["state"] in ("queued", "sent"), again
        item = await list_until_mail(ann, customer.conversation_id, "sent")
        assert item["answer_mail"]["to"] == to
        back = await Customer.connect(answer_bridge, conversation_id=customer.conversation_id, token=customer.token)
        status = (await back.expect("status"))["data"]
        assert status["request"]["state"] == "answered" and status["request"]["emailed"] is True, status
        await back.close()
        await ann.close()
        return request["id"], customer.conversation_id

    request_id, conversation_id = run(scenario())
    assert CARD not in found["stored"]  # masked when it was left
    mail = wait_for_mail(sink.folder, to)
    assert mail["To"] == to and mail["From"] == "Northwind Bank Support <support@bank.example>"
    assert mail["Subject"] == "Your question to Northwind Bank: our answer"
    assert mail["Message-ID"].endswith("@bank.example>")
    plain, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    # What the customer wrote, as stored, never a link (whoever typed the address may not own it).
    assert found["stored"].replace("https://evil.example", "hxxps://evil[.]example") in plain
    assert "Ann answered:" in plain
    assert plain.startswith("This is our answer to a message someone left on the Northwind Bank website")
    assert "No: it works again. <i>Sorry</i> & thanks." in plain
    assert "No: it works again. &lt;i&gt;Sorry&lt;/i&gt; &amp; thanks." in html and "<i>" not in html
    assert "reply in the chat" in plain and "reply in the chat" in html
    for body in (plain, html):
        assert CARD not in body and request_id not in body and conversation_id not in body
        assert "evil.example" not in body and "hxxps://evil[.]example/verify" in body
        assert "ann" not in body.replace("Ann", "")  # the display name, never the login
    time.sleep(2)  # a second mail would have come by now (the resend, another process)
    assert len([m for m in received(sink.folder) if m["X-Envelope-To"] == to]) == 1


def test_a_signed_in_customers_own_address_gets_the_answer_without_the_typed_address_notice(answer_bridge, sink):
    own = address()
    identity = sign(IDENTITY_SECRET, {"id": f"cust-{uuid.uuid4().hex[:10]}", "name": "Ada Lovelace", "email": own,
                                      "issued_at": int(time.time())})

    async def scenario() -> None:
        customer = await left(answer_bridge, "message", own, "has my card been posted?", identity)
        ann = await staff(answer_bridge, "ann")
        [request] = await open_requests(ann, customer)
        assert (await answered(ann, request["id"], "Yes, on Monday."))["email"] == {"state": "queued", "to": own}
        await ann.close()

    run(scenario())
    plain = wait_for_mail(sink.folder, own).get_body(("plain",)).get_content()
    assert plain.startswith("Your question to Northwind Bank: our answer") and "If that was not you" not in plain
    assert "has my card been posted?" in plain and "Yes, on Monday." in plain


def test_a_callback_or_a_phone_number_is_answered_in_the_chat_only(answer_bridge, sink):
    to = address()

    async def scenario() -> None:
        by_phone = await left(answer_bridge, "message", "07700 900123", "please text me")
        callback = await left(answer_bridge, "callback", to, "call me about " + to)
        ann = await staff(answer_bridge, "ann")
        for request in await open_requests(ann, by_phone, callback):
            ack = await answered(ann, request["id"], "Answered here.")
            assert ack["state"] == "answered" and ack["email"] is None, ack
        assert (await request_of(ann, callback.conversation_id, "answered"))["answer_mail"] is None
        await ann.close()

    run(scenario())
    time.sleep(2)
    assert [m for m in received(sink.folder) if m["X-Envelope-To"] == to] == []


def test_answers_by_email_count_against_the_recipients_daily_cap(answer_bridge, sink):
    to = address()

    async def scenario() -> None:
        customers = [await left(answer_bridge, "message", to, f"question {number}") for number in range(3)]
        ann = await staff(answer_bridge, "ann")
        states = []
        for request in await open_requests(ann, *customers):
            states.append((await answered(ann, request["id"], "Our answer."))["email"])
        assert states[:2] == [{"state": "queued", "to": to}] * 2, states
        assert states[2] == {"state": "not_sent", "to": to, "reason": "mail_limit_recipient"}, states
        item = await list_until_mail(ann, customers[2].conversation_id, "not_sent")
        assert item["answer_mail"] == {"state": "not_sent", "to": to, "error": "mail_limit_recipient"}
        await ann.close()

    run(scenario())
    wait_for_mail(sink.folder, to)
    time.sleep(2)
    assert len([m for m in received(sink.folder) if m["X-Envelope-To"] == to]) == 2


def test_without_mail_set_up_the_answer_stays_in_the_chat_and_the_agent_is_told(bridge):
    async def scenario() -> None:
        customer = await left(bridge, "message", address(), "where is my card?")
        ann = await staff(bridge, "ann")
        request = await request_of(ann, customer.conversation_id)
        ack = await answered(ann, request["id"], "Posted on Monday.")
        assert ack["state"] == "answered" and ack["email"]["state"] == "unavailable", ack
        assert (await request_of(ann, customer.conversation_id, "answered"))["answer_mail"] is None
        back = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        status = (await back.expect("status"))["data"]
        assert "emailed" not in status["request"], status
        assert [m["data"]["text"] for m in back.messages("agent")] == ["Posted on Monday."]
        await back.close()
        await ann.close()

    run(scenario())


def test_forgetting_the_customer_erases_the_answers_mail_and_its_count(answer_bridge, sink, redis_url, bridge_prefix):
    to = address()

    async def scenario() -> str:
        customer = await left(answer_bridge, "message", to, "forget me afterwards")
        ann = await staff(answer_bridge, "ann")
        [request] = await open_requests(ann, customer)
        assert (await answered(ann, request["id"], "Done."))["email"]["state"] == "queued"
        await list_until_mail(ann, customer.conversation_id, "sent")
        sam = await staff(answer_bridge, "sam", "supervisor")
        await sam.send("forget", {"conversation_id": customer.conversation_id}, id="forget")
        forgotten = await sam.next_matching(lambda e: e["id"] == "forget", "the forget's answer")
        assert forgotten["type"] == "forgotten", forgotten
        await sam.close()
        await ann.close()
        return str(request["id"])

    request_id = run(scenario())
    client = redis_sync.Redis.from_url(redis_url)
    try:
        assert client.exists(f"{bridge_prefix}:answer-mail:{request_id}") == 0
        assert list(client.scan_iter(f"{bridge_prefix}:mail-day:recipient:{recipient_digest(to)}:*")) == []
    finally:
        client.close()


def test_a_busy_mail_server_gets_the_answer_again_until_it_takes_it(redis_url, rasa_url):
    to = address()
    prefix = f"hbanswerbusy{uuid.uuid4().hex[:6]}"  # its own outbox: no other test's mailer takes the answer
    add_agent(redis_url, prefix, "ann")
    with running_mail_sink("answer-mail-sink-busy", fail_first=1) as busy:
        settings = mail_settings(busy, HANDOFF_MAIL_RETRY_SECONDS="1")
        with running_bridge(redis_url, rasa_url, "bridge-answer-mail-busy", prefix, **settings) as where:
            async def scenario() -> Dict[str, Any]:
                customer = await left(where, "message", to, "is the server busy?")
                ann = await staff(where, "ann")
                [request] = await open_requests(ann, customer)
                assert (await answered(ann, request["id"], "It was."))["email"]["state"] == "queued"
                item = await list_until_mail(ann, customer.conversation_id, "sent")
                await ann.close()
                return item

            item = run(scenario())
            client = redis_sync.Redis.from_url(redis_url)
            try:  # refused once (451), sent at the second attempt
                assert client.hget(f"{prefix}:answer-mail:{item['id']}", "attempts") == b"2"
            finally:
                client.close()
            mail = wait_for_mail(busy.folder, to)
            assert "It was." in mail.get_body(("plain",)).get_content()
            assert len([m for m in received(busy.folder) if m["X-Envelope-To"] == to]) == 1
