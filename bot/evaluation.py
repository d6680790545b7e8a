"""Batch parsing and scoring of a trained model's NLU, for tests and benchmarks.

Rasa's HTTP API parses one message per call; running the model's NLU graph
on many messages at once lets the sentence encoder batch them, which makes
scoring thousands of held-out questions take seconds instead of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Text, Tuple

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.shared.core.trackers import DialogueStateTracker

__all__ = ["NluModel", "Score", "predicted_label", "score"]


FALLBACK_INTENT = "nlu_fallback"


def predicted_label(parse: Dict[Text, Any], ignore_fallback: bool = False) -> Text:
    """The answer the bot would give: ``faq/<key>`` for FAQ answers, else the intent.

    With ``ignore_fallback`` it is the classifier's best guess even where the
    FallbackClassifier would have refused to answer (plain top-1 accuracy).
    """
    intent = (parse.get("intent") or {}).get("name") or ""
    if ignore_fallback and intent == FALLBACK_INTENT:
        ranking = [entry["name"] for entry in parse.get("intent_ranking") or []]
        intent = next((name for name in ranking if name != FALLBACK_INTENT), intent)
    selected = (parse.get("response_selector") or {}).get(intent)
    if selected:
        return selected["response"]["intent_response_key"]
    return intent


class NluModel:
    """A trained Rasa model whose NLU part parses texts in batches."""

    def __init__(self, model_path: Path) -> None:
        self.path = Path(model_path)
        self._agent = Agent.load(str(model_path))
        self._tracker = DialogueStateTracker("evaluation", slots=[])

    def parse(self, texts: Sequence[Text], batch_size: int = 256) -> List[Dict[Text, Any]]:
        processor = self._agent.processor
        assert processor is not None
        target = processor.model_metadata.nlu_target
        parses: List[Dict[Text, Any]] = []
        for start in range(0, len(texts), batch_size):
            batch = [UserMessage(text) for text in texts[start : start + batch_size]]
            results = processor.graph_runner.run(
                inputs={PLACEHOLDER_MESSAGE: batch, PLACEHOLDER_TRACKER: self._tracker},
                targets=[target],
            )
            parses.extend(
                message.as_dict(only_output_properties=True) for message in results[target]
            )
        return parses


@dataclass
class Score:
    """Accuracy of predicted labels against the accepted labels of each example."""

    total: int = 0
    correct: int = 0
    per_label: Dict[Text, Tuple[int, int]] = field(default_factory=dict)
    errors: List[Tuple[Text, Text, Text, float]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def score(
    examples: Iterable[Tuple[Text, Iterable[Text]]],
    parses: Sequence[Dict[Text, Any]],
) -> Score:
    """Score ``(text, accepted labels)`` pairs against their parses, in order."""
    result = Score()
    for (text, accepted), parse in zip(examples, parses):
        accepted = set(accepted)
        label = predicted_label(parse)
        name = sorted(accepted)[0]
        hits, count = result.per_label.get(name, (0, 0))
        right = label in accepted
        result.per_label[name] = (hits + right, count + 1)
        result.total += 1
        result.correct += right
        if not right:
            confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
            result.errors.append((name, label, text, confidence))
    return result
