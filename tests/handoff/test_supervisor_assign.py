"""The supervisors' per-agent view and ``assign`` from the waiting list, through two real bridge processes
(handoff.agent_figures, Bridge.assign_to): an assignment made on one process opens the chat in the agent's
console on the other, the refusals say why, a claim at the same moment loses or wins but never both, and in
an automatic group the open offer to someone else is withdrawn.

No Rasa behind these bridges (as tests/handoff/test_assignment.py): "talk to a person" queues the customer
with the bridge's own summary. Each test uses agents of its own and leaves the queue empty.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any, Dict, Iterator, Tuple

import pytest

from handoff_client import Agent
from harness.clients import dashboard_until, queued_customer, staff
from harness.servers import AGENT_PASSWORD, add_agent, running_bridge
from tests.handoff.test_assignment import NO_RASA, SETTINGS, offered, until

_names = itertools.count(1)


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"hbsupassign{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def bridges(redis_url: str, prefix: str) -> Iterator[Tuple[str, str]]:
    add_agent(redis_url, prefix, "boss", "--roles", "supervisor")
    with running_bridge(redis_url, NO_RASA, "supassign-a", prefix, **SETTINGS) as first, \
            running_bridge(redis_url, NO_RASA, "supassign-b", prefix, **SETTINGS) as second:
        yield first, second


async def agent_on(redis_url: str, prefix: str, address: str, max_chats: int = 3) -> Agent:
    name = f"sa{next(_names)}"
    add_agent(redis_url, prefix, name, "--groups", "general", "--max-chats", str(max_chats))
    agent = Agent(address, name, password=AGENT_PASSWORD)
    await agent.start()
    await agent.expect("queue")
    return agent


async def assign(supervisor: Agent, conversation_id: str, agent: str, request_id: str) -> Dict[str, Any]:
    """The supervisor's ``assign``: its ack's or its error's envelope."""
    await supervisor.send("assign", {"conversation_id": conversation_id, "agent": agent}, id=request_id)
    return await supervisor.next_matching(lambda e: e["type"] in ("ack", "error") and e["id"] == request_id,
                                          f"the answer to {request_id}", 15)


def row(dashboard: Dict[str, Any], name: str) -> Dict[str, Any]:
    return next((each for each in dashboard["per_agent"] if each["name"] == name), {})


def test_an_assigned_chat_opens_in_the_agents_console_on_another_process_and_counts_for_them(bridges, redis_url,
                                                                                            prefix):
    async def scenario() -> None:
        first, second = bridges
        agent = await agent_on(redis_url, prefix, second)
        customer = await queued_customer(first)
        supervisor = await staff(first, "boss", "supervisor")
        listed = await dashboard_until(supervisor, lambda d: any(
            item["conversation_id"] == customer.conversation_id for item in d["waiting_list"]))
        item = next(i for i in listed["waiting_list"] if i["conversation_id"] == customer.conversation_id)
        assert item["group"] == "general" and item["waiting_seconds"] >= 0 and item["assignment"] == "manual"
        assert "reason" in item and "topic" in item and item["offered_to"] is None
        assert item["customer_name"] is None  # anonymous (a signed-in customer's signed name otherwise)
        assert row(listed, agent.name)["taken"] == 0  # every agent has a row, busy or not

        answer = await assign(supervisor, customer.conversation_id, agent.name, "give")
        assert answer["type"] == "ack" and answer["data"] == {"conversation_id": customer.conversation_id,
                                                               "agent": agent.name}
        await agent.wait_for(lambda: customer.conversation_id in agent.serving, "the assigned chat opened")
        await customer.expect("status", state="agent")
        await agent.acknowledged(await agent.say("Hello, I am looking at it", customer.conversation_id))
        await agent.acknowledged(await agent.close_conversation(customer.conversation_id))
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 4}, id="rate")
        await customer.acknowledged("rate")

        figures = await dashboard_until(supervisor, lambda d: row(d, agent.name).get("csat", {}).get("count") == 1)
        mine = row(figures, agent.name)
        assert mine["taken"] == 1 and mine["closed"] == 1
        assert mine["first_response"]["count"] == 1 and mine["first_response"]["median_seconds"] >= 0
        assert mine["handling"]["count"] == 1 and mine["handling"]["median_seconds"] >= 0
        assert mine["csat"] == {"count": 1, "average": 4.0}
        assert all(i["conversation_id"] != customer.conversation_id for i in figures["waiting_list"])
        await customer.close()
        await agent.close()
        await supervisor.close()

    asyncio.run(scenario())


def test_assigning_is_refused_with_a_clear_reason(bridges, redis_url, prefix):
    async def scenario() -> None:
        first, second = bridges
        busy = await agent_on(redis_url, prefix, second, max_chats=1)
        away = await agent_on(redis_url, prefix, first)
        await away.send("set_status", {"status": "away"}, id="away")
        await away.expect("agent_status", status="away")
        offline = f"sa{next(_names)}"
        add_agent(redis_url, prefix, offline, "--groups", "general")
        customer, other = await queued_customer(first), await queued_customer(second)
        supervisor = await staff(second, "boss", "supervisor")
        conversation = customer.conversation_id

        async def refused(agent: str, code: str, conversation_id: str = conversation) -> str:
            answer = await assign(supervisor, conversation_id, agent, uuid.uuid4().hex)
            assert answer["type"] == "error" and answer["data"]["code"] == code, answer
            return str(answer["data"]["message"])

        assert "nobody" in await refused("nobody", "malformed")
        assert "boss" in await refused("boss", "malformed")  # a supervisor's account only: no agent
        assert "not online" in await refused(offline, "invalid_transition")
        assert "away" in await refused(away.name, "invalid_transition")
        assert "no conversation" in await refused(busy.name, "not_found", "nosuchconversation")
        bad = await assign(supervisor, conversation, "", "empty")
        assert bad["type"] == "error" and bad["data"]["code"] == "malformed"
        assert (await assign(supervisor, other.conversation_id, busy.name, "one"))["type"] == "ack"
        await refused(busy.name, "at_limit")  # their one chat slot is taken
        assert "no longer waiting" in await refused(busy.name, "not_waiting", other.conversation_id)
        await busy.acknowledged(await busy.close_conversation(other.conversation_id))
        await customer.acknowledged(await customer.leave_queue())
        for each in (customer, other, busy, away, supervisor):
            await each.close()

    asyncio.run(scenario())


def test_an_assignment_and_a_claim_at_the_same_moment_one_wins(bridges, redis_url, prefix):
    async def scenario() -> None:
        first, second = bridges
        ann = await agent_on(redis_url, prefix, first)
        bob = await agent_on(redis_url, prefix, second)
        supervisor = await staff(first, "boss", "supervisor")
        for attempt in range(4):
            customer = await queued_customer(first if attempt % 2 else second)
            claim, answer = await asyncio.gather(
                bob.claim(customer.conversation_id),
                assign(supervisor, customer.conversation_id, ann.name, f"race{attempt}"))
            await until(lambda: claim.acked_at is not None or claim.refused is not None, "the claim's answer")
            assert (answer["type"] == "ack") != (claim.acked_at is not None), (answer, claim)
            winner = ann if answer["type"] == "ack" else bob
            await winner.wait_for(lambda: customer.conversation_id in winner.serving, "the chat at the winner")
            assert customer.conversation_id not in (bob if winner is ann else ann).serving
            await winner.acknowledged(await winner.close_conversation(customer.conversation_id))
            await customer.close()
        for each in (ann, bob, supervisor):
            await each.close()

    asyncio.run(scenario())


def test_in_an_automatic_group_assigning_withdraws_the_open_offer(bridges, redis_url, prefix):
    async def scenario() -> None:
        first, second = bridges
        supervisor = await staff(first, "boss", "supervisor")
        await supervisor.send("assignment_mode", {"group": "general", "mode": "automatic"}, id="auto")
        await supervisor.acknowledged("auto")
        try:
            ann = await agent_on(redis_url, prefix, first)
            customer = await queued_customer(second)
            await offered(ann, customer.conversation_id)
            listed = await dashboard_until(supervisor, lambda d: any(
                i["conversation_id"] == customer.conversation_id and i["offered_to"] == ann.name
                for i in d["waiting_list"]))
            assert listed["waiting_list"][0]["assignment"] == "automatic"
            bob = await agent_on(redis_url, prefix, second)
            assert (await assign(supervisor, customer.conversation_id, bob.name, "give"))["type"] == "ack"
            await bob.wait_for(lambda: customer.conversation_id in bob.serving, "the assigned chat")
            await ann.wait_for(lambda: not ann.offers, "the offer withdrawn")
            await bob.acknowledged(await bob.close_conversation(customer.conversation_id))
            for each in (customer, ann, bob):
                await each.close()
        finally:
            await supervisor.send("assignment_mode", {"group": "general", "mode": "manual"}, id="manual")
            await supervisor.acknowledged("manual")
            await supervisor.close()

    asyncio.run(scenario())

