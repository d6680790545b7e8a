"""The supervisors' per-agent view and the assignment from the waiting list, without I/O.

Per agent the day counts, in the day's counters (``{p}:day:{date}``, handoff.store):

- ``agent:{name}:taken``: conversations the agent took (claimed, accepted, assigned or transferred to
  them), and ``agent:{name}:closed``: conversations they closed; both counted by the commit that makes
  the change (handoff.store.Store.commit), so once across bridge processes;
- ``agent:{name}:ratings`` and ``agent:{name}:rating_sum``: the customers' ratings of their chats, in the
  step that counts the day's ratings;
- ``sla:{first|reply}:agent:{name}``: their late answers (response-time targets missed), counted once by the
  step that stores the answer (handoff.sla).

The times are the day's lists of ``{agent}|{ms}`` (handoff.experience): first responses (claim -> the
agent's first message) and handling (taken -> closed by that agent).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from handoff.dashboard import percentile
from handoff.sla_rules import KINDS as BREACH_KINDS

__all__ = ["agent_rows", "per_agent_counters", "split_samples"]


def per_agent_counters(before_state: str, before_agent: Optional[str], after_state: str,
                       after_agent: Optional[str]) -> List[str]:
    """The per-agent counters a conversation's change adds 1 to (the commit counts them)."""
    counters = []
    if after_state == "agent" and after_agent and after_agent != before_agent:
        counters.append(f"agent:{after_agent}:taken")
    if before_state == "agent" and after_state == "closed" and before_agent:
        counters.append(f"agent:{before_agent}:closed")
    return counters


def split_samples(samples: Iterable[str]) -> Dict[str, List[int]]:
    """``{agent}|{ms}`` entries by agent (a malformed one is skipped)."""
    by_agent: Dict[str, List[int]] = {}
    for sample in samples:
        agent, _, milliseconds = sample.rpartition("|")
        if agent and milliseconds.isdigit():
            by_agent.setdefault(agent, []).append(int(milliseconds))
    return by_agent


def _median_seconds(milliseconds: Sequence[int]) -> Optional[float]:
    median = percentile(milliseconds, 0.5)
    return None if median is None else round(median / 1000, 1)


def agent_rows(counters: Dict[str, int], first_responses: Dict[str, List[int]], handling: Dict[str, List[int]],
               agents: Dict[str, str]) -> List[Dict[str, Any]]:
    """One row per agent (``agents``: name -> display name; anyone counted today is added), busiest first."""
    names = set(agents) | set(first_responses) | set(handling)
    for field in counters:
        if field.startswith("agent:"):
            names.add(field[len("agent:"):].rpartition(":")[0])
        for kind in BREACH_KINDS:
            if field.startswith(f"sla:{kind}:agent:"):
                names.add(field[len(f"sla:{kind}:agent:"):])
    rows = []
    for name in names:
        ratings = counters.get(f"agent:{name}:ratings", 0)
        rows.append({
            "name": name, "display_name": agents.get(name, name),
            "taken": counters.get(f"agent:{name}:taken", 0), "closed": counters.get(f"agent:{name}:closed", 0),
            "first_response": {"count": len(first_responses.get(name, [])),
                               "median_seconds": _median_seconds(first_responses.get(name, []))},
            "handling": {"count": len(handling.get(name, [])), "median_seconds": _median_seconds(handling.get(name, []))},
            "csat": {"count": ratings, "average": round(counters.get(f"agent:{name}:rating_sum", 0) / ratings, 2)
                     if ratings else None},
            "sla_breaches": {kind: counters.get(f"sla:{kind}:agent:{name}", 0) for kind in BREACH_KINDS},
        })
    return sorted(rows, key=lambda row: (-row["taken"], row["name"]))

