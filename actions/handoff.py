"""Handing the conversation to a person."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.summary import handoff_payload

__all__ = ["ActionHandoff"]


class ActionHandoff(Action):
    """Tells the customer a person is coming and signals the handoff to the bridge."""

    def name(self) -> Text:
        return "action_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_handoff")
        dispatcher.utter_message(json_message=handoff_payload(tracker, reason="requested"))
        return []
