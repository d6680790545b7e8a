"""Forgetting a customer in every store, the archive's tombstones against an archiver mid-batch, and the
archive's retention sweep (bridge environment: ``$BRIDGE_VENV/bin/python -m pytest tests/archive``).

Real Redis, real PostgreSQL, the real archiver and the store's own scripts; Rasa's tracker keys, the
teaching inbox's and the suggestion index's are written by those stores' own classes in the bot's
environment, so here they are written in their documented layouts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List, Set, Tuple

import psycopg
from redis.asyncio import Redis

from archive.archiver import Archiver
from archive.forget import RETENTION_LOCK, archive_entries, audit_key, sweep
from handoff.contacts import ContactBook
from handoff.exceptions import ConversationNotFound
from handoff.archive_reader import writing
from handoff.forget import ArchiveWriter, Forgetter, Stores
from handoff.history import RedisHistory
from handoff.identity import Identity
from handoff.machine import AgentClaimed, Closed, CustomerAskedForPerson, CustomerRated, apply
from handoff.rules import notices
from handoff.store import Store
from tests.conftest import fresh_prefix

HANDOFF = {"reason": "customer_asked", "summary": "parcel never arrived"}


def archive_writer(url: str) -> ArchiveWriter:
    """How the CLI reaches the archive: a write connection of its own (the bridge's: ArchiveReader.writing)."""
    return lambda: writing(url, 60_000)


async def a_conversation(store: Store, book: ContactBook, conversation_id: str, identity: Identity,
                         words: str) -> None:
    """A signed customer's conversation: bot turn, handoff, claim, agent reply and note, close, rating."""
    conversation = await store.create(conversation_id, "token")
    assert await book.link(conversation_id, identity, int(time.time() * 1000))
    conversation = await store.load(conversation_id)
    said = await store.append(conversation_id, "customer", "customer:k1", f"my {words} never arrived")
    await store.answer(conversation_id, said.id, [{"text": "Sorry to hear that."}], routed=True)
    queued = await store.commit(conversation, apply(conversation, CustomerAskedForPerson(handoff=HANDOFF))[0],
                                queue="add")
    assert queued is not None
    claimed = await store.commit(queued, apply(queued, AgentClaimed("ann"))[0], queue="remove")
    assert claimed is not None
    await store.append(conversation_id, "agent", "agent:ann:r1", f"I will trace the {words} now.")
    await store.append(conversation_id, "note", "note:ann:n1", f"{words}: courier says delivered")
    closing, effects = apply(claimed, Closed("ann"))
    closed = await store.commit(claimed, closing, notices=notices(claimed.version + 1, effects),
                                extra_fields=["disposition", "resolved", "closing_note", f"{words} traced"])
    assert closed is not None
    rated = await store.commit(closed, apply(closed, CustomerRated(4, f"thanks for the {words}"))[0],
                               extra_fields=["rating", json.dumps({"score": 4, "comment": f"thanks for the {words}"})])
    assert rated is not None
    await store.store_rating(conversation_id, "ann", 4, f"thanks for the {words}")


async def other_stores(redis: Redis, stores: Stores, conversation_id: str, words: str) -> None:
    """What Rasa's tracker store, the teaching inbox and the suggestion index keep of a conversation."""
    tracker = f"{stores.tracker_prefix}:{{tracker:{conversation_id}}}"
    await redis.rpush(f"{tracker}:events", json.dumps({"event": "user", "text": f"my {words} never arrived"}))
    await redis.set(f"{tracker}:window", json.dumps({"start": 0}))
    teach = stores.teach_prefix
    item = uuid.uuid4().hex
    candidate = {"message_id": item, "text": f"my {words} never arrived", "conversation_id": conversation_id}
    await redis.xadd(f"{teach}:incoming", {"json": json.dumps(candidate)})
    await redis.hset(f"{teach}:item:{item}", mapping={**candidate, "id": item, "state": "open"})
    await redis.zadd(f"{teach}:open", {item: time.time()})
    await redis.set(f"{teach}:groups", json.dumps({"groups": [{"id": "g", "size": 1, "items": [
        {**candidate, "id": item}]}], "open": 1}))
    await redis.hset(f"{stores.suggestions_prefix}:{{suggest}}:replies", f"{conversation_id}:1-0",
                     json.dumps({"reply": f"I will trace the {words} now."}))
    await redis.zadd(f"{stores.suggestions_prefix}:{{suggest}}:order", {f"{conversation_id}:1-0": 1})


async def redis_text(redis: Redis) -> Dict[str, str]:
    """Every key and everything it holds, as text: key -> its values."""
    found: Dict[str, str] = {}
    async for raw_key in redis.scan_iter(count=1000):
        key = raw_key.decode()
        kind = (await redis.type(key)).decode()
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            value = kind
        found[key] = repr(value)
    return found


def postgres_text(url: str) -> Dict[str, str]:
    """Every row of every table, as text: table -> its rows."""
    with psycopg.connect(url) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        return {table: repr(connection.execute(f'SELECT t::text FROM "{table}" t').fetchall()) for table in tables}


def left(needles: Set[str], texts: Dict[str, str]) -> List[Tuple[str, str]]:
    return [(needle, where) for where, text in texts.items() for needle in needles
            if needle in where or needle in text]


async def archive_everything(redis: Redis, url: str, prefix: str) -> None:
    archiver = Archiver(redis, url, prefix, consumer="test", block_ms=100, linger_ms=0)
    stop = asyncio.Event()
    await archiver.start(stop)
    while entries := await archiver._next_entries():
        await archiver._archive(entries, stop)
    await archiver.connection.close()  # type: ignore[union-attr]


def test_forgetting_a_contact_leaves_nothing_of_them_in_any_store(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)
    tag = uuid.uuid4().hex[:8]
    forgotten = Identity(id=f"cust-{tag}", name=f"Zelda Quixote{tag}", email=f"zelda{tag}@example.org",
                         issued_at=0)
    kept = Identity(id=f"keep-{tag}", name=f"Kim Kept{tag}", email=f"kim{tag}@example.org", issued_at=0)
    ids = [f"conv-a-{tag}", f"conv-b-{tag}"]
    words = [f"zebraparcel{tag}", f"quokkalamp{tag}"]

    async def main() -> Tuple[Dict[str, str], Dict[str, int], Dict[str, str], List[Any]]:
        async with fresh_prefix(redis_url, "forget") as (client, prefix):
            stores = Stores(prefix=prefix, tracker_prefix=f"{prefix}-support", suggestions_prefix=f"{prefix}-support",
                            teach_prefix=f"{prefix}-teach")
            store = Store(client, prefix, outbox_cap=10_000)
            book = ContactBook(store, "secret", RedisHistory(store))
            await a_conversation(store, book, ids[0], forgotten, words[0])
            await archive_everything(client, url, prefix)  # the first one archived ...
            await a_conversation(store, book, ids[1], forgotten, words[1])  # ... the second still in the outbox
            await a_conversation(store, book, f"conv-k-{tag}", kept, f"keptword{tag}")
            for conversation_id, said in zip(ids, words):
                await other_stores(client, stores, conversation_id, said)
            await client.hset(f"{prefix}:mail:{ids[0]}", mapping={"state": "sent", "to": forgotten.email})
            recipient = f"{prefix}:mail-day:recipient:{hashlib.sha256(forgotten.email.encode()).hexdigest()[:32]}:20000"
            await client.set(recipient, 1)  # the transcript mail's cap per recipient (handoff.mail)
            await client.set(f"{prefix}:window:uploads:conv-{ids[1]}:2990000", 1)  # its uploads' window (handoff.limits)
            counts = await Forgetter(client, stores, archive_writer(url)).forget("sue", contact_id=forgotten.id)
            assert not await client.exists(recipient)
            await archive_everything(client, url, prefix)  # what the outbox still had: never written
            everything = {key: text for key, text in (await redis_text(client)).items()
                          if key.startswith(prefix)}
            audit = await client.xrange(audit_key(prefix))
            return everything, counts, postgres_text(url), audit

    in_redis, counts, in_postgres, audit = asyncio.run(main())
    needles = {forgotten.id, forgotten.name, forgotten.email, *ids, *words}
    assert left(needles, in_redis) == [], "nothing of the customer in Redis"
    assert left(needles, in_postgres) == [], "nothing of the customer in PostgreSQL"
    assert any(f"keptword{tag}" in text for text in in_redis.values()), "another customer's conversation stays"
    assert f"keptword{tag}" in in_postgres["messages"] and kept.email in in_postgres["contacts"]
    assert counts["conversations"] == 2 and counts["archived_conversations"] == 1
    assert counts["messages"] == 2 * 6 and counts["archived_messages"] == 6
    assert counts["tracker_keys"] == 4 and counts["inbox_items"] == 2 and counts["suggestions"] == 2
    [(_, entry)] = audit
    assert {k.decode(): v.decode() for k, v in entry.items() if k != b"at"} == {
        "who": "sue", "what": "contact", "counts": json.dumps(counts, sort_keys=True)}
    assert left(needles, {"audit": repr(audit)}) == []


def test_a_forget_while_the_archiver_is_mid_batch_still_leaves_nothing(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    async def main() -> Dict[str, str]:
        async with fresh_prefix(redis_url, "forget-race") as (client, prefix):
            store = Store(client, prefix, outbox_cap=10_000)
            await store.create("c1", "token")
            for index in range(20):
                await store.append("c1", "customer", f"customer:k{index}", f"secret words {index}")
            archiver = Archiver(client, url, prefix, consumer="slow", block_ms=100, linger_ms=0)
            stop = asyncio.Event()
            await archiver.start(stop)
            batch = await archiver._next_entries()  # read, not written yet
            assert len(batch) == 20
            await Forgetter(client, Stores(prefix=prefix), archive_writer(url)).forget("sue", conversation_id="c1")
            assert await client.xlen(store.key("outbox")) == 0, "the forget deleted the entries not archived"
            await archiver._archive(batch, stop)  # the batch it held: skipped, acknowledged
            pending = (await client.xpending(store.key("outbox"), "archive"))["pending"]
            assert pending == 0
            await archiver.connection.close()  # type: ignore[union-attr]
            return postgres_text(url)

    in_postgres = asyncio.run(main())
    assert left({"c1", "secret words"}, {t: v for t, v in in_postgres.items() if t != "schema_migrations"}) == []
    assert in_postgres["forgotten_conversations"] != "[]", "the tombstone, a digest"


def test_a_forget_waits_for_a_batch_being_written_and_then_deletes_it(redis_url, postgres, archive_database):
    """The other order: the archiver's transaction holds the forget lock (shared) when the forget starts."""
    url = postgres.url(archive_database)

    async def main() -> Dict[str, str]:
        async with fresh_prefix(redis_url, "forget-order") as (client, prefix):
            store = Store(client, prefix, outbox_cap=10_000)
            await store.create("c1", "token")
            await store.append("c1", "customer", "customer:k1", "secret words")
            archiver = Archiver(client, url, prefix, consumer="slow", block_ms=100, linger_ms=0)
            stop = asyncio.Event()
            await archiver.start(stop)
            batch = await archiver._next_entries()
            connection = archiver.connection
            assert connection is not None
            async with connection.transaction():  # a batch mid-write: the lock held shared, rows written
                await archive_entries(connection, batch)
                forgetting = asyncio.create_task(
                    Forgetter(client, Stores(prefix=prefix), archive_writer(url)).forget("sue", conversation_id="c1"))
                await asyncio.sleep(0.5)
                assert not forgetting.done(), "the forget waits for the batch's transaction"
            await forgetting
            await connection.close()
            return postgres_text(url)

    in_postgres = asyncio.run(main())
    assert left({"c1", "secret words"}, {t: v for t, v in in_postgres.items() if t != "schema_migrations"}) == []


def test_the_retention_sweep_deletes_old_conversations_one_archiver_at_a_time(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    async def main() -> Tuple[Any, Any, Dict[str, str]]:
        async with fresh_prefix(redis_url, "retention") as (client, prefix):
            store = Store(client, prefix, outbox_cap=10_000)
            for conversation_id in ("old1", "old2", "old3", "new1"):
                await store.create(conversation_id, "token")
                await store.append(conversation_id, "customer", "customer:k1", f"words of {conversation_id}")
            await archive_everything(client, url, prefix)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                await connection.execute("UPDATE conversations SET started_at = now() - interval '40 days', "
                                         "last_message_at = now() - interval '31 days' WHERE id LIKE 'old%%'")
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as other:
                    await other.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))
                    busy = await sweep(connection, 30)  # another archiver is sweeping
                    await other.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))
                done = await sweep(connection, 30, batch_size=2)
            # the archiver's hourly sweep: nothing older left, audited all the same
            archiver = Archiver(client, url, prefix, consumer="sweeper", retention_days=30)
            again = await archiver.sweep(asyncio.Event())
            await archiver.connection.close()  # type: ignore[union-attr]
            [(_, audit)] = await client.xrange(audit_key(prefix))
            assert {k.decode(): v.decode() for k, v in audit.items() if k != b"at"} == {
                "who": "retention", "what": "retention", "counts": json.dumps(again, sort_keys=True)}
            return busy, done, postgres_text(url)

    busy, done, in_postgres = asyncio.run(main())
    assert busy is None
    assert done == {"archived_conversations": 3, "archived_contacts": 0, "archived_rejected_facts": 0}
    assert "old1" not in in_postgres["messages"] and "words of new1" in in_postgres["messages"]


def test_forgetting_what_no_store_keeps_is_refused_and_not_audited(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    async def main() -> int:
        async with fresh_prefix(redis_url, "forget-none") as (client, prefix):
            forgetter = Forgetter(client, Stores(prefix=prefix), archive_writer(url))
            for asked in ({"contact_id": "nobody"}, {"conversation_id": "no-such-conversation"}):
                try:
                    await forgetter.forget("sue", **asked)
                except ConversationNotFound:
                    pass
                else:
                    raise AssertionError(f"{asked} was forgotten")
            return int(await client.xlen(audit_key(prefix)))

    assert asyncio.run(main()) == 0


def test_make_forget_reaches_the_archive_on_a_connection_of_its_own(redis_url, postgres, archive_database):
    """``python -m handoff.forget`` (``make forget``): without the bridge's settings, from its environment."""
    url = postgres.url(archive_database)

    def forget(prefix: str) -> "subprocess.CompletedProcess[str]":
        environment = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": url, "HANDOFF_KEY_PREFIX": prefix}
        environment.pop("HANDOFF_SECRET", None)
        return subprocess.run([sys.executable, "-m", "handoff.forget", "--conversation", "c-cli"], env=environment,
                              capture_output=True, text=True, timeout=60)

    async def main() -> Tuple["subprocess.CompletedProcess[str]", "subprocess.CompletedProcess[str]"]:
        async with fresh_prefix(redis_url, "forget-cli") as (client, prefix):
            store = Store(client, prefix)
            await store.create("c-cli", "token")
            await store.append("c-cli", "customer", "customer:k1", "where is my parcel")
            return forget(prefix), forget(prefix)

    done, again = asyncio.run(main())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["messages"] == 1
    assert postgres.query(archive_database, "SELECT count(*) FROM forgotten_conversations WHERE digest = "
                          f"'\\x{hashlib.sha256(b'c-cli').hexdigest()}'") == [["1"]], "its tombstone, written by the CLI"
    assert again.returncode == 1 and "no store keeps" in again.stderr
