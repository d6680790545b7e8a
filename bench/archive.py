"""Archive benchmark: the archiver's throughput and lag while customers chat with agents, and the live
round trip with and without the archiver running, in the same run.

    python -m bench.archive                      # 20 conversations, 2 rounds of 10 s with and 10 s without
    python -m bench.archive --conversations 20 --rounds 3 --seconds 20

One bridge (outbox on: DATABASE_URL set), a real Redis and PostgreSQL (harness/postgres.py), no Rasa.
``--conversations`` customers, each served by an agent of their own, play round trips: the customer
writes, the agent's socket receives it and answers at once, the customer's socket receives the answer
(two messages stored, two outbox entries); then a pause of ``--pause`` seconds (0.3: each socket stays
under the shipped limit of 5 messages a second). After ``--warmup`` seconds not measured, each round has
a phase with one archiver running and a phase with none (the outbox just grows), each ``--seconds``
long, in turn with-without and without-with (a drift over the run falls on both alike); before each
phase with it, the archiver starts and drains what the phase without it left (timed from when it is
ready: the drain rate is what one archiver can write, outbox entries a second; here nearly all
entries are messages). Lag: from a message stored (its stream
id's time) to its row seen in PostgreSQL by a poller every 20 ms (so up to 20 ms late). The archiver's
and PostgreSQL's CPU in each phase with it (100 % = one core) is what they take from the machine's cores.
Last, with nothing else running on the stack, ``--appends`` customer messages are stored one at a time
straight through the bridge's store (Store.append: the script every message goes through), in blocks
with the outbox off and on in turn: what the outbox adds to the live path itself, as a round trip and
as the script's time inside Redis.
Results: a Markdown table and .run/bench/archive.json.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import psycopg2
import redis

from bench.common import latency_summary, markdown_table, write_result
from bench.stack import running_stack
from harness.clients import claimed
from harness.postgres import ArchiverProcess, running_postgres
from harness.servers import process_cpu_seconds

__all__ = ["main"]

COLUMNS = ["phase", "round_trips", "msg_s", "rtt_p50_ms", "rtt_p99_ms", "lag_p50_ms", "lag_p99_ms",
           "archiver_cpu_%", "postgres_cpu_%", "drained", "drain_entries_s"]
POLL_SECONDS = 0.02
# What customers and agents write, in turn; "(turn N)" makes each text of a conversation unique. Nothing a
# customer's socket masks (handoff.privacy: no long digit runs, no secret's words), or the agent would wait
# for a text that never arrives as sent.
QUESTIONS = ("Where is my parcel? It was due on Monday", "Can I change the delivery address of my order?",
             "My card was declined at the checkout, what should I do?", "How do I return a damaged kettle?",
             "Is the blue rain jacket back in stock in medium?")
ANSWERS = ("Let me look into that for you right away.", "Yes, I have updated your order now.",
           "Please try again in a few minutes; the bank may have held it.", "I have emailed you a return label.",
           "It is back next week; I can reserve one for you.")


class LagPoller(threading.Thread):
    """Sees new message rows in PostgreSQL and how long after their storing in Redis each appeared."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.seen: Set[Tuple[str, str]] = set()
        self.lags_ms: List[Tuple[float, float]] = []  # (stored at, lag), ms
        self.stop = threading.Event()

    def run(self) -> None:
        connection = psycopg2.connect(self.database_url)
        connection.autocommit = True
        newest = 0
        while not self.stop.is_set():
            with connection.cursor() as cursor:
                cursor.execute("SELECT conversation_id, id, position FROM messages WHERE position >= %s", (newest,))
                now_ms = time.time() * 1000
                for conversation_id, message_id, position in cursor.fetchall():
                    if (conversation_id, message_id) not in self.seen:
                        self.seen.add((conversation_id, message_id))
                        stored_ms = float(message_id.split("-")[0])
                        self.lags_ms.append((stored_ms, now_ms - stored_ms))
                    newest = max(newest, position)
            time.sleep(POLL_SECONDS)
        connection.close()


async def round_trips(address: str, agents: Sequence[str], seconds: float, pause: float,
                      pairs: List[Tuple[Any, Any]]) -> List[float]:
    """Every pair plays round trips for ``seconds``; their times (ms)."""
    if not pairs:
        pairs.extend([await claimed(address, agent) for agent in agents])
    times: List[float] = []
    deadline = time.monotonic() + seconds

    async def play(customer: Any, agent: Any) -> None:
        conversation_id = customer.conversation_id
        n = 0
        while time.monotonic() < deadline:
            n += 1
            tag = f"{time.monotonic_ns()}-{n}"
            question = f"{QUESTIONS[n % len(QUESTIONS)]} (turn {n})"
            answer = f"{ANSWERS[n % len(ANSWERS)]} (turn {n})"
            started = time.perf_counter()
            await customer.send("message", {"text": question}, id=f"q{tag}")
            await agent.expect("message", conversation_id=conversation_id, text=question)
            await agent.send("message", {"conversation_id": conversation_id, "text": answer}, id=f"a{tag}")
            await customer.expect("message", text=answer)
            times.append((time.perf_counter() - started) * 1000)
            customer.received.clear()
            agent.received.clear()
            await asyncio.sleep(pause)

    await asyncio.gather(*(play(customer, agent) for customer, agent in pairs))
    return times


def drain(client: redis.Redis, prefix: str, timeout: float = 600.0) -> None:
    """Waits until the archiver has acknowledged the whole outbox."""
    outbox, deadline = f"{prefix}:outbox", time.monotonic() + timeout
    while time.monotonic() < deadline:
        newest = client.xinfo_stream(outbox)["last-generated-id"]
        groups = [group for group in client.xinfo_groups(outbox) if group["name"] == b"archive"]
        if groups and groups[0]["pending"] == 0 and groups[0]["last-delivered-id"] == newest:
            return
        time.sleep(0.05)
    raise SystemExit("the archiver did not drain the outbox")


def unread(client: redis.Redis, prefix: str) -> int:
    """Outbox entries the archive group has not read yet."""
    if not client.exists(f"{prefix}:outbox"):
        return 0
    groups = [group for group in client.xinfo_groups(f"{prefix}:outbox") if group["name"] == b"archive"]
    return int(groups[0]["lag"] or 0) if groups else int(client.xlen(f"{prefix}:outbox"))


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children now running (PostgreSQL's server processes are children
    of its first one)."""
    total = process_cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += process_cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


class Phases:
    """One run's phases over one stack: the archiver started and stopped between them."""

    def __init__(self, args: argparse.Namespace, stack: Any, database_url: str, postgres_pid: int) -> None:
        self.args, self.stack, self.postgres_pid = args, stack, postgres_pid
        self.agents = [f"agent{n}" for n in range(args.conversations)]
        for agent in self.agents:
            stack.add_agent(agent)
        self.client = redis.Redis.from_url(stack.redis.url)
        self.archiver = ArchiverProcess(stack.redis.url, database_url, stack.prefix, "bench-archiver")
        self.poller = LagPoller(database_url)
        self.pairs: List[Tuple[Any, Any]] = []
        self.loop = asyncio.new_event_loop()

    def play(self, seconds: float) -> List[float]:
        return self.loop.run_until_complete(round_trips(self.stack.bridges[0].address, self.agents, seconds,
                                                        self.args.pause, self.pairs))

    def start_archiver(self) -> Tuple[int, float]:
        """Starts the archiver and waits until it has drained the backlog: (entries, seconds from ready)."""
        backlog = unread(self.client, self.stack.prefix)
        self.archiver.start()  # returns once it is ready (connected, migrated)
        started = time.monotonic()
        if not self.poller.is_alive():
            self.poller.start()
        drain(self.client, self.stack.prefix)
        return backlog, time.monotonic() - started

    def with_archiver(self, name: str) -> Dict[str, Any]:
        archiving = self.archiver.process is not None and self.archiver.process.poll() is None
        backlog, drained_in = (0, 0.0) if archiving else self.start_archiver()
        assert self.archiver.process is not None
        cpu_before = (cpu_seconds(self.archiver.process.pid), cpu_seconds(self.postgres_pid))
        phase_start_ms = time.time() * 1000
        times = self.play(self.args.seconds)
        phase_end_ms = time.time() * 1000
        cpu = (cpu_seconds(self.archiver.process.pid) - cpu_before[0], cpu_seconds(self.postgres_pid) - cpu_before[1])
        drain(self.client, self.stack.prefix)
        time.sleep(POLL_SECONDS * 3)
        lags = [lag for stored, lag in list(self.poller.lags_ms) if phase_start_ms <= stored <= phase_end_ms]
        row = phase_row(name, times, self.args.seconds, lags, backlog, drained_in)
        row.update({"archiver_cpu_%": round(100 * cpu[0] / self.args.seconds),
                    "postgres_cpu_%": round(100 * cpu[1] / self.args.seconds)})
        return row

    def without_archiver(self, name: str) -> Dict[str, Any]:
        self.archiver.stop()
        return phase_row(name, self.play(self.args.seconds), self.args.seconds, [], 0, 0.0)

    def close(self) -> None:
        for customer, serving in self.pairs:
            self.loop.run_until_complete(customer.close())
            self.loop.run_until_complete(serving.close())
        self.loop.close()
        self.poller.stop.set()
        self.archiver.stop()
        self.client.close()


def run(args: argparse.Namespace) -> Dict[str, Any]:
    rows: List[Dict[str, Any]] = []
    with running_postgres("bench-postgres") as postgres:
        database_url = postgres.create_database("archive_bench")
        assert postgres.process is not None
        with running_stack(bridges=1, rasa=False, DATABASE_URL=database_url) as stack:
            phases = Phases(args, stack, database_url, postgres.process.pid)
            try:
                phases.start_archiver()
                phases.play(args.warmup)  # connections made, caches warm: not measured
                for round_number in range(1, args.rounds + 1):
                    # with, without; then without, with: a drift over the run falls on both alike
                    order = ["with", "without"] if round_number % 2 else ["without", "with"]
                    for kind in order:
                        row = (phases.with_archiver(f"with archiver ({round_number})") if kind == "with"
                               else phases.without_archiver(f"without ({round_number})"))
                        rows.append(row)
                        print(markdown_table([row], COLUMNS).splitlines()[-1], flush=True)
                phases.archiver.stop()
                phases.play(args.seconds)  # a backlog for the final drain
                backlog, drained_in = phases.start_archiver()
                rows.append({"phase": "final drain", "drained": backlog, "drain_entries_s": round(backlog / drained_in)})
                print(markdown_table(rows[-1:], COLUMNS).splitlines()[-1], flush=True)
            finally:
                phases.close()
            appends = asyncio.run(append_cost(stack.redis.url, args.appends)) if args.appends else {}
    return {"settings": vars(args), "rows": rows, "totals": totals(rows), "append": appends}


async def append_cost(redis_url: str, appends: int, blocks: int = 4) -> Dict[str, Any]:
    """The live path's part alone: a customer's message stored (Store.append, one script) with the outbox
    off and on, in turn (off, on, off, on, ...), one at a time: its round trip (ms) and the script's time
    inside Redis (µs a call, INFO commandstats)."""
    from redis.asyncio import Redis  # the bridge's own store, driven from here

    from handoff.store import Store

    client = Redis.from_url(redis_url)
    times: Dict[str, List[float]] = {"off": [], "on": []}
    usec: Dict[str, List[float]] = {"off": [], "on": []}
    try:
        for block in range(blocks * 2):
            kind = "on" if block % 2 else "off"
            store = Store(client, f"cost{block}", outbox_cap=1_000_000 if kind == "on" else 0)
            await client.config_resetstat()
            for index in range(appends // blocks):
                if index % 500 == 0:
                    conversation = f"c{index}"
                    await store.create(conversation, "token")
                started = time.perf_counter()
                await store.append(conversation, "customer", f"customer:k{index}", f"my card is stuck, try {index}")
                times[kind].append((time.perf_counter() - started) * 1000)
            stats = await client.info("commandstats")
            usec[kind].append(float(stats["cmdstat_evalsha"]["usec_per_call"]))
            keys = [key async for key in client.scan_iter(f"cost{block}:*", count=1000)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.close()
    result: Dict[str, Any] = {}
    for kind in ("off", "on"):
        summary = latency_summary(times[kind])
        result[f"outbox_{kind}"] = {"appends": len(times[kind]), "p50_ms": round(summary["p50_ms"], 3),
                                    "p99_ms": round(summary["p99_ms"], 3),
                                    "script_usec": round(sum(usec[kind]) / len(usec[kind]), 1)}
    return result


def phase_row(phase: str, times: List[float], seconds: float, lags: List[float], backlog: int,
              drained_in: float) -> Dict[str, Any]:
    row: Dict[str, Any] = {"phase": phase, "round_trips": len(times), "msg_s": round(2 * len(times) / seconds)}
    if times:
        summary = latency_summary(times)
        row.update(rtt_p50_ms=summary["p50_ms"], rtt_p99_ms=summary["p99_ms"])
    if lags:
        summary = latency_summary(lags)
        row.update(lag_p50_ms=summary["p50_ms"], lag_p99_ms=summary["p99_ms"])
    if backlog:
        row.update(drained=backlog, drain_entries_s=round(backlog / drained_in))
    return row


def totals(rows: List[Dict[str, Any]]) -> Dict[str, Optional[float]]:
    """The round trip's p50 and p99 averaged over the phases of each kind (with, without)."""
    result: Dict[str, Optional[float]] = {}
    for kind in ("with archiver", "without"):
        phases = [row for row in rows if row["phase"].startswith(kind) and "rtt_p50_ms" in row]
        for figure in ("rtt_p50_ms", "rtt_p99_ms"):
            result[f"{kind.split()[0]}_{figure}"] = (round(sum(row[figure] for row in phases) / len(phases), 2)
                                          if phases else None)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20, help="customer-agent pairs playing at once")
    parser.add_argument("--rounds", type=int, default=2, help="phases with and without the archiver, each")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between one pair's round trips")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of round trips first, not measured")
    parser.add_argument("--appends", type=int, default=8000,
                        help="messages stored one at a time with the outbox off, and as many with it on (0: skip)")
    args = parser.parse_args(argv)
    result = run(args)
    print()
    print(markdown_table(result["rows"], COLUMNS))
    print(result["totals"])
    print(result["append"])
    print(f"written to {write_result('archive', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
