"""What a customer's widget shows after a reload, through a real bridge: the agent's read receipt is still
there, and a request's news comes with when it happened."""

from __future__ import annotations

import asyncio

from handoff_client import Customer
from harness.clients import claimed, staff


def test_the_agents_read_receipt_survives_the_customers_reload(bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge)
        said = await customer.say("is my card blocked?")
        message_id = (await customer.acknowledged(said))["data"]["message_id"]
        await ann.send("read", {"conversation_id": customer.conversation_id, "up_to": message_id})
        await customer.expect("read", up_to=message_id)
        await ann.send("read", {"conversation_id": customer.conversation_id, "up_to": "1-0"})  # an older one
        await customer.close()

        back = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        receipt = await back.expect("read")
        assert receipt["data"] == {"from": "agent", "up_to": message_id}, receipt
        for client in (back, ann):
            await client.close()

    asyncio.run(scenario())


def test_a_request_dealt_with_says_when_in_the_customers_status(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        await customer.send("leave", {"kind": "callback", "contact": "07700 900123"}, id="leave")
        await customer.acknowledged("leave")
        status = await customer.next_matching(lambda e: e["type"] == "status" and "request" in e["data"],
                                              "the request in the status", 10)
        assert "handled_ts" not in status["data"]["request"]  # open: nothing happened to it yet
        ann = await staff(bridge, "ann")
        request = next(item for item in (await ann.expect("requests"))["data"]["items"]
                       if item["conversation"] == customer.conversation_id)
        await ann.send("request_done", {"request_id": request["id"]}, id="done")
        await ann.acknowledged("done")
        done = await customer.next_matching(
            lambda e: e["type"] == "status" and (e["data"].get("request") or {}).get("state") == "done", "done", 10)
        assert done["data"]["request"]["handled_ts"] >= request["ts"], done
        for client in (customer, ann):
            await client.close()

    asyncio.run(scenario())
