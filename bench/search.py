"""Search benchmark: the latency of the bridge's search queries (handoff/search.py, the SQL the ``search``
message runs: a page of conversations, then their matching lines) over a generated archive.

    python -m bench.search                        # 20,000 messages (CI size)
    python -m bench.search --messages 1000000     # the published figure (docs/benchmarks.md "Search")

A throw-away PostgreSQL (harness/postgres.py), the corpus of bench/search_corpus.py loaded with COPY,
then each query ``--repeats`` times in turn (warm cache, as a desk searching all day has it), a
supervisor's scope (every conversation), the first page of 20: a common word, a rare word (in 20 messages
of all), a filter-only query (an agent and a 30-day range), a Thai substring (matched inside words by
the trigram index), and the common word on the page 10 deep. Results: a Markdown table and
.run/bench/search.json.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import psycopg2

from bench.common import latency_summary, markdown_table, write_result
from bench.search_corpus import RARE_WORD, load_corpus
from handoff.search import Scope, among_hits, hits_sql, lines_sql, search_request, search_sql
from harness.postgres import running_postgres

__all__ = ["main"]

COLUMNS = ["query", "results", "count", "p50_ms", "p99_ms", "max_ms"]
EVERYTHING = Scope("", (), everything=True)


def queries() -> Dict[str, Dict[str, Any]]:
    now = datetime.now(timezone.utc)
    month_ago = int((now - timedelta(days=30)).timestamp() * 1000)
    return {
        "common word (card)": {"words": "card"},
        f"rare word ({RARE_WORD})": {"words": RARE_WORD},
        "filter only (agent, 30 days)": {"agent": "agent07", "since": month_ago},
        "Thai substring (ระงับ)": {"words": "ระงับ"},
        "common word, page 10 (offset 180)": {"words": "card", "offset": 180},
    }


def timed_search(connection: Any, data: Dict[str, Any]) -> tuple:
    """The three queries one ``search`` with words runs (ArchiveSearch.search), timed together."""
    request = search_request(data)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        among = None
        if request.words:
            cursor.execute(*hits_sql(request))
            among = among_hits([row[0] for row in cursor.fetchall()])
        cursor.execute(*search_sql(request, EVERYTHING, among))
        found = cursor.fetchall()[: request.size]
        if request.words and found:
            cursor.execute(*lines_sql(request, [row[0] for row in found]))
            cursor.fetchall()
    return (time.perf_counter() - started) * 1000, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with running_postgres("bench-search-postgres") as server:
        database = "bench_search"
        server.create_database(database)
        started = time.monotonic()
        counts = load_corpus(server, database, args.messages)
        load_seconds = time.monotonic() - started
        print(f"loaded {counts['messages']:,} messages of {counts['conversations']:,} conversations in {load_seconds:.0f} s")
        size = server.query(database, "SELECT pg_size_pretty(pg_total_relation_size('messages'))")[0][0]
        connection = psycopg2.connect(server.url(database))
        connection.autocommit = True
        timings: Dict[str, List[float]] = {name: [] for name in queries()}
        results: Dict[str, int] = {}
        for _ in range(args.repeats):
            for name, data in queries().items():
                milliseconds, found = timed_search(connection, data)
                timings[name].append(milliseconds)
                results[name] = found
        connection.close()
    rows = [{"query": name, "results": results[name], **latency_summary(values)} for name, values in timings.items()]
    print(markdown_table(rows, COLUMNS))
    path = write_result("search", {"messages": counts["messages"], "conversations": counts["conversations"],
                                   "load_seconds": round(load_seconds, 1), "messages_table": size, "rows": rows})
    print(f"messages table with its indexes: {size}; results in {path}")


if __name__ == "__main__":
    main()
