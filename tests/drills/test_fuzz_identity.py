"""Fuzzing the signed identity in ``hello`` (docs/identity.md) like the rest of the protocol
(tests/drills/test_fuzz.py, whose bridge, strategies and checks this module uses).

/ws/customer gets a ``hello`` on a fresh socket with an ``identity`` that is genuine, expired, from the
future, signed with another secret, cut, with a payload changed, with fields against their rules, or
anything JSON can say, beside the resuming fields (the known conversation's, made up ones, or none).
The oracle computes the answer docs/bridge-protocol.md gives: ``malformed`` for a bad ``last_seen``
first, then ``invalid_identity`` or ``identity_expired``, then ``invalid_token``, else ``welcome``,
never ``internal_error``; a refused hello leaves the socket able to say hello again. A genuine identity
is the one test contact's: its welcome is the contact's open conversation (or a new one), which a second
device resumes too, never the anonymous conversation named (a signed hello adopts none: docs/identity.md).

    make drills ARGS="-k fuzz_identity"
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any, Dict, Iterator, Optional

import pytest
from hypothesis import example, given, strategies as st

from handoff.identity import sign
from handoff_client import Customer
from harness.servers import IDENTITY_SECRET
from tests.drills.report import DrillReport, DrillResult
from tests.drills.test_fuzz import (  # noqa: F401 - the fixtures world and customer
    IDS, JSON, TALLIES, Surface, World, _server_id, budget, check, classify, customer, exchange, request, to_frame, usable_id,
    world,
)

SURFACE = "/ws/customer hello identity"
CONTACT = f"fuzz-contact-{uuid.uuid4().hex[:8]}"
NOW = int(time.time())


def token(**changes: Any) -> str:
    return sign(IDENTITY_SECRET, {"id": CONTACT, "name": "Fuzz Tester", "email": "fuzz@example.com",
                                  "issued_at": NOW, **changes})


GENUINE = token()
_payload, _signature = GENUINE.split(".")
# Each with the code the bridge must answer it with.
IDENTITIES: Dict[str, str] = {
    GENUINE: "welcome",
    token(name="", email=""): "welcome",
    token(issued_at=NOW - 2 * 24 * 3600): "identity_expired",
    token(issued_at=NOW + 3600): "invalid_identity",
    sign("another-site-secret-" + "x" * 20, {"id": CONTACT, "issued_at": NOW}): "invalid_identity",
    f"{_payload}.{_signature[:-3]}": "invalid_identity",
    f"{base64.urlsafe_b64encode(json.dumps({'id': 'someone-else', 'issued_at': NOW}).encode()).decode().rstrip('=')}"
    f".{_signature}": "invalid_identity",
    token(id="has space"): "invalid_identity",
    token(email="not-an-address"): "invalid_identity",
    token(name="two\nlines"): "invalid_identity",
    token(role="admin"): "invalid_identity",
    "": "invalid_identity",
    ".": "invalid_identity",
    GENUINE + "." + _signature: "invalid_identity",
    "x" * 2049: "invalid_identity",
}

HELLO = st.fixed_dictionaries({"identity": st.one_of(st.just(GENUINE), st.just(GENUINE), st.sampled_from(sorted(IDENTITIES)),
                                                     st.sampled_from(sorted(IDENTITIES)), st.none(), st.text(max_size=40),
                                                     JSON)},
                              optional={
    "conversation_id": st.one_of(st.just("known"), st.just("known"), st.text(max_size=30), JSON),
    "token": st.one_of(st.just("known"), st.just("known"), st.text(max_size=40), JSON),
    "last_seen": st.one_of(st.just("known"), st.sampled_from(["0-0", "1-0", "1-0\n"]), JSON),
})


@pytest.fixture(scope="module", autouse=True)
def identity_report(drill_report: DrillReport) -> Iterator[None]:
    yield
    counts = TALLIES.pop(SURFACE, None)  # reported here, not again by test_fuzz's report
    if counts is not None:
        codes = ", ".join(f"{code} {n}" for code, n in counts.errors.most_common()) or "none"
        drill_report.add(DrillResult(name=f"fuzz: {SURFACE}", sent=counts.sent, acknowledged=counts.answered,
                                     notes=f"{sum(counts.errors.values())} errors by code: {codes}"))


def identity_answer(identity: Any) -> Optional[str]:
    """The error an ``identity`` value gets, None for a genuine one (or none at all)."""
    if identity is None:
        return None
    answer = IDENTITIES.get(identity) if isinstance(identity, str) else None
    return None if answer == "welcome" else answer or "invalid_identity"


@budget(80)
@example(hello={"identity": GENUINE, "conversation_id": "known", "token": "known"}, request_id="genuine")
@example(hello={"identity": GENUINE}, request_id="elsewhere")
@example(hello={"identity": token(issued_at=NOW - 2 * 24 * 3600), "conversation_id": "known", "token": "known"},
         request_id="expired")
@given(hello=HELLO, request_id=IDS.filter(lambda value: value is None or usable_id(value) is not None))
def test_a_hellos_identity_is_answered_as_documented(world: World, customer: Surface, hello: Dict[str, Any],
                                                     request_id: Any) -> None:
    known_client = world.run(customer.ready())
    if not world.transcript_ids(known_client.conversation_id):  # something to replay
        world.run(request(known_client, "talk_to_person", {}))
    known = {"conversation_id": known_client.conversation_id, "token": known_client.token,
             "last_seen": (world.transcript_ids(known_client.conversation_id) or ["0-0"])[0]}
    data = {name: known[name] if value == "known" else value for name, value in hello.items()}
    frame = to_frame({"type": "hello", "id": request_id, "data": data}, "text")
    expectation = classify(frame)
    resumes = bool(data.get("conversation_id") or data.get("token"))
    genuine = data.get("conversation_id") == known["conversation_id"] and data.get("token") == known["token"]
    last_seen = data.get("last_seen")
    refused_identity = identity_answer(data.get("identity"))
    if expectation.code:
        expected = expectation.code
    elif last_seen is not None and not (isinstance(last_seen, str) and _server_id(last_seen)):
        expected = "malformed"
    elif refused_identity:
        expected = refused_identity
    elif resumes and not genuine:
        expected = "invalid_token"
    else:
        expected = "welcome"
    before = world.snapshot(known["conversation_id"])
    client = world.run(world.socket("customer"))
    try:
        frames = world.run(exchange(client, frame))
        got = check(SURFACE, frames, expectation, expected, {"welcome"})
        if got == "welcome":
            welcome = next(f for f in frames if f["type"] == "welcome")["data"]
            if genuine and data.get("identity") is None:  # the named conversation, anonymous, is resumed
                assert welcome["conversation_id"] == known["conversation_id"], welcome
            if data.get("identity") is not None:  # the contact's open one (so does another device), never the
                assert welcome["conversation_id"] != known["conversation_id"], welcome  # anonymous one named
                assert world.snapshot(known["conversation_id"]) == before, "a signed hello changed the anonymous one"
                other = world.run(Customer.connect(world.address, identity=GENUINE))
                try:
                    assert other.conversation_id == welcome["conversation_id"], (other.conversation_id, welcome)
                finally:
                    world.run(other.close())
        else:
            assert world.snapshot(known["conversation_id"]) == before, "a refused hello changed the conversation"
            world.run(client.send("hello", {}, id="again"))  # the refused hello left the socket able to try again
            world.run(client.expect("welcome"))
    finally:
        world.run(client.close())
