"""Reads a report's figures from the archive (PostgreSQL): read-only, under a statement timeout.

Through the bridge's pool (handoff.archive_reader); every query runs in one read-only transaction whose
own ``statement_timeout`` (report_timeout_ms, longer than a search's) bounds what a wide range may cost.
The day's times are summarised by PostgreSQL (``percentile_disc``: the nearest rank, as
handoff.dashboard.percentile), so a year of a busy desk is a few hundred rows, not its millions of samples.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Dict, List, Optional, Tuple

import psycopg

from handoff.archive_reader import ArchiveReader
from handoff.exceptions import ArchiveUnavailable
from handoff.reports import DayTally, GroupFigures, ReportRange, Spread, Times

__all__ = ["read_figures"]

log = logging.getLogger(__name__)

WORK_MEM = "64MB"  # per sort of a report's transaction (the default 4MB spills a year's times to disk)

_TALLIES = """
SELECT day, name, sum(amount)::bigint FROM day_tallies WHERE day BETWEEN %(first)s AND %(last)s GROUP BY day, name
"""
# Each day's series, the range's, and each agent's over the range (GROUPING says which set a row is of).
_TIMES = """
SELECT day, series, agent, GROUPING(day), GROUPING(agent), count(*),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY ms), percentile_disc(0.9) WITHIN GROUP (ORDER BY ms)
FROM day_samples WHERE day BETWEEN %(first)s AND %(last)s
GROUP BY GROUPING SETS ((day, series), (series), (series, agent))
"""
# Handoffs and claims per skill group, on the business's dates of the range.
_GROUPS = """
WITH handed AS (
  SELECT skill_group, count(*) AS handoffs FROM handoffs
  WHERE (at AT TIME ZONE %(zone)s)::date BETWEEN %(first)s AND %(last)s GROUP BY skill_group
), served AS (
  SELECT skill_group, count(*) AS served,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY wait_ms) AS median,
         percentile_disc(0.9) WITHIN GROUP (ORDER BY wait_ms) AS p90
  FROM state_changes
  WHERE to_state = 'agent' AND wait_ms IS NOT NULL
    AND (at AT TIME ZONE %(zone)s)::date BETWEEN %(first)s AND %(last)s
  GROUP BY skill_group
)
SELECT coalesce(handed.skill_group, served.skill_group), coalesce(handoffs, 0), coalesce(served, 0), median, p90
FROM handed FULL JOIN served ON handed.skill_group = served.skill_group
"""


async def read_figures(reader: Optional[ArchiveReader], span: ReportRange, zone: str,
                       timeout_ms: int) -> Tuple[List[DayTally], Times, List[GroupFigures]]:
    """The range's day counters, times and skill groups (handoff.reports.build_report makes the report)."""
    if reader is None:
        raise ArchiveUnavailable("reports need the archive (DATABASE_URL), which this bridge does not have")
    parameters = {"first": span.first, "last": span.last, "zone": zone}
    try:
        # A wide range's percentiles sort every time of its days: in memory (WORK_MEM), not in temporary files.
        tallies, times, groups = await reader.rows_together((_TALLIES, _TIMES, _GROUPS), parameters, timeout_ms,
                                                            WORK_MEM)
    except psycopg.errors.QueryCanceled:
        raise ArchiveUnavailable(f"the report took longer than {timeout_ms} ms; ask for fewer days") from None
    except psycopg.Error as error:  # down, unreachable, or not migrated yet (no archiver has started)
        log.warning("a report could not be read from the archive: %s", type(error).__name__)
        raise ArchiveUnavailable("the archive did not answer; try again shortly") from None
    return ([(day, name, int(amount)) for day, name, amount in tallies], _times(times),
            [GroupFigures(group, int(handed), int(served), median, p90) for group, handed, served, median, p90 in groups])


def _times(rows: List[Tuple[Any, ...]]) -> Times:
    by_day: Dict[date, Dict[str, Spread]] = {}
    total: Dict[str, Spread] = {}
    by_agent: Dict[str, Dict[str, Spread]] = {}
    for day, series, agent, day_rolled_up, agent_rolled_up, count, median, p90 in rows:
        spread = Spread(int(count), median, p90)
        if not day_rolled_up:
            by_day.setdefault(day, {})[series] = spread
        elif agent_rolled_up:
            total[series] = spread
        elif agent is not None:
            by_agent.setdefault(series, {})[agent] = spread
    return Times(by_day, total, by_agent)
