"""Fault drills: real processes, real faults, every acknowledged message accounted for."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest

from harness.servers import ROOT, delete_prefixed_keys
from tests.drills.report import DrillReport

REPORT = DrillReport(ROOT / ".run" / "reports" / "drills.json")


@pytest.fixture(scope="session")
def drill_report() -> Iterator[DrillReport]:
    yield REPORT


@pytest.fixture
def drill_prefix(redis_url: str) -> Iterator[str]:
    """A bridge key prefix of the session Redis for one drill; its keys are deleted after."""
    prefix = f"drill{uuid.uuid4().hex[:8]}"
    yield prefix
    delete_prefixed_keys(redis_url, prefix)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT.results:
        terminalreporter.section("fault drills")
        for line in REPORT.lines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also in {REPORT.path.relative_to(ROOT)})")
