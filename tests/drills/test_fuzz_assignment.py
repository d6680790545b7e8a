"""Fuzzing automatic assignment's message types like the rest of the protocol (tests/drills/test_fuzz.py, whose
strategies, exchange and checks this module uses).

/ws/supervisor gets ``assignment_mode`` and ``assign`` (and ``dashboard``); /ws/agent gets ``offer_accept``,
``offer_decline``, ``claim`` and ``close`` about the bench's conversations while the general group is
assigned automatically (the bridge offers each queued one to Ann or Bob), every field plausible or anything
JSON can say, and garbage frames. The oracles compute the answer docs/bridge-protocol.md ("Automatic
assignment", "Per-agent view and assigning") gives for the input in the state Redis holds: the ack, or one error with the right code, never
``internal_error``; an ack's change is then checked in Redis, and an error changes nothing.

The module's bridge has no Rasa behind it ("talk to a person" queues with the bridge's own summary: the
assignment path never asks the bot) and offers that last an hour, with a round every minute: in between,
offers change only with what the examples do, so what the oracle reads is what the bridge decides on.

    make drills ARGS="-k fuzz_assignment"
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, Iterator, Optional

import pytest
import redis as redis_sync
from hypothesis import given, strategies as st

from handoff_client import Customer
from harness.clients import login
from harness.servers import add_agent, delete_prefixed_keys, started_bridge
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (  # noqa: F401 - the fixtures agents and supervisor
    ACCOUNTS, AGENTS, ANN, BOB, COLE, NO_REPLY, SUE, reported, AgentBench, Surface, World, _refill, agent_oracle, agents, budget,
    check, classify, conversation_ids, either, envelopes, exchange, fields, framed, fuzzed, is_text, request, supervisor,
)

SURFACES = ("/ws/supervisor assignment", "/ws/agent assignment", "/ws/supervisor assign")
MODES = ("manual", "automatic")
SETTLE_SECONDS = 0.3  # the round that follows a change (a queued conversation, a close) has run by then


@pytest.fixture(scope="module")
def world(redis_url: str) -> Iterator[World]:
    """test_fuzz's world on a bridge without Rasa (no model to serve), for this module alone."""
    prefix = f"fuzzassign{uuid.uuid4().hex[:8]}"
    for name, options in ((ANN, ["--max-chats", "500"]), (BOB, ["--max-chats", "500"]),
                          (SUE, ["--roles", "supervisor"]), (COLE, ["--roles", "content"])):
        add_agent(redis_url, prefix, name, *options)
    loop = asyncio.new_event_loop()
    client = redis_sync.Redis.from_url(redis_url)
    with started_bridge(redis_url, "http://127.0.0.1:9", "fuzz-assign-bridge", prefix,
                        HANDOFF_MESSAGES_PER_SECOND="1000", HANDOFF_MESSAGE_BURST="1000",
                        HANDOFF_MAX_CONNECTIONS_PER_IP="200", HANDOFF_MAX_NEW_CONVERSATIONS="1000000",
                        HANDOFF_MAX_QUEUE_ENTRIES="1000000", HANDOFF_MAX_QUEUE_LENGTH="1000000",
                        HANDOFF_CUSTOMER_GONE_SECONDS="86400", HANDOFF_ASSIGN_ACCEPT_SECONDS="3600",
                        HANDOFF_ASSIGN_ROUND_SECONDS="60") as server:
        tokens = {name: login(server.address, name).json()["token"] for name in ACCOUNTS}
        yield World(loop, server, client, prefix, "", "", tokens)
    loop.close()
    client.close()
    delete_prefixed_keys(redis_url, prefix)


@pytest.fixture(scope="module", autouse=True)
def assignment_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, SURFACES)  # here, not again by test_fuzz's report


# ---- Redis as the oracles read it ------------------------------------------------------------------


def modes(world: World) -> Dict[str, str]:
    return {group.decode(): mode.decode() for group, mode in world.redis.hgetall(f"{world.prefix}:assign-mode").items()}


def offer(world: World, conversation_id: Any) -> Optional[Dict[str, Any]]:
    """The conversation's offer: to whom, until when (ms), whether accepted (held for its claim)."""
    if not is_text(conversation_id, 64) or not conversation_id:
        return None
    raw = world.redis.hget(f"{world.prefix}:offers", conversation_id)
    if raw is None:
        return None
    agent, expires, _, held = raw.decode().rsplit("|", 3)
    return {"agent": agent, "expires": int(expires), "held": held == "1"}


# ---- what the protocol document says ----------------------------------------------------------------


def supervisor_oracle(envelope: Dict[str, Any]) -> str:
    kind, data = envelope["type"], envelope["data"]
    if kind == "dashboard":
        return "dashboard"
    if kind != "assignment_mode":
        return "unknown_type"
    group, mode = data.get("group"), data.get("mode")
    return "ack" if is_text(group, 64) and group and mode in MODES else "malformed"


def agent_assignment_oracle(world: World, envelope: Dict[str, Any]) -> str:
    kind, data = envelope["type"], envelope["data"]
    conversation_id = data.get("conversation_id")
    if kind in ("offer_accept", "offer_decline"):
        if not (is_text(conversation_id, 64) and conversation_id):
            return "malformed"
        held = offer(world, conversation_id)
        open_to_ann = held is not None and held["agent"] == ANN and not held["held"] and held["expires"] > time.time() * 1000
        return "ack" if open_to_ann else "not_found"
    if kind == "claim" and is_text(conversation_id, 64) and conversation_id:
        snapshot = world.snapshot(conversation_id)
        automatic = modes(world).get("general") == "automatic"
        held = offer(world, conversation_id)
        if (snapshot is not None and snapshot.state == "queued" and automatic
                and (held is None or held["agent"] != ANN)):
            return "assigned_automatically"  # Ann is an agent, not a supervisor
    return agent_oracle(envelope, ANN, world, world.online())


# ---- strategies -----------------------------------------------------------------------------------

GROUPS = either(st.sampled_from(["general", "cards", "all", "x" * 64, "x" * 65, ""]), st.text(max_size=10))
MODE_VALUES = either(st.sampled_from([*MODES, "Automatic", "auto", ""]))


def agent_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    ids = conversation_ids(pool)
    return {"offer_accept": fields(conversation_id=ids), "offer_decline": fields(conversation_id=ids),
            "claim": fields(conversation_id=ids), "close": fields(conversation_id=ids)}


def good_agent_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    return {kind: st.fixed_dictionaries({"conversation_id": pool})
            for kind in ("offer_accept", "offer_accept", "offer_decline", "claim", "close")}


def plausible(types: Dict[str, st.SearchStrategy[Dict[str, Any]]]) -> st.SearchStrategy[Dict[str, Any]]:
    return st.sampled_from(sorted(types)).flatmap(
        lambda kind: st.builds(lambda data, key: {"type": kind, "id": key, "data": data}, types[kind], st.uuids().map(str)))


# ---- the tests --------------------------------------------------------------------------------------


@budget(100)
@given(frame=st.one_of(framed(plausible({"assignment_mode": st.fixed_dictionaries(
    {"group": st.sampled_from(["general", "cards"]), "mode": st.sampled_from(MODES)})})),
    fuzzed(envelopes({"dashboard": fields(), "assignment_mode": fields(group=GROUPS, mode=MODE_VALUES)}))))
def test_supervisors_choice_of_mode_is_answered_as_documented(world: World, supervisor: Surface, frame: Any) -> None:
    client = world.run(supervisor.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    expected = expectation.code or supervisor_oracle(envelope)
    before = modes(world)
    got = check(SURFACES[0], world.run(exchange(client, frame)), expectation, expected, {"dashboard"})
    if got == "ack":
        sent = envelope["data"]
        assert modes(world).get(sent["group"], "manual") == sent["mode"]
    elif got not in ("dashboard", NO_REPLY):
        assert modes(world) == before, "an error changed the modes"


@pytest.fixture(scope="module")
def present(world: World) -> Iterator[Dict[str, Customer]]:
    """The bench's customers with a page open (a socket read in a task): one whose page has gone is offered to
    nobody (handoff.assignment)."""
    pages: Dict[str, Customer] = {}
    yield pages
    for page in pages.values():
        world.run(page.close())


def offers_for_ann(world: World, agents: AgentBench, present: Dict[str, Customer]) -> None:
    """The bench's conversations queued again, their customers there, and offered: Bob declines his offers, so
    that they go to Ann (who is asked again whatever she passed on before)."""
    world.redis.hset(f"{world.prefix}:assign-mode", "general", "automatic")
    _refill(world, agents)
    for pooled in agents.pool:
        page = present.get(pooled.conversation_id)
        if page is None or not page.running:
            page = Customer(world.address, conversation_id=pooled.conversation_id, token=pooled.token)
            world.run(page.start())
            present[pooled.conversation_id] = page
    for pooled in agents.pool:
        world.redis.delete(f"{world.prefix}:passed:{pooled.conversation_id}")
    time.sleep(SETTLE_SECONDS)  # the bench's queued conversations are offered to Ann or Bob
    for pooled in agents.pool:
        if (offer(world, pooled.conversation_id) or {}).get("agent") == BOB:
            world.run(request(agents.bob, "offer_decline", {"conversation_id": pooled.conversation_id}))
    time.sleep(SETTLE_SECONDS)


@budget(150)
@given(data=st.data())
def test_agents_offers_are_answered_as_documented(world: World, agents: AgentBench, present: Dict[str, Customer],
                                                  data: st.DataObject) -> None:
    ann = world.run(agents.ann.ready())  # online before the offers are made
    offers_for_ann(world, agents, present)
    pool = st.sampled_from([client.conversation_id for client in agents.pool])
    frame = data.draw(st.one_of(framed(plausible(good_agent_types(pool))), framed(plausible(good_agent_types(pool))),
                                fuzzed(envelopes(agent_types(pool)))), label="frame")
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    named = envelope.get("data", {}).get("conversation_id")
    before, offered_before = world.snapshot(named), offer(world, named)
    expected = expectation.code or (agent_assignment_oracle(world, envelope)
                                    if envelope.get("type") in agent_types(st.nothing()) else "unknown_type")
    got = check(SURFACES[1], world.run(exchange(ann, frame)), expectation, expected, set())
    after = world.snapshot(named)
    if got == "ack" and envelope["type"] == "offer_accept":
        assert after is not None and after.state == "agent" and after.agent == ANN
        assert offer(world, named) is None  # taken out with the claim
    elif got == "ack" and envelope["type"] == "offer_decline":
        assert after == before and (offer(world, named) or {}).get("agent") != ANN
        assert world.redis.zscore(f"{world.prefix}:passed:{named}", ANN) is not None
    elif got not in ("ack", NO_REPLY) and before is not None:
        assert after == before, "an error changed the conversation"
        assert offer(world, named) == offered_before, "an error changed the offer"


def assign_oracle(world: World, envelope: Dict[str, Any]) -> str:
    """``assign``'s answer, its checks in the documented order: the fields, the agent (an agent's account,
    online, not away), then the conversation (there, and still queued)."""
    kind, data = envelope["type"], envelope["data"]
    if kind == "dashboard":
        return "dashboard"
    if kind != "assign":
        return "unknown_type"
    conversation_id, agent = data.get("conversation_id"), data.get("agent")
    if not (is_text(conversation_id, 64) and conversation_id) or not (is_text(agent, 64) and agent):
        return "malformed"
    if agent not in AGENTS:
        return "malformed"
    if agent not in world.online() or world.away(agent):
        return "invalid_transition"
    snapshot = world.snapshot(conversation_id)
    if snapshot is None:
        return "not_found"
    return "ack" if snapshot.state == "queued" else "not_waiting"


ASSIGNEES = (ANN, BOB, SUE, COLE, "nobody")


@budget(80)
@given(data=st.data())
def test_supervisors_assign_is_answered_as_documented(world: World, supervisor: Surface, agents: AgentBench,
                                                      data: st.DataObject) -> None:
    ann = world.run(agents.ann.ready())  # online, as Bob is
    for pooled in agents.pool:  # what an example assigned to Ann goes back to the bot, then to the queue
        snapshot = world.snapshot(pooled.conversation_id)
        if snapshot is not None and snapshot.state == "agent" and snapshot.agent == ANN:
            world.run(request(ann, "hand_back", {"conversation_id": pooled.conversation_id}))
    _refill(world, agents)
    client = world.run(supervisor.ready())
    pool = st.sampled_from([pooled.conversation_id for pooled in agents.pool])
    good = {"assign": st.fixed_dictionaries({"conversation_id": pool, "agent": st.sampled_from(ASSIGNEES)})}
    names = either(st.sampled_from([*ASSIGNEES, "", "x" * 65]), st.text(max_size=10))
    frame = data.draw(st.one_of(framed(plausible(good)), framed(plausible(good)), fuzzed(envelopes(
        {"dashboard": fields(), "assign": fields(conversation_id=conversation_ids(pool), agent=names)}))), label="frame")
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    named = envelope.get("data", {}).get("conversation_id") if isinstance(envelope.get("data"), dict) else None
    before = world.snapshot(named)
    expected = expectation.code or assign_oracle(world, envelope)
    got = check(SURFACES[2], world.run(exchange(client, frame)), expectation, expected, {"dashboard"})
    after = world.snapshot(named)
    if got == "ack":
        assert after is not None and after.state == "agent" and after.agent == envelope["data"]["agent"]
    elif got not in ("dashboard", NO_REPLY) and before is not None:
        assert after == before, "an error changed the conversation"
