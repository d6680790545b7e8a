"""The callback intake form: a phone number and a time to call."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.errors import reports_failures
from actions.summary import handoff_payload

__all__ = ["ActionSubmitCallback", "ValidateCallbackForm", "normalise_phone"]

# E.164 allows at most 15 digits; national numbers have at least 7.
_MIN_DIGITS, _MAX_DIGITS = 7, 15
_PHONE_CHARACTERS = re.compile(r"^\+?[0-9\s().-]+$", re.ASCII)
MAX_TIME_LENGTH = 100


def normalise_phone(text: Text) -> Text:
    """``"+44 (7700) 900-123"`` -> ``"+447700900123"``; empty if not a phone number."""
    candidate = text.strip()
    if not _PHONE_CHARACTERS.match(candidate):
        return ""
    digits = re.sub(r"[^0-9]", "", candidate)
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return ""
    return ("+" if candidate.startswith("+") else "") + digits


class ValidateCallbackForm(FormValidationAction):
    """Rejects anything that is not a plausible phone number or call time."""

    def name(self) -> Text:
        return "validate_callback_form"

    def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        phone = normalise_phone(str(value or ""))
        if not phone:
            dispatcher.utter_message(response="utter_invalid_phone")
            return {"callback_phone": None}
        return {"callback_phone": phone}

    def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        when = " ".join(str(value or "").split())
        if not when or len(when) > MAX_TIME_LENGTH:
            dispatcher.utter_message(response="utter_invalid_time")
            return {"callback_time": None}
        return {"callback_time": when}


class ActionSubmitCallback(Action):
    """Confirms the callback and passes it to the bridge as a ``callback`` handoff."""

    def name(self) -> Text:
        return "action_submit_callback"

    @reports_failures
    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_callback_booked")
        payload = handoff_payload(tracker, "callback", domain=domain)
        payload["handoff"]["callback"] = {
            "phone": tracker.get_slot("callback_phone"),
            "preferred_time": tracker.get_slot("callback_time"),
        }
        dispatcher.utter_message(json_message=payload)
        return [SlotSet("callback_phone", None), SlotSet("callback_time", None)]
