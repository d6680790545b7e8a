"""Fuzzing the contact panel's messages (``contact``, ``contact_note``, ``view`` with ``via``) like the rest of
the protocol (tests/drills/test_fuzz.py, whose bridge, strategies and checks this module uses).

Ann serves conversations of two signed-in customers and of an anonymous one; the first customer has an
earlier conversation Ann does not serve, and a third customer's is nobody's. /ws/agent gets the three
types, every field plausible or anything JSON can say, and garbage frames. The oracle computes the
answer docs/bridge-protocol.md ("Contacts") gives for the input in the state Redis holds: a ``contact``
reply of the documented shape, an ``ack`` (a view opened, closed again at once), or one error with the
right code, never ``internal_error``; none changes a conversation, and a note is stored as sent.

    make drills ARGS="-k fuzz_contacts"
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest
from hypothesis import given, strategies as st

from handoff.identity import sign
from handoff.protocol import readable
from handoff_client import Customer
from harness.servers import IDENTITY_SECRET
from tests.drills.report import DrillReport, DrillResult
from tests.drills.test_fuzz import (  # noqa: F401 - the fixture world
    ANN, BOB, TALLIES, TEXT, Surface, World, budget, check, classify, conversation_ids, either, envelopes, exchange,
    fields, framed, fuzzed, is_text, request, text_refusal, world,
)
from tests.drills.test_fuzz_workspace import plausible

SURFACE = "/ws/agent contacts"
MAX_NOTE = 1000
NOTES = st.one_of(TEXT, st.sampled_from(["Prefers email <b>VIP</b>", "x" * MAX_NOTE, "x" * (MAX_NOTE + 1), " \n "]))


def signed(contact_id: str) -> str:
    return sign(IDENTITY_SECRET, {"id": contact_id, "name": "Fuzz", "email": "fuzz@example.com",
                                  "issued_at": int(time.time())})


@pytest.fixture(scope="module", autouse=True)
def contacts_report(drill_report: DrillReport) -> Iterator[None]:
    yield
    counts = TALLIES.pop(SURFACE, None)  # reported here, not again by test_fuzz's report
    if counts is not None:
        codes = ", ".join(f"{code} {n}" for code, n in counts.errors.most_common()) or "none"
        drill_report.add(DrillResult(name=f"fuzz: {SURFACE}", sent=counts.sent, acknowledged=counts.answered,
                                     notes=f"{sum(counts.errors.values())} errors by code: {codes}"))


@pytest.fixture(scope="module")
def pool(world: World) -> Iterator[List[str]]:
    """Conversations: Ann serves ada's newer one, bo's and an anonymous customer's; ada's earlier one (closed by
    Bob) and cy's (the bot's) she does not."""
    suffix = uuid.uuid4().hex[:6]
    ada, bo, cy = (signed(f"{name}-{suffix}") for name in ("ada", "bo", "cy"))

    async def setup() -> List[str]:
        bob = await world.socket("agent", BOB)
        earlier = await Customer.connect(world.address, identity=ada)
        await request(earlier, "talk_to_person", {})
        await request(bob, "claim", {"conversation_id": earlier.conversation_id})
        await request(bob, "close", {"conversation_id": earlier.conversation_id, "disposition": "resolved"})
        await bob.close()
        served = [await Customer.connect(world.address, identity=token) for token in (ada, bo, "")]
        others = [await Customer.connect(world.address, identity=cy)]
        assert served[0].conversation_id != earlier.conversation_id
        for customer in served:
            await request(customer, "talk_to_person", {})
        for customer in [earlier, *served, *others]:
            await customer.close()
        return [earlier.conversation_id, *(c.conversation_id for c in served), others[0].conversation_id]

    conversations = world.run(setup())
    yield conversations


@pytest.fixture
def ann(world: World, pool: List[str]) -> Iterator[Surface]:
    surface = Surface(lambda: world.socket("agent", ANN))
    client = world.run(surface.ready())
    for conversation_id in pool[1:4]:  # Ann's, again after an earlier test of the session let them go
        world.run(request(client, "claim", {"conversation_id": conversation_id}))
        assert reads(world, conversation_id), world.snapshot(conversation_id)
    yield surface
    world.run(surface.close())


def contact_of(world: World, conversation_id: str) -> Optional[bytes]:
    return world.redis.hget(f"{world.prefix}:conv:{conversation_id}", "contact_id")


def reads(world: World, conversation_id: str) -> Optional[bool]:
    """Whether Ann may read the conversation (serving it, or mentioned in it); None: there is none."""
    snapshot = world.snapshot(conversation_id)
    if snapshot is None:
        return None
    mentioned = world.redis.hexists(f"{world.prefix}:mentions:{ANN}", conversation_id)
    return (snapshot.state == "agent" and snapshot.agent == ANN) or bool(mentioned)


def is_id(value: Any) -> bool:
    return is_text(value, 64) and bool(value)


def contacts_oracle(world: World, envelope: Dict[str, Any]) -> str:
    kind, data = envelope["type"], envelope["data"]
    conversation_id = data.get("conversation_id")
    if not is_id(conversation_id):
        return "malformed"
    if kind == "contact_note":
        refused = text_refusal(data.get("text"), MAX_NOTE)
        if refused:
            return refused
    via = data.get("via") if kind == "view" else None
    if via is not None:
        if not is_id(via):
            return "malformed"
        through = reads(world, via)
        if through is None:
            return "not_found"
        if not through:
            return "forbidden"
        if world.snapshot(conversation_id) is None:
            return "not_found"
        same = contact_of(world, via) is not None and contact_of(world, via) == contact_of(world, conversation_id)
        return "ack" if same else "not_found"  # another customer's is answered as one that does not exist
    readable_here = reads(world, conversation_id)
    if readable_here is None:
        return "not_found"
    if not readable_here:
        return "forbidden"
    if kind == "view":
        return "ack"
    if kind == "contact_note" and contact_of(world, conversation_id) is None:
        return "not_identified"
    return "contact"


def types(conversations: List[str], good: bool) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    pool = st.sampled_from(conversations)
    if good:  # ada's earlier conversation through the one Ann serves, as the panel opens it, half the time
        history = st.just({"conversation_id": conversations[0], "via": conversations[1]})
        return {"contact": st.fixed_dictionaries({"conversation_id": pool}),
                "contact_note": st.fixed_dictionaries({"conversation_id": pool, "text": NOTES}),
                "view": st.one_of(history, st.fixed_dictionaries({"conversation_id": pool, "via": pool}))}
    ids = conversation_ids(pool)
    return {"contact": fields(conversation_id=ids), "contact_note": fields(conversation_id=ids, text=either(NOTES)),
            "view": fields(conversation_id=ids, via=either(pool, st.text(max_size=10)))}


def assert_documented_card(card: Any) -> None:
    if card is None:
        return
    assert set(card) == {"id", "verified", "name", "email", "first_seen", "last_seen", "note", "conversations"}, card
    assert card["verified"] is True
    for past in card["conversations"]:
        assert set(past) == {"conversation_id", "started", "state", "disposition", "closed_at", "topics", "rating",
                             "archived"}


@budget(150)
@given(data=st.data())
def test_contact_messages_are_answered_as_documented(world: World, pool: List[str], ann: Surface,
                                                     data: st.DataObject) -> None:
    plausible_frame = framed(plausible(types(pool, good=True)))
    frame = data.draw(st.one_of(plausible_frame, plausible_frame, fuzzed(envelopes(types(pool, good=False)))),
                      label="frame")
    client = world.run(ann.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    named = envelope.get("data", {}).get("conversation_id")
    before = world.snapshot(named)
    kind = envelope.get("type")
    if expectation.code:
        expected = expectation.code
    elif kind in ("contact", "contact_note", "view"):
        expected = contacts_oracle(world, envelope)
    else:
        expected = "unknown_type"
    frames = world.run(exchange(client, frame))
    got = check(SURFACE, frames, expectation, expected, {"contact"})
    if kind in ("contact", "contact_note", "view"):
        assert world.snapshot(named) == before, f"{kind} changed the conversation"
    if got == "contact":
        card = next(f for f in frames if f["type"] == "contact")["data"]["contact"]
        assert_documented_card(card)
        if kind == "contact_note":
            assert card["note"]["text"] == readable(envelope["data"]["text"]).strip() and card["note"]["by"] == ANN
    if got == "ack" and kind == "view":  # closed again: a socket holds at most 20 views
        world.run(request(client, "unview", {"conversation_id": named}))
