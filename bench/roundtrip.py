"""Bot round trip: what the bridge adds to a bot answer, against calling Rasa's REST channel directly.

The same short customer conversations (a greeting, two support questions on
different topics with a "yes" in between, and thanks) are played through

- the bridge: ``/ws/customer`` (hello, then one ``message`` at a time), and
- Rasa directly: ``POST {rasa}/webhooks/rest/webhook``, which returns all the
  bot's messages of a turn in one response,

by 1, 10 and 100 concurrent conversations. A turn's round trip is from sending
the customer's message until the customer has *every* bot message of the turn
(a support answer is two messages: the answer and "Did that answer your
question?") and, on the bridge, the ``ack`` (which the bridge sends once the
bot's messages are stored). That is the moment the REST call returns, so both
paths end at the same point; the first bot message on the bridge is reported
too. How many messages a turn has comes from playing every conversation once
directly before measuring (Rasa answers the same conversation the same way).

Both paths run in the same stack, in alternating phases (bridge, direct,
direct, bridge, …) of ``--seconds`` each, so noise on the machine hits both
alike; the overhead is bridge p50 / direct p50 (and p99) from the same run.
Every conversation is fresh and five turns long, well short of any stuck
trigger (the bridge's rate limit, 5 messages/s with bursts of 10 per
connection, never applies: a connection sends a hello and five messages, one
after the other's answer). Handoffs are counted and should be 0 (a handed-over
conversation ends there); the bridge hands a customer over when Rasa takes
longer than ``HANDOFF_RASA_TIMEOUT`` (10 s), which only an overloaded machine
does at 100 conversations. A turn Rasa answers with other messages than in the
warm-up fails the run: the paths would not compare the same turns.

This process only runs the clients (websockets, aiohttp); Redis, the bridge,
Rasa and the action server are separate processes (bench/stack.py). The CPU
time each server used per turn comes from /proc. At 100 conversations Rasa (one
process) is the bottleneck of both paths.

    python -m bench.roundtrip                      # full: 1, 10, 100 conversations
    python -m bench.roundtrip --quick              # a check that it works (~1 minute plus start-up)
    python -m bench.roundtrip --concurrency 1 10 --seconds 10 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp

from bench.common import latency_summary, markdown_table, process_cpu_seconds, write_result
from bench.stack import Stack, running_stack
from handoff.machine import handoff_in
from handoff_client import Customer


# Ordinary questions the bot answers itself (phrased like data/nlu and tests/nlu), in pairs on different topics.
QUESTIONS: List[Tuple[str, str]] = [
    ("when should my new card arrive", "how do I top up by bank transfer"),
    ("how do I change my pin", "is there a fee for sending money abroad"),
    ("I'd like to know how to close my account please", "what times is your phone line open"),
    ("can I add my card to apple pay", "I moved house, how do I update my address"),
    ("my transfer hasn't arrived yet", "how do I reset my password"),
    ("how do I activate my new card", "what exchange rate do I get when spending in euros"),
    ("a refund from a shop isn't showing on my account", "how do I order an extra card for my partner"),
    ("the atm gave me less money than I asked for", "how do I get my identity verified"),
]
GREETINGS = ["hello", "hi there", "good morning", "hey"]
THANKS = ["thanks, that's all", "thank you", "great, thanks", "cheers"]
TURN_TIMEOUT = 60.0  # seconds; far beyond any real turn, so a lost reply fails loudly

PATHS = ("bridge", "direct")


def scripts() -> List[List[str]]:
    """Five-turn conversations: greeting, question, "yes", another question, thanks."""
    return [[GREETINGS[n % len(GREETINGS)], first, "yes", second, THANKS[n % len(THANKS)]]
            for n, (first, second) in enumerate(QUESTIONS)]


@dataclass
class Phase:
    """One path at one concurrency for a few seconds: its turns and what it cost."""

    path: str
    round_trips_ms: List[float] = field(default_factory=list)
    first_reply_ms: List[float] = field(default_factory=list)  # bridge: send -> first bot message
    turns_in_time: int = 0  # turns finished before the phase's deadline
    seconds: float = 0.0
    handoffs: int = 0
    rasa_timeouts: int = 0  # the bridge gave up waiting for Rasa (HANDOFF_RASA_TIMEOUT) and queued the customer
    mismatched_turns: int = 0  # direct: a different number of bot messages than the same turn had before
    cpu_seconds: Dict[str, float] = field(default_factory=dict)


async def rest_turn(http: aiohttp.ClientSession, rasa_url: str, sender: str, text: str) -> List[Dict[str, Any]]:
    async with http.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as reply:
        reply.raise_for_status()
        messages: List[Dict[str, Any]] = await reply.json()
    return messages


async def direct_conversation(http: aiohttp.ClientSession, rasa_url: str, script: Sequence[str],
                              expected: Sequence[int], phase: Phase, deadline: float) -> None:
    sender = f"bench-{uuid.uuid4().hex}"
    for text, count in zip(script, expected):
        sent = time.perf_counter()
        replies = await rest_turn(http, rasa_url, sender, text)
        done = time.perf_counter()
        if handoff_in(tuple(replies)) is not None:
            phase.handoffs += 1
            return  # with people now: the rest of the script is not a bot conversation
        phase.round_trips_ms.append((done - sent) * 1000)
        phase.turns_in_time += done <= deadline
        phase.mismatched_turns += len(replies) != count
        if done > deadline:
            return


async def bridge_conversation(address: str, script: Sequence[str], expected: Sequence[int], phase: Phase,
                              deadline: float) -> None:
    customer = await Customer.connect(address)
    try:
        for text, count in zip(script, expected):
            sent = time.perf_counter()
            key = (await customer.say(text)).id
            acked, bot_messages, first = False, 0, 0.0
            while not acked or bot_messages < count:
                envelope = await customer.receive(TURN_TIMEOUT)
                if envelope["type"] == "ack" and envelope["id"] == key:
                    acked = True
                elif envelope["type"] == "message" and envelope["data"]["kind"] == "bot":
                    bot_messages += 1
                    first = first or time.perf_counter()
                elif envelope["type"] == "message" and envelope["data"]["data"].get("notice") == "bot_unavailable":
                    phase.rasa_timeouts += 1
                elif envelope["type"] == "status" and envelope["data"]["state"] != "bot":
                    phase.handoffs += 1  # the bot's handoff, or Rasa's timeout: the customer is queued
                    return  # with people now: the rest of the script is not a bot conversation
                elif envelope["type"] == "error":
                    raise RuntimeError(f"the bridge refused a message: {envelope}")
            done = time.perf_counter()
            phase.round_trips_ms.append((done - sent) * 1000)
            phase.first_reply_ms.append(((first or done) - sent) * 1000)
            phase.turns_in_time += done <= deadline
            if done > deadline:
                return
    finally:
        await customer.close()


class RoundTrip:
    """Plays the conversations against one stack."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.http = http
        self.scripts = scripts()
        self.expected: List[List[int]] = []
        processes = {"bridge": stack.bridges[0].process, "rasa": stack.rasa and stack.rasa.process,
                     "redis": stack.redis.process, "actions": stack.actions and stack.actions.process}
        self.servers = {name: process.pid for name, process in processes.items() if process}
        self.servers["load generator"] = os.getpid()

    async def learn_turns(self) -> None:
        """Plays every script once directly: how many bot messages each turn has, and that none hands off."""
        for script in self.scripts:
            sender = f"bench-warmup-{uuid.uuid4().hex}"
            counts = []
            for text in script:
                replies = await rest_turn(self.http, self.stack.rasa_url, sender, text)
                if not replies or handoff_in(tuple(replies)) is not None:
                    raise RuntimeError(f"{text!r} in {script} is not an ordinary bot answer: {replies}")
                counts.append(len(replies))
            self.expected.append(counts)

    async def phase(self, path: str, concurrency: int, seconds: float) -> Phase:
        phase = Phase(path)
        cpu_before = {name: process_cpu_seconds(pid) for name, pid in self.servers.items()}
        started = time.perf_counter()
        deadline = started + seconds
        numbers = itertools.count()

        async def conversations() -> None:
            while time.perf_counter() < deadline:
                number = next(numbers)
                script, expected = self.scripts[number % len(self.scripts)], self.expected[number % len(self.scripts)]
                if path == "bridge":
                    await bridge_conversation(self.stack.bridges[0].address, script, expected, phase, deadline)
                else:
                    await direct_conversation(self.http, self.stack.rasa_url, script, expected, phase, deadline)

        await asyncio.gather(*(conversations() for _ in range(concurrency)))
        phase.seconds = seconds
        phase.cpu_seconds = {name: process_cpu_seconds(pid) - cpu_before[name] for name, pid in self.servers.items()}
        return phase


def summarise(concurrency: int, phases: List[Phase]) -> Dict[str, Any]:
    result: Dict[str, Any] = {"concurrency": concurrency}
    for path in PATHS:
        mine = [phase for phase in phases if phase.path == path]
        turns = sum(phase.turns_in_time for phase in mine)
        samples = [ms for phase in mine for ms in phase.round_trips_ms]
        all_turns = len(samples)
        result[path] = {
            "round_trip": latency_summary(samples),
            "turns_per_second": turns / sum(phase.seconds for phase in mine),
            "handoffs": sum(phase.handoffs for phase in mine),
            "rasa_timeouts": sum(phase.rasa_timeouts for phase in mine),
            "mismatched_turns": sum(phase.mismatched_turns for phase in mine),
            "cpu_ms_per_turn": {name: 1000 * sum(phase.cpu_seconds[name] for phase in mine) / all_turns
                                for name in mine[0].cpu_seconds},
        }
        if path == "bridge":
            result[path]["first_bot_message"] = latency_summary([ms for phase in mine for ms in phase.first_reply_ms])
    bridge, direct = result["bridge"]["round_trip"], result["direct"]["round_trip"]
    result["overhead"] = {"p50_ratio": bridge["p50_ms"] / direct["p50_ms"], "p99_ratio": bridge["p99_ms"] / direct["p99_ms"]}
    return result


def table_rows(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    rows = []
    for result in results:
        for path in PATHS:
            numbers = result[path]
            cpu = numbers["cpu_ms_per_turn"]
            rows.append({
                "conversations": result["concurrency"], "path": path, "turns": numbers["round_trip"]["count"],
                "p50 ms": numbers["round_trip"]["p50_ms"], "p99 ms": numbers["round_trip"]["p99_ms"],
                "turns/s": numbers["turns_per_second"],
                "bridge CPU ms/turn": cpu["bridge"], "Rasa CPU ms/turn": cpu["rasa"], "Redis CPU ms/turn": cpu["redis"],
                "client CPU ms/turn": cpu["load generator"],
                "handoffs": numbers["handoffs"], "Rasa timeouts": numbers["rasa_timeouts"],
                "p50 / direct": result["overhead"]["p50_ratio"] if path == "bridge" else None,
                "p99 / direct": result["overhead"]["p99_ratio"] if path == "bridge" else None,
            })
    return rows


async def measure(stack: Stack, concurrencies: Sequence[int], seconds: float, rounds: int) -> List[Dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=0)  # one kept-alive connection per concurrent conversation
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        bench = RoundTrip(stack, http)
        await bench.learn_turns()
        for path in PATHS:  # warm up both paths (connections, caches) before measuring
            await bench.phase(path, 2, 2.0)
        results = []
        for concurrency in concurrencies:
            phases = []
            for number in range(rounds):
                order = PATHS if number % 2 == 0 else PATHS[::-1]  # bridge, direct, direct, bridge, …
                for path in order:
                    phases.append(await bench.phase(path, concurrency, seconds))
            results.append(summarise(concurrency, phases))
    return results


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100],
                        help="concurrent conversations, one level after another")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of one phase (one path, one level)")
    parser.add_argument("--rounds", type=int, default=2, help="phases per path and level (alternating paths)")
    parser.add_argument("--quick", action="store_true", help="a short check: 1 and 10 conversations, 3 s phases")
    args = parser.parse_args(argv)
    if args.quick:
        args.concurrency, args.seconds, args.rounds = [1, 10], 3.0, 2
    with running_stack() as stack:
        results = asyncio.run(measure(stack, args.concurrency, args.seconds, args.rounds))
    mismatched = {result["concurrency"]: result["direct"]["mismatched_turns"] for result in results}
    if any(mismatched.values()):  # the paths would not compare the same turns
        raise SystemExit(f"Rasa answered turns with other messages than in the warm-up (by concurrency): {mismatched}")
    print(markdown_table(table_rows(results), [
        "conversations", "path", "turns", "p50 ms", "p99 ms", "turns/s", "p50 / direct", "p99 / direct",
        "bridge CPU ms/turn", "Rasa CPU ms/turn", "Redis CPU ms/turn", "client CPU ms/turn", "handoffs", "Rasa timeouts"]))
    print("\nRasa timeouts: turns the bridge gave up on after HANDOFF_RASA_TIMEOUT (10 s) and queued for a person "
          "(counted in handoffs too).")
    path = write_result("roundtrip", {"seconds_per_phase": args.seconds, "rounds": args.rounds, "results": results})
    print(f"\n(written to {path})")


if __name__ == "__main__":
    main()
