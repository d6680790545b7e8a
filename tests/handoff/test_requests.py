"""Callbacks and messages left instead of waiting, through real bridges and Redis: contact
details are checked, the customer sees after a reload that the request was sent, and agents
(on any bridge process) open a request's conversation, mark it done or answer it."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from handoff.contact import contact_kind
from handoff.exceptions import InvalidContact
from handoff_client import Agent, Customer
from harness.clients import queued_customer, staff


@pytest.mark.parametrize("contact, kind", [
    ("+44 20 7946 0000", "phone"), ("07700 900123", "phone"), ("(555) 010-4477", "phone"), ("+1.555.010.4477", "phone"),
    ("ann@example.com", "email"), ("ann.lee+bank@mail.example.co.uk", "email"),
])
def test_phone_numbers_and_email_addresses_are_contact_details(contact: str, kind: str):
    assert contact_kind(contact) == kind


@pytest.mark.parametrize("contact", [
    "", "   ", "call me", "tomorrow", "12345", "+44 20 7946 0000 0000 0000", "ann@", "@example.com", "ann@example",
    "ann at example.com", "ann@exa mple.com", "07700 900123 or ann@example.com", "٠٧٧٠٠٩٠٠١٢٣", "+-+-+-+-",
])
def test_anything_else_is_refused_with_the_reason(contact: str):
    with pytest.raises(InvalidContact, match="phone number|email address"):
        contact_kind(contact)


def test_a_request_without_a_phone_number_or_email_gets_a_clear_error_and_changes_nothing(bridge):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        for number, contact in enumerate(["call me please", "12", "ann@example"]):
            await customer.send("leave", {"kind": "callback", "contact": contact}, id=f"bad{number}")
            error = await customer.expect("error")
            assert error["id"] == f"bad{number}" and error["data"]["code"] == "invalid_contact", error
            assert "phone number" in error["data"]["message"] or "email address" in error["data"]["message"]
        await customer.send("details", {"description": "still here"}, id="details")  # only while queued
        await customer.acknowledged("details")
        await customer.close()

    asyncio.run(scenario())


def _mine(items: List[Dict[str, Any]], conversation_id: str) -> List[Dict[str, Any]]:
    return [item for item in items if item["conversation"] == conversation_id]


async def _requests_until(agent: Agent, conversation_id: str, state: str) -> Dict[str, Any]:
    while True:
        items = _mine((await agent.expect("requests"))["data"]["items"], conversation_id)
        if items and items[0]["state"] == state:
            return items[0]


def test_after_a_reload_the_customer_sees_the_request_was_sent_and_a_resent_one_is_stored_once(bridge):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        leave = {"kind": "callback", "contact": "07700 900123", "preferred_time": "after 6pm"}
        await customer.send("leave", leave, id="leave-1")
        await customer.acknowledged("leave-1")
        await customer.send("leave", leave, id="leave-1")  # resent after a network drop
        await customer.acknowledged("leave-1")
        status = await customer.expect("status", state="bot")
        await customer.close()

        again = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        status = (await again.expect("status"))["data"]
        assert status["state"] == "bot"
        assert status["request"]["kind"] == "callback" and status["request"]["state"] == "open", status
        assert status["request"]["preferred_time"] == "after 6pm", "said back to them, in their words"
        notices = [m for m in again.messages("system") if m["data"]["data"].get("notice") == "request_stored"]
        assert len(notices) == 1, notices

        agent = await staff(bridge, "ann")
        items = _mine((await agent.expect("requests"))["data"]["items"], customer.conversation_id)
        assert len(items) == 1, items
        assert items[0]["contact"] == "07700 900123" and items[0]["contact_kind"] == "phone"
        assert items[0]["state"] == "open" and items[0]["handled_by"] is None
        for client in (again, agent):
            await client.close()

    asyncio.run(scenario())


def test_agents_on_two_bridges_open_answer_and_mark_requests_done(bridge, second_bridge):
    async def scenario() -> None:
        # A customer asks the bot, waits, and leaves a message on bridge A.
        customer = await Customer.connect(bridge)
        await customer.say("my card hasn't arrived")
        await customer.expect("message", kind="bot")
        await customer.send("talk_to_person", id="person")
        await customer.acknowledged("person")
        await customer.send("details", {"description": "new card never came"}, id="details")
        await customer.acknowledged("details")
        await customer.send("leave", {"kind": "message", "contact": "ann@example.com",
                                      "description": "where is my card?"}, id="leave")
        await customer.acknowledged("leave")
        await customer.close()

        ann = await staff(second_bridge, "ann")  # on bridge B
        bob = await staff(bridge, "bob")  # on bridge A
        request = _mine((await ann.expect("requests"))["data"]["items"], customer.conversation_id)[0]
        assert request["kind"] == "message" and request["contact_kind"] == "email"

        # Opening it shows the transcript and the context of the handoff.
        await ann.send("open_request", {"request_id": request["id"]}, id="open")
        opened = await ann.next_matching(lambda e: e["id"] == "open", "the opened request", 10)
        assert opened["type"] == "request", opened
        data = opened["data"]
        assert data["request"]["id"] == request["id"] and data["request"]["description"] == "where is my card?"
        assert data["conversation"]["conversation_id"] == customer.conversation_id
        assert data["conversation"]["details"]["description"] == "new card never came"
        assert data["conversation"]["reason"] == "requested"
        texts = [(m["kind"], m["text"]) for m in data["messages"]]
        assert ("customer", "my card hasn't arrived") in texts and any(kind == "bot" for kind, _ in texts)

        # Ann answers on bridge B; Bob, on bridge A, sees it answered; nobody can answer it again.
        await ann.send("answer_request", {"request_id": request["id"], "text": "Your card was posted on Monday."},
                       id="answer")
        ack = await ann.acknowledged("answer")
        assert ack["data"]["state"] == "answered" and ack["data"]["message_id"]
        await ann.send("answer_request", {"request_id": request["id"], "text": "Your card was posted on Monday."},
                       id="answer")  # resent: the same answer
        assert (await ann.acknowledged("answer"))["data"]["message_id"] == ack["data"]["message_id"]
        seen_by_bob = await _requests_until(bob, customer.conversation_id, "answered")
        assert seen_by_bob["handled_by"] == "ann" and seen_by_bob["answer_id"] == ack["data"]["message_id"]
        await bob.send("answer_request", {"request_id": request["id"], "text": "Me too"}, id="bob-answer")
        assert (await bob.expect("error"))["data"]["code"] == "invalid_transition"
        await bob.send("request_done", {"request_id": request["id"]}, id="bob-done")
        assert (await bob.expect("error"))["data"]["code"] == "invalid_transition"

        # The customer comes back: the answer is in the conversation, and the request says answered.
        back = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        status = (await back.expect("status"))["data"]
        assert status["request"]["state"] == "answered", status
        answers = back.messages("agent")
        assert [(m["data"]["text"], m["data"]["data"]["agent"]) for m in answers] == [
            ("Your card was posted on Monday.", "Ann")]  # the display name, never the login name

        # A callback is marked done by Bob; Ann sees it, and cannot mark or answer it any more.
        await back.send("leave", {"kind": "callback", "contact": "+44 20 7946 0000"}, id="callback")
        await back.acknowledged("callback")
        callback = (await _requests_until(bob, customer.conversation_id, "open"))
        await bob.send("request_done", {"request_id": callback["id"]}, id="done")
        assert (await bob.acknowledged("done"))["data"] == {"request_id": callback["id"], "state": "done"}
        await bob.send("request_done", {"request_id": callback["id"]}, id="done-again")
        assert (await bob.acknowledged("done-again"))["data"]["state"] == "done"
        assert (await _requests_until(ann, customer.conversation_id, "done"))["handled_by"] == "bob"
        await ann.send("answer_request", {"request_id": callback["id"], "text": "hello"}, id="late")
        assert (await ann.expect("error"))["data"]["code"] == "invalid_transition"
        done = await back.next_matching(lambda e: e["type"] == "status" and (e["data"].get("request") or {}).get(
            "state") == "done", "the callback done in the customer's status", 10)
        assert {**done["data"]["request"], "handled_ts": 0} == {
            "id": callback["id"], "kind": "callback", "state": "done", "ts": callback["ts"], "handled_ts": 0}, done

        for bad in ({}, {"request_id": "nope"}, {"request_id": 5}):
            await ann.send("request_done", bad, id="bad")
            assert (await ann.expect("error"))["data"]["code"] == "malformed"
        await ann.send("open_request", {"request_id": "1-1"}, id="missing")
        assert (await ann.expect("error"))["data"]["code"] == "not_found"
        for client in (back, ann, bob):
            await client.close()

    asyncio.run(scenario())


def test_a_callback_booked_with_the_bot_reaches_the_agents_as_a_request(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        await customer.say("my card was declined in a shop today")
        await customer.expect("message", kind="bot")
        for text in ("can you call me back", "07700 900123", "tomorrow after 5pm"):
            key = (await customer.say(text)).id
            await customer.acknowledged(key)  # acknowledged once the bot's answer is sent (docs/bridge-protocol.md)
        await customer.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "bot" and str(
            e["data"]["text"]).startswith("Thanks. We'll call you on 07700900123"), "the callback booked", 30)
        status = await customer.next_matching(
            lambda e: e["type"] == "status" and "request" in e["data"], "a status with the request", 10)
        assert status["data"]["state"] == "bot" and status["data"]["request"]["kind"] == "callback"

        agent = await staff(bridge, "ann")
        mine = _mine((await agent.expect("requests"))["data"]["items"], customer.conversation_id)
        assert len(mine) == 1, mine
        request = mine[0]
        assert (request["kind"], request["contact"], request["contact_kind"], request["preferred_time"],
                request["booked_with"], request["state"]) == (
            "callback", "07700900123", "phone", "tomorrow after 5pm", "bot", "open")
        assert "handoff" not in request, "the list stays small: the bot's payload comes with open_request"
        await agent.send("open_request", {"request_id": request["id"]}, id="open")
        opened = (await agent.next_matching(lambda e: e["id"] == "open", "the opened request", 10))["data"]
        assert opened["conversation"]["reason"] == "callback"
        assert opened["conversation"]["handoff"]["callback"]["phone"] == "07700900123"
        assert opened["conversation"]["handoff"]["summary"]
        for client in (customer, agent):
            await client.close()

    asyncio.run(scenario())


def test_the_customer_cancels_their_request_and_nobody_calls_it_back(bridge):
    """Issue 13: a callback or message left can be taken back, only from its own conversation; it is no longer
    open (the agents' lists say cancelled, nobody may take, answer or settle it) and another may be left."""
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        await customer.send("leave", {"kind": "callback", "contact": "07700 900123"}, id="leave")
        await customer.acknowledged("leave")
        request_id = (await customer.next_matching(
            lambda e: e["type"] == "status" and e["data"].get("request", {}).get("state") == "open",
            "the open request", 10))["data"]["request"]["id"]
        agent = await staff(bridge, "ann")
        await agent.send("assign_request", {"request_id": request_id}, id="take")
        await agent.acknowledged("take")

        stranger = await Customer.connect(bridge)
        for number, data in enumerate([{"request_id": request_id}, {"request_id": "not an id"}, {}]):
            await stranger.send("cancel_request", data, id=f"bad{number}")
            error = await stranger.expect("error")
            assert (error["id"], error["data"]["code"]) == (f"bad{number}", "not_found" if number == 0 else "malformed")

        for attempt in ("cancel-1", "cancel-1", "cancel-2"):  # resent, and pressed twice: the same answer
            await customer.send("cancel_request", {"request_id": request_id}, id=attempt)
            await customer.acknowledged(attempt)
        status = (await customer.next_matching(
            lambda e: e["type"] == "status" and e["data"].get("request", {}).get("state") == "cancelled",
            "the cancelled request", 10))["data"]
        assert status["request"]["id"] == request_id and status["request"]["handled_ts"] > 0
        assert "agent" not in status["request"], "nobody looks after it any more"
        item = await _requests_until(agent, customer.conversation_id, "cancelled")
        assert item["handled_by"] == "customer"
        for command, data in (("request_done", {}), ("answer_request", {"text": "Calling you now"}),
                              ("assign_request", {})):
            await agent.send(command, {"request_id": request_id, **data}, id=command)
            error = await agent.next_matching(lambda e: e["type"] == "error" and e["id"] == command, command, 10)
            assert error["data"]["code"] == "invalid_transition", error
        await customer.close()

        again = await Customer.connect(bridge, conversation_id=customer.conversation_id, token=customer.token)
        assert (await again.expect("status"))["data"]["request"]["state"] == "cancelled", "also after a reload"
        await again.send("leave", {"kind": "message", "contact": "ann@example.com"}, id="another")
        await again.acknowledged("another")  # no longer open: another may be left
        for client in (again, stranger, agent):
            await client.close()

    asyncio.run(scenario())
