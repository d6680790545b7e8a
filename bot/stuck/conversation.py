"""A conversation as the stuck detector sees it: one record per customer turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

__all__ = ["RASA_ACTION_PREFIXES", "Turn", "turns_since_last_handoff"]

HANDOFF_ACTION = "action_handoff"
# How much of a customer message a payload repeats.
MAX_TEXT = 500
ACTION_ERROR_SLOT = "action_error"
# Actions of Rasa's own and the listen action: never "failed custom actions".
RASA_ACTION_PREFIXES = ("utter_", "action_listen", "action_session_start", "action_restart",
                          "action_default", "action_deactivate_loop", "action_back",
                          "action_two_stage_fallback", "action_unlikely_intent",
                          "action_extract_slots", "validate_")


@dataclass
class Turn:
    """One customer message and what the bot did about it."""

    text: str
    intent: str
    confidence: float
    # The FAQ answer key when the bot understood an FAQ question.
    topic: Optional[str] = None
    # What the bot sent afterwards: response names (utter_...) or texts.
    responses: List[str] = field(default_factory=list)
    # Actions the bot ran after this message, in order.
    actions: List[str] = field(default_factory=list)
    # Set when a custom action failed while serving this turn.
    action_error: Optional[Dict[str, Any]] = None

    def describe(self) -> Dict[str, Any]:
        """The turn as agents see it (handoff payload and evidence), text capped."""
        entry: Dict[str, Any] = {
            "text": self.text[:MAX_TEXT],
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
        }
        if self.topic:
            entry["topic"] = self.topic
        return entry

    @property
    def answered(self) -> bool:
        """The bot gave an FAQ answer to this message."""
        return self.topic is not None and "utter_faq" in self.actions

    @property
    def last_bot_action(self) -> Optional[str]:
        """What the bot did last before listening again (e.g. asked a question)."""
        return next((name for name in reversed(self.actions) if name != "action_listen"), None)

    @property
    def label(self) -> str:
        """What the customer asked for: the FAQ topic, or else the intent."""
        return f"faq/{self.topic}" if self.topic else self.intent


def _topic_of(parse_data: Dict[str, Any]) -> Optional[str]:
    intent = (parse_data.get("intent") or {}).get("name")
    selected = (parse_data.get("response_selector") or {}).get(intent or "")
    if not selected:
        return None
    key = (selected.get("response") or {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if "/" in key else None


def turns_since_last_handoff(events: Iterable[Dict[str, Any]]) -> List[Turn]:
    """Customer turns after the most recent handoff, built from serialised Rasa events.

    Events before a handoff belong to a conversation a person took over; they
    must not make the bot hand over again when it is talked to afterwards.
    """
    turns: List[Turn] = []
    pending_custom_action: Optional[str] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            turns.append(
                Turn(
                    text=event.get("text") or "",
                    intent=intent.get("name") or "",
                    confidence=float(intent.get("confidence") or 0.0),
                    topic=_topic_of(parse),
                )
            )
            pending_custom_action = None
        elif not turns:
            continue
        elif kind == "action":
            name = event.get("name") or ""
            if pending_custom_action:
                # A custom action that sent nothing and set nothing failed in
                # Rasa's call to the action server (Rasa drops its events).
                turns[-1].action_error = {"action": pending_custom_action, "error": "no response"}
            pending_custom_action = None if name.startswith(RASA_ACTION_PREFIXES) else name
            if name == HANDOFF_ACTION:
                turns = []
                pending_custom_action = None
                continue
            turns[-1].actions.append(name)
        elif kind == "bot":
            pending_custom_action = None
            metadata = event.get("metadata") or {}
            turns[-1].responses.append(metadata.get("utter_action") or event.get("text") or "")
        elif kind in ("slot", "active_loop", "form"):
            pending_custom_action = None
            if kind == "slot" and event.get("name") == ACTION_ERROR_SLOT and event.get("value"):
                turns[-1].action_error = dict(event["value"])
    if pending_custom_action and turns:
        turns[-1].action_error = {"action": pending_custom_action, "error": "no response"}
    return turns
