"""The supervisors' dashboard: today's numbers from the day's counters, without I/O.

The bridge counts into one Redis hash per day (``handoff.store.Store.count``);
this module turns those counters and the day's waits into what the dashboard
shows, so the arithmetic is tested without Redis or sockets.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["percentile", "summarise"]

SCORES = range(1, 6)


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """Nearest-rank percentile (``fraction`` 0.5 is the median); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def _seconds(milliseconds: Optional[float]) -> Optional[float]:
    return None if milliseconds is None else round(milliseconds / 1000, 1)


def summarise(day: str, counters: Dict[str, int], waits_ms: List[int], now: Dict[str, Any]) -> Dict[str, Any]:
    """The dashboard's payload (docs/bridge-protocol.md, "Supervisors")."""
    conversations = counters.get("conversations", 0)
    # A conversation started yesterday and handed over today counts only today.
    contained = max(0, conversations - counters.get("escalated", 0))
    ratings = counters.get("ratings", 0)
    distribution = {str(score): counters.get(f"score:{score}", 0) for score in SCORES}
    satisfied = distribution["4"] + distribution["5"]
    return {
        "day": day,
        "conversations": conversations,
        "contained": contained,
        "containment_rate": round(contained / conversations, 3) if conversations else None,
        "handoffs": counters.get("handoffs", 0),
        "handoffs_by_reason": dict(sorted(
            ((name[len("reason:"):], value) for name, value in counters.items() if name.startswith("reason:")),
            key=lambda item: (-item[1], item[0]),
        )),
        "wait": {
            "count": len(waits_ms),
            "median_seconds": _seconds(percentile(waits_ms, 0.5)),
            "p90_seconds": _seconds(percentile(waits_ms, 0.9)),
        },
        "csat": {
            "count": ratings,
            "average": round(counters.get("rating_sum", 0) / ratings, 2) if ratings else None,
            "satisfied_rate": round(satisfied / ratings, 3) if ratings else None,
            "distribution": distribution,
        },
        "hourly": [
            {"hour": hour, "conversations": counters.get(f"hour:{hour:02d}:conversations", 0),
             "handoffs": counters.get(f"hour:{hour:02d}:handoffs", 0)}
            for hour in range(24)
        ],
        "now": now,
    }
