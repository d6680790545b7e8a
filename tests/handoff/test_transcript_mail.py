"""Transcripts by email through real bridge processes and a real SMTP server (harness.mail_sink): what the
customer and the agent ask, what arrives, once per conversation across processes, and every refusal."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import redis as redis_sync
import websockets

from handoff.identity import sign
from handoff_client import Agent, Customer, Transport
from harness.clients import claimed, staff
from harness.mail import MailSink, mail_settings, received, running_mail_sink, wait_for_mail
from harness.servers import IDENTITY_SECRET, add_agent, running_bridge, started, started_bridge


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def sink() -> Iterator[MailSink]:
    with running_mail_sink() as server:
        yield server


MAIL = {"HANDOFF_MAIL_PER_ADDRESS_PER_DAY": "1000", "HANDOFF_MAIL_PER_RECIPIENT_PER_DAY": "2",
        "HANDOFF_MAIL_RETRY_SECONDS": "1"}


@pytest.fixture(scope="module")
def mail_bridge(redis_url, rasa_url, bridge_prefix, bridge, sink) -> Iterator[str]:
    """A bridge process that sends through the sink (the ``bridge`` fixture's accounts, its Redis)."""
    with running_bridge(redis_url, rasa_url, "bridge-mail-a", bridge_prefix, **mail_settings(sink, **MAIL)) as address:
        yield address


@pytest.fixture(scope="module")
def second_mail_bridge(redis_url, rasa_url, bridge_prefix, mail_bridge, sink) -> Iterator[str]:
    with running_bridge(redis_url, rasa_url, "bridge-mail-b", bridge_prefix, **mail_settings(sink, **MAIL)) as address:
        yield address


def address() -> str:
    return f"c{uuid.uuid4().hex[:10]}@example.com"


async def answer(client: Transport, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """The ack or error that answers this request."""
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] in ("ack", "error", "mail_addresses"), f"the answer to {kind}")


async def talking(where: str, text: str = "hello") -> Customer:
    """A customer who has written (a transcript with nothing in it is refused: nothing_to_send)."""
    customer = await Customer.connect(where)
    await customer.acknowledged(await customer.say(text))
    return customer


async def welcome(where: str) -> Dict[str, Any]:
    """The welcome's data, as the widget reads it (the client keeps only the conversation and token)."""
    async with websockets.connect(f"ws://{where}/ws/customer") as ws:
        await ws.send(json.dumps({"type": "hello", "id": "h", "data": {}}))
        while True:
            envelope = json.loads(await ws.recv())
            if envelope["type"] == "welcome":
                return envelope["data"]


async def notice(client: Transport, kind: str) -> Dict[str, Any]:
    return await client.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "system"
                                      and e["data"]["data"].get("notice") == kind, f"the {kind} notice", 30)


def test_without_smtp_settings_the_feature_is_off_and_refused_with_a_clear_code(bridge):
    async def scenario() -> None:
        assert (await welcome(bridge))["transcript_mail"] is False
        customer = await Customer.connect(bridge)
        refused = await answer(customer, "email_transcript", {"to": address()})
        assert refused["data"]["code"] == "mail_unavailable", refused
        await customer.close()
        customer, ann = await claimed(bridge, "ann")
        opened = await ann.expect("conversation", conversation_id=customer.conversation_id)
        assert opened["data"]["transcript_mail"] is False
        refused = await answer(ann, "email_transcript", {"conversation_id": customer.conversation_id})
        assert refused["data"]["code"] == "mail_unavailable", refused
        await ann.acknowledged(await ann.close_conversation(customer.conversation_id))  # ann's slots are shared
        await customer.close()
        await ann.close()

    run(scenario())


def test_the_customer_asks_and_gets_the_transcript_once_without_notes_or_logins(mail_bridge, sink):
    to = address()

    async def scenario() -> None:
        customer, ann = await claimed(mail_bridge, "ann")
        conversation_id = customer.conversation_id
        assert (await welcome(mail_bridge))["transcript_mail"] is True
        opened = await ann.expect("conversation", conversation_id=conversation_id)
        assert opened["data"]["transcript_mail"] is True
        await customer.acknowledged(await customer.say("My card <b>never</b> arrived & I'm worried"))
        await ann.acknowledged(await ann.say("I'll order a new one today.", conversation_id))
        await ann.acknowledged(await ann.note("PRIVATE: check fraud flags", conversation_id))
        queued = await answer(customer, "email_transcript", {"to": to})
        assert queued["type"] == "ack" and queued["data"] == {"state": "queued", "to": to}, queued
        sent = await notice(customer, "transcript_sent")
        assert to in sent["data"]["text"]
        await notice(ann, "transcript_sent")  # the agent sees it too
        again = await answer(customer, "email_transcript", {"to": address()})
        assert again["data"]["code"] == "already_sent", again
        by_agent = await answer(ann, "email_transcript", {"conversation_id": conversation_id})
        assert by_agent["data"]["code"] == "already_sent", by_agent
        await ann.acknowledged(await ann.close_conversation(conversation_id))
        await customer.close()
        await ann.close()

    run(scenario())
    mail = wait_for_mail(sink.folder, to)
    assert mail["To"] == to and mail["From"] == "Northwind Bank Support <support@bank.example>"
    assert mail["Subject"] == "Your chat with Northwind Bank" and mail["Message-ID"].endswith("@bank.example>")
    plain, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    assert plain.startswith("This transcript was asked for by someone chatting on the Northwind Bank website")
    assert "Visitor: My card <b>never</b> arrived & I'm worried" in plain  # a typed address: maybe not theirs
    assert "Ann: I'll order a new one today." in plain  # the display name the bridge's accounts have
    assert "My card &lt;b&gt;never&lt;/b&gt; arrived &amp; I&#x27;m worried" in html
    for body in (plain, html):
        assert "PRIVATE" not in body and "ann:" not in body.replace("Ann:", "")
    assert [m["Message-ID"] for m in received(sink.folder) if m["X-Envelope-To"] == to] == [mail["Message-ID"]]


def test_an_agent_sends_only_to_the_customers_own_or_typed_address(mail_bridge, sink, redis_url, bridge_prefix):
    typed, contact = address(), address()

    async def scenario() -> List[str]:
        customer, ann = await claimed(mail_bridge, "ann")
        conversation_id = customer.conversation_id
        nothing = await answer(ann, "email_transcript", {"conversation_id": conversation_id})
        assert nothing["data"]["code"] == "no_address", nothing
        await customer.acknowledged(await customer.say(f"you can write to me at {typed}, thanks"))
        codes = []
        for to in (address(), f"{typed}\r\nBcc: {address()}", f"{typed}, {address()}", f"Eve <{typed}>", 7):
            codes.append((await answer(ann, "email_transcript", {"conversation_id": conversation_id, "to": to}))["data"]["code"])
        bob = await staff(mail_bridge, "bob")  # neither serving nor mentioned
        codes.append((await answer(bob, "email_transcript", {"conversation_id": conversation_id, "to": typed}))["data"]["code"])
        # The identified customer's address (handoff identity writes it from a verified signature) goes first.
        client = redis_sync.Redis.from_url(redis_url)
        client.hset(f"{bridge_prefix}:conv:{conversation_id}", "contact_email", contact)
        client.close()
        queued = await answer(ann, "email_transcript", {"conversation_id": conversation_id})
        assert queued["type"] == "ack" and queued["data"]["to"] == contact, queued
        await notice(ann, "transcript_sent")
        await ann.acknowledged(await ann.close_conversation(conversation_id))
        for client_ in (customer, ann, bob):
            await client_.close()
        return codes

    assert run(scenario()) == ["address_not_allowed", "invalid_address", "invalid_address", "invalid_address",
                               "invalid_address", "forbidden"]
    assert wait_for_mail(sink.folder, contact)["To"] == contact
    assert not [m for m in received(sink.folder) if m["X-Envelope-To"] == typed]


def signed(email: str) -> str:
    """A site's signed identity for a new contact with this (verified) address (docs/identity.md)."""
    return sign(IDENTITY_SECRET, {"id": f"cust-{uuid.uuid4().hex[:10]}", "name": "Ada Lovelace", "email": email,
                                  "issued_at": int(time.time())})


async def signed_and_claimed(where: str, identity: str, agent: str = "ann") -> Tuple[Customer, Agent]:
    """A signed-in customer in the queue, claimed by ``agent``."""
    customer = await Customer.connect(where, identity=identity)
    await customer.send("talk_to_person", id="talk")
    await customer.expect("status", state="queued")
    serving = await staff(where, agent)
    await serving.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
    await serving.expect("ack", conversation_id=customer.conversation_id)
    return customer, serving


def keys_of(redis_url: str, pattern: str) -> List[str]:
    client = redis_sync.Redis.from_url(redis_url)
    try:
        return [key.decode() for key in client.scan_iter(pattern)]
    finally:
        client.close()


def test_an_address_with_a_card_number_and_a_transcript_with_nothing_in_it_are_refused_and_nothing_is_kept(
        mail_bridge, sink, redis_url, bridge_prefix):
    card = "4111111111111111@example.com"

    async def scenario() -> Tuple[List[str], str]:
        customer = await Customer.connect(mail_bridge)
        codes = [(await answer(customer, "email_transcript", {"to": address()}))["data"]["code"]]  # nothing yet
        await customer.acknowledged(await customer.say("hello"))
        for to in (card, "4111-1111-1111-1111@example.com", "ann.4111.1111.1111.1111@example.com"):
            refused = await answer(customer, "email_transcript", {"to": to})
            assert "4111" not in refused["data"]["message"], refused
            codes.append(refused["data"]["code"])
        await customer.close()
        return codes, customer.conversation_id

    codes, conversation_id = run(scenario())
    assert codes == ["nothing_to_send", "card_in_address", "card_in_address", "card_in_address"]
    assert keys_of(redis_url, f"{bridge_prefix}:mail:{conversation_id}") == []  # nothing taken, nothing queued
    time.sleep(0.5)
    assert not [m for m in received(sink.folder) if "4111" in m["X-Envelope-To"]]


def test_an_agent_picks_a_typed_address_explicitly_and_a_signed_customers_own_comes_first(
        mail_bridge, sink, redis_url, bridge_prefix):
    typed, own = address(), address()

    async def scenario() -> None:
        customer, ann = await claimed(mail_bridge, "ann")
        conversation_id = customer.conversation_id
        await customer.acknowledged(await customer.say(f"send it to {typed} or to 4111111111111111@example.com"))
        found = await answer(ann, "mail_addresses", {"conversation_id": conversation_id})
        assert found["type"] == "mail_addresses", found
        assert found["data"] == {"conversation_id": conversation_id, "verified": None, "typed": [typed]}
        # No default to a typed address (it could be anyone's): the agent must name it.
        nothing = await answer(ann, "email_transcript", {"conversation_id": conversation_id})
        assert nothing["data"]["code"] == "no_address", nothing
        bob = await staff(mail_bridge, "bob")  # neither serving nor mentioned
        refused = await answer(bob, "mail_addresses", {"conversation_id": conversation_id})
        assert refused["data"]["code"] == "forbidden", refused
        queued = await answer(ann, "email_transcript", {"conversation_id": conversation_id, "to": typed})
        assert queued["type"] == "ack" and queued["data"]["to"] == typed, queued
        await notice(ann, "transcript_sent")
        await ann.acknowledged(await ann.close_conversation(conversation_id))
        for client_ in (customer, bob):
            await client_.close()

        # A signed-in customer: their verified address in the welcome, and first in the picker.
        await ann.close()
        signed_customer, ann = await signed_and_claimed(mail_bridge, signed(own))
        conversation_id = signed_customer.conversation_id
        await signed_customer.acknowledged(await signed_customer.say(f"or {typed}"))
        found = await answer(ann, "mail_addresses", {"conversation_id": conversation_id})
        assert found["data"] == {"conversation_id": conversation_id, "verified": own, "typed": [typed]}, found
        queued = await answer(ann, "email_transcript", {"conversation_id": conversation_id})
        assert queued["data"]["to"] == own, queued
        await notice(ann, "transcript_sent")
        await ann.acknowledged(await ann.close_conversation(conversation_id))
        await signed_customer.close()
        await ann.close()

    run(scenario())
    own_mail = wait_for_mail(sink.folder, own)
    assert own_mail["To"] == own and own_mail["Subject"] == "Your chat with Northwind Bank"
    own_plain = own_mail.get_body(("plain",)).get_content()
    # The signed-in customer's own address: no warning, their lines are theirs ("You").
    assert own_plain.startswith("Your chat with Northwind Bank, ") and "ignore this email" not in own_plain
    assert f"You: or {typed.replace('.', '[.]')}" in own_plain
    typed_mails = [m for m in received(sink.folder) if m["X-Envelope-To"] == typed]
    assert len(typed_mails) == 1
    typed_plain = typed_mails[0].get_body(("plain",)).get_content()
    assert "If that was not you, please ignore this email" in typed_plain  # an agent's choice is still typed
    assert "Visitor: send it to" in typed_plain


async def hello_welcome(where: str, identity: str = "") -> Dict[str, Any]:
    async with websockets.connect(f"ws://{where}/ws/customer") as ws:
        await ws.send(json.dumps({"type": "hello", "id": "h", "data": {"identity": identity} if identity else {}}))
        while True:
            envelope = json.loads(await ws.recv())
            if envelope["type"] in ("welcome", "error"):
                return envelope["data"]


def test_the_service_sends_at_most_its_days_cap_to_typed_addresses_but_customers_own_still_go(
        redis_url, rasa_url, bridge, sink):
    """HANDOFF_MAIL_UNVERIFIED_PER_DAY=1: one mail to a typed address, then every other typed one is refused
    from any client address and conversation, while a signed-in customer's own address still gets theirs."""
    prefix = f"hbmail{uuid.uuid4().hex[:6]}"
    own = address()
    settings = mail_settings(sink, **{**MAIL, "HANDOFF_MAIL_UNVERIFIED_PER_DAY": "1"})
    with running_bridge(redis_url, rasa_url, "bridge-mail-unverified", prefix, **settings) as where:
        async def scenario() -> List[str]:
            codes = []
            for _ in range(2):
                customer = await talking(where)
                codes.append((await answer(customer, "email_transcript", {"to": address()}))["data"].get("code", "ack"))
                await customer.close()
            identity = signed(own)
            assert (await hello_welcome(where, identity))["email"] == own
            assert (await hello_welcome(where))["email"] is None
            customer = await Customer.connect(where, identity=identity)
            await customer.acknowledged(await customer.say("hello"))
            codes.append((await answer(customer, "email_transcript", {"to": own}))["data"].get("code", "ack"))
            await customer.close()
            return codes

        assert run(scenario()) == ["ack", "mail_limit_unverified", "ack"]
        assert wait_for_mail(sink.folder, own)["To"] == own
        client = redis_sync.Redis.from_url(redis_url)
        counters = [client.get(key) for key in client.scan_iter(f"{prefix}:mail-day:unverified:*")]
        client.close()
        assert counters == [b"1"]


def test_once_per_conversation_when_both_processes_are_asked_at_the_same_time(mail_bridge, second_mail_bridge, sink):
    async def scenario() -> List[Dict[str, Any]]:
        first = await Customer.connect(mail_bridge)
        await first.acknowledged(await first.say("hello"))
        # The same conversation open in six sockets, three on each process, each asking at once.
        sockets = [first] + [await Customer.connect(where, conversation_id=first.conversation_id, token=first.token)
                             for where in [second_mail_bridge, mail_bridge] * 2 + [second_mail_bridge]]
        answers = await asyncio.gather(*(answer(socket, "email_transcript", {"to": address()}) for socket in sockets))
        for socket in sockets:
            await socket.close()
        return answers

    answers = run(scenario())
    acked = [reply["data"]["to"] for reply in answers if reply["type"] == "ack"]
    assert len(acked) == 1, answers
    assert sorted({reply["data"]["code"] for reply in answers if reply["type"] == "error"}) == ["already_sent"]
    wait_for_mail(sink.folder, acked[0])
    assert len([m for m in received(sink.folder) if m["X-Envelope-To"] == acked[0]]) == 1


def test_a_recipient_gets_at_most_the_days_cap_of_transcripts_whatever_the_variant(mail_bridge, sink):
    local = f"c{uuid.uuid4().hex[:10]}"
    variants = [f"{local}+1@example.com", f"{local.upper()}+other@Example.com", f"{local}@example.com"]

    async def scenario() -> List[str]:
        results = []
        for to in variants:  # HANDOFF_MAIL_PER_RECIPIENT_PER_DAY=2, one mailbox
            customer = await talking(mail_bridge)
            reply = await answer(customer, "email_transcript", {"to": to})
            results.append(reply["data"].get("code", reply["type"]))
            await customer.close()
        return results

    assert run(scenario()) == ["ack", "ack", "mail_limit_recipient"]


def test_a_busy_server_is_tried_again_and_a_client_address_has_its_daily_cap(redis_url, rasa_url, bridge):
    """The sink answers the first two mails 451: the bridge tries again a second later (any process), and the
    customer sees "sent" once it got through; the third request of the day from one address is refused."""
    prefix = f"hbmail{uuid.uuid4().hex[:6]}"
    to = address()
    with running_mail_sink("mail-sink-busy", fail_first=2) as busy:
        settings = mail_settings(busy, HANDOFF_MAIL_RETRY_SECONDS="1", HANDOFF_MAIL_PER_ADDRESS_PER_DAY="2")
        with running_bridge(redis_url, rasa_url, "bridge-mail-busy", prefix, **settings) as where:
            async def scenario() -> List[str]:
                customer = await talking(where)
                assert (await answer(customer, "email_transcript", {"to": to}))["type"] == "ack"
                await notice(customer, "transcript_sent")
                codes = []
                for _ in range(2):
                    other = await talking(where)
                    codes.append((await answer(other, "email_transcript", {"to": address()}))["data"].get("code", "ack"))
                    await other.close()
                await customer.close()
                return codes

            assert run(scenario()) == ["ack", "mail_limit_address"]
            assert len([m for m in received(busy.folder) if m["X-Envelope-To"] == to]) == 1
            client = redis_sync.Redis.from_url(redis_url)
            mails = [client.hgetall(key) for key in client.scan_iter(f"{prefix}:mail:*")]
            client.close()
            assert sorted(int(mail[b"attempts"]) for mail in mails if mail[b"to"] == to.encode()) == [3]


def test_a_transcript_that_could_not_be_sent_says_so_and_may_be_asked_for_again(redis_url, rasa_url, bridge):
    """Two attempts allowed, and the sink refuses the first two mails (451): the customer hears it failed, asks
    again, and that one is sent."""
    prefix = f"hbmail{uuid.uuid4().hex[:6]}"
    first, second = address(), address()
    with running_mail_sink("mail-sink-failing", fail_first=2) as failing:
        settings = mail_settings(failing, HANDOFF_MAIL_RETRY_SECONDS="1", HANDOFF_MAIL_ATTEMPTS="2")
        with running_bridge(redis_url, rasa_url, "bridge-mail-failing", prefix, **settings) as where:
            async def scenario() -> None:
                customer = await talking(where)
                assert (await answer(customer, "email_transcript", {"to": first}))["type"] == "ack"
                failed = await notice(customer, "transcript_failed")
                assert failed["data"]["text"] == f"We couldn't email the transcript to {first}. You can ask for it again."
                again = await answer(customer, "email_transcript", {"to": second})
                assert again["type"] == "ack" and again["data"]["to"] == second, again
                await notice(customer, "transcript_sent")
                refused = await answer(customer, "email_transcript", {"to": first})
                assert refused["data"]["code"] == "already_sent"
                await customer.close()

            run(scenario())
        assert [mail["X-Envelope-To"] for mail in received(failing.folder)] == [second]


def test_a_mail_left_by_a_process_killed_while_the_server_was_away_is_sent_by_another(redis_url, rasa_url, bridge,
                                                                                     tmp_path):
    """The mail server is down when the customer asks: the only process running takes the mail, fails, and is
    killed (kill -9) before its next attempt; the server comes back, another process starts and sends the mail,
    once, and the customer hears of it."""
    prefix = f"hbmail{uuid.uuid4().hex[:6]}"
    to = address()
    sink = MailSink(tmp_path, "mail-sink-late")  # its port chosen, nothing listening yet
    settings = mail_settings(sink, HANDOFF_MAIL_RETRY_SECONDS="1", HANDOFF_MAIL_ATTEMPTS="100")
    client = redis_sync.Redis.from_url(redis_url)
    try:
        with started_bridge(redis_url, rasa_url, "bridge-mail-killed", prefix, **settings) as doomed:
            async def ask() -> Customer:
                customer = await talking(doomed.address)
                assert (await answer(customer, "email_transcript", {"to": to}))["type"] == "ack"
                return customer

            customer = run(ask())
            mail_key = f"{prefix}:mail:{customer.conversation_id}"
            deadline = time.monotonic() + 30
            while int(client.hget(mail_key, "attempts") or 0) < 1:
                assert time.monotonic() < deadline, "no attempt was made"
                time.sleep(0.1)
            doomed.kill()
        assert client.hget(mail_key, "state") == b"queued"
        with running_bridge(redis_url, rasa_url, "bridge-mail-survivor", prefix, **settings) as survivor:
            with started(sink):
                wait_for_mail(tmp_path, to)

                async def told() -> None:
                    again = await Customer.connect(survivor, conversation_id=customer.conversation_id,
                                                   token=customer.token)
                    await notice(again, "transcript_sent")
                    await again.close()

                run(told())
                time.sleep(1.5)  # another round of retries: nothing is sent twice
                assert len([m for m in received(tmp_path) if m["X-Envelope-To"] == to]) == 1
    finally:
        client.close()
