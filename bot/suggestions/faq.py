"""The bot's own FAQ answers to a customer message, best first, as the NLU ranks them (sans I/O).

The classifier scores every FAQ answer for every message (bot/nlu/classifier.py writes the ranking
in ``response_selector``), also when its first choice is not an FAQ answer or it falls back: so an
agent gets the answers the bot thinks likeliest even where it did not dare to answer itself.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, TypedDict

__all__ = ["FAQ_INTENT", "Suggestion", "answer_texts", "faq_suggestions", "topic_of"]

FAQ_INTENT = "faq"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


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


def faq_suggestions(parse: Mapping[str, Any], answers: Mapping[str, str], limit: int) -> List[Suggestion]:
    """The ``limit`` FAQ answers the NLU ranks highest for the parsed message; ``score`` is each one's
    share of the FAQ answers' probability."""
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
