"""Fuzzing ``suggest`` (suggested replies) like the rest of the protocol (tests/drills/test_fuzz.py, whose
bridge, strategies and checks this module uses).

/ws/agent gets ``suggest`` (and ``claim``, so that Ann serves some of the conversations), every field
plausible or anything JSON can say, and garbage frames. The oracle computes the answer
docs/bridge-protocol.md ("Suggested replies") gives for the input in the state Redis holds: a
``suggestions`` reply of the documented shape, or one error with the right code, never
``internal_error``; a suggestion changes no conversation. Each example opens a socket of its own, so
the per-socket limit (tested in tests/handoff/test_suggestions.py) does not depend on the fuzzer's pace.

    make drills ARGS="-k fuzz_suggestions"
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest
from hypothesis import given, strategies as st

from tests.drills.report import DrillReport, DrillResult
from tests.drills.test_fuzz import (  # noqa: F401 - the fixtures world and agents
    ANN, NO_REPLY, TALLIES, AgentBench, World, _refill, agent_oracle, agents, budget, check, classify,
    conversation_ids, envelopes, exchange, fields, framed, fuzzed, is_text, world,
)
from tests.drills.test_fuzz_workspace import plausible

SURFACE = "/ws/agent suggest"
SOURCES = {"faq", "agent"}


@pytest.fixture(scope="module", autouse=True)
def suggest_report(drill_report: DrillReport) -> Iterator[None]:
    yield
    counts = TALLIES.pop(SURFACE, None)  # reported here, not again by test_fuzz's report
    if counts is not None:
        codes = ", ".join(f"{code} {n}" for code, n in counts.errors.most_common()) or "none"
        drill_report.add(DrillResult(name=f"fuzz: {SURFACE}", sent=counts.sent, acknowledged=counts.answered,
                                     notes=f"{sum(counts.errors.values())} errors by code: {codes}"))


def suggest_oracle(world: World, envelope: Dict[str, Any]) -> str:
    """``suggest`` by Ann, who views nothing on a fresh socket: only a conversation she serves is answered."""
    conversation_id = envelope["data"].get("conversation_id")
    if not (is_text(conversation_id, 64) and conversation_id):
        return "malformed"
    snapshot = world.snapshot(conversation_id)
    if snapshot is None:
        return "not_found"
    return "suggestions" if snapshot.state == "agent" and snapshot.agent == ANN else "invalid_transition"


def every_type(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    ids = conversation_ids(pool)
    return {"claim": fields(conversation_id=ids), "suggest": fields(conversation_id=ids)}


def good_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    return {"claim": st.fixed_dictionaries({"conversation_id": pool}),
            "suggest": st.fixed_dictionaries({"conversation_id": pool})}


def assert_documented_shape(reply: Dict[str, Any], conversation_id: str) -> None:
    data = reply["data"]
    assert data["conversation_id"] == conversation_id
    assert data["message_id"] is None or isinstance(data["message_id"], str)
    assert isinstance(data["items"], list)
    for item in data["items"]:
        assert set(item) == {"text", "source", "score", "topic"} and item["source"] in SOURCES, item
        assert isinstance(item["text"], str) and item["text"] and isinstance(item["score"], float)


@budget(150)
@given(data=st.data())
def test_suggest_is_answered_as_documented(world: World, agents: AgentBench, data: st.DataObject) -> None:
    _refill(world, agents)
    pool = st.sampled_from([client.conversation_id for client in agents.pool])
    plausible_frame = framed(plausible(good_types(pool)))
    frame = data.draw(st.one_of(plausible_frame, plausible_frame, fuzzed(envelopes(every_type(pool)))), label="frame")
    ann = world.run(world.socket("agent", ANN))
    try:
        expectation = classify(frame)
        envelope = expectation.envelope or {}
        named = envelope.get("data", {}).get("conversation_id")
        before = world.snapshot(named)
        kind = envelope.get("type")
        if kind == "suggest":
            expected = expectation.code or suggest_oracle(world, envelope)
        else:
            expected = expectation.code or (agent_oracle(envelope, ANN, world, world.online())
                                            if kind == "claim" else "unknown_type")
        frames = world.run(exchange(ann, frame))
        got = check(SURFACE, frames, expectation, expected, {"suggestions"})
        if got == "suggestions":
            assert_documented_shape(next(f for f in frames if f["type"] == "suggestions"), named)
        if kind == "suggest" and got != NO_REPLY:
            assert world.snapshot(named) == before, "a suggestion changed the conversation"
    finally:
        world.run(ann.close())
