"""Response-time targets (SLA) per skill group, sans I/O: parsing HANDOFF_SLA, due times, risk.

Two targets per group (README "Configuration"):

- first response: from the customer first queuing in this handoff (``waiting_since``, kept across
  transfers and lost agents) to an agent's first message;
- reply: from the customer's earliest message an agent has not answered yet to the agent's reply
  (judged once the first response has been given; the first answer is judged by the first target).

The clocks and the breaches live in Redis (handoff.sla).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from handoff.machine import State

__all__ = ["DEFAULT_NAME", "DEFAULT_TARGET", "KINDS", "RISK_FRACTION", "Target", "breaches_today", "due_times",
           "parse_targets", "risk", "target_for"]

KINDS = ("first", "reply")
RISK_FRACTION = 0.25  # at risk with a quarter of the target or less left (widget/console/constants.js: the same)
DEFAULT_NAME = "default"


@dataclass(frozen=True)
class Target:
    first_seconds: int
    reply_seconds: int


DEFAULT_TARGET = Target(first_seconds=120, reply_seconds=60)


def parse_targets(text: str) -> Dict[str, Target]:
    """``general=first:120,reply:60;cards=first:60,reply:45``; ``default=…`` changes the targets of the
    groups not named (else DEFAULT_TARGET). A bad value raises ValueError saying what is expected."""
    targets = {DEFAULT_NAME: DEFAULT_TARGET}
    example = 'e.g. HANDOFF_SLA="general=first:120,reply:60;cards=first:60,reply:45"'
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        group, _, spec = part.partition("=")
        group = group.strip()
        values: Dict[str, int] = {}
        for item in spec.split(","):
            name, _, number = item.strip().partition(":")
            if name not in KINDS or name in values or not number.strip().isdigit() or not 1 <= int(number) <= 86400:
                raise ValueError(f"HANDOFF_SLA: {part!r} must give first and reply, each 1-86400 seconds ({example})")
            values[name] = int(number)
        if not group or group in targets and group != DEFAULT_NAME or set(values) != set(KINDS):
            raise ValueError(f"HANDOFF_SLA: {part!r} must name a group once and give first and reply ({example})")
        targets[group] = Target(values["first"], values["reply"])
    return targets


def target_for(targets: Mapping[str, Target], group: str) -> Target:
    return targets.get(group) or targets[DEFAULT_NAME]


def due_times(target: Target, state: State, fields: Mapping[str, str]) -> Dict[str, Any]:
    """What the console counts down (docs/bridge-protocol.md "Response-time targets"), from the
    conversation hash's ``waiting_since``, ``sla_first_met`` and ``sla_reply_from``."""
    waiting_since = fields.get("waiting_since") or ""
    first_met = bool(waiting_since) and fields.get("sla_first_met") == waiting_since
    first_due = reply_due = None
    if state in (State.QUEUED, State.AGENT) and waiting_since and not first_met:
        first_due = int(waiting_since) + target.first_seconds * 1000
    elif state is State.AGENT and first_met and fields.get("sla_reply_from"):
        reply_due = int(fields["sla_reply_from"]) + target.reply_seconds * 1000
    return {"first_response_due_ms": first_due, "reply_due_ms": reply_due,
            "first_response_seconds": target.first_seconds, "reply_seconds": target.reply_seconds}


def risk(sla: Mapping[str, Any], now_ms: int) -> Optional[Dict[str, Any]]:
    """The running clock's kind and seconds left (negative: breached), when at risk or breached; else None."""
    for kind, due_name, total_name in (("first", "first_response_due_ms", "first_response_seconds"),
                                       ("reply", "reply_due_ms", "reply_seconds")):
        due = sla.get(due_name)
        if due is not None:
            left_ms = int(due) - now_ms
            if left_ms <= sla[total_name] * 1000 * RISK_FRACTION:
                return {"kind": kind, "seconds_left": int(left_ms // 1000)}
    return None


def breaches_today(counters: Mapping[str, int]) -> Dict[str, Any]:
    """The dashboard's ``sla.breaches``: per kind, in all and per group and per agent."""
    result: Dict[str, Any] = {}
    for kind in KINDS:
        entry: Dict[str, Any] = {"count": counters.get(f"sla:{kind}", 0), "by_group": {}, "by_agent": {}}
        for by in ("group", "agent"):
            prefix = f"sla:{kind}:{by}:"
            entry[f"by_{by}"] = {name[len(prefix):]: value for name, value in sorted(counters.items())
                                 if name.startswith(prefix)}
        result[kind] = entry
    return result
