"""StuckDetectionPolicy: hands the conversation to a person when it is stuck.

Registered in config.yml with its thresholds. On every customer message (and
after a failed custom action) it turns the tracker into turns, asks
:class:`~bot.stuck.detector.StuckDetector`, and when a trigger fires predicts
the handoff action with full confidence. Its priority is above every stock
policy's, so a stuck conversation is handed over even where a rule would have
answered.
The trigger and its evidence reach the handoff action through two slots set
only when this prediction wins.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.core.constants import POLICY_PRIORITY
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.sentence_encoder import load_encoder
from bot.stuck.conversation import HANDOFF_ACTION, RASA_ACTION_PREFIXES, conversation_since_last_handoff
from bot.stuck.detector import TRIGGERS, DetectorConfig, StuckDetector, Verdict

__all__ = ["StuckDetectionPolicy"]

logger = logging.getLogger(__name__)

REASON_SLOT = "handoff_reason"
EVIDENCE_SLOT = "handoff_evidence"
# Above RulePolicy's (4 in Rasa 3.6): a stuck conversation must win over a rule.
DEFAULT_PRIORITY = 7
_THRESHOLDS = [name for name in DetectorConfig.__dataclass_fields__ if name != "triggers"]


# The encoder reads at most 128 tokens; longer texts add nothing but cache size.
_MAX_COMPARED_CHARACTERS = 600


@lru_cache(maxsize=4096)
def _embedding(text: str) -> np.ndarray:
    return load_encoder().encode([text])[0]


def semantic_similarity(first: str, second: str) -> float:
    """Cosine similarity of the MiniLM embeddings (they are unit length)."""
    limit = _MAX_COMPARED_CHARACTERS
    return float(_embedding(first[:limit]) @ _embedding(second[:limit]))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class StuckDetectionPolicy(Policy):
    """Predicts the handoff action when a conversation is looping or stuck."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        defaults = DetectorConfig()
        return {
            POLICY_PRIORITY: DEFAULT_PRIORITY,
            "handoff_action": HANDOFF_ACTION,
            "triggers": list(TRIGGERS),
            **{name: getattr(defaults, name) for name in _THRESHOLDS},
        }

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        detector_config = DetectorConfig(
            triggers=tuple(config["triggers"]), **{name: config[name] for name in _THRESHOLDS}
        )
        self._detector = StuckDetector(detector_config, similarity=semantic_similarity)
        self._handoff_action = config["handoff_action"]

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """Nothing to learn: the triggers are rules with thresholds from config.yml."""
        if self._handoff_action not in domain.action_names_or_texts:
            raise ValueError(
                f"StuckDetectionPolicy hands off with '{self._handoff_action}', "
                f"which is not an action of the domain."
            )
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = [0.0] * domain.num_actions
        latest_action = tracker.latest_action_name
        if latest_action == self._handoff_action:
            # Nothing more to say after handing over: wait for the person.
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._policy_prediction(probabilities)

        new_message = latest_action == ACTION_LISTEN_NAME
        if not new_message and (latest_action or "").startswith(RASA_ACTION_PREFIXES):
            # Most steps of a turn are Rasa's own actions (utter_*): nothing to check.
            return self._policy_prediction(probabilities)

        conversation = conversation_since_last_handoff(event.as_dict() for event in tracker.applied_events())
        turns = conversation.turns
        failed_action = bool(turns) and turns[-1].action_error is not None
        if not (new_message or failed_action):
            return self._policy_prediction(probabilities)

        verdict = self._detector.check(turns, conversation.earlier)
        if verdict is None:
            return self._policy_prediction(probabilities)
        logger.info("Conversation %s is stuck: %s", tracker.sender_id, verdict.explanation)
        probabilities[domain.index_for_action(self._handoff_action)] = 1.0
        return self._policy_prediction(probabilities, self._slot_events(verdict))

    def _policy_prediction(
        self, probabilities: List[float], slot_events: Optional[List[SlotSet]] = None
    ) -> PolicyPrediction:
        """What Rasa's protected ``Policy._prediction`` builds, made with the public PolicyPrediction."""
        return PolicyPrediction(probabilities, type(self).__name__, self.priority,
                                optional_events=slot_events)

    @staticmethod
    def _slot_events(verdict: Verdict) -> List[SlotSet]:
        evidence = {"explanation": verdict.explanation, **verdict.evidence}
        return [SlotSet(REASON_SLOT, verdict.reason), SlotSet(EVIDENCE_SLOT, evidence)]
