"""A conversation as the stuck detector sees it: one record per customer turn.

The tracker Rasa hands the policy (and the action server) may hold only the
latest turns (bot/tracker_store.py keeps a window); what the detector and the
handoff summary need from the turns before it comes in brief, as
:class:`Earlier`, in the slot ``earlier_turns`` ahead of the window's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

__all__ = ["EARLIER_SLOT", "RASA_ACTION_PREFIXES", "RESOLVED_INTENTS", "Conversation", "Earlier", "Turn",
           "conversation_since_last_handoff", "parsed_turn"]

HANDOFF_ACTION = "action_handoff"
# How much of a customer message a payload repeats.
MAX_TEXT = 500
# What Rasa's FallbackClassifier predicts (with the threshold as its confidence) for a message it is unsure of.
FALLBACK_INTENT = "nlu_fallback"
# The retrieval intent of the support answers (faq/<topic>); small talk is chitchat/<key>.
FAQ_INTENT = "faq"
# A topic the response selector ranks below the one chosen, at this confidence or more, is one the NLU also
# considered (an amount in pounds read as exchange_rate, with transfer_not_received second).
ALTERNATIVE_MIN_CONFIDENCE = 0.1
ACTION_ERROR_SLOT = "action_error"
EARLIER_SLOT = "earlier_turns"
# The customer said it helped, thanked or said goodbye.
RESOLVED_INTENTS = frozenset({"thank", "goodbye", "affirm"})
# Of the earlier turns that sent a reply, the latest this many are kept to cite should it be sent again.
MAX_CITED = 5
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
    # Other FAQ topics the NLU considered for it (ALTERNATIVE_MIN_CONFIDENCE), the likelier first.
    alternatives: List[str] = field(default_factory=list)
    # What the bot sent afterwards: response names (utter_...) or texts.
    responses: List[str] = field(default_factory=list)
    # The texts of those replies, as the customer read them (the handoff summary quotes them).
    replies: List[str] = field(default_factory=list)
    # Actions the bot ran after this message, in order.
    actions: List[str] = field(default_factory=list)
    # Set when a custom action failed while serving this turn.
    action_error: Optional[Dict[str, Any]] = None
    # Not understood (nlu_fallback, whose confidence is only the threshold): what the classifier
    # really thought most likely, {"intent", "confidence"[, "topic"]}, for agents to read.
    best_guess: Optional[Dict[str, Any]] = None

    def describe(self) -> Dict[str, Any]:
        """The turn as agents see it (handoff payload and evidence), text capped."""
        entry: Dict[str, Any] = {
            "text": self.text[:MAX_TEXT],
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
        }
        if self.topic:
            entry["topic"] = self.topic
        if self.best_guess:
            entry["best_guess"] = dict(self.best_guess)
        return entry

    @classmethod
    def from_described(cls, entry: Dict[str, Any]) -> "Turn":
        """A turn as a handoff payload lists it (describe() and its ``bot_reply``), read back: what an
        earlier handoff told the agents, carried into the next one (a transfer, a request). A reply
        to a message with a topic was its FAQ answer (``answered``)."""
        reply = entry.get("bot_reply") if isinstance(entry.get("bot_reply"), str) else ""
        topic = entry.get("topic") if isinstance(entry.get("topic"), str) else None
        guess = entry.get("best_guess")
        return cls(text=str(entry.get("text") or "")[:MAX_TEXT], intent=str(entry.get("intent") or ""),
                   confidence=float(entry.get("confidence") or 0.0), topic=topic,
                   replies=[reply] if reply else [], actions=["utter_faq"] if reply and topic else [],
                   best_guess=dict(guess) if isinstance(guess, dict) else None)

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
        return f"{FAQ_INTENT}/{self.topic}" if self.topic else self.intent


@dataclass
class Earlier:
    """Customer turns since the last handoff that the tracker no longer holds, in brief:
    exactly what the triggers and the handoff summary read from turns that far back."""

    count: int = 0
    # FAQ topics asked about, each once, the most recent last.
    topics: List[str] = field(default_factory=list)
    # The latest turn with a topic, as evidence cites it: {"turn": number, text, intent, confidence, topic}.
    last_topic_turn: Optional[Dict[str, Any]] = None
    last_answered_topic: Optional[str] = None
    last_resolved_turn: int = 0  # 0: none
    # For each label (Turn.label), the first reply of the latest turn with that label that got one.
    first_responses: Dict[str, str] = field(default_factory=dict)
    # How often each reply was sent, and the latest MAX_CITED turns that sent it (as evidence cites them).
    responses_sent: Dict[str, int] = field(default_factory=dict)
    cited: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)

    def absorb(self, turns: Sequence[Turn]) -> "Earlier":
        """These turns, which follow the earlier ones, folded in."""
        earlier = Earlier.from_dict(self.as_dict())  # a copy: ``self`` may be a slot's value
        for turn in turns:
            earlier.count += 1
            if turn.topic:
                if turn.topic in earlier.topics:
                    earlier.topics.remove(turn.topic)
                earlier.topics.append(turn.topic)
                earlier.last_topic_turn = {"turn": earlier.count, **turn.describe()}
            if turn.answered:
                earlier.last_answered_topic = turn.topic
            if turn.intent in RESOLVED_INTENTS:
                earlier.last_resolved_turn = earlier.count
            if turn.responses:
                earlier.first_responses[turn.label] = turn.responses[0]
            for response in turn.responses:
                earlier.responses_sent[response] = earlier.responses_sent.get(response, 0) + 1
            for response in dict.fromkeys(turn.responses):
                cited = earlier.cited.setdefault(response, [])
                cited.append({"turn": earlier.count, **turn.describe()})
                del cited[:-MAX_CITED]
        return earlier

    def as_dict(self) -> Dict[str, Any]:
        """As the slot holds it (JSON); its lists and dicts are copies, the cited turns are shared."""
        return {"count": self.count, "topics": list(self.topics), "last_topic_turn": self.last_topic_turn,
                "last_answered_topic": self.last_answered_topic, "last_resolved_turn": self.last_resolved_turn,
                "first_responses": dict(self.first_responses), "responses_sent": dict(self.responses_sent),
                "cited": {response: list(turns) for response, turns in self.cited.items()}}

    @classmethod
    def from_dict(cls, value: Any) -> "Earlier":
        """From the slot's value; anything unreadable counts as no earlier turns."""
        if not isinstance(value, dict):
            return cls()
        try:
            return cls(**{name: value[name] for name in cls.__dataclass_fields__ if name in value})
        except TypeError:
            return cls()


@dataclass
class Conversation:
    """The customer turns since the last handoff: in brief before the tracker's window, in full within it."""

    earlier: Earlier
    turns: List[Turn]

    @property
    def count(self) -> int:
        """Customer turns since the last handoff."""
        return self.earlier.count + len(self.turns)

    def as_earlier(self) -> Earlier:
        """All of it in brief: what the tracker store keeps of turns it cuts off."""
        return self.earlier.absorb(self.turns)


def parsed_turn(text: str, parse_data: Dict[str, Any]) -> Turn:
    """A customer message as the NLU parsed it (Rasa's ``parse_data``), before the bot did anything."""
    intent = parse_data.get("intent") or {}
    topic = _topic_of(parse_data)
    return Turn(text=text, intent=intent.get("name") or "", confidence=float(intent.get("confidence") or 0.0),
                topic=topic, alternatives=_alternatives(parse_data, topic) if topic else [],
                best_guess=_best_guess(parse_data))


def _topic_of(parse_data: Dict[str, Any]) -> Optional[str]:
    """The FAQ answer key of an FAQ question; small talk (``chitchat/...``) is no topic a customer
    asks about again or switches between, so it has none."""
    intent = (parse_data.get("intent") or {}).get("name")
    if intent != FAQ_INTENT:
        return None
    selected = (parse_data.get("response_selector") or {}).get(intent)
    if not selected:
        return None
    key = (selected.get("response") or {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if "/" in key else None


def _alternatives(parse_data: Dict[str, Any], topic: str) -> List[str]:
    """The other FAQ topics of the response selector's ranking at ALTERNATIVE_MIN_CONFIDENCE or more."""
    ranking = ((parse_data.get("response_selector") or {}).get(FAQ_INTENT) or {}).get("ranking") or []
    others: List[str] = []
    for entry in ranking:
        key = entry.get("intent_response_key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or "/" not in key:
            continue
        name = key.split("/", 1)[1]
        if name != topic and name not in others and float(entry.get("confidence") or 0.0) >= ALTERNATIVE_MIN_CONFIDENCE:
            others.append(name)
    return others


def _best_guess(parse_data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """For a message not understood: the first intent of the ranking that is not the fallback."""
    if (parse_data.get("intent") or {}).get("name") != FALLBACK_INTENT:
        return None
    for entry in parse_data.get("intent_ranking") or []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if name and name != FALLBACK_INTENT:
            guess: Dict[str, Any] = {"intent": name, "confidence": round(float(entry.get("confidence") or 0.0), 3)}
            topic = _topic_of({**parse_data, "intent": {"name": name}})
            if topic:
                guess["topic"] = topic
            return guess
    return None


def conversation_since_last_handoff(events: Iterable[Dict[str, Any]]) -> Conversation:
    """Customer turns after the most recent handoff in this session, built from serialised Rasa events.

    Events before a handoff belong to a conversation a person took over; they
    must not make the bot hand over again when it is talked to afterwards.
    The turns before a tracker's window come in brief from the ``earlier_turns``
    slot set ahead of the window; a copy of it that Rasa carries over into a
    new session (after ``session_started``) describes the old session and is ignored.
    """
    earlier = Earlier()
    turns: List[Turn] = []
    pending_custom_action: Optional[str] = None
    new_session = False
    for event in events:
        kind = event.get("event")
        if kind == "user":
            turns.append(parsed_turn(event.get("text") or "", event.get("parse_data") or {}))
            pending_custom_action = None
        elif kind in ("session_started", "restart") or (kind == "action" and event.get("name") == HANDOFF_ACTION):
            earlier, turns, pending_custom_action = Earlier(), [], None
            new_session = new_session or kind != "action"
        elif kind == "slot" and event.get("name") == EARLIER_SLOT and not turns:
            if not new_session:
                earlier = Earlier.from_dict(event.get("value"))
        elif not turns:
            continue
        elif kind == "action":
            name = event.get("name") or ""
            if pending_custom_action:
                # A custom action that sent nothing and set nothing failed in
                # Rasa's call to the action server (Rasa drops its events).
                turns[-1].action_error = {"action": pending_custom_action, "error": "no response"}
            pending_custom_action = None if name.startswith(RASA_ACTION_PREFIXES) else name
            turns[-1].actions.append(name)
        elif kind == "bot":
            pending_custom_action = None
            metadata = event.get("metadata") or {}
            turns[-1].responses.append(metadata.get("utter_action") or event.get("text") or "")
            if event.get("text"):
                turns[-1].replies.append(event["text"])
        elif kind in ("slot", "active_loop", "form"):
            pending_custom_action = None
            if kind == "slot" and event.get("name") == ACTION_ERROR_SLOT and event.get("value"):
                turns[-1].action_error = dict(event["value"])
    if pending_custom_action and turns:
        turns[-1].action_error = {"action": pending_custom_action, "error": "no response"}
    return Conversation(earlier, turns)
