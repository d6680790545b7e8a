"""Fuzzing ``email_transcript`` on /ws/customer and /ws/agent like the rest of the protocol (tests/drills/test_fuzz.py,
whose strategies and checks this module uses), against a bridge with a real SMTP server (harness.mail_sink).

Every field is plausible or anything JSON can say, with addresses that try header injection, lists, display
names and look-alikes, and garbage frames. The oracles compute the answer docs/bridge-protocol.md ("Transcripts
by email") gives in the state Redis holds, with an address check written here from the document, not imported:
the ack, or one error with the right code, never ``internal_error``. An ack is then checked in Redis (the
conversation's one mail, to that address), and an error changes nothing.

    make drills ARGS="-k fuzz_mail"
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Set

import pytest
import redis as redis_sync
from hypothesis import given, strategies as st

from handoff_client import Agent, Customer
from harness.mail import MailSink, mail_settings, running_mail_sink
from harness.servers import AGENT_PASSWORD, add_agent, delete_prefixed_keys, started_bridge
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (
    NO_REPLY, TEXT, Expectation, Surface, budget, check, classify, either, envelopes, exchange, fields, framed,
    fuzzed, is_text, reported,
)

ANN, BOB = "mail-ann", "mail-bob"
SURFACES = ("/ws/customer email_transcript", "/ws/agent email_transcript")
# docs/bridge-protocol.md "Transcripts by email": one plain ASCII address local@domain, at most 254 characters
# (64 before the @), the local part dot-separated atoms, the domain dotted labels of letters, digits and
# inner hyphens ending in a top-level name of 2 to 63 letters.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = re.compile(rf"(?:{ATOM})(?:\.{ATOM})*@(?:{LABEL}\.)+[A-Za-z]{{2,63}}")
GOOD = ["ann@example.com", "Ann.Lee+chat@Example.CO.uk", "o'brien@mail.example.org", "x@a-b.example.museum"]
BAD = ["ann@example.com\r\nBcc: eve@example.com", "ann@example.com\nBcc: eve@example.com", "a@example.com, b@example.com",
       "Ann <ann@example.com>", '"a b"@example.com', " ann@example.com", "ann@example", "ann@localhost", "ann@[127.0.0.1]",
       "änn@example.com", "ann..lee@example.com", ".ann@example.com", "ann@-x.example.com", "a" * 65 + "@example.com",
       "ann@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 60 + ".com", "", "@", "ann@example.com\x00"]
# An address with a card number before the @ (13 to 19 digits passing the Luhn check, together or in groups
# joined by dots, dashes, underscores or pluses): card_in_address.
CARDS = ["4111111111111111@example.com", "4111.1111.1111.1111@example.com", "me-378282246310005@example.com"]
ADDRESSES = either(st.sampled_from(GOOD), st.sampled_from(BAD + CARDS), TEXT)


def valid_address(value: Any) -> bool:
    if not isinstance(value, str) or not 3 <= len(value) <= 254 or not ADDRESS.fullmatch(value):
        return False
    return len(value.rsplit("@", 1)[0]) <= 64


def luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(int(character) for character in reversed(digits)):
        total += (digit * 2 - 9 if digit > 4 else digit * 2) if position % 2 else digit
    return total % 10 == 0


def has_card(address: str) -> bool:
    local = address.rsplit("@", 1)[0]
    for run in re.findall(r"[0-9]+(?:[._+-][0-9]+)*", local):
        for part in [run, *re.split(r"[._+-]", run)]:
            digits = re.sub(r"[^0-9]", "", part)
            if 13 <= len(digits) <= 19 and luhn(digits):
                return True
    return False


def same(one: str, other: str) -> bool:
    return one.lower() == other.lower()


@dataclass
class MailWorld:
    loop: asyncio.AbstractEventLoop
    address: str
    redis: "redis_sync.Redis[bytes]"
    prefix: str
    typed: Dict[str, List[str]] = field(default_factory=dict)  # conversation -> addresses its customer typed
    wrote: Set[str] = field(default_factory=set)  # conversations with a message a transcript shows
    contact: Dict[str, str] = field(default_factory=dict)  # conversation -> contact_email (as identity writes it)

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def mail(self, conversation_id: str) -> Dict[str, str]:
        stored = self.redis.hgetall(f"{self.prefix}:mail:{conversation_id}")
        return {key.decode(): value.decode() for key, value in stored.items()}

    def conversation(self, conversation_id: Any) -> Optional[Dict[str, str]]:
        if not is_text(conversation_id, 64) or not conversation_id:
            return None
        stored = self.redis.hgetall(f"{self.prefix}:conv:{conversation_id}")
        return {key.decode(): value.decode() for key, value in stored.items()} or None


@pytest.fixture(scope="module", autouse=True)
def mail_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, SURFACES)


@pytest.fixture(scope="module")
def mail_world(redis_url: str, rasa_url: str) -> Iterator[MailWorld]:
    prefix = f"fuzzmail{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, ANN, "--max-chats", "500")
    add_agent(redis_url, prefix, BOB, "--max-chats", "500")
    loop = asyncio.new_event_loop()
    client = redis_sync.Redis.from_url(redis_url)
    sink: MailSink
    with running_mail_sink("mail-sink-fuzz") as sink:
        settings = mail_settings(sink, HANDOFF_MAIL_PER_ADDRESS_PER_DAY="1000000", HANDOFF_MAIL_PER_RECIPIENT_PER_DAY="1000000",
                                 HANDOFF_MAIL_UNVERIFIED_PER_DAY="1000000",
                                 HANDOFF_MESSAGES_PER_SECOND="1000", HANDOFF_MESSAGE_BURST="1000",
                                 HANDOFF_MAX_CONNECTIONS_PER_IP="200", HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP="1000000",
                                 HANDOFF_MAX_NEW_CONVERSATIONS="1000000", HANDOFF_MAX_QUEUE_ENTRIES_PER_IP="1000000",
                                 HANDOFF_MAX_QUEUE_ENTRIES="1000000", HANDOFF_MAX_QUEUE_LENGTH="1000000")
        with started_bridge(redis_url, rasa_url, "fuzz-mail-bridge", prefix, **settings) as server:
            yield MailWorld(loop, server.address, client, prefix)
    loop.close()
    client.close()
    delete_prefixed_keys(redis_url, prefix)


def customer_answer(world: MailWorld, conversation_id: str, data: Dict[str, Any]) -> str:
    """What the customer's ``email_transcript`` gets: once per conversation (said first), any valid address
    they type without a card number in it (without one, a signed-in customer's own), once they wrote."""
    state = world.mail(conversation_id).get("state")
    if state and state != "failed":
        return "already_sent"
    to = data.get("to")
    if to is None and not world.contact.get(conversation_id):
        return "no_address"
    if to is not None and not valid_address(to):
        return "invalid_address"
    if to is not None and has_card(to):
        return "card_in_address"
    return "ack" if conversation_id in world.wrote else "nothing_to_send"


def agent_answer(world: MailWorld, data: Dict[str, Any], me: str) -> str:
    """An agent's: only in a chat they serve, only to the contact's address or one the customer typed."""
    conversation_id = data.get("conversation_id")
    if not is_text(conversation_id, 64) or not conversation_id:
        return "malformed"
    conversation = world.conversation(conversation_id)
    if conversation is None:
        return "not_found"
    if not (conversation["state"] == "agent" and conversation.get("agent") == me):
        return "forbidden"
    state = world.mail(conversation_id).get("state")
    if state and state != "failed":
        return "already_sent"
    contact, typed = world.contact.get(conversation_id, ""), world.typed.get(conversation_id, [])
    to = data.get("to")
    if to is None:
        if not contact:  # never a typed address unless the agent names it
            return "no_address"
    elif not valid_address(to):
        return "invalid_address"
    elif has_card(to):
        return "card_in_address"
    elif not any(same(to, allowed) for allowed in ([contact] if contact else []) + typed):
        return "address_not_allowed"
    return "ack"  # the handoff's bot reply is in the transcript already


async def fresh_chat(world: MailWorld, agent: Agent, typed: bool, contact: bool) -> Customer:
    """A customer ``agent`` serves, who typed an address or not, and is a signed-in contact or not."""
    customer = await Customer.connect(world.address)
    await customer.send("talk_to_person", id="talk")
    await customer.expect("ack")
    conversation_id = customer.conversation_id
    await agent.send("claim", {"conversation_id": conversation_id}, id=f"claim-{conversation_id}")
    await agent.acknowledged(f"claim-{conversation_id}")
    if typed:
        address = f"typed{uuid.uuid4().hex[:8]}@example.com"
        await customer.acknowledged(await customer.say(f"please write to me at {address}"))
        world.typed[conversation_id] = [address]
    if contact:
        world.contact[conversation_id] = f"me{uuid.uuid4().hex[:8]}@example.com"
        world.redis.hset(f"{world.prefix}:conv:{conversation_id}", "contact_email", world.contact[conversation_id])
    return customer


def checked_outcome(world: MailWorld, conversation_id: Optional[str], got: str, before: Dict[str, str],
                    envelope: Dict[str, Any]) -> None:
    if conversation_id is None:
        return
    after = world.mail(conversation_id)
    if got == "ack":
        to = envelope["data"].get("to") or world.contact[conversation_id]
        local, domain = to.rsplit("@", 1)
        assert after.get("to") == f"{local}@{domain.lower()}" and after.get("state") in ("queued", "sent"), after
    elif got != NO_REPLY:  # (the sender moves its attempts and state on meanwhile: the request itself is the same)
        request = ("to", "by", "requested_at")
        assert [after.get(name) for name in request] == [before.get(name) for name in request], \
            f"an error changed the conversation's mail: {before} -> {after}"


async def wrote(customer: Customer) -> None:
    await customer.acknowledged(await customer.say("hello"))


@budget(100)
@given(data=st.data())
def test_a_customers_email_transcript_is_answered_as_documented(mail_world: MailWorld, data: st.DataObject) -> None:
    world = mail_world
    customer = Surface(lambda: Customer.connect(world.address))
    client = world.run(customer.ready())
    conversation_id = client.conversation_id
    if data.draw(st.booleans(), label="the customer wrote first"):
        world.run(wrote(client))
        world.wrote.add(conversation_id)
    if data.draw(st.booleans(), label="a signed-in contact"):
        world.contact[conversation_id] = f"me{uuid.uuid4().hex[:8]}@example.com"
        world.redis.hset(f"{world.prefix}:conv:{conversation_id}", "contact_email", world.contact[conversation_id])
    types = {"email_transcript": fields(to=ADDRESSES)}
    plausible = framed(st.builds(lambda to, key: {"type": "email_transcript", "id": key, "data": {"to": to}},
                                 ADDRESSES, st.uuids().map(str)))
    # Twice in a row now and then: the second must be refused.
    frames = data.draw(st.lists(st.one_of(plausible, plausible, fuzzed(envelopes(types))), min_size=1, max_size=2),
                       label="frames")
    try:
        for frame in frames:
            expectation: Expectation = classify(frame)
            envelope = expectation.envelope or {}
            before = world.mail(conversation_id)
            expected = expectation.code or (customer_answer(world, conversation_id, envelope["data"])
                                            if envelope["type"] == "email_transcript" else "unknown_type")
            got = check(SURFACES[0], world.run(exchange(client, frame)), expectation, expected, set())
            checked_outcome(world, conversation_id if envelope.get("type") == "email_transcript" else None, got,
                            before, envelope)
    finally:
        world.run(customer.close())


@budget(60)
@given(data=st.data())
def test_an_agents_email_transcript_is_answered_as_documented(mail_world: MailWorld, data: st.DataObject) -> None:
    world = mail_world
    ann = world.run(Agent.connect(world.address, ANN, AGENT_PASSWORD))
    bob = world.run(Agent.connect(world.address, BOB, AGENT_PASSWORD))
    customers = []
    try:
        serving = data.draw(st.sampled_from([ann, ann, bob]), label="who serves it")
        customer = world.run(fresh_chat(world, serving, data.draw(st.booleans(), label="typed"),
                                        data.draw(st.booleans(), label="contact")))
        customers.append(customer)
        pool = st.just(customer.conversation_id)
        ids = either(pool, pool, st.text(max_size=30), st.integers(63, 66).map(lambda n: "c" * n))
        typed = world.typed.get(customer.conversation_id, [])
        tos = st.one_of(st.none(), st.sampled_from(typed + [world.contact.get(customer.conversation_id) or "x@example.com"]),
                        ADDRESSES)
        types = {"email_transcript": fields(conversation_id=ids, to=tos)}
        plausible = framed(st.builds(
            lambda to, key: {"type": "email_transcript", "id": key,
                             "data": {"conversation_id": customer.conversation_id, **({} if to is None else {"to": to})}},
            tos, st.uuids().map(str)))
        frames = data.draw(st.lists(st.one_of(plausible, plausible, fuzzed(envelopes(types))), min_size=1, max_size=2),
                           label="frames")
        for frame in frames:
            expectation = classify(frame)
            envelope = expectation.envelope or {}
            sent = envelope.get("data", {})
            named = sent.get("conversation_id") if isinstance(sent.get("conversation_id"), str) else None
            before = world.mail(named) if named else {}
            expected = expectation.code or (agent_answer(world, sent, ANN) if envelope["type"] == "email_transcript"
                                            else "unknown_type")
            got = check(SURFACES[1], world.run(exchange(ann, frame)), expectation, expected, set())
            if envelope.get("type") == "email_transcript" and named and world.conversation(named):
                checked_outcome(world, named, got, before, {"data": {**sent, "to": sent.get("to")}})
    finally:
        for client in (*customers, ann, bob):
            world.run(client.close())
