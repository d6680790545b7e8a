"""Contacts (handoff.contacts, handoff.history) against a real redis-server (tests/conftest.py): what a link
writes and keeps, who may not take a conversation over, which conversation a hello resumes, the history
Redis still keeps, and the note's one write."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import pytest

from handoff.contacts import ContactBook
from handoff.exceptions import ConversationNotFound, StateError
from handoff.history import RedisHistory
from handoff.identity import Identity
from handoff.store import Store
from tests.conftest import fresh_prefix

ADA = Identity("ada", "Ada Lovelace", "ada@example.com", 1)
BOB = Identity("bob", "Bob", "", 1)
RETENTION_SECONDS = 3600


def run(redis_url: str, scenario: Callable[[ContactBook], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "contacts") as (client, prefix):
            store = Store(client, prefix, finished_ttl_seconds=RETENTION_SECONDS)
            return await scenario(ContactBook(store, "s" * 16, RedisHistory(store)))

    return asyncio.run(main())


async def field(book: ContactBook, conversation_id: str, name: str) -> Any:
    value = await book.store.redis.hget(book.store.key("conv", conversation_id), name)
    return value.decode() if value else None


def test_a_link_writes_the_shared_fields_and_keeps_the_contact_for_the_retention(redis_url):
    async def scenario(book: ContactBook) -> None:
        await book.store.create("c1", "own-token")
        assert await book.link("c1", ADA, 1_000)
        assert [await field(book, "c1", name) for name in ("contact_id", "contact_name", "contact_email")] == [
            "ada", "Ada Lovelace", "ada@example.com"]
        assert await book.store.token_matches("c1", "own-token") and await book.store.token_matches("c1", book.token("c1"))
        assert not await book.store.token_matches("c1", book.token("c2"))
        contact = {k.decode(): v.decode() for k, v in (await book.store.redis.hgetall(book.store.key("contact", "ada"))).items()}
        assert contact == {"name": "Ada Lovelace", "email": "ada@example.com", "first_seen": "1000", "last_seen": "1000"}
        for key in (book.store.key("contact", "ada"), book.store.key("contact-convs", "ada")):
            assert 0 < await book.store.redis.pttl(key) <= RETENTION_SECONDS * 1000
        # Signed again with a new name: the newest is kept, first_seen too.
        assert await book.link("c1", Identity("ada", "Ada King", "ada@example.com", 2), 2_000)
        assert (await book.signed("c1"))["name"] == "Ada King"
        assert (await book.store.redis.hget(book.store.key("contact", "ada"), "first_seen")) == b"1000"

    run(redis_url, scenario)


def test_another_contact_never_takes_a_conversation_and_nothing_links_a_missing_one(redis_url):
    async def scenario(book: ContactBook) -> None:
        await book.store.create("c1", "t")
        assert await book.link("c1", ADA, 1)
        assert not await book.link("c1", BOB, 2)
        assert await field(book, "c1", "contact_id") == "ada"
        assert not await book.link("gone", ADA, 3)
        assert not await book.store.redis.exists(book.store.key("conv", "gone"))

    run(redis_url, scenario)


def test_a_hello_resumes_the_named_one_only_if_the_contacts_and_open_else_their_open_one_else_none(redis_url):
    async def scenario(book: ContactBook) -> None:
        store = book.store
        for conversation_id in ("old", "new", "anonymous"):
            await store.create(conversation_id, "t")
        assert await book.conversation_for(ADA, None, 1) is None  # nothing yet: start one
        assert await book.link("old", ADA, 1)
        assert await book.conversation_for(ADA, None, 2) == "old"
        assert await book.conversation_for(ADA, "old", 3) == "old"
        # An anonymous conversation the browser holds (a visitor's before, on a shared computer) is never adopted.
        assert await book.conversation_for(ADA, "anonymous", 3) == "old"
        assert [await field(book, "anonymous", name) for name in ("contact_id", "contact_token")] == [None, None]
        await store.redis.hset(store.key("conv", "old"), "state", "closed")
        assert await book.conversation_for(ADA, "anonymous", 4) is None  # start one of their own
        assert await book.conversation_for(ADA, "old", 4) is None  # closed: a new one, never the closed reopened
        # unless the page that had it open reconnects (last_seen): it goes on showing it (the rating)
        assert await book.conversation_for(ADA, "old", 4, reconnecting=True) == "old"
        assert await book.conversation_for(ADA, "anonymous", 4, reconnecting=True) is None
        assert await book.link("new", ADA, 5)
        assert await book.conversation_for(ADA, "old", 6) == "new"  # closed here, open elsewhere
        assert await book.conversation_for(BOB, "new", 7) is None  # Ada's: Bob starts his own
        assert await book.conversation_for(ADA, "gone", 7) == "new"
        assert set(await store.redis.zrange(store.key("contact-convs", "ada"), 0, -1)) == {b"old", b"new"}
        # Two starts at once: the second finds the first.
        await store.redis.hset(store.key("conv", "new"), "state", "closed")
        for conversation_id in ("phone", "laptop"):
            await store.create(conversation_id, "t")
        assert await book.link_started("phone", ADA, 8) == "phone"
        assert await book.link_started("laptop", ADA, 8) == "phone"
        assert await field(book, "laptop", "contact_id") is None

    run(redis_url, scenario)


def test_the_history_is_newest_first_with_how_each_ended_and_forgets_what_expired(redis_url):
    async def scenario(book: ContactBook) -> None:
        store = book.store
        for n, conversation_id in enumerate(("first", "second", "expired")):
            await store.create(conversation_id, "t")
            await store.redis.hset(store.key("conv", conversation_id), "created", str(1_000 + n))
            assert await book.link(conversation_id, ADA, 1_000 + n)
        await store.redis.hset(store.key("conv", "first"), mapping={
            "state": "closed", "disposition": "resolved", "closed_at": "5000",
            "rating": json.dumps({"score": 4, "comment": "ok"}),
            "handoff": json.dumps({"topics": ["card_not_working", "top_up"]})})
        await store.redis.delete(store.key("conv", "expired"))
        listed = [past.shown() for past in await book.history.conversations("ada")]
        assert listed == [
            {"conversation_id": "second", "started": 1001, "state": "bot", "disposition": None, "closed_at": None,
             "topics": [], "rating": None, "archived": False},
            {"conversation_id": "first", "started": 1000, "state": "closed", "disposition": "resolved",
             "closed_at": 5000, "topics": ["card_not_working", "top_up"], "rating": {"score": 4, "comment": "ok"},
             "archived": False},
        ]
        assert await store.redis.zscore(store.key("contact-convs", "ada"), "expired") is None

    run(redis_url, scenario)


def test_the_note_is_one_write_and_needs_a_contact(redis_url):
    async def scenario(book: ContactBook) -> None:
        store = book.store
        await store.create("c1", "t")
        await store.create("anon", "t")
        with pytest.raises(StateError) as anonymous:
            await book.save_note("anon", "hm", "ann", 1)
        assert anonymous.value.code == "not_identified"
        assert await book.link("c1", ADA, 1)
        assert await book.save_note("c1", "Prefers email <b>", "ann", 2) == "ada"
        card = await book.card("c1")
        assert card["note"] == {"text": "Prefers email <b>", "by": "ann", "at": 2} and card["verified"]
        await store.redis.delete(store.key("contact", "ada"))  # expired (or forgotten) meanwhile
        with pytest.raises(ConversationNotFound):
            await book.save_note("c1", "again", "bob", 3)
        assert not await store.redis.exists(store.key("contact", "ada")), "a note never makes a contact up"
        gone = await book.card("c1")  # who the conversation's customer was is still shown, as signed then
        assert (gone["name"], gone["email"], gone["note"]) == ("Ada Lovelace", "ada@example.com", None)

    run(redis_url, scenario)


def test_a_first_link_goes_to_the_archives_outbox_once(redis_url):
    """The archive links a conversation to its contact even if no later state change carries it (a bot-only
    chat): the link itself is a fact (archive/facts.py "contact")."""
    async def main() -> None:
        async with fresh_prefix(redis_url, "contacts") as (client, prefix):
            store = Store(client, prefix, finished_ttl_seconds=RETENTION_SECONDS, outbox_cap=1000)
            book = ContactBook(store, "s" * 16, RedisHistory(store))
            await store.create("c1", "t")
            await store.redis.hset(store.key("conv", "c1"), "created", "900")
            assert await book.link("c1", ADA, 1_000)
            assert await book.conversation_for(Identity("ada", "Ada King", "", 2), "c1", 2_000) == "c1"  # again
            assert not await book.link("c1", BOB, 3_000)
            facts = [{k.decode(): v.decode() for k, v in fields.items()}
                     for _, fields in await store.redis.xrange(store.key("outbox"))]
            assert [fact for fact in facts if fact["fact"] == "contact"] == [
                {"fact": "contact", "conv": "c1", "contact": "ada", "name": "Ada Lovelace",
                 "email": "ada@example.com", "at": "1000", "started": "900"}]

    asyncio.run(main())
