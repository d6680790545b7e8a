"""Search of the archive and the contact history it backs, against a real PostgreSQL (bridge environment:
``$BRIDGE_VENV/bin/python -m pytest tests/archive/test_search.py``)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

import psycopg
import pytest

from archive.migrate import migrate
from handoff.archive_history import ArchiveHistory
from handoff.archive_reader import ArchiveReader
from handoff.archive_search import ArchiveSearch
from handoff.exceptions import ArchiveUnavailable, ConversationNotFound, MalformedMessage
from handoff import search as search_module
from handoff.history import RedisHistory
from handoff.search import MAX_RESULTS, Scope, marked, search_request
from handoff.store import Store
from tests.conftest import fresh_prefix

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
SUPERVISOR = Scope("sue", (), everything=True)
ANN = Scope("ann", ("billing",), everything=False)

# (id, group, agent, days ago, contact, labels, disposition, lines as (sender, text))
Seed = Tuple[str, str, Optional[str], int, Optional[str], List[str], Optional[str], List[Tuple[str, str]]]
CONVERSATIONS: List[Seed] = [
    ("en", "billing", "ann", 8, "cust-1", ["refund"], "resolved",
     [("customer", "My card was charged twice for the invoice"), ("agent", "I will refund the second charge"),
      ("note", "escalate to finance if the refund bounces")]),
    ("es", "billing", "bob", 6, None, [], "resolved",
     [("customer", "Mi tarjeta fue rechazada en la tienda"), ("bot", "Lo siento mucho")]),
    ("ar", "general", "bob", 5, None, [], None, [("customer", "لا أستطيع تسجيل الدخول إلى حسابي")]),
    ("fa", "general", None, 4, None, [], None, [("customer", "رمز عبور من کار نمی کند")]),
    ("th", "general", None, 3, "cust-1", [], None, [("customer", "บัตรเครดิตของฉันถูกระงับ")]),
    ("bot-only", "general", None, 1, None, [], None, [("customer", "what are your opening hours"),
                                                      ("bot", "We are open 9 to 5")]),
]


def seed(url: str, conversations: Sequence[Seed] = CONVERSATIONS) -> None:
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
    asyncio.run(main())
    with psycopg.connect(url) as connection:
        connection.execute("INSERT INTO contacts VALUES ('cust-1', 'Dana Díaz', 'dana@example.com', %s, %s)", [NOW, NOW])
        for conversation_id, group, agent, days, contact, labels, disposition, lines in conversations:
            started = NOW - timedelta(days=days)
            served = agent is not None
            connection.execute(
                "INSERT INTO conversations (id, contact_id, skill_group, started_at, state, agent, label_ids,"
                " disposition, first_queued_at, first_claimed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [conversation_id, contact, group, started, "closed" if served else "bot", agent, labels, disposition,
                 started if served else None, started if served else None])
            for number, (sender, text) in enumerate(lines):
                ms = int(started.timestamp() * 1000) + number
                connection.execute(
                    "INSERT INTO messages (conversation_id, id, position, sent_at, sender, author, text)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [conversation_id, f"{ms}-0", ms * 1_000_000, started + timedelta(milliseconds=number), sender,
                     agent if sender in ("agent", "note") else None, text])


def searching(url: str, redis_url: str, use: Callable[[ArchiveSearch], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "search") as (client, prefix):
            reader = ArchiveReader(url, size=2)
            try:
                return await use(ArchiveSearch(reader, Store(client, prefix)))
            finally:
                await reader.close()
    return asyncio.run(main())


def found(url: str, redis_url: str, scope: Scope = SUPERVISOR, **data: Any) -> List[Dict[str, Any]]:
    page = searching(url, redis_url, lambda search: search.search(search_request(data), scope))
    return page["results"]


def ids(results: List[Dict[str, Any]]) -> List[str]:
    return [result["conversation_id"] for result in results]


def test_a_search_request_is_checked_and_capped():
    assert search_request({"words": "  card  "}).words == "card"
    for bad in ({"words": 5}, {"words": "x" * 201}, {"outcome": "lost"}, {"size": 0}, {"size": 51},
                {"offset": -1}, {"offset": MAX_RESULTS, "size": 1}, {"since": "yesterday"}, {"part": "yes"},
                {"words": "ab", "part": True}, {"size": True}):
        with pytest.raises(MalformedMessage):
            search_request(bad)


def test_matches_are_marked_as_segments_never_as_markup():
    segments = marked("<b>my CARD</b> and card", "card")
    assert segments == [{"text": "<b>my ", "match": False}, {"text": "CARD", "match": True},
                        {"text": "</b> and ", "match": False}, {"text": "card", "match": True}]
    long_line = "word " * 100 + "refund" + " tail" * 100
    cut = marked(long_line, "refund")
    assert cut[0]["text"].startswith("…") and cut[-1]["text"].endswith("…")
    assert "".join(segment["text"] for segment in cut if segment["match"]) == "refund"


def test_words_in_every_language_are_found(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)
    assert ids(found(url, redis_url, words="refund")) == ["en"]
    assert ids(found(url, redis_url, words="tarjeta")) == ["es"]
    assert ids(found(url, redis_url, words="حسابي")) == ["ar"]
    assert ids(found(url, redis_url, words="عبور")) == ["fa"]
    assert ids(found(url, redis_url, words="ระงับ")) == ["th"], "Thai has no spaces: matched inside words"
    assert ids(found(url, redis_url, words="rechaz", part=True)) == ["es"], "parts of words on request"
    assert ids(found(url, redis_url, words="rechaz")) == [], "whole words by default"
    assert ids(found(url, redis_url, words='"charged twice"')) == ["en"]


def test_a_common_word_is_found_walking_the_conversations_newest_first(postgres, archive_database, redis_url,
                                                                      monkeypatch):
    url = postgres.url(archive_database)
    seed(url)
    assert ids(found(url, redis_url, words="refund")) == ["en"], "among the hits (fewer than the cap)"
    monkeypatch.setattr(search_module, "HIT_CAP", 1)
    assert ids(found(url, redis_url, words="refund")) == ["en"], "past the cap: each conversation checked"
    assert ids(found(url, redis_url, words="ระงับ", size=1)) == ["th"]


def test_results_show_the_matching_lines_and_notes_to_staff(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)
    [result] = found(url, redis_url, words="refund")
    assert [line["sender"] for line in result["lines"]] == ["agent", "note"]
    assert result["lines"][1]["author"] == "ann"
    assert [s["text"] for s in result["lines"][0]["segments"] if s["match"]] == ["refund"]
    assert result["contact"] == {"id": "cust-1", "name": "Dana Díaz", "email": "dana@example.com"}


def test_filters_narrow_the_results_newest_first(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)
    assert ids(found(url, redis_url)) == ["bot-only", "th", "fa", "ar", "es", "en"]
    assert ids(found(url, redis_url, customer="cust-1")) == ["th", "en"]
    assert ids(found(url, redis_url, customer="DANA@example.com")) == ["th", "en"]
    assert ids(found(url, redis_url, customer="díaz")) == ["th", "en"]
    assert ids(found(url, redis_url, label="refund")) == ["en"]
    assert ids(found(url, redis_url, disposition="resolved")) == ["es", "en"]
    assert ids(found(url, redis_url, agent="bob")) == ["ar", "es"]
    assert ids(found(url, redis_url, outcome="contained")) == ["bot-only", "th", "fa"]
    assert ids(found(url, redis_url, outcome="served", words="tarjeta")) == ["es"]
    week_ago = int((NOW - timedelta(days=7)).timestamp() * 1000)
    four_days_ago = int((NOW - timedelta(days=4)).timestamp() * 1000)
    assert ids(found(url, redis_url, since=week_ago, until=four_days_ago)) == ["ar", "es"]


def test_results_are_paged(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)

    async def pages(search: ArchiveSearch) -> List[Dict[str, Any]]:
        first = await search.search(search_request({"size": 4}), SUPERVISOR)
        second = await search.search(search_request({"size": 4, "offset": first["next_offset"]}), SUPERVISOR)
        return [first, second]

    first, second = searching(url, redis_url, pages)
    assert ids(first["results"]) == ["bot-only", "th", "fa", "ar"] and first["next_offset"] == 4
    assert ids(second["results"]) == ["es", "en"] and second["next_offset"] is None


def test_an_agent_searches_their_groups_and_their_own_chats(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)
    assert ids(found(url, redis_url, ANN)) == ["es", "en"], "billing's conversations"
    assert ids(found(url, redis_url, Scope("bob", ("sales",), False))) == ["ar", "es"], "the chats bob served"
    assert len(found(url, redis_url, Scope("cy", ("all",), False))) == 6

    async def open_others(search: ArchiveSearch) -> None:
        with pytest.raises(ConversationNotFound):  # another group's: as if there were none (no probing)
            await search.in_scope("th", ANN)
        with pytest.raises(ConversationNotFound):
            await search.in_scope("nothing", SUPERVISOR)
    searching(url, redis_url, open_others)


def test_an_agent_finds_every_chat_they_served_not_only_those_they_served_last(postgres, archive_database,
                                                                                redis_url):
    url = postgres.url(archive_database)
    seed(url)
    with psycopg.connect(url) as connection:  # dee claimed "ar", then transferred it to bob, its last agent
        at = NOW - timedelta(days=5)
        connection.execute(
            "INSERT INTO state_changes (conversation_id, version, at, from_state, to_state, agent, skill_group)"
            " VALUES ('ar', 2, %s, 'queued', 'agent', 'dee', 'general'), ('ar', 3, %s, 'agent', 'queued', NULL,"
            " 'general'), ('ar', 4, %s, 'queued', 'agent', 'bob', 'general')", [at, at, at])
    dee, eve = Scope("dee", ("sales",), False), Scope("eve", ("sales",), False)
    assert ids(found(url, redis_url, dee)) == ["ar"], "dee served it before the transfer"
    assert ids(found(url, redis_url, dee, words="حسابي")) == ["ar"]
    assert ids(found(url, redis_url, eve)) == [], "eve never served it"
    # The agent filter, too, finds every chat an agent served, not only those they served last.
    assert ids(found(url, redis_url, agent="dee")) == ["ar"]
    assert ids(found(url, redis_url, agent="bob")) == ["ar", "es"]
    assert ids(found(url, redis_url, agent="eve")) == []

    async def open_served(search: ArchiveSearch) -> str:
        with pytest.raises(ConversationNotFound):
            await search.in_scope("ar", eve)
        return (await search.in_scope("ar", dee))["id"]
    assert searching(url, redis_url, open_served) == "ar"


def test_a_conversation_redis_no_longer_keeps_opens_from_the_archive(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)

    async def opened(search: ArchiveSearch) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        from_archive = await search.opened(await search.in_scope("en", ANN))
        store = search.store
        await store.create("es", "token")
        await store.append("es", "customer", "customer:k1", "still in Redis")
        return from_archive, await search.opened(await search.in_scope("es", ANN))

    from_archive, live = searching(url, redis_url, opened)
    assert from_archive["source"] == "archive"
    assert [(m["kind"], m["text"]) for m in from_archive["messages"]] == [
        ("customer", "My card was charged twice for the invoice"), ("agent", "I will refund the second charge"),
        ("note", "escalate to finance if the refund bounces")]
    assert live["source"] == "live" and [m["text"] for m in live["messages"]] == ["still in Redis"]


def test_a_search_cut_short_or_an_archive_down_is_a_clear_error(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)

    async def slow() -> None:
        reader = ArchiveReader(url, size=1, statement_timeout_ms=50)
        try:
            with pytest.raises(ArchiveUnavailable) as cut:
                await reader.rows("SELECT pg_sleep(1)")
            assert cut.value.code == "search_timeout"
            assert await reader.rows("SELECT 1 AS one") == [{"one": 1}], "the connection is used again"
            with pytest.raises(ArchiveUnavailable) as written:
                await reader.rows("DELETE FROM messages")
            assert written.value.code == "archive_unavailable", "read-only sessions"
        finally:
            await reader.close()
        down = ArchiveReader(url.replace(archive_database, "no_such_database"))
        with pytest.raises(ArchiveUnavailable):
            await down.rows("SELECT 1")
    asyncio.run(slow())
    assert int(postgres.query(archive_database, "SELECT count(*) FROM messages")[0][0]) == 10


def test_the_contact_history_adds_what_only_the_archive_keeps(postgres, archive_database, redis_url):
    url = postgres.url(archive_database)
    seed(url)
    with psycopg.connect(url) as connection:
        connection.execute("INSERT INTO handoffs VALUES ('en', 1, %s, 'customer_asked', 'billing', %s)",
                           [NOW, json.dumps({"topics": ["card_charged_twice"]})])
        connection.execute("UPDATE conversations SET rating = 4, rating_comment = 'ok' WHERE id = 'en'")

    async def main() -> List[Dict[str, Any]]:
        async with fresh_prefix(redis_url, "history") as (client, prefix):
            store = Store(client, prefix)
            await client.zadd(store.key("contact-convs", "cust-1"), {"live-1": int(NOW.timestamp() * 1000)})
            await client.hset(store.key("conv", "live-1"), mapping={"state": "agent"})
            reader = ArchiveReader(url)
            try:
                history = ArchiveHistory(RedisHistory(store), reader)
                return [past.shown() for past in await history.conversations("cust-1")]
            finally:
                await reader.close()

    listed = asyncio.run(main())
    assert [(p["conversation_id"], p["state"], p["archived"]) for p in listed] == [
        ("live-1", "agent", False), ("th", "bot", True), ("en", "closed", True)]
    assert listed[2]["topics"] == ["card_charged_twice"] and listed[2]["rating"] == {"score": 4, "comment": "ok"}


def test_a_connection_postgresql_closed_while_idle_is_replaced_unnoticed(postgres, archive_database):
    url = postgres.url(archive_database)

    async def main() -> None:
        reader = ArchiveReader(url, size=1)
        try:
            assert await reader.rows("SELECT 1 AS one") == [{"one": 1}]
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as other:
                await other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert await reader.rows("SELECT 2 AS two") == [{"two": 2}], "as after a restart of PostgreSQL"
        finally:
            await reader.close()
    asyncio.run(main())


def test_the_contact_history_without_the_archive_is_what_redis_keeps(redis_url, postgres, archive_database):
    async def main() -> List[str]:
        async with fresh_prefix(redis_url, "history") as (client, prefix):
            store = Store(client, prefix)
            await client.zadd(store.key("contact-convs", "cust-1"), {"live-1": 1000})
            await client.hset(store.key("conv", "live-1"), mapping={"state": "agent"})
            down = ArchiveReader(postgres.url("no_such_database"))
            history = ArchiveHistory(RedisHistory(store), down)
            return [past.conversation_id for past in await history.conversations("cust-1")]

    assert asyncio.run(main()) == ["live-1"]
