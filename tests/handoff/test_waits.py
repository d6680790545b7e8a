"""Honest waits end to end: a real bridge process, real Redis and Rasa, real websockets.

Each test has a bridge of its own (its own key prefix), so queue places and
the queue's history are exactly what the test made them. Long waits are made
by moving the queued times back in Redis.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from redis.asyncio import Redis

from handoff_client import Agent, Customer, Transport
from harness.clients import staff
from harness.servers import add_agent, delete_prefixed_keys, running_bridge


@contextmanager
def bridge_with_agents(redis_url: str, rasa_url: str, **extra: str) -> Iterator[Tuple[str, str]]:
    """A bridge of its own: ann and bob take every group, cara only cards (one chat at a time)."""
    prefix = f"hbwait{uuid.uuid4().hex[:6]}"
    for agent in ("ann", "bob"):
        add_agent(redis_url, prefix, agent)
    add_agent(redis_url, prefix, "cara", "--groups", "cards", "--max-chats", "1")
    with running_bridge(redis_url, rasa_url, f"bridge-{prefix}", prefix, **extra) as address:
        yield address, prefix
    delete_prefixed_keys(redis_url, prefix)


@pytest.fixture
def own_bridge(redis_url: str, rasa_url: str) -> Iterator[Tuple[str, str]]:
    with bridge_with_agents(redis_url, rasa_url) as bridge:
        yield bridge


@pytest.fixture
def refreshing_bridge(redis_url: str, rasa_url: str) -> Iterator[Tuple[str, str]]:
    """The same, with a queued customer's status worked out again after 1 s without a change of the queue."""
    with bridge_with_agents(redis_url, rasa_url, HANDOFF_STATUS_REFRESH_SECONDS="1") as bridge:
        yield bridge


async def queue_up(address: str) -> Tuple[Customer, Dict[str, Any]]:
    """A customer who pressed "talk to a person" (general group), and the status they were sent."""
    customer = await Customer.connect(address)
    await customer.send("talk_to_person", id="talk")
    status = await customer.expect("status", state="queued")
    await customer.acknowledged("talk")
    return customer, status["data"]


async def backdate(redis: Redis, prefix: str, conversation_id: str, minutes: float, group: str = "general") -> None:
    """As if the customer had been queued ``minutes`` ago (the queues' scores and the conversation's times)."""
    queued_at = int(time.time() * 1000 - minutes * 60_000)
    await redis.zadd(f"{prefix}:queue", {conversation_id: queued_at})
    await redis.zadd(f"{prefix}:queue:{group}", {conversation_id: queued_at})
    await redis.hset(f"{prefix}:conv:{conversation_id}", mapping={"queued_at": queued_at, "waiting_since": queued_at})


async def served_at_once(address: str, agent: Agent) -> None:
    """Earlier, a customer was claimed at once and the chat closed (the queue's only history)."""
    customer, _ = await queue_up(address)
    await agent.send("claim", {"conversation_id": customer.conversation_id}, id="quick-claim")
    await agent.acknowledged("quick-claim")
    await agent.send("close", {"conversation_id": customer.conversation_id}, id="quick-close")
    await agent.acknowledged("quick-close")
    await customer.close()


async def resumed(address: str, customer: Customer) -> Tuple[Dict[str, Any], List[str]]:
    """The status a fresh connection of the same customer is sent (as after a reload), and the
    notices of the whole transcript it replays."""
    again = await Customer.connect(address, conversation_id=customer.conversation_id, token=customer.token)
    status = await again.expect("status")
    await again.close()
    return status["data"], [m["data"]["data"].get("notice", "") for m in again.messages("system")]


def test_the_seventh_customer_behind_six_long_waits_is_not_told_a_minute(own_bridge, redis_url):
    address, prefix = own_bridge

    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        ann = await staff(address, "ann")
        await ann.expect("queue")
        await served_at_once(address, ann)
        waiting = [(await queue_up(address))[0] for _ in range(6)]
        for minutes, customer in zip((14, 12, 10, 8, 6, 4), waiting):
            await backdate(redis, prefix, customer.conversation_id, minutes)

        seventh, status = await queue_up(address)
        assert status["position"] == 7
        low, high = status["wait_range"]
        assert high >= 14, status  # the first in line has waited 14 minutes: never promised less
        assert status["wait_minutes"] > 1 and high > low and status["agents_available"] is True
        assert status["wait_basis"] == "thin_data" and f"{low}-{high} minutes" == status["wait"]

        # The queue moves: the seventh is told their new place and a new estimate at once.
        await ann.send("claim", {"conversation_id": waiting[0].conversation_id}, id="claim")
        await ann.acknowledged("claim")
        moved = await seventh.expect("status", state="queued", position=6)
        assert moved["data"]["wait_range"][1] >= 12
        for client in (ann, seventh, *waiting):
            await client.close()
        await redis.close()

    asyncio.run(scenario())


def test_with_a_free_agent_who_has_not_claimed_yet_the_second_is_not_told_a_minute(own_bridge):
    """The fresh-eyes trial: one agent online with free chats, no claims yet; the customer at place 2 was
    told "less than a minute" and still waited 10 minutes later."""
    address, _ = own_bridge

    async def scenario() -> None:
        ann = await staff(address, "ann")
        await ann.expect("queue")
        first, told_first = await queue_up(address)
        second, status = await queue_up(address)
        assert told_first["wait"] == "less than a minute", "the front of the queue, an agent free"
        assert status["position"] == 2 and status["wait"] != "less than a minute", status
        low, high = status["wait_range"]
        assert status["wait_basis"] == "thin_data" and high >= 10 and low == 0
        assert status["wait"] == f"up to {high} minutes", "taken at once is possible: never '1-10 minutes'"
        for client in (ann, first, second):
            await client.close()

    asyncio.run(scenario())


def test_a_still_queue_is_told_the_wait_again_after_the_refresh_interval(refreshing_bridge, redis_url):
    """Nothing in the queue moves (no claim, nobody joins or leaves, no agent comes or goes), but time
    passes: as Redis now says, the first in line has waited 15 minutes, all that time with ann free and not
    picking them up. Within the refresh interval, with no change of the queue to prompt it, the first is no
    longer told "less than a minute", and the second, told a short range before, is promised (the range's
    upper end) no less than the first has waited."""
    address, prefix = refreshing_bridge

    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        ann = await staff(address, "ann")
        await ann.expect("queue")
        await served_at_once(address, ann)
        first, told_first = await queue_up(address)
        second, told = await queue_up(address)
        assert told_first["wait"] == "less than a minute", told_first
        assert told["position"] == 2 and told["wait_range"][1] < 14, told
        # 15 minutes on (no notification: the queue is still): the first queued then, ann free since.
        await backdate(redis, prefix, first.conversation_id, 15)
        await redis.hset(f"{prefix}:agent-ready", "ann", int(time.time() * 1000 - 15 * 60_000))

        def told_afresh(envelope: Dict[str, Any]) -> bool:
            return envelope["type"] == "status" and (envelope["data"].get("wait_range") or [0, 0])[1] >= 14

        again = (await second.next_matching(told_afresh, "the second's status told again", 15))["data"]
        assert again["state"] == "queued" and again["position"] == 2 and again["agents_available"] is True
        overdue = (await first.next_matching(lambda envelope: envelope["type"] == "status"
                                             and envelope["data"].get("wait", "less than a minute") != "less than a minute",
                                             "the first's status told again", 15))["data"]
        # Free 15 minutes and not picking up: an agent away, told at least the time it has been overdue.
        assert overdue["position"] == 1 and overdue["wait_minutes"] >= 13 and overdue["wait_range"][0] <= 1, overdue
        for client in (ann, first, second):
            await client.close()
        await redis.close()

    asyncio.run(scenario())


def test_the_first_in_line_behind_chats_near_their_end_is_told_a_shorter_wait(refreshing_bridge, redis_url):
    """Every slot busy: ann serves three chats. Taken just now, the next free slot is minutes away; as Redis
    then says (the chats' claim times), they have run 4 minutes, close to the usual handling time: within the
    refresh interval the first in line is told a shorter wait, read from the chats' ages, though nothing in
    the queue moved."""
    address, prefix = refreshing_bridge

    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        ann = await staff(address, "ann")
        await ann.expect("queue")
        await served_at_once(address, ann)
        busy = [(await queue_up(address))[0] for _ in range(3)]
        for index, customer in enumerate(busy):
            await ann.send("claim", {"conversation_id": customer.conversation_id}, id=f"busy-{index}")
            await ann.acknowledged(f"busy-{index}")
        first, told = await queue_up(address)
        assert told["position"] == 1 and told["wait_minutes"] >= 2, told
        for customer in busy:  # taken 4 minutes ago (no notification: the queue is still)
            await redis.hset(f"{prefix}:conv:{customer.conversation_id}", "claimed_at",
                             int(time.time() * 1000 - 4 * 60_000))

        def told_sooner(envelope: Dict[str, Any]) -> bool:
            data = envelope["data"]
            return (envelope["type"] == "status" and data.get("position") == 1
                    and (data.get("wait_minutes") or told["wait_minutes"]) < told["wait_minutes"])

        sooner = (await first.next_matching(told_sooner, "the first told a shorter wait", 15))["data"]
        assert sooner["wait_range"][1] <= told["wait_range"][1] and sooner["agents_available"] is True, sooner
        for client in (ann, first, *busy):
            await client.close()
        await redis.close()

    asyncio.run(scenario())


def test_customers_who_give_up_are_kept_and_those_far_back_are_told_a_shorter_wait(own_bridge, redis_url):
    """Customers who leave the queue unserved (here back to the assistant) are kept as the group's
    give-ups, with how long they had waited, beside its claims ({p}:exits:general); a customer at place 5,
    whose place does not change (those who leave are behind), is told a shorter wait once five have
    given up: some of the four ahead of them will give up too."""
    address, prefix = own_bridge

    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        ann = await staff(address, "ann")
        await ann.expect("queue")
        await served_at_once(address, ann)
        busy = [(await queue_up(address))[0] for _ in range(3)]
        for index, customer in enumerate(busy):  # ann's three chats: no slot is free
            await ann.send("claim", {"conversation_id": customer.conversation_id}, id=f"busy-{index}")
            await ann.acknowledged(f"busy-{index}")
        ahead = [(await queue_up(address))[0] for _ in range(4)]
        fifth, told = await queue_up(address)
        assert told["position"] == 5 and told["wait_minutes"] >= 3, told
        for index in range(5):
            leaving, _ = await queue_up(address)
            await leaving.send("leave_queue", id=f"leave-{index}")
            await leaving.acknowledged(f"leave-{index}")
            await leaving.close()
        exits = [member.decode().rsplit(":", 3) for member in await redis.zrange(f"{prefix}:exits:general", 0, -1)]
        assert sorted(how for *_, how in exits) == ["claimed"] * 4 + ["gave_up"] * 5, exits
        assert all(0 <= int(waited) < 60_000 for _, _, waited, _ in exits)

        def told_sooner(envelope: Dict[str, Any]) -> bool:
            data = envelope["data"]
            return (envelope["type"] == "status" and data.get("position") == 5
                    and (data.get("wait_minutes") or told["wait_minutes"]) < told["wait_minutes"])

        sooner = (await fifth.next_matching(told_sooner, "the fifth told a shorter wait", 15))["data"]
        assert sooner["wait_range"][1] <= told["wait_range"][1] and sooner["agents_available"] is True, sooner
        for client in (ann, fifth, *ahead, *busy):
            await client.close()
        await redis.close()

    asyncio.run(scenario())


async def handed_over_by_the_bot(address: str, *said: str) -> Transport:
    """A customer whose words the bot hands over (through Rasa's stuck detection)."""
    customer = await Customer.connect(address)
    for text in said:
        await customer.acknowledged(await customer.say(text))
    await customer.expect("status", state="queued")
    return customer


def test_a_customer_in_distress_goes_ahead_of_the_others_but_never_of_earlier_distress(own_bridge):
    address, _ = own_bridge

    async def scenario() -> None:
        ann = await staff(address, "ann")
        await ann.expect("queue")
        recipe, other = (await queue_up(address))[0], (await queue_up(address))[0]
        bereaved = await handed_over_by_the_bot(
            address, "hello", "my wife died last week and I don't know what happens to our joint account")
        scammed = await handed_over_by_the_bot(
            address, "a man on the phone says he's from your bank and wants me to read out the code you just texted me")
        # The bot's answers came before the acks (docs/bridge-protocol.md) and were kept: found among them.
        gentle = (await bereaved.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "bot"
                                               and "sorry you're going through" in e["data"]["text"],
                                               "the gentle answer", 30))["data"]["text"]
        assert "0800 123 4567" in gentle and "money" not in gentle and " now" not in gentle
        warned = (await scammed.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "bot"
                                              and "Please stop" in e["data"]["text"], "the warning", 30))["data"]["text"]
        assert "0800 123 4567" in warned, warned
        expected = [bereaved, scammed, recipe, other]
        for attempt in range(100):  # the agents' whole queue, in order, once the last handoff is in it
            await ann.send("queue", id=f"queue-{attempt}")
            reply = await ann.next_matching(lambda e: e["id"] == f"queue-{attempt}", "the queue", 10)
            items = reply["data"]["items"]
            if len(items) == 4:
                break
            await asyncio.sleep(0.1)
        assert [item["conversation_id"] for item in items] == [c.conversation_id for c in expected], items
        assert [item["reason"] for item in items[:2]] == ["distress", "distress"]
        for place, customer in enumerate(expected, start=1):
            status, _ = await resumed(address, customer)
            assert status["position"] == place, (place, status)
        for client in (ann, *expected):
            await client.close()

    asyncio.run(scenario())


def test_with_nobody_of_the_customers_team_online_no_number_is_shown(own_bridge):
    address, _ = own_bridge

    async def scenario() -> None:
        ann = await staff(address, "ann")
        await ann.expect("queue")
        await served_at_once(address, ann)
        await ann.close()
        await asyncio.sleep(0.5)  # ann's goodbye reaches Redis

        customer, status = await queue_up(address)
        await customer.next_matching(lambda envelope: envelope["type"] == "message"
                                     and envelope["data"]["data"].get("notice") == "no_agents", "no_agents", 10)
        assert status["agents_available"] is False and status["wait_minutes"] is None
        assert status["wait_basis"] == "no_agents" and status.get("wait_range") is None

        cara = await staff(address, "cara")  # online, but only for cards
        await cara.expect("queue")
        status, _ = await resumed(address, customer)
        assert status["agents_available"] is False, status
        assert status["wait_minutes"] is None and status["wait_range"] is None
        assert "No one from our team is available" in status["wait"]

        # A card customer queued now can be served by cara: they are told the wait, and no notice.
        card = await Customer.connect(address)
        await card.say("the cash machine swallowed my card")
        await card.expect("message", kind="bot")
        await card.say("can I talk to someone please")
        await card.expect("status", state="queued")
        card_status, notices = await resumed(address, card)
        assert card_status["agents_available"] is True and card_status["wait_range"] is not None
        assert card_status["position"] == 1, "the place is in the customer's own skill group"
        assert "no_agents" not in notices
        for client in (cara, customer, card):
            await client.close()

    asyncio.run(scenario())


def test_a_transfer_keeps_the_customers_true_wait_and_says_who_transferred(own_bridge, redis_url):
    address, prefix = own_bridge

    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        first, _ = await queue_up(address)
        await backdate(redis, prefix, first.conversation_id, 9)
        customer, _ = await queue_up(address)
        await backdate(redis, prefix, customer.conversation_id, 2)

        ann = await staff(address, "ann")
        await ann.expect("queue")
        await ann.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await ann.acknowledged("claim")
        await customer.expect("status", state="agent")
        customer.received.clear()  # statuses from before the claim
        await ann.send("transfer", {"conversation_id": customer.conversation_id, "to_group": "general"}, id="t")
        await ann.acknowledged("t")
        status = await customer.expect("status", state="queued")
        assert status["data"]["position"] == 1  # the front of the queue

        bob = await staff(address, "bob")
        queue = (await bob.expect("queue"))["data"]["items"]
        assert [item["conversation_id"] for item in queue] == [customer.conversation_id, first.conversation_id]
        transferred, other = queue
        assert 120 <= transferred["waiting_seconds"] < 300, transferred  # since first queued, not the place's score
        assert transferred["transferred_by"] == "ann" and other["transferred_by"] is None
        for client in (first, customer, ann, bob):
            await client.close()
        await redis.close()

    asyncio.run(scenario())
