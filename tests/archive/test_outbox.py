"""The outbox written by the store's own scripts, and its rows in a real PostgreSQL (bridge environment:
``$BRIDGE_VENV/bin/python -m pytest tests/archive/test_outbox.py``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import psycopg
import pytest

from archive.facts import rows_of
from archive.migrate import available, migrate, pending
from archive.writer import write
from handoff.auth import AgentDirectory
from handoff.contacts import ContactBook
from handoff.exceptions import LimitReached
from handoff.history import RedisHistory
from handoff.identity import Identity
from handoff.machine import AgentClaimed, Closed, CustomerAskedForPerson, CustomerRated, apply
from handoff.requests import RequestDesk
from handoff.rules import notices
from handoff.store import Store
from tests.conftest import fresh_prefix

HANDOFF = {"reason": "customer_asked", "summary": "card stuck"}


def run(redis_url: str, scenario: Callable[[Store], Awaitable[Any]], outbox_cap: int = 1000) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "outbox") as (client, prefix):
            return await scenario(Store(client, prefix, outbox_cap=outbox_cap))

    return asyncio.run(main())


async def a_whole_conversation(store: Store) -> None:
    """Bot turn, handoff, claim, agent reply and note, close with a disposition, rating."""
    conversation = await store.create("c1", "token")
    said = await store.append("c1", "customer", "customer:k1", "my card is stuck")
    await store.answer("c1", said.id, [{"text": "Sorry to hear that."}], routed=True)
    queued = await store.commit(conversation, apply(conversation, CustomerAskedForPerson(handoff=HANDOFF))[0],
                                queue="add")
    assert queued is not None
    claimed = await store.commit(queued, apply(queued, AgentClaimed("ann"))[0], queue="remove")
    assert claimed is not None
    await store.append("c1", "agent", "agent:ann:r1", "Let me look at that.")
    await store.append("c1", "note", "note:ann:n1", "customer sounds upset")
    closing, effects = apply(claimed, Closed("ann"))
    closed = await store.commit(claimed, closing, notices=notices(claimed.version + 1, effects),
                                extra_fields=["disposition", "resolved", "closing_note", "card released"])
    assert closed is not None
    rated = await store.commit(closed, apply(closed, CustomerRated(5, "quick"))[0],
                               extra_fields=["rating", json.dumps({"score": 5, "comment": "quick"})])
    assert rated is not None


async def outbox_of(store: Store) -> List[Tuple[str, Dict[str, str]]]:
    entries = await store.redis.xrange(store.key("outbox"))
    return [(entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()}) for entry_id, fields in entries]


def test_every_fact_reaches_the_outbox_in_the_step_that_stores_it(redis_url):
    async def scenario(store: Store) -> None:
        await a_whole_conversation(store)
        entries = await outbox_of(store)
        transcript = await store.messages_after("c1", None)

        messages = [fields for _, fields in entries if fields["fact"] == "message"]
        assert [m["id"] for m in messages] == [m["id"] for m in transcript], "every message, notices too, in order"
        assert [m["kind"] for m in messages] == ["customer", "bot", "agent", "note", "system", "system"]
        states = [fields for _, fields in entries if fields["fact"] == "state"]
        assert [(s["from"], json.loads(s["conversation"])["state"]) for s in states] == [
            ("bot", "queued"), ("queued", "agent"), ("agent", "closed"), ("closed", "closed")]
        assert [s["version"] for s in states] == ["1", "2", "3", "4"]
        assert states[2]["handled_ms"] != "" and states[3]["rated"] == "1" and states[2]["rated"] == ""

    run(redis_url, scenario)


def test_without_an_archive_there_is_no_outbox(redis_url):
    async def scenario(store: Store) -> None:
        await a_whole_conversation(store)
        assert await store.redis.exists(store.key("outbox")) == 0
        assert len(await store.messages_after("c1", None)) >= 5, "the live path is unchanged"

    run(redis_url, scenario, outbox_cap=0)


def test_the_outbox_is_capped(redis_url):
    async def scenario(store: Store) -> None:
        await store.create("c1", "token")
        for index in range(400):
            await store.append("c1", "customer", f"customer:k{index}", f"message {index}")
        # MAXLEN ~: trimmed in whole nodes of the stream (100 entries by default), never far beyond the cap
        assert 50 <= await store.redis.xlen(store.key("outbox")) <= 150

    run(redis_url, scenario, outbox_cap=50)


def query(url: str, sql: str) -> List[Tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def test_the_rows_are_written_once_whatever_is_replayed(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    async def collect(store: Store) -> List[Tuple[str, Dict[str, str]]]:
        await a_whole_conversation(store)
        return await outbox_of(store)

    entries = run(redis_url, collect)

    async def archive() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            assert await migrate(connection) == [version for version, _ in available()]
            assert await migrate(connection) == [] and await pending(connection) == []
            # the second half first (another archiver's batch committed earlier), then everything again
            await write(connection, rows_of(entries[len(entries) // 2:]))
            await write(connection, rows_of(entries))
            await write(connection, rows_of(entries[:3]))

    asyncio.run(archive())
    messages = query(url, "SELECT id, sender, author, text FROM messages ORDER BY position")
    assert [row[0] for row in messages] == [fields["id"] for _, fields in entries if fields["fact"] == "message"]
    assert ("agent", "ann", "Let me look at that.") in [row[1:] for row in messages]
    assert ("note", "ann", "customer sounds upset") in [row[1:] for row in messages]
    [conversation] = query(url, "SELECT state, version, agent, disposition, closing_note, rating, rating_comment, "
                                "handoff_reason, first_queued_at IS NOT NULL, first_claimed_at IS NOT NULL, "
                                "first_response_at IS NOT NULL, ended_at IS NOT NULL FROM conversations")
    assert conversation == ("closed", 4, "ann", "resolved", "card released", 5, "quick", "customer_asked",
                            True, True, True, True)
    assert query(url, "SELECT version, from_state, to_state, wait_ms IS NOT NULL, handled_ms IS NOT NULL "
                      "FROM state_changes ORDER BY version") == [
        (1, "bot", "queued", False, False), (2, "queued", "agent", True, False),
        (3, "agent", "closed", False, True), (4, "closed", "closed", False, False)]
    [(reason, payload)] = query(url, "SELECT reason, payload FROM handoffs")
    assert reason == "customer_asked" and payload["summary"] == "card stuck"
    assert query(url, "SELECT score, comment, agent FROM ratings") == [(5, "quick", "ann")]
    assert query(url, "SELECT count(*) FROM messages WHERE words @@ to_tsquery('simple', 'stuck')") == [(1,)]



def test_a_bot_only_signed_conversation_is_archived_with_its_contact(redis_url, postgres, archive_database):
    """Signed in, served by the bot alone: no state change after the link carries the contact, yet the archive
    links the conversation to them (the console's Search by customer finds it)."""
    url = postgres.url(archive_database)

    async def collect(store: Store) -> List[Tuple[str, Dict[str, str]]]:
        book = ContactBook(store, "s" * 16, RedisHistory(store))
        await store.create("c1", "token")
        assert await book.link_started("c1", Identity("cust-7", "Ada Lovelace", "ada@example.com", 1), 1_700_000_000_000) == "c1"
        said = await store.append("c1", "customer", "customer:k1", "where is my new card?")
        await store.answer("c1", said.id, [{"text": "It was posted yesterday."}], routed=True)
        return await outbox_of(store)

    entries = run(redis_url, collect)
    assert not [fields for _, fields in entries if fields["fact"] == "state"], "the bot alone: no state change"

    async def archive() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
            await write(connection, rows_of(entries))

    asyncio.run(archive())
    assert query(url, "SELECT contact_id FROM conversations WHERE id = 'c1'") == [("cust-7",)]
    assert query(url, "SELECT name, email FROM contacts WHERE id = 'cust-7'") == [("Ada Lovelace", "ada@example.com")]


def test_a_callback_booked_with_the_bot_is_archived_as_a_request(redis_url, postgres, archive_database):
    """No chat queued, yet people were needed: the script that stores the request writes its fact, once per
    booking (a resent one, or one refused while the first is open, writes none)."""
    url = postgres.url(archive_database)
    booking = {"reason": "callback", "summary": "card stuck", "callback": {"phone": "07700 900123"}}

    async def collect(store: Store) -> List[Tuple[str, Dict[str, str]]]:
        desk = RequestDesk(store, AgentDirectory(store.redis, store.prefix))
        await store.create("c1", "token")
        booked = await desk.booked_with_bot("c1", "1-0", booking, "general")
        assert booked is not None and booked[1]
        assert await desk.booked_with_bot("c1", "1-0", booking, "general") == (booked[0], False), "resent: stored"
        with pytest.raises(LimitReached) as refused:  # the bridge tells the customer (callback_not_booked)
            await desk.booked_with_bot("c1", "2-0", booking, "general")
        assert refused.value.code == "request_open"
        return await outbox_of(store)

    entries = run(redis_url, collect)
    [request] = [fields for _, fields in entries if fields["fact"] == "request"]
    assert request["conv"] == "c1" and request["request"] and int(request["at"]) >= int(request["started"])

    async def archive() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
            await write(connection, rows_of(entries))

    asyncio.run(archive())
    assert query(url, "SELECT first_queued_at IS NULL, first_request_at IS NOT NULL FROM conversations"
                      " WHERE id = 'c1'") == [(True, True)]
