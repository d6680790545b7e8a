"""The day's figures as facts: what the live dashboard counts, kept for reports over any range (no I/O).

Whatever adds to the day's counters (``{p}:day:{date}``) or pushes a time on a day's list
(``{p}:day-{series}:{date}``) appends, in the same step, an outbox entry (handoff/store.py):

- ``tally``: ``day`` (the business's date, YYYY-MM-DD) and ``counts`` (JSON: counter name -> amount);
- ``sample``: ``day``, ``series`` (one of SERIES) and ``value`` (ms, or "{agent}|{ms}" for an agent's).

A report for a day sums that day's tallies and gathers its samples, the very numbers the dashboard
read from Redis (handoff.reports). Each row is keyed by its outbox entry: archived twice, one row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import List, Mapping, Optional

__all__ = ["SERIES", "Sample", "Tally", "sample_of", "tallies_of"]

# The day's lists: waits claimed, abandoned waits, first responses, and the per-agent ones (handoff.experience).
SERIES = ("waits", "abandoned", "first-response", "agent-first-response", "agent-handling")
_AGENTS_SERIES = ("agent-first-response", "agent-handling")


@dataclass(frozen=True)
class Tally:
    outbox_id: str
    day: date
    name: str
    amount: int


@dataclass(frozen=True)
class Sample:
    outbox_id: str
    day: date
    series: str
    agent: Optional[str]
    ms: int


def _day(fields: Mapping[str, str]) -> date:
    try:
        return date.fromisoformat(fields.get("day", ""))
    except ValueError:
        raise ValueError(f"day is not a date: {fields.get('day')!r}") from None


def tallies_of(outbox_id: str, fields: Mapping[str, str]) -> List[Tally]:
    day = _day(fields)
    try:
        counts = json.loads(fields.get("counts", ""))
    except json.JSONDecodeError:
        raise ValueError("counts is not JSON") from None
    if not isinstance(counts, dict) or not counts:
        raise ValueError("counts is not a JSON object of counters")
    for name, amount in counts.items():
        if not name or isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError(f"counter {name!r} has no whole amount")
    return [Tally(outbox_id, day, name, amount) for name, amount in counts.items()]


def sample_of(outbox_id: str, fields: Mapping[str, str]) -> Sample:
    day, series, value = _day(fields), fields.get("series", ""), fields.get("value", "")
    if series not in SERIES:
        raise ValueError(f"unknown series {series!r}")
    agent, _, milliseconds = value.rpartition("|") if series in _AGENTS_SERIES else ("", "", value)
    if not milliseconds.isdigit() or (series in _AGENTS_SERIES and not agent):
        raise ValueError(f"not a time of series {series}: {value!r}")
    return Sample(outbox_id, day, series, agent or None, int(milliseconds))
