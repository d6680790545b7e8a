"""The day's figures in the archive (archive/day_facts.py): every step that adds to the day's counters or
lists appends what it added to the outbox, and the archive's rows sum to what Redis holds, whatever is
replayed (bridge environment: ``$BRIDGE_VENV/bin/python -m pytest tests/archive/test_day_figures.py``)."""

from __future__ import annotations

import asyncio
import json
from typing import Dict, List, Tuple

import psycopg

from archive.facts import rows_of
from archive.migrate import migrate
from archive.writer import write
from handoff.machine import AgentClaimed, CustomerAskedForPerson, apply
from handoff.labels import LabelDesk
from handoff.sla import Sla
from handoff.sla_rules import Target
from handoff.store import Store
from tests.archive.test_outbox import outbox_of, query, run

DAY = "2026-03-14"


def test_tallies_and_samples_become_rows_keyed_by_their_entry():
    batch = rows_of([
        ("1-0", {"fact": "tally", "day": DAY, "counts": json.dumps({"conversations": 1, "hour:09:conversations": 1})}),
        ("2-0", {"fact": "sample", "day": DAY, "series": "waits", "value": "4200"}),
        ("3-0", {"fact": "sample", "day": DAY, "series": "agent-handling", "value": "ann|b|61000"}),
    ])
    assert [(t.outbox_id, t.day.isoformat(), t.name, t.amount) for t in batch.tallies] == [
        ("1-0", DAY, "conversations", 1), ("1-0", DAY, "hour:09:conversations", 1)]
    assert [(s.outbox_id, s.series, s.agent, s.ms) for s in batch.samples] == [
        ("2-0", "waits", None, 4200), ("3-0", "agent-handling", "ann|b", 61000)], "an agent's name may hold a bar"


def test_a_tally_or_sample_the_archive_cannot_read_is_kept_aside():
    batch = rows_of([
        ("1-0", {"fact": "tally", "day": "14/03/2026", "counts": '{"conversations": 1}'}),
        ("2-0", {"fact": "tally", "day": DAY, "counts": '{"conversations": "1"}'}),
        ("3-0", {"fact": "sample", "day": DAY, "series": "moods", "value": "1"}),
        ("4-0", {"fact": "sample", "day": DAY, "series": "agent-first-response", "value": "1200"}),
        ("5-0", {"fact": "sample", "day": DAY, "series": "waits", "value": "-5"}),
    ])
    assert [(r.outbox_id, r.error) for r in batch.rejected] == [
        ("1-0", "day is not a date: '14/03/2026'"), ("2-0", "counter 'conversations' has no whole amount"),
        ("3-0", "unknown series 'moods'"), ("4-0", "not a time of series agent-first-response: '1200'"),
        ("5-0", "not a time of series waits: '-5'")]
    assert not batch.tallies and not batch.samples


async def a_counted_day(store: Store) -> None:
    """Every way the bridge adds to a day's counters and lists (handoff.service, experience, sla)."""
    conversation = await store.create("c1", "token")
    await store.append("c1", "customer", "customer:k1", "my card is stuck",
                       count_once=("counted:" + DAY, DAY, ["conversations", "hour:09:conversations"]))
    await store.append("c1", "customer", "customer:k2", "hello?",
                       count_once=("counted:" + DAY, DAY, ["conversations", "hour:09:conversations"]))
    await store.count(DAY, {"handoffs": 1, "reason:customer_asked": 1, "hour:09:handoffs": 1})
    await store.count_once("c1", "escalated:" + DAY, DAY, ["escalated"])
    await store.count_once("c1", "escalated:" + DAY, DAY, ["escalated"])  # once per conversation and day
    queued = await store.commit(conversation, apply(conversation, CustomerAskedForPerson(handoff={}))[0], queue="add")
    assert queued is not None
    claimed = await store.commit(queued, apply(queued, AgentClaimed("ann"))[0], queue="remove", day=DAY,
                                 counters=["agent:ann:taken"])
    assert claimed is not None
    await store.record_day_wait(DAY, 4200)
    await store.record_day_sample(DAY, "agent-first-response", "ann|9000")
    sla = Sla(store, {"default": Target(first_seconds=1, reply_seconds=1)})
    assert await sla.agent_replied("c1", "ann", DAY, 10**13) == ["first"]
    labels = LabelDesk(store)
    kept, dropped = await labels.save(None, "Card stuck", "#1f6feb"), await labels.save(None, "Spam", "#cc0000")
    for label_id in (kept, dropped):
        await labels.set_on("c1", label_id, True, DAY)
    await labels.set_on("c1", dropped, False, DAY)  # taken off the same day: counted no more


def test_the_archive_sums_to_the_day_redis_counted_whatever_is_replayed(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    async def collect(store: Store) -> Tuple[Dict[str, int], List[Tuple[str, Dict[str, str]]]]:
        await a_counted_day(store)
        counters, _ = await store.day(DAY)
        return counters, await outbox_of(store)

    counters, entries = run(redis_url, collect)
    assert counters["conversations"] == 1 and counters["escalated"] == 1 and counters["sla:first:agent:ann"] == 1
    assert sorted(value for name, value in counters.items() if name.startswith("label:")) == [0, 1]

    async def archive() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
            await write(connection, rows_of(entries[len(entries) // 2:]))
            await write(connection, rows_of(entries))

    asyncio.run(archive())
    archived = dict(query(url, f"SELECT name, sum(amount)::int FROM day_tallies WHERE day = '{DAY}' GROUP BY name"))
    assert archived == counters
    assert sorted(query(url, "SELECT series, agent, ms FROM day_samples")) == [
        ("agent-first-response", "ann", 9000), ("waits", None, 4200)]
