"""The stuck triggers' names and settings: what config.yml can set for StuckDetectionPolicy.

Kept apart from the triggers (bot/stuck/detector.py) so that the settings, their
defaults and their validation read in one place (docs/stuck-detection.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Tuple

from bot.stuck.phrases import (
    BOT_QUESTION_PATTERNS, CLOSING_PATTERNS, COMMON_NOUNS, DISTRESS_PATTERNS, FOLLOW_UP_PATTERNS, FRUSTRATION_PATTERNS,
    HYPOTHETICAL_PATTERNS, NEW_QUESTION_PATTERNS,
    NO_PERSON_PATTERNS, PRAISE_PATTERNS, PROBLEM_PATTERNS, REQUEST_PATTERNS, RETURNING_PATTERNS, SAME_NEED_PATTERNS, UNRESOLVED_PATTERNS,
)

__all__ = ["PATTERN_SETTINGS", "RELATED_TOPICS", "TRIGGERS", "DetectorConfig"]

TRIGGERS: Tuple[str, ...] = (
    "action_error",
    "distress",
    "requested",
    "frustration",
    "unresolved",
    "repeated_fallback",
    "ping_pong",
    "customer_repeating",
    "bot_repeating",
    "no_resolution",
)
"""Every trigger, in the order they are checked: the first that fires wins."""

RELATED_TOPICS: Tuple[Tuple[str, ...], ...] = (
    ("transfer_not_received", "receiving_money", "refund_not_showing", "top_up", "unrecognised_transaction",
     "charged_twice", "cancel_transfer"),
)
"""Families of FAQ topics one problem is filed under by turns (money that did not arrive, a top-up among it;
a payment not as expected or sent by mistake: "my wages haven't arrived" and "there's nothing from my company in my balance",
"I paid the plumber twice by mistake" and "the same bank transfer went out two times"): a problem stated
again under a topic of the family of the one just answered is the same need (customer_repeating)."""

PATTERN_SETTINGS = ("request_patterns", "bot_question_patterns", "no_person_patterns", "distress_patterns",
                    "frustration_patterns", "unresolved_patterns", "hypothetical_patterns", "closing_patterns", "praise_patterns", "same_need_patterns",
                    "follow_up_patterns", "problem_patterns", "new_question_patterns", "returning_patterns")


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds and phrase lists of the triggers; the defaults are those in config.yml."""

    triggers: Tuple[str, ...] = TRIGGERS
    request_min_confidence: float = 0.5
    fallback_limit: int = 2
    same_response_limit: int = 2
    repeat_window: int = 3
    repeat_similarity: float = 0.9
    repeat_topic_similarity: float = 0.5
    restated_similarity: float = 0.55
    frustration_min_confidence: float = 0.5
    shouting_min_letters: int = 10
    shouting_ratio: float = 0.7
    punctuation_run: int = 3
    max_turns_without_resolution: int = 10
    request_patterns: Tuple[str, ...] = REQUEST_PATTERNS
    bot_question_patterns: Tuple[str, ...] = BOT_QUESTION_PATTERNS
    no_person_patterns: Tuple[str, ...] = NO_PERSON_PATTERNS
    distress_patterns: Tuple[str, ...] = DISTRESS_PATTERNS
    frustration_patterns: Tuple[str, ...] = FRUSTRATION_PATTERNS
    unresolved_patterns: Tuple[str, ...] = UNRESOLVED_PATTERNS
    hypothetical_patterns: Tuple[str, ...] = HYPOTHETICAL_PATTERNS
    closing_patterns: Tuple[str, ...] = CLOSING_PATTERNS
    praise_patterns: Tuple[str, ...] = PRAISE_PATTERNS
    same_need_patterns: Tuple[str, ...] = SAME_NEED_PATTERNS
    follow_up_patterns: Tuple[str, ...] = FOLLOW_UP_PATTERNS
    problem_patterns: Tuple[str, ...] = PROBLEM_PATTERNS
    new_question_patterns: Tuple[str, ...] = NEW_QUESTION_PATTERNS
    returning_patterns: Tuple[str, ...] = RETURNING_PATTERNS
    related_topics: Tuple[Tuple[str, ...], ...] = RELATED_TOPICS
    common_nouns: Tuple[str, ...] = COMMON_NOUNS

    def __post_init__(self) -> None:
        unknown = set(self.triggers) - set(TRIGGERS)
        if unknown:
            raise ValueError(f"Unknown stuck triggers {sorted(unknown)}; known: {list(TRIGGERS)}")
        for name in ("fallback_limit", "same_response_limit", "repeat_window", "punctuation_run",
                     "max_turns_without_resolution"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not all(isinstance(family, (list, tuple)) and all(isinstance(topic, str) for topic in family)
                   for family in self.related_topics):
            raise ValueError("related_topics must be lists of FAQ topic names")
        if not all(isinstance(word, str) for word in self.common_nouns):
            raise ValueError("common_nouns must be words")
        for name in PATTERN_SETTINGS:
            for pattern in getattr(self, name):
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise ValueError(f"{name}: {pattern!r} is not a regular expression ({error})") from None
