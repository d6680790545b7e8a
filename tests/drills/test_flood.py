"""Drill: one client floods the bridge with garbage while everyone else chats.

The flooder (tests/drills/flood.py, in its own process) sends one frame of
each bad kind (oversized, 800 KB of nested lists, non-JSON, wrong types, an
unknown type, a message without an id), each of which must get its own
structured error (``too_large``, ``malformed``, ``unknown_type``); then floods
with all of them and typing signals far beyond the rate limit, which must get
those errors or ``rate_limited``, then a frame over 1 MiB, which must close
only its own socket. It must still be served normally afterwards, on the same
socket and on a new one. The other customers and agents must
not notice: no errors, nothing lost, the bot answering. Their relay latency
during the flood is compared with before it, in the same run (a note in the
report, not an assertion: timings are not asserted).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import List

from redis.asyncio import Redis

from harness.servers import (
    LOOPBACK_LIMITS, ROOT, BridgeServer, base_env, process_cpu_seconds, started_bridge,
)
from tests.drills.crowd import Crowd, add_agents, readiness
from tests.drills.ledger import places_lost, queue_order
from tests.drills.report import DrillReport

AGENTS = ("ann", "bob", "cy")
BEFORE_SECONDS = 5.0
FLOOD_SECONDS = 3.0
# The documented answer to one frame of each kind (typing, within the rate limit, gets none).
SINGLE_ANSWERS = {"big": "too_large", "nested": "too_large", "nonjson": "malformed", "notobject": "malformed",
                  "wrongtype": "malformed", "unknown": "unknown_type", "blank": "empty_text", "noid": "malformed"}


def relay_summary(milliseconds: List[float]) -> str:
    if len(milliseconds) < 2:
        return f"{len(milliseconds)} messages"
    p99 = statistics.quantiles(milliseconds, n=100, method="inclusive")[98]
    return f"p50 {statistics.median(milliseconds):.1f} ms, p99 {p99:.1f} ms over {len(milliseconds)} messages"


async def flood_drill(redis_url: str, prefix: str, bridge: BridgeServer, drill_report: DrillReport) -> None:
    address = bridge.address
    assert bridge.process is not None
    redis = Redis.from_url(redis_url)
    crowd = Crowd([address], AGENTS, bot=4, waiting=3, served=6, pace=0.5)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        calm_from = time.monotonic()
        await asyncio.sleep(BEFORE_SECONDS)
        flooder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.drills.flood", address, str(FLOOD_SECONDS),
            cwd=ROOT, env=base_env(), stdout=asyncio.subprocess.PIPE)
        assert flooder.stdout is not None
        assert (await flooder.stdout.readline()).strip() == b"flooding"
        flood_from, cpu_from = time.monotonic(), process_cpu_seconds(bridge.process.pid)
        await asyncio.sleep(FLOOD_SECONDS / 2)
        health_during = await readiness(address)
        report = json.loads(await flooder.stdout.readline())
        flood_to = flood_from + report["drained_seconds"]
        cpu = process_cpu_seconds(bridge.process.pid) - cpu_from  # a little after flood_to
        await flooder.wait()
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)

        before = crowd.ledger.relay_ms(calm_from + 1, flood_from)
        during = crowd.ledger.relay_ms(flood_from, flood_to)
        codes = {code for by_kind in report["codes"].values() for code in by_kind}
        answered = sum(sum(by_kind.values()) for by_kind in report["codes"].values())
        result = tally.result(
            "flood: oversized, malformed, too frequent", places_lost(crowd.queued_before, queued_after), None,
            f"flooder sent {report['sent']} frames in {FLOOD_SECONDS:.0f} s, got {answered} errors "
            f"{sorted(codes)}; the bridge took {report['drained_seconds']:.1f} s to work through them, "
            f"bridge CPU {cpu:.1f} s meanwhile; "
            f"others' relay before it {relay_summary(before)}, during it {relay_summary(during)}")
        drill_report.add(result)

        crowd.check(tally, result, flood_from)
        assert report["singles"] == SINGLE_ANSWERS, report["singles"]
        assert "'message'" in report["single_messages"]["unknown"], "the known types are listed"
        by_kind = report["codes"]
        documented = {**SINGLE_ANSWERS, "without id": "malformed", "typing": "rate_limited", "end": "unknown_type"}
        for kind, by_code in by_kind.items():
            assert set(by_code) <= {documented.get(kind), "rate_limited"}, (kind, by_code)  # every frame takes a token
        assert by_kind["typing"] and by_kind["nested"] and "rate_limited" in codes, by_kind
        assert report["close_code"] == 1009, "a frame over 1 MiB closes that socket (message too big)"
        assert report["after_flood"] == "ack", "the flooder is served normally after, on the same socket"
        assert report["after_reconnect"] == "ack", "and on a new one"
        assert health_during[0] == 200, health_during
        assert not any(client.errors for client in crowd.clients), [dict(c.errors) for c in crowd.clients]
        assert not any(send.errors for send in crowd.ledger.sends.values()), "nobody else got an error"
        assert during, "the others kept chatting during the flood"
    finally:
        await crowd.close()
        await redis.close()


def test_a_flooding_client_gets_errors_and_nobody_else_notices(redis_url, rasa_url, drill_prefix, drill_report):
    add_agents(redis_url, drill_prefix, AGENTS)
    with started_bridge(redis_url, rasa_url, "drill-flood", drill_prefix, **LOOPBACK_LIMITS) as bridge:
        asyncio.run(flood_drill(redis_url, drill_prefix, bridge, drill_report))
