"""Response-time targets: HANDOFF_SLA's parsing, the due times a console counts down and risk, without I/O;
the clocks' scripts against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest

from handoff.exceptions import ConversationNotFound
from handoff.machine import State
from handoff.settings import Settings
from handoff.sla import Sla
from handoff.sla_rules import DEFAULT_TARGET, Target, breaches_today, due_times, parse_targets, risk, target_for
from handoff.store import Store
from tests.conftest import fresh_prefix

SECRET = {"HANDOFF_SECRET": "x" * 16}


def test_groups_get_their_targets_and_the_rest_the_default():
    targets = parse_targets("general=first:120,reply:60; cards=reply:45,first:60")
    assert target_for(targets, "cards") == Target(60, 45)
    assert target_for(targets, "general") == Target(120, 60)
    assert target_for(targets, "loans") == DEFAULT_TARGET
    assert target_for(parse_targets("default=first:30,reply:20"), "loans") == Target(30, 20)
    assert parse_targets("") == {"default": DEFAULT_TARGET}


@pytest.mark.parametrize("text", ["cards=first:60", "cards=first:60,reply:0", "cards=first:x,reply:4",
                                  "=first:1,reply:1", "cards=first:1,reply:1;cards=first:2,reply:2",
                                  "cards=first:1,first:2", "cards=first:1,reply:1,wait:3", "cards"])
def test_bad_targets_stop_the_bridge_at_start_with_a_clear_error(text):
    with pytest.raises(ValueError, match="HANDOFF_SLA"):
        Settings.from_env({**SECRET, "HANDOFF_SLA": text})


def test_the_first_response_is_due_from_the_first_queuing_until_an_agent_answers():
    target = Target(first_seconds=60, reply_seconds=30)
    waiting = {"waiting_since": "1000"}
    for state in (State.QUEUED, State.AGENT):
        assert due_times(target, state, waiting) == {"first_response_due_ms": 61_000, "reply_due_ms": None,
                                                     "first_response_seconds": 60, "reply_seconds": 30}
    # The first answer's clock runs over a customer's messages to the agent: one target at a time.
    assert due_times(target, State.AGENT, {**waiting, "sla_reply_from": "5000"})["reply_due_ms"] is None
    assert due_times(target, State.BOT, waiting)["first_response_due_ms"] is None


def test_after_the_first_answer_the_reply_is_due_from_the_earliest_unanswered_message():
    target = Target(first_seconds=60, reply_seconds=30)
    answered = {"waiting_since": "1000", "sla_first_met": "1000"}
    assert due_times(target, State.AGENT, answered)["first_response_due_ms"] is None
    assert due_times(target, State.AGENT, answered)["reply_due_ms"] is None
    assert due_times(target, State.AGENT, {**answered, "sla_reply_from": "9000"})["reply_due_ms"] == 39_000
    assert due_times(target, State.CLOSED, {**answered, "sla_reply_from": "9000"})["reply_due_ms"] is None
    # A new handoff (a new waiting_since) owes a first response again.
    assert due_times(target, State.QUEUED, {**answered, "waiting_since": "50000"})["first_response_due_ms"] == 110_000


def test_at_risk_with_a_quarter_left_and_breached_past_due():
    sla = due_times(Target(first_seconds=100, reply_seconds=30), State.QUEUED, {"waiting_since": "0"})
    assert risk(sla, 74_000) is None
    assert risk(sla, 75_000) == {"kind": "first", "seconds_left": 25}
    assert risk(sla, 101_500) == {"kind": "first", "seconds_left": -2}


def test_breaches_today_by_kind_group_and_agent():
    counters = {"sla:first": 2, "sla:first:group:cards": 2, "sla:first:agent:ann": 1, "sla:first:agent:bob": 1,
                "sla:reply": 1, "sla:reply:group:general": 1, "sla:reply:agent:ann": 1, "conversations": 9}
    assert breaches_today(counters) == {
        "first": {"count": 2, "by_group": {"cards": 2}, "by_agent": {"ann": 1, "bob": 1}},
        "reply": {"count": 1, "by_group": {"general": 1}, "by_agent": {"ann": 1}},
    }
    assert breaches_today({})["reply"] == {"count": 0, "by_group": {}, "by_agent": {}}


# ---- the clocks' scripts, against a real redis-server (tests/conftest.py) ----------------------------


def test_the_clocks_only_touch_a_conversation_that_still_exists_and_a_breach_counts_once(redis_url):
    async def scenario() -> None:
        async with fresh_prefix(redis_url, "sla") as (redis, prefix):
            store = Store(redis, prefix)
            sla = Sla(store, parse_targets("general=first:60,reply:30"))
            with pytest.raises(ConversationNotFound):  # expired meanwhile: it must not come back without a lifetime
                await store.append("gone", "customer", "customer:k0", "hello?")
            assert not await redis.exists(store.key("conv", "gone"))
            await store.create("c1", "token")
            await redis.hset(store.key("conv", "c1"),
                             mapping={"waiting_since": 1_000, "group": "general", "state": "agent", "agent": "ann"})
            assert await sla.agent_replied("c1", "ann", "2026-12-07", 62_000) == ["first"]
            # The append that stores a customer's message to the agent starts the reply clock, at its id's time.
            first = await store.append("c1", "customer", "customer:k1", "are you there?")
            await store.append("c1", "customer", "customer:k2", "Yes", {"payload": "/affirm"})
            assert await redis.hget(store.key("conv", "c1"), "sla_reply_from") == first.id.split("-")[0].encode(), \
                "the earliest unanswered message keeps the clock"
            late_ms = int(first.id.split("-")[0]) + 31_000
            agents = ("ann", "bob", "ann")  # answers stored at once (two consoles, a colleague): one is late
            answers = await asyncio.gather(*(sla.agent_replied("c1", agent, "2026-12-07", late_ms) for agent in agents))
            assert sorted(map(tuple, answers)) == [(), (), ("reply",)]
            late = next(agent for agent, kinds in zip(agents, answers) if kinds)
            counters, _ = await store.day("2026-12-07")
            assert {name: value for name, value in counters.items() if name.startswith("sla:")} == {
                "sla:first": 1, "sla:first:group:general": 1, "sla:first:agent:ann": 1,
                "sla:reply": 1, "sla:reply:group:general": 1, f"sla:reply:agent:{late}": 1}

    asyncio.run(scenario())
