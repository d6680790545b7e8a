"""Response-time targets through real bridge processes: the due times agents are told, breaches counted once.

A short target (4 s) for the customers' group: an answer within it is on time, one after it a breach, counted
once by the step that stores the answer, whichever of two processes stores it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Iterator, Tuple

import pytest

from harness.clients import dashboard_until, queued_customer, staff
from harness.servers import add_agent, delete_prefixed_keys, running_bridge

TARGET_SECONDS = 4
LATE = TARGET_SECONDS + 0.8


@pytest.fixture(scope="module")
def pair(redis_url: str, rasa_url: str) -> Iterator[Tuple[str, str]]:
    prefix = f"hbsla{uuid.uuid4().hex[:6]}"
    for name in ("ann", "bob"):
        add_agent(redis_url, prefix, name)
    add_agent(redis_url, prefix, "sue", "--roles", "supervisor")
    # The customers' group (general) has the short target; the groups not named a long one.
    target = f"default=first:600,reply:600;general=first:{TARGET_SECONDS},reply:{TARGET_SECONDS}"
    with running_bridge(redis_url, rasa_url, "bridge-sla-a", prefix, HANDOFF_SLA=target) as a:
        with running_bridge(redis_url, rasa_url, "bridge-sla-b", prefix, HANDOFF_SLA=target) as b:
            yield a, b
    delete_prefixed_keys(redis_url, prefix)


def test_due_times_are_stated_and_only_late_answers_count_once_each(pair):
    a, b = pair

    async def scenario() -> None:
        supervisor = await staff(a, "sue", "supervisor")
        # On time: the first answer within the target; a reply to the customer within it too.
        customer = await queued_customer(a)
        conversation_id = customer.conversation_id
        ann = await staff(a, "ann")
        card = await ann.queue_item(conversation_id, timeout=15)
        due = card["sla"]["first_response_due_ms"]
        assert card["sla"]["first_response_seconds"] == TARGET_SECONDS and card["sla"]["reply_due_ms"] is None
        assert (await ann.claim(conversation_id)).refused is None
        opened = await ann.expect("conversation", conversation_id=conversation_id)
        assert opened["data"]["sla"]["first_response_due_ms"] == due  # from the first queuing, not the claim
        assert (await ann.say("Hello, I'm here.", conversation_id)).refused is None
        await customer.say("my card is stuck")
        await ann.expect("message", conversation_id=conversation_id, kind="customer")
        assert (await ann.say("Let me look.", conversation_id)).refused is None

        # Late reply: the customer waits past the target; the answer, stored by the other process, is a breach.
        ann_b = await staff(b, "ann")
        await customer.say("hello? still there?")
        await ann.expect("message", conversation_id=conversation_id, kind="customer")
        await asyncio.sleep(LATE)
        at_risk = await dashboard_until(supervisor, lambda d: any(
            row["conversation_id"] == conversation_id for row in d["sla"]["at_risk"]))
        row = next(row for row in at_risk["sla"]["at_risk"] if row["conversation_id"] == conversation_id)
        assert row["kind"] == "reply" and row["agent"] == "ann" and row["seconds_left"] < 0
        await asyncio.gather(ann.say("Sorry, yes.", conversation_id), ann_b.say("Still here.", conversation_id))

        # Late first response, by bob: counted for his group and for him.
        late = await queued_customer(b)
        await asyncio.sleep(LATE)
        bob = await staff(b, "bob")
        assert (await bob.claim(late.conversation_id)).refused is None
        assert (await bob.say("Sorry for the wait.", late.conversation_id)).refused is None
        assert (await bob.say("How can I help?", late.conversation_id)).refused is None

        data = await dashboard_until(supervisor, lambda d: d["sla"]["breaches"]["first"]["count"] >= 1
                                     and d["sla"]["breaches"]["reply"]["count"] >= 1)
        await asyncio.sleep(1)  # anything counted twice would show by now
        data = await dashboard_until(supervisor, lambda d: True)
        assert data["sla"]["breaches"] == {
            "first": {"count": 1, "by_group": {"general": 1}, "by_agent": {"bob": 1}},
            "reply": {"count": 1, "by_group": {"general": 1}, "by_agent": {"ann": 1}},
        }
        assert not any(row["conversation_id"] == conversation_id for row in data["sla"]["at_risk"])
        # The per-agent view counts each agent's late answers.
        breaches = {row["name"]: row["sla_breaches"] for row in data["per_agent"]}
        assert breaches["bob"] == {"first": 1, "reply": 0} and breaches["ann"] == {"first": 0, "reply": 1}
        for client in (customer, late, ann, ann_b, bob, supervisor):
            await client.close()

    asyncio.run(scenario())
