"""What a customer's socket may carry: the bot's text and buttons, an agent's name, a notice; never the
handoff payload (why they were handed over, the summary, intents and confidences) that agents read.
Through the real bridge, Rasa, action server and Redis, live and on resume."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

from handoff_client import Customer
from harness.chats import QUESTIONS
from harness.clients import staff

from tests.handoff.test_context import ask, claim, let_go, press_button

ALLOWED = {"bot": {"buttons", "image"}, "agent": {"agent", "request"}, "system": {"notice", "offer", "agent"},
           "customer": {"payload"}}


def leaks(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Messages carrying more than the customer's allow-list, or anything of a handoff payload."""
    return [message for message in messages
            if set(message["data"]["data"]) - ALLOWED[message["data"]["kind"]]
            or any(word in json.dumps(message["data"]["data"]) for word in ("custom", "handoff", "summary", "confidence"))]


def test_the_customer_never_receives_the_handoff_payload_live_or_on_resume(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        agent = await staff(bridge, "ann")
        conversation_id = customer.conversation_id
        await ask(customer, QUESTIONS["card_not_working"][0])
        await press_button(customer, "talk-private")
        await customer.next_matching(lambda envelope: envelope["type"] == "message"
                                     and envelope["data"]["text"].startswith("I've put you in the queue"),
                                     "the bot saying who is coming", 30)
        opened = await claim(agent, conversation_id)
        assert opened["handoff"]["summary"], "agents still get the payload"
        await customer.expect("status", state="agent")
        live = customer.messages()
        assert live and not leaks(live), leaks(live)

        resumed = await Customer.connect(bridge, conversation_id=conversation_id, token=customer.token)
        await resumed.expect("status", state="agent")
        history = resumed.messages()
        assert not leaks(history), leaks(history)
        carrier = [message for message in history if message["data"]["kind"] == "bot" and not message["data"]["text"]]
        assert carrier and all(message["data"]["data"] == {} for message in carrier), "the payload's message, emptied"
        await agent.next_matching(lambda envelope: envelope["type"] == "message"
                                  and "handoff" in json.dumps(envelope["data"]["data"]),
                                  "the payload in the agent's copy of the transcript", 10)
        await let_go(agent, "close", conversation_id)
        for client in (agent, customer, resumed):
            await client.close()

    asyncio.run(scenario())

