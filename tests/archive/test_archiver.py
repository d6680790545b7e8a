"""The archiver in-process against a real Redis and PostgreSQL (bridge environment:
``$BRIDGE_VENV/bin/python -m pytest tests/archive``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, List, Tuple

import psycopg
from redis.asyncio import Redis

from archive.archiver import GROUP, Archiver, trim_bound
from archive.migrate import available, migrate
from handoff.store import Store
from harness.servers import RedisServer, started
from tests.conftest import fresh_prefix


def query(url: str, sql: str) -> List[Tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def test_the_trim_bound_keeps_what_any_group_still_needs():
    assert trim_bound([]) is None
    # nothing pending: everything up to the last delivered entry may go
    assert trim_bound([(0, "17-3", None)]) == "17-4"
    # pending entries are kept, and so is what another group has not read yet
    assert trim_bound([(2, "20-0", "15-1"), (0, "18-0", None)]) == "15-1"
    assert trim_bound([(0, "20-0", None), (0, "9-9", None)]) == "9-10"
    assert trim_bound([(0, "0-0", None)]) == "0-1", "a group that has read nothing keeps everything"


def test_several_archivers_starting_at_once_migrate_once(postgres, archive_database):
    url = postgres.url(archive_database)

    async def start() -> List[str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            return await migrate(connection)

    async def main() -> List[List[str]]:
        return list(await asyncio.gather(*(start() for _ in range(4))))

    applied = asyncio.run(main())
    versions = [version for version, _ in available()]
    assert sorted(applied) == [[], [], [], versions]
    assert query(url, "SELECT version FROM schema_migrations ORDER BY version") == [(v,) for v in versions]


def test_a_dead_archivers_batch_is_taken_over_and_the_outbox_trimmed(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    async def main() -> Tuple[List[str], int, int, int]:
        async with fresh_prefix(redis_url, "archiver") as (client, prefix):
            store = Store(client, prefix, outbox_cap=10_000)
            await store.create("c1", "token")
            for index in range(30):
                await store.append("c1", "customer", f"customer:k{index}", f"message {index}")
            dead = Archiver(client, url, prefix, consumer="dead", batch_size=20, claim_idle_ms=300)
            stop = asyncio.Event()
            await dead.start(stop)
            taken = await dead._next_entries()  # read, then killed before writing: pending, never acknowledged
            assert len(taken) == 20
            await dead.connection.close()
            survivor = Archiver(client, url, prefix, consumer="survivor", batch_size=20, claim_idle_ms=300,
                                block_ms=100, trim_every_seconds=0.1)
            running = asyncio.create_task(survivor.run(stop))
            await asyncio.sleep(1.5)
            stop.set()
            await running
            pending = (await client.xpending(store.key("outbox"), GROUP))["pending"]
            transcript = [message["id"] for message in await store.messages_after("c1", None)]
            return transcript, survivor.archived, pending, await client.xlen(store.key("outbox"))

    transcript, archived, pending, left = asyncio.run(main())
    assert archived == 30 and pending == 0
    assert [row[0] for row in query(url, "SELECT id FROM messages ORDER BY position")] == transcript
    assert left <= 1, "archived entries are trimmed (at most the last one delivered stays)"


def test_redis_restarting_does_not_stop_the_archiver(tmp_path, postgres, archive_database):
    url = postgres.url(archive_database)
    redis_server = RedisServer("archive-redis", data_dir=tmp_path)

    async def main() -> int:
        client = Redis.from_url(redis_server.url)
        store = Store(client, "restart", outbox_cap=10_000)
        await store.create("c1", "token")
        archiver = Archiver(client, url, "restart", batch_size=20, block_ms=100)
        stop = asyncio.Event()
        running = asyncio.create_task(archiver.run(stop))
        for index in range(5):
            await store.append("c1", "customer", f"customer:a{index}", f"before {index}")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(redis_server.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_server.start)
        for index in range(5):
            await store.append("c1", "customer", f"customer:b{index}", f"after {index}")
        deadline = time.monotonic() + 30
        while archiver.archived < 10 and time.monotonic() < deadline and not running.done():
            await asyncio.sleep(0.1)
        stop.set()
        await running
        await client.aclose()
        return archiver.archived

    with started(redis_server):
        assert asyncio.run(main()) == 10
    assert query(url, "SELECT count(*) FROM messages") == [(10,)]


def test_an_entry_postgresql_refuses_is_kept_aside_and_the_rest_of_its_batch_written(redis_url, postgres,
                                                                                    archive_database):
    url = postgres.url(archive_database)
    good = {"fact": "message", "conv": "c1", "id": "1700000000000-0", "kind": "customer", "text": "hello",
            "data": "{}", "key": "customer:k1", "ts": "1700000000000"}
    # a version beyond PostgreSQL's integer: Python reads it, PostgreSQL refuses the row
    refused = {"fact": "state", "conv": "c2", "version": "3000000000", "at": "1700000000000", "from": "bot",
               "handled_ms": "", "rated": "", "conversation": '{"state": "queued"}'}
    late = {**good, "fact": "message", "id": "1700000000001-0", "text": "still here", "key": "customer:k2"}

    async def main() -> None:
        async with fresh_prefix(redis_url, "refused") as (client, prefix):
            archiver = Archiver(client, url, prefix)
            stop = asyncio.Event()
            await archiver.start(stop)
            await archiver._archive([("1-0", good), ("2-0", refused), ("3-0", late)], stop)
            await archiver.connection.close()
            assert archiver.archived == 3

    asyncio.run(main())
    assert query(url, "SELECT text FROM messages ORDER BY position") == [("hello",), ("still here",)]
    [(outbox_id, fields, error)] = query(url, "SELECT outbox_id, fields, error FROM rejected_facts")
    assert outbox_id == "2-0" and fields == refused and error.startswith("refused: ")
