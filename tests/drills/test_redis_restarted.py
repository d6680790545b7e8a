"""Drill: Redis goes away mid-conversation and comes back with its append-only file.

Redis runs with ``appendonly yes`` and ``appendfsync always``, so an
acknowledged message is on disk; it is stopped cleanly (SIGTERM) in one
variant and killed (kill -9) in the other, then started again on the same
port and data directory. While it is down the bridge answers ``internal_error``
instead of acks, and the clients retry with the same ids.

Rasa keeps its trackers (and locks) in Redis too, so the drill runs its own
Rasa on the drill's Redis, as ``make run`` does: the bot goes down with Redis,
and must answer again afterwards. Both variants share that Redis and that
Rasa (each has its own key prefix and bridge): the second one also shows that
Rasa comes through a second outage. (Its model still comes from the session's
model server: a model server is only a URL and a token.)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Iterator, NamedTuple

import pytest
from redis.asyncio import Redis

from harness.servers import (
    LOOPBACK_LIMITS, ModelServer, RasaServer, RedisServer, running_redis, started, started_bridge,
)
from tests.drills.crowd import Crowd, add_agents, readiness
from tests.drills.ledger import places_lost, queue_order, recoveries, recovery_note, slowest_recovery
from tests.drills.report import DrillReport

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
            name, places_lost(crowd.queued_before, queued_after), slowest_recovery(waits),
            f"down {fault_ended - fault_started:.1f} s, {in_flight} sends in flight; the bridge answered "
            f"{dict(during)} to sends and {dict(hello_errors)} to hellos meanwhile; {recovery_note(waits)}")
        drill_report.add(result)
        crowd.check(tally, result, fault_ended)
        assert set(during) <= {"internal_error"}, during
        assert ready[0] == 503 and ready[1]["checks"]["redis"] == "unavailable", ready
        assert any(send.acked_at for send in crowd.sends_by([newcomer])), "the newcomer got through"
        assert set(waits) == {client.name for client in crowd.clients}, f"acks again after the fault: {sorted(waits)}"
    finally:
        await crowd.close()
        await redis.close()


class PersistentStack(NamedTuple):
    redis: RedisServer
    rasa_url: str


@pytest.fixture(scope="module")
def persistent_stack(tmp_path_factory: pytest.TempPathFactory, model_server: ModelServer,
                     action_server_url: str) -> Iterator[PersistentStack]:
    """A Redis with an append-only file, and a Rasa keeping its trackers in it."""
    with running_redis("drill-redis", data_dir=tmp_path_factory.mktemp("drill-redis")) as redis_server, \
            started(RasaServer(model_server, redis_server.url, action_server_url, "drill-redis-rasa")) as rasa:
        yield PersistentStack(redis_server, rasa.url)


@pytest.mark.parametrize("kill", [False, True], ids=["stopped", "killed"])
def test_a_redis_restart_loses_no_acknowledged_message(kill: bool, persistent_stack: PersistentStack,
                                                        drill_report: DrillReport) -> None:
    how, tag = ("kill -9", "killed") if kill else ("stopped", "stopped")
    redis_server, prefix = persistent_stack.redis, f"drill-{tag}"
    add_agents(redis_server.url, prefix, AGENTS)
    try:
        with started_bridge(redis_server.url, persistent_stack.rasa_url, f"drill-redis-bridge-{tag}", prefix,
                            **LOOPBACK_LIMITS) as bridge:
            asyncio.run(redis_drill(f"Redis {how} and restarted (AOF, fsync always)", redis_server, prefix,
                                    bridge.address, kill, drill_report))
    finally:
        if redis_server.process is None or redis_server.process.poll() is not None:
            redis_server.start()  # a drill that failed during the outage leaves Redis up for the next one
