"""Fuzzing ``assign_request`` like the rest of the protocol (tests/drills/test_fuzz.py, whose bridge, bench of
requests, strategies and checks this module uses).

/ws/agent gets ``assign_request`` (with ``request_done`` between, so that some requests are settled), by Ann
and by Bob; /ws/supervisor gets ``assign_request`` and ``requests``; every field plausible or anything JSON
can say, and garbage frames. The oracles compute the answer docs/bridge-protocol.md ("Requests assigned to
an agent") gives for the input in the state Redis holds: the ack, or one error with the right code, never
``internal_error``; an ack's assignment is then checked in Redis, and an error changes nothing.

    make drills ARGS="-k fuzz_request_assignment"
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

import pytest
from hypothesis import given, strategies as st

from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (  # noqa: F401 - the fixtures world, agents and supervisor
    AGENTS, ANN, BOB, SUE, UUIDS, AgentBench, Surface, World, _refill, agent_oracle, agents, budget, check, classify,
    either, envelopes, exchange, fields, framed, is_text, reported, request_ids, supervisor, world,
)

SURFACES = ("/ws/agent assign_request", "/ws/supervisor assign_request")
NAMES = either(st.sampled_from([ANN, BOB, SUE, "fuzz-cole", "nobody", ""]), st.integers(63, 66).map(lambda n: "n" * n))


@pytest.fixture(scope="module", autouse=True)
def assignment_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, SURFACES)


def assignee(world: World, request_id: Any) -> Optional[bytes]:
    if not isinstance(request_id, str):
        return None
    return world.redis.hget(f"{world.prefix}:request-assignee:{request_id}", "agent")


def well_formed_id(request_id: Any) -> bool:
    parts = request_id.split("-") if isinstance(request_id, str) else []
    return len(parts) == 2 and all(p.isascii() and p.isdigit() and 0 < len(p) <= 20 and int(p) < 2 ** 64 for p in parts)


def settled(world: World, request_id: str) -> bool:
    return bool(world.redis.exists(f"{world.prefix}:request-state:{request_id}"))


def exists(world: World, request_id: str) -> bool:
    return bool(world.redis.xrange(f"{world.prefix}:requests", request_id, request_id))


def take_answer(world: World, data: Dict[str, Any], me: str) -> str:
    """An agent's ``assign_request``: the id, then whom for, then the request (every fuzz agent takes all groups)."""
    request_id = data.get("request_id")
    if not well_formed_id(request_id):
        return "malformed"
    if data.get("agent", me) != me:
        return "forbidden"
    if not exists(world, request_id):
        return "not_found"
    if settled(world, request_id):
        return "invalid_transition"
    holder = assignee(world, request_id)
    return "already_assigned" if holder is not None and holder.decode() != me else "ack"


def assign_answer(world: World, data: Dict[str, Any]) -> str:
    """A supervisor's ``assign_request``: the agent named, the id, then the request."""
    agent, request_id = data.get("agent"), data.get("request_id")
    if not (is_text(agent, 64) and agent) or not well_formed_id(request_id) or agent not in AGENTS:
        return "malformed"
    if not exists(world, request_id):
        return "not_found"
    return "invalid_transition" if settled(world, request_id) else "ack"


def agent_kinds(requests: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    ids = request_ids(requests)
    return {"assign_request": st.one_of(fields(request_id=ids), fields(request_id=ids, agent=NAMES)),
            "request_done": fields(request_id=ids)}


@budget(120)
@given(data=st.data())
def test_agents_taking_requests_are_answered_as_documented(world: World, agents: AgentBench, data: st.DataObject) -> None:
    _refill(world, agents)
    pool = st.sampled_from(agents.requests)
    plausible = st.builds(lambda kind, request_id, key: {"type": kind, "id": key, "data": {"request_id": request_id}},
                          st.sampled_from(["assign_request", "assign_request", "assign_request", "request_done"]),
                          pool, UUIDS)
    frame = data.draw(framed(st.one_of(plausible, plausible, envelopes(agent_kinds(pool)))), label="frame")
    me = data.draw(st.sampled_from([ANN, BOB]), label="agent")
    client = world.run(agents.ann.ready()) if me == ANN else agents.bob
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    sent = envelope.get("data") or {}
    holder = assignee(world, sent.get("request_id"))
    if expectation.code:
        expected = expectation.code
    elif envelope.get("type") == "assign_request":
        expected = take_answer(world, sent, me)
    else:  # request_done, or a type drawn at random
        expected = agent_oracle(envelope, me, world, world.online())
    got = check(SURFACES[0], world.run(exchange(client, frame)), expectation, expected, {"requests", "request"})
    if got == "ack" and envelope["type"] == "assign_request":
        assert assignee(world, sent["request_id"]) == me.encode()
    elif got != "ack":
        assert assignee(world, sent.get("request_id")) == holder, "an error changed the assignment"


@budget(80)
@given(data=st.data())
def test_supervisors_assigning_requests_are_answered_as_documented(world: World, supervisor: Surface,
                                                                    agents: AgentBench, data: st.DataObject) -> None:
    _refill(world, agents)
    pool = st.sampled_from(agents.requests)
    plausible = st.builds(lambda request_id, agent, key: {"type": "assign_request", "id": key,
                                                          "data": {"request_id": request_id, "agent": agent}},
                          pool, st.sampled_from(sorted(AGENTS)), UUIDS)
    kinds = {"assign_request": fields(request_id=request_ids(pool), agent=NAMES), "requests": fields()}
    frame = data.draw(framed(st.one_of(plausible, plausible, envelopes(kinds))), label="frame")
    client = world.run(supervisor.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    sent = envelope.get("data") or {}
    holder = assignee(world, sent.get("request_id"))
    kind = envelope.get("type")
    expected = expectation.code or {"requests": "requests", "assign_request": None}.get(kind, "unknown_type") \
        or assign_answer(world, sent)
    got = check(SURFACES[1], world.run(exchange(client, frame)), expectation, expected, {"dashboard", "requests"})
    if got == "ack":
        assert assignee(world, sent["request_id"]) == sent["agent"].encode()
    elif got != "requests":
        assert assignee(world, sent.get("request_id")) == holder, "an error changed the assignment"
