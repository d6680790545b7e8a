"""Scale benchmark: idle customer connections one bridge process holds, its memory per
connection, and relay latency with some of them active.

    python -m bench.scale                    # 1k, 2k, 5k, 10k customers; then 1,000 of them active for 30 s
    python -m bench.scale --quick            # 200 and 500 customers, 100 active for 10 s
    python -m bench.scale --steps 1000,5000,10000,15000 --seconds 60

One bridge process (shipped settings, no Rasa) and Redis. First ``--active`` customers get an
agent (``talk_to_person``, then agents serving ``--chats-per-agent`` chats each claim them:
bench/loadgen.py); then idle customers (each ``hello``: a real conversation, then silence)
open until the bridge holds each step's number of customers (those first ones included). At
each step: the bridge's RSS, Redis's used memory, the bridge's memory per customer over its
RSS before any connection, and the connect time (connect to the first ``status``) of the
step's new customers. Then, with every connection open, the ``--active`` customers send a
message every ``--interval`` seconds (random phases) for ``--seconds``, relayed to their
agents, while the others stay idle: customer -> agent latency (send to the agent's socket
receiving it) and the bridge's CPU. Last, every socket closes, and as many idle customers
connect and leave again (``--rounds``): open connections (/metrics) and pub/sub channels after
each round show what, if anything, stays behind, and so do the bridge's sockets' objects still
in memory and the full collections it has run to free closed sockets' (handoff.collector). RSS
does not fall back (Python keeps freed memory for reuse); a round's closed sockets are freed
some 30 s after they close (once Sanic lets go of them), so with short rounds RSS grows for a
round or two before it stays flat; a leak grows it at every round.

The clients run in ``--workers`` processes of their own and, like browsers, send no pings
(the bridge pings every socket). Targets (2 cores): 10,000 idle customers under 1 GB RSS of
the bridge process; 1,000 of them active with relay p99 <= 50 ms. Results: a Markdown table
and .run/bench/scale.json.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List, Optional, Sequence

import redis
import requests

from bench.common import latency_summary, markdown_table, process_rss_mb, write_result
from bench.loadgen import SHIPPED_GRACE, LoadGenerator, raise_fd_limit, running_generator
from bench.stack import Stack, running_stack
from harness.servers import admin_address

__all__ = ["main"]

TARGET_CONNECTIONS, TARGET_RSS_MB, TARGET_P99_MS = 10_000, 1024, 50.0
STEP_COLUMNS = ["customers", "agents", "bridge_rss_mb", "kb_per_customer", "redis_mb", "connect_p50_ms",
                "connect_p99_ms", "connects_per_s", "open_connections"]
ROUND_COLUMNS = ["round", "open_rss_mb", "closed_rss_mb", "open_connections", "channels", "redis_mb",
                 "socket_objects", "collections"]
ACTIVE_COLUMNS = ["customers", "active", "msg_s", "p50_ms", "p99_ms", "max_ms", "undelivered", "events",
                  "bridge_cpu_%", "bridge_wait_%", "bridge_rss_mb"]


def bridge_figures(address: str) -> Dict[str, Optional[int]]:
    """From the bridge's /metrics: its open websockets, its sockets' objects still in memory (open
    and closed ones not yet freed) and the full collections it ran for them (handoff.collector)."""
    metrics = requests.get(f"http://{admin_address(address)}/metrics", timeout=60).text
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    collections = values.get('handoff_process_events_total{event="garbage_collections"}')
    return {"open_connections": int(float(values["handoff_open_connections"])),
            "socket_objects": int(float(values["handoff_connection_objects"]))
            if "handoff_connection_objects" in values else None,
            "collections": int(float(collections)) if collections else 0}


def open_connections(address: str) -> int:
    """The bridge's own count of open websockets (/metrics)."""
    return bridge_figures(address)["open_connections"] or 0


def redis_state(stack: Stack) -> Dict[str, Any]:
    client = redis.Redis.from_url(stack.redis.url)
    try:
        return {"redis_mb": client.info("memory")["used_memory"] / 2**20,
                "channels": len(client.pubsub_channels(f"{stack.prefix}:*"))}
    finally:
        client.close()


def snapshot(stack: Stack, baseline_mb: float, customers: int) -> Dict[str, Any]:
    bridge = stack.bridges[0]
    rss = process_rss_mb(bridge.process.pid) if bridge.process else 0.0
    return {"bridge_rss_mb": rss, "kb_per_customer": round((rss - baseline_mb) * 1024 / customers, 1)
            if customers else None, **bridge_figures(bridge.address), **redis_state(stack)}


def open_idle(stack: Stack, generator: LoadGenerator, count: int, concurrency: int) -> Dict[str, Any]:
    workers = len(generator.processes)
    shares = [count // workers + (number < count % workers) for number in range(workers)]
    started = time.monotonic()
    results = generator.call("open_idle", [{"address": stack.bridges[0].address, "count": share,
                                            "concurrency": concurrency} for share in shares])
    elapsed = time.monotonic() - started
    milliseconds = [value for result in results for value in result["connect_ms"]]
    summary = latency_summary(milliseconds)
    return {"connect_p50_ms": summary["p50_ms"], "connect_p99_ms": summary["p99_ms"],
            "connects_per_s": round(count / elapsed)}


def close_everything(stack: Stack, generator: LoadGenerator, concurrency: int) -> Dict[str, Any]:
    """Every socket closes; what the bridge and Redis hold afterwards."""
    generator.call("close_all", [{"concurrency": concurrency}] * len(generator.processes))
    deadline = time.monotonic() + 60
    after = snapshot(stack, 0.0, 0)
    while (after["open_connections"] or after["channels"]) and time.monotonic() < deadline:
        time.sleep(0.5)  # the bridge notices every close and cleans up
        after = snapshot(stack, 0.0, 0)
    return {"closed_rss_mb": after["bridge_rss_mb"], "open_connections": after["open_connections"],
            "channels": after["channels"], "redis_mb": after["redis_mb"], "socket_objects": after["socket_objects"],
            "collections": after["collections"]}


def active_phase(stack: Stack, generator: LoadGenerator, interval: float, seconds: float,
                 warmup: float) -> Dict[str, Any]:
    bridge_pid = stack.bridges[0].process.pid if stack.bridges[0].process else 0
    run = generator.relay(1 / interval, 0.0, seconds, warmup, drain_seconds=10.0, watch=[bridge_pid])
    latencies = run.latencies_ms["customer_to_agent"]
    row: Dict[str, Any] = {"msg_s": round(len(latencies) / seconds), "undelivered": run.sent - len(latencies),
                           "events": run.describe_events(), "bridge_cpu_%": round(run.cpu_percent[0]),
                           "bridge_wait_%": round(run.wait_percent[0]),
                           "bridge_rss_mb": process_rss_mb(bridge_pid)}
    if row["undelivered"] or row["events"] != "-":  # a few messages a second: every one must arrive
        raise SystemExit(f"active phase: {row['undelivered']} undelivered, events {row['events']}")
    summary = latency_summary(latencies)
    row.update(p50_ms=summary["p50_ms"], p99_ms=summary["p99_ms"], max_ms=summary["max_ms"])
    return row


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1000,2000,5000,10000", help="customers connected at each step")
    parser.add_argument("--active", type=int, default=1000, help="customers (with an agent) who send messages")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between an active customer's messages")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds of the active phase")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the active phase not measured")
    parser.add_argument("--chats-per-agent", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--concurrency", type=int, default=50, help="connections each worker opens at once")
    parser.add_argument("--rounds", type=int, default=3, help="times the customers connect and all leave")
    parser.add_argument("--quick", action="store_true", help="200 and 500 customers, 100 active for 10 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.active, args.seconds, args.warmup = "200,500", 100, 10.0, 2.0
    steps = sorted(int(step) for step in str(args.steps).split(","))
    if args.active % args.chats_per_agent or args.active > steps[0]:
        parser.error("--active must be a multiple of --chats-per-agent and at most the first step")
    raise_fd_limit()  # the bridge inherits it

    step_rows: List[Dict[str, Any]] = []
    with running_stack(bridges=1, rasa=False, HANDOFF_AGENT_GRACE_SECONDS=SHIPPED_GRACE) as stack, \
            running_generator(args.workers) as generator:
        bridge = stack.bridges[0]
        time.sleep(1)
        baseline = snapshot(stack, 0.0, 0)
        step_rows.append({"customers": 0, "agents": 0, **baseline, "kb_per_customer": None})
        print(markdown_table(step_rows, STEP_COLUMNS), flush=True)
        agents = args.active // args.chats_per_agent
        seconds = generator.serve(stack.redis.url, stack.prefix, bridge.address, bridge.address, agents,
                                  args.chats_per_agent, concurrency=4)
        print(f"{args.active} customers claimed by {agents} agents in {seconds:.1f} s", flush=True)
        customers = args.active
        for step in steps:
            connecting = open_idle(stack, generator, step - customers, args.concurrency) if step > customers else {}
            customers = step
            step_rows.append({"customers": step, "agents": agents, **connecting,
                              **snapshot(stack, baseline["bridge_rss_mb"], step)})
            print(markdown_table(step_rows[-1:], STEP_COLUMNS).splitlines()[-1], flush=True)

        active = {"customers": customers, "active": args.active,
                  **active_phase(stack, generator, args.interval, args.seconds, args.warmup)}
        print(markdown_table([active], ACTIVE_COLUMNS).splitlines()[-1], flush=True)

        rounds = [{"round": 1, "open_rss_mb": step_rows[-1]["bridge_rss_mb"],
                   **close_everything(stack, generator, args.concurrency)}]
        for number in range(2, args.rounds + 1):
            open_idle(stack, generator, customers, args.concurrency)
            reopened = process_rss_mb(bridge.process.pid) if bridge.process else 0.0
            rounds.append({"round": number, "open_rss_mb": reopened,
                           **close_everything(stack, generator, args.concurrency)})

    print("\nConnections (the first step's customers are the ones later active; agents are extra sockets):")
    print(markdown_table(step_rows, STEP_COLUMNS))
    print(f"\nActive: {args.active} customers, a message every {args.interval:g} s, the others idle:")
    print(markdown_table([active], ACTIVE_COLUMNS))
    print(f"\n{customers} customers open, then all closed, {args.rounds} times (the first time with the agents and"
          f" the active customers, then idle customers only); before any: {baseline['bridge_rss_mb']:.0f} MB,"
          f" {baseline['channels']} pub/sub channels:")
    print(markdown_table(rounds, ROUND_COLUMNS))
    at_target = next((row for row in step_rows if row["customers"] == TARGET_CONNECTIONS), None)
    if at_target:
        print(f"{TARGET_CONNECTIONS} customers: {at_target['bridge_rss_mb']:.0f} MB RSS "
              f"(target < {TARGET_RSS_MB} MB)")
    if active.get("p99_ms") is not None:
        print(f"{args.active} active among {customers}: relay p99 {active['p99_ms']:.1f} ms "
              f"(target <= {TARGET_P99_MS:.0f} ms)")
    path = write_result("scale", {
        "settings": {key: getattr(args, key) for key in ("active", "interval", "seconds", "warmup",
                                                          "chats_per_agent", "workers", "concurrency", "rounds")},
        "steps": step_rows, "active": active, "rounds": rounds,
        "targets": {"rss_mb_at_10000": at_target["bridge_rss_mb"] if at_target else None,
                    "rss_target_mb": TARGET_RSS_MB, "active_p99_ms": active.get("p99_ms"),
                    "p99_target_ms": TARGET_P99_MS},
    })
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
