"""One linear classifier for intents *and* FAQ answers.

Rasa's usual set-up classifies intents (``faq``) and then runs a second model,
the ResponseSelector, to pick the answer (``faq/card_arrival``).  Here a single
linear SVM is trained over the full labels (``greet``, ``faq/card_arrival``,
...) on the sentence features of the preceding featurizers, and the output is
written in both of Rasa's formats: ``intent``/``intent_ranking`` as any intent
classifier, and ``response_selector`` exactly as ``ResponseSelector`` does, so
retrieval actions (``utter_faq``) and ``/model/parse`` clients work unchanged.

One model means one training run (seconds, not minutes) and consistent
confidences: the ``faq`` intent's confidence is that of the best answer, so the
FallbackClassifier refuses to guess between two answers rather than picking one.
Each label's score may also count how near the message is to that label's nearest
training example (``neighbour_weight``): real customers' wording is often close
to one example while the linear model has generalised past it. The demo bot
lets the nearest example vote only among the FAQ answers (``answer_vote_weight``,
:mod:`bot.nlu.answer_vote`), after the confidence has been computed.
Scores become probabilities through a softmax with a fixed ``softmax_scale``;
the top label's probability is then replaced by a calibrated confidence
(:mod:`bot.nlu.calibration`: how clearly it wins and how much the message
resembles its examples, Platt-scaled on out-of-fold predictions), so that the
fallback threshold means "less likely right than this" (docs/nlu-pipeline.md).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import defaultdict
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from scipy.special import softmax
from sklearn.svm import LinearSVC

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    RESPONSE_IDENTIFIER_DELIMITER,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import answer_vote, calibration
from bot.nlu.answer_vote import answer_groups, vote_among_answers
from bot.nlu.calibration import (
    Platt, centroids, confidence_score, familiarity, fit_platt, folds_of, nearest_by_label, out_of_fold,
    vocabulary, with_top_confidence,
)
from bot.nlu.featurizers import source_fingerprint
from bot.nlu.spelling import nlu_text

__all__ = ["TopicClassifier"]

logger = logging.getLogger(__name__)

_MODEL_FILE = "linear_model.npz"
_RESPONSES_FILE = "responses.json"


def _intent_of(label: Text) -> Text:
    """``faq/card_arrival`` -> ``faq``; plain intents are their own intent."""
    return label.split(RESPONSE_IDENTIFIER_DELIMITER, 1)[0]


def _utter_action_of(label: Text) -> Text:
    return f"utter_{label}"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class TopicClassifier(IntentClassifier, GraphComponent):
    """Linear SVM over full labels; fills ``intent`` and ``response_selector``."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Featurizer]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return source_fingerprint(sys.modules[__name__], calibration, answer_vote)

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # How much the dense sentence embedding counts against the sparse
            # TF-IDF block (both are L2-normalised per message).
            "dense_weight": 3.0,
            # Inverse regularisation strength of the SVM.
            "C": 0.5,
            # Multiplier of SVM scores before the softmax that makes confidences.
            "softmax_scale": 5.0,
            # Folds of the training data whose out-of-fold predictions calibrate
            # the confidence; below 2, the raw softmax is the confidence.
            "calibration_folds": 3,
            # How much resembling a label's examples (cosine to their mean
            # sentence embedding) counts against how clearly the label wins.
            "similarity_weight": 10.0,
            # How much resembling the label's nearest training example counts
            # (what a label of varied examples, out_of_scope, is recognised by).
            "nearest_weight": 0.0,
            # How much each label's nearest training example (its cosine) adds
            # to the label's SVM score: a customer's wording close to one
            # example counts even where the linear model generalised past it.
            "neighbour_weight": 0.0,
            # The same, but only to choose among the answers of the top label's
            # retrieval intent (faq/...), after the confidence is computed: it
            # never changes whether the bot answers or falls back.
            "answer_vote_weight": 0.0,
            # Below this share of words seen in training, the confidence shrinks
            # in proportion (gibberish: 0 known words, confidence 0).
            "known_words_needed": 0.5,
            # How many intents / answers the rankings list.
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        labels: Optional[List[Text]] = None,
        weights: Optional[np.ndarray] = None,
        bias: Optional[np.ndarray] = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
        label_centroids: Optional[np.ndarray] = None,
        platt: Optional[Platt] = None,
        known_words: Optional[List[Text]] = None,
        examples: Optional[np.ndarray] = None,
        example_labels: Optional[np.ndarray] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._labels = labels or []
        self._weights = weights
        self._bias = bias
        self._responses = responses or {}
        self._centroids = label_centroids
        self._platt = platt
        self._known_words = set(known_words or [])
        self._examples = examples
        self._example_labels = example_labels

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TopicClassifier":
        return cls(config, model_storage, resource)

    # ---- features ---------------------------------------------------------

    def _features(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        rows = []
        for message in messages:
            parts = []
            dense = message.get_dense_features(TEXT)[1]
            if dense is not None:
                parts.append(scipy.sparse.csr_matrix(dense.features * self._config["dense_weight"]))
            sparse = message.get_sparse_features(TEXT)[1]
            if sparse is not None:
                parts.append(scipy.sparse.csr_matrix(sparse.features))
            if not parts:
                raise ValueError(
                    "TopicClassifier found no sentence features: put a featurizer "
                    "(e.g. SentenceEmbeddingFeaturizer) before it in config.yml."
                )
            rows.append(scipy.sparse.hstack(parts))
        return scipy.sparse.vstack(rows).tocsr()

    @staticmethod
    def _dense(messages: List[Message]) -> Optional[np.ndarray]:
        """The messages' sentence embeddings (unit length), or None without a dense featurizer."""
        rows = [message.get_dense_features(TEXT)[1] for message in messages]
        if any(row is None for row in rows):
            return None
        return np.vstack([row.features for row in rows if row is not None]).astype(np.float64)

    # ---- training ---------------------------------------------------------

    def _fit_svm(self, features: scipy.sparse.csr_matrix, label_indices: np.ndarray) -> np.ndarray:
        """Weights with the bias as last column, one row per label seen (sorted)."""
        # Fixed seed: liblinear shuffles examples; the same data gives the same model.
        svm = LinearSVC(C=self._config["C"], random_state=0).fit(features, label_indices)
        if len(svm.classes_) == 2:
            # For two classes LinearSVC keeps one score: +s for the second, -s for the first.
            weights, bias = np.vstack([-svm.coef_, svm.coef_]), np.concatenate([-svm.intercept_, svm.intercept_])
        else:
            weights, bias = svm.coef_, svm.intercept_
        return np.hstack([weights, bias[:, None]])

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            message
            for message in training_data.intent_examples
            if message.get(TEXT) and message.get(INTENT)
        ]
        if not examples:
            logger.debug("TopicClassifier: no intent examples, nothing to train.")
            return self._resource
        labels = [message.get(INTENT_RESPONSE_KEY) or message.get(INTENT) for message in examples]
        if len(set(labels)) < 2:
            raise ValueError("TopicClassifier needs training examples of at least two intents.")
        self._labels = sorted(set(labels))
        label_indices = np.searchsorted(self._labels, labels)
        features = self._features(examples)
        model = self._fit_svm(features, label_indices)
        self._weights = model[:, :-1].astype(np.float32)
        self._bias = model[:, -1].astype(np.float32)
        dense = self._dense(examples)
        means = centroids(dense, label_indices, len(self._labels))
        # Stored as float32: the model predicts the same before and after a save and load.
        self._centroids = None if means is None else means.astype(np.float32)
        if dense is not None and (self._config["nearest_weight"] or self._config["neighbour_weight"]
                                  or self._config["answer_vote_weight"]):
            # Kept as float32 for the same reason as the centroids.
            self._examples, self._example_labels = dense.astype(np.float32), label_indices
        self._platt = self._calibrate(features, label_indices, dense)
        self._known_words = vocabulary(message.get(TEXT) for message in examples)
        self._responses = {
            label: training_data.responses.get(_utter_action_of(label), [])
            for label in self._labels
            if RESPONSE_IDENTIFIER_DELIMITER in label
        }
        self._persist()
        return self._resource

    def _calibrate(
        self, features: scipy.sparse.csr_matrix, label_indices: np.ndarray, dense: Optional[np.ndarray]
    ) -> Optional[Platt]:
        folds = int(self._config["calibration_folds"])
        if folds < 2:
            return None
        scores = out_of_fold(self._fit_svm, features, label_indices, len(self._labels), folds)
        nearest = None
        if self._examples is not None:
            # Each example's nearest neighbours among the folds that scored it, never itself.
            examples = self._examples.astype(np.float64)
            nearest = np.empty_like(scores)
            for train, held_out in folds_of(label_indices, folds):
                nearest[held_out] = nearest_by_label(
                    examples[held_out], examples[train], label_indices[train], len(self._labels))
            scores = scores + self._config["neighbour_weight"] * nearest
        z = confidence_score(scores, self._config["softmax_scale"], dense, self._centroids,
                             self._config["similarity_weight"], nearest, self._config["nearest_weight"])
        try:
            return fit_platt(z, scores.argmax(axis=1) == label_indices)
        except ValueError:
            logger.warning("TopicClassifier: every out-of-fold answer was right (or wrong); "
                           "confidences are not calibrated.")
            return None

    def _persist(self) -> None:
        if self._weights is None or self._bias is None:  # a real check: python -O drops asserts
            raise RuntimeError("TopicClassifier: nothing to persist before training")
        with self._model_storage.write_to(self._resource) as directory:
            calibrated = {} if self._platt is None else {"platt": np.array([self._platt.slope, self._platt.intercept])}
            with_centroids = {} if self._centroids is None else {"centroids": self._centroids.astype(np.float32)}
            with_examples = {} if self._examples is None or self._example_labels is None else {
                "examples": self._examples, "example_labels": self._example_labels}
            np.savez(directory / _MODEL_FILE, weights=self._weights, bias=self._bias,
                     **calibrated, **with_centroids, **with_examples)
            (directory / _RESPONSES_FILE).write_text(
                json.dumps({"labels": self._labels, "responses": self._responses,
                            "known_words": sorted(self._known_words)})
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TopicClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / _MODEL_FILE)
                meta = json.loads((directory / _RESPONSES_FILE).read_text())
                return cls(
                    config,
                    model_storage,
                    resource,
                    labels=meta["labels"],
                    weights=arrays["weights"],
                    bias=arrays["bias"],
                    responses=meta["responses"],
                    label_centroids=arrays["centroids"] if "centroids" in arrays else None,
                    platt=Platt(*arrays["platt"].tolist()) if "platt" in arrays else None,
                    known_words=meta.get("known_words"),
                    examples=arrays["examples"] if "examples" in arrays else None,
                    example_labels=arrays["example_labels"] if "example_labels" in arrays else None,
                )
        except (ValueError, FileNotFoundError):
            logger.warning("TopicClassifier was not trained; it will not classify.")
            return cls(config, model_storage, resource)

    # ---- prediction -------------------------------------------------------

    def probabilities(self, messages: List[Message]) -> np.ndarray:
        """Label probabilities, one row per message, columns in ``labels`` order."""
        if self._weights is None or self._bias is None:
            raise ValueError("TopicClassifier is not trained.")
        scores = np.asarray(self._features(messages) @ self._weights.T + self._bias)
        dense = self._dense(messages)
        nearest = None
        if dense is not None and self._examples is not None and self._example_labels is not None:
            nearest = nearest_by_label(dense, self._examples.astype(np.float64), self._example_labels,
                                       len(self._labels))
            scores = scores + self._config["neighbour_weight"] * nearest
        probabilities = softmax(scores * self._config["softmax_scale"], axis=1)
        if self._platt is not None:
            z = confidence_score(scores, self._config["softmax_scale"], dense, self._centroids,
                                 self._config["similarity_weight"], nearest, self._config["nearest_weight"])
            known = familiarity([nlu_text(message) for message in messages], self._known_words,
                                self._config["known_words_needed"])
            probabilities = with_top_confidence(probabilities, self._platt(z) * known)
        if nearest is None:
            return probabilities
        return vote_among_answers(probabilities, scores, nearest, answer_groups(self._labels),
                                  self._config["answer_vote_weight"])

    @property
    def labels(self) -> List[Text]:
        return list(self._labels)

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text or self._weights is None:
            return messages
        for message, row in zip(with_text, self.probabilities(with_text)):
            self._annotate(message, row)
        return messages

    def _annotate(self, message: Message, probabilities: np.ndarray) -> None:
        intent_confidence: Dict[Text, float] = {}
        answers: Dict[Text, List[Tuple[Text, float]]] = defaultdict(list)
        for label, probability in zip(self._labels, probabilities.tolist()):
            intent = _intent_of(label)
            intent_confidence[intent] = max(intent_confidence.get(intent, 0.0), probability)
            if intent != label:
                answers[intent].append((label, probability))

        ranking = sorted(intent_confidence.items(), key=lambda item: -item[1])
        length = self._config["ranking_length"]
        message.set(
            INTENT,
            {INTENT_NAME_KEY: ranking[0][0], PREDICTED_CONFIDENCE_KEY: ranking[0][1]},
            add_to_output=True,
        )
        message.set(
            INTENT_RANKING_KEY,
            [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: value} for name, value in ranking[:length]],
            add_to_output=True,
        )
        if answers:
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, self._selector_output(answers), add_to_output=True)

    def _selector_output(self, answers: Dict[Text, List[Tuple[Text, float]]]) -> Dict[Text, Any]:
        """The ``response_selector`` dict, in the shape Rasa's ResponseSelector writes."""
        output: Dict[Text, Any] = {RESPONSE_SELECTOR_RETRIEVAL_INTENTS: sorted(answers)}
        for retrieval_intent, candidates in answers.items():
            total = sum(probability for _, probability in candidates) or 1.0
            ranked = sorted(candidates, key=lambda item: -item[1])
            best_label, best_probability = ranked[0]
            output[retrieval_intent] = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: self._responses.get(best_label, []),
                    PREDICTED_CONFIDENCE_KEY: best_probability / total,
                    INTENT_RESPONSE_KEY: best_label,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: _utter_action_of(best_label),
                },
                RESPONSE_SELECTOR_RANKING_KEY: [
                    {PREDICTED_CONFIDENCE_KEY: probability / total, INTENT_RESPONSE_KEY: label}
                    for label, probability in ranked[: self._config["ranking_length"]]
                ],
            }
        return output
