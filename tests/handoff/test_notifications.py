"""What the live notifications carry, and which sockets hear of the queue."""

from __future__ import annotations

import asyncio
import json
from typing import Any, List

import pytest

from handoff.exceptions import InvalidTransition
from handoff.machine import Conversation, CustomerAskedForPerson, apply
from handoff.store import NewMessages, Routing, Store
from handoff_client import Customer
from harness.clients import queued_customer, staff
from harness.servers import add_agent
from tests.handoff.test_store import run


async def two_announcements(store: Store, pubsub: Any) -> List[Any]:
    """What a live channel announced, expecting two: read until a quiet 0.2 s after the second (or 5 s),
    so that a third, a duplicate, is caught too."""
    notifications: List[Any] = []
    deadline = asyncio.get_running_loop().time() + 5
    while len(notifications) < 3 and asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            notifications.append(store.announced(json.loads(message["data"])))
        elif len(notifications) >= 2:
            break
    await pubsub.close()
    return notifications


def test_an_append_announces_the_message_as_the_transcript_reads_it(redis_url):
    """A socket in step sends the announced message instead of reading the transcript: both must agree."""

    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        pubsub = store.redis.pubsub()
        await pubsub.subscribe(store.live_channel("c1"))
        await store.append("c1", "customer", "customer:k1", "hello", {"payload": "/greet"})
        await store.append("c1", "customer", "customer:k1", "hello")  # a retry: stored and announced once
        await store.append("c1", "bot", "bot:x:0", "hi there", {"buttons": [{"title": "yes"}]})
        notifications = await two_announcements(store, pubsub)

        first, second = await store.messages_after("c1", None)
        assert notifications == [NewMessages(None, [first]), NewMessages(first["id"], [second])]
        assert first["client_id"] == "k1" and first["data"] == {"payload": "/greet"}

    run(redis_url, scenario)


def test_a_customer_message_said_to_people_is_marked_routed_as_it_is_stored(redis_url):
    """Nothing routes it (it stays with people), and a retry after a hand back must not take it to the bot."""

    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        to_bot = (await store.append("c1", "customer", "customer:k1", "my card is stuck")).id
        queued, _ = apply(Conversation("c1"), CustomerAskedForPerson())
        assert await store.commit(Conversation("c1"), queued, queue="add") is not None
        to_people = (await store.append("c1", "customer", "customer:k2", "still there?")).id
        from_agent = (await store.append("c1", "agent", "agent:ann:k3", "yes")).id

        idempotency = store.key("idem", "c1")
        assert await store.redis.hget(idempotency, f"routed:{to_bot}") is None, "the bot still has to answer it"
        assert await store.redis.hget(idempotency, f"routed:{to_people}") is not None
        assert await store.redis.hget(idempotency, f"routed:{from_agent}") is None

    run(redis_url, scenario)


def test_a_bot_answer_is_stored_announced_and_its_message_routed_in_one_step(redis_url):
    """One script for the bot's whole turn (issue 15): every reply stored once, announced as the
    transcript reads it, the customer's message marked routed; a retried answer adds nothing."""

    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        asked = (await store.append("c1", "customer", "customer:k1", "my pin?")).id
        pubsub = store.redis.pubsub()
        await pubsub.subscribe(store.live_channel("c1"))
        replies = [{"recipient_id": "c1", "text": "In the app: Cards, Show PIN."},
                   {"recipient_id": "c1", "text": "Did that answer your question?", "buttons": [{"title": "Yes"}]}]
        answered = await store.answer("c1", asked, replies, routed=True)
        again = await store.answer("c1", asked, replies, routed=True)  # a retry: stored once
        notifications = await two_announcements(store, pubsub)

        customer, first, second = await store.messages_after("c1", None)
        # What the asking socket sends itself (handoff.connections.customer) is what the transcript reads.
        assert answered == NewMessages(customer["id"], [first, second]) and again == NewMessages(second["id"], [])
        assert notifications == [NewMessages(customer["id"], [first]), NewMessages(first["id"], [second])]
        assert second["data"] == {"buttons": [{"title": "Yes"}]} and second["kind"] == "bot"
        assert await store.redis.hget(store.key("idem", "c1"), f"routed:{asked}") == b"done"

    run(redis_url, scenario)


def test_a_bot_answer_after_a_person_took_over_is_not_shown(redis_url):
    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        asked = (await store.append("c1", "customer", "customer:k1", "my card is stuck")).id
        queued, _ = apply(Conversation("c1"), CustomerAskedForPerson())
        assert await store.commit(Conversation("c1"), queued, queue="add") is not None
        with pytest.raises(InvalidTransition):
            await store.answer("c1", asked, [{"text": "too late"}], routed=False)
        assert [message["kind"] for message in await store.messages_after("c1", None)] == ["customer"]
        assert await store.redis.hget(store.key("idem", "c1"), f"routed:{asked}") is None  # routed=False

    run(redis_url, scenario)


def test_a_new_customer_message_for_the_bot_comes_with_its_routing_lease(redis_url):
    """Taken by the step that stores it: nobody else routes it meanwhile; a retry finds it held."""

    async def scenario(store: Store) -> None:
        await store.create("c1", "t")
        first = await store.append("c1", "customer", "customer:k1", "hello", lease=("me", 3000))
        again = await store.append("c1", "customer", "customer:k1", "hello", lease=("other", 3000))
        assert first.added and first.leased and not again.added and not again.leased
        assert await store.take_routing("c1", first.id, "other", 3000) is Routing.HELD
        assert await store.keep_routing("c1", first.id, "me", 3000)
        without = await store.append("c1", "customer", "customer:k2", "hi")
        assert without.added and not without.leased
        assert await store.take_routing("c1", without.id, "other", 3000) is Routing.TAKEN

    run(redis_url, scenario)


def test_a_customer_hears_of_the_queue_moving_once_queued_on_every_socket(bridge, redis_url, bridge_prefix):
    """Sockets listen to the queue only while their conversation is queued: one that starts with the
    bot and asks for a person, and a second tab that resumes the queued conversation, both hear it move."""
    add_agent(redis_url, bridge_prefix, "nell", "--max-chats", "5")

    async def scenario() -> None:
        ahead = await queued_customer(bridge)
        behind = await Customer.connect(bridge)
        await behind.expect("status", state="bot")
        await behind.send("talk_to_person", id="talk")
        waiting = await behind.expect("status", state="queued")
        other_tab = await Customer.connect(bridge, conversation_id=behind.conversation_id, token=behind.token)
        await other_tab.expect("status", state="queued", position=waiting["data"]["position"])

        agent = await staff(bridge, "nell")
        await agent.send("claim", {"conversation_id": ahead.conversation_id}, id="claim-ahead")
        await agent.expect("ack", conversation_id=ahead.conversation_id)
        for tab in (behind, other_tab):
            await tab.expect("status", state="queued", position=waiting["data"]["position"] - 1)

        await agent.send("claim", {"conversation_id": behind.conversation_id}, id="claim-behind")
        await agent.expect("ack", conversation_id=behind.conversation_id)
        for tab in (behind, other_tab):
            await tab.expect("status", state="agent")
        for conversation in (ahead, behind):
            closing = conversation.conversation_id
            await agent.send("close", {"conversation_id": closing}, id=closing)
            await agent.acknowledged(closing)
        for client in (ahead, behind, other_tab, agent):
            await client.close()

    asyncio.run(scenario())
