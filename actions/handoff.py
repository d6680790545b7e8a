"""Handing the conversation to a person."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.errors import ACTION_ERROR_SLOT
from actions.summary import SILENT_SOURCES, handoff_payload, handoff_source

__all__ = ["ActionHandoff", "HANDOFF_MESSAGES", "handoff_message"]

# What the customer reads, by reason; every other (stuck) reason gets the default.
HANDOFF_MESSAGES: Dict[Text, Text] = {
    "requested": "utter_handoff",
    "distress": "utter_handoff_distress",
    "frustration": "utter_handoff_frustrated",
    "action_error": "utter_handoff_error",
}
STUCK_MESSAGE = "utter_handoff_stuck"
# Distress whose matched phrases (the stuck detector's evidence) speak of fraud happening now gets the warning
# to stop; bereavement or hardship gets no unrelated fraud warning.
FRAUD_MESSAGE = "utter_handoff_distress_fraud"
FRAUD_WORDS = re.compile(
    r"scam|fraud|\bcon(ned)?\b|safe account|code|\bpin\b|passcode|password|caller|on the phone|on the line|"
    r"called me|rang me|texted me|messaged me|hacked|tricked|duped|pretending|from (the|your|my) bank|card details|"
    r"login details|as we speak|right now|happening now|\blink\b|out of (my|our) (account|card|savings)",
    re.IGNORECASE,
)


def handoff_message(reason: Text, evidence: Dict[Text, Any]) -> Text:
    """The response the customer reads for this handoff, tailored to the kind of distress where it shows."""
    if reason == "distress" and any(FRAUD_WORDS.search(str(phrase)) for phrase in evidence.get("phrases") or []):
        return FRAUD_MESSAGE
    return HANDOFF_MESSAGES.get(reason, STUCK_MESSAGE)


class ActionHandoff(Action):
    """Tells the customer a person is coming and signals the handoff to the bridge.

    The reason and evidence come from StuckDetectionPolicy (slots
    ``handoff_reason``/``handoff_evidence``); they are cleared afterwards so the
    next handoff starts clean. When the bridge asks on the customer's behalf
    (the "Talk to a person" button, a request left instead of waiting, a
    transfer between agents: metadata ``handoff_source``), the payload says so;
    for a request or a transfer the customer is not told that someone joins.
    """

    def name(self) -> Text:
        return "action_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reason = tracker.get_slot("handoff_reason") or "requested"
        evidence = tracker.get_slot("handoff_evidence") or {}
        if handoff_source(tracker) not in SILENT_SOURCES:
            dispatcher.utter_message(response=handoff_message(reason, evidence))
        dispatcher.utter_message(json_message=handoff_payload(tracker, reason, evidence, domain))
        events: List[Dict[Text, Any]] = [
            SlotSet("handoff_reason", None),
            SlotSet("handoff_evidence", None),
            SlotSet(ACTION_ERROR_SLOT, None),
        ]
        if tracker.active_loop.get("name"):
            events.append(ActiveLoop(None))  # a person takes over: leave any form
        return events
