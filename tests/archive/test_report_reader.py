"""Reading a report's figures from a real PostgreSQL (handoff.report_reader): the day counters summed, the
times summarised per day, range and agent (nearest rank), skill groups on the business's dates, and every
way the archive may fail as ``archive_unavailable`` (bridge environment, psycopg 3)."""

from __future__ import annotations

import asyncio
from datetime import date

import psycopg
import pytest

from archive.migrate import migrate
from handoff.archive_reader import ArchiveReader
from handoff.exceptions import ArchiveUnavailable
from handoff.report_reader import read_figures
from handoff.reports import GroupFigures, ReportRange, Spread

SPAN = ReportRange(date(2026, 3, 13), date(2026, 3, 14))


def figures(url: str, zone: str, timeout_ms: int):
    """read_figures through a pool of the bridge's kind (its search timeout far shorter than a report's)."""
    async def main():
        reader = ArchiveReader(url, size=1, statement_timeout_ms=100)
        try:
            return await read_figures(reader, SPAN, zone, timeout_ms)
        finally:
            await reader.close()

    return asyncio.run(main())


def prepare(url: str, *statements: str) -> None:
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await migrate(connection)
            for statement in statements:
                await connection.execute(statement.encode())

    asyncio.run(main())


def test_the_figures_of_a_range(postgres, archive_database):
    url = postgres.url(archive_database)
    prepare(url, """
        INSERT INTO day_tallies VALUES ('1-0', '2026-03-13', 'conversations', 1), ('2-0', '2026-03-13', 'conversations', 1),
          ('3-0', '2026-03-14', 'conversations', 1), ('4-0', '2026-03-15', 'conversations', 1),
          ('5-0', '2026-03-14', 'agent:ann:taken', 1)""", """
        INSERT INTO day_samples VALUES ('6-0', '2026-03-13', 'waits', NULL, 1000), ('7-0', '2026-03-13', 'waits', NULL, 5000),
          ('8-0', '2026-03-14', 'waits', NULL, 9000), ('9-0', '2026-03-14', 'agent-handling', 'ann', 60000),
          ('10-0', '2026-03-14', 'agent-handling', 'bob', 30000), ('11-0', '2026-03-12', 'waits', NULL, 99000)""", """
        INSERT INTO conversations (id, started_at) VALUES ('c1', '2026-03-13 10:00Z'), ('c2', '2026-03-13 10:00Z')""", """
        INSERT INTO handoffs VALUES ('c1', 1, '2026-03-13 10:00Z', 'asked', 'cards', '{}'),
          ('c2', 1, '2026-03-14 23:30Z', 'asked', 'cards', '{}')""", """
        INSERT INTO state_changes VALUES ('c1', 2, '2026-03-13 10:01Z', 'queued', 'agent', 'ann', 'cards', 60000, NULL)""")
    tallies, times, groups = figures(url, "Europe/London", 5000)
    assert sorted(tallies) == [(date(2026, 3, 13), "conversations", 2), (date(2026, 3, 14), "agent:ann:taken", 1),
                               (date(2026, 3, 14), "conversations", 1)], "summed per day; the day after is left out"
    assert times.by_day[date(2026, 3, 13)]["waits"] == Spread(2, 1000, 5000)
    assert times.total["waits"] == Spread(3, 5000, 9000), "over all the range's times, nearest rank"
    assert times.total["agent-handling"] == Spread(2, 30000, 60000)
    assert times.by_agent["agent-handling"] == {"ann": Spread(1, 60000, 60000), "bob": Spread(1, 30000, 30000)}
    assert groups == [GroupFigures("cards", 2, 1, 60000, 60000)], "23:30 UTC on the 14th is the 14th in London (GMT)"
    _, _, in_auckland = figures(url, "Pacific/Auckland", 5000)
    assert in_auckland == [GroupFigures("cards", 1, 1, 60000, 60000)], "the 14th 23:30 UTC is the 15th in Auckland"


def test_no_archive_an_unreachable_one_or_a_slow_report_is_archive_unavailable(postgres, archive_database):
    with pytest.raises(ArchiveUnavailable, match="DATABASE_URL"):
        asyncio.run(read_figures(None, SPAN, "UTC", 5000))
    with pytest.raises(ArchiveUnavailable, match="did not answer"):
        figures("postgresql://nobody:x@127.0.0.1:9/none", "UTC", 1000)
    url = postgres.url(archive_database)
    with pytest.raises(ArchiveUnavailable, match="did not answer"):  # no archiver has migrated it yet
        figures(url, "UTC", 5000)
    prepare(url, """
        INSERT INTO day_samples SELECT 's' || n, date '2026-03-13' + (n % 2), 'waits', NULL, n
        FROM generate_series(1, 400000) AS n""")
    with pytest.raises(ArchiveUnavailable, match="longer than 1 ms"):
        figures(url, "UTC", 1)
