"""Routing rules, sans I/O: skill groups by topic, business hours (wait estimates: handoff.estimate)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

__all__ = ["ALL_GROUPS", "DEFAULT_GROUP", "BusinessHours", "group_for", "visible_to"]

DEFAULT_GROUP = "general"
ALL_GROUPS = "all"
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def group_for(topic: Optional[str], reason: Optional[str], groups: Dict[str, str]) -> str:
    """The skill group for a handoff: by FAQ topic, else by reason, else the default."""
    for key in (topic, reason):
        if key and key in groups:
            return groups[key]
    return groups.get("*", DEFAULT_GROUP)


def visible_to(group: str, agent_groups: Sequence[str]) -> bool:
    return ALL_GROUPS in agent_groups or group in agent_groups


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours such as ``mon-fri 08:00-20:00; sat 09:00-13:00`` in a time zone."""

    spans: Tuple[Tuple[int, time, time], ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> "BusinessHours":
        spans: List[Tuple[int, time, time]] = []
        for part in filter(None, (piece.strip().lower() for piece in text.split(";"))):
            match = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", part)
            if not match or match.group(1) not in _DAYS or (match.group(2) and match.group(2) not in _DAYS):
                raise ValueError(f"opening hours {part!r}: write e.g. 'mon-fri 08:00-20:00; sat 09:00-13:00'")
            first = _DAYS.index(match.group(1))
            last = _DAYS.index(match.group(2)) if match.group(2) else first
            opens = time(int(match.group(3)), int(match.group(4)))
            closes = time(int(match.group(5)), int(match.group(6)))
            if closes <= opens:
                raise ValueError(f"opening hours {part!r}: closing must be after opening")
            spans += [(day, opens, closes) for day in range(first, last + 1)]
        return cls(tuple(spans), ZoneInfo(zone))

    def is_open(self, moment: datetime) -> bool:
        if not self.spans:
            return True  # no hours configured: always open
        local = moment.astimezone(self.zone)
        return any(day == local.weekday() and opens <= local.time() < closes for day, opens, closes in self.spans)
