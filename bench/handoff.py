"""Handoff: from the stuck turn to the conversation in the agents' queue.

Customers play short conversations that get stuck, over ``/ws/customer``, while
one agent is logged in on ``/ws/agent``. For each handoff:

- ``sent``: the customer sends the stuck turn's message;
- ``t0``: the customer receives the bot's reply to it (the first bot message of
  the turn, "I've put you in the queue…"; the ``custom.handoff`` payload goes to the
  agents only, handoff/visibility.py);
- ``t1``: the agent's socket receives a ``queue`` push listing the conversation,
  with the reason the bot gave.

It reports t1 - t0 (target: p99 ≤ 100 ms) and t1 - sent, by how the
conversation got stuck: ``requested`` (the customer asks for a person in words),
``repeated_fallback`` (two messages in a row the bot cannot understand) and
``unresolved`` (a "no" to "Did that answer your question?"): stuck detection
(docs/stuck-detection.md) hands over on the stuck turn itself; and ``button``
(the customer presses "Talk to a person": the bridge asks the bot for its
payload, docs/handoff-payload.md, so ``sent`` is the press).

Configurations: customers one at a time and several at once (``--concurrency``);
the agent on the customers' bridge process or on a second one (``--topology``:
then the queue change crosses Redis pub/sub); and a standing queue of waiting
customers (``--queue-depth``), since every queue change makes each agent's
bridge read the whole queue again and every waiting customer's bridge work out
its position. The agent claims and closes each measured conversation once it
has seen it, so the queue stays at its depth; that is hundreds of requests a
minute on one agent socket, so the per-connection rate limit is raised for the
run (it applies to nothing measured: every customer sends at most 5 messages).

Everything is timed in this process (customers and agent share one clock); the
bridges, Redis and Rasa are separate processes (bench/stack.py).

    python -m bench.handoff                       # full: 200 handoffs per configuration
    python -m bench.handoff --quick               # a check that it works
    python -m bench.handoff --handoffs 100 --concurrency 1 10 --queue-depth 0 20 50 --topology one two
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import handoff_client
from bench.common import latency_summary, markdown_table, process_cpu_seconds, write_result
from bench.stack import Stack, running_stack
from handoff_client import Customer
from harness.clients import queued_customer, staff

AGENT = "bench-agent"
# A script's step that presses "Talk to a person" instead of typing.
BUTTON = "[Talk to a person]"
# Conversations that stuck detection hands over on their last turn (from tests/conversations/corpus.yml
# and tests/test_rest_channel.py), by the reason the bot gives.
STUCK: Dict[str, List[List[str]]] = {
    "requested": [
        ["hi, can I talk to a real person please"],
        ["are you a bot?", "right, then I want to talk to a human"],
        ["my card was declined in a shop today", "can I talk to a real person please"],
    ],
    "repeated_fallback": [
        ["qwpoeiru", "zxmnbv"],
        ["hi", "sdkfjhsdf", "jjjjjj kkk lll"],
        ["the thing from before", "you know, the other one"],
    ],
    "unresolved": [
        ["my refund from the shop isn't showing", "no"],
        ["hi", "my card keeps getting declined at the supermarket", "no it didn't"],
        ["how long does identity verification take", "no"],
    ],
    "button": [
        ["my card was declined in a shop today", BUTTON],
        ["how do I top up my account?", "what fees do you charge?", BUTTON],
        [BUTTON],
    ],
}
# The reason the bot gives, where the way of getting stuck is not one.
BOT_REASON = {"button": "requested"}
TOPOLOGIES = ("one", "two")  # the agent on the customers' bridge process, or on a second one
TIMEOUT = 30.0  # seconds for any reply: far beyond a working system, so a loss fails loudly


@dataclass
class Handoff:
    expected: str  # the reason the script is for
    sent: float
    reply: float  # t0: the first bot message of the stuck turn
    queued: float  # the customer's status says queued
    seen: float = 0.0  # t1: the agent's queue lists it
    reason: str = ""  # the reason the bot gave (custom.handoff.reason, in the agent's queue item)


class Agent:
    """The agent's socket: notes when each conversation first appears in a ``queue`` push,
    and claims and closes those it is asked to, to keep the queue at its depth."""

    def __init__(self, client: handoff_client.Agent) -> None:
        self.client = client
        self.first_seen: Dict[str, float] = {}
        self.reasons: Dict[str, str] = {}
        self.waiting: Dict[str, "asyncio.Future[float]"] = {}
        self.errors: List[Dict[str, Any]] = []
        self.request_ids = itertools.count()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, address: str) -> "Agent":
        return cls(await staff(address, AGENT))

    async def _read(self) -> None:
        while True:
            envelope = await self.client.receive()
            arrived = time.perf_counter()
            if envelope["type"] in ("queue", "queue_changed"):  # the whole queue, or what was added to it
                data = envelope["data"]
                items = data["items"] if envelope["type"] == "queue" else data["added"]
                for item in items:
                    conversation_id = item["conversation_id"]
                    if conversation_id not in self.first_seen:
                        self.first_seen[conversation_id] = arrived
                        self.reasons[conversation_id] = str(item.get("reason"))
                        future = self.waiting.pop(conversation_id, None)
                        if future and not future.done():
                            future.set_result(arrived)
            elif envelope["type"] == "error":
                self.errors.append(envelope)

    async def seen(self, conversation_id: str) -> float:
        """When the conversation first appeared in this agent's queue (waits for it)."""
        if conversation_id in self.first_seen:
            return self.first_seen[conversation_id]
        future = self.waiting.setdefault(conversation_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(future), TIMEOUT)

    async def take_and_close(self, conversation_id: str) -> None:
        """The agent serves the chat and ends it (the bridge handles one socket's requests in order)."""
        for kind in ("claim", "close"):
            await self.client.send(kind, {"conversation_id": conversation_id}, id=f"{kind}-{next(self.request_ids)}")

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.client.close()


async def stuck_conversation(address: str, script: Sequence[str], expected: str, agent: Agent) -> Handoff:
    """Plays a conversation to its stuck turn; returns the handoff's times once the agent has seen it."""
    customer = await Customer.connect(address)
    try:
        for number, text in enumerate(script, start=1):
            sent = time.perf_counter()
            if text == BUTTON:
                key = f"talk-{number}"
                await customer.send("talk_to_person", id=key)
            else:
                key = (await customer.say(text)).id
            last = number == len(script)
            # The socket gets the transcript in order: the bot messages after the customer's own are this turn's
            # (a press is not echoed: every bot message after it is the answer to it).
            echoed, reply, queued, acked = text == BUTTON, 0.0, 0.0, False
            while not (acked and (not last or (queued and reply))):
                envelope = await customer.receive(TIMEOUT)
                arrived = time.perf_counter()
                kind, data = envelope["type"], envelope["data"]
                if kind == "ack" and envelope["id"] == key:
                    acked = True
                elif kind == "message" and data["kind"] == "customer" and data.get("client_id") == key:
                    echoed = True
                elif kind == "message" and data["kind"] == "bot" and echoed:
                    reply = reply or arrived
                elif kind == "status" and data["state"] == "queued":
                    queued = queued or arrived
                elif kind == "error":
                    raise RuntimeError(f"the bridge refused {text!r}: {envelope}")
            if queued and not last:
                raise RuntimeError(f"handed over too early, at {text!r} of {script}")
        handoff = Handoff(expected, sent, reply, queued)
        handoff.seen = await agent.seen(customer.conversation_id)
        handoff.reason = agent.reasons[customer.conversation_id]
        await agent.take_and_close(customer.conversation_id)
        return handoff
    finally:
        await customer.close()


@dataclass
class Run:
    topology: str
    concurrency: int
    queue_depth: int
    handoffs: List[Handoff] = field(default_factory=list)
    seconds: float = 0.0
    agent_errors: int = 0
    bridge_cpu_seconds: float = 0.0  # both bridges' CPU during the handoffs: steadier than latency on a busy machine


async def play(stack: Stack, topology: str, concurrency: int, handoffs: int, queue_depth: int) -> Run:
    customers_bridge = stack.bridges[0].address
    agent_bridge = stack.bridges[0 if topology == "one" else 1].address
    agent = await Agent.connect(agent_bridge)
    waiting = [await queued_customer(customers_bridge) for _ in range(queue_depth)]  # a standing queue
    run = Run(topology, concurrency, queue_depth)
    scripts = [(reason, script) for reason, scripts in STUCK.items() for script in scripts]
    numbers = itertools.count()
    try:
        await asyncio.sleep(0.5)  # the queue pushes of the set-up are over

        async def customer() -> None:
            while (number := next(numbers)) < handoffs:
                reason, script = scripts[number % len(scripts)]
                run.handoffs.append(await stuck_conversation(customers_bridge, script, reason, agent))

        bridges = [bridge.process.pid for bridge in stack.bridges if bridge.process]
        cpu_before = sum(process_cpu_seconds(pid) for pid in bridges)
        started = time.perf_counter()
        await asyncio.gather(*(customer() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - started
        run.bridge_cpu_seconds = sum(process_cpu_seconds(pid) for pid in bridges) - cpu_before
    finally:
        for waiting_customer in waiting:
            await agent.take_and_close(waiting_customer.conversation_id)
            await waiting_customer.close()
        await asyncio.sleep(0.5)  # the agent's requests are carried out before it goes
        run.agent_errors = len(agent.errors)
        await agent.close()
    return run


def summarise(run: Run) -> Dict[str, Any]:
    def milliseconds(handoffs: List[Handoff]) -> Dict[str, Any]:
        return {"reply_to_queue": latency_summary([(h.seen - h.reply) * 1000 for h in handoffs]),
                "queued_to_queue": latency_summary([(h.seen - h.queued) * 1000 for h in handoffs]),
                "send_to_queue": latency_summary([(h.seen - h.sent) * 1000 for h in handoffs]),
                "send_to_reply": latency_summary([(h.reply - h.sent) * 1000 for h in handoffs])}

    by_reason = {reason: milliseconds([h for h in run.handoffs if h.expected == reason])
                 for reason in STUCK if any(h.expected == reason for h in run.handoffs)}
    return {"topology": run.topology, "concurrency": run.concurrency, "queue_depth": run.queue_depth,
            "handoffs_per_second": len(run.handoffs) / run.seconds, "agent_errors": run.agent_errors,
            "bridge_cpu_ms_per_handoff": 1000 * run.bridge_cpu_seconds / max(1, len(run.handoffs)),
            "unexpected_reasons": sum(h.reason != BOT_REASON.get(h.expected, h.expected) for h in run.handoffs),
            **milliseconds(run.handoffs), "by_reason": by_reason}


def table_rows(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per configuration, all stuck reasons together."""
    return [{
        "bridges": result["topology"], "customers at once": result["concurrency"], "queue depth": result["queue_depth"],
        "handoffs": result["reply_to_queue"]["count"], "handoffs/s": result["handoffs_per_second"],
        "t1-t0 p50 ms": result["reply_to_queue"]["p50_ms"], "t1-t0 p99 ms": result["reply_to_queue"]["p99_ms"],
        "t1-t0 max ms": result["reply_to_queue"]["max_ms"],
        "t1-sent p50 ms": result["send_to_queue"]["p50_ms"], "t1-sent p99 ms": result["send_to_queue"]["p99_ms"],
        "bridge CPU ms/handoff": result["bridge_cpu_ms_per_handoff"],
    } for result in results]


def reason_rows(runs: List[Run]) -> List[Dict[str, Any]]:
    """One row per way of getting stuck, over every configuration."""
    rows = []
    for reason in STUCK:
        handoffs = [h for run in runs for h in run.handoffs if h.expected == reason]
        if handoffs:
            after_reply = latency_summary([(h.seen - h.reply) * 1000 for h in handoffs])
            after_send = latency_summary([(h.seen - h.sent) * 1000 for h in handoffs])
            rows.append({"stuck by": reason, "handoffs": len(handoffs),
                         "bot gave its reason": sum(h.reason == BOT_REASON.get(reason, reason) for h in handoffs),
                         "t1-t0 p50 ms": after_reply["p50_ms"], "t1-t0 p99 ms": after_reply["p99_ms"],
                         "t1-t0 max ms": after_reply["max_ms"],
                         "t1-sent p50 ms": after_send["p50_ms"], "t1-sent p99 ms": after_send["p99_ms"]})
    return rows


async def measure(stack: Stack, topologies: Sequence[str], concurrencies: Sequence[int], handoffs: int,
                  depths: Sequence[int]) -> List[Run]:
    # Warm-up: Rasa's first answers and the bridges' connections are slower than the rest.
    await play(stack, "one", 2, 2 * len(STUCK), 0)
    return [await play(stack, topology, concurrency, handoffs, depth)
            for depth in depths for topology in topologies for concurrency in concurrencies]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handoffs", type=int, default=100, help="handoffs per configuration")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10], help="customers at once")
    parser.add_argument("--topology", nargs="+", choices=sorted(TOPOLOGIES), default=["one", "two"],
                        help="one: the agent on the customers' bridge; two: on a second bridge process")
    parser.add_argument("--queue-depth", type=int, nargs="+", default=[0, 20, 50],
                        help="customers already waiting in the queue")
    parser.add_argument("--quick", action="store_true", help="a short check: 20 handoffs per configuration")
    args = parser.parse_args(argv)
    if args.quick:
        args.handoffs, args.queue_depth = 20, [0, 5]
    with running_stack(bridges=2, HANDOFF_MESSAGES_PER_SECOND="1000", HANDOFF_MESSAGE_BURST="1000") as stack:
        stack.add_agent(AGENT, "--max-chats", "1000", "--groups", "all")
        runs = asyncio.run(measure(stack, args.topology, args.concurrency, args.handoffs, args.queue_depth))
    results = [summarise(run) for run in runs]
    wrong = [{key: result[key] for key in ("topology", "concurrency", "queue_depth", "agent_errors",
                                            "unexpected_reasons")}
             for result in results if result["agent_errors"] or result["unexpected_reasons"]]
    if wrong:  # the times would be of something else than the handoffs the scripts are for
        raise SystemExit(f"handoffs went wrong (errors to the agent, or the bot gave another reason): {wrong}")
    print(markdown_table(table_rows(results), [
        "bridges", "customers at once", "queue depth", "handoffs", "handoffs/s", "t1-t0 p50 ms", "t1-t0 p99 ms",
        "t1-t0 max ms", "t1-sent p50 ms", "t1-sent p99 ms", "bridge CPU ms/handoff"]))
    print("\nt0: the customer has the bot's reply to the stuck turn; t1: the agent's queue lists the conversation. "
          "bridges one: agent and customers on one bridge process; two: on two.\n")
    print(markdown_table(reason_rows(runs), [
        "stuck by", "handoffs", "bot gave its reason", "t1-t0 p50 ms", "t1-t0 p99 ms", "t1-t0 max ms",
        "t1-sent p50 ms", "t1-sent p99 ms"]))
    path = write_result("handoff", {"handoffs_per_configuration": args.handoffs, "results": results})
    print(f"\n(written to {path})")


if __name__ == "__main__":
    main()
