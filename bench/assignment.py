"""Automatic assignment's fairness and speed: how evenly chats spread over agents, and how soon a waiting
customer is offered to one.

    python -m bench.assignment                      # 150 arrivals, 3 a second, 6 agents on 2 bridges
    python -m bench.assignment --arrivals 40        # a quick look
    python -m bench.assignment --round-cost         # what one round costs Redis with a long queue

Two bridge processes over their own Redis (no Rasa: "talk to a person" queues with the bridge's own summary,
and assignment never asks the bot), the general group assigned automatically. Agents, half on each
process, each with ``--max-chats`` slots, answer every offer after 0.1-0.6 s: most accept, some decline,
a few let it run out (HANDOFF_ASSIGN_ACCEPT_SECONDS 3 here); an accepted chat lasts 2-5 s, then it is
closed. Customers arrive as a Poisson stream on alternate processes. Reported: chats taken per agent
(their spread), the time from a customer's "talk to a person" (sent) to the first offer of them arriving
at an agent's console (queueing it, the round, the announcement, the agent's socket reading the offer;
with every slot taken, the wait for one too), and how full any agent ever was (serving plus open offers,
sampled from Redis every 20 ms: never above max_chats). Results: a Markdown table and
.run/bench/assignment.json.

``--round-cost`` times the round itself (the Lua script every process runs every second) on its own
Redis: 500 customers queued in an automatic group and 50 agents of 3 slots, once when every slot is
taken by an offer (the steady state of a long queue), once with every group manual (the shipped default).
Results: .run/bench/assignment-round.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections import Counter
from typing import Any, Dict, List, Set

from redis.asyncio import Redis

from bench.common import machine, markdown_table, percentile, write_result
from handoff.assignment import Assignment
from handoff.store import Store
from handoff_client import Agent, Customer
from harness.servers import AGENT_PASSWORD, add_agent, running_bridge, running_redis

__all__ = ["main"]

NO_RASA = "http://127.0.0.1:9"
PREFIX = "hbassignbench"
ACCEPT_SECONDS = 3


class Desk:
    """What the run saw: when each customer was queued and first offered, who took what, how full anyone got."""

    def __init__(self) -> None:
        self.queued_at: Dict[str, float] = {}
        self.first_offer: Dict[str, float] = {}
        self.taken: Counter = Counter()
        self.outcomes: Counter = Counter()
        self.fullest = 0
        self.seen: Dict[str, Set[str]] = {}  # agent -> offers already answered


async def answer(agent: Agent, conversation_id: str, desk: Desk, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0.1, 0.6))
    choice = rng.random()
    if choice < 0.05:
        desk.outcomes["let run out"] += 1
        return
    if choice < 0.15:
        desk.outcomes["declined"] += 1
        await agent.request("offer_decline", {"conversation_id": conversation_id})
        return
    accepted = await agent.request("offer_accept", {"conversation_id": conversation_id})
    await agent.wait_for(lambda: accepted.acked_at is not None or accepted.refused is not None, "the accept's answer")
    if accepted.refused:
        desk.outcomes[f"accept refused ({accepted.refused})"] += 1
        return
    desk.outcomes["accepted"] += 1
    desk.taken[agent.name] += 1
    await asyncio.sleep(rng.uniform(2.0, 5.0))
    await agent.close_conversation(conversation_id)


def listen(agent: Agent, desk: Desk, rng: random.Random, tasks: Set["asyncio.Task[None]"]) -> None:
    seen = desk.seen.setdefault(agent.name, set())

    def on_envelope(envelope: Dict[str, Any]) -> None:
        if envelope.get("type") != "offers":
            return
        now = time.monotonic()
        for item in envelope["data"]["items"]:
            conversation_id = item["conversation_id"]
            desk.first_offer.setdefault(conversation_id, now)
            if conversation_id not in seen:
                seen.add(conversation_id)
                task = asyncio.create_task(answer(agent, conversation_id, desk, rng))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    agent.listeners.append(on_envelope)


async def sample_fullness(redis: Redis, names: List[str], desk: Desk, stop: asyncio.Event) -> None:
    while not stop.is_set():
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(f"{PREFIX}:offers")
            for name in names:
                pipe.scard(f"{PREFIX}:serving:{name}")
            offers, *serving = await pipe.execute()
        open_offers = Counter(raw.decode().split("|")[0] for raw in offers.values() if not raw.decode().endswith("|1"))
        desk.fullest = max([desk.fullest, *(count + open_offers[name] for name, count in zip(names, serving))])
        await asyncio.sleep(0.02)


async def arrive(address: str, desk: Desk) -> Customer:
    customer = await Customer.connect(address)
    desk.queued_at[customer.conversation_id] = time.monotonic()  # the offer may arrive before the ack does
    await customer.send("talk_to_person", id="talk")
    await customer.acknowledged("talk")
    return customer


async def run(redis_url: str, addresses: List[str], arguments: argparse.Namespace) -> Desk:
    rng = random.Random(arguments.seed)
    desk = Desk()
    tasks: Set["asyncio.Task[None]"] = set()
    redis = Redis.from_url(redis_url)
    await redis.hset(f"{PREFIX}:assign-mode", "general", "automatic")
    names = [f"agent{number}" for number in range(arguments.agents)]
    agents = []
    for number, name in enumerate(names):
        agent = Agent(addresses[number % 2], name, password=AGENT_PASSWORD)
        await agent.start()
        listen(agent, desk, rng, tasks)
        agents.append(agent)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_fullness(redis, names, desk, stop))
    arrivals: List["asyncio.Task[Customer]"] = []
    for number in range(arguments.arrivals):
        arrivals.append(asyncio.create_task(arrive(addresses[number % 2], desk)))
        await asyncio.sleep(rng.expovariate(arguments.rate))
    customers = await asyncio.gather(*arrivals)
    deadline = time.monotonic() + 120
    while len(desk.first_offer.keys() & desk.queued_at.keys()) < len(customers) or tasks:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    stop.set()
    await sampler
    for each in [*customers, *agents]:
        await each.close()
    await redis.close()
    return desk


async def round_cost(redis_url: str, queued: int = 500, agents: int = 50, rounds: int = 200) -> Dict[str, Any]:
    """Milliseconds per round (p50, p90), measured by the client, with a long automatic queue and without."""
    redis = Redis.from_url(redis_url)
    prefix = "hbroundcost"
    now = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        for number in range(queued):
            pipe.hset(f"{prefix}:conv:c{number}", mapping={"state": "queued", "group": "general"})
            pipe.zadd(f"{prefix}:queue:general", {f"c{number}": now + number})
        for number in range(agents):
            name = f"agent{number}"
            pipe.hset(f"{prefix}:agents", name, '{"groups": ["general"], "max_chats": 3}')
            pipe.zadd(f"{prefix}:online", {f"{name}|conn": now + 3_600_000})
            pipe.hset(f"{prefix}:agent-status", name, f"available|{now}")
            pipe.hset(f"{prefix}:agent-ready", name, now - number)
        await pipe.execute()
    assignment = Assignment(Store(redis, prefix), 3600)
    figures: Dict[str, Any] = {}
    for case in ("automatic", "manual"):
        if case == "automatic":
            await redis.hset(f"{prefix}:assign-mode", "general", "automatic")
            made, _ = await assignment.run_round()  # every slot offered: from now on the steady state
            figures["offers"] = len(made)
        else:
            await redis.delete(f"{prefix}:assign-mode")
            await assignment.run_round()  # the offers withdrawn
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            await assignment.run_round()
            times.append((time.perf_counter() - started) * 1000)
        figures[case] = {"p50_ms": round(percentile(times, 0.5), 2), "p90_ms": round(percentile(times, 0.9), 2)}
    await redis.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arrivals", type=int, default=150)
    parser.add_argument("--rate", type=float, default=3.0, help="customers arriving per second")
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--max-chats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--round-cost", action="store_true", help="time the round itself instead")
    arguments = parser.parse_args()
    if arguments.round_cost:
        with running_redis("redis-assign-round") as redis_server:
            figures = asyncio.run(round_cost(redis_server.url))
        print(f"one round, 500 queued and 50 agents of 3 slots: {figures['offers']} offers made; then every slot "
              f"offered: p50 {figures['automatic']['p50_ms']} ms, p90 {figures['automatic']['p90_ms']} ms; "
              f"every group manual: p50 {figures['manual']['p50_ms']} ms, p90 {figures['manual']['p90_ms']} ms")
        print(f"(also in {write_result('assignment-round', {**figures, 'machine': machine()})})")
        return
    with running_redis("redis-assign-bench") as redis_server:
        for number in range(arguments.agents):
            add_agent(redis_server.url, PREFIX, f"agent{number}", "--groups", "general",
                      "--max-chats", str(arguments.max_chats))
        settings = {"HANDOFF_ASSIGN_ACCEPT_SECONDS": str(ACCEPT_SECONDS), "HANDOFF_MAX_QUEUE_ENTRIES_PER_IP": "1000000",
                    "HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP": "1000000", "HANDOFF_MAX_CONNECTIONS_PER_IP": "10000"}
        with running_bridge(redis_server.url, NO_RASA, "bridge-assign-a", PREFIX, **settings) as first, \
                running_bridge(redis_server.url, NO_RASA, "bridge-assign-b", PREFIX, **settings) as second:
            desk = asyncio.run(run(redis_server.url, [first, second], arguments))
    waits = [(desk.first_offer[cid] - at) * 1000 for cid, at in desk.queued_at.items() if cid in desk.first_offer]
    taken = [desk.taken[f"agent{number}"] for number in range(arguments.agents)]
    mean = statistics.mean(taken)
    rows = [{"agent": f"agent{number}", "chats taken": count} for number, count in enumerate(taken)]
    summary = {
        "arrivals": arguments.arrivals, "offered": len(waits), "rate_per_second": arguments.rate,
        "agents": arguments.agents, "max_chats": arguments.max_chats, "taken": dict(zip(range(len(taken)), taken)),
        "taken_min": min(taken), "taken_max": max(taken), "taken_mean": round(mean, 2),
        "taken_cv": round(statistics.pstdev(taken) / mean, 3) if mean else None,
        "time_to_offer_ms": {"p50": round(percentile(waits, 0.5), 1), "p90": round(percentile(waits, 0.9), 1),
                             "p99": round(percentile(waits, 0.99), 1), "max": round(max(waits), 1)},
        "outcomes": dict(desk.outcomes), "fullest_agent": desk.fullest, "machine": machine(),
    }
    print(markdown_table(rows, ["agent", "chats taken"]))
    print(f"\n{summary['offered']} of {arguments.arrivals} customers offered; chats taken per agent: "
          f"{summary['taken_min']}-{summary['taken_max']} (mean {summary['taken_mean']}, cv {summary['taken_cv']}); "
          f"time to offer p50 {summary['time_to_offer_ms']['p50']} ms, p90 {summary['time_to_offer_ms']['p90']} ms, "
          f"max {summary['time_to_offer_ms']['max']} ms; outcomes {dict(desk.outcomes)}; "
          f"fullest agent {desk.fullest} of {arguments.max_chats}")
    path = write_result("assignment", {"rows": rows, **summary})
    print(f"\n(also in {path})")


if __name__ == "__main__":
    main()
