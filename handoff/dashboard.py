"""The supervisors' dashboard: today's numbers from the day's counters, without I/O.

The bridge counts into one Redis hash per day (``handoff.store.Store.count``);
this module turns those counters and the day's waits into what the dashboard
shows, so the arithmetic is tested without Redis or sockets.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["ABANDONED_IN_GROUP", "handoffs_note", "percentile", "summarise"]

# The day's counter of a skill group's abandoned waits is this and the group ("abandoned:" and a way are the
# ways'; reports show the groups': handoff.reports).
ABANDONED_IN_GROUP = "abandoned-group:"

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


def _spread(milliseconds: Sequence[int]) -> Dict[str, Any]:
    return {"count": len(milliseconds), "median_seconds": _seconds(percentile(milliseconds, 0.5)),
            "p90_seconds": _seconds(percentile(milliseconds, 0.9))}


def handoffs_note(handoffs: int, handed_over: int) -> Optional[str]:
    """Why there are more handoffs than conversations handed over, when there are."""
    again = handoffs - handed_over
    if again <= 0:
        return None
    return (f"{handoffs} handoffs in {handed_over} conversation{'s' if handed_over != 1 else ''}: "
            f"{again} {'was a' if again == 1 else 'were'} second or later handoff{'s' if again != 1 else ''} "
            "of a conversation (handed back to the bot or closed, then handed over again)")


def summarise(day: str, counters: Dict[str, int], waits_ms: List[int], now: Dict[str, Any],
              waiting_ms: Sequence[int] = (), abandoned_ms: Sequence[int] = (),
              first_response_ms: Sequence[int] = ()) -> Dict[str, Any]:
    """The dashboard's payload (docs/bridge-protocol.md, "Supervisors").

    ``waits_ms``: the day's waits that ended with a claim; ``waiting_ms``: how long each customer
    in the queue now has waited so far; ``abandoned_ms``: the day's waits that ended without an
    agent (handoff.experience); ``first_response_ms``: claim -> the agent's first message.
    """
    conversations = counters.get("conversations", 0)
    # A conversation started yesterday and handed over today counts only today.
    contained = max(0, conversations - counters.get("escalated", 0))
    ratings = counters.get("ratings", 0)
    distribution = {str(score): counters.get(f"score:{score}", 0) for score in SCORES}
    satisfied = distribution["4"] + distribution["5"]
    abandoned = counters.get("abandoned", 0)
    return {
        "day": day,
        "conversations": conversations,
        "contained": contained,
        "containment_rate": round(contained / conversations, 3) if conversations else None,
        "handoffs": counters.get("handoffs", 0),
        "handed_over": counters.get("handed_over", 0),
        "handoffs_note": handoffs_note(counters.get("handoffs", 0), counters.get("handed_over", 0)),
        "requeued": counters.get("requeued", 0),
        "handoffs_by_reason": dict(sorted(
            ((name[len("reason:"):], value) for name, value in counters.items() if name.startswith("reason:")),
            key=lambda item: (-item[1], item[0]),
        )),
        "wait": _spread(waits_ms),
        "waiting": {**_spread(waiting_ms), "longest_seconds": _seconds(max(waiting_ms, default=None))},
        "abandoned": {
            **_spread(abandoned_ms),
            "count": abandoned,
            "rate": round(abandoned / (abandoned + len(waits_ms)), 3) if abandoned + len(waits_ms) else None,
            "by_way": {name[len("abandoned:"):]: value for name, value in sorted(counters.items())
                       if name.startswith("abandoned:")},
        },
        # Handoffs the queue's caps refused (handoff.limits: full, or too many from one address or in all):
        # those customers were offered a callback or a message instead, never queued.
        "refused": {"count": counters.get("refused", 0)},
        # Everyone who waited today: served, abandoned, and (so far) those still waiting.
        "customer_wait": _spread([*waits_ms, *abandoned_ms, *waiting_ms]),
        "first_response": _spread(first_response_ms),
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
