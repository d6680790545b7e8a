"""What each fault drill counts, collected into one report (.run/reports/drills.json).

A drill records what its clients sent and what came of it; the test asserts
the same numbers that the report shows, so the report is never rosier than
the assertions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

__all__ = ["DrillResult", "DrillReport"]


@dataclass
class DrillResult:
    name: str
    sent: int = 0  # messages (or fuzzed inputs) the drill's clients sent
    acknowledged: int = 0  # of those, acknowledged by the bridge
    lost: int = 0  # acknowledged, but missing from the transcript or never delivered
    duplicated: int = 0  # stored or delivered more than once
    queue_places_lost: int = 0  # queued conversations that lost their place in the queue
    recovery_seconds: Optional[float] = None  # longest wait, after the fault ended, for the first ack
    notes: str = ""


@dataclass
class DrillReport:
    path: Path
    results: List[DrillResult] = field(default_factory=list)

    def add(self, result: DrillResult) -> None:
        self.results.append(result)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps([asdict(r) for r in self.results], indent=2))

    def lines(self) -> List[str]:
        rows = ["drill | sent | acked | lost | duplicated | queue places lost | max recovery s",
                "---|---|---|---|---|---|---"]
        for r in self.results:
            recovery = "" if r.recovery_seconds is None else f"{r.recovery_seconds:.2f}"
            rows.append(f"{r.name} | {r.sent} | {r.acknowledged} | {r.lost} | {r.duplicated} | "
                        f"{r.queue_places_lost} | {recovery}")
        return rows
