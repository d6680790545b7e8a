"""Fuzzing the supervisors' ``forget`` like the rest of the protocol (tests/drills/test_fuzz.py, whose bridge,
strategies and checks this module uses).

/ws/supervisor gets ``forget`` with a conversation id (of a conversation kept, one already forgotten, or
anything) or a contact id (of a signed-in customer kept, or anything), both, neither, every field plausible or
anything JSON can say, and garbage frames. The oracle computes the answer docs/bridge-protocol.md
("Forgetting a customer") gives for the input in the state Redis holds: ``forgotten`` (then nothing of the
conversation or contact is left in Redis), or one error with the right code, never ``internal_error``, and
an error forgets nothing.

    make drills ARGS="-k fuzz_forget"
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import given, strategies as st

from handoff.identity import sign
from handoff_client import Customer
from harness.servers import IDENTITY_SECRET
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (  # noqa: F401 - the fixtures world and supervisor
    Surface, World, budget, check, classify, conversation_ids, either, envelopes, exchange, fields, framed,
    fuzzed, is_text, reported, request, supervisor, world,
)
from tests.drills.test_fuzz_workspace import plausible

SURFACE = "/ws/supervisor forget"
CONTACT_ID = re.compile(r"[A-Za-z0-9._:@+\-]{1,128}")


@pytest.fixture(scope="module", autouse=True)
def forget_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, [SURFACE])


class Kept:
    """Conversations and contacts of this module's own (the bench's others are never named), made again when
    forgotten: two anonymous conversations and a signed-in customer's."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.conversations: List[str] = []
        self.contacts: List[str] = []
        self.gone: List[str] = []  # forgotten ones, named again

    def refill(self) -> None:
        self.conversations = [c for c in self.conversations if exists(self.world, "conv", c)]
        self.contacts = [c for c in self.contacts if exists(self.world, "contact", c)]

        async def more() -> None:
            while len(self.conversations) < 2:
                customer = await Customer.connect(self.world.address)
                await request(customer, "message", {"text": "hello"})
                await customer.close()
                self.conversations.append(customer.conversation_id)
            while not self.contacts:
                contact = f"fuzz-forget-{uuid.uuid4().hex[:8]}"
                identity = sign(IDENTITY_SECRET, {"id": contact, "name": "Fuzz Forget", "email": "fuzz@example.com",
                                                  "issued_at": int(time.time())})
                customer = await Customer.connect(self.world.address, identity=identity)
                await request(customer, "message", {"text": "hello"})
                await customer.close()
                self.contacts.append(contact)

        self.world.run(more())


def exists(world: World, kind: str, name: str) -> bool:
    return bool(world.redis.exists(f"{world.prefix}:{kind}:{name}"))


def forget_oracle(world: World, data: Dict[str, Any]) -> str:
    """``forgotten`` or the error docs/bridge-protocol.md gives (a field that is null counts as not given)."""
    contact_id, conversation_id = data.get("contact_id"), data.get("conversation_id")
    if (contact_id is None) == (conversation_id is None):
        return "malformed"
    if contact_id is not None:
        if not (isinstance(contact_id, str) and CONTACT_ID.fullmatch(contact_id)):
            return "malformed"
        known = exists(world, "contact", contact_id) or world.redis.zcard(f"{world.prefix}:contact-convs:{contact_id}")
        return "forgotten" if known else "not_found"
    if not (is_text(conversation_id, 64) and conversation_id):
        return "malformed"
    kept = exists(world, "conv", conversation_id) or exists(world, "log", conversation_id)
    return "forgotten" if kept else "not_found"


@pytest.fixture
def kept(world: World) -> Kept:
    return Kept(world)


@budget(120)
@given(data=st.data())
def test_supervisors_forget_is_answered_as_documented(world: World, supervisor: Surface, kept: Kept,
                                                      data: st.DataObject) -> None:
    kept.refill()
    # pools of the same size in every example (hypothesis replays draws): two kept, two forgotten (or never made)
    conversations = st.sampled_from(kept.conversations + (["never-made-1", "never-made-2"] + kept.gone)[-2:])
    contacts = st.sampled_from(kept.contacts)
    contact_ids = either(contacts, st.sampled_from(["nobody-known", "x" * 128, "x" * 129, "a b", "", "ünï"]))
    good = {"forget": st.one_of(st.fixed_dictionaries({"conversation_id": conversations}),
                                st.fixed_dictionaries({"contact_id": contacts}))}
    every = {"forget": fields(conversation_id=conversation_ids(conversations), contact_id=contact_ids)}
    plausible_frame = framed(plausible(good))
    frame = data.draw(st.one_of(plausible_frame, fuzzed(envelopes(every))), label="frame")
    client = world.run(supervisor.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    kind = envelope.get("type")
    expected = expectation.code or (forget_oracle(world, envelope["data"]) if kind == "forget" else "unknown_type")
    before = {c: exists(world, "conv", c) for c in kept.conversations}
    got = check(SURFACE, world.run(exchange(client, frame)), expectation, expected, {"forgotten"})
    sent = envelope.get("data") or {}
    if got == "forgotten":
        named = sent.get("conversation_id") or sent.get("contact_id")
        assert not exists(world, "conv", named) and not exists(world, "contact", named), "still kept"
        assert not exists(world, "log", named) and not world.redis.exists(f"{world.prefix}:contact-convs:{named}")
        kept.gone.append(named)
    else:
        assert {c: exists(world, "conv", c) for c in kept.conversations} == before, "an error forgot something"
