"""Batch parsing and scoring of a trained model's NLU, for tests and benchmarks.

Rasa's HTTP API parses one message per call; running the model's NLU graph
on many messages at once lets the sentence encoder batch them, which makes
scoring thousands of held-out questions take seconds instead of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text, Tuple

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_compat import graph_components, parse_in_one_run

__all__ = [
    "LabelScore",
    "NluModel",
    "Score",
    "label_scores",
    "load_examples",
    "macro_f1",
    "predicted_label",
    "score",
]


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
    """A trained Rasa model whose NLU part parses texts in batches.

    ``agent``: an already loaded agent of that model (loading costs ~1 s), e.g.
    one that also plays conversations.
    """

    def __init__(self, model_path: Path, agent: Optional[Agent] = None) -> None:
        self.path = Path(model_path)
        self._agent = agent or Agent.load(str(model_path))
        self._tracker = DialogueStateTracker("evaluation", slots=[])

    @property
    def agent(self) -> Agent:
        return self._agent

    def _processor(self) -> MessageProcessor:
        if self._agent.processor is None:
            raise ValueError(f"The agent of {self.path} has no model loaded.")
        return self._agent.processor

    def labels(self) -> List[Text]:
        """Every label the model can predict (``greet``, ``faq/card_arrival``, ...).

        Read from the intent classifier when it exposes ``labels`` (TopicClassifier
        does), otherwise from the domain: its intents, with each retrieval intent
        replaced by its ``faq/<key>`` responses.
        """
        processor = self._processor()
        for component in graph_components(processor.graph_runner):
            labels = getattr(component, "labels", None)
            if isinstance(labels, list) and labels:
                return sorted(str(label) for label in labels)
        domain = processor.domain
        retrieval = set(domain.retrieval_intents)
        labels = {intent for intent in domain.intents if intent not in retrieval}
        labels -= {"restart", "back", "session_start", FALLBACK_INTENT}
        labels |= {
            name[len("utter_"):] for name in domain.responses
            if name.startswith("utter_") and name[len("utter_"):].split("/", 1)[0] in retrieval
        }
        return sorted(labels)

    def parse(self, texts: Sequence[Text], batch_size: int = 256) -> List[Dict[Text, Any]]:
        processor = self._processor()
        target = processor.model_metadata.nlu_target
        parses: List[Dict[Text, Any]] = []
        for start in range(0, len(texts), batch_size):
            batch = [UserMessage(text) for text in texts[start : start + batch_size]]
            parses.extend(
                message.as_dict(only_output_properties=True)
                for message in parse_in_one_run(processor.graph_runner, target, batch, self._tracker)
            )
        return parses


def load_examples(directory: Path) -> List[Tuple[Text, Text]]:
    """``(text, label)`` of every example in Rasa NLU files under ``directory``
    (e.g. tests/nlu); FAQ examples are labelled ``faq/<key>``."""
    from rasa.shared.nlu.training_data.loading import load_data

    if not Path(directory).is_dir():
        return []
    data = load_data(str(directory))
    return [
        (message.get("text"), message.get("intent_response_key") or message.get("intent"))
        for message in data.intent_examples
    ]


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


@dataclass
class LabelScore:
    """Precision, recall and F1 of one label; ``support`` = examples expected to have it."""

    label: Text
    support: int
    precision: float
    recall: float
    f1: float


def label_scores(
    expected: Sequence[Text], predicted: Sequence[Text], labels: Iterable[Text]
) -> Dict[Text, LabelScore]:
    """Per-label scores (sklearn; 0 where undefined) for ``labels``, in any order.

    Predictions outside ``labels`` (e.g. ``nlu_fallback``) count as misses.
    """
    from sklearn.metrics import precision_recall_fscore_support

    names = sorted(set(labels))
    if not names:
        return {}
    precision, recall, f1, support = precision_recall_fscore_support(
        list(expected), list(predicted), labels=names, zero_division=0
    )
    return {
        name: LabelScore(name, int(support[i]), float(precision[i]), float(recall[i]), float(f1[i]))
        for i, name in enumerate(names)
    }


def macro_f1(expected: Sequence[Text], predicted: Sequence[Text]) -> float:
    """Mean F1 over the labels that occur in ``expected`` (a fallback counts as a miss)."""
    scores = label_scores(expected, predicted, set(expected))
    return sum(entry.f1 for entry in scores.values()) / len(scores) if scores else 0.0
