"""The bridge end to end: real bridge processes, real Redis, real Rasa, real websockets."""

from __future__ import annotations

import asyncio
import json

import requests

from handoff_client import Customer, Transport
from harness.clients import login, queued_customer, staff
from harness.servers import admin_address


def test_health_ready_and_metrics(bridge):
    assert requests.get(f"http://{bridge}/health", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"http://{admin_address(bridge)}/ready", timeout=5).json()
    assert ready == {"ready": True, "checks": {"redis": "ok", "rasa": "ok"}}
    metrics = requests.get(f"http://{admin_address(bridge)}/metrics", timeout=5).text
    assert "handoff_queue_length" in metrics and "handoff_open_connections" in metrics


def test_agents_log_in_with_their_password_only(bridge):
    assert login(bridge, "ann").ok
    wrong = login(bridge, "ann", "guess-guess")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    assert login(bridge, "nobody").status_code == 401


def test_the_bot_answers_with_buttons_preserved(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        key = (await customer.say("my card was declined in a shop")).id
        ack = await customer.expect("ack")
        assert ack["id"] == key
        answer = await customer.expect("message", kind="bot")
        check = await customer.expect("message", kind="bot")
        assert "https://help.northwind-bank.example/" in answer["data"]["text"]
        assert check["data"]["text"] == "Did that answer your question?"
        assert [b["payload"] for b in check["data"]["data"]["buttons"]] == ["/affirm", "/deny"]
        await customer.close()

    asyncio.run(scenario())


def test_stuck_customer_reaches_an_agent_who_answers_and_hands_back(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        await customer.say("my refund hasn't shown up")
        await customer.expect("message", kind="bot")
        await customer.say("no")  # "did that answer your question?" -> unresolved -> handoff
        status = await customer.expect("status", state="queued")
        assert status["data"]["position"] >= 1 and status["data"]["wait"]
        conversation_id = customer.conversation_id

        agent = await staff(bridge, "ann")
        item = await agent.queue_item(conversation_id)
        assert item["reason"] == "unresolved" and item["topic"] == "refund_not_showing"

        await agent.send("claim", {"conversation_id": conversation_id}, id="c1")
        await agent.expect("ack", conversation_id=conversation_id)
        opened = await agent.expect("conversation", conversation_id=conversation_id)
        assert opened["data"]["handoff"]["reason"] == "unresolved"
        transcript = [await agent.expect("message", conversation_id=conversation_id) for _ in range(5)]
        assert [m["data"]["kind"] for m in transcript[:3]] == ["customer", "bot", "bot"]
        await customer.expect("status", state="agent")
        joined = await customer.expect("message", kind="system", data={"notice": "agent_joined", "agent": "Ann"})
        assert joined["data"]["text"] == "Ann from our support team has joined the chat."
        customer.received.clear()

        await agent.say("Hi, I'm Ann. Let me look at your refund.", conversation_id=conversation_id)
        from_agent = await customer.expect("message", kind="agent")
        assert from_agent["data"]["text"].startswith("Hi, I'm Ann")
        await customer.say("thank you!")
        from_customer = await agent.expect("message", kind="customer", conversation_id=conversation_id, text="thank you!")
        assert from_customer["data"]["text"] == "thank you!"
        assert customer.messages("bot") == [], "the bot never answers while a person serves"

        await agent.send("hand_back", {"conversation_id": conversation_id}, id="h1")
        await agent.expect("released", conversation_id=conversation_id)
        await customer.expect("status", state="bot")
        await customer.say("how do I top up with a card")
        resumed = await customer.expect("message", kind="bot")
        assert "https://help.northwind-bank.example/" in resumed["data"]["text"], "an FAQ answer, not a fallback"
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_only_one_of_two_agents_can_claim(bridge):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        conversation_id = customer.conversation_id
        ann, bob = await staff(bridge, "ann"), await staff(bridge, "bob")

        await asyncio.gather(
            ann.send("claim", {"conversation_id": conversation_id}, id="a"),
            bob.send("claim", {"conversation_id": conversation_id}, id="b"),
        )
        outcomes = [await _ack_or_error(agent) for agent in (ann, bob)]

        assert sorted(reply["type"] for reply in outcomes) == ["ack", "error"]
        [refusal] = [reply for reply in outcomes if reply["type"] == "error"]
        [winner] = [name for name, reply in zip(("ann", "bob"), outcomes) if reply["type"] == "ack"]
        assert (refusal["data"]["code"], refusal["data"]["agent"]) == ("already_claimed", winner)  # who won
        for client in (ann, bob, customer):
            await client.close()

    asyncio.run(scenario())


async def _ack_or_error(client: Transport) -> dict:
    while True:
        envelope = json.loads(await asyncio.wait_for(client.ws.recv(), 30))
        if envelope["type"] in ("ack", "error"):
            return envelope
