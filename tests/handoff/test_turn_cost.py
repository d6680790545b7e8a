"""What one bot turn costs the bridge in Redis, counted through a real bridge (issue 15).

Every round trip to Redis on a customer's turn adds to the latency of the bot's answer (docs/benchmarks.md,
"Bridge cost per bot turn"): the count is pinned here so that a change cannot add one back unnoticed. It is
a count, not a timing: Redis's MONITOR lists the commands the bridge sends while the customer's message is
stored, answered by Rasa and delivered, a command sent by a client being one round trip (MULTI ... EXEC one
too) and those a script runs on its behalf (client type ``lua``) none.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Tuple

import pytest
from redis.asyncio import Redis

from handoff_client import Customer
from harness.clients import queued_customer, staff
from harness.servers import add_agent, running_bridge, running_redis

# A customer's turn the bot answers itself: the message stored with its routing lease taken (one script),
# then the bot's answer stored and the message marked routed (one script), however many messages it has.
ROUND_TRIPS_PER_BOT_TURN = 2
# A customer's message to people, queued or served: stored, marked routed, announced and (served) the reply
# clock started by one script; a queued customer's later messages find their stay told (kept_for_person) in it.
ROUND_TRIPS_PER_MESSAGE_TO_PEOPLE = 1
# Turns of one conversation (the first also counts it for the day, in the same step), of which the fewest
# round trips count: the bridge's timers (presence, slots) may fall into one of them.
TURNS = ["hello", "how do I change my pin", "how do I reset my password"]


@pytest.fixture(scope="module")
def own_bridge(rasa_url: str) -> Iterator[Tuple[str, str]]:
    """A bridge with a Redis of its own (Rasa keeps its trackers in the session's): nothing else
    talks to it. The sweepers' timers are long, so that they rarely fall into a turn."""
    with running_redis("turn-redis") as redis_server:
        add_agent(redis_server.url, "hbturn", "ann")
        with running_bridge(redis_server.url, rasa_url, "bridge-turn", "hbturn",
                            HANDOFF_AGENT_GRACE_SECONDS="3600", HANDOFF_CUSTOMER_GONE_SECONDS="3600",
                            HANDOFF_ASSIGN_ROUND_SECONDS="60") as address:
            yield address, redis_server.url


async def _commands_during(redis_url: str, turn: Callable[[], Awaitable[None]]) -> List[Dict[str, Any]]:
    """Every command Redis ran while ``turn`` ran (and a moment after, for the deliveries)."""
    redis = Redis.from_url(redis_url)
    seen: List[Dict[str, Any]] = []
    try:
        async with redis.monitor() as monitor:
            async def listen() -> None:
                async for command in monitor.listen():
                    seen.append(command)
            listening = asyncio.create_task(listen())
            await asyncio.sleep(0.1)  # MONITOR is on before the turn starts
            await turn()
            await asyncio.sleep(0.3)
            listening.cancel()
    finally:
        await redis.close()
    return seen


def _round_trips(commands: List[Dict[str, Any]]) -> int:
    """Commands a client sent (not a script's); a transaction's commands between MULTI and EXEC are one."""
    round_trips, in_transaction = 0, False
    for command in commands:
        if command["client_type"] == "lua":
            continue
        name = command["command"].split(" ", 1)[0].upper()
        if name == "MULTI":
            in_transaction = True
            round_trips += 1
        elif name == "EXEC":
            in_transaction = False
        elif not in_transaction:
            round_trips += 1
    return round_trips


async def _turn(customer: Customer, text: str) -> None:
    key = await customer.say(text)
    await customer.acknowledged(key)
    await customer.expect("message", kind="bot")


def test_a_bot_turn_costs_two_redis_round_trips(own_bridge: Tuple[str, str]) -> None:
    address, redis_url = own_bridge

    async def scenario() -> List[int]:
        customer = await Customer.connect(address)
        try:
            counts = []
            for text in TURNS:
                commands = await _commands_during(redis_url, lambda: _turn(customer, text))
                assert any(command["client_type"] == "lua" for command in commands)  # the turn was seen
                counts.append(_round_trips(commands))
            return counts
        finally:
            await customer.close()

    assert min(asyncio.run(scenario())) == ROUND_TRIPS_PER_BOT_TURN


def test_a_message_to_people_costs_one_redis_round_trip(own_bridge: Tuple[str, str]) -> None:
    """Queued (after the stay's first message, which is told it is kept and reads the wait) and served alike."""
    address, redis_url = own_bridge

    async def said(customer: Customer, text: str) -> None:
        await customer.acknowledged(await customer.say(text))

    async def scenario() -> Dict[str, int]:
        customer = await queued_customer(address)
        agent = None
        try:
            await said(customer, "is anyone there?")
            await customer.expect("message", kind="system", data={"notice": "kept_for_person", "offer": ["callback", "message"]})
            counts: Dict[str, List[int]] = {"queued": [], "served": []}
            for text in ("my card has not come", "it was sent last month", "I live abroad"):
                commands = await _commands_during(redis_url, functools.partial(said, customer, text))
                assert any(command["client_type"] == "lua" for command in commands)  # the message was seen
                counts["queued"].append(_round_trips(commands))
            agent = await staff(address, "ann")
            await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
            await customer.expect("status", state="agent")
            for text in ("hello ann", "my card has not come", "it was sent last month"):
                commands = await _commands_during(redis_url, functools.partial(said, customer, text))
                assert any(command["client_type"] == "lua" for command in commands)
                counts["served"].append(_round_trips(commands))
            return {kind: min(found) for kind, found in counts.items()}
        finally:
            await customer.close()
            if agent is not None:
                await agent.close()

    assert asyncio.run(scenario()) == {"queued": ROUND_TRIPS_PER_MESSAGE_TO_PEOPLE,
                                       "served": ROUND_TRIPS_PER_MESSAGE_TO_PEOPLE}
