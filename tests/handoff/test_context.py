"""Context travels with every handoff: whatever starts it, the agent gets the bot's summary of what was
asked and answered since the last handoff (docs/handoff-payload.md), through the real bridge, Rasa,
action server and Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Dict, List

import pytest

from handoff_client import Agent, Customer, message_order
from harness.chats import QUESTIONS
from harness.clients import queued_customer, staff
from harness.files import image
from harness.servers import add_agent, delete_prefixed_keys, running_bridge
from tests.handoff.test_attachments import as_customer, upload


BUTTON_TURN = 'Pressed "Talk to a person"'
# Never in a payload: Rasa's and the bridge's own bookkeeping.
INTERNAL = ("message_id", "retry", "earlier_turns", "session_started_metadata", "handoff_source")


async def ask(customer: Customer, text: str) -> str:
    """Says ``text`` to the bot; its first answer's text."""
    key = (await customer.say(text)).id
    said = (await customer.acknowledged(key))["data"]["message_id"]
    while True:
        reply = await customer.expect("message", kind="bot")
        if message_order(reply["id"]) > message_order(said):
            return reply["data"]["text"]


async def press_button(customer: Customer, request_id: str) -> None:
    await customer.send("talk_to_person", id=request_id)
    await customer.acknowledged(request_id)
    await customer.expect("status", state="queued")


async def claim(agent: Agent, conversation_id: str) -> Dict[str, Any]:
    """The agent claims the conversation; what their console is sent about it."""
    await agent.send("claim", {"conversation_id": conversation_id}, id=f"claim-{conversation_id}")
    await agent.acknowledged(f"claim-{conversation_id}")
    return (await agent.expect("conversation", conversation_id=conversation_id))["data"]


async def let_go(agent: Agent, action: str, conversation_id: str) -> None:
    """hand_back or close."""
    await agent.send(action, {"conversation_id": conversation_id}, id=f"{action}-{conversation_id}")
    await agent.acknowledged(f"{action}-{conversation_id}")


def preview(reply: str) -> str:
    """A bot reply as a payload's turn carries it: 300 characters at most, a cut marked."""
    return reply if len(reply) <= 300 else reply[:299].rstrip() + "…"


def texts(handoff: Dict[str, Any]) -> List[str]:
    return [turn["text"] for turn in handoff["turns"]]


def assert_complete(handoff: Dict[str, Any], asked: Dict[str, str]) -> None:
    """``asked``: each question (topic -> wording) and the bot's answer to it, in order."""
    questions = [turn for turn in handoff["turns"] if turn.get("topic")]
    assert [(turn["text"], turn["intent"], turn["topic"]) for turn in questions] == \
        [(QUESTIONS[topic][0], "faq", topic) for topic in asked]
    assert all(0.4 <= turn["confidence"] <= 1 for turn in questions), "intents with their confidence"
    assert [turn["bot_reply"] for turn in questions] == [preview(answer) for answer in asked.values()]
    assert handoff["topics"] == list(asked) and handoff["topic"] == list(asked)[-1]
    summary = handoff["summary"]
    assert "No support topic" not in summary
    for topic in asked:
        assert f'asked "{QUESTIONS[topic][0]}"' in summary, summary
        assert topic.replace("_", " ") in summary
    assert summary.count("the bot answered") == len(asked), summary
    assert handoff["slots"] == {}
    assert not any(name in json.dumps(handoff) for name in INTERNAL), handoff


def test_the_button_hands_over_the_bots_summary_and_so_does_a_second_handoff_after_hand_back(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        agent = await staff(bridge, "ann")
        conversation_id = customer.conversation_id
        card = await ask(customer, QUESTIONS["card_not_working"][0])
        top_up = await ask(customer, QUESTIONS["top_up"][0])
        await press_button(customer, "talk-1")
        await customer.next_matching(lambda envelope: envelope["type"] == "message"
                                     and envelope["data"]["text"].startswith("I've put you in the queue"),
                                     "the bot saying who is coming", 30)

        opened = await claim(agent, conversation_id)
        handoff = opened["handoff"]
        assert opened["reason"] == handoff["reason"] == "requested" and handoff["source"] == "button"
        assert handoff["summary"].startswith(f'The customer asked "{QUESTIONS["card_not_working"][0]}"'), \
            "what the customer asked first"
        assert 'Handed over because the customer asked for a person (they pressed "Talk to a person").' \
            in handoff["summary"]
        assert "2 customer messages." in handoff["summary"], "the button press is not counted as a message"
        assert_complete(handoff, {"card_not_working": card, "top_up": top_up})
        assert texts(handoff)[-1] == BUTTON_TURN
        assert handoff["evidence"]["explanation"] == "the customer asked for a person"

        await let_go(agent, "hand_back", conversation_id)
        await customer.expect("status", state="bot")
        fees = await ask(customer, QUESTIONS["fees"][0])
        await press_button(customer, "talk-2")
        second = (await claim(agent, conversation_id))["handoff"]
        assert texts(second) == [QUESTIONS["fees"][0], BUTTON_TURN], "only what happened since the last handoff"
        assert_complete(second, {"fees": fees})
        await let_go(agent, "close", conversation_id)
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_a_stuck_conversation_hands_over_the_same_complete_payload(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        agent = await staff(bridge, "ann")
        refund = await ask(customer, QUESTIONS["refund_not_showing"][0])
        await customer.say("no")  # to "did that answer your question?": unresolved
        await customer.expect("status", state="queued")
        opened = await claim(agent, customer.conversation_id)
        handoff = opened["handoff"]
        assert opened["reason"] == handoff["reason"] == "unresolved" and handoff["source"] == "conversation"
        assert_complete(handoff, {"refund_not_showing": refund})
        assert texts(handoff) == [QUESTIONS["refund_not_showing"][0], "no"]
        await let_go(agent, "close", customer.conversation_id)
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_after_a_close_the_customer_who_writes_again_and_asks_for_a_person_brings_the_new_context(bridge):
    """The closed chat refuses what comes next (it stays as it ended); the new conversation that takes it hands
    over its own context, none of the closed one's."""
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        agent = await staff(bridge, "ann")
        conversation_id = customer.conversation_id
        lost = await ask(customer, QUESTIONS["lost_or_stolen_card"][0])
        await customer.say("I want to talk to a person")
        await customer.expect("status", state="queued")
        first = (await claim(agent, conversation_id))["handoff"]
        assert first["source"] == "conversation"
        assert_complete(first, {"lost_or_stolen_card": lost})

        await let_go(agent, "close", conversation_id)
        await customer.expect("status", state="closed")
        refused = await customer.say(QUESTIONS["exchange_rate"][0])
        await customer.next_matching(lambda envelope: envelope["type"] == "error" and envelope["id"] == refused.id,
                                     "the closed chat's refusal")
        assert refused.refused == "conversation_closed"
        await customer.close()

        customer = await Customer.connect(bridge)  # writing again: a new conversation, with the bot
        rate = await ask(customer, QUESTIONS["exchange_rate"][0])
        await press_button(customer, "talk-after-close")
        second = (await claim(agent, customer.conversation_id))["handoff"]
        assert texts(second) == [QUESTIONS["exchange_rate"][0], BUTTON_TURN]
        assert_complete(second, {"exchange_rate": rate})
        await let_go(agent, "close", customer.conversation_id)
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_the_payload_survives_transfers_to_a_colleague_and_to_a_group_and_a_requeue(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        ann, bob = await staff(bridge, "ann"), await staff(bridge, "bob")
        conversation_id = customer.conversation_id
        card = await ask(customer, QUESTIONS["card_arrival"][0])
        await press_button(customer, "talk")
        first = await claim(ann, conversation_id)
        handoff = first["handoff"]
        assert_complete(handoff, {"card_arrival": card})
        assert first["transferred_by"] is None

        await ann.send("transfer", {"conversation_id": conversation_id, "to_agent": "bob"}, id="to-bob")
        await ann.acknowledged("to-bob")
        at_bob = await bob.expect("conversation", conversation_id=conversation_id)
        assert at_bob["data"]["handoff"] == handoff and at_bob["data"]["reason"] == "requested"
        assert at_bob["data"]["transferred_by"] == "ann", "the receiving agent is told who sent it"

        ann.received.clear()  # the queue as it was before
        await bob.send("transfer", {"conversation_id": conversation_id, "to_group": "general"}, id="to-general")
        await bob.acknowledged("to-general")
        item = await ann.queue_item(conversation_id)
        assert (item["summary"], item["topic"], item["reason"]) == (handoff["summary"], "card_arrival", "requested")
        claimed = await claim(bob, conversation_id)
        assert claimed["handoff"] == handoff and claimed["transferred_by"] == "bob", "kept once claimed"

        ann.received.clear()
        await bob.close()  # and stays away past the grace period: back to the front of the queue
        await customer.expect("message", kind="system", data={"notice": "agent_lost"})
        item = await ann.queue_item(conversation_id)
        assert (item["summary"], item["topic"], item["reason"]) == (handoff["summary"], "card_arrival", "requested")
        assert (await claim(ann, conversation_id))["handoff"] == handoff
        await let_go(ann, "close", conversation_id)
        for client in (ann, customer):
            await client.close()

    asyncio.run(scenario())


async def said_to(agent: Agent, customer: Customer, text: str) -> None:
    """The customer writes ``text`` to the agent serving them; the agent has it."""
    await customer.say(text)
    await agent.next_matching(lambda envelope: envelope["type"] == "message"
                              and envelope["data"].get("text") == text, "the customer's message", 10)


def test_a_transfer_hands_the_next_agent_what_the_customer_wrote_to_the_first(bridge):
    """Found by a new agent: the customer pressed the button at once, told Bob their problem, Bob
    transferred to a group, and Demo read "No support topic was recognised. 0 customer message(s)"."""
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        bob = await staff(bridge, "bob")
        conversation_id = customer.conversation_id
        await press_button(customer, "talk")
        first = (await claim(bob, conversation_id))["handoff"]
        ann = await staff(bridge, "ann")  # her queue shows the conversation first when it is transferred
        assert first["topics"] == [] and "0 customer messages" in first["summary"]
        twice = QUESTIONS["charged_twice"][0]
        await said_to(bob, customer, twice)

        await bob.send("transfer", {"conversation_id": conversation_id, "to_group": "general"}, id="to-general")
        await bob.acknowledged("to-general")
        item = await ann.queue_item(conversation_id)
        handoff = (await claim(ann, conversation_id))["handoff"]
        assert item["summary"] == handoff["summary"] and item["topic"] == "charged_twice"
        assert handoff["reason"] == "requested" and handoff["source"] == "transfer"
        assert handoff["topics"] == ["charged_twice"] and handoff["topic"] == "charged_twice"
        assert [(turn["text"], turn["intent"], turn.get("topic")) for turn in handoff["turns"]] == \
            [(BUTTON_TURN, "request_human", None), (twice, "faq", "charged_twice")]
        assert 0.4 <= handoff["turns"][-1]["confidence"] <= 1 and "bot_reply" not in handoff["turns"][-1]
        summary = handoff["summary"]
        assert summary.startswith(f'The customer wrote to the team: "{twice}".'), summary
        assert ('Handed over because the customer asked for a person (they pressed "Talk to a person"; '
                "an agent then transferred the chat).") in summary, summary
        assert "Topics asked about: charged twice." in summary and "1 customer message." in summary
        assert not any(name in json.dumps(handoff) for name in INTERNAL), handoff

        fees = QUESTIONS["fees"][0]
        await said_to(ann, customer, fees)
        await ann.send("transfer", {"conversation_id": conversation_id, "to_agent": "bob"}, id="to-bob")
        await ann.acknowledged("to-bob")
        at_bob = (await bob.expect("conversation", conversation_id=conversation_id))["data"]["handoff"]
        assert at_bob["topics"] == ["charged_twice", "fees"], "everything since the handoff, the latest last"
        assert [turn["text"] for turn in at_bob["turns"]] == [BUTTON_TURN, twice, fees]
        assert f'customer wrote to the team: "{twice}"; "{fees}".' in at_bob["summary"]
        assert "2 customer messages." in at_bob["summary"]
        await let_go(bob, "close", conversation_id)
        for client in (ann, bob, customer):
            await client.close()

    asyncio.run(scenario())


async def request_of(agent: Agent, conversation_id: str) -> Dict[str, Any]:
    """The request this conversation left, from the next requests list that has it, opened: with
    the handoff payload it stands for (the list carries only its summary)."""
    while True:
        for item in (await agent.expect("requests"))["data"]["items"]:
            if item["conversation"] == conversation_id:
                await agent.send("open_request", {"request_id": item["id"]}, id=f"open-{item['id']}")
                opened = await agent.next_matching(lambda e: e["id"] == f"open-{item['id']}", "the opened request", 10)
                handoff = opened["data"]["conversation"]["handoff"]
                assert item["summary"] == handoff["summary"], "the list shows the summary of the request's payload"
                return {**item, "handoff": handoff}


def test_a_request_left_instead_of_waiting_keeps_the_context_for_the_agents(bridge):
    async def scenario() -> None:
        agent = await staff(bridge, "ann")
        waiting = await Customer.connect(bridge)
        charged = await ask(waiting, QUESTIONS["charged_twice"][0])
        await press_button(waiting, "talk")
        queued = (await agent.queue_item(waiting.conversation_id))
        await waiting.send("leave", {"kind": "message", "contact": "alex@example.com",
                                     "description": "charged twice"}, id="leave")
        await waiting.acknowledged("leave")
        left = await request_of(agent, waiting.conversation_id)
        assert left["handoff"]["summary"].startswith(queued["summary"].split(" Handed over because")[0])
        assert left["handoff"]["source"] == "message"
        assert 'Then the customer wrote to the team: "charged twice".' in left["handoff"]["summary"], \
            "the message left is the customer's too"
        assert ('(they pressed "Talk to a person"; they left a message for the team)'
                in left["handoff"]["summary"])
        assert "2 customer messages." in left["handoff"]["summary"]
        assert texts(left["handoff"])[-1] == "charged twice"

        # Left straight from the chat with the bot (the protocol allows it): the bot is asked for its summary.
        chatting = await Customer.connect(bridge)
        fees = await ask(chatting, QUESTIONS["fees"][1])
        await chatting.send("leave", {"kind": "callback", "contact": "07700 900123",
                                      "preferred_time": "after 5pm"}, id="leave")
        await chatting.acknowledged("leave")
        left = await request_of(agent, chatting.conversation_id)
        handoff = left["handoff"]
        assert handoff["source"] == "callback" and handoff["reason"] == "requested"
        assert "Handed over because the customer asked for a person (they left a request to be called back)." \
            in handoff["summary"], "never queued: not \"instead of waiting\""
        assert [turn["text"] for turn in handoff["turns"] if turn.get("topic")] == [QUESTIONS["fees"][1]]
        assert handoff["turns"][0]["bot_reply"] == preview(fees)
        await chatting.expect("message", kind="system", data={"notice": "request_stored"})
        assert [m["data"]["text"] for m in chatting.messages("bot")][-1] == "Did that answer your question?", \
            "the bot says nothing of a person coming: the request is stored"

        # Found by a new agent: a message left said "0 customer message(s)" beside the customer's own words.
        writing = await Customer.connect(bridge)
        await writing.send("leave", {"kind": "message", "contact": "jo@example.com",
                                     "description": QUESTIONS["fees"][0]}, id="leave")
        await writing.acknowledged("leave")
        handoff = (await request_of(agent, writing.conversation_id))["handoff"]
        assert handoff["source"] == "message" and handoff["topics"] == ["fees"]
        assert [(turn["text"], turn["topic"]) for turn in handoff["turns"]] == [(QUESTIONS["fees"][0], "fees")]
        assert f'customer wrote to the team: "{QUESTIONS["fees"][0]}".' in handoff["summary"]
        assert "1 customer message." in handoff["summary"] and "Topics asked about: fees." in handoff["summary"]
        for client in (agent, waiting, chatting, writing):
            await client.close()

    asyncio.run(scenario())


def test_a_message_left_after_the_queue_refused_the_handoff_stands_for_that_handoff(redis_url, rasa_url):
    """Found by a new agent: the queue refused "can I talk to a person about my mortgage overpayment";
    the message left instead said "0 customer message(s)" beside it in the transcript."""
    prefix = f"hbrefused{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")

    async def scenario(address: str) -> None:
        agent = await staff(address, "ann")
        customer = await Customer.connect(address)
        fees = await ask(customer, QUESTIONS["fees"][0])
        asked = "can I talk to a person about my mortgage overpayment"
        await customer.say(asked)
        await customer.next_matching(lambda envelope: envelope["type"] == "message"
                                     and envelope["data"]["data"].get("notice") == "queue_refused", "the refusal", 30)
        await customer.send("leave", {"kind": "message", "contact": "jo@example.com",
                                      "description": QUESTIONS["charged_twice"][0]}, id="leave")
        await customer.acknowledged("leave")
        handoff = (await request_of(agent, customer.conversation_id))["handoff"]
        assert texts(handoff) == [QUESTIONS["fees"][0], asked, QUESTIONS["charged_twice"][0]], handoff["turns"]
        assert handoff["turns"][0]["bot_reply"] == preview(fees)
        assert handoff["topics"] == ["fees", "charged_twice"] and handoff["source"] == "message"
        summary = handoff["summary"]
        assert "3 customer messages." in summary, summary
        assert f'customer wrote to the team: "{QUESTIONS["charged_twice"][0]}".' in summary
        assert "(they left a message for the team)" in summary
        await agent.close()
        await customer.close()

    try:
        with running_bridge(redis_url, rasa_url, "bridge-refused", prefix, HANDOFF_MAX_QUEUE_LENGTH="0") as address:
            asyncio.run(scenario(address))
    finally:
        delete_prefixed_keys(redis_url, prefix)


@pytest.mark.parametrize("asks", ["button", "words"])
def test_a_handoff_after_the_queue_refused_the_bots_brings_what_came_before_it(redis_url, rasa_url, asks):
    """The agent trial (issue 13): "this is useless" was handed over and refused (the queue full); the customer
    asked something else and pressed the button, and the card told only the last question. The refused handoff
    reached nobody: its turns come first, whether the customer then presses the button or asks in words."""
    prefix = f"hbref{asks}{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")

    async def scenario(address: str) -> None:
        agent = await staff(address, "ann")
        ahead = await Customer.connect(address)  # fills the queue of one
        await press_button(ahead, "ahead")
        customer = await Customer.connect(address)
        asked = "can I talk to a person about my mortgage overpayment"
        await customer.say(asked)
        await customer.next_matching(lambda envelope: envelope["type"] == "message"
                                     and envelope["data"]["data"].get("notice") == "queue_refused", "the refusal", 30)
        await ahead.acknowledged(await ahead.leave_queue())
        await ask(customer, QUESTIONS["fees"][0])
        if asks == "button":
            await press_button(customer, "button")
        else:
            await customer.say("I'd like to talk to a real person")
            await customer.expect("status", state="queued")
        handoff = (await claim(agent, customer.conversation_id))["handoff"]
        last = BUTTON_TURN if asks == "button" else "I'd like to talk to a real person"
        assert texts(handoff) == [asked, QUESTIONS["fees"][0], last], handoff["turns"]
        assert handoff["topics"][-1] == "fees"
        assert handoff["source"] == ("button" if asks == "button" else "conversation")
        typed = 2 if asks == "button" else 3
        assert f"{typed} customer messages." in handoff["summary"], handoff["summary"]
        for client in (agent, ahead, customer):
            await client.close()

    try:
        with running_bridge(redis_url, rasa_url, f"bridge-refused-{asks}", prefix,
                            HANDOFF_MAX_QUEUE_LENGTH="1") as address:
            asyncio.run(scenario(address))
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_a_callback_booked_with_the_bot_reaches_the_agents_requests_with_its_context(bridge):
    async def scenario() -> None:
        agent = await staff(bridge, "ann")
        customer = await Customer.connect(bridge)
        card = await ask(customer, QUESTIONS["card_swallowed"][0])
        await ask(customer, "can you call me back")
        await ask(customer, "07700 900123")
        booked = await ask(customer, "after 5pm")
        assert booked.startswith("Thanks. We'll call you on 07700900123 (after 5pm).")
        left = await request_of(agent, customer.conversation_id)
        assert (left["kind"], left["contact"], left["preferred_time"]) == ("callback", "07700900123", "after 5pm")
        handoff = left["handoff"]
        assert handoff["reason"] == "callback" and handoff["callback"] == {"phone": "07700900123",
                                                                             "preferred_time": "after 5pm"}
        assert "Handed over because the customer asked to be called back." in handoff["summary"]
        assert handoff["topics"][0] == "card_swallowed" and handoff["turns"][0]["bot_reply"] == preview(card)
        assert handoff["slots"] == {"callback_phone": "07700900123", "callback_time": "after 5pm"}
        assert (await customer.expect("status"))["data"]["state"] == "bot", "nobody joins: a person will phone"
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_with_rasa_down_the_button_still_queues_with_the_bridges_one_line_summary(bridge, rasa_server):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        agent = await staff(bridge, "ann")
        await ask(customer, QUESTIONS["top_up"][1])
        await asyncio.to_thread(rasa_server.stop)
        try:
            await press_button(customer, "talk")
            opened = await claim(agent, customer.conversation_id)
        finally:
            await asyncio.to_thread(rasa_server.start)
        handoff = opened["handoff"]
        assert opened["reason"] == "requested"
        assert handoff["source"] == "button" and handoff["turns"] == [] and handoff["topics"] == []
        assert handoff["summary"] == ('The customer pressed "Talk to a person". The assistant did not answer, '
                                      "so there is no summary: read the transcript.")
        await let_go(agent, "close", customer.conversation_id)
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_with_rasa_down_a_transfer_keeps_the_payload_it_had(bridge, rasa_server):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        ann, bob = await staff(bridge, "ann"), await staff(bridge, "bob")
        await press_button(customer, "talk")
        first = (await claim(ann, customer.conversation_id))["handoff"]
        await said_to(ann, customer, QUESTIONS["charged_twice"][0])
        await asyncio.to_thread(rasa_server.stop)
        try:
            await ann.send("transfer", {"conversation_id": customer.conversation_id, "to_agent": "bob"}, id="to-bob")
            await ann.acknowledged("to-bob")
            at_bob = await bob.expect("conversation", conversation_id=customer.conversation_id)
        finally:
            await asyncio.to_thread(rasa_server.start)
        assert at_bob["data"]["handoff"] == first, "the transfer still happens, with what the first agent saw"
        await let_go(bob, "close", customer.conversation_id)
        for client in (ann, bob, customer):
            await client.close()

    asyncio.run(scenario())


def test_the_queue_card_carries_the_customers_latest_message_live_while_they_wait(bridge):
    """A customer's words while queued ("sorry, cat walked on keyboard…") reach the agent's queue at
    once, in place of what they said before the handoff; a pressed button is not a message."""
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        agent = await staff(bridge, "ann")
        await ask(customer, QUESTIONS["refund_not_showing"][0])
        await customer.say("no")  # unresolved: queued
        await customer.expect("status", state="queued")
        item = await agent.queue_item(customer.conversation_id)
        assert item["last_message"]["text"] == "no"
        later = "sorry, cat walked on keyboard. I just want to know how to top up by apple pay"
        await customer.acknowledged((await customer.say(later)).id)
        while (item := await agent.queue_item(customer.conversation_id))["last_message"]["text"] != later:
            pass
        assert item["last_message"]["ts"] > 0 and item["summary"], "the bot's summary stays beside it"
        await claim(agent, customer.conversation_id)
        await let_go(agent, "close", customer.conversation_id)
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_the_joined_and_closed_notices_name_the_agent_by_display_name_never_the_login(bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "ann2x", "--display-name", "Annie")

    async def scenario() -> None:
        customer = await queued_customer(bridge)
        agent = await staff(bridge, "ann2x")
        await claim(agent, customer.conversation_id)
        joined = await customer.next_matching(
            lambda envelope: (envelope["data"].get("data") or {}).get("notice") == "agent_joined", "joined", 30)
        assert joined["data"]["data"] == {"notice": "agent_joined", "agent": "Annie"}
        assert joined["data"]["text"] == "Annie from our support team has joined the chat."
        await let_go(agent, "close", customer.conversation_id)
        closed = await customer.next_matching(
            lambda envelope: (envelope["data"].get("data") or {}).get("notice") == "closed", "the closed notice", 30)
        assert closed["data"]["data"] == {"notice": "closed", "agent": "Annie"}
        assert closed["data"]["text"] == "Annie has closed this chat."
        assert "ann2x" not in json.dumps(customer.received)
        await agent.close()
        await customer.close()

    asyncio.run(scenario())


def test_a_file_the_customer_sent_an_agent_is_not_what_they_wrote_for_the_next_one(bridge):
    """A file's message text is its name: a transfer never sends it to Rasa as the customer's words."""
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        bob = await staff(bridge, "bob")
        conversation_id = customer.conversation_id
        await press_button(customer, "talk")
        await claim(bob, conversation_id)
        ann = await staff(bridge, "ann")
        twice = QUESTIONS["charged_twice"][0]
        await said_to(bob, customer, twice)
        sent = upload(bridge, conversation_id, image("JPEG"), as_customer(customer), "Jane Doe passport.jpg",
                      client_id="passport")
        assert sent.status_code == 201, sent.text
        await bob.next_matching(lambda envelope: envelope["type"] == "message"
                                and envelope["data"].get("text") == "Jane Doe passport.jpg", "the file", 10)
        await bob.send("transfer", {"conversation_id": conversation_id, "to_agent": "ann"}, id="to-ann")
        await bob.acknowledged("to-ann")
        handoff = (await ann.expect("conversation", conversation_id=conversation_id))["data"]["handoff"]
        assert texts(handoff) == [BUTTON_TURN, twice], handoff
        assert "passport" not in json.dumps(handoff) and "1 customer message." in handoff["summary"]
        await let_go(ann, "close", conversation_id)
        for client in (ann, bob, customer):
            await client.close()

    asyncio.run(scenario())
