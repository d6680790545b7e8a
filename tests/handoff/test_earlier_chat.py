"""The chat a customer had before (handoff.earlier), through a real bridge: a new conversation whose hello names
the closed one with its token is linked to it, and its agent sees how that one ended and opens it read-only
through the new one (its files too); a forged token, an open conversation or a malformed ``follows`` is silently
not linked. The link is archived, and once Redis has let the earlier chat go the agent gets it from the archive."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List, Optional

import redis as redis_sync
import requests

from handoff.earlier import follows_of
from handoff_client import Customer
from harness.clients import claimed, staff
from harness.files import image
from harness.postgres import running_archiver
from harness.servers import add_agent, delete_prefixed_keys, running_bridge
from tests.handoff.test_attachments import as_agent, as_customer, upload
from tests.handoff.test_identity import new_contact, signed


def test_follows_names_a_conversation_and_a_token_or_nothing():
    assert follows_of({"conversation_id": "c1", "token": "t1"}) == ("c1", "t1")
    for malformed in (None, "c1", ["c1", "t1"], {"conversation_id": "c1"}, {"conversation_id": 7, "token": "t"},
                      {"conversation_id": "", "token": "t"}, {"conversation_id": "c" * 65, "token": "t"},
                      {"conversation_id": "c1", "token": "t" * 65}):
        assert follows_of(malformed) is None, malformed


def test_a_new_chat_after_a_close_shows_its_agent_the_earlier_one(bridge, redis_url, bridge_prefix):
    store = redis_sync.Redis.from_url(redis_url)

    def follows(conversation_id: str) -> Optional[bytes]:
        return store.hget(f"{bridge_prefix}:conv:{conversation_id}", "follows")

    async def new_chat(link: Any) -> Customer:
        customer = await Customer.connect(bridge, follows=link)
        assert customer.conversation_id  # welcomed: a follows is never a reason to refuse a new chat
        return customer

    async def scenario() -> None:
        customer, ann = await claimed(bridge)
        closed, token = customer.conversation_id, customer.token
        await customer.acknowledged(await customer.say("my husband died last week"))
        sent = await asyncio.to_thread(upload, bridge, closed, image("PNG", 32, 32), as_customer(customer))
        file_id = sent.json()["attachment"]["id"]
        await ann.send("close", {"conversation_id": closed, "disposition": "follow-up needed",
                                 "closing_note": "card question"}, id="close")
        await ann.acknowledged("close")
        await customer.expect("status", state="closed")
        await customer.close()

        # Not linked: a wrong token, an open conversation (its own token right), a malformed or unknown one.
        still_open = await Customer.connect(bridge)
        unlinked = [await new_chat(link) for link in (
            {"conversation_id": closed, "token": "forged"},
            {"conversation_id": still_open.conversation_id, "token": still_open.token},
            {"conversation_id": "no-such-chat", "token": token},
            "not an object")]
        assert [follows(each.conversation_id) for each in unlinked] == [None] * 4

        # Linked: the closed chat's own token.
        again = await new_chat({"conversation_id": closed, "token": token})
        assert follows(again.conversation_id) == closed.encode()
        await again.acknowledged(await again.say("sorry, one more question"))
        await again.acknowledged(await again.talk_to_person())
        await ann.wait_for(lambda: again.conversation_id in ann.queue, "the new chat in Ann's queue")
        assert ann.queue_items[again.conversation_id]["follows"] == closed
        await ann.acknowledged(await ann.claim(again.conversation_id))
        opened: Dict[str, Any] = (await ann.expect("conversation", conversation_id=again.conversation_id))["data"]
        earlier = opened["earlier"]
        assert {key: earlier[key] for key in ("conversation_id", "by", "disposition", "closing_note")} == {
            "conversation_id": closed, "by": "ann", "disposition": "follow-up needed", "closing_note": "card question"}
        assert earlier["last_message"]["text"] == "my husband died last week"
        assert earlier["closed_at"] > 0 and isinstance(earlier["summary"], str) and isinstance(earlier["topics"], list)

        # Ann opens the earlier chat read-only through the new one; bare, or through another chat, it is not hers.
        await ann.send("view", {"conversation_id": closed}, id="bare")
        assert (await ann.expect("error"))["data"]["code"] == "forbidden"
        await ann.send("view", {"conversation_id": closed, "via": again.conversation_id}, id="via")
        await ann.expect("ack", conversation_id=closed)
        viewed = (await ann.expect("conversation", conversation_id=closed, view=True))["data"]
        assert viewed["closed"]["disposition"] == "follow-up needed"
        # Its files too, through the new chat (as the view's transcript shows them), and never bare.
        def read_file(via: str) -> int:
            return requests.get(f"http://{bridge}/api/conversations/{closed}/attachments/{file_id}",
                                params={"via": via} if via else {}, headers={"Authorization": as_agent(ann)},
                                timeout=30).status_code
        assert await asyncio.to_thread(read_file, again.conversation_id) == 200
        assert await asyncio.to_thread(read_file, "") == 403
        # Only the chat it follows: another conversation, through the new one, is as one that does not exist.
        other = unlinked[0].conversation_id
        await ann.send("view", {"conversation_id": other, "via": again.conversation_id}, id="other")
        assert (await ann.expect("error"))["data"]["code"] == "not_found"
        # A colleague who may not read the new chat opens nothing through it.
        bob = await staff(bridge, "bob")
        await bob.send("view", {"conversation_id": closed, "via": again.conversation_id}, id="bob")
        assert (await bob.expect("error"))["data"]["code"] == "forbidden"

        # The client library, writing after a close, names the closed chat in the new one's hello too.
        await ann.acknowledged(await ann.close_conversation(again.conversation_id))
        await again.expect("status", state="closed")
        await again.close()
        resumed = Customer(bridge, conversation_id=again.conversation_id, token=again.token, reconnect=True)
        await resumed.start()
        await resumed.acknowledged(await resumed.say("and another thing"))
        assert resumed.conversation_id != again.conversation_id
        assert follows(resumed.conversation_id) == again.conversation_id.encode()  # a chain: the latest closed one
        for each in (resumed, still_open, *unlinked, ann, bob):
            await each.close()

    asyncio.run(scenario())
    store.close()


def test_a_signed_in_customers_new_chat_follows_their_own_closed_chat_or_an_anonymous_one(bridge, redis_url, bridge_prefix):
    store = redis_sync.Redis.from_url(redis_url)
    identity = signed(new_contact())

    def follows(conversation_id: str) -> Optional[bytes]:
        return store.hget(f"{bridge_prefix}:conv:{conversation_id}", "follows")

    async def scenario() -> None:
        customer = await Customer.connect(bridge, identity=identity)
        closed, token = customer.conversation_id, customer.token
        await customer.acknowledged(await customer.talk_to_person())
        bob = await staff(bridge, "bob")
        await bob.acknowledged(await bob.claim(closed))
        await bob.acknowledged(await bob.close_conversation(closed))
        await customer.expect("status", state="closed")
        await customer.close()
        # Back with the same identity: the closed chat is never resumed; the new one follows it.
        again = await Customer.connect(bridge, identity=identity, follows={"conversation_id": closed, "token": token})
        assert again.conversation_id != closed
        assert follows(again.conversation_id) == closed.encode()
        # Another customer's closed chat is never linked, its token right or not: signed in as someone else, or
        # anonymous (a shared computer after the sign-out), the new chat is welcomed without it.
        stranger = await Customer.connect(bridge, identity=signed(new_contact()),
                                          follows={"conversation_id": closed, "token": token})
        signed_out = await Customer.connect(bridge, follows={"conversation_id": closed, "token": token})
        assert [follows(each.conversation_id) for each in (stranger, signed_out)] == [None, None]
        # An anonymous chat followed by a signed-in one: the same browser, which holds its token.
        anonymous = await Customer.connect(bridge)
        await anonymous.acknowledged(await anonymous.talk_to_person())
        await bob.acknowledged(await bob.claim(anonymous.conversation_id))
        await bob.acknowledged(await bob.close_conversation(anonymous.conversation_id))
        await anonymous.expect("status", state="closed")
        await anonymous.close()
        signed_in = await Customer.connect(bridge, identity=signed(new_contact()), follows={
            "conversation_id": anonymous.conversation_id, "token": anonymous.token})
        assert follows(signed_in.conversation_id) == anonymous.conversation_id.encode()
        for each in (again, stranger, signed_out, signed_in, bob):
            await each.close()

    asyncio.run(scenario())
    store.close()


def test_the_earlier_chat_rated_after_its_panel_was_sent_is_sent_again_with_the_rating(bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge)
        closed, token = customer.conversation_id, customer.token
        await ann.acknowledged(await ann.close_conversation(closed))
        await customer.expect("message", kind="system", data={"notice": "rate"})
        # The customer writes again before rating: the new chat's agent sees the earlier one, not rated yet.
        again = await Customer.connect(bridge, follows={"conversation_id": closed, "token": token})
        await again.acknowledged(await again.talk_to_person())
        await ann.acknowledged(await ann.claim(again.conversation_id))
        opened = (await ann.expect("conversation", conversation_id=again.conversation_id))["data"]
        assert opened["earlier"]["conversation_id"] == closed and opened["earlier"]["rating"] is None
        # Then they rate the closed chat (its widget still offers it): the panel comes again, with the rating.
        await customer.send("rating", {"score": 2, "comment": "slow"}, id="rate")
        await customer.acknowledged("rate")
        pushed = (await ann.expect("earlier", conversation_id=again.conversation_id))["data"]
        assert pushed["earlier"]["conversation_id"] == closed
        assert pushed["earlier"]["rating"] == {"score": 2, "comment": "slow"}
        for each in (customer, again, ann):
            await each.close()

    asyncio.run(scenario())


def test_the_earlier_chat_comes_from_the_archive_once_redis_has_let_it_go(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)
    prefix = f"earlier{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "bob")

    def archived(sql: str, expected: List[List[str]]) -> None:
        deadline = time.monotonic() + 30
        while postgres.query(archive_database, sql) != expected:
            assert time.monotonic() < deadline, f"not archived: {sql}"
            time.sleep(0.1)

    async def answer(client: Any, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        key = uuid.uuid4().hex
        await client.send(kind, data, id=key)
        return await client.next_matching(lambda e: e["id"] == key and e["type"] != "message", f"the answer to {kind}")

    async def scenario(address: str) -> None:
        customer, ann = await claimed(address, "ann")
        closed = customer.conversation_id
        await customer.acknowledged(await customer.say("my card was stolen in Lisbon"))
        assert (await answer(ann, "close", {"conversation_id": closed, "disposition": "follow-up needed",
                                            "closing_note": "police report to follow"}))["type"] == "ack"
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 4, "comment": "kind"}, id="rate")
        await customer.acknowledged("rate")
        await customer.close()
        again = await Customer.connect(address, follows={"conversation_id": closed, "token": customer.token})
        await again.acknowledged(await again.talk_to_person())
        # The link is one of the archive's facts: the new chat's row names the chat it follows.
        archived(f"SELECT follows FROM conversations WHERE id = '{again.conversation_id}'", [[closed]])
        archived(f"SELECT rating FROM conversations WHERE id = '{closed}'", [["4"]])
        # Redis lets the earlier chat go (its retention ran out): the archive still has it.
        redis_sync.Redis.from_url(redis_url).delete(*(f"{prefix}:{kind}:{closed}" for kind in ("conv", "log", "idem", "files")))
        await ann.acknowledged(await ann.claim(again.conversation_id))
        earlier = (await ann.expect("conversation", conversation_id=again.conversation_id))["data"]["earlier"]
        assert {key: earlier[key] for key in ("conversation_id", "by", "disposition", "closing_note", "rating",
                                              "archived")} == {
            "conversation_id": closed, "by": "ann", "disposition": "follow-up needed",
            "closing_note": "police report to follow", "rating": {"score": 4, "comment": "kind"}, "archived": True}
        assert earlier["last_message"]["text"] == "my card was stolen in Lisbon" and earlier["closed_at"] > 0
        # It opens read-only from the archive through the new chat, for whoever may read that one only.
        opened = await answer(ann, "search_open", {"conversation_id": closed, "via": again.conversation_id})
        assert opened["type"] == "search_conversation" and opened["data"]["source"] == "archive", opened
        assert "my card was stolen in Lisbon" in [m["text"] for m in opened["data"]["messages"]]
        bob = await staff(address, "bob")
        refused = await answer(bob, "search_open", {"conversation_id": closed, "via": again.conversation_id})
        assert refused["data"]["code"] == "forbidden"
        for each in (again, ann, bob):
            await each.close()

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-earlier", prefix, DATABASE_URL=url) as address, \
                running_archiver(redis_url, url, prefix):
            asyncio.run(scenario(address))
    finally:
        delete_prefixed_keys(redis_url, prefix)
