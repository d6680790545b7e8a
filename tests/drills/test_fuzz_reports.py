"""Fuzzing ``report`` (supervisors' reports) like the rest of the protocol (tests/drills/test_fuzz.py, whose
strategies, exchange and checks this module uses).

/ws/supervisor gets ``report`` (and ``dashboard``), dates plausible (inside and outside the allowed span,
in the future, impossible days) or anything JSON can say, and garbage frames. The bridge has an archive
(a real PostgreSQL, migrated by a real archiver) and at most 31 days per report. The oracle computes the
answer docs/bridge-protocol.md ("Reports") gives: a ``report`` of the documented shape, or ``malformed``,
never ``internal_error``.

    make drills ARGS="-k fuzz_reports"
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterator

import pytest
import redis as redis_sync
from hypothesis import given, strategies as st

from harness.clients import login
from harness.postgres import PostgresServer, running_archiver
from harness.servers import add_agent, delete_prefixed_keys, started_bridge
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (
    SUE, Surface, World, budget, check, classify, either, envelopes, exchange, fields, framed, fuzzed, reported,
)
from tests.drills.test_fuzz_workspace import plausible

SURFACE = "/ws/supervisor reports"
MAX_DAYS = 31
FIGURES = {"conversations", "contained", "containment_rate", "handoffs", "handed_over", "handoffs_by_reason", "wait",
           "abandoned", "first_response", "handling", "sla_breaches", "csat"}


def today() -> date:
    return datetime.now(timezone.utc).date()  # the bridge's HANDOFF_TIMEZONE is UTC


def dates() -> st.SearchStrategy[Any]:
    near = st.integers(-2 * MAX_DAYS, 3).map(lambda offset: (today() + timedelta(days=offset)).isoformat())
    return st.one_of(near, near, near, st.sampled_from(["2026-02-30", "2026-1-05", "20260105", "", "2026-01-05T00:00"]))


@pytest.fixture(scope="module")
def world(redis_url: str, postgres: PostgresServer) -> Iterator[World]:
    """A bridge without Rasa (no model to serve) whose archive an archiver has migrated."""
    prefix, database = f"fuzzreports{uuid.uuid4().hex[:8]}", f"archive_{uuid.uuid4().hex[:10]}"
    add_agent(redis_url, prefix, SUE, "--roles", "supervisor")
    postgres.create_database(database)
    url = postgres.url(database)
    loop = asyncio.new_event_loop()
    client = redis_sync.Redis.from_url(redis_url)
    try:
        with running_archiver(redis_url, url, prefix), \
                started_bridge(redis_url, "http://127.0.0.1:9", "fuzz-reports-bridge", prefix, DATABASE_URL=url,
                               HANDOFF_TIMEZONE="UTC", HANDOFF_REPORT_MAX_DAYS=str(MAX_DAYS),
                               HANDOFF_MESSAGES_PER_SECOND="1000", HANDOFF_MESSAGE_BURST="1000") as server:
            yield World(loop, server, client, prefix, "", "", {SUE: login(server.address, SUE).json()["token"]})
    finally:
        loop.close()
        client.close()
        delete_prefixed_keys(redis_url, prefix)
        postgres.drop_database(database)


@pytest.fixture(scope="module", autouse=True)
def reports_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, [SURFACE])


@pytest.fixture
def supervisor(world: World) -> Iterator[Surface]:
    surface = Surface(lambda: world.socket("supervisor", SUE))
    yield surface
    world.run(surface.close())


def report_oracle(data: Dict[str, Any]) -> str:
    """docs/bridge-protocol.md "Reports": two dates in order, at most MAX_DAYS, none after today."""
    try:
        first, last = (date.fromisoformat(data[name]) for name in ("from", "to"))
    except (KeyError, TypeError, ValueError):
        return "malformed"
    if any(not isinstance(data[name], str) or len(data[name]) != 10 for name in ("from", "to")):
        return "malformed"
    if first > last or last > today() or (last - first).days + 1 > MAX_DAYS:
        return "malformed"
    return "report"


def assert_documented_report(data: Dict[str, Any], asked: Dict[str, Any]) -> None:
    assert (data["from"], data["to"], data["timezone"]) == (asked["from"], asked["to"], "UTC")
    assert set(data) == {"from", "to", "timezone", "totals", "days", "groups", "agents"}
    assert set(data["totals"]) == FIGURES
    span = (date.fromisoformat(asked["to"]) - date.fromisoformat(asked["from"])).days + 1
    assert [day["day"] for day in data["days"]] == [
        (date.fromisoformat(asked["from"]) + timedelta(days=offset)).isoformat() for offset in range(span)]
    assert all(set(day) == FIGURES | {"day"} for day in data["days"])


TYPES = {"report": fields(**{"from": either(dates()), "to": either(dates())}), "dashboard": fields()}
GOOD = {"report": st.fixed_dictionaries({"from": dates(), "to": dates()})}


@budget(150)
@given(data=st.data())
def test_reports_are_answered_as_documented(world: World, supervisor: Surface, data: st.DataObject) -> None:
    plausible_frame = framed(plausible(GOOD))
    frame = data.draw(st.one_of(plausible_frame, plausible_frame, fuzzed(envelopes(TYPES))), label="frame")
    client = world.run(supervisor.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    kind = envelope.get("type")
    if expectation.code:
        expected = expectation.code
    elif kind == "report":
        expected = report_oracle(envelope["data"])
    else:
        expected = "dashboard" if kind == "dashboard" else "unknown_type"
    frames = world.run(exchange(client, frame))
    got = check(SURFACE, frames, expectation, expected, {"report", "dashboard"})
    if got == "report":
        assert_documented_report(next(f for f in frames if f["type"] == "report")["data"], envelope["data"])
