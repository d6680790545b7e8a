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

__all__ = ["ActionSubmitCallback", "ValidateCallbackForm", "find_phone", "normalise_phone", "tidy_time"]

# E.164 allows at most 15 digits; national numbers have at least 7.
_MIN_DIGITS, _MAX_DIGITS = 7, 15
_PHONE_CHARACTERS = re.compile(r"^\+?[0-9\s().-]+$", re.ASCII)
MAX_TIME_LENGTH = 100
# A run of what phone numbers are written with, from a digit (or "+" or "(") to a digit: a candidate
# number inside a sentence ("sorry, it's 07700 900123").
_PHONE_RUN = re.compile(r"[+(]?[0-9][0-9\s().-]*[0-9]", re.ASCII)
# Courtesies around a time ("after 6 today please"): said back without them.
_COURTESY = re.compile(r"^(?:please|pls|thanks|thank you|cheers)\b[\s,.!]*|[\s,.!]*\b(?:please|pls|thanks|thank you|cheers)[\s.!]*$",
                       re.IGNORECASE)


def normalise_phone(text: Text) -> Text:
    """``"+44 (7700) 900-123"`` -> ``"+447700900123"``; empty if not a phone number."""
    candidate = text.strip()
    if not _PHONE_CHARACTERS.match(candidate):
        return ""
    digits = re.sub(r"[^0-9]", "", candidate)
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return ""
    return ("+" if candidate.startswith("+") else "") + digits


def find_phone(text: Text) -> Text:
    """The first phone number in what the customer typed, normalised; empty if there is none. A
    sentence around it is fine: people answer "sorry, it's 07700 900123" as often as the bare number."""
    for run in _PHONE_RUN.finditer(text):
        phone = normalise_phone(run.group())
        if phone:
            return phone
    return ""


def tidy_time(text: Text) -> Text:
    """The time asked for in the customer's words, spaces tidied and courtesies dropped ("after 6 today
    please" -> "after 6 today"), to be said back to them and read by the agent who calls."""
    when = " ".join(text.split())
    while True:
        shorter = _COURTESY.sub("", when).strip(" ,")
        if shorter == when:
            return when
        when = shorter


class ValidateCallbackForm(FormValidationAction):
    """Takes the phone number from what the customer typed (in a sentence too) and the time in their
    words; asks again when there is no number or no time."""

    def name(self) -> Text:
        return "validate_callback_form"

    def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        phone = find_phone(str(value or ""))
        if not phone:
            dispatcher.utter_message(response="utter_invalid_phone")
            return {"callback_phone": None}
        return {"callback_phone": phone}

    def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        when = tidy_time(str(value or ""))
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
