"""The dashboard counts what customers live through (through real bridges and Redis): waits of
those still queued and of those who gave up, the abandonment rate, the first response, and
handoffs that never outnumber the conversations handed over without saying why."""

from __future__ import annotations

import asyncio
import re
import uuid

import requests

from handoff.dashboard import summarise
from handoff_client import Customer
from harness.clients import dashboard_until, queued_customer, staff
from harness.servers import add_agent, admin_address, running_bridge


def _metric(address: str, name: str) -> float:
    text = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_waiting_abandoned_and_first_response_are_counted(redis_url, rasa_url):
    prefix = f"hbexp{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-experience", prefix) as address:
        async def scenario() -> None:
            supervisor = await staff(address, "sam", "supervisor")
            agent = await staff(address, "ann")
            waiting = await queued_customer(address)  # stays in the queue
            gives_up = await queued_customer(address)
            await asyncio.sleep(1.2)
            await gives_up.send("leave", {"kind": "callback", "contact": "07700 900123"}, id="leave")
            await gives_up.acknowledged("leave")

            served = await queued_customer(address)
            await agent.send("claim", {"conversation_id": served.conversation_id}, id="claim")
            await agent.acknowledged("claim")
            await asyncio.sleep(0.5)
            await agent.say("Hello, I'm Ann", conversation_id=served.conversation_id)
            await agent.say("How can I help?", conversation_id=served.conversation_id)  # not a first response
            await served.expect("message", kind="agent", text="How can I help?")

            data = await dashboard_until(supervisor, lambda d: d["first_response"]["count"] == 1)
            assert data["waiting"]["count"] == 1 and data["waiting"]["median_seconds"] >= 1.0, data["waiting"]
            assert data["waiting"]["longest_seconds"] >= 1.0
            abandoned = data["abandoned"]
            assert abandoned["count"] == 1 and abandoned["by_way"] == {"left_request": 1}, abandoned
            assert abandoned["median_seconds"] >= 1.0
            assert abandoned["rate"] == 0.5, "one of the two stays that ended today was abandoned"
            assert data["wait"]["count"] == 1
            assert data["customer_wait"]["count"] == 3, "served, abandoned and still waiting"
            assert data["first_response"]["median_seconds"] >= 0.5
            assert data["handoffs"] == data["handed_over"] == 3 and data["handoffs_note"] is None
            assert _metric(address, 'handoff_abandoned_total{way="left_request"}') == 1
            for client in (supervisor, agent, waiting, gives_up, served):
                await client.close()

        asyncio.run(scenario())


def test_a_queued_customer_who_no_longer_needs_a_person_leaves_the_queue_back_to_the_bot(redis_url, rasa_url):
    prefix = f"hbexp{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-leave-queue", prefix) as address:
        async def scenario() -> None:
            supervisor = await staff(address, "sam", "supervisor")
            agent = await staff(address, "ann")
            customer = await queued_customer(address)
            await asyncio.sleep(0.5)
            # Words that mean "never mind" are offered the way out (kept for the person, never sent to the bot);
            # a question for the person is not.
            first_said = (await customer.acknowledged(await customer.say("my card is still not here")))["data"]["message_id"]
            kept = await customer.expect("message", kind="system")
            assert kept["data"]["data"]["notice"] == "kept_for_person"
            await customer.acknowledged(await customer.say("actually never mind, I found it, I don't need a person"))
            offer = await customer.expect("message", kind="system", data={"notice": "leave_queue_offer",
                                                                          "offer": ["leave_queue"]})
            assert "Back to the assistant" in offer["data"]["text"]
            assert [m["data"]["data"].get("notice") for m in customer.messages("system")] == [], "offered once"
            def order(message_id: str) -> "tuple[int, ...]":
                return tuple(int(part) for part in message_id.split("-"))
            assert all(order(m["id"]) < order(first_said) for m in customer.messages("bot")), "not sent to the bot"
            for attempt in ("leave-1", "leave-2"):  # resent: out once, counted once
                await customer.send("leave_queue", id=attempt)
                await customer.acknowledged(attempt)
            await customer.expect("status", state="bot")
            notice = await customer.expect("message", kind="system", data={"notice": "left_queue"})
            assert notice["data"]["text"] == "You've left the queue. The assistant is here if you need anything."
            item = await agent.next_matching(
                lambda e: e["type"] == "queue" and not any(i["conversation_id"] == customer.conversation_id
                                                           for i in e["data"]["items"]), "the queue without them", 10)
            assert item["data"]["items"] == []

            await customer.say("hello")
            assert (await customer.expect("message", kind="bot"))["data"]["text"], "the bot answers again"
            data = await dashboard_until(supervisor, lambda d: d["abandoned"]["count"] >= 1)
            assert data["abandoned"]["count"] == 1 and data["abandoned"]["by_way"] == {"left_queue": 1}
            assert data["abandoned"]["median_seconds"] >= 0.5
            assert _metric(address, 'handoff_abandoned_total{way="left_queue"}') == 1
            for client in (supervisor, agent, customer):
                await client.close()

        asyncio.run(scenario())


def test_requeues_are_not_handoffs_and_a_second_handoff_is_explained(redis_url, rasa_url):
    prefix = f"hbexp{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-requeue", prefix) as address:
        async def scenario() -> None:
            supervisor = await staff(address, "sam", "supervisor")
            agent = await staff(address, "ann")
            customer = await queued_customer(address)
            for step in range(2):  # transferred to a group twice: back in the queue, not handed over again
                await agent.send("claim", {"conversation_id": customer.conversation_id}, id=f"claim{step}")
                await agent.acknowledged(f"claim{step}")
                await agent.send("transfer", {"conversation_id": customer.conversation_id, "to_group": "general"},
                                 id=f"transfer{step}")
                await agent.acknowledged(f"transfer{step}")
            data = await dashboard_until(supervisor, lambda d: d["requeued"] == 2)
            assert data["handoffs"] == 1 and data["handed_over"] == 1 and data["conversations"] == 1, data
            assert data["handoffs_note"] is None
            assert _metric(address, 'handoff_handoffs_total{reason="requested"}') == 1
            assert _metric(address, "handoff_requeues_total") == 2

            await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
            await agent.acknowledged("claim")
            await agent.send("hand_back", {"conversation_id": customer.conversation_id}, id="back")
            await agent.acknowledged("back")
            await customer.send("talk_to_person", id="again")  # a real second handoff
            await customer.acknowledged("again")
            data = await dashboard_until(supervisor, lambda d: d["handoffs"] == 2)
            assert data["handed_over"] == 1 and data["conversations"] == 1
            assert data["handoffs_note"].startswith("2 handoffs in 1 conversation:"), data["handoffs_note"]
            for client in (supervisor, agent, customer):
                await client.close()

        asyncio.run(scenario())


def test_a_conversation_that_expires_in_the_queue_is_abandoned(redis_url, rasa_url):
    prefix = f"hbexp{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-expiry", prefix, HANDOFF_RETENTION_SECONDS="2") as address:
        async def scenario() -> None:
            customer = await queued_customer(address)
            await customer.close()
            await asyncio.sleep(3)  # the conversation expires while queued
            agent = await staff(address, "ann")
            await agent.send("queue", id="queue")
            queue = await agent.next_matching(lambda e: e["type"] == "queue" and e["id"] == "queue", "the queue", 10)
            assert queue["data"]["items"] == []
            supervisor = await staff(address, "sam", "supervisor")
            data = await dashboard_until(supervisor, lambda d: d["abandoned"]["count"] == 1)
            assert data["abandoned"]["by_way"] == {"expired": 1} and data["abandoned"]["median_seconds"] >= 2.0
            assert data["abandoned"]["rate"] == 1.0
            for client in (agent, supervisor):
                await client.close()

        asyncio.run(scenario())


def test_the_summary_of_waits_abandonment_and_first_responses():
    counters = {"conversations": 5, "escalated": 4, "handoffs": 5, "handed_over": 3, "reason:requested": 5,
                "abandoned": 2, "abandoned:left_request": 1, "abandoned:expired": 1, "requeued": 1}
    summary = summarise("2026-11-22", counters, [10_000, 30_000], {}, waiting_ms=[50_000],
                        abandoned_ms=[20_000, 90_000], first_response_ms=[4_000, 6_000, 60_000])
    assert summary["abandoned"] == {"count": 2, "rate": 0.5, "median_seconds": 20.0, "p90_seconds": 90.0,
                                    "by_way": {"expired": 1, "left_request": 1}}
    assert summary["waiting"] == {"count": 1, "median_seconds": 50.0, "p90_seconds": 50.0, "longest_seconds": 50.0}
    assert summary["customer_wait"] == {"count": 5, "median_seconds": 30.0, "p90_seconds": 90.0}
    assert summary["first_response"] == {"count": 3, "median_seconds": 6.0, "p90_seconds": 60.0}
    assert summary["handoffs_note"] == ("5 handoffs in 3 conversations: 2 were second or later handoffs of a "
                                        "conversation (handed back to the bot or closed, then handed over again)")
    assert summary["requeued"] == 1
    quiet = summarise("2026-11-22", {}, [], {})
    assert quiet["abandoned"]["rate"] is None and quiet["first_response"]["median_seconds"] is None
    assert quiet["waiting"]["longest_seconds"] is None and quiet["handoffs_note"] is None


def test_a_queued_customer_is_told_once_that_their_words_are_kept_and_offered_the_way_out(redis_url, rasa_url):
    """Nobody answers a queued customer until a person picks up: they read once per stay that their words are
    kept, with the wait, or plainly that nobody is available; "no thanks, that's all" offers the way out."""
    prefix = f"hbexp{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    with running_bridge(redis_url, rasa_url, "bridge-kept", prefix) as address:
        async def notices(customer: Customer, *texts: str) -> "list[dict]":
            """The system messages that follow ``texts`` (the last one's leave offer ends them)."""
            for text in texts:
                await customer.acknowledged(await customer.say(text))
            await customer.expect("message", kind="system", data={"notice": "leave_queue_offer", "offer": ["leave_queue"]})
            return [m["data"] for m in customer.messages("system")]

        async def scenario() -> None:
            alone = await queued_customer(address)  # nobody online
            told = await notices(alone, "is anyone there?", "hello??", "no thanks, that’s all")
            assert [m["data"]["notice"] for m in told] == ["no_agents", "kept_for_person"], "once, not after every message"
            assert told[1]["text"].startswith("We've kept your message for the person who picks up your chat, "
                                              "but no one from our team is available right now")
            assert told[1]["data"]["offer"] == ["callback", "message"]
            await alone.send("leave_queue", id="out")
            await alone.acknowledged("out")
            await alone.expect("status", state="bot")

            agent = await staff(address, "ann")
            waiting = await queued_customer(address)
            told = await notices(waiting, "my card is still not here", "that is all I know about it", "forget it, bye")
            assert [m["data"]["notice"] for m in told] == ["kept_for_person"]
            assert re.fullmatch(r"We've kept your message for the person who picks up your chat: they'll read "
                                r"everything you write here\. We expect someone to pick up in .+\.", told[0]["text"])
            assert {"wait_minutes", "wait_range", "wait_basis"} <= set(told[0]["data"]), \
                "the wait's figures reach the customer, for the widget to say it in their language"
            for client in (alone, agent, waiting):
                await client.close()

        asyncio.run(scenario())


PROMISES = re.compile(r"get (you )?a person|connecting you to a person|asking a person", re.IGNORECASE)


def test_with_nobody_available_the_customer_is_not_promised_a_person_first(redis_url, rasa_url):
    """Issue 13: what the bot says as it hands over stays true when nobody can pick up: the customer is in the
    queue, and the no-agents notice right below it is the news, not a contradiction."""
    with running_bridge(redis_url, rasa_url, "bridge-no-promise", f"hbexp{uuid.uuid4().hex[:6]}") as address:
        async def scenario() -> None:
            in_words = await Customer.connect(address)
            await in_words.acknowledged(await in_words.say("I'd like to talk to a real person"))
            pressed = await Customer.connect(address)
            await pressed.send("talk_to_person", id="talk")
            await pressed.acknowledged("talk")
            for customer in (in_words, pressed):
                await customer.expect("status", state="queued")
                await customer.expect("message", kind="system", data={"notice": "no_agents", "offer": ["callback", "message"]})
                said = [m["data"]["text"] for m in customer.messages("bot")]
                assert any("I've put you in the queue for our support team" in text for text in said), said
                assert not [text for text in said if PROMISES.search(text)]
                await customer.close()

        asyncio.run(scenario())
