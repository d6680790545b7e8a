"""Automatic assignment through real bridge processes (handoff.assignment): offers, accepting and declining,
an offer running out or its agent going away or offline, fairness and races over two processes, and a
process killed while its agent holds an offer, and one killed right after it made an offer.

These bridges have no Rasa behind them (an address nothing listens on): "talk to a person" then queues
the customer with the bridge's own summary, as documented, and the machine is spared a Rasa server; the
assignment path never involves the bot. Each test uses agents of its own and leaves the queue empty.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from typing import Awaitable, Callable, Iterator, List, Tuple

import pytest
from redis.asyncio import Redis

from handoff_client import Agent, Customer
from harness.clients import queued_customer, staff
from harness.servers import AGENT_PASSWORD, BridgeServer, add_agent, running_bridge, started_bridge
from tests.handoff.test_terminal_client import Terminal

NO_RASA = "http://127.0.0.1:9"
ACCEPT_SECONDS = "2"
SETTINGS = {"HANDOFF_ASSIGN_ACCEPT_SECONDS": ACCEPT_SECONDS, "HANDOFF_ASSIGN_ROUND_SECONDS": "0.2"}
_names = itertools.count(1)


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"hbassign{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def bridges(redis_url: str, prefix: str) -> Iterator[Tuple[str, str]]:
    add_agent(redis_url, prefix, "boss", "--roles", "agent,supervisor")
    with running_bridge(redis_url, NO_RASA, "assign-a", prefix, **SETTINGS) as first, \
            running_bridge(redis_url, NO_RASA, "assign-b", prefix, **SETTINGS) as second:
        yield first, second


async def set_mode(address: str, mode: str) -> None:
    """The general group's mode, set by a supervisor from their socket; their dashboard shows it."""
    supervisor = await staff(address, "boss", "supervisor")
    await supervisor.send("assignment_mode", {"group": "general", "mode": mode}, id="mode")
    assert (await supervisor.acknowledged("mode"))["data"] == {"group": "general", "mode": mode}
    dashboard = await supervisor.next_matching(
        lambda e: e["type"] == "dashboard" and e["data"]["assignment"]["modes"].get("general") == mode,
        f"a dashboard showing the group {mode}", 10)
    assert dashboard["data"]["assignment"]["modes"]["cards"] == "manual"
    await supervisor.close()


@pytest.fixture(scope="module")
def automatic(bridges: Tuple[str, str]) -> Iterator[Tuple[str, str]]:
    """The general group assigned automatically for the module's tests; manual again after."""
    asyncio.run(set_mode(bridges[0], "automatic"))
    yield bridges
    asyncio.run(set_mode(bridges[1], "manual"))


async def agents(redis_url: str, prefix: str, addresses: List[str], max_chats: int = 3) -> List[Agent]:
    """New agents of the general group, each reading its socket in a task, connected one after another
    (the first has been idle longest)."""
    connected = []
    for address in addresses:
        name = f"ag{next(_names)}"
        add_agent(redis_url, prefix, name, "--groups", "general", "--max-chats", str(max_chats))
        agent = Agent(address, name, password=AGENT_PASSWORD)
        await agent.start()
        await agent.expect("queue")
        connected.append(agent)
        await asyncio.sleep(0.01)  # distinct idle times
    return connected


async def offered(agent: Agent, conversation_id: str, timeout: float = 15) -> dict:
    await agent.wait_for(lambda: conversation_id in agent.offers, f"an offer of {conversation_id}", timeout)
    return agent.offers[conversation_id]


async def waiting_status(address: str, customer: Customer) -> dict:
    """The customer's status as another tab of theirs gets it on connecting: an offered customer is
    still queued, with their place and a wait estimate."""
    tab = await Customer.connect(address, conversation_id=customer.conversation_id, token=customer.token)
    status = (await tab.expect("status"))["data"]
    await tab.close()
    assert status["state"] == "queued" and status["wait"] and "wait_range" in status
    return status


async def until(done: Callable[[], bool], what: str, timeout: float = 15) -> None:
    """Until ``done()`` holds (the agents' sockets read in tasks of their own)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.05)


async def with_redis(redis_url: str, scenario: Callable[[Redis], Awaitable[None]]) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await scenario(redis)
    finally:
        await redis.close()


async def leave(*customers: Customer) -> None:
    for customer in customers:
        await customer.acknowledged(await customer.leave_queue())
        await customer.close()


def test_an_agent_is_offered_a_waiting_customer_and_accepts(automatic, redis_url, prefix):
    async def scenario() -> None:
        first, second = automatic
        [agent] = await agents(redis_url, prefix, [first])
        customer = await queued_customer(second)
        card = await offered(agent, customer.conversation_id)
        assert card["group"] == "general" and card["summary"] and 0 < card["offer_seconds"] <= int(ACCEPT_SECONDS)
        assert card["waiting_seconds"] >= 0 and "customer_presence" in card
        # Offered is still waiting: the customer's place and estimate are those of any queued customer.
        assert (await waiting_status(second, customer))["position"] == 1
        await agent.acknowledged(await agent.accept_offer(customer.conversation_id))
        await agent.wait_for(lambda: customer.conversation_id in agent.serving, "the accepted chat")
        await customer.expect("status", state="agent")
        joined = await customer.next_matching(
            lambda e: e["type"] == "message" and e["data"]["data"].get("notice") == "agent_joined", "agent_joined")
        assert agent.name.capitalize() in joined["data"]["text"]
        await agent.wait_for(lambda: not agent.offers, "the offer gone once accepted")
        await agent.acknowledged(await agent.close_conversation(customer.conversation_id))
        await customer.close()
        await agent.close()

    asyncio.run(scenario())


def test_a_declined_offer_goes_to_the_next_agent(automatic, redis_url, prefix):
    async def scenario() -> None:
        first, second = automatic
        ann, bob = await agents(redis_url, prefix, [first, second])
        customer = await queued_customer(first)
        await offered(ann, customer.conversation_id)  # idle longest
        assert not bob.offers
        declined = await ann.decline_offer(customer.conversation_id)
        await ann.acknowledged(declined)
        await offered(bob, customer.conversation_id)
        await ann.wait_for(lambda: not ann.offers, "the declined offer gone")
        # Declining someone else's offer (or one gone) is refused.
        refused = await ann.decline_offer(customer.conversation_id)
        await ann.wait_for(lambda: refused.refused == "not_found", "not_found")
        await leave(customer)
        await bob.wait_for(lambda: not bob.offers, "the offer withdrawn when the customer left")
        await ann.close()
        await bob.close()

    asyncio.run(scenario())


def test_an_offer_not_accepted_in_time_goes_to_the_next_and_the_customer_keeps_their_place(automatic, redis_url, prefix):
    async def scenario(redis: Redis) -> None:
        first, second = automatic
        ann, bob = await agents(redis_url, prefix, [first, second])
        customer = await queued_customer(second)
        since = await redis.hget(f"{prefix}:conv:{customer.conversation_id}", "waiting_since")
        place = await redis.zscore(f"{prefix}:queue:general", customer.conversation_id)
        await offered(ann, customer.conversation_id)
        assert (await waiting_status(first, customer))["position"] == 1
        await offered(bob, customer.conversation_id, timeout=int(ACCEPT_SECONDS) + 5)  # ann let it run out
        assert (await waiting_status(first, customer))["position"] == 1
        assert customer.conversation_id not in ann.offers
        assert await redis.hget(f"{prefix}:conv:{customer.conversation_id}", "waiting_since") == since
        assert await redis.zscore(f"{prefix}:queue:general", customer.conversation_id) == place
        # Too late to accept it now.
        late = await ann.accept_offer(customer.conversation_id)
        await ann.wait_for(lambda: late.refused == "not_found", "not_found")
        await bob.acknowledged(await bob.accept_offer(customer.conversation_id))
        await bob.wait_for(lambda: customer.conversation_id in bob.serving, "the chat")
        await bob.acknowledged(await bob.close_conversation(customer.conversation_id))
        await customer.close()
        await ann.close()
        await bob.close()

    asyncio.run(with_redis(redis_url, scenario))


def test_an_agent_going_away_or_offline_loses_the_offer(automatic, redis_url, prefix):
    async def scenario() -> None:
        first, second = automatic
        ann, bob, cai = await agents(redis_url, prefix, [first, second, first])
        customer = await queued_customer(first)
        await offered(ann, customer.conversation_id)
        await ann.request("set_status", {"status": "away"})
        await offered(bob, customer.conversation_id, timeout=5)  # at once, not after the accept time
        await ann.wait_for(lambda: not ann.offers, "the withdrawn offer")
        await bob.close()  # offline after the grace period (2 s here), or the offer runs out first
        await offered(cai, customer.conversation_id, timeout=10)
        await leave(customer)
        await ann.close()
        await cai.close()

    asyncio.run(scenario())


def test_in_an_automatic_group_agents_take_chats_by_offer_and_supervisors_may_still_claim(automatic, redis_url, prefix):
    async def scenario() -> None:
        first, second = automatic
        [ann] = await agents(redis_url, prefix, [first], max_chats=1)
        customers = [await queued_customer(second), await queued_customer(second)]
        await offered(ann, customers[0].conversation_id)
        claim = await ann.claim(customers[1].conversation_id)  # full with the offer anyway; not hers to take
        await ann.wait_for(lambda: claim.refused == "assigned_automatically", "assigned_automatically")
        boss = Agent(second, "boss", password=AGENT_PASSWORD)
        await boss.start()
        taken = await boss.claim(customers[1].conversation_id)
        await boss.acknowledged(taken)
        await customers[1].expect("status", state="agent")
        await boss.acknowledged(await boss.close_conversation(customers[1].conversation_id))
        await leave(*customers)
        await ann.close()
        await boss.close()

    asyncio.run(scenario())


def test_offers_go_to_the_least_busy_then_the_longest_idle_over_two_processes(automatic, redis_url, prefix):
    async def scenario() -> None:
        first, second = automatic
        team = await agents(redis_url, prefix, [first, second, first, second])
        order = []
        customers = []
        for _ in range(8):  # one at a time: each is offered, accepted, and the next arrives
            customer = await queued_customer(second if len(customers) % 2 else first)
            customers.append(customer)
            await until(lambda: any(customer.conversation_id in agent.offers for agent in team), "an offer")
            holder = next(agent for agent in team if customer.conversation_id in agent.offers)
            order.append(holder.name)
            await holder.acknowledged(await holder.accept_offer(customer.conversation_id))
        names = [agent.name for agent in team]
        # Nobody busy: the longest idle (connected first); then everyone serves one: again the longest idle
        # (whoever took a chat first).
        assert order == names + names
        # A chat finished: that agent is the least busy, and gets the next.
        await team[2].acknowledged(await team[2].close_conversation(customers[6].conversation_id))
        customer = await queued_customer(first)
        await offered(team[2], customer.conversation_id)
        await leave(customer)
        for index, served in enumerate(customers):
            if index != 6:  # closed above
                agent = team[index % len(team)]
                await agent.acknowledged(await agent.close_conversation(served.conversation_id))
        for each in [*customers, *team]:
            await each.close()

    asyncio.run(scenario())


async def _capacity_kept(redis: Redis, prefix: str, team: List[Agent], limit: int, done: asyncio.Event) -> int:
    """Samples, until ``done``, every agent's chats and open offers together: never above ``limit``."""
    samples = 0
    while not done.is_set():
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(f"{prefix}:offers")
            for agent in team:
                pipe.scard(f"{prefix}:serving:{agent.name}")
            offers, *serving = await pipe.execute()
        # Open offers (an accepted one, held for its claim, becomes the chat it is claimed as).
        held = [raw.decode().split("|")[0] for raw in offers.values() if not raw.decode().endswith("|1")]
        for agent, count in zip(team, serving):
            assert count + held.count(agent.name) <= limit, f"{agent.name} over capacity"
        samples += 1
        await asyncio.sleep(0.01)
    return samples


def test_many_arrivals_at_once_on_two_processes_no_double_offer_nobody_overfull_order_kept(automatic, redis_url, prefix):
    async def scenario(redis: Redis) -> None:
        first, second = automatic
        team = await agents(redis_url, prefix, [first, second, first], max_chats=2)
        done = asyncio.Event()
        sampler = asyncio.create_task(_capacity_kept(redis, prefix, team, 2, done))
        customers = await asyncio.gather(*(queued_customer(first if index % 2 else second) for index in range(10)))
        queue = [member.decode() for member in await redis.zrange(f"{prefix}:queue:general", 0, -1)]
        ours = [member for member in queue if member in {c.conversation_id for c in customers}]
        await until(lambda: all(len(agent.offers) == 2 for agent in team), "two offers each")
        held = [cid for agent in team for cid in agent.offers]
        assert sorted(held) == sorted(ours[:6])  # the six who came first, each to one agent
        accepts = [(agent, await agent.accept_offer(cid)) for agent in team for cid in list(agent.offers)]
        for agent, request in accepts:
            await agent.acknowledged(request)
        await until(lambda: sum(len(agent.serving) for agent in team) == 6, "six chats served")
        assert sorted(cid for agent in team for cid in agent.serving) == sorted(ours[:6])
        # Each agent finishes their chats; the four still waiting are offered, each to one agent.
        for agent in team:
            for cid in list(agent.serving):
                await agent.acknowledged(await agent.close_conversation(cid))
        await until(lambda: sum(len(agent.offers) for agent in team) == 4, "the four still waiting offered")
        assert sorted(cid for agent in team for cid in agent.offers) == sorted(ours[6:])
        done.set()
        assert await sampler > 0
        for agent in team:
            for cid in list(agent.offers):
                await agent.acknowledged(await agent.accept_offer(cid))
        await until(lambda: sum(len(agent.serving) for agent in team) == 4, "the four chats open")
        for agent in team:
            for cid in list(agent.serving):
                await agent.acknowledged(await agent.close_conversation(cid))
        for customer in customers:
            await customer.close()
        for agent in team:
            await agent.close()

    asyncio.run(with_redis(redis_url, scenario))


def test_an_offer_survives_the_bridge_process_of_its_agent_being_killed(automatic, redis_url, prefix):
    async def scenario() -> None:
        _, second = automatic
        with started_bridge(redis_url, NO_RASA, "assign-killed", prefix, **SETTINGS) as doomed:
            [ann] = await agents(redis_url, prefix, [doomed.address])
            [bob] = await agents(redis_url, prefix, [second])
            customer = await queued_customer(second)
            await offered(ann, customer.conversation_id)
            doomed.kill()  # kill -9: nothing said goodbye; the offer is only in Redis
            # The survivor's rounds let it run out and offer it to the next agent.
            await offered(bob, customer.conversation_id, timeout=int(ACCEPT_SECONDS) + 10)
            await bob.acknowledged(await bob.accept_offer(customer.conversation_id))
            await customer.expect("status", state="agent")
            await bob.acknowledged(await bob.close_conversation(customer.conversation_id))
            await customer.close()
            await bob.close()
            await ann.close()

    asyncio.run(scenario())


async def kill_right_after_an_offer(redis_url: str, prefix: str, victim: BridgeServer,
                                    found: "asyncio.Future[str]") -> None:
    """Kills ``victim`` right after Redis has stored an offer (MONITOR sees the round script write it), before
    the process can write anything more (CLIENT PAUSE WRITE, as tests/drills/test_bridge_killed.py does)."""
    redis, pauser = Redis.from_url(redis_url), Redis.from_url(redis_url)
    stored = re.compile(rf"^HSET {re.escape(prefix)}:offers (?P<conversation>\S+) ")
    try:
        async with redis.monitor() as monitor:
            async for command in monitor.listen():
                seen = stored.match(command["command"]) if command["client_type"] == "lua" else None
                if seen:
                    await pauser.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
                    try:
                        await asyncio.to_thread(victim.kill)
                    finally:
                        await pauser.execute_command("CLIENT", "UNPAUSE")
                    found.set_result(seen["conversation"])
                    return
    finally:
        await redis.close()
        await pauser.close()


def test_a_bridge_killed_right_after_it_made_an_offer_loses_nothing(redis_url):
    """Only the victim runs a round when the customer queues there (both processes' timers are long): the
    offer it made, and announced in the same step, reaches the agent on the other process, who accepts it."""
    prefix = f"hbassignkill{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "kay", "--groups", "general")
    slow_rounds = {**SETTINGS, "HANDOFF_ASSIGN_ROUND_SECONDS": "60"}

    async def scenario(survivor: str, victim: BridgeServer) -> None:
        redis = Redis.from_url(redis_url)
        await redis.hset(f"{prefix}:assign-mode", "general", "automatic")
        kay = Agent(survivor, "kay", password=AGENT_PASSWORD)
        await kay.start()
        await kay.expect("queue")
        found: "asyncio.Future[str]" = asyncio.get_running_loop().create_future()
        killer = asyncio.create_task(kill_right_after_an_offer(redis_url, prefix, victim, found))
        await asyncio.sleep(0.5)  # the MONITOR is on
        customer = await Customer.connect(victim.address)
        await customer.send("talk_to_person", id="talk")  # its ack may never come: the process is killed
        cut = await asyncio.wait_for(found, 30)
        await killer
        assert cut == customer.conversation_id
        await offered(kay, cut)
        await kay.acknowledged(await kay.accept_offer(cut))
        await kay.wait_for(lambda: cut in kay.serving, "the accepted chat")
        again = await Customer.connect(survivor, conversation_id=cut, token=customer.token)
        await again.expect("status", state="agent")
        await kay.acknowledged(await kay.close_conversation(cut))
        for each in (again, kay):
            await each.close()
        await customer.close()
        await redis.close()

    with running_bridge(redis_url, NO_RASA, "assign-survivor", prefix, **slow_rounds) as survivor, \
            started_bridge(redis_url, NO_RASA, "assign-victim", prefix, **slow_rounds) as victim:
        asyncio.run(scenario(survivor, victim))


def test_an_agent_at_a_terminal_accepts_an_offer(automatic, redis_url, prefix):
    first, second = automatic
    add_agent(redis_url, prefix, "tia", "--groups", "general")

    async def scenario() -> None:
        terminal = await Terminal.start("agent", "--url", f"ws://{first}", "--name", "tia",
                                        HANDOFF_AGENT_PASSWORD=AGENT_PASSWORD)
        await terminal.shows("waiting (/queue lists them)")
        customer = await queued_customer(second)
        short = customer.conversation_id[:8]
        await terminal.shows(f"offered to you: {short} (")
        await terminal.type(f"/accept {short}")
        await terminal.shows(f"now answering {short}")
        await customer.expect("status", state="agent")
        await terminal.type("/close")
        await customer.expect("status", state="closed")
        assert await terminal.leave() == 0
        await customer.close()

    asyncio.run(scenario())


def test_dashboards_count_offers_as_they_come_and_go_and_an_offer_card_follows_its_customer(automatic, redis_url, prefix):
    """An offer made or withdrawn is pushed to the dashboards (no wait for their 15 s refresh, nor for a
    change of the queue), and what an offered customer writes reaches the offer card as their queue card."""
    async def counted(supervisor: Agent, offers: int, what: str) -> None:
        await supervisor.next_matching(
            lambda e: e["type"] == "dashboard" and e["data"]["assignment"]["offers"] == offers, what, 1.5)

    async def scenario() -> None:
        first, second = automatic
        supervisor = await staff(second, "boss", "supervisor")
        [ann] = await agents(redis_url, prefix, [first])
        customer = await queued_customer(second)
        cid = customer.conversation_id
        await offered(ann, cid)
        text = "it is about my card payment"
        await customer.acknowledged(await customer.say(text))
        await ann.wait_for(lambda: ((ann.offers.get(cid) or {}).get("last_message") or {}).get("text") == text,
                           "the offer card with what the customer wrote", 1.5)
        await supervisor.next_matching(lambda e: e["type"] == "dashboard" and e["data"]["assignment"]["offers"] == 1,
                                       "a dashboard counting the offer", 5)
        supervisor.received.clear()  # only a dashboard pushed from now on
        await ann.acknowledged(await ann.decline_offer(cid))
        await counted(supervisor, 0, "a dashboard without the declined offer")
        # Nobody else: offered to ann again once the accept time has gone by since she passed.
        supervisor.received.clear()
        await offered(ann, cid)
        await counted(supervisor, 1, "a dashboard counting the offer made again")
        await leave(customer)
        await ann.close()
        await supervisor.close()

    asyncio.run(scenario())


def test_a_customer_who_has_left_is_not_offered_until_they_are_back(automatic, redis_url, prefix):
    """Trial 16: a queued customer whose page had gone ("Left 4 min ago") was offered to one agent after another,
    each declining again. Gone, they keep their place but are offered to nobody; back, they are offered at once."""
    async def scenario(redis: Redis) -> None:
        first, second = automatic
        customer = await queued_customer(second)
        await customer.close()
        presence = f"{prefix}:conv:{customer.conversation_id}"
        for _ in range(100):
            if ((await redis.hget(presence, "presence")) or b"").startswith(b"gone"):
                break
            await asyncio.sleep(0.05)
        [agent] = await agents(redis_url, prefix, [first])
        await asyncio.sleep(1.5)  # several rounds (every 0.2 s here)
        assert customer.conversation_id not in agent.offers
        back = await Customer.connect(second, conversation_id=customer.conversation_id, token=customer.token)
        await offered(agent, customer.conversation_id, timeout=5)
        await leave(back)
        await agent.close()

    asyncio.run(with_redis(redis_url, scenario))
