"""Who may deal with a request, and how many a conversation may leave, through a real bridge and
Redis: an answer never lands in a colleague's live chat nor reaches a queued customer, requests
keep to the skill groups as the queue does, and one customer cannot flood the agents' list."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List

import redis as redis_sync

from handoff.requests import MAX_REQUESTS_PER_DAY
from handoff_client import Agent, Customer, Transport
from harness.clients import staff
from harness.servers import delete_prefixed_keys, running_bridge


def _mine(items: List[Dict[str, Any]], conversation_id: str) -> List[Dict[str, Any]]:
    return [item for item in items if item["conversation"] == conversation_id]


async def _error(client: Transport, kind: str, data: Dict[str, Any], id: str) -> Dict[str, Any]:
    await client.send(kind, data, id=id)
    reply = await client.next_matching(lambda e: e.get("id") == id, f"the reply to {id}", 15)
    assert reply["type"] == "error", reply
    return reply["data"]


async def _requests_of(agent: Agent, conversation_id: str, state: str, after: str = "") -> List[Dict[str, Any]]:
    """The conversation's requests, from the next list whose newest one (newer than ``after``) is in ``state``."""
    while True:
        items = _mine((await agent.expect("requests"))["data"]["items"], conversation_id)
        if items and items[0]["state"] == state and items[0]["id"] != after:
            return items


def test_an_answer_never_reaches_a_live_chat_and_requests_keep_to_skill_groups(bridge):
    async def scenario() -> None:
        # The customer leaves a message while the bot serves, then asks for a person; Ann claims.
        customer = await Customer.connect(bridge)
        await customer.say("my card hasn't arrived")
        await customer.expect("message", kind="bot")
        await customer.send("leave", {"kind": "message", "contact": "ann@example.com",
                                      "description": "where is my card?"}, id="leave")
        await customer.acknowledged("leave")
        await customer.send("talk_to_person", id="person")
        await customer.expect("status", state="queued")
        bob = await staff(bridge, "bob")
        request = _mine((await bob.expect("requests"))["data"]["items"], customer.conversation_id)[0]
        assert request["group"] == "general"

        # Queued: nobody answers the request, the customer is about to talk to a person.
        refused = await _error(bob, "answer_request", {"request_id": request["id"], "text": "queued?"}, "early")
        assert refused["code"] == "invalid_transition" and "waiting for a person" in refused["message"], refused

        ann = await staff(bridge, "ann")
        await ann.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await ann.expect("ack", conversation_id=customer.conversation_id)
        await customer.expect("status", state="agent")

        # Bob (every group) may not post into Ann's live chat through the request.
        refused = await _error(bob, "answer_request", {"request_id": request["id"], "text": "INJECTED"}, "inject")
        assert refused["code"] == "invalid_transition" and "talking to a person" in refused["message"], refused

        # Cara (cards only) does not see the general group's request, and may not touch it.
        cara = await staff(bridge, "cara")
        assert _mine((await cara.expect("requests"))["data"]["items"], customer.conversation_id) == []
        for kind, data in (("open_request", {}), ("request_done", {}), ("answer_request", {"text": "hi"})):
            refused = await _error(cara, kind, {"request_id": request["id"], **data}, f"cara-{kind}")
            assert refused["code"] == "forbidden" and "general" in refused["message"], refused

        # Nothing of it reached the chat; Ann's own messages still do.
        await ann.send("message", {"conversation_id": customer.conversation_id, "text": "Hello, Ann here"}, id="hi")
        await ann.acknowledged("hi")
        first = await customer.expect("message", kind="agent")
        assert first["data"]["text"] == "Hello, Ann here" and customer.messages("agent") == []

        # Closed: the request can be answered now, and the answer is stored for the customer.
        await ann.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await ann.acknowledged("close")
        await bob.send("answer_request", {"request_id": request["id"], "text": "It was posted."}, id="late")
        assert (await bob.acknowledged("late"))["data"]["state"] == "answered"
        for client in (customer, ann, bob, cara):
            await client.close()

    asyncio.run(scenario())


def test_one_open_request_per_conversation_and_a_few_a_day(bridge):
    async def scenario() -> None:
        ann = await staff(bridge, "ann")  # someone online: asking for a person queues
        customer = await Customer.connect(bridge)
        leave = {"kind": "callback", "contact": "07700 900123"}
        await customer.send("leave", leave, id="first")
        await customer.acknowledged("first")
        await customer.send("leave", leave, id="first")  # resent: the same request, acknowledged again
        await customer.acknowledged("first")
        refused = await _error(customer, "leave", leave, "second")
        assert refused["code"] == "request_open", refused

        # Asking for a person and leaving again while one is open counts no new handoff nor abandonment.
        await customer.send("talk_to_person", id="person")
        await customer.acknowledged("person")
        assert (await ann.queue_item(customer.conversation_id))["conversation_id"] == customer.conversation_id
        refused = await _error(customer, "leave", leave, "third")
        assert refused["code"] == "request_open", refused

        mine = (await _requests_of(ann, customer.conversation_id, "open"))
        assert len(mine) == 1, mine
        await ann.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await ann.expect("ack", conversation_id=customer.conversation_id)
        await ann.send("hand_back", {"conversation_id": customer.conversation_id}, id="back")
        await ann.acknowledged("back")

        # Each dealt with, another may be left; at most MAX_REQUESTS_PER_DAY a day.
        request_id = mine[0]["id"]
        for number in range(2, MAX_REQUESTS_PER_DAY + 2):
            await ann.send("request_done", {"request_id": request_id}, id=f"done{number}")
            await ann.acknowledged(f"done{number}")
            await customer.send("leave", leave, id=f"leave{number}")
            reply = await customer.next_matching(lambda e: e.get("id") == f"leave{number}", "the reply", 15)
            if number <= MAX_REQUESTS_PER_DAY:
                assert reply["type"] == "ack", reply
                request_id = (await _requests_of(ann, customer.conversation_id, "open", request_id))[0]["id"]
            else:
                assert reply["type"] == "error" and reply["data"]["code"] == "too_many_requests", reply
        for client in (customer, ann):
            await client.close()

    asyncio.run(scenario())


def test_contact_details_and_texts_are_checked_at_the_edge(bridge):
    """The add-details form's contact follows the requests' rule; disguising controls (bidi
    overrides, NUL, escapes) never reach the people who read a message."""
    async def scenario() -> None:
        ann = await staff(bridge, "ann")
        customer = await Customer.connect(bridge)
        await customer.send("talk_to_person", id="person")
        await customer.acknowledged("person")
        for number, contact in enumerate(["call me", "a@b..co", "+0 0 0 0 0 0 0", "000 0000"]):
            refused = await _error(customer, "details", {"description": "card", "contact": contact}, f"d{number}")
            assert refused["code"] == "invalid_contact", (contact, refused)
            refused = await _error(customer, "leave", {"kind": "callback", "contact": contact}, f"l{number}")
            assert refused["code"] == "invalid_contact", (contact, refused)
            await asyncio.sleep(0.5)  # within the frames-per-second limit
        await customer.send("details", {"description": "lost \u202ecard", "contact": "ann@example.com"}, id="ok")
        await customer.acknowledged("ok")
        item = await ann.queue_item(customer.conversation_id)
        while item["details"].get("contact") != "ann@example.com":
            item = await ann.queue_item(customer.conversation_id)
        assert item["details"] == {"description": "lost card", "contact": "ann@example.com"}, item

        await ann.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await ann.expect("ack", conversation_id=customer.conversation_id)
        await customer.say("see \u202egnp.exe\x00\x1b[2J and \u2066Ann\u2069 \u200fok\tthanks")
        said = await ann.expect("message", kind="customer")
        assert said["data"]["text"] == "see gnp.exe[2J and \u2066Ann\u2069 \u200fok\tthanks", said
        await customer.say("unclosed \u2067isolate")
        said = await ann.expect("message", kind="customer")
        assert said["data"]["text"] == "unclosed isolate", said
        await asyncio.sleep(1)
        refused = await _error(customer, "message", {"text": "\u202e\x00"}, "empty")
        assert refused["code"] == "empty_text", refused
        await ann.send("message", {"conversation_id": customer.conversation_id, "text": "\u202eok\x07"}, id="a1")
        await ann.acknowledged("a1")
        answer = await customer.expect("message", kind="agent")
        assert answer["data"]["text"] == "ok", answer
        for client in (customer, ann):
            await client.close()

    asyncio.run(scenario())


def test_one_address_may_leave_only_so_many_requests_in_ten_minutes_over_every_process(redis_url, rasa_url):
    """Found by an attacker: each new chat could leave a request, so one address filled the agents' list with
    about 180 an hour. A cap per address and window, counted in Redis for every bridge process; a resent
    request and a refused one count nothing."""
    prefix = f"hbreqcap{uuid.uuid4().hex[:6]}"
    leave = {"kind": "message", "contact": "+44 7700 900100", "description": "flood request"}
    try:
        with running_bridge(redis_url, rasa_url, "bridge-reqcap-a", prefix, HANDOFF_MAX_REQUESTS_PER_IP="2") as one, \
                running_bridge(redis_url, rasa_url, "bridge-reqcap-b", prefix, HANDOFF_MAX_REQUESTS_PER_IP="2") as two:
            async def scenario() -> None:
                first, second = await Customer.connect(one), await Customer.connect(two)
                for customer in (first, second):
                    await customer.send("leave", leave, id="leave")
                    await customer.acknowledged("leave")
                await first.send("leave", leave, id="leave")  # resent after a drop: acknowledged, not counted
                await first.acknowledged("leave")
                for address in (one, two, one):
                    third = await Customer.connect(address)
                    refused = await _error(third, "leave", leave, "leave")
                    assert refused["code"] == "request_limit_address", refused
                    assert refused["message"] == "at most 2 callback or message requests per address in 10 minutes"
                    assert refused["retry_at"] > time.time() * 1000, refused
                    await third.close()
                for customer in (first, second):
                    await customer.close()

            asyncio.run(scenario())
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_a_callback_booked_with_the_bot_counts_against_the_address_s_requests(redis_url, rasa_url):
    """The bot's callback form stores a request too: past the address's cap it is not stored, as past the
    conversation's day, and the customer, whom the bot told it was booked, is told it was not."""
    prefix = f"hbbotcap{uuid.uuid4().hex[:6]}"
    try:
        with running_bridge(redis_url, rasa_url, "bridge-botcap", prefix, HANDOFF_MAX_REQUESTS_PER_IP="1") as address:
            async def book(customer: Customer) -> None:
                await customer.say("my card was declined in a shop today")
                await customer.expect("message", kind="bot")
                for text in ("can you call me back", "07700 900123", "tomorrow after 5pm"):
                    await customer.acknowledged((await customer.say(text)).id)  # after the turn, its request stored

            async def scenario() -> None:
                first, second = await Customer.connect(address), await Customer.connect(address)
                await book(first)
                await book(second)
                client = redis_sync.Redis.from_url(redis_url)
                try:
                    stored = [fields[b"conversation"].decode() for _, fields in client.xrange(f"{prefix}:requests")]
                finally:
                    client.close()
                assert stored == [first.conversation_id], stored
                # The bot said it would book the call: the customer is told it was not, and what is left.
                told = (await second.next_matching(
                    lambda envelope: envelope["type"] == "message"
                    and envelope["data"].get("data", {}).get("notice") == "callback_not_booked",
                    "the notice that the callback was not booked"))["data"]
                assert told["kind"] == "system" and told["data"]["offer"] == ["talk_to_person"], told
                assert told["text"].startswith("Sorry, we couldn't book that callback: we can't take more requests"), told
                for customer in (first, second):
                    await customer.close()

            asyncio.run(scenario())
    finally:
        delete_prefixed_keys(redis_url, prefix)
