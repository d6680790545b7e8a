"""Supervisors' reports over a date range, from the archive's day figures, without I/O.

The archive keeps what the live dashboard counts, day by day (archive/day_facts.py: the counters a
step added and the times it recorded, on the business's date). A report sums the counters of each
day of the range and gathers its times, then works them out with the dashboard's own arithmetic
(handoff.dashboard.summarise, handoff.agent_figures.agent_rows, handoff.sla_rules.breaches_today):
today's report shows the dashboard's figures. Skill groups come from the archived handoffs and
claims (handoff.report_reader). docs/data-model.md says how each figure is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from handoff.agent_figures import agent_rows
from handoff.dashboard import ABANDONED_IN_GROUP, percentile, summarise
from handoff.exceptions import MalformedMessage
from handoff.sla_rules import KINDS, breaches_today

__all__ = ["NO_TIMES", "DayTally", "GroupFigures", "ReportRange", "Spread", "Times", "build_report", "requested_range"]

DayTally = Tuple[date, str, int]  # day, counter, amount (summed per day and counter)


@dataclass(frozen=True)
class Spread:
    """How many times a series holds, and their median and 90th percentile (nearest rank, ms): PostgreSQL's
    ``percentile_disc``, the dashboard's ``percentile``."""

    count: int
    median_ms: Optional[int]
    p90_ms: Optional[int]

    def seconds(self) -> Dict[str, Any]:
        return {"count": self.count, "median_seconds": _seconds(self.median_ms), "p90_seconds": _seconds(self.p90_ms)}


NO_TIMES = Spread(0, None, None)


@dataclass(frozen=True)
class Times:
    """The range's times by series: each day's, the whole range's and each agent's (agents' series)."""

    by_day: Dict[date, Dict[str, Spread]]
    total: Dict[str, Spread]
    by_agent: Dict[str, Dict[str, Spread]]  # series -> agent -> spread


@dataclass(frozen=True)
class GroupFigures:
    """A skill group's handoffs and claims in the range (waits: nearest rank, as the dashboard's)."""

    group: str
    handoffs: int
    served: int
    wait_median_ms: Optional[int]
    wait_p90_ms: Optional[int]


@dataclass(frozen=True)
class ReportRange:
    """Days ``first`` to ``last``, both included, in the business's time zone."""

    first: date
    last: date

    @property
    def days(self) -> List[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]


def _date(data: Mapping[str, Any], name: str) -> date:
    value = data.get(name)
    if not isinstance(value, str) or len(value) != 10:
        raise MalformedMessage(f"'{name}' must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedMessage(f"'{name}' must be a date, YYYY-MM-DD") from None


def requested_range(data: Mapping[str, Any], today: date, max_days: int) -> ReportRange:
    """The range a supervisor asked for: ``from`` and ``to`` (dates, both included), at most ``max_days``
    days, none after ``today`` (the business's date: nothing is counted for days to come)."""
    first, last = _date(data, "from"), _date(data, "to")
    if first > last:
        raise MalformedMessage("'from' must not be after 'to'")
    if last > today:
        raise MalformedMessage(f"'to' must not be after today ({today.isoformat()})")
    if (last - first).days + 1 > max_days:
        raise MalformedMessage(f"a report covers at most {max_days} days")
    return ReportRange(first, last)


def _seconds(milliseconds: Optional[float]) -> Optional[float]:
    return None if milliseconds is None else round(milliseconds / 1000, 1)


def _figures(day: str, counters: Dict[str, int], times: Mapping[str, Spread]) -> Dict[str, Any]:
    """The dashboard's figures of a day's (or a range's) counters and times, and the handling time."""
    summary = summarise(day, counters, [], now={})  # the counters' figures; the times are the archive's spreads
    waits, abandoned = times.get("waits", NO_TIMES), summary["abandoned"]["count"]
    breaches = breaches_today(counters)
    return {
        "conversations": summary["conversations"], "contained": summary["contained"],
        "containment_rate": summary["containment_rate"], "handoffs": summary["handoffs"],
        "handed_over": summary["handed_over"], "handoffs_by_reason": summary["handoffs_by_reason"],
        "wait": waits.seconds(),
        "abandoned": {**times.get("abandoned", NO_TIMES).seconds(), "count": abandoned,
                      "rate": round(abandoned / (abandoned + waits.count), 3) if abandoned + waits.count else None,
                      "by_way": summary["abandoned"]["by_way"]},
        "first_response": times.get("first-response", NO_TIMES).seconds(),
        "handling": times.get("agent-handling", NO_TIMES).seconds(),
        "sla_breaches": {kind: breaches[kind]["count"] for kind in KINDS},
        "csat": summary["csat"],
    }


def _agents(counters: Dict[str, int], by_agent: Mapping[str, Mapping[str, Spread]],
            display_names: Mapping[str, str]) -> List[Dict[str, Any]]:
    """The dashboard's per-agent rows (handoff.agent_figures) over the range, with their SLA breaches: every
    agent account (``display_names``) and everyone counted in the range."""
    first, handling = by_agent.get("agent-first-response", {}), by_agent.get("agent-handling", {})
    breaches = breaches_today(counters)
    rows = agent_rows(counters, {}, {}, {**{name: name for name in [*first, *handling]}, **display_names})
    for row in rows:
        name = row["name"]
        row["first_response"] = first.get(name, NO_TIMES).seconds()
        row["handling"] = handling.get(name, NO_TIMES).seconds()
        row["sla_breaches"] = {kind: breaches[kind]["by_agent"].get(name, 0) for kind in KINDS}
    return rows


def build_report(span: ReportRange, timezone: str, tallies: Iterable[DayTally], times: Times,
                 groups: Iterable[GroupFigures], display_names: Mapping[str, str]) -> Dict[str, Any]:
    """The ``report`` payload (docs/bridge-protocol.md, "Reports"): totals, each day, each group and agent."""
    counters_by_day: Dict[date, Dict[str, int]] = {day: {} for day in span.days}
    totals: Dict[str, int] = {}
    for day, name, amount in tallies:
        counters = counters_by_day.setdefault(day, {})
        counters[name] = counters.get(name, 0) + amount
        totals[name] = totals.get(name, 0) + amount
    breaches = breaches_today(totals)
    return {
        "from": span.first.isoformat(), "to": span.last.isoformat(), "timezone": timezone,
        "totals": _figures(span.first.isoformat(), totals, times.total),
        "days": [{"day": day.isoformat(), **_figures(day.isoformat(), counters_by_day[day], times.by_day.get(day, {}))}
                 for day in span.days],
        "groups": _groups(groups, totals, breaches),
        "agents": _agents(totals, times.by_agent, display_names),
    }


def _groups(groups: Iterable[GroupFigures], totals: Mapping[str, int], breaches: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Each skill group's figures, most handoffs first; abandoned waits as the day counters have them (an expired
    wait, whose group was no longer known, only in the totals), their rate over the waits that ended."""
    by_group = {figures.group: figures for figures in groups}
    abandoned = {name[len(ABANDONED_IN_GROUP):]: count for name, count in totals.items()
                 if name.startswith(ABANDONED_IN_GROUP)}
    for group in abandoned.keys() - by_group.keys():  # handed over before the range, all given up in it
        by_group[group] = GroupFigures(group, 0, 0, None, None)
    rows = []
    for figures in sorted(by_group.values(), key=lambda figures: (-figures.handoffs, figures.group)):
        gave_up = abandoned.get(figures.group, 0)
        ended = gave_up + figures.served
        rows.append({
            "group": figures.group, "handoffs": figures.handoffs, "served": figures.served,
            "wait": {"median_seconds": _seconds(figures.wait_median_ms), "p90_seconds": _seconds(figures.wait_p90_ms)},
            "abandoned": {"count": gave_up, "rate": round(gave_up / ended, 3) if ended else None},
            "sla_breaches": {kind: breaches[kind]["by_group"].get(figures.group, 0) for kind in KINDS}})
    return rows
