"""Drill: one client floods the bridge with garbage while everyone else chats.

The flooder (tests/drills/flood.py, in its own process) sends oversized
frames, non-JSON, wrong types, unknown types, frames without an id and typing
signals far beyond the rate limit, then a frame over 1 MiB. It must get
structured errors (``too_large``, ``malformed``, ``unknown_type``,
``rate_limited``), the 1 MiB frame must close only its own socket, and it
must still be served normally afterwards. The other customers and agents must
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

from redis.asyncio import Redis

from bench.common import percentile, process_cpu_seconds
from bench.stack import BENCH_LIMITS
from tests.drills.crowd import Crowd, readiness
from tests.drills.ledger import places_lost, queue_order
from tests.drills.report import DrillReport
from tests.servers import ROOT, BridgeServer, add_agent, base_env, started_bridge

AGENTS = ("ann", "bob", "cy")
BEFORE_SECONDS = 5.0
FLOOD_SECONDS = 3.0


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
        p50_before, p50_during = statistics.median(before), statistics.median(during)
        codes = {code for by_kind in report["codes"].values() for code in by_kind}
        answered = sum(sum(by_kind.values()) for by_kind in report["codes"].values())
        result = tally.result(
            "flood: oversized, malformed, too frequent", places_lost(crowd.queued_before, queued_after), None,
            f"flooder sent {report['sent']} frames in {FLOOD_SECONDS:.0f} s, got {answered} errors "
            f"{sorted(codes)}; the bridge took {report['drained_seconds']:.1f} s to work through them, "
            f"bridge CPU {cpu:.1f} s meanwhile; "
            f"others' relay p50 {p50_before:.1f} -> {p50_during:.1f} ms (x{p50_during / p50_before:.2f}), "
            f"p99 {percentile(before, 0.99):.1f} -> {percentile(during, 0.99):.1f} ms during the flood "
            f"({len(before)}/{len(during)} messages)")
        drill_report.add(result)

        crowd.check(tally, result, flood_from)
        by_kind = report["codes"]
        assert set(by_kind["big"]) == {"too_large"}, by_kind
        assert set(by_kind["notobject"]) == {"malformed"}, by_kind
        assert "malformed" in by_kind["without id"], by_kind  # not JSON, or no id
        assert set(by_kind["without id"]) <= {"malformed", "rate_limited"}, by_kind
        assert set(by_kind["wrongtype"]) | set(by_kind["blank"]) <= {"malformed", "rate_limited"}, by_kind
        assert set(by_kind["unknown"]) <= {"unknown_type", "rate_limited"} and by_kind["unknown"], by_kind
        assert "'message'" in report["messages"]["unknown/unknown_type"][0], "the known types are listed"
        assert set(by_kind["typing"]) == {"rate_limited"}, by_kind
        assert "internal_error" not in codes
        assert report["close_code"] == 1009, "a frame over 1 MiB closes that socket (message too big)"
        assert report["acked_after_reconnect"], "the flooder is served normally after, on the same socket and a new one"
        assert health_during[0] == 200, health_during
        assert not any(client.errors for client in crowd.clients), [dict(c.errors) for c in crowd.clients]
        assert not any(send.errors for send in crowd.ledger.sends.values()), "nobody else got an error"
        assert during, "the others kept chatting during the flood"
    finally:
        await crowd.close()
        await redis.close()


def test_a_flooding_client_gets_errors_and_nobody_else_notices(redis_url, rasa_url, drill_prefix, drill_report):
    for agent in AGENTS:
        add_agent(redis_url, drill_prefix, agent, "--max-chats", "20")
    with started_bridge(redis_url, rasa_url, "drill-flood", drill_prefix, **BENCH_LIMITS) as bridge:
        asyncio.run(flood_drill(redis_url, drill_prefix, bridge, drill_report))
