"""A drill's population and its continuous traffic.

Customers chatting with the bot (one message at a time, waiting for the
answer as people do), customers waiting in the queue (writing now and then),
customers served by agents and the agents answering them; all keep writing
until the drill stops them, through whatever fault the drill causes.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
from redis.asyncio import Redis

from handoff.machine import handoff_in
from handoff_client import Request
from harness.chats import LONG_CHAT
from harness.servers import add_agent, admin_address
from tests.drills.clients import DrillAgent, DrillCustomer, Ledger
from tests.drills.ledger import Tally, account, queue_order
from tests.drills.report import DrillResult

__all__ = ["Crowd", "add_agents", "readiness", "told_why"]

# How long a person waits for an ack through a fault before the drill fails: a bot turn cut by the
# fault is taken over once its routing lease runs out (3 s), then Rasa may take its timeout (10 s);
# a client's reconnect backoff grows while a server is down. Far beyond all of it, so a hang fails.
ACK_PATIENCE_SECONDS = 60.0


def add_agents(redis_url: str, prefix: str, names: Sequence[str]) -> None:
    """The crowd's agents' accounts, each with room for every chat a drill gives them."""
    for name in names:
        add_agent(redis_url, prefix, name, "--max-chats", "20")


def handoff_by_the_bot(customer: DrillCustomer) -> Optional[Dict[str, Any]]:
    """The bot's own handoff of the customer (the ``custom.handoff`` in one of its messages), if any."""
    return handoff_in(tuple(m["data"] for m in customer.messages_by_id.values() if m["kind"] == "bot"))


def told_why(customer: DrillCustomer) -> bool:
    """A customer a fault took from the bot saw why: a notice (the bot never hands them over itself)."""
    return any(m["kind"] == "system" for m in customer.messages_by_id.values())


async def readiness(address: str) -> Tuple[int, Dict[str, Any]]:
    """The bridge's GET /ready: status and body."""
    async with aiohttp.ClientSession() as http:
        ready = f"http://{admin_address(address)}/ready"  # the bridge's loopback admin port
        async with http.get(ready, timeout=aiohttp.ClientTimeout(total=10)) as reply:
            return reply.status, await reply.json()


class Crowd:
    """``bot`` customers talking to the bot, ``waiting`` ones queued in a known order, and
    ``served`` ones each claimed by one of ``agents`` (agent names, accounts made already).

    Every client reaches one of ``addresses`` (bridge processes behind a load balancer that
    spreads them in turn, so each kind of client is on every process).
    ``pace`` is the mean pause between one person's messages, in seconds.
    """

    def __init__(self, addresses: Sequence[str], agents: Sequence[str], bot: int = 0, waiting: int = 0,
                 served: int = 0, pace: float = 0.8) -> None:
        self.addresses = list(addresses)
        self.ledger = Ledger()
        self.pace = pace
        self.agents = [DrillAgent(name, self.addresses, self.ledger, n) for n, name in enumerate(agents)]
        self.bot = [DrillCustomer(f"bot-{n}", self.addresses, self.ledger, n) for n in range(bot)]
        self.waiting = [DrillCustomer(f"waiting-{n}", self.addresses, self.ledger, n) for n in range(waiting)]
        self.served = [DrillCustomer(f"served-{n}", self.addresses, self.ledger, n) for n in range(served)]
        self.agent_of: Dict[str, DrillAgent] = {}  # served customer's name -> their agent
        self.queued_before: List[str] = []  # the queue, front first, once everyone is in place
        self._stop = asyncio.Event()
        self._traffic: List["asyncio.Task[None]"] = []

    @property
    def customers(self) -> List[DrillCustomer]:
        return [*self.bot, *self.waiting, *self.served]

    @property
    def clients(self) -> List[DrillCustomer | DrillAgent]:
        return [*self.customers, *self.agents]

    async def start(self, redis: Redis, prefix: str) -> None:
        """Everyone connected and in place: served customers claimed, the waiting ones queued in order."""
        await asyncio.gather(*(agent.start() for agent in self.agents))
        await asyncio.gather(*(customer.start() for customer in self.customers))
        for customer, agent in zip(self.served, itertools.cycle(self.agents)):
            await customer.settled(await customer.talk_to_person())
            await agent.settled(await agent.claim(customer.conversation_id))
            self.agent_of[customer.name] = agent
            await customer.wait_for(lambda c=customer: c.status.get("state") == "agent", "agent status")
        for customer in self.waiting:  # one after the other: the queue's order is theirs
            await customer.settled(await customer.talk_to_person())
            await customer.wait_for(lambda c=customer: c.status.get("state") == "queued", "queued status")
        waiting = {c.conversation_id for c in self.waiting}
        self.queued_before = [conversation for conversation in await queue_order(redis, prefix)
                              if conversation in waiting]
        assert self.queued_before == [c.conversation_id for c in self.waiting]

    # ---- traffic -----------------------------------------------------------------

    def start_traffic(self) -> None:
        self._stop.clear()
        self._traffic = [asyncio.create_task(self._chat_with_bot(c), name=c.name) for c in self.bot]
        self._traffic += [asyncio.create_task(self._write_now_and_then(c, self.pace * 2), name=c.name)
                          for c in self.waiting]
        self._traffic += [asyncio.create_task(self._write_now_and_then(c, self.pace), name=c.name)
                          for c in self.served]
        self._traffic += [asyncio.create_task(self._answer(agent), name=agent.name) for agent in self.agents]

    async def arrive(self) -> DrillCustomer:
        """A new customer who starts talking to the bot now, whatever state the system is in."""
        customer = DrillCustomer(f"bot-{len(self.bot)}", self.addresses, self.ledger, len(self.bot))
        self.bot.append(customer)
        await customer.start(timeout=None)
        self._traffic.append(asyncio.create_task(self._chat_with_bot(customer), name=customer.name))
        return customer

    async def stop_traffic(self) -> List[str]:
        """Stops everyone writing; what went wrong in the traffic (a send never acknowledged, …)."""
        self._stop.set()
        # Each finishes its current send (acknowledged) first; all are awaited even when one failed.
        outcomes = await asyncio.gather(*self._traffic, return_exceptions=True)
        return [f"{task.get_name()}: {outcome!r}" for task, outcome in zip(self._traffic, outcomes)
                if isinstance(outcome, BaseException)]

    async def _pause(self, mean: float) -> bool:
        """Waits about ``mean`` seconds; False once the drill stops the traffic."""
        try:
            await asyncio.wait_for(self._stop.wait(), mean * random.uniform(0.5, 1.5))
        except asyncio.TimeoutError:
            return True
        return False

    async def _chat_with_bot(self, customer: DrillCustomer) -> None:
        for text in LONG_CHAT:  # far longer than any drill; stays with the bot throughout
            # acked once the bot has answered
            await customer.settled(await customer.say(text), timeout=ACK_PATIENCE_SECONDS)
            if not await self._pause(self.pace):
                return

    async def _write_now_and_then(self, customer: DrillCustomer, pace: float) -> None:
        for n in itertools.count(1):
            send = await customer.say(f"{customer.name} writes #{n}")
            await customer.settled(send, timeout=ACK_PATIENCE_SECONDS)
            if not await self._pause(pace):
                return

    async def _answer(self, agent: DrillAgent) -> None:
        mine = [c for c in self.served if self.agent_of.get(c.name) is agent]
        for n in itertools.count(1):
            if not await self._pause(self.pace):
                return
            sends = [await agent.say(f"{agent.name} answers {c.name} #{n}", c.conversation_id)
                     for c in mine if c.conversation_id in agent.serving or not agent.ready.is_set()]
            for send in sends:
                await agent.settled(send, timeout=ACK_PATIENCE_SECONDS)

    async def bot_in_the_middle_of_a_turn(self, redis: Redis, prefix: str, address: Optional[str] = None,
                                          timeout: float = 30.0) -> Tuple[DrillCustomer, Request]:
        """Waits until a bridge (the one at ``address``, if given) has stored a message to the bot and not
        yet acknowledged it (acks come after the bot's answer): a fault now cuts a bot turn in the middle.
        Returns the customer and that message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for customer in self.bot:
                if address and customer.connected_to != address:
                    continue
                for send in list(customer.outbox.values()):
                    if await redis.hexists(f"{prefix}:idem:{customer.conversation_id}", f"customer:{send.id}"):
                        if send.id in customer.outbox:
                            return customer, send
            await asyncio.sleep(0.005)
        raise AssertionError("no bot turn in progress")

    def in_flight(self) -> int:
        """Sends written and not acknowledged yet."""
        return sum(len(client.outbox) for client in self.clients)

    # ---- the end -------------------------------------------------------------------

    async def account(self, redis: Redis, prefix: str) -> Tally:
        """Stops the traffic and accounts for it (ledger.account); report the tally, then ``check`` it."""
        failures = await self.stop_traffic()
        return await account(redis, prefix, self.ledger, self.customers, self.agents, self.bot, failures)

    def check(self, tally: Tally, result: DrillResult, fault_ended: float) -> None:
        """What every drill asserts: nothing lost or duplicated (stored, and delivered while connected),
        every queue place kept and told, every message to the bot answered, no customer of the bot handed
        over by it (only a fault may queue them, and they are told why), nothing left unacknowledged, and
        live delivery between customers and agents working again after the fault."""
        assert not tally.problems, tally.problems
        assert result.lost == result.duplicated == result.queue_places_lost == 0, result
        assert tally.unacknowledged == tally.unanswered == 0, result
        told = [tally.told[c.name] for c in self.waiting]
        positions = [status.get("position") for status in told if status.get("state") == "queued"]
        assert len(positions) == len(self.waiting) and all(positions) and all(
            before < after for before, after in zip(positions, positions[1:])), f"told their places in order: {told}"
        for customer in self.bot:
            handoff = handoff_by_the_bot(customer)
            assert handoff is None, (f"the bot handed {customer.name} over ({handoff and handoff.get('reason')}) "
                                     f"after {[m['text'] for m in customer.messages_by_id.values()]}")
            if tally.told[customer.name].get("state") != "bot":
                assert told_why(customer), f"{customer.name} was queued without being told why"
        live = self.ledger.relayed_to_since(fault_ended)
        chatting = [c for c in self.served if tally.told[c.name].get("state") == "agent"]
        talking = {c.name for c in chatting} | {self.agent_of[c.name].name for c in chatting}
        assert chatting and talking <= live, f"live delivery after the fault to {sorted(talking - live)}"

    async def close(self) -> None:
        for client in self.clients:
            await client.close()

    def sends_by(self, clients: Optional[Sequence[DrillCustomer | DrillAgent]] = None) -> list:
        names = {client.name for client in (clients or self.clients)}
        return [send for send in self.ledger.sends.values() if send.sender in names]
