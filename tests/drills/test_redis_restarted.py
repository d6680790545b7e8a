"""Drill: Redis goes away mid-conversation and comes back with its append-only file.

Redis runs with ``appendonly yes`` and ``appendfsync always``, so an
acknowledged message is on disk; it is stopped cleanly (SIGTERM) in one
variant and killed (kill -9) in the other, then started again on the same
port and data directory. While it is down the bridge answers ``internal_error``
instead of acks, and the clients retry with the same ids.

Rasa keeps its trackers (and locks) in Redis too, so the drill runs its own
Rasa on the drill's Redis, as ``make run`` does: the bot goes down with Redis,
and must answer again afterwards. (Its model still comes from the session's
model server: a model server is only a URL and a token.)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bench.stack import BENCH_LIMITS
from tests.drills.crowd import Crowd, readiness
from tests.drills.ledger import places_lost, queue_order, recoveries, recovery_note
from tests.drills.report import DrillReport
from tests.servers import ModelServer, RedisServer, add_agent, running_rasa, started_bridge

AGENTS = ("ann", "bob", "cy")
OUTAGE_SECONDS = 2.0


async def redis_drill(name: str, redis_server: RedisServer, prefix: str, address: str, kill: bool,
                      drill_report: DrillReport) -> None:
    redis = Redis.from_url(redis_server.url)
    crowd = Crowd([address], AGENTS, bot=5, waiting=4, served=5)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        await asyncio.sleep(3)
        in_flight = crowd.in_flight()
        await asyncio.to_thread(redis_server.kill if kill else redis_server.stop)
        fault_started = time.monotonic()
        await asyncio.sleep(0.3)
        newcomer = await crowd.arrive()  # a customer opening the chat during the outage
        crowd.waiting[0].drop()  # and one whose network drops: it resumes during the outage
        await asyncio.sleep(OUTAGE_SECONDS)
        ready = await readiness(address)
        await asyncio.to_thread(redis_server.start)
        fault_ended = time.monotonic()
        await asyncio.sleep(5)
        await redis.close()
        redis = Redis.from_url(redis_server.url)
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)
        waits = recoveries(crowd.ledger.sends.values(), fault_ended)
        during = Counter(code for send in crowd.ledger.sends.values() for code in send.errors)
        hello_errors = Counter(code for customer in crowd.customers for code in customer.hello_errors)
        result = tally.result(
            name, places_lost(crowd.queued_before, queued_after), max(waits.values()),
            f"down {fault_ended - fault_started:.1f} s, {in_flight} sends in flight; the bridge answered "
            f"{dict(during)} to sends and {dict(hello_errors)} to hellos meanwhile; {recovery_note(waits)}")
        drill_report.add(result)
        crowd.check(tally, result, fault_ended)
        assert set(during) <= {"internal_error"}, during
        assert ready[0] == 503 and ready[1]["checks"]["redis"].startswith("error"), ready
        assert any(send.acked_at for send in crowd.sends_by([newcomer])), "the newcomer got through"
    finally:
        await crowd.close()
        await redis.close()


@pytest.mark.parametrize("kill", [False, True], ids=["stopped", "killed"])
def test_a_redis_restart_loses_no_acknowledged_message(kill: bool, tmp_path: Path, model_server: ModelServer,
                                                        action_server_url: str, drill_report: DrillReport) -> None:
    how = "kill -9" if kill else "stopped"
    tag = "killed" if kill else "stopped"
    redis_server = RedisServer(f"drill-redis-{tag}", data_dir=tmp_path)
    redis_server.start()
    prefix = "drill"
    try:
        for agent in AGENTS:
            add_agent(redis_server.url, prefix, agent, "--max-chats", "20")
        with running_rasa(model_server, redis_server.url, action_server_url, f"drill-redis-rasa-{tag}") as rasa_url, \
                started_bridge(redis_server.url, rasa_url, f"drill-redis-bridge-{tag}", prefix,
                               **BENCH_LIMITS) as bridge:
            asyncio.run(redis_drill(f"Redis {how} and restarted (AOF, fsync always)", redis_server, prefix,
                                    bridge.address, kill, drill_report))
    finally:
        redis_server.stop()
