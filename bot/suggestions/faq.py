"""The bot's own FAQ answers to a customer message, best first, as the NLU ranks them (sans I/O).

The classifier scores every FAQ answer for every message (bot/nlu/classifier.py writes the ranking
in ``response_selector``), also when its first choice is not an FAQ answer or it falls back: so an
agent gets the answers the bot thinks likeliest even where it did not answer itself, but only
for a message the bot is reasonably sure is an FAQ question: the first answer's confidence (the
FAQ intent's probability times the answer's share of it) must reach a floor, a higher one where
the message asks for a person or tells of distress (bot/stuck/phrases.py), so that a request for
a person, a name, thanks or a bereaved customer's words get no "Card swallowed" above them. Both
floors were chosen on dev halves (bench/suggestions.py, docs/benchmarks.md).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Pattern, Tuple, TypedDict

from bot.stuck.phrases import DISTRESS_PATTERNS, REQUEST_PATTERNS

__all__ = ["FAQ_INTENT", "MIN_CONFIDENCE", "MIN_CONFIDENCE_PERSON_OR_DISTRESS", "Suggestion", "answer_texts",
           "faq_confidence", "faq_suggestions", "topic_of"]

FAQ_INTENT = "faq"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Floors on the first FAQ answer's confidence, chosen on the dev halves of BANKING77's questions of
# our topics (kept >= 97 % right in the first three) and of bench/no_faq_turns.py.
MIN_CONFIDENCE = 0.3
MIN_CONFIDENCE_PERSON_OR_DISTRESS = 0.7
_PERSON_OR_DISTRESS: Tuple[Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE) for pattern in (*REQUEST_PATTERNS, *DISTRESS_PATTERNS))


class Suggestion(TypedDict):
    text: str
    source: str  # "faq" or "agent"
    score: float
    topic: str


def answer_texts(responses: Mapping[str, List[Dict[str, Any]]], slots: Mapping[str, Any]) -> Dict[str, str]:
    """``faq/<topic>`` -> the answer as the bot would send it: its first variant, the brand's
    placeholders (``{help_url}``) filled from the slots' initial values as the domain sets them."""
    def filled(text: str) -> str:
        return _PLACEHOLDER.sub(lambda match: str(slots.get(match.group(1), match.group(0))), text)

    prefix = f"utter_{FAQ_INTENT}/"
    return {name[len("utter_"):]: filled(variants[0]["text"])
            for name, variants in responses.items()
            if name.startswith(prefix) and variants and isinstance(variants[0].get("text"), str)}


def faq_confidence(parse: Mapping[str, Any]) -> float:
    """How sure the bot is of its first FAQ answer: the FAQ intent's probability (also where the NLU
    fell back) times that answer's share of the FAQ answers' probability; 0 without a ranking."""
    ranking = ((parse.get("response_selector") or {}).get(FAQ_INTENT) or {}).get("ranking") or []
    faq = next((float(entry["confidence"]) for entry in parse.get("intent_ranking") or []
                if entry.get("name") == FAQ_INTENT), 0.0)
    return faq * float(ranking[0]["confidence"]) if ranking else 0.0


def faq_suggestions(text: str, parse: Mapping[str, Any], answers: Mapping[str, str], limit: int) -> List[Suggestion]:
    """The ``limit`` FAQ answers the NLU ranks highest for the message ``text`` parsed, none where the bot is
    not reasonably sure of the first (``faq_confidence`` below the floor for the message's kind);
    ``score`` is each one's share of the FAQ answers' probability."""
    floor = (MIN_CONFIDENCE_PERSON_OR_DISTRESS if any(pattern.search(text) for pattern in _PERSON_OR_DISTRESS)
             else MIN_CONFIDENCE)
    if faq_confidence(parse) < floor:
        return []
    selector = (parse.get("response_selector") or {}).get(FAQ_INTENT) or {}
    suggestions: List[Suggestion] = []
    for entry in selector.get("ranking") or []:
        label = entry.get("intent_response_key")
        if label in answers:
            suggestions.append({"text": answers[label], "source": "faq",
                                "score": round(float(entry["confidence"]), 4), "topic": label.split("/", 1)[1]})
        if len(suggestions) == limit:
            break
    return suggestions


def topic_of(parse: Mapping[str, Any]) -> str:
    """What a message is about as the NLU reads it: its FAQ topic, else its intent ('' for none)."""
    intent = (parse.get("intent") or {}).get("name") or ""
    if intent == FAQ_INTENT:
        ranking = ((parse.get("response_selector") or {}).get(FAQ_INTENT) or {}).get("ranking") or []
        if ranking:
            return str(ranking[0]["intent_response_key"]).split("/", 1)[1]
    return str(intent)
