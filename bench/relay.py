"""Relay benchmark: customer <-> agent latency and throughput through the bridge.

    python -m bench.relay                    # one and two bridge processes, 100 ... 4,000 msg/s, 10 s a step
    python -m bench.relay --quick            # a small check: 100 and 500 msg/s, 3 s a step
    python -m bench.relay --modes two --steps 500,1000,1500 --seconds 20

Two set-ups, each on a fresh stack (Redis and bridges, no Rasa):
  one  one bridge process; customers and agents connect to it
  two  two bridge processes sharing one Redis; customers on the first, agents on the second
``--conversations`` conversations, each claimed by one of ``conversations / --chats-per-agent``
agents (bench/loadgen.py sets them up). At each offered load R (messages a second, both
directions together) every customer sends R / 2 / conversations messages a second and every
agent as many for each of its chats, at even intervals with random phases. Latency is from a
client sending a ``message`` to the other side's socket receiving it (customer -> agent and
agent -> customer, pooled; each direction's p99 is shown too), for messages sent after a
warm-up; each step gets a few seconds to deliver what it sent ("undelivered": not in by then).
The steps stop at saturation: fewer messages delivered than 95 % of those offered, or p99 over
``--max-p99-ms``.

Shipped limits: each socket may send HANDOFF_MESSAGES_PER_SECOND (5) on average, bursts of 10,
agents' sockets included, so the default number of conversations keeps every socket at or
under 80 % of that at the top step (an agent's socket sends for all its chats). Agent
grace is the shipped 60 s (the set-up reconnects agents).

The load generator runs in ``--workers`` processes of its own; CPU per step is shown for each
bridge, Redis and the generator (100 % = one core; the machine has only a few, so the
generator's share is taken from the bridge's), with ``bridge_ms_per_msg`` (the bridges' CPU
per message relayed, which sets where one saturates) and ``bridge_wait_%`` (the time a
bridge was ready to run but every core was busy: latency that other processes caused; on a
quiet machine it stays near 0). Targets (2 cores, loopback): p99 <= 5 ms at 1,000 msg/s
with one process, <= 10 ms with two. Results: a Markdown table and .run/bench/relay.json.
"""

from __future__ import annotations

import argparse
import math
from contextlib import ExitStack
from typing import Any, Dict, List, Optional, Sequence

from bench.common import latency_summary, markdown_table, write_result
from bench.loadgen import SHIPPED_GRACE, LoadGenerator, raise_fd_limit, running_generator
from bench.stack import Stack, running_stack
from handoff.settings import Settings

__all__ = ["main"]

DEFAULT_STEPS = [0, 100, 250, 500, 1000, 2000, 4000]  # 0: idle, the bridges' own work with the sockets open
SOCKET_SHARE = 0.8  # of the per-socket message limit, at the top step
TARGETS_MS = {"one": 5.0, "two": 10.0}
TARGET_RATE = 1000
COLUMNS = ["mode", "offered_msg_s", "sent_msg_s", "delivered_msg_s", "p50_ms", "p99_ms", "max_ms", "p99_c2a_ms",
           "p99_a2c_ms", "undelivered", "late_sends", "events", "bridge_cpu_%", "bridge_wait_%", "bridge_ms_per_msg",
           "redis_cpu_%", "generator_cpu_%"]


def default_conversations(top_rate: int, chats_per_agent: int) -> int:
    """Enough conversations that no socket sends over SOCKET_SHARE of the shipped limit at ``top_rate``."""
    per_socket = Settings().messages_per_second * SOCKET_SHARE
    return chats_per_agent * math.ceil(top_rate / 2 / per_socket)


def relay_step(stack: Stack, generator: LoadGenerator, rate: float, conversations: int, chats_per_agent: int,
               seconds: float, warmup: float) -> Dict[str, Any]:
    """One offered load: the generator's counts and latencies, and what it cost each process."""
    customer_rate = rate / 2 / conversations
    bridge_pids = [bridge.process.pid for bridge in stack.bridges if bridge.process]
    redis_pid = stack.redis.process.pid if stack.redis.process else 0
    run = generator.relay(customer_rate, customer_rate * chats_per_agent, seconds, warmup, drain_seconds=5.0,
                          watch=[*bridge_pids, redis_pid, *generator.pids])
    delivered = run.delivered
    bridges_cpu = run.cpu_percent[:len(bridge_pids)]
    row: Dict[str, Any] = {
        "offered_msg_s": rate, "sent_msg_s": round(run.sent / seconds),
        "delivered_msg_s": round(len(delivered) / seconds),
        "undelivered": run.sent - len(delivered), "late_sends": run.late, "events": run.describe_events(),
        "bridge_cpu_%": "/".join(f"{value:.0f}" for value in bridges_cpu),
        # Ready to run but not running (other processes had the cores): latency that is not the bridge's.
        "bridge_wait_%": "/".join(f"{value:.0f}" for value in run.wait_percent[:len(bridge_pids)]),
        # CPU the bridges spent per message relayed: what saturates them, whatever else runs on the machine.
        "bridge_ms_per_msg": round(sum(bridges_cpu) * 10 / (len(delivered) / seconds), 3) if delivered else None,
        "redis_cpu_%": round(run.cpu_percent[len(bridge_pids)]),
        "generator_cpu_%": round(sum(run.cpu_percent[len(bridge_pids) + 1:])),
    }
    if delivered:
        summary = latency_summary(delivered)
        row.update(p50_ms=summary["p50_ms"], p99_ms=summary["p99_ms"], max_ms=summary["max_ms"])
        for direction, short in (("customer_to_agent", "c2a"), ("agent_to_customer", "a2c")):
            if run.latencies_ms[direction]:
                row[f"p99_{short}_ms"] = latency_summary(run.latencies_ms[direction])["p99_ms"]
    return row


def saturated(row: Dict[str, Any], max_p99_ms: float) -> bool:
    if not row["offered_msg_s"]:
        return False  # the idle step: what the bridges do with the sockets open and nobody writing
    return row["delivered_msg_s"] < 0.95 * row["offered_msg_s"] or row.get("p99_ms", math.inf) > max_p99_ms


def run_mode(mode: str, args: argparse.Namespace, conversations: int) -> Dict[str, Any]:
    bridges = 1 if mode == "one" else 2
    agents = conversations // args.chats_per_agent
    rows: List[Dict[str, Any]] = []
    with ExitStack() as resources:
        stack = resources.enter_context(running_stack(bridges=bridges, rasa=False,
                                                      HANDOFF_AGENT_GRACE_SECONDS=SHIPPED_GRACE))
        generator = resources.enter_context(running_generator(args.workers))
        # Customers on the first bridge, agents on the last (the same one in mode "one").
        setup_seconds = generator.serve(stack.redis.url, stack.prefix, stack.bridges[0].address,
                                        stack.bridges[-1].address, agents, args.chats_per_agent, concurrency=1)
        setup = {"conversations": conversations, "agents": agents, "setup_seconds": round(setup_seconds, 1)}
        print(f"{mode}: {conversations} conversations, {agents} agents set up in {setup_seconds:.1f} s", flush=True)
        for rate in args.steps:
            row = {"mode": mode, **relay_step(stack, generator, rate, conversations, args.chats_per_agent,
                                              args.seconds, args.warmup)}
            rows.append(row)
            print(markdown_table([row], COLUMNS).splitlines()[-1], flush=True)
            if saturated(row, args.max_p99_ms):
                break
            if row["undelivered"] or row["events"] != "-":  # below saturation every message must arrive
                raise SystemExit(f"{mode} at {rate} msg/s: {row['undelivered']} undelivered, events {row['events']}")
    return {"setup": setup, "steps": rows}


def at_target_rate(rows: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return next((row for row in rows if row["offered_msg_s"] == TARGET_RATE), None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="one,two", help="one, two or both (comma-separated)")
    parser.add_argument("--steps", default=",".join(map(str, DEFAULT_STEPS)),
                        help="offered loads in messages a second (both directions together)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds a step")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of each step not measured")
    parser.add_argument("--conversations", type=int, default=0,
                        help="default: enough to keep each socket under 80%% of the shipped rate limit")
    parser.add_argument("--chats-per-agent", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--max-p99-ms", type=float, default=100.0, help="stop after a step with a worse p99")
    parser.add_argument("--quick", action="store_true", help="100 and 500 msg/s, 3 s a step")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.seconds, args.warmup = "100,500", 3.0, 1.0
    args.steps = [int(step) for step in str(args.steps).split(",")]
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if set(modes) - {"one", "two"}:
        parser.error("--modes are one and/or two")
    if not (args.conversations or max(args.steps)):
        parser.error("with only idle steps, say how many --conversations")
    conversations = args.conversations or default_conversations(max(args.steps), args.chats_per_agent)
    if conversations % args.chats_per_agent:
        parser.error("--conversations must be a multiple of --chats-per-agent")
    raise_fd_limit()

    results = {mode: run_mode(mode, args, conversations) for mode in modes}
    rows = [row for result in results.values() for row in result["steps"]]
    print()
    print(markdown_table(rows, COLUMNS))
    targets = {}
    for mode, result in results.items():
        row = at_target_rate(result["steps"])
        targets[mode] = {"p99_ms": row.get("p99_ms") if row else None, "target_ms": TARGETS_MS[mode],
                         "rate": TARGET_RATE}
        if row:
            print(f"\n{mode}: p99 at {TARGET_RATE} msg/s = {row.get('p99_ms', float('nan')):.2f} ms "
                  f"(target <= {TARGETS_MS[mode]:.0f} ms)")
    path = write_result("relay", {
        "settings": {"conversations": conversations, "chats_per_agent": args.chats_per_agent,
                     "workers": args.workers, "seconds": args.seconds, "warmup": args.warmup,
                     "rate_limit": "shipped", "agent_grace_seconds": int(SHIPPED_GRACE)},
        "modes": results, "targets": targets,
    })
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
