"""The load generator of the relay and scale benchmarks: customer and agent
websockets in worker processes, away from the bridge.

On 2 cores the generator competes with the bridge and Redis for CPU, so it runs
in processes of its own (each one asyncio loop holding many sockets), driven
over a pipe by the benchmark, which reports the generator's CPU next to the
bridge's. Latency is end to end: the sender puts ``time.monotonic_ns()`` in the
message text, and the other side's socket subtracts it from its own clock when
the frame arrives (CLOCK_MONOTONIC is one clock for every process of a Linux
machine). Each worker holds whole conversations (the agent and its
customers), so both ends of every measured message are in one process.

Conversations are set up without Rasa: a customer says hello and asks for a
person, an agent claims it. Agents claim one after another, each on a socket
of its own that it closes once its customers are claimed; then every agent
connects again and gets its conversations back, as an agent reconnecting
does. Agents that stayed connected would each recompute their queue view on
every queue change, which makes setting up hundreds of agents quadratic; the
relay does not depend on it. The reconnection must come within
``HANDOFF_AGENT_GRACE_SECONDS`` (the benchmarks run the shipped 60 s).

Agent accounts are written with :class:`handoff.auth.AgentDirectory` (one
scrypt hash shared by all, since they share the password) and their tokens are
issued with the bridges' secret, as ``/api/agents/login`` would: hundreds of
logins would otherwise cost the bridge ~50 ms of scrypt each.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import resource
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar

from redis.asyncio import Redis

from bench.common import process_cpu_seconds
from handoff.auth import AgentDirectory, issue_token
from handoff.settings import Settings
from handoff_client import Agent, Customer, Transport
from harness.servers import AGENT_PASSWORD, SECRET

__all__ = ["LoadGenerator", "RelayRun", "running_generator", "split", "raise_fd_limit", "run_queue_wait_seconds",
           "SHIPPED_GRACE"]

# HANDOFF_AGENT_GRACE_SECONDS for the bridges: the shipped 60 s (the tests' bridges use 2, too short for
# the set-up, in which agents reconnect).
SHIPPED_GRACE = str(Settings().agent_grace_seconds)

MARK = "bench"  # message texts are "bench <monotonic ns at sending>"
DIRECTIONS = ("customer_to_agent", "agent_to_customer")
# An agent claims its customers within the shipped limit of its socket (5 a second, bursts of 10).
CLAIM_BURST, CLAIM_RATE = 8, 4.0
T = TypeVar("T")


def raise_fd_limit() -> int:
    """Thousands of sockets need thousands of descriptors: the soft limit goes up to the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def split(items: Sequence[T], parts: int) -> List[List[T]]:
    """Round-robin shares, one per worker."""
    return [list(items[index::parts]) for index in range(parts)]


async def _add_agents(redis_url: str, prefix: str, names: Sequence[str], max_chats: int) -> None:
    redis = Redis.from_url(redis_url)
    try:
        directory = AgentDirectory(redis, prefix)
        await directory.add(names[0], AGENT_PASSWORD, max_chats=max_chats)
        record = await redis.hget(directory.key, names[0])
        if len(names) > 1:
            await redis.hset(directory.key, mapping={name: record for name in names[1:]})
    finally:
        await redis.close()


def add_agents(redis_url: str, prefix: str, names: Sequence[str], max_chats: int) -> None:
    """Agent accounts (password AGENT_PASSWORD, every group, role agent)."""
    asyncio.run(_add_agents(redis_url, prefix, names, max_chats))


def agent_tokens(redis_url: str, prefix: str, names: Sequence[str], lifetime_seconds: int = 3 * 3600) -> Dict[str, str]:
    """Tokens of the accounts' current generation, as /api/agents/login issues them."""
    async def tokens() -> Dict[str, str]:
        redis = Redis.from_url(redis_url)
        try:
            directory = AgentDirectory(redis, prefix)
            return {name: issue_token(SECRET, name, lifetime_seconds, await directory.generation(name))
                    for name in names}
        finally:
            await redis.close()
    return asyncio.run(tokens())


# ---- the main process's side ---------------------------------------------------


@dataclass
class RelayRun:
    """What the workers counted over a relay run's measured seconds, and the CPU processes used meanwhile."""

    seconds: float
    sent: int
    late: int
    latencies_ms: Dict[str, List[float]]
    events: Dict[str, int]
    cpu_percent: List[float]  # of each watched process, 100 = one core
    wait_percent: List[float]  # of the time each watched process's main thread was ready but not running

    @property
    def delivered(self) -> List[float]:
        return [value for direction in DIRECTIONS for value in self.latencies_ms[direction]]

    def describe_events(self) -> str:
        return " ".join(f"{name}={count}" for name, count in sorted(self.events.items())) or "-"


def run_queue_wait_seconds(pid: int) -> float:
    """How long a process's main thread has been ready to run but waiting for a core (/proc schedstat):
    on a busy machine, the part of a latency that is other processes' doing."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _sleep_until(monotonic_ns: int) -> None:
    time.sleep(max(0.0, (monotonic_ns - time.monotonic_ns()) / 1e9))


class LoadGenerator:
    """Worker processes; :meth:`call` runs one command in all of them and gathers the answers."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: List[Pipe] = []
        self.processes: List[multiprocessing.process.BaseProcess] = []
        for index in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker_main, args=(theirs, index), daemon=True,
                                      name=f"loadgen-{index}")
            process.start()
            self._pipes.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> List[int]:
        return [process.pid for process in self.processes if process.pid is not None]

    def call(self, command: str, arguments: Sequence[Dict[str, Any]]) -> List[Any]:
        """``command`` in every worker, each with its own arguments; their results in worker order."""
        self.start(command, arguments)
        return self.results()

    def start(self, command: str, arguments: Sequence[Dict[str, Any]]) -> None:
        """Starts ``command`` in every worker without waiting (then :meth:`results`)."""
        for pipe, kwargs in zip(self._pipes, arguments, strict=True):
            pipe.send((command, kwargs))

    def results(self) -> List[Any]:
        replies = [pipe.recv() for pipe in self._pipes]
        failures = [detail for outcome, detail in replies if outcome == "error"]
        if failures:
            raise RuntimeError("the load generator failed:\n" + "\n".join(failures))
        return [detail for _, detail in replies]

    def serve(self, redis_url: str, prefix: str, customer_address: str, agent_address: str, agents: int,
              chats_per_agent: int, concurrency: int) -> float:
        """``agents`` new agent accounts, each claiming ``chats_per_agent`` new customers (customers on
        one bridge, agents on another or the same), shared among the workers; returns the seconds it took."""
        names = [f"agent{number}" for number in range(agents)]
        add_agents(redis_url, prefix, names, max_chats=chats_per_agent)
        tokens = agent_tokens(redis_url, prefix, names)
        started = time.monotonic()
        self.call("serve", [{"customer_address": customer_address, "agent_address": agent_address,
                             "tokens": {name: tokens[name] for name in share}, "chats_per_agent": chats_per_agent,
                             "concurrency": concurrency} for share in split(names, len(self.processes))])
        return time.monotonic() - started

    def relay(self, customer_rate: float, agent_rate: float, seconds: float, warmup: float, drain_seconds: float,
              watch: Sequence[int]) -> RelayRun:
        """Every served customer sends ``customer_rate`` messages a second and every agent socket
        ``agent_rate``, from half a second from now; what is sent after ``warmup`` for ``seconds`` is
        counted, and the CPU of the processes ``watch`` lists is measured over those seconds."""
        start_ns = time.monotonic_ns() + 500_000_000
        self.start("relay", [{"start_ns": start_ns, "warmup_seconds": warmup, "seconds": seconds,
                              "customer_rate": customer_rate, "agent_rate": agent_rate,
                              "drain_seconds": drain_seconds}] * len(self.processes))
        _sleep_until(start_ns + int(warmup * 1e9))
        started = time.monotonic()
        before = [(process_cpu_seconds(pid), run_queue_wait_seconds(pid)) for pid in watch]
        _sleep_until(start_ns + int((warmup + seconds) * 1e9))
        elapsed = time.monotonic() - started
        cpu = [100 * (process_cpu_seconds(pid) - used) / elapsed for pid, (used, _) in zip(watch, before)]
        waited = [100 * (run_queue_wait_seconds(pid) - wait) / elapsed for pid, (_, wait) in zip(watch, before)]
        results = self.results()
        events: Counter = Counter()
        for result in results:
            events.update(result["events"])
        return RelayRun(seconds, sum(result["sent"] for result in results), sum(result["late"] for result in results),
                        {direction: [value for result in results for value in result["latencies_ms"][direction]]
                         for direction in DIRECTIONS}, dict(events), cpu, waited)

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(("stop", {}))
            except (BrokenPipeError, OSError):
                pass
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()


@contextmanager
def running_generator(workers: int) -> Iterator[LoadGenerator]:
    generator = LoadGenerator(workers)
    try:
        yield generator
    finally:
        generator.close()


# ---- the worker processes --------------------------------------------------------


@dataclass
class _Window:
    """What one relay run counts: messages sent from ``start_ns`` to ``end_ns`` and what came of them."""

    start_ns: int
    end_ns: int
    sent: int = 0
    late: int = 0  # sent more than one interval after their time: the generator fell behind
    latencies: Dict[str, List[float]] = field(default_factory=lambda: {direction: [] for direction in DIRECTIONS})
    events: Counter = field(default_factory=Counter)

    def counts(self, sent_ns: int) -> bool:
        return self.start_ns <= sent_ns < self.end_ns

    @property
    def delivered(self) -> int:
        return sum(len(values) for values in self.latencies.values())


# No client pings: browsers do not send them (the bridge pings every socket itself).
SOCKET_OPTIONS: Dict[str, Any] = {"ping_interval": None, "close_timeout": 2, "open_timeout": 60}


@dataclass
class _Agent:
    client: Agent
    conversations: List[str]


async def _agent(address: str, token: str) -> Agent:
    agent = Agent(address, token=token, **SOCKET_OPTIONS)
    await agent.open()
    return agent


async def _customer(address: str) -> Customer:
    """A customer who said hello and got the whole greeting (welcome, transcript, status)."""
    customer = await Customer.connect(address, **SOCKET_OPTIONS)
    await customer.expect("status")
    return customer


class _Worker:
    """One process's sockets and its commands (each an ``async`` method named like the command)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.customers: List[Customer] = []  # customers an agent serves
        self.agents: List[_Agent] = []
        self.idle: List[Customer] = []
        self.readers: List["asyncio.Task[None]"] = []
        self.window: Optional[_Window] = None
        self.ids = itertools.count()

    async def serve(self, customer_address: str, agent_address: str, tokens: Dict[str, str],
                    chats_per_agent: int, concurrency: int) -> Dict[str, Any]:
        """Each agent claims ``chats_per_agent`` new customers; then all agents connect for good."""
        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)

        async def claim_customers(token: str) -> List[Customer]:
            async with gate:
                claimer = await _agent(agent_address, token)
                customers = [await _customer(customer_address) for _ in range(chats_per_agent)]
                for number, customer in enumerate(customers):
                    if number >= CLAIM_BURST:
                        await asyncio.sleep(1 / CLAIM_RATE)  # claims count against the agent socket's limit
                    await customer.send("talk_to_person", id="talk")
                    await customer.acknowledged("talk")
                    await claimer.send("claim", {"conversation_id": customer.conversation_id},
                                       id=customer.conversation_id)
                    await claimer.acknowledged(customer.conversation_id)
                    await customer.expect("status", state="agent")
                await claimer.close()
                return customers

        async def reconnect(token: str, customers: List[Customer]) -> _Agent:
            async with gate:
                agent = await _agent(agent_address, token)
                for customer in customers:
                    await agent.expect("conversation", conversation_id=customer.conversation_id)
                return _Agent(agent, [customer.conversation_id for customer in customers])

        served = await asyncio.gather(*(claim_customers(token) for token in tokens.values()))
        claimed = time.monotonic()
        agents = await asyncio.gather(*(reconnect(token, customers)
                                        for token, customers in zip(tokens.values(), served)))
        for customers in served:
            self.customers += customers
            self.readers += [asyncio.create_task(self._read(customer, "customer")) for customer in customers]
        self.agents += agents
        self.readers += [asyncio.create_task(self._read(agent.client, "agent")) for agent in agents]
        return {"customers": sum(map(len, served)), "agents": len(agents),
                "claim_seconds": claimed - started, "reconnect_seconds": time.monotonic() - claimed}

    async def open_idle(self, address: str, count: int, concurrency: int) -> Dict[str, Any]:
        """``count`` more customers who say hello and then nothing; each one's connect-to-status time."""
        gate = asyncio.Semaphore(concurrency)
        milliseconds: List[float] = []

        async def one() -> Customer:
            async with gate:
                started = time.perf_counter()
                customer = await _customer(address)
                milliseconds.append((time.perf_counter() - started) * 1000)
                customer.received.clear()
                return customer

        self.idle += await asyncio.gather(*(one() for _ in range(count)))
        return {"connect_ms": milliseconds}

    async def relay(self, start_ns: int, warmup_seconds: float, seconds: float, customer_rate: float,
                    agent_rate: float, drain_seconds: float) -> Dict[str, Any]:
        """Served customers send ``customer_rate`` messages a second, each agent socket
        ``agent_rate`` (over its conversations in turn), from ``start_ns``; what was sent after
        the warm-up is counted, and given ``drain_seconds`` to arrive at the other side."""
        end_ns = start_ns + int((warmup_seconds + seconds) * 1e9)
        window = self.window = _Window(start_ns + int(warmup_seconds * 1e9), end_ns)
        senders = []
        if customer_rate > 0:
            senders += [self._send_every(customer, customer_rate, [None], start_ns, end_ns, window)
                        for customer in self.customers]
        if agent_rate > 0:
            senders += [self._send_every(agent.client, agent_rate, list(agent.conversations), start_ns, end_ns,
                                         window) for agent in self.agents]
        await asyncio.gather(*senders)
        deadline = time.monotonic() + drain_seconds
        while window.delivered < window.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.window = None
        return {"sent": window.sent, "late": window.late, "latencies_ms": window.latencies,
                "events": dict(window.events)}

    async def _send_every(self, client: Transport, rate: float, conversations: List[Optional[str]], start_ns: int,
                          end_ns: int, window: _Window) -> None:
        interval = 1e9 / rate
        due = start_ns + random.random() * interval  # spread over the first interval
        for conversation in itertools.cycle(conversations):
            if due >= end_ns:
                return
            delay = due - time.monotonic_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            sent = time.monotonic_ns()
            if sent - due > interval:
                window.late += 1
            data: Dict[str, Any] = {"text": f"{MARK} {sent}"}
            if conversation:
                data["conversation_id"] = conversation
            await client.send("message", data, id=f"w{self.index}-{next(self.ids)}")
            if window.counts(sent):
                window.sent += 1
            due += interval

    async def _read(self, client: Transport, side: str) -> None:
        """Times the other side's messages (from the frame's arrival); counts errors and lost conversations."""
        other, direction = ("agent", "agent_to_customer") if side == "customer" else ("customer", "customer_to_agent")
        client.received.clear()
        async for envelope in client:
            window = self.window
            if window is None:
                continue
            kind, data = envelope["type"], envelope["data"]
            if kind == "message" and data["kind"] == other and data["text"].startswith(MARK):
                sent = int(data["text"][len(MARK) + 1:])
                if window.counts(sent):
                    window.latencies[direction].append((client.arrived_ns - sent) / 1e6)
            elif kind == "error":
                window.events[f"error_{data['code']}"] += 1
            elif kind == "released" or (kind == "status" and data["state"] != "agent"):
                window.events["conversation_lost"] += 1

    async def close_all(self, concurrency: int) -> Dict[str, Any]:
        for reader in self.readers:
            reader.cancel()
        gate = asyncio.Semaphore(concurrency)
        clients: List[Transport] = [*self.customers, *(agent.client for agent in self.agents), *self.idle]

        async def close(client: Transport) -> None:
            async with gate:
                await client.close()

        await asyncio.gather(*(close(client) for client in clients))
        self.customers, self.agents, self.idle, self.readers = [], [], [], []
        return {"closed": len(clients)}

    async def run(self, pipe: Pipe) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, arguments = await loop.run_in_executor(None, pipe.recv)
            if command == "stop":
                return
            try:
                result: Tuple[str, Any] = ("ok", await getattr(self, command)(**arguments))
            except Exception:  # noqa: BLE001 - the benchmark shows it and stops
                result = ("error", f"worker {self.index}: {traceback.format_exc()}")
            pipe.send(result)


def _worker_main(pipe: Pipe, index: int) -> None:
    raise_fd_limit()
    asyncio.run(_Worker(index).run(pipe))
