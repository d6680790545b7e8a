"""Fault drills: real processes, real faults, every acknowledged message accounted for."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.drills.report import DrillReport
from tests.servers import ROOT

REPORT = DrillReport(ROOT / ".run" / "reports" / "drills.json")


@pytest.fixture(scope="session")
def drill_report() -> Iterator[DrillReport]:
    yield REPORT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT.results:
        terminalreporter.section("fault drills")
        for line in REPORT.lines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also in {REPORT.path.relative_to(ROOT)})")
