"""A closed chat stays closed, through a real bridge (docs/bridge-protocol.md "State and Redis"): whatever client
writes to it is refused with ``conversation_closed`` and nothing of how it ended changes; the client library
(the terminal's) sends what was refused again in a new conversation, as the widget does."""

from __future__ import annotations

import asyncio
from typing import List, Optional

import redis as redis_sync

from handoff_client import Customer
from harness.clients import claimed
from harness.files import image
from tests.handoff.test_attachments import as_customer, error_code, upload

# The closed conversation's fields that say how it ended (handoff.store); "version" moves with any change of state.
HOW_IT_ENDED = ["state", "agent", "version", "rated", "disposition", "rating", "closed_at"]


def test_a_closed_chat_refuses_the_customers_next_words_and_a_new_conversation_takes_them(bridge, redis_url,
                                                                                            bridge_prefix):
    store = redis_sync.Redis.from_url(redis_url)

    def how_it_ended(conversation_id: str) -> List[Optional[bytes]]:
        return store.hmget(f"{bridge_prefix}:conv:{conversation_id}", HOW_IT_ENDED)

    async def scenario() -> None:
        customer, ann = await claimed(bridge)
        closed = customer.conversation_id
        await customer.send("message", {"text": "thanks, that was it"}, id="before")
        taken = (await customer.acknowledged("before"))["data"]["message_id"]
        await ann.send("close", {"conversation_id": closed, "disposition": "resolved"}, id="close")
        await ann.acknowledged("close")
        await ann.close()
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 5, "comment": "quick"}, id="rate")
        await customer.acknowledged("rate")
        ended = how_it_ended(closed)
        assert ended[:2] == [b"closed", b"ann"] and ended[4] == b"resolved" and ended[5], ended
        transcript = store.xlen(f"{bridge_prefix}:log:{closed}")

        # A pressed button too: closed is what the customer is told, before whether the bot offered it.
        for kind, data in (("message", {"text": "one more thing"}), ("talk_to_person", {}),
                           ("message", {"text": "Yes", "payload": "/affirm"})):
            kind_id = kind + data.get("payload", "")
            await customer.send(kind, data, id=kind_id)
            refused = await customer.next_matching(lambda envelope: envelope["type"] == "error"
                                                   and envelope["id"] == kind_id, f"the refusal of {kind_id}")
            assert refused["data"]["code"] == "conversation_closed", refused
            assert "start a new conversation" in refused["data"]["message"]
        # A message it took before the close is still acknowledged as it was (a resend after a drop).
        await customer.send("message", {"text": "thanks, that was it"}, id="before")
        assert (await customer.acknowledged("before"))["data"]["message_id"] == taken
        sent = await asyncio.to_thread(upload, bridge, closed, image("PNG", 32, 32), as_customer(customer))
        assert (sent.status_code, error_code(sent)) == (409, "conversation_closed"), sent.text
        await customer.close()
        # Nothing of how it ended changed: the state, who closed it, the disposition, the rating, the transcript.
        assert how_it_ended(closed) == ended
        assert store.xlen(f"{bridge_prefix}:log:{closed}") == transcript

        # The client library (the terminal's), reconnecting: what was refused goes to a new conversation.
        again = Customer(bridge, conversation_id=closed, token=customer.token, reconnect=True)
        await again.start()
        asked = await again.say("one more thing")
        acked = await again.acknowledged(asked)
        assert asked.errors == ["conversation_closed"]
        assert again.conversation_id and again.conversation_id != closed
        stored = store.xrange(f"{bridge_prefix}:log:{again.conversation_id}")
        assert [fields[b"text"] for entry, fields in stored
                if entry.decode() == acked["data"]["message_id"]] == [b"one more thing"]
        await again.close()
        assert how_it_ended(closed) == ended
        assert store.xlen(f"{bridge_prefix}:log:{closed}") == transcript

    asyncio.run(scenario())
    store.close()
