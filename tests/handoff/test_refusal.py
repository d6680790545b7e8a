"""Never trap anyone, never lie about the wait (issue 13): a handoff the bridge cannot queue (a cap of
handoff.limits) is told honestly, through a real bridge process, Rasa and Redis. The bot's promise
of a person is never stored for a customer who is not queued; a refusal notice is, in the
transcript, and the customer's message is acknowledged as usual; the supervisors' dashboard counts
the refusals of the day."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from typing import Any, Dict, List

import requests

from handoff.limits import WINDOW_SECONDS
from handoff_client import Customer, NotReceived
from harness.clients import dashboard_until, staff
from harness.servers import add_agent, admin_address, running_bridge

# Two queue entries per address (per window): a customer queued twice, then refused.
CAPS = {"HANDOFF_MAX_QUEUE_ENTRIES_PER_IP": "2"}


def _well_inside_a_window() -> None:
    """The caps count per fixed window (handoff.limits): a scenario that crossed into the next window
    would find its address's count at zero again."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 60:
        time.sleep(left + 1)



def _refusals_in_metrics(address: str) -> float:
    text = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
    found = re.search(r'^handoff_process_events_total\{event="handoffs_refused"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _transcript(customer: Customer) -> List[Dict[str, Any]]:
    """Everything stored, as a reload replays it (a resume from the start)."""
    reloaded = await Customer.connect(customer.addresses[0], conversation_id=customer.conversation_id,
                                      token=customer.token)
    with contextlib.suppress(NotReceived):  # read the replay until the bridge has nothing more to say
        await reloaded.next_matching(lambda envelope: False, "nothing more", 2)
    messages = [envelope["data"] for envelope in reloaded.messages()]
    await reloaded.close()
    return messages


def test_a_handoff_the_bot_starts_that_the_queue_refuses_is_told_and_counted(redis_url, rasa_url):
    prefix = f"hbref{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    _well_inside_a_window()
    with running_bridge(redis_url, rasa_url, "bridge-refusal", prefix, **CAPS) as address:
        async def scenario() -> None:
            supervisor = await staff(address, "sam", "supervisor")
            for _ in range(2):  # the address's two queue entries
                queued = await Customer.connect(address)
                await queued.acknowledged(await queued.talk_to_person())
                await queued.close()
            customer = await Customer.connect(address)
            said = await customer.say("I'd like to talk to a real person")
            ack = await customer.acknowledged(said)  # the message was stored: acknowledged, not refused
            assert ack["type"] == "ack" and said.refused is None
            notice = await customer.expect("message", kind="system")
            assert notice["data"]["data"]["notice"] == "queue_refused"
            assert notice["data"]["data"]["offer"] == ["callback", "message"]
            assert "can't add you to the queue" in notice["data"]["text"]
            assert customer.status.get("state") == "bot"
            # The address's cap ends with its window: the notice says when (the widget in the customer's clock).
            window_ends_ms = (int(time.time()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS * 1000
            assert notice["data"]["data"]["retry_at"] == window_ends_ms, notice
            minutes = -(-(window_ends_ms - notice["data"]["ts"]) // 60_000)
            assert f"try again in {minutes} minute" in notice["data"]["text"], notice["data"]["text"]

            stored = await _transcript(customer)
            kinds = [(message["kind"], (message.get("data") or {}).get("notice")) for message in stored]
            assert kinds == [("customer", None), ("system", "queue_refused")], stored
            # Nothing promises a person, and no handoff payload is stored for the agents to read.
            assert not any("custom" in (message.get("data") or {}) for message in stored)

            # "Talk to a person" refused too: the refusal is the request's error (the widget offers
            # the form, and says when to try again), counted with the other.
            asked = await customer.talk_to_person()
            settled = await customer.settled(asked)
            assert settled.refused == "queue_full"
            error = await customer.next_matching(lambda e: e["type"] == "error" and e["id"] == asked.id, "the refusal", 5)
            assert error["data"]["retry_at"] == window_ends_ms, error
            data = await dashboard_until(supervisor, lambda d: d["refused"]["count"] >= 2)
            assert data["refused"] == {"count": 2}
            assert data["handoffs"] == 2  # the two queued, never the refused
            assert _refusals_in_metrics(address) == 2
            # A customer in distress at the same address (a shared office or carrier address) is still taken:
            # urgent handoffs have an allowance of their own (as large), so they never meet a bare refusal.
            grieving = await Customer.connect(address)
            await grieving.acknowledged(await grieving.say("my husband died last week and I need to close his account"))
            await grieving.expect("status", state="queued")
            stored = await _transcript(grieving)
            assert [m["kind"] for m in stored][:2] == ["customer", "bot"], stored  # the bot's gentle words kept
            assert not any((m.get("data") or {}).get("notice") == "queue_refused" for m in stored), stored
            await grieving.acknowledged(await grieving.leave_queue())
            for each in (grieving, customer, supervisor):
                await each.close()

        asyncio.run(scenario())


def test_a_full_queue_refuses_before_the_bot_promises_a_person(redis_url, rasa_url):
    prefix = f"hbrefq{uuid.uuid4().hex[:6]}"
    with running_bridge(redis_url, rasa_url, "bridge-refusal-queue", prefix, HANDOFF_MAX_QUEUE_LENGTH="1") as address:
        async def scenario() -> None:
            first = await Customer.connect(address)
            await first.acknowledged(await first.talk_to_person())
            customer = await Customer.connect(address)
            await customer.acknowledged(await customer.say("my refund hasn't shown up"))
            said = await customer.say("no")  # "did that answer your question?" -> unresolved -> a handoff, refused
            await customer.acknowledged(said)
            notice = await customer.expect("message", kind="system")
            assert notice["data"]["data"]["notice"] == "queue_refused"
            stored = await _transcript(customer)
            assert not any("custom" in (message.get("data") or {}) for message in stored)
            # After the customer's "no", the refusal alone: no promise of a person.
            assert [message["kind"] for message in stored][-2:] == ["customer", "system"], stored
            await first.close()
            await customer.close()

        asyncio.run(scenario())
