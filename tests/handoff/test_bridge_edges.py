"""Reconnects, retries, limits, bad input, several processes, failures."""

from __future__ import annotations

import asyncio
import json

import requests
import websockets
from redis.asyncio import Redis

from handoff_client import Agent, Customer, Transport
from harness.clients import claimed, queued_customer, staff
from harness.servers import admin_address, running_bridge


def test_a_retried_send_is_stored_and_acknowledged_once(bridge, redis_url, bridge_prefix):
    import redis as redis_sync

    async def scenario() -> str:
        customer, agent = await claimed(bridge)
        for _ in range(2):
            await customer.send("message", {"text": "are you there?"}, id="same-key")
        first, second = await customer.expect("ack"), await customer.expect("ack")
        assert first["data"]["message_id"] == second["data"]["message_id"]
        await agent.expect("message", kind="customer", text="are you there?")
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await agent.expect("released")
        await customer.close()
        await agent.close()
        return customer.conversation_id

    conversation = asyncio.run(scenario())
    client = redis_sync.Redis.from_url(redis_url)
    texts = [fields[b"text"] for _, fields in client.xrange(f"{bridge_prefix}:log:{conversation}")]
    client.close()
    assert texts.count(b"are you there?") == 1


def test_wrong_tokens_are_refused(bridge):
    async def scenario() -> None:
        customer = Transport(bridge, path="/ws/customer")
        await customer.open()
        await customer.send("hello", {"conversation_id": "someone-else", "token": "guess"})
        assert (await customer.expect("error"))["data"]["code"] == "invalid_token"
        await customer.close()
        agent = Agent(bridge, token="forged.token")
        await agent.open()
        assert (await agent.expect("error"))["data"]["code"] == "invalid_token"

    asyncio.run(scenario())


def test_foreign_origins_are_refused(bridge):
    async def scenario() -> None:
        ws = await websockets.connect(f"ws://{bridge}/ws/customer", origin="http://evil.example")
        assert json.loads(await ws.recv())["data"]["code"] == "forbidden_origin"

    asyncio.run(scenario())


def test_customer_and_agent_on_different_processes_talk_normally(bridge, second_bridge):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        agent = await staff(second_bridge, "bob")
        await agent.send("claim", {"conversation_id": customer.conversation_id}, id="c")
        await agent.expect("ack")
        await customer.expect("status", state="agent")
        await agent.say("hello from process B", conversation_id=customer.conversation_id)
        assert (await customer.expect("message", kind="agent"))["data"]["text"] == "hello from process B"
        await customer.say("hello from process A")
        await agent.expect("message", kind="customer", text="hello from process A")
        await customer.send("typing", {"active": True})
        typing = await agent.expect("typing")
        assert typing["data"] == {"from": "customer", "conversation_id": customer.conversation_id, "active": True}
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await customer.expect("status", state="closed")
        await customer.send("rating", {"score": 5, "comment": "quick and kind"}, id="r")
        await customer.expect("ack")
        await customer.send("rating", {"score": 9}, id="r2")
        assert (await customer.expect("error"))["id"] == "r2"
        await customer.close()
        await agent.close()

    asyncio.run(scenario())


def test_skill_groups_and_the_chat_limit(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        await customer.say("the cash machine swallowed my card")
        await customer.expect("message", kind="bot")
        await customer.say("can I talk to someone please")
        await customer.expect("status", state="queued")
        cara = await staff(bridge, "cara")  # cards team, one chat at a time
        queue = await cara.expect("queue")
        assert [item["group"] for item in queue["data"]["items"]] == ["cards"]
        await cara.send("claim", {"conversation_id": customer.conversation_id}, id="c1")
        await cara.expect("ack")

        other = await queued_customer(bridge)  # general team
        await cara.send("claim", {"conversation_id": other.conversation_id}, id="c2")
        refusal = await cara.expect("error")
        assert refusal["id"] == "c2" and "general team" in refusal["data"]["message"]
        another_card = await Customer.connect(bridge)
        await another_card.say("an ATM has eaten my debit card")
        await another_card.expect("message", kind="bot")
        await another_card.say("I want to speak to a human")
        await another_card.expect("status", state="queued")
        await cara.send("claim", {"conversation_id": another_card.conversation_id}, id="c3")
        at_limit = await cara.expect("error")
        assert at_limit["id"] == "c3" and at_limit["data"]["code"] == "at_limit"

        await cara.send("transfer", {"conversation_id": customer.conversation_id, "to_group": "general"}, id="t")
        await cara.expect("ack")
        await customer.expect("status", state="queued")
        for client in (customer, other, another_card, cara):
            await client.close()

    asyncio.run(scenario())


def test_leaving_a_callback_request_instead_of_waiting(bridge):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        await customer.send("leave", {"kind": "callback", "contact": "07700 900123",
                                      "description": "card stuck abroad", "preferred_time": "after 6pm"}, id="l")
        await customer.expect("ack")
        await customer.expect("status", state="bot")
        agent = await staff(bridge, "ann")
        inbox = await agent.expect("requests")
        mine = [r for r in inbox["data"]["items"] if r["conversation"] == customer.conversation_id]
        assert mine and mine[0]["contact"] == "07700 900123" and mine[0]["kind"] == "callback"
        await customer.send("leave", {"kind": "message", "contact": ""}, id="l2")
        assert (await customer.expect("error"))["id"] == "l2"
        await customer.close()
        await agent.close()

    asyncio.run(scenario())


NO_AGENTS_TEXT = (
    "No one from our team is available right now. You can wait, ask us to call you back, "
    "or leave a message and we'll reply as soon as we can."
)


def test_outside_business_hours_the_customer_is_told_at_once_and_offered_a_callback(redis_url, rasa_url):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    other_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(datetime.now(ZoneInfo("Europe/London")).weekday() + 3) % 7]
    closed_hours = f"{other_day} 09:00-10:00"  # never today
    with running_bridge(redis_url, rasa_url, "bridge-closed", "hbclosed", HANDOFF_HOURS=closed_hours) as address:
        async def scenario() -> None:
            customer = await Customer.connect(address)
            await customer.send("talk_to_person")
            notice = await customer.expect("message", kind="system", text=NO_AGENTS_TEXT)
            assert notice["data"]["data"]["offer"] == ["callback", "message"]
            status = await customer.expect("status", state="queued")
            assert status["data"]["agents_available"] is False
            assert status["data"]["wait_basis"] == "closed" and status["data"]["wait_minutes"] is None
            assert status["data"]["wait"].startswith("We're closed right now.")
            await customer.close()

        asyncio.run(scenario())


def test_connections_per_address_are_capped(redis_url, rasa_url):
    with running_bridge(redis_url, rasa_url, "bridge-capped", "hbcapped", HANDOFF_MAX_CONNECTIONS_PER_IP="2") as address:
        async def scenario() -> None:
            first, second = await Customer.connect(address), await Customer.connect(address)
            third = await websockets.connect(f"ws://{address}/ws/customer")
            assert json.loads(await third.recv())["data"]["code"] == "too_many_connections"
            await first.close()
            await asyncio.sleep(0.3)
            fourth = await Customer.connect(address)  # a freed place can be used again
            for client in (second, fourth):
                await client.close()

        asyncio.run(scenario())
        metrics = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
        assert 'handoff_process_events_total{event="refused_connections"} 1.0' in metrics


def test_agent_typing_and_read_receipts_reach_the_customer_and_ratings_are_stored(bridge, redis_url, bridge_prefix):
    import redis as redis_sync

    async def scenario() -> str:
        customer, agent = await claimed(bridge)
        conversation = customer.conversation_id
        await agent.send("typing", {"conversation_id": conversation, "active": True})
        assert (await customer.expect("typing"))["data"] == {"from": "agent", "active": True}
        message = await agent.expect("message", conversation_id=conversation, kind="system")
        await agent.send("read", {"conversation_id": conversation, "up_to": message["id"]})
        assert (await customer.expect("read"))["data"] == {"from": "agent", "up_to": message["id"]}
        await agent.send("close", {"conversation_id": conversation}, id="close")
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 4, "comment": "helpful"}, id="rate")
        await customer.expect("ack")
        await customer.close()
        await agent.close()
        return conversation

    conversation = asyncio.run(scenario())
    client = redis_sync.Redis.from_url(redis_url)
    ratings = [fields for _, fields in client.xrange(f"{bridge_prefix}:ratings")]
    client.close()
    assert {b"conversation": conversation.encode(), b"agent": b"ann", b"score": b"4", b"comment": b"helpful"}.items() <= {
        key: value for rating in ratings if rating[b"conversation"] == conversation.encode() for key, value in rating.items()
    }.items()


def test_a_waiting_customer_can_describe_the_problem_without_losing_the_place(bridge):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        await customer.send("details", {"description": "card blocked abroad", "contact": "ann@example.com"}, id="d")
        await customer.expect("ack")
        agent = await staff(bridge, "ann")
        item = await agent.queue_item(customer.conversation_id)
        assert item["details"] == {"description": "card blocked abroad", "contact": "ann@example.com"}
        await customer.send("details", {"description": "x" * 501}, id="too-long")
        assert (await customer.expect("error"))["id"] == "too-long"
        await customer.close()
        await agent.close()

    asyncio.run(scenario())


def test_hello_twice_and_a_bad_last_seen_are_refused(bridge, redis_url, bridge_prefix):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        await customer.send("hello", {}, id="again")
        assert (await customer.expect("error"))["id"] == "again"
        other = Transport(bridge, path="/ws/customer")
        await other.open()
        await other.send("hello", {"conversation_id": customer.conversation_id, "token": customer.token,
                                   "last_seen": "not-an-id"}, id="h")
        assert (await other.expect("error"))["data"]["code"] == "malformed"
        # A new conversation with a bad last_seen is refused before anything is created for it.
        redis = Redis.from_url(redis_url)
        conversations = len([key async for key in redis.scan_iter(f"{bridge_prefix}:conv:*")])
        await other.send("hello", {"last_seen": "1-2-3"}, id="h2")
        assert (await other.expect("error"))["data"]["code"] == "malformed"
        assert len([key async for key in redis.scan_iter(f"{bridge_prefix}:conv:*")]) == conversations
        await redis.close()
        await customer.close()
        await other.close()

    asyncio.run(scenario())


def test_an_agent_back_within_the_grace_period_keeps_the_chat(bridge):
    async def scenario() -> None:
        customer, agent = await claimed(bridge, "ann")
        await agent.close()
        back = await staff(bridge, "ann")  # reconnects at once (grace is 2 s)
        opened = await back.expect("conversation", conversation_id=customer.conversation_id)
        assert opened["data"]["state"] == "agent"
        await asyncio.sleep(3.5)
        await back.say("still here", conversation_id=customer.conversation_id)
        await back.expect("ack")
        assert (await customer.expect("message", kind="agent"))["data"]["text"] == "still here"
        await back.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 5}, id="r1")
        await customer.expect("ack")
        await customer.send("rating", {"score": 1}, id="r2")
        repeated = await customer.expect("error")
        assert repeated["id"] == "r2" and "already" in repeated["data"]["message"]
        await customer.close()
        await back.close()

    asyncio.run(scenario())


def test_transfer_to_a_colleague_on_another_process(bridge, second_bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        bob = await staff(second_bridge, "bob")
        await bob.expect("queue")
        # Bob does not serve it: told so first, nothing about whether a colleague exists or is online.
        for target in ("nobody-here", "cara"):
            await bob.send("transfer", {"conversation_id": customer.conversation_id, "to_agent": target}, id="not-his")
            refused = await bob.next_matching(lambda e: e["type"] == "error" and e.get("id") == "not-his", "refused")
            assert refused["data"]["code"] == "invalid_transition", refused
            assert "not serving" in refused["data"]["message"] and target not in refused["data"]["message"], refused
        await ann.send("transfer", {"conversation_id": customer.conversation_id, "to_agent": "bob"}, id="t")
        await ann.expect("released", conversation_id=customer.conversation_id)
        opened = await bob.expect("conversation", conversation_id=customer.conversation_id)
        assert opened["data"]["state"] == "agent"
        notice = await customer.expect("message", kind="system", data={"notice": "transferred"})
        assert "colleague" in notice["data"]["text"]
        await bob.say("Bob here, I'll take it from now.", conversation_id=customer.conversation_id)
        assert (await customer.expect("message", kind="agent"))["data"]["data"] == {"agent": "Bob"}  # its display name
        await ann.say("still me?", conversation_id=customer.conversation_id)
        assert (await ann.expect("error"))["data"]["code"] == "invalid_transition"
        await bob.send("close", {"conversation_id": customer.conversation_id}, id="c")
        for client in (customer, ann, bob):
            await client.close()

    asyncio.run(scenario())


def test_what_the_customer_reads_of_a_transfer_names_who_joins_and_which_team(bridge):
    """Found by a new agent: sent back to the general queue, the customer read "passed to a
    specialist team"; transferred straight to Bob, no "Bob has joined" line."""
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        bob = await staff(bridge, "bob")
        conversation_id = customer.conversation_id
        await ann.send("transfer", {"conversation_id": conversation_id, "to_group": "general"}, id="to-general")
        await ann.acknowledged("to-general")
        notice = await customer.expect("message", kind="system", data={"notice": "transferred_team"})
        assert notice["data"]["text"] == ("You're being passed to someone else in our team. "
                                          "You stay near the front of the queue.")
        assert not any("specialist" in message["data"]["text"] for message in customer.messages("system"))
        await ann.send("claim", {"conversation_id": conversation_id}, id="claim-again")
        await ann.acknowledged("claim-again")
        await ann.send("transfer", {"conversation_id": conversation_id, "to_group": "cards"}, id="to-cards")
        await ann.acknowledged("to-cards")
        notice = await customer.expect("message", kind="system", data={"notice": "transferred_group"})
        assert notice["data"]["text"].startswith("You're being passed to a specialist team.")
        await bob.send("claim", {"conversation_id": conversation_id}, id="claim-bob")
        await bob.acknowledged("claim-bob")
        await bob.send("transfer", {"conversation_id": conversation_id, "to_agent": "ann"}, id="to-ann")
        await bob.acknowledged("to-ann")
        await customer.expect("message", kind="system", data={"notice": "transferred"})
        joined = await customer.next_matching(
            lambda envelope: envelope["type"] == "message" and envelope["data"]["data"].get("notice") == "agent_joined"
            and envelope["data"]["data"].get("agent") == "Ann", "Ann joining", 10)
        assert joined["data"]["text"] == "Ann from our support team has joined the chat."
        await ann.send("close", {"conversation_id": conversation_id}, id="close")
        for client in (customer, ann, bob):
            await client.close()

    asyncio.run(scenario())


def test_a_chat_transferred_while_the_agent_connects_opens_once(bridge, second_bridge):
    """Assigned while Bob's socket is starting, the chat is both announced to it and among the chats it
    reads at the end of its start: the console gets it once, whichever comes first."""
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        bob = await staff(second_bridge, "bob")
        await bob.expect("agent_status")  # online: the rest of the start (queue, workspace, chats) follows
        await ann.send("transfer", {"conversation_id": cid, "to_agent": "bob"}, id="t")
        await ann.expect("released", conversation_id=cid)
        await bob.expect("conversation", conversation_id=cid)
        await bob.send("queue", id="after-start")  # answered once the socket's start is over
        await bob.next_matching(lambda e: e["type"] == "queue" and e["id"] == "after-start", "the queue")
        await bob.say("Bob here.", conversation_id=cid)
        await customer.expect("message", kind="agent", text="Bob here.")
        assert [e for e in bob.received if e["type"] == "conversation" and e["data"]["conversation_id"] == cid] == []
        await bob.acknowledged(await bob.close_conversation(cid))
        for client in (customer, ann, bob):
            await client.close()

    for _ in range(5):  # the start and the transfer race differently each time
        asyncio.run(scenario())
