"""What a human agent needs to know when they take over a conversation.

Pure functions over a rasa_sdk ``Tracker``: they read the events (through the
same turn model the stuck detector uses, so turns older than the tracker's
window count too: bot/tracker_store.py) and build the ``handoff`` payload
documented in docs/handoff-payload.md.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker

from bot.stuck.conversation import EARLIER_SLOT, conversation_since_last_handoff

__all__ = ["BRAND_SLOTS", "REASON_DESCRIPTIONS", "handoff_payload"]

# Slots that hold configuration, not anything the customer told us.
BRAND_SLOTS = frozenset({"bank_name", "help_url", "support_phone", "support_email", "requested_slot"})
# Slots the handoff machinery itself uses; they are in the payload's own fields.
HANDOFF_SLOTS = frozenset({"handoff_reason", "handoff_evidence", "action_error", EARLIER_SLOT})

REASON_DESCRIPTIONS: Dict[Text, Text] = {
    "requested": "the customer asked for a person",
    "distress": "the customer is in distress (bereavement, hardship, fraud or needing someone)",
    "callback": "the customer asked to be called back",
    "repeated_fallback": "the bot did not understand several messages in a row",
    "bot_repeating": "the bot was about to repeat itself",
    "customer_repeating": "the customer asked the same question again after it was answered",
    "unresolved": "the customer said the answer did not help",
    "frustration": "the customer is frustrated",
    "action_error": "an action failed while serving the customer",
    "ping_pong": "the customer kept switching between two questions",
    "no_resolution": "a long conversation reached no resolution",
}

# How many of the latest customer messages the payload lists.
RECENT_TURNS = 10


def _customer_slots(tracker: Tracker) -> Dict[Text, Any]:
    return {
        name: value
        for name, value in sorted(tracker.current_slot_values().items())
        if name not in BRAND_SLOTS | HANDOFF_SLOTS and value is not None
    }


def _summary_text(
    reason: Text, explanation: Optional[Text], turns: List[Dict[Text, Any]], count: int, topics: List[Text]
) -> Text:
    reason_text = REASON_DESCRIPTIONS.get(reason, reason.replace("_", " "))
    parts = [f"Handed over because {reason_text}."]
    if explanation and explanation != reason_text:
        parts.append(f"({explanation[0].upper()}{explanation[1:]}.)")
    if topics:
        readable = ", ".join(topic.replace("_", " ") for topic in topics)
        parts.append(f"Topics asked about: {readable}.")
    else:
        parts.append("No support topic was recognised.")
    parts.append(f"{count} customer message(s).")
    if turns:
        parts.append(f'Last message: "{turns[-1]["text"]}".')
    return " ".join(parts)


def handoff_payload(
    tracker: Tracker, reason: Text, evidence: Optional[Dict[Text, Any]] = None
) -> Dict[Text, Any]:
    """The ``custom`` payload that tells the bridge to hand the chat to a person."""
    conversation = conversation_since_last_handoff(tracker.events)
    turns = [turn.describe() for turn in conversation.turns]
    topics = conversation.as_earlier().topics  # each once, the most recent last
    explanation = (evidence or {}).get("explanation")
    return {
        "handoff": {
            "reason": reason,
            "summary": _summary_text(reason, explanation, turns, conversation.count, topics),
            "topic": topics[-1] if topics else None,
            "topics": topics,
            "turns": turns[-RECENT_TURNS:],
            "slots": _customer_slots(tracker),
            "evidence": evidence or {},
        }
    }
