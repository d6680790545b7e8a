"""Drill: a bridge process killed (kill -9) in the middle of bot and agent conversations.

Alone, it is restarted on the same port and its clients reconnect to it; with
two processes behind a load balancer, its clients move to the survivor.
"""

from __future__ import annotations

import asyncio
import time
from typing import List

from redis.asyncio import Redis

from bench.stack import BENCH_LIMITS
from tests.drills.crowd import Crowd
from tests.drills.ledger import places_lost, queue_order, recoveries, recovery_note
from tests.drills.report import DrillReport
from tests.servers import BridgeServer, add_agent, started_bridge

AGENTS = ("ann", "bob", "cy")
TRAFFIC_BEFORE_SECONDS = 3.0
TRAFFIC_AFTER_SECONDS = 5.0


def add_agents(redis_url: str, prefix: str) -> None:
    for name in AGENTS:
        add_agent(redis_url, prefix, name, "--max-chats", "20")


async def kill_drill(name: str, redis_url: str, prefix: str, bridges: List[BridgeServer], restart: bool,
                     drill_report: DrillReport) -> None:
    """Bridges[0] is killed mid-traffic (and restarted when ``restart``); everyone must come through."""
    redis = Redis.from_url(redis_url)
    crowd = Crowd([bridge.address for bridge in bridges], AGENTS, bot=6, waiting=5, served=6)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        await asyncio.sleep(TRAFFIC_BEFORE_SECONDS)
        victim = bridges[0]
        mid_turn = await crowd.bot_in_the_middle_of_a_turn(redis, prefix, victim.address)
        on_victim = [client for client in crowd.clients if client.connected_to == victim.address]
        in_flight = crowd.in_flight()
        await asyncio.to_thread(victim.kill)
        if restart:
            await asyncio.to_thread(victim.start)
        fault_ended = time.monotonic()
        await asyncio.sleep(TRAFFIC_AFTER_SECONDS)
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)
        lost_places = places_lost(crowd.queued_before, queued_after)
        waits = recoveries(crowd.sends_by(on_victim), fault_ended)
        told = [c for c in crowd.waiting if c.status.get("state") == "queued" and c.status.get("position")]
        result = tally.result(name, lost_places, max(waits.values()),
                              f"{len(on_victim)} clients were on the killed process, {in_flight} sends in flight, "
                              f"{mid_turn}'s bot turn cut (answered once its routing lease ran out); "
                              f"{recovery_note(waits)}; "
                              f"{sum(c.connections for c in crowd.clients)} connections in all")
        drill_report.add(result)
        crowd.check(tally, result, fault_ended)
        assert len(told) == len(crowd.waiting), "every waiting customer is told their place again"
        assert on_victim and all(client.connections >= 2 for client in on_victim), "its clients reconnected"
        assert all(not customer.hello_errors for customer in crowd.customers)
    finally:
        await crowd.close()
        await redis.close()


def test_a_killed_bridge_restarted_on_its_port_loses_nothing(redis_url, rasa_url, drill_prefix, drill_report):
    add_agents(redis_url, drill_prefix)
    with started_bridge(redis_url, rasa_url, "drill-killed", drill_prefix, **BENCH_LIMITS) as bridge:
        asyncio.run(kill_drill("bridge kill -9, restarted", redis_url, drill_prefix, [bridge], True, drill_report))


def test_clients_of_a_killed_bridge_move_to_the_other_process(redis_url, rasa_url, drill_prefix, drill_report):
    add_agents(redis_url, drill_prefix)
    with started_bridge(redis_url, rasa_url, "drill-doomed", drill_prefix, **BENCH_LIMITS) as doomed, \
            started_bridge(redis_url, rasa_url, "drill-survivor", drill_prefix, **BENCH_LIMITS) as survivor:
        asyncio.run(kill_drill("bridge kill -9, clients move to the other", redis_url, drill_prefix,
                               [doomed, survivor], False, drill_report))
