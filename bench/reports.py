"""Reports benchmark: how long a supervisor waits for a report, by range, over a year of a busy desk's
day figures in the archive.

    python -m bench.reports                      # 365 days, 1,000 handoffs a day, 5 asks per range
    python -m bench.reports --handoffs-per-day 2000 --asks 9

A real Redis, PostgreSQL (harness/postgres.py) and bridge (DATABASE_URL set; no Rasa). The archive is
migrated by a real archiver, then filled straight in PostgreSQL (generate_series) with what a desk of
``--handoffs-per-day`` handoffs a day would leave in ``day_tallies`` and ``day_samples`` for a year
ending today: per day 40 counters (conversations, reasons, hours, per agent, SLA…) and per handoff one
time in each of four series (wait, first response, an agent's first response, handling), plus an
abandoned wait for one in ten; 400 handoffs over skill groups and claims in ``handoffs`` and
``state_changes`` a day. Then a supervisor's socket asks for a day, a week, a month, a quarter and the
year, ``--asks`` times each in turn (after one ask of each not measured); the time is from the ask sent
to the report received. Results: a Markdown table and .run/bench/reports.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List

from bench.common import markdown_table, percentile, write_result
from harness.clients import staff
from harness.postgres import running_archiver, running_postgres
from harness.servers import add_agent, running_bridge, running_redis

__all__ = ["main"]

RANGES = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 365}
COLUMNS = ["range", "days", "asks", "p50_ms", "max_ms", "report_kb"]


def fill(postgres: Any, database: str, days: int, per_day: int) -> Dict[str, int]:
    """A year of day figures and a sample of handoffs and claims, ending today (UTC)."""
    first = (datetime.now(timezone.utc).date() - timedelta(days=days - 1)).isoformat()
    statements = [
        f"""INSERT INTO day_tallies SELECT d || '-' || c, date '{first}' + d,
              (ARRAY['conversations','escalated','handoffs','handed_over','ratings','rating_sum','abandoned',
                     'sla:first','sla:reply','score:5'])[c % 10 + 1] || CASE WHEN c >= 10 THEN ':' || c ELSE '' END,
              {per_day} + c
            FROM generate_series(0, {days - 1}) AS d, generate_series(0, 39) AS c""",
        f"""INSERT INTO day_samples SELECT d || '-' || s || '-' || n, date '{first}' + d,
              (ARRAY['waits','first-response','agent-first-response','agent-handling'])[s + 1],
              CASE WHEN s >= 2 THEN 'agent' || (n % 20) END, (n * 7919) % 600000
            FROM generate_series(0, {days - 1}) AS d, generate_series(0, 3) AS s, generate_series(1, {per_day}) AS n""",
        f"""INSERT INTO day_samples SELECT d || '-a-' || n, date '{first}' + d, 'abandoned', NULL, (n * 104729) % 900000
            FROM generate_series(0, {days - 1}) AS d, generate_series(1, {max(1, per_day // 10)}) AS n""",
        f"""INSERT INTO conversations (id, started_at) SELECT 'c' || d || '-' || n, date '{first}' + d
            FROM generate_series(0, {days - 1}) AS d, generate_series(1, 400) AS n""",
        f"""INSERT INTO handoffs SELECT 'c' || d || '-' || n, 1, date '{first}' + d + interval '9 hours', 'requested',
              (ARRAY['general','cards','payments'])[n % 3 + 1], '{{}}'
            FROM generate_series(0, {days - 1}) AS d, generate_series(1, 400) AS n""",
        f"""INSERT INTO state_changes SELECT 'c' || d || '-' || n, 2, date '{first}' + d + interval '9 hours',
              'queued', 'agent', 'agent1', (ARRAY['general','cards','payments'])[n % 3 + 1], (n * 7919) % 600000, NULL
            FROM generate_series(0, {days - 1}) AS d, generate_series(1, 400) AS n""",
        "ANALYZE",
    ]
    for statement in statements:
        postgres.query(database, statement)
    counted = postgres.query(database, "SELECT (SELECT count(*) FROM day_tallies), (SELECT count(*) FROM day_samples)")
    return {"day_tallies": int(counted[0][0]), "day_samples": int(counted[0][1])}


async def ask_all(address: str, asks: int) -> List[Dict[str, Any]]:
    supervisor = await staff(address, "sue", "supervisor")
    today = datetime.now(timezone.utc).date()
    timings: Dict[str, List[float]] = {name: [] for name in RANGES}
    sizes: Dict[str, int] = {}
    for round_number in range(asks + 1):
        for name, days in RANGES.items():
            key = uuid.uuid4().hex
            started = time.perf_counter()
            await supervisor.send("report", {"from": (today - timedelta(days=days - 1)).isoformat(),
                                             "to": today.isoformat()}, id=key)
            reply = await supervisor.next_matching(lambda e: e["id"] == key and e["type"] in ("report", "error"),
                                                   f"the {name}'s report", 120)
            elapsed = (time.perf_counter() - started) * 1000
            assert reply["type"] == "report", reply
            if round_number:  # the first round warms PostgreSQL's caches
                timings[name].append(elapsed)
            sizes[name] = len(str(reply["data"]))
    await supervisor.close()
    return [{"range": name, "days": RANGES[name], "asks": asks, "p50_ms": percentile(timings[name], 0.5),
             "max_ms": max(timings[name]), "report_kb": round(sizes[name] / 1024, 1)} for name in RANGES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs-per-day", type=int, default=1000)
    parser.add_argument("--asks", type=int, default=5)
    options = parser.parse_args()
    prefix, database = f"benchrep{uuid.uuid4().hex[:6]}", "reports"
    with running_redis("redis-bench-reports") as redis_server, running_postgres("postgres-bench-reports") as postgres:
        url = postgres.create_database(database)
        with running_archiver(redis_server.url, url, prefix):  # applies the migrations
            deadline = time.monotonic() + 60
            while postgres.query(database, "SELECT to_regclass('day_tallies') IS NOT NULL") != [["t"]]:
                assert time.monotonic() < deadline, "the archiver never migrated the archive"
                time.sleep(0.2)
        started = time.perf_counter()
        rows = fill(postgres, database, RANGES["year"], options.handoffs_per_day)
        fill_seconds = round(time.perf_counter() - started, 1)
        add_agent(redis_server.url, prefix, "sue", "--roles", "supervisor")
        with running_bridge(redis_server.url, "http://127.0.0.1:9", "bridge-bench-reports", prefix, DATABASE_URL=url,
                            HANDOFF_TIMEZONE="UTC", HANDOFF_REPORT_TIMEOUT_MS="60000") as address:
            results = asyncio.run(ask_all(address, options.asks))
    print(f"archive: {rows['day_tallies']:,} day_tallies, {rows['day_samples']:,} day_samples (filled in {fill_seconds} s)")
    print(markdown_table(results, COLUMNS))
    path = write_result("reports", {"handoffs_per_day": options.handoffs_per_day, "rows": rows, "results": results})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
