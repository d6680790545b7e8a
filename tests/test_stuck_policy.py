"""StuckDetectionPolicy on Rasa trackers, with the project's domain and config.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stuck.policy import StuckDetectionPolicy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def configured() -> Dict[str, Any]:
    """The policy's settings exactly as config.yml gives them."""
    policies = yaml.safe_load((ROOT / "config.yml").read_text())["policies"]
    [settings] = [p for p in policies if p["name"].endswith("StuckDetectionPolicy")]
    return {key: value for key, value in settings.items() if key != "name"}


@pytest.fixture
def policy(tmp_path) -> StuckDetectionPolicy:
    return StuckDetectionPolicy.create(
        configured(), LocalModelStorage(tmp_path), Resource("stuck"), ExecutionContext(GraphSchema({}))
    )


def user(text: str, intent: str, confidence: float = 0.95) -> List[Event]:
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, intent={"name": intent, "confidence": confidence}),
    ]


def bot(action: str, text: str) -> List[Event]:
    return [ActionExecuted(action), BotUttered(text, metadata={"utter_action": action})]


def tracker(domain: Domain, events: List[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("customer", events, slots=domain.slots)


def predicted(policy: StuckDetectionPolicy, domain: Domain, events: List[Event]) -> str:
    prediction = policy.predict_action_probabilities(tracker(domain, events), domain)
    if max(prediction.probabilities) == 0:
        return ""
    return domain.action_names_or_texts[prediction.max_confidence_index]


def test_config_yml_settings_are_valid_and_outrank_rules(policy):
    from rasa.core.policies.rule_policy import RulePolicy

    assert policy.priority > RulePolicy.get_default_config()["priority"]
    assert configured()["triggers"] == list(StuckDetectionPolicy.get_default_config()["triggers"])


def test_a_request_for_a_person_predicts_the_handoff_with_reason_and_evidence(policy, domain):
    events = user("hello", "greet") + bot("utter_greet", "Hi") + user("human please", "request_human")

    prediction = policy.predict_action_probabilities(tracker(domain, events), domain)

    assert domain.action_names_or_texts[prediction.max_confidence_index] == "action_handoff"
    assert prediction.max_confidence == 1.0
    reason, evidence = prediction.optional_events
    assert reason == SlotSet("handoff_reason", "requested")
    assert evidence.key == "handoff_evidence"
    assert evidence.value["explanation"] == "the customer asked for a person"
    assert evidence.value["turns"] == [
        {"turn": 2, "text": "human please", "intent": "request_human", "confidence": 0.95}
    ]


def test_a_normal_turn_predicts_nothing(policy, domain):
    events = user("hello", "greet") + bot("utter_greet", "Hi") + user("how do I top up", "faq")

    assert predicted(policy, domain, events) == ""


def test_after_the_handoff_the_bot_waits(policy, domain):
    events = user("agent", "request_human") + [ActionExecuted("action_handoff")]

    assert predicted(policy, domain, events) == "action_listen"


def test_two_misunderstandings_in_a_row_hand_over(policy, domain):
    events = user("blorp", "nlu_fallback", 0.2) + bot("utter_default", "Sorry?") + user("zzz", "nlu_fallback", 0.1)

    assert predicted(policy, domain, events) == "action_handoff"


def test_a_failed_action_hands_over_without_waiting_for_the_customer(policy, domain):
    error = {"action": "action_submit_callback", "error": "InjectedFailure"}
    events = user("tomorrow at 5", "nlu_fallback", 0.3) + [
        ActionExecuted("action_submit_callback"),
        SlotSet("action_error", error),
    ]

    prediction = policy.predict_action_probabilities(tracker(domain, events), domain)

    assert domain.action_names_or_texts[prediction.max_confidence_index] == "action_handoff"
    assert prediction.optional_events[0] == SlotSet("handoff_reason", "action_error")


def test_turns_before_an_earlier_handoff_do_not_count(policy, domain):
    events = (
        user("blorp", "nlu_fallback", 0.2)
        + bot("utter_default", "Sorry?")
        + user("agent", "request_human")
        + [ActionExecuted("action_handoff")]
        + user("zzz", "nlu_fallback", 0.1)
    )

    assert predicted(policy, domain, events) == ""


def test_training_refuses_a_handoff_action_the_domain_lacks(tmp_path, domain):
    policy = StuckDetectionPolicy.create(
        {**configured(), "handoff_action": "action_missing"},
        LocalModelStorage(tmp_path),
        Resource("stuck"),
        ExecutionContext(GraphSchema({})),
    )

    with pytest.raises(ValueError, match="action_missing"):
        policy.train([], domain)
