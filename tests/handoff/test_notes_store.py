"""Notes and mention notifications (handoff.notes) against a real redis-server (tests/conftest.py): several
processes notify and mark seen at the same time, so each change is one script; a note's cap is checked by
the append that stores it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import pytest

from handoff.auth import AgentDirectory
from handoff.exceptions import TranscriptFull
from handoff.notes import MAX_MENTIONS_KEPT, NoteDesk
from handoff.store import Store
from tests.conftest import fresh_prefix


def run(redis_url: str, scenario: Callable[[NoteDesk], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "notes") as (client, prefix):
            return await scenario(NoteDesk(Store(client, prefix), AgentDirectory(client, prefix)))

    return asyncio.run(main())


def test_mentions_at_the_same_time_are_all_counted(redis_url):
    async def scenario(desk: NoteDesk) -> None:
        await desk.store.create("c1", "token")
        await asyncio.gather(*(desk._notify("bob", "c1", f"{n}-0", "ann", "Ann", f"note {n}") for n in range(1, 21)))
        [entry] = await desk.mentions("bob")
        assert entry["count"] == 20 and not entry["seen"]

    run(redis_url, scenario)


def test_a_mention_seen_is_only_the_one_the_agent_saw_never_a_newer_one(redis_url):
    async def scenario(desk: NoteDesk) -> None:
        await desk.store.create("c1", "token")
        await desk._notify("bob", "c1", "1-0", "ann", "Ann", "first")
        await desk._notify("bob", "c1", "2-0", "ann", "Ann", "second")  # arrives before bob's console says "seen"
        assert not await desk.seen("bob", "c1", "1-0"), "the mention bob saw is no longer the latest"
        assert not (await desk.mentions("bob"))[0]["seen"]
        assert await desk.seen("bob", "c1", "2-0")
        assert not await desk.seen("bob", "c1", "2-0"), "seen already"
        await desk._notify("bob", "c1", "3-0", "ann", "Ann", "third")
        # Marked seen while a new mention lands: never the new one seen.
        await asyncio.gather(desk.seen("bob", "c1", "3-0"), desk._notify("bob", "c1", "4-0", "ann", "Ann", "fourth"))
        [entry] = await desk.mentions("bob")
        assert (entry["note_id"], entry["count"], entry["seen"]) == ("4-0", 4, False)

    run(redis_url, scenario)


def test_mentions_of_expired_conversations_go_and_the_oldest_beyond_the_cap(redis_url):
    async def scenario(desk: NoteDesk) -> None:
        for n in range(MAX_MENTIONS_KEPT + 2):
            await desk.store.create(f"c{n}", "token")
            await desk._notify("bob", f"c{n}", f"{n + 1}-0", "ann", "Ann", "look")
        kept = await desk.mentions("bob")
        assert {item["conversation_id"] for item in kept} == {f"c{n}" for n in range(2, MAX_MENTIONS_KEPT + 2)}
        await desk.store.redis.delete(desk.store.key("conv", "c10"))  # expired
        await desk.store.create("new", "token")
        await desk._notify("bob", "new", "99-0", "ann", "Ann", "look")
        kept_ids = {item["conversation_id"] for item in await desk.mentions("bob")}
        assert "c10" not in kept_ids and "new" in kept_ids and "c2" in kept_ids, "the expired one went, not c2"
        raw = await desk.store.redis.hget(desk.store.key("mentions", "bob"), "new")
        assert json.loads(raw)["count"] == 1

    run(redis_url, scenario)


def test_notes_have_a_cap_of_their_own_and_a_note_resent_after_it_gets_its_id(redis_url):
    async def main() -> None:
        async with fresh_prefix(redis_url, "notes") as (client, prefix):
            store = Store(client, prefix, max_messages=3)
            desk = NoteDesk(store, AgentDirectory(client, prefix))
            await store.create("c1", "token")
            ids = [await desk.write("ann", "c1", f"note {n}", f"k{n}", []) for n in range(3)]
            assert await desk.write("ann", "c1", "note 0", "k0", []) == ids[0], "resent: its ack, not transcript_full"
            with pytest.raises(TranscriptFull):
                await desk.write("ann", "c1", "one too many", "k3", [])
            # The notes take nothing from what the customer may write.
            for n in range(3):
                await store.append("c1", "customer", f"customer:m{n}", "hello")
            with pytest.raises(TranscriptFull):
                await store.append("c1", "customer", "customer:m3", "hello")

    asyncio.run(main())
