"""Reports in chromium: a supervisor opens Reports, asks for last month and exports it to CSV; the
downloaded file (UTF-8 with a byte order mark, one section per table) has the archive's figures, and an
agent's name that a spreadsheet would run as a formula is written as text (docs/bridge-protocol.md
"Reports", README "Reports"). A bridge of its own with an archive whose month of day figures is written
straight into PostgreSQL (as the archiver writes them: archive/day_facts.py)."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Dict, Iterator, List, Tuple

import pytest
from playwright.sync_api import BrowserContext, expect

from harness.postgres import PostgresServer, running_archiver
from harness.servers import add_agent, delete_prefixed_keys, running_bridge
from tests.browser.conftest import log_in, screenshot, watch_for_errors

__all__: list = []

FORMULA_AGENT = '=HYPERLINK("http://example.com","x")'
# Reasons a spreadsheet would misread (formulas) or split (a comma, quotes): each written as one text cell.
ODD_REASONS = ["+1+2", "-3", "@SUM(A1)", 'late, "very"']


def last_month() -> Tuple[date, date]:
    first_of_this = datetime.now(timezone.utc).date().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


def seed(postgres: PostgresServer, database: str) -> List[Dict[str, int]]:
    """Day figures for each day of last month: conversations 10 + n, handoffs n % 4 (all "customer_asked"),
    one wait of n + 1 seconds, one rating of 3 + n % 3; an agent with a formula for a name took one chat."""
    first, last = last_month()
    days, tallies, samples = [], [], []
    for n in range((last - first).days + 1):
        day = (first + timedelta(days=n)).isoformat()
        figures = {"conversations": 10 + n, "escalated": n % 4, "handoffs": n % 4, "reason:customer_asked": n % 4,
                   "ratings": 1, "rating_sum": 3 + n % 3, f"score:{3 + n % 3}": 1}
        days.append(figures)
        tallies += [f"('t{n}', '{day}', '{name}', {amount})" for name, amount in figures.items()]
        samples.append(f"('s{n}', '{day}', 'waits', NULL, {(n + 1) * 1000})")
    quoted_agent = FORMULA_AGENT.replace("'", "''")
    tallies.append(f"('t-agent', '{first.isoformat()}', 'agent:{quoted_agent}:taken', 1)")
    tallies += [f"('t-odd', '{first.isoformat()}', 'reason:{reason}', 1)" for reason in ODD_REASONS]
    postgres.query(database, "INSERT INTO day_tallies (outbox_id, day, name, amount) VALUES " + ", ".join(tallies))
    postgres.query(database, "INSERT INTO day_samples (outbox_id, day, series, agent, ms) VALUES " + ", ".join(samples))
    return days


@pytest.fixture(scope="module")
def site(redis_url: str, postgres: PostgresServer) -> Iterator[Tuple[str, List[Dict[str, int]]]]:
    prefix, database = f"hbwebrep{uuid.uuid4().hex[:6]}", f"archive_{uuid.uuid4().hex[:10]}"
    add_agent(redis_url, prefix, "sue", "--roles", "supervisor")
    url = postgres.create_database(database)
    try:
        with running_archiver(redis_url, url, prefix):  # applies the migrations
            deadline = time.monotonic() + 30
            while postgres.query(database, "SELECT to_regclass('day_tallies') IS NOT NULL") != [["t"]]:
                assert time.monotonic() < deadline, "the archiver never migrated the archive"
                time.sleep(0.2)
            days = seed(postgres, database)
            with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-web-reports", prefix, DATABASE_URL=url,
                                HANDOFF_TIMEZONE="UTC") as address:
                yield f"http://{address}", days
    finally:
        delete_prefixed_keys(redis_url, prefix)
        postgres.drop_database(database)


def sections(text: str) -> Dict[str, List[List[str]]]:
    """The CSV's sections by title: each a header row and its rows."""
    rows = list(csv.reader(io.StringIO(text)))
    found: Dict[str, List[List[str]]] = {}
    current: List[List[str]] = []
    for row in rows[1:]:
        if not row:
            current = []
        elif not current and len(row) == 1 and row[0] not in found:
            current = found.setdefault(row[0], [])
        else:
            current.append(row)
    return found


def test_a_supervisor_exports_last_month_to_csv(site, agent_context: BrowserContext):
    address, days = site
    first, last = last_month()
    page = agent_context.new_page()
    errors = watch_for_errors(page)
    asked: List[str] = []  # the report questions the console sent
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: asked.append(str(payload))
                                          if '"type":"report"' in str(payload) else None))
    log_in(page, address, "sue")
    page.get_by_role("button", name="Reports").click()
    reports = page.get_by_role("region", name="Reports")
    # It opens on the last 7 days, without a click.
    today = date.today()  # the browser's and this machine's, both local
    week = f"{(today - timedelta(days=6)).isoformat()} to {today.isoformat()} (7 days)"
    expect(reports.get_by_role("status")).to_contain_text(week)
    expect(reports.locator("#report-days tr.report-total")).to_be_visible()
    reports.get_by_label("From", exact=True).fill(first.isoformat())
    reports.get_by_label("To", exact=True).fill(last.isoformat())
    reports.get_by_role("button", name="Show report").click()
    by_day = reports.locator("#report-days")
    expect(by_day.locator("tbody tr")).to_have_count(len(days) + 1)
    expect(reports.get_by_role("status")).to_contain_text(f"{first.isoformat()} to {last.isoformat()} ({len(days)} days), dates in UTC")
    expect(reports.get_by_role("img", name="Conversations and handoffs by day")).to_be_visible()
    total_conversations = sum(day["conversations"] for day in days)
    expect(by_day.locator("tr.report-total")).to_contain_text(f"{total_conversations:,}")
    expect(reports.get_by_role("status")).to_contain_text(", as of ")
    screenshot(page, "console-reports")
    # Opened again, it reads its range again (today's figures grow while the console is open).
    before = len(asked)
    page.get_by_role("navigation", name="Views").get_by_role("button", name="Dashboard").click()
    page.get_by_role("navigation", name="Views").get_by_role("button", name="Reports").click()
    deadline = time.monotonic() + 10
    while len(asked) == before:
        assert time.monotonic() < deadline, "the report was not read again"
        page.wait_for_timeout(100)
    assert f'"from":"{first.isoformat()}"' in asked[-1]
    expect(reports.get_by_role("status")).to_contain_text(f"{first.isoformat()} to {last.isoformat()}")
    with page.expect_download() as waiting:
        reports.get_by_role("button", name="Export CSV").click()
    download = waiting.value
    assert download.suggested_filename == f"report-{first.isoformat()}-to-{last.isoformat()}.csv"
    raw = open(download.path(), "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark"
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text
    assert next(csv.reader(io.StringIO(text))) == ["Report", first.isoformat(), last.isoformat(), "dates in UTC"]
    found = sections(text)
    header, *rows = found["By day"]
    column = {name: index for index, name in enumerate(header)}
    assert [row[0] for row in rows] == [(first + timedelta(days=n)).isoformat() for n in range(len(days))] + ["Total"]
    for row, figures in zip(rows, days):
        assert int(row[column["Conversations"]]) == figures["conversations"]
        assert int(row[column["Handoffs"]]) == figures["handoffs"]
        assert int(row[column["Contained"]]) == figures["conversations"] - figures["escalated"]
        assert float(row[column["CSAT average"]]) == figures["rating_sum"]
    total = rows[-1]
    assert int(total[column["Conversations"]]) == total_conversations
    assert int(total[column["Handoffs"]]) == sum(day["handoffs"] for day in days)
    assert float(total[column["Median wait (s)"]]) == float((len(days) + 1) // 2), "nearest rank of 1..n seconds"
    assert int(total[column["Ratings"]]) == len(days)
    assert found["Handoffs by reason"][0] == ["Reason", "Code", "Handoffs"]
    assert found["Handoffs by reason"][1:] == [
        ["Customer asked", "customer_asked", str(sum(day["handoffs"] for day in days))], ["'+1+2", "'+1+2", "1"],
        ["3", "'-3", "1"], ["'@SUM(A1)", "'@SUM(A1)", "1"], ['Late, "very"', 'late, "very"', "1"]]
    ratings = {score: sum(1 for day in days if day.get(f"score:{score}")) for score in "12345"}
    assert found["Ratings by score"][1:] == [[score, str(count)] for score, count in ratings.items()]
    agents = found["By agent"]
    assert agents[0][:2] == ["Agent", "Name"]
    assert agents[1][:3] == ["'" + FORMULA_AGENT, "'" + FORMULA_AGENT, "1"], "a formula is written as text"
    assert errors == []
