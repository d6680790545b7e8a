"""Playing the stuck-detection corpus against a bot, and scoring the outcome.

``tests/conversations/*.yml`` hold customer-side conversations: *stuck* ones,
with the customer turn from which a handoff is right (``stuck_at``) and the
turn by which it must have happened (``handoff_by``), and *normal* ones that
must never be handed over. The same player serves the test suite (through a
running Rasa server's REST channel) and the teach worker (in-process, against a
candidate model before it is deployed), so both measure the same thing.
"""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Union

import yaml

__all__ = [
    "MAX_FALSE_HANDOFF_RATE",
    "MIN_RECALL",
    "CorpusReport",
    "Outcome",
    "Send",
    "load_corpus",
    "play",
    "summarise",
]

# The bar stuck detection must clear (docs/stuck-detection.md).
MIN_RECALL = 0.95
MAX_FALSE_HANDOFF_RATE = 0.05

# A handoff with this reason is the customer's booked callback, not a detected stuck conversation.
_NOT_A_STUCK_HANDOFF = "callback"

Send = Callable[[str, str], Awaitable[List[Dict[str, Any]]]]
"""``send(sender_id, text)`` -> the bot's replies, as the REST channel returns them
(dicts with ``text``, ``buttons``, ``custom``, ...)."""


@dataclass
class Outcome:
    """What happened to one conversation: the customer turn (1-based) that was handed over, and why."""

    conversation: Dict[str, Any]
    handoff_turn: Optional[int]
    reason: Optional[str]

    @property
    def stuck(self) -> bool:
        return bool(self.conversation["kind"] == "stuck")

    @property
    def caught(self) -> bool:
        """A stuck conversation handed over between its stuck point and its deadline."""
        return (
            self.stuck
            and self.handoff_turn is not None
            and self.conversation["stuck_at"] <= self.handoff_turn <= self.conversation["handoff_by"]
        )


def load_corpus(path: Union[str, Path]) -> List[Dict[str, Any]]:
    """The conversations of one corpus file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    return list(data.get("conversations") or [])


async def play(send: Send, conversation: Dict[str, Any], sender_id: Optional[str] = None) -> Outcome:
    """Send the conversation's customer turns until the bot hands over (or the turns run out).

    Each conversation needs its own ``sender_id`` (a fresh one by default):
    the bot remembers what was said before.
    """
    sender = sender_id or f"corpus-{uuid.uuid4().hex}"
    for number, text in enumerate(conversation["turns"], start=1):
        for reply in await send(sender, str(text)):
            handoff = (reply.get("custom") or {}).get("handoff")
            if handoff and handoff.get("reason") != _NOT_A_STUCK_HANDOFF:
                return Outcome(conversation, number, handoff.get("reason"))
    return Outcome(conversation, None, None)


@dataclass
class CorpusReport:
    """Recall, precision and false handoffs over played conversations."""

    conversations: int
    stuck: int
    normal: int
    recall: float
    precision: float
    false_handoff_rate: float
    mean_turns_to_handoff: Optional[float]
    reason_matches_trigger: float
    missed: List[Dict[str, Any]] = field(default_factory=list)
    caught_with_another_reason: List[Dict[str, Any]] = field(default_factory=list)
    false_handoffs: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Recall and false-handoff rate within bounds (an empty corpus does not pass)."""
        return (
            self.stuck > 0
            and self.normal > 0
            and self.recall >= MIN_RECALL
            and self.false_handoff_rate <= MAX_FALSE_HANDOFF_RATE
        )

    def as_dict(self) -> Dict[str, Any]:
        """JSON-ready, rounded; the keys of .run/reports/stuck_corpus.json."""
        return {
            "passed": self.passed,
            "conversations": self.conversations,
            "stuck": self.stuck,
            "normal": self.normal,
            "recall": round(self.recall, 3),
            "precision": round(self.precision, 3),
            "false_handoff_rate": round(self.false_handoff_rate, 3),
            "mean_turns_from_stuck_point_to_handoff": (
                round(self.mean_turns_to_handoff, 2) if self.mean_turns_to_handoff is not None else None
            ),
            "reason_matches_trigger": round(self.reason_matches_trigger, 3),
            "missed": self.missed,
            "caught_with_another_reason": self.caught_with_another_reason,
            "false_handoffs": self.false_handoffs,
        }


def summarise(outcomes: Iterable[Outcome]) -> CorpusReport:
    """Score outcomes: recall over stuck conversations, false handoffs over normal ones."""
    outcomes = list(outcomes)
    stuck = [o for o in outcomes if o.stuck]
    normal = [o for o in outcomes if not o.stuck]
    caught = [o for o in stuck if o.caught]
    handoffs = [o for o in outcomes if o.handoff_turn is not None]
    false_handoffs = [o for o in normal if o.handoff_turn is not None]
    delays = [o.handoff_turn - o.conversation["stuck_at"] for o in caught if o.handoff_turn is not None]
    return CorpusReport(
        conversations=len(outcomes),
        stuck=len(stuck),
        normal=len(normal),
        recall=len(caught) / len(stuck) if stuck else 0.0,
        precision=len(caught) / len(handoffs) if handoffs else 0.0,
        false_handoff_rate=len(false_handoffs) / len(normal) if normal else 0.0,
        mean_turns_to_handoff=statistics.mean(delays) if delays else None,
        reason_matches_trigger=(
            sum(o.reason == o.conversation["trigger"] for o in caught) / max(1, len(caught))
        ),
        missed=[
            {"name": o.conversation["name"], "trigger": o.conversation["trigger"],
             "handoff_turn": o.handoff_turn, "reason": o.reason}
            for o in stuck if not o.caught
        ],
        caught_with_another_reason=[
            {"name": o.conversation["name"], "trigger": o.conversation["trigger"], "reason": o.reason}
            for o in caught if o.reason != o.conversation["trigger"]
        ],
        false_handoffs=[
            {"name": o.conversation["name"], "handoff_turn": o.handoff_turn, "reason": o.reason}
            for o in false_handoffs
        ],
    )
