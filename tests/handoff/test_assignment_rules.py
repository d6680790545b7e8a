"""Automatic assignment without I/O (the mode a supervisor sends, who may claim in an automatic group) and its
one Lua round against a real redis-server (handoff.assignment): who is offered what, in which order, and
what is withdrawn. Through the bridges: tests/handoff/test_assignment.py."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any, Awaitable, Callable, Dict, List, Sequence

import pytest
from redis.asyncio import Redis

from handoff.assignment import Assignment, Mode, may_claim, requested_mode
from handoff.exceptions import ConversationNotFound, InvalidTransition, MalformedMessage
from handoff.machine import AgentClaimed, CustomerAskedForPerson, State, apply
from handoff.store import Store
from tests.conftest import fresh_prefix

# ---- without I/O --------------------------------------------------------------------------------


def test_a_supervisor_sends_a_group_and_manual_or_automatic():
    assert requested_mode({"group": "cards", "mode": "automatic"}) == ("cards", Mode.AUTOMATIC)
    assert requested_mode({"group": "general", "mode": "manual"}) == ("general", Mode.MANUAL)
    for bad in ({}, {"group": "cards"}, {"group": "", "mode": "manual"}, {"group": "x" * 65, "mode": "manual"},
                {"group": 3, "mode": "manual"}, {"group": "cards", "mode": "Automatic"}, {"group": "cards", "mode": None}):
        with pytest.raises(MalformedMessage):
            requested_mode(bad)


def test_in_an_automatic_group_only_the_offered_agent_or_a_supervisor_may_take_a_chat():
    may_claim(Mode.MANUAL, None, "ann", ["agent"])
    may_claim(Mode.AUTOMATIC, "ann", "ann", ["agent"])
    may_claim(Mode.AUTOMATIC, "bob", "sam", ["agent", "supervisor"])
    for offered_to in (None, "bob"):
        with pytest.raises(InvalidTransition) as refused:
            may_claim(Mode.AUTOMATIC, offered_to, "ann", ["agent"])
        assert refused.value.code == "assigned_automatically"


# ---- the round, against Redis ---------------------------------------------------------------------


def run(redis_url: str, scenario: Callable[[Redis, str], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "assign") as (client, prefix):
            return await scenario(client, prefix)

    return asyncio.run(main())


async def team(redis: Redis, prefix: str, agents: Dict[str, Dict[str, Any]], away: Sequence[str] = ()) -> None:
    """Accounts (groups, max_chats, roles), all online; ``ready`` (ms ago) is how long each has been idle."""
    now = int(time.time() * 1000)
    for name, account in agents.items():
        record = {key: value for key, value in account.items() if key != "ready"}
        await redis.hset(f"{prefix}:agents", name, json.dumps(record))
        await redis.zadd(f"{prefix}:online", {f"{name}|conn": now + 60_000})
        await redis.hset(f"{prefix}:agent-status", name, f"{'away' if name in away else 'available'}|{now}")
        await redis.hset(f"{prefix}:agent-ready", name, now - account.get("ready", 0))


async def queued(store: Store, conversation_id: str, group: str = "general") -> None:
    await store.create(conversation_id, "token")
    before = await store.load(conversation_id)
    after, _ = apply(replace(before, group=group), CustomerAskedForPerson())
    stored = await store.commit(before, after, queue="add")
    assert stored is not None and stored.state is State.QUEUED
    await asyncio.sleep(0.002)  # distinct arrival times


def offers_by_agent(made: List[tuple]) -> Dict[str, List[str]]:
    by_agent: Dict[str, List[str]] = {}
    for conversation, agent in made:
        by_agent.setdefault(agent, []).append(conversation)
    return by_agent


def test_the_round_offers_in_arrival_order_to_the_least_busy_then_the_longest_idle(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        assignment = Assignment(store, 30)
        await team(redis, prefix, {"ann": {"groups": ["general"], "max_chats": 2, "ready": 1000},
                                   "bob": {"groups": ["all"], "max_chats": 2, "ready": 5000},
                                   "cy": {"groups": ["general"], "max_chats": 3, "ready": 9000},
                                   "sup": {"groups": ["all"], "roles": ["supervisor"], "ready": 99000},
                                   "dee": {"groups": ["cards"], "max_chats": 3, "ready": 99000},
                                   "eve": {"groups": ["general"], "max_chats": 3, "ready": 99000}}, away=["eve"])
        await redis.sadd(f"{prefix}:serving:cy", "elsewhere")  # cy serves one already
        for number in range(8):
            await queued(store, f"c{number}")
        assert await assignment.run_round() == ([], [])  # manual: nobody is offered anything
        await assignment.set_mode("general", Mode.AUTOMATIC)
        made, withdrawn = await assignment.run_round()
        assert withdrawn == []
        # c0: bob (nobody busy, bob idle longest), c1: ann (the least busy); then all three hold one: cy has been
        # idle longest, then bob, then ann; then ann and bob are full (2 each) and cy takes a third. The
        # supervisor-only account, the cards agent and the agent away get none; c6 and c7 wait for a free slot.
        assert made == [("c0", "bob"), ("c1", "ann"), ("c2", "cy"), ("c3", "bob"), ("c4", "ann"), ("c5", "cy")]
        assert await assignment.run_round() == ([], [])  # nothing twice
        assert await assignment.offered_to("c0") == "bob"

    run(redis_url, scenario)


def test_offers_run_out_go_with_an_agent_away_and_come_back_to_those_who_passed_only_when_nobody_else_can(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        assignment = Assignment(store, 1)
        await team(redis, prefix, {"ann": {"groups": ["general"], "max_chats": 1, "ready": 2000},
                                   "bob": {"groups": ["general"], "max_chats": 1, "ready": 1000}})
        await assignment.set_mode("general", Mode.AUTOMATIC)
        await queued(store, "c0")
        assert (await assignment.run_round())[0] == [("c0", "ann")]
        await assignment.decline("ann", "c0")
        with pytest.raises(ConversationNotFound):
            await assignment.decline("ann", "c0")  # hers no more
        assert (await assignment.run_round())[0] == [("c0", "bob")]  # not ann again while bob can
        await asyncio.sleep(1.1)  # bob lets it run out: back to ann, who passed over a second ago
        made, withdrawn = await assignment.run_round()
        assert withdrawn == [("c0", "bob")] and made == [("c0", "ann")]
        await redis.hset(f"{prefix}:agent-status", "ann", f"away|{int(time.time() * 1000)}")
        made, withdrawn = await assignment.run_round()
        assert withdrawn == [("c0", "ann")] and made == []  # bob passed under a second ago
        await asyncio.sleep(1.1)
        assert (await assignment.run_round())[0] == [("c0", "bob")]
        # Accepted: held for the claim (never withdrawn, not offered again), then gone with the claim.
        await assignment.take("bob", "c0")
        with pytest.raises(ConversationNotFound):
            await assignment.take("bob", "c0")
        await redis.hset(f"{prefix}:agent-status", "bob", f"away|{int(time.time() * 1000)}")
        assert await assignment.run_round() == ([], [])
        before = await store.load("c0")
        claimed, _ = apply(before, AgentClaimed("bob"))
        assert await store.commit(before, claimed, queue="remove") is not None
        await assignment.release("c0", "bob", taken=True)
        assert await assignment.offers() == []
        # Manual again: an offer is withdrawn.
        await redis.hset(f"{prefix}:agent-status", "ann", f"available|{int(time.time() * 1000)}")
        await queued(store, "c1")
        assert (await assignment.run_round())[0] == [("c1", "ann")]  # bob serves c0: full
        await assignment.set_mode("general", Mode.MANUAL)
        made, withdrawn = await assignment.run_round()
        assert made == [] and [conversation for conversation, _ in withdrawn] == ["c1"]

    run(redis_url, scenario)
