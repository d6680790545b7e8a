"""A supervisor forgets a customer whose chat is open, through real bridge processes and Redis
(docs/data-model.md "Forget this customer"): the chat is ended first (the customer told kindly, the serving
agent's tab closed with the reason), then erased, and nothing the old sockets send afterwards brings a key
of the conversation back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from typing import Any, Dict, List, Tuple

import redis as redis_sync
import websockets

from handoff_client import Customer, Transport
from harness.clients import claimed, queued_customer, staff
from harness.servers import ROOT, bridge_command, bridge_env


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def answer(client: Transport, kind: str, data: Dict[str, Any], replies: tuple = ("ack", "error")) -> Dict[str, Any]:
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] in replies, f"the answer to {kind}")


def keys_of(redis_url: str, conversation_id: str) -> List[str]:
    """Every key that names the conversation, in every store of the test Redis."""
    client = redis_sync.Redis.from_url(redis_url)
    try:
        return sorted(key.decode() for key in client.scan_iter(f"*{conversation_id}*", count=1000))
    finally:
        client.close()


def test_forgetting_an_open_chat_ends_it_for_both_sides_and_later_messages_recreate_nothing(
        bridge, second_bridge, redis_url):
    async def scenario() -> str:
        customer, ann = await claimed(bridge, "ann")
        conversation_id, token = customer.conversation_id, customer.token
        await customer.acknowledged(await customer.say("please forget me after this"))
        await ann.acknowledged(await ann.say("Of course.", conversation_id))
        # The same conversation open on the other process too (another tab).
        other_tab = await Customer.connect(second_bridge, conversation_id=conversation_id, token=token)
        sam = await staff(bridge, "sam", "supervisor")
        forgotten = await answer(sam, "forget", {"conversation_id": conversation_id}, ("forgotten", "error"))
        assert forgotten["type"] == "forgotten", forgotten

        for tab in (customer, other_tab):
            ended = await tab.next_matching(lambda e: e["type"] == "ended", "the chat's end", 10)
            assert ended["data"]["reason"] == "forgotten"
            assert "ended" in ended["data"]["text"] and "start a new chat" in ended["data"]["text"]
        released = await ann.next_matching(lambda e: e["type"] == "released"
                                           and e["data"]["conversation_id"] == conversation_id, "the tab's close", 10)
        assert released["data"]["reason"] == "forgotten", released

        # Whatever the old sockets still send: refused, and no key comes back.
        said = await answer(customer, "message", {"text": "one more thing"})
        assert said["type"] == "error" and said["data"]["code"] == "not_found", said
        again = await answer(other_tab, "message", {"text": "and another"})
        assert again["type"] == "error" and again["data"]["code"] == "not_found", again
        for kind, data in (("talk_to_person", {}), ("email_transcript", {"to": "ann@example.com"}),
                           ("rating", {"score": 5}), ("details", {"name": "Ann"})):
            refused = await answer(customer, kind, data)
            assert refused["type"] == "error", (kind, refused)
        await customer.send("typing", {"active": True})
        await customer.send("read", {"up_to": "1-0"})
        agent_said = await answer(ann, "message", {"conversation_id": conversation_id, "text": "still there?"})
        assert agent_said["type"] == "error", agent_said
        # The agent's other actions on the chat their tab had open: refused, nothing written.
        label = await answer(sam, "label_save", {"name": f"forget-{uuid.uuid4().hex[:6]}", "colour": "#1f6feb"})
        assert label["type"] == "ack", label
        for kind, data in (("note", {"text": "note to self"}), ("label_conversation",
                                                                 {"label_id": label["data"].get("label_id"), "on": True}),
                           ("close", {"disposition": "resolved"}), ("hand_back", {}),
                           ("email_transcript", {}), ("mail_addresses", {}), ("contact", {})):
            refused = await answer(ann, kind, {"conversation_id": conversation_id, **data})
            assert refused["type"] == "error", (kind, label, refused)
        await ann.send("typing", {"conversation_id": conversation_id, "active": True})
        await ann.send("read", {"conversation_id": conversation_id, "up_to": "1-0"})
        await asyncio.sleep(1.0)  # anything in flight (the bot, presence, offers) has happened
        for tab in (customer, other_tab):
            await tab.close()

        # A hello with the old id and token: refused as unknown, nothing created.
        async with websockets.connect(f"ws://{bridge}/ws/customer") as ws:
            await ws.send(json.dumps({"type": "hello", "id": "h",
                                      "data": {"conversation_id": conversation_id, "token": token}}))
            reply = json.loads(await ws.recv())
            while reply["type"] not in ("welcome", "error"):
                reply = json.loads(await ws.recv())
            assert reply["type"] == "error" and reply["data"]["code"] == "invalid_token", reply
        await ann.close()
        await sam.close()
        return conversation_id

    conversation_id = run(scenario())
    time.sleep(1.0)  # the sockets' goodbyes (presence) have been handled
    assert keys_of(redis_url, conversation_id) == []


def test_make_forget_on_an_open_chat_ends_it_on_every_process_too(bridge, second_bridge, redis_url, bridge_prefix):
    """The command line (make forget CONVERSATION=…) runs the same forget: the customer's sockets hear the end
    wherever they are, and their next message writes nothing."""
    async def opened() -> Tuple[Customer, Customer]:
        customer = await Customer.connect(bridge)
        await customer.acknowledged(await customer.say("hello"))
        other_tab = await Customer.connect(second_bridge, conversation_id=customer.conversation_id,
                                           token=customer.token)
        return customer, other_tab

    async def afterwards(customer: Customer, other_tab: Customer) -> None:
        for tab in (customer, other_tab):
            ended = await tab.next_matching(lambda e: e["type"] == "ended", "the chat's end", 10)
            assert ended["data"]["reason"] == "forgotten"
        said = await answer(other_tab, "message", {"text": "still here"})
        assert said["type"] == "error" and said["data"]["code"] == "not_found", said
        await asyncio.sleep(1.0)
        for tab in (customer, other_tab):
            await tab.close()

    loop = asyncio.new_event_loop()
    try:
        customer, other_tab = loop.run_until_complete(opened())
        done = subprocess.run(bridge_command("-m", "handoff.forget", "--conversation", customer.conversation_id),
                              cwd=ROOT, env=bridge_env({"REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": bridge_prefix}),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["conversations"] == 1
        loop.run_until_complete(afterwards(customer, other_tab))
    finally:
        loop.close()
    time.sleep(1.0)
    assert keys_of(redis_url, customer.conversation_id) == []


def test_a_forgotten_customer_waiting_in_the_queue_leaves_every_agents_queue(bridge, second_bridge, redis_url):
    async def scenario() -> str:
        customer = await queued_customer(bridge)
        conversation_id = customer.conversation_id
        bob = await staff(second_bridge, "bob")  # on the other process
        await bob.next_matching(lambda e: e["type"] == "queue" and any(
            item["conversation_id"] == conversation_id for item in e["data"]["items"]), "the queue with them", 10)
        sam = await staff(bridge, "sam", "supervisor")
        forgotten = await answer(sam, "forget", {"conversation_id": conversation_id}, ("forgotten", "error"))
        assert forgotten["type"] == "forgotten", forgotten
        await customer.next_matching(lambda e: e["type"] == "ended", "the chat's end", 10)
        await bob.next_matching(lambda e: e["type"] == "queue_changed"
                                and conversation_id in e["data"]["removed"], "their card gone", 10)
        for client in (customer, bob, sam):
            await client.close()
        return conversation_id

    conversation_id = run(scenario())
    time.sleep(1.0)
    assert keys_of(redis_url, conversation_id) == []
