"""Tracker snapshots for running actions without a Rasa server."""

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker

# The domain as the action server gets it: its slots with their mappings.
DOMAIN: Dict[str, Any] = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())

BRAND = {
    "bank_name": "Northwind Bank",
    "help_url": "https://help.northwind-bank.example",
    "support_phone": "0800 123 4567",
    "support_email": "support@northwind-bank.example",
}


def user_event(
    text: str, intent: str, confidence: float, answer: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """A user event as Rasa stores it, with a response_selector when ``answer`` is set."""
    parse: Dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": confidence}}
    if answer:
        parse["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "intent_response_key": answer,
                    "utter_action": f"utter_{answer}",
                    "confidence": confidence,
                    "responses": [],
                },
                "ranking": [],
            },
        }
    return {"event": "user", "text": text, "parse_data": parse, "metadata": metadata or {}}


def make_tracker(
    events: List[Dict[str, Any]],
    slots: Optional[Dict[str, Any]] = None,
    active_loop: Optional[Dict[str, Any]] = None,
) -> Tracker:
    latest = next(({**event["parse_data"], "metadata": event.get("metadata") or {}}
                   for event in reversed(events) if event["event"] == "user"), {})
    return Tracker(
        sender_id="customer-1",
        slots={**BRAND, **(slots or {})},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop=active_loop or {},
        latest_action_name=None,
    )


@pytest.fixture
def faq_then_human() -> Tracker:
    return make_tracker(
        [
            user_event("my card still hasn't come", "faq", 0.93, "faq/card_arrival"),
            {"event": "action", "name": "utter_faq"},
            {"event": "bot", "text": "New and replacement cards usually arrive in 5 days. Track it in the app."},
            {"event": "action", "name": "utter_did_that_help"},
            {"event": "bot", "text": "Did that answer your question?"},
            user_event("how do I top up with cash", "faq", 0.88, "faq/top_up"),
            {"event": "action", "name": "utter_faq"},
            {"event": "bot", "text": "You can add money at any Post Office counter."},
            user_event("let me talk to a real person", "request_human", 0.99),
        ]
    )
