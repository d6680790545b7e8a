"""Failures of custom actions become a handoff, never a silent dead end.

Actions that call a backend wrap their ``run`` in :func:`reports_failures`:
an exception is logged and reported in the ``action_error`` slot, and
StuckDetectionPolicy hands the conversation to a person (reason
``action_error``). ``action_handoff`` itself is deliberately not wrapped: it
is the safety net and must not fail into itself.

Fault drills: ``ACTIONS_FAIL=action_a,action_b`` makes those actions fail on
purpose, to rehearse the path above with real servers (tests and drills).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

__all__ = ["ACTION_ERROR_SLOT", "InjectedFailure", "reports_failures"]

logger = logging.getLogger(__name__)

ACTION_ERROR_SLOT = "action_error"
FAULT_DRILL_VARIABLE = "ACTIONS_FAIL"

Run = Callable[[Any, CollectingDispatcher, Tracker, Dict[Text, Any]], List[Dict[Text, Any]]]


class InjectedFailure(RuntimeError):
    """Raised by an action listed in ACTIONS_FAIL (fault drills only)."""


def _fails_on_purpose(action_name: Text) -> bool:
    listed = os.environ.get(FAULT_DRILL_VARIABLE, "")
    return action_name in {name.strip() for name in listed.split(",") if name.strip()}


def reports_failures(run: Run) -> Run:
    """Turn an exception in ``run`` into the ``action_error`` slot."""

    @functools.wraps(run)
    def guarded(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        name = self.name()
        try:
            if _fails_on_purpose(name):
                raise InjectedFailure(f"{name} failed on purpose ({FAULT_DRILL_VARIABLE})")
            return run(self, dispatcher, tracker, domain)
        except Exception as error:  # noqa: BLE001 - every failure must reach a person
            logger.exception("Action %s failed for conversation %s", name, tracker.sender_id)
            dispatcher.messages.clear()  # half-sent replies would mislead the customer
            return [SlotSet(ACTION_ERROR_SLOT, {"action": name, "error": type(error).__name__})]

    return guarded
