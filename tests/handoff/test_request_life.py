"""A callback or message request's whole life beside the chat that may resolve it, through a real bridge:
the agents' list says the customer was served since, closing the chat may settle the request, and the
customer's status follows the request's real state (also after a reload)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from handoff_client import Agent, Customer
from harness.clients import queued_customer, staff
from harness.files import image
from tests.handoff.test_attachments import as_agent, as_customer, fetch, upload


def _mine(items: List[Dict[str, Any]], conversation_id: str) -> List[Dict[str, Any]]:
    return [item for item in items if item["conversation"] == conversation_id]


async def _request_until(agent: Agent, conversation_id: str, check: Any) -> Dict[str, Any]:
    while True:
        items = _mine((await agent.expect("requests"))["data"]["items"], conversation_id)
        if items and check(items[0]):
            return items[0]


async def _callback_then_chat(bridge: str) -> tuple[Customer, Agent, Dict[str, Any]]:
    """Queued, the customer leaves a callback request (back with the bot), asks for a person again, and ann
    claims the chat."""
    customer = await queued_customer(bridge)
    await customer.send("leave", {"kind": "callback", "contact": "07700 900123",
                                  "preferred_time": "tomorrow after 5pm"}, id="leave")
    await customer.acknowledged("leave")
    await customer.expect("status", state="bot")
    await customer.send("talk_to_person", id="again")
    await customer.acknowledged("again")
    await customer.expect("status", state="queued")
    ann = await staff(bridge, "ann")
    request = _mine((await ann.expect("requests"))["data"]["items"], customer.conversation_id)[0]
    assert request["state"] == "open" and request["served_since"] is None, request
    await ann.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
    await ann.acknowledged("claim")
    await customer.expect("status", state="agent")
    return customer, ann, request


def test_closing_the_chat_with_request_done_settles_the_customers_open_callback(bridge):
    async def scenario() -> None:
        customer, ann, request = await _callback_then_chat(bridge)
        await ann.send("requests", id="list")
        served = await _request_until(ann, customer.conversation_id, lambda item: item["served_since"])
        assert served["served_since"] == {"agent": "ann", "closed": False, "disposition": ""}, served
        assert served["state"] == "open"

        await ann.send("close", {"conversation_id": customer.conversation_id, "disposition": "resolved",
                                 "request_done": True}, id="close")
        await ann.acknowledged("close")
        settled = await _request_until(ann, customer.conversation_id, lambda item: item["state"] == "done")
        assert (settled["id"], settled["handled_by"], settled["settled_in_chat"]) == (request["id"], "ann", "resolved")
        assert settled["served_since"] == {"agent": "ann", "closed": True, "disposition": "resolved"}
        await customer.next_matching(lambda e: e["type"] == "status" and e["data"]["state"] == "closed"
                                     and (e["data"].get("request") or {}).get("state") == "done",
                                     "the customer's status with the request done", 10)
        await customer.close()

        back = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        status = (await back.expect("status"))["data"]
        assert status["state"] == "closed" and status["request"]["state"] == "done", status
        for client in (back, ann):
            await client.close()

    asyncio.run(scenario())


def test_closing_without_request_done_leaves_the_request_open_and_says_how_the_chat_ended(bridge):
    async def scenario() -> None:
        customer, ann, request = await _callback_then_chat(bridge)
        await ann.send("close", {"conversation_id": customer.conversation_id, "disposition": "follow-up needed"},
                       id="close")
        await ann.acknowledged("close")
        item = await _request_until(ann, customer.conversation_id,
                                    lambda item: (item["served_since"] or {}).get("closed"))
        assert item["state"] == "open" and item["settled_in_chat"] is None
        assert item["served_since"] == {"agent": "ann", "closed": True, "disposition": "follow-up needed"}
        await ann.send("close", {"conversation_id": customer.conversation_id, "request_done": "yes"}, id="bad")
        assert (await ann.expect("error"))["data"]["code"] == "malformed"
        for client in (customer, ann):
            await client.close()

    asyncio.run(scenario())


def test_a_resent_close_settles_the_request_the_first_one_did_not_only_from_the_agent_who_closed(bridge):
    """The close is stored but its settlement is not (the bridge died between the two, or the ack was
    lost and the console resends): the same close again settles the request instead of being refused."""
    async def scenario() -> None:
        customer, ann, request = await _callback_then_chat(bridge)
        cid = customer.conversation_id
        await ann.send("close", {"conversation_id": cid, "disposition": "resolved"}, id="close")  # settlement lost
        await ann.acknowledged("close")
        assert (await _request_until(ann, cid, lambda item: (item["served_since"] or {}).get("closed")))["state"] == "open"
        bob = await staff(bridge, "bob")
        await bob.send("close", {"conversation_id": cid, "request_done": True}, id="not-his")
        assert (await bob.expect("error"))["data"]["code"] == "invalid_transition"
        await ann.send("close", {"conversation_id": cid, "disposition": "resolved", "request_done": True}, id="again")
        await ann.acknowledged("again")
        settled = await _request_until(ann, cid, lambda item: item["state"] == "done")
        assert (settled["id"], settled["handled_by"], settled["settled_in_chat"]) == (request["id"], "ann", "resolved")
        for client in (customer, ann, bob):
            await client.close()

    asyncio.run(scenario())


def test_the_agent_handling_a_request_reads_the_files_left_while_the_bot_served(bridge):
    """A file the customer sent the bot is part of the request they then left: an agent of the request's
    group, neither serving nor mentioned, opens the request and reads the file; before the request, not."""
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        cid = customer.conversation_id
        sent = upload(bridge, cid, image("PNG"), as_customer(customer), "receipt.png", client_id="receipt")
        assert sent.status_code == 201, sent.text
        file_id = sent.json()["attachment"]["id"]
        ann = await staff(bridge, "ann")
        assert fetch(bridge, cid, file_id, as_agent(ann)).status_code == 403
        await customer.send("talk_to_person", id="talk")
        await customer.expect("status", state="queued")
        await customer.send("leave", {"kind": "callback", "contact": "07700 900123"}, id="leave")
        await customer.acknowledged("leave")
        request = await _request_until(ann, cid, lambda item: item["state"] == "open")
        await ann.send("open_request", {"request_id": request["id"]}, id="open")
        opened = (await ann.expect("request"))["data"]
        assert any((message.get("data") or {}).get("attachment", {}).get("id") == file_id
                   for message in opened["messages"]), opened["messages"]
        served = fetch(bridge, cid, file_id, as_agent(ann))
        assert served.status_code == 200 and served.content == image("PNG")
        for client in (customer, ann):
            await client.close()

    asyncio.run(scenario())
