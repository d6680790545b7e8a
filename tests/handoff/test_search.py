"""Search end to end: a chat through a real bridge, archived by a real archiver into a real PostgreSQL, found
by words from the agent's and the supervisor's sockets and opened read-only, from the archive once Redis has
let it go; agents of other groups find nothing of it, but an agent who served it before a transfer does;
searches are rate-limited; a bridge without an archive refuses search with a clear code."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List

from handoff.identity import sign
from handoff_client import Customer
from harness.clients import claimed, staff
from harness.postgres import running_archiver
from harness.servers import IDENTITY_SECRET, add_agent, delete_prefixed_keys, running_bridge
from redis import Redis


async def answer(client: Any, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] != "message", f"the answer to {kind}")


def test_an_agent_finds_an_archived_chat_by_a_word_and_opens_it(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)
    prefix = f"search{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, "ann", "--display-name", "Ann Lee")
    add_agent(redis_url, prefix, "bob", "--groups", "sales")
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")

    def archived(conversation_id: str, count: int) -> None:
        deadline = time.monotonic() + 30
        sql = f"SELECT count(*) FROM messages WHERE conversation_id = '{conversation_id}' AND sender = 'agent'"
        while postgres.query(archive_database, sql) != [[str(count)]]:
            assert time.monotonic() < deadline, "not archived"
            time.sleep(0.1)

    async def chat(address: str) -> str:
        customer, ann = await claimed(address, "ann")
        conversation_id = customer.conversation_id
        await customer.send("message", {"text": "the cash machine on <b>Elm</b> street kept my card"}, id="m1")
        await customer.acknowledged("m1")
        assert (await answer(ann, "message", {"conversation_id": conversation_id, "text": "I have blocked it"}))["type"] == "ack"
        assert (await answer(ann, "close", {"conversation_id": conversation_id, "disposition": "resolved"}))["type"] == "ack"
        for client in (ann, customer):
            await client.close()
        return conversation_id

    async def search(address: str, conversation_id: str) -> List[Dict[str, Any]]:
        ann, bob, sam = (await staff(address, "ann"), await staff(address, "bob"),
                         await staff(address, "sam", "supervisor"))
        found = await answer(ann, "search", {"words": "machine", "disposition": "resolved"})
        assert found["type"] == "search_results", found
        [result] = found["data"]["results"]
        assert result["conversation_id"] == conversation_id and result["agent"] == "ann"
        assert result["agent_name"] == "Ann Lee", "staff know colleagues by the name customers see"
        by_names = await staff(address, "sam", "supervisor")  # a socket of its own: searches are rate-limited
        for named in ("Ann Lee", "ann lee", "ann", "Ann L"):  # the display name (any case, its start) or the login
            by_name = await answer(by_names, "search", {"words": "machine", "agent": named})
            assert [r["conversation_id"] for r in by_name["data"]["results"]] == [conversation_id], named
        assert (await answer(by_names, "search", {"words": "machine", "agent": "Bob"}))["data"]["results"] == []
        await by_names.close()
        [line] = result["lines"]
        assert line["sender"] == "customer"
        assert [s["text"] for s in line["segments"] if s["match"]] == ["machine"]
        assert "".join(s["text"] for s in line["segments"]) == "the cash machine on <b>Elm</b> street kept my card"
        live = await answer(ann, "search_open", {"conversation_id": conversation_id})
        assert live["data"]["source"] == "live" and live["data"]["agent_name"] == "Ann Lee"
        [reply] = [m for m in live["data"]["messages"] if m["kind"] == "agent"]
        assert (reply["author"], reply["author_name"]) == ("ann", "Ann Lee")
        by_supervisor = await answer(sam, "search", {"words": "machine"})
        assert [r["conversation_id"] for r in by_supervisor["data"]["results"]] == [conversation_id]
        assert (await answer(bob, "search", {"words": "machine"}))["data"]["results"] == [], "another group's"
        # Another group's conversation is answered as one that does not exist: no id can be probed.
        other_groups = await answer(bob, "search_open", {"conversation_id": conversation_id})
        missing = await answer(bob, "search_open", {"conversation_id": "no-such-conversation"})
        assert other_groups["data"]["code"] == missing["data"]["code"] == "not_found"
        assert other_groups["data"]["message"].replace(conversation_id, "X") == \
            missing["data"]["message"].replace("no-such-conversation", "X")
        malformed = await answer(ann, "search", {"words": "machine", "size": 1000})
        assert malformed["data"]["code"] == "malformed"
        Redis.from_url(redis_url).delete(f"{prefix}:log:{conversation_id}", f"{prefix}:conv:{conversation_id}")
        opened = await answer(ann, "search_open", {"conversation_id": conversation_id})
        burst = [await answer(bob, "search", {"words": "card"}) for _ in range(6)]
        for client in (ann, bob, sam):
            await client.close()
        return [opened["data"], *[reply["data"].get("code", reply["type"]) for reply in burst]]

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-search", prefix, DATABASE_URL=url) as address, \
                running_archiver(redis_url, url, prefix):
            conversation_id = asyncio.run(chat(address))
            archived(conversation_id, 1)
            opened, *burst = asyncio.run(search(address, conversation_id))
        assert opened["source"] == "archive" and opened["state"] == "closed" and opened["disposition"] == "resolved"
        texts = [(m["kind"], m["text"]) for m in opened["messages"]]
        assert ("customer", "the cash machine on <b>Elm</b> street kept my card") in texts
        assert ("agent", "I have blocked it") in texts
        assert "rate_limited" in burst, f"searches beyond the burst are refused: {burst}"
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_an_agent_finds_a_chat_they_passed_on_to_a_colleague(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)
    prefix = f"search{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "bob", "--groups", "sales")
    add_agent(redis_url, prefix, "cy")
    add_agent(redis_url, prefix, "dee", "--groups", "sales")

    async def passed_on(address: str) -> str:
        """ann claims it and hands it to bob (not of its group), who hands it to cy, who closes it."""
        customer, ann = await claimed(address, "ann")
        conversation_id = customer.conversation_id
        bob, cy = await staff(address, "bob"), await staff(address, "cy")
        await customer.send("message", {"text": "my parcel went to the wrong town"}, id="m1")
        await customer.acknowledged("m1")
        assert (await answer(ann, "transfer", {"conversation_id": conversation_id, "to_agent": "bob"}))["type"] == "ack"
        await bob.expect("conversation", conversation_id=conversation_id)
        assert (await answer(bob, "transfer", {"conversation_id": conversation_id, "to_agent": "cy"}))["type"] == "ack"
        await cy.expect("conversation", conversation_id=conversation_id)
        assert (await answer(cy, "close", {"conversation_id": conversation_id}))["type"] == "ack"
        for client in (customer, ann, bob, cy):
            await client.close()
        return conversation_id

    async def searched(address: str, conversation_id: str) -> Dict[str, Any]:
        bob, dee = await staff(address, "bob"), await staff(address, "dee")
        found = {name: [r["conversation_id"] for r in (await answer(client, "search", {"words": "parcel"}))["data"]["results"]]
                 for name, client in (("bob", bob), ("dee", dee))}
        opened = {name: (await answer(client, "search_open", {"conversation_id": conversation_id}))["type"]
                  for name, client in (("bob", bob), ("dee", dee))}
        for client in (bob, dee):
            await client.close()
        return {"found": found, "opened": opened}

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-search-served", prefix, DATABASE_URL=url) as address, \
                running_archiver(redis_url, url, prefix):
            conversation_id = asyncio.run(passed_on(address))
            deadline = time.monotonic() + 30
            while postgres.query(archive_database, f"SELECT state FROM conversations WHERE id = '{conversation_id}'") \
                    != [["closed"]]:
                assert time.monotonic() < deadline, "not archived"
                time.sleep(0.1)
            seen = asyncio.run(searched(address, conversation_id))
        assert seen["found"] == {"bob": [conversation_id], "dee": []}, "bob served it, though cy did last; dee never"
        assert seen["opened"] == {"bob": "search_conversation", "dee": "error"}
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_a_bridge_without_an_archive_refuses_search(redis_url):
    prefix = f"search{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, "ann")

    async def refused(address: str) -> str:
        ann = await staff(address, "ann")
        reply = await answer(ann, "search", {"words": "card"})
        await ann.close()
        return reply["data"]["code"]

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-no-archive", prefix) as address:
            assert asyncio.run(refused(address)) == "archive_off"
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_the_contact_panel_lists_and_opens_conversations_only_the_archive_keeps(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)
    prefix = f"search{uuid.uuid4().hex[:8]}"
    contact = f"ada-{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "bob")
    identity = sign(IDENTITY_SECRET, {"id": contact, "name": "Ada Lovelace", "email": "ada@example.com",
                                      "issued_at": int(time.time())})

    async def panel(address: str) -> List[Dict[str, Any]]:
        customer = await Customer.connect(address, identity=identity)
        await customer.send("talk_to_person", id="talk")
        await customer.expect("status", state="queued")
        ann = await staff(address, "ann")
        assert (await answer(ann, "claim", {"conversation_id": customer.conversation_id}))["type"] == "ack"
        card = (await answer(ann, "contact", {"conversation_id": customer.conversation_id}))["data"]["contact"]
        opened = await answer(ann, "search_open", {"conversation_id": "last-year", "via": customer.conversation_id})
        bob = await staff(address, "bob")  # serves nothing of Ada's: may not read her history through her chat
        refused = await answer(bob, "search_open", {"conversation_id": "last-year", "via": customer.conversation_id})
        for client in (ann, bob, customer):
            await client.close()
        return [card, opened, refused]

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-history", prefix, DATABASE_URL=url) as address, \
                running_archiver(redis_url, url, prefix):
            postgres.query(archive_database, (
                f"INSERT INTO contacts VALUES ('{contact}', 'Ada Lovelace', 'ada@example.com', '2025-11-01', '2025-11-01');"
                f" INSERT INTO conversations (id, contact_id, started_at, state, disposition, rating) VALUES"
                f" ('last-year', '{contact}', '2025-11-01', 'closed', 'resolved', 5);"
                f" INSERT INTO messages (conversation_id, id, position, sent_at, sender, text) VALUES"
                f" ('last-year', '1-0', 1000000, '2025-11-01', 'customer', 'my card is stuck in the machine')"))
            card, opened, refused = asyncio.run(panel(address))
        listed = {past["conversation_id"]: past for past in card["conversations"]}
        assert listed["last-year"]["archived"] is True and listed["last-year"]["disposition"] == "resolved"
        assert listed["last-year"]["rating"] == {"score": 5, "comment": ""}
        assert [past["archived"] for past in card["conversations"]] == [False, True], "Redis's first: the newest"
        assert opened["type"] == "search_conversation" and opened["data"]["source"] == "archive"
        assert [m["text"] for m in opened["data"]["messages"]] == ["my card is stuck in the machine"]
        assert refused["data"]["code"] == "forbidden"
    finally:
        delete_prefixed_keys(redis_url, prefix)


def test_a_chat_that_left_a_request_is_not_bot_only(redis_url, postgres, archive_database):
    """People were needed for a callback or message left (here while the bot served, as after a refused queue):
    "Bot only" leaves it out, "Handed to people" and "Left a request" find it."""
    url = postgres.url(archive_database)
    prefix = f"search{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    since = int(time.time() * 1000) - 1000

    async def chats(address: str) -> Dict[str, str]:
        bot_only = await Customer.connect(address, identity=sign(IDENTITY_SECRET, {
            "id": f"bo-{uuid.uuid4().hex[:6]}", "issued_at": int(time.time())}))  # archived by its contact's link
        left = await Customer.connect(address, identity=sign(IDENTITY_SECRET, {
            "id": f"lr-{uuid.uuid4().hex[:6]}", "issued_at": int(time.time())}))
        await left.send("leave", {"kind": "callback", "contact": "07700 900123"}, id="leave")
        await left.acknowledged("leave")
        queued = await Customer.connect(address)
        await queued.send("talk_to_person", id="talk")
        await queued.expect("status", state="queued")
        for client in (bot_only, left, queued):
            await client.close()
        return {"bot_only": bot_only.conversation_id, "left": left.conversation_id, "queued": queued.conversation_id}

    async def outcomes(address: str, ours: Dict[str, str]) -> Dict[str, List[str]]:
        sam = await staff(address, "sam", "supervisor")
        names = {conversation_id: name for name, conversation_id in ours.items()}
        seen = {}
        for outcome in ("contained", "handed_off", "requested"):
            reply = await answer(sam, "search", {"outcome": outcome, "since": since})
            assert reply["type"] == "search_results", reply
            seen[outcome] = sorted(names[r["conversation_id"]] for r in reply["data"]["results"]
                                   if r["conversation_id"] in names)
        await sam.close()
        return seen

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-search-requests", prefix, DATABASE_URL=url) \
                as address, running_archiver(redis_url, url, prefix):
            ours = asyncio.run(chats(address))
            deadline = time.monotonic() + 30
            listed = ", ".join(f"'{conversation_id}'" for conversation_id in ours.values())
            while postgres.query(archive_database, f"SELECT count(*) FROM conversations WHERE id IN ({listed})"
                                 f" AND (id <> '{ours['left']}' OR first_request_at IS NOT NULL)") != [["3"]]:
                assert time.monotonic() < deadline, "not archived"
                time.sleep(0.1)
            seen = asyncio.run(outcomes(address, ours))
        assert seen == {"contained": ["bot_only"], "handed_off": ["left", "queued"], "requested": ["left"]}, seen
    finally:
        delete_prefixed_keys(redis_url, prefix)
