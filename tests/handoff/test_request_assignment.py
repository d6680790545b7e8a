"""Requests assigned to an agent, through two real bridge processes sharing Redis (handoff.request_assignment):
a supervisor on one process assigns a customer's message to an agent on the other, who is told and finds it
theirs in the list; the customer's status names them after a reload; the refusals say why; two agents taking
the same request at once on two processes get exactly one winner."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Callable, Dict

from handoff_client import Agent, Customer
from harness.clients import staff


async def left_message(address: str) -> Customer:
    """A customer the bot serves who leaves a message request."""
    customer = await Customer.connect(address)
    await customer.send("leave", {"kind": "message", "contact": "amy@example.org",
                                  "description": "Why was I charged twice?"}, id="leave")
    await customer.acknowledged("leave")
    return customer


async def item_until(client: Agent, conversation_id: str, check: Callable[[Dict[str, Any]], bool]) -> Dict[str, Any]:
    """The conversation's request in the next ``requests`` list where ``check`` holds."""
    while True:
        items = (await client.expect("requests"))["data"]["items"]
        found = [item for item in items if item["conversation"] == conversation_id]
        if found and check(found[0]):
            return found[0]


async def answer(client: Agent, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """The ack's or the error's envelope of one ``kind`` request."""
    request_id = uuid.uuid4().hex[:8]
    await client.send(kind, data, id=request_id)
    return await client.next_matching(lambda e: e["type"] in ("ack", "error") and e["id"] == request_id,
                                      f"the answer to {kind}", 15)


def code(envelope: Dict[str, Any]) -> str:
    return str(envelope["data"].get("code")) if envelope["type"] == "error" else "ack"


def test_a_supervisor_assigns_a_request_to_an_agent_on_another_process_who_is_told(bridge, second_bridge):
    async def scenario() -> None:
        customer = await left_message(bridge)
        cid = customer.conversation_id
        sam = await staff(bridge, "sam", "supervisor")
        listed = await item_until(sam, cid, lambda item: True)  # every group's requests, for assigning
        assert listed["state"] == "open" and listed["assigned_to"] is None and listed["assigned_by"] is None
        request_id = listed["id"]
        bob = await staff(second_bridge, "bob")
        ann = await staff(bridge, "ann")

        given = await answer(sam, "assign_request", {"request_id": request_id, "agent": "bob"})
        assert given["type"] == "ack" and given["data"] == {"request_id": request_id, "assigned_to": "bob"}
        told = await bob.expect("request_assigned", request_id=request_id)
        assert told["data"]["by"] == "sam"
        mine = await item_until(bob, cid, lambda item: item["assigned_to"] == "bob")
        assert mine["assigned_by"] == "sam" and mine["assigned_ts"] > 0
        assert (await item_until(ann, cid, lambda item: item["assigned_to"]))["assigned_to"] == "bob"

        # The customer, back after a reload, is told who looks after it: the display name, never the login.
        await customer.close()
        back = await Customer.connect(bridge, conversation_id=cid, token=customer.token)
        status = (await back.expect("status"))["data"]
        assert status["request"]["state"] == "open" and status["request"]["agent"] == "Bob", status

        # Assigned to bob again: the same ack, nobody told twice.
        assert code(await answer(sam, "assign_request", {"request_id": request_id, "agent": "bob"})) == "ack"
        # Refusals: a colleague's request is not an agent's to take, nor may an agent assign to others; an agent
        # of another group, a supervisor-only account and nobody at all are no assignees.
        assert code(await answer(ann, "assign_request", {"request_id": request_id})) == "already_assigned"
        assert code(await answer(ann, "assign_request", {"request_id": request_id, "agent": "bob"})) == "forbidden"
        assert code(await answer(sam, "assign_request", {"request_id": request_id, "agent": "cara"})) \
            == "invalid_transition"
        for nobody in ("sam", 7):
            assert code(await answer(sam, "assign_request", {"request_id": request_id, "agent": nobody})) == "malformed"
        assert code(await answer(sam, "assign_request", {"request_id": "1-1", "agent": "bob"})) == "not_found"
        assert code(await answer(sam, "assign_request", {"request_id": "x", "agent": "bob"})) == "malformed"

        # A supervisor gives it to another: ann is told; once done it is nobody's to assign.
        assert code(await answer(sam, "assign_request", {"request_id": request_id, "agent": "ann"})) == "ack"
        await ann.expect("request_assigned", request_id=request_id)
        assert code(await answer(ann, "request_done", {"request_id": request_id})) == "ack"
        assert code(await answer(sam, "assign_request", {"request_id": request_id, "agent": "bob"})) \
            == "invalid_transition"
        assert code(await answer(bob, "assign_request", {"request_id": request_id})) == "invalid_transition"
        status = (await back.expect("status", state="bot"))["data"]
        while status.get("request", {}).get("state") != "done":
            status = (await back.expect("status"))["data"]
        assert "agent" not in status["request"]  # settled: nobody looks after it any more
        for client in (back, sam, ann, bob):
            await client.close()

    asyncio.run(scenario())


def test_two_agents_taking_a_request_at_once_on_two_processes_get_one_winner(bridge, second_bridge):
    async def scenario() -> None:
        ann = await staff(bridge, "ann")
        bob = await staff(second_bridge, "bob")
        for round_ in range(3):
            customer = await left_message(bridge)
            request = await item_until(ann, customer.conversation_id, lambda item: True)
            answers = await asyncio.gather(answer(ann, "assign_request", {"request_id": request["id"]}),
                                           answer(bob, "assign_request", {"request_id": request["id"], "agent": "bob"}))
            assert sorted(code(each) for each in answers) == ["ack", "already_assigned"], answers
            winner = "ann" if code(answers[0]) == "ack" else "bob"
            assert (await item_until(bob, customer.conversation_id, lambda item: item["assigned_to"]))["assigned_to"] \
                == winner
            # Taking one's own again is the same ack.
            again = await answer(ann if winner == "ann" else bob, "assign_request", {"request_id": request["id"]})
            assert again["type"] == "ack" and again["data"]["assigned_to"] == winner
            await customer.close()
        for client in (ann, bob):
            await client.close()

    asyncio.run(scenario())
