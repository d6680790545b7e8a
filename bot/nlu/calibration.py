"""Confidence that means "how likely this answer is right", for TopicClassifier.

A softmax over SVM margins says how much one label beats the others, not
whether the message resembles anything the bot was taught: gibberish and
questions about other things can beat every label by a wide margin. Two
signals make the confidence honest:

- ``log p``: the log of the top label's softmax share (how clearly it wins);
- ``cos``: the cosine between the message's sentence embedding and the mean
  embedding of that label's training examples (how much it resembles them);
- ``near``: the cosine to that label's nearest training example. A label whose
  examples are varied (``out_of_scope``: cooking, sport, weather) has a mean
  that resembles none of them; its nearest example still does.

Their sum ``z = log p + similarity_weight * cos + nearest_weight * near`` is mapped to a probability
by Platt scaling, ``sigmoid(slope * z + intercept)``, fitted on out-of-fold
predictions of the training data (each example scored by a model that never
saw it), so that a confidence of 0.6 is right about 60 % of the time on
questions like the training data, and the fallback threshold keeps its meaning
from one data set to the next (docs/nlu-pipeline.md).

Gibberish ("blorp the flanges", keyboard mash) is made of words no training
example uses; character n-grams and a sentence encoder still find something
it resembles. So the confidence is scaled down when fewer than
``known_words_needed`` of the message's words occur in the training data.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Set, Tuple

import numpy as np
import scipy.sparse
from scipy.special import expit, log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

__all__ = [
    "Platt", "centroids", "confidence_score", "familiarity", "fit_platt", "folds_of", "nearest_by_label",
    "out_of_fold", "vocabulary", "with_top_confidence",
]

_WORD = re.compile(r"[a-z]+")

# The least confidence given: at 0 every label would tie and the best guess be lost.
_LEAST_CONFIDENCE = 1e-6
# A label the fold's model never saw scores this far below any real margin.
_UNSEEN_MARGIN = -10.0
# Messages compared with every example at a time by nearest_by_label.
_NEAREST_CHUNK = 512

@dataclass(frozen=True)
class Platt:
    """``sigmoid(slope * z + intercept)``."""

    slope: float
    intercept: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(expit(self.slope * z + self.intercept))


def centroids(dense: Optional[np.ndarray], label_indices: np.ndarray, n_labels: int) -> Optional[np.ndarray]:
    """Unit-length mean embedding of each label's examples (zeros for a label without any)."""
    if dense is None:
        return None
    sums = np.zeros((n_labels, dense.shape[1]))
    np.add.at(sums, label_indices, dense)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def nearest_by_label(
    dense: np.ndarray, examples: np.ndarray, example_labels: np.ndarray, n_labels: int,
) -> np.ndarray:
    """(messages, labels): the cosine to each label's nearest example (-1 for a label without any).

    All embeddings are unit length, so the cosine is a dot product. Messages go
    in chunks so that memory stays small against tens of thousands of examples.
    """
    nearest = np.full((len(dense), n_labels), -1.0)
    order = np.argsort(example_labels, kind="stable")
    present, starts = np.unique(example_labels[order], return_index=True)
    ordered = examples[order]
    for start in range(0, len(dense), _NEAREST_CHUNK):
        rows = slice(start, start + _NEAREST_CHUNK)
        nearest[rows, present] = np.maximum.reduceat(dense[rows] @ ordered.T, starts, axis=1)
    return nearest


def confidence_score(
    scores: np.ndarray, softmax_scale: float, dense: Optional[np.ndarray],
    label_centroids: Optional[np.ndarray], similarity_weight: float,
    nearest: Optional[np.ndarray] = None, nearest_weight: float = 0.0,
) -> np.ndarray:
    """``z`` of each row's top label: its log softmax share plus weighted similarity to its examples.

    ``nearest``: (messages, labels) cosines to each label's nearest example (:func:`nearest_by_label`).
    """
    top = scores.argmax(axis=1)
    rows = np.arange(len(top))
    z = log_softmax(scores * softmax_scale, axis=1)[rows, top]
    if dense is not None and label_centroids is not None:
        z = z + similarity_weight * np.einsum("ij,ij->i", dense, label_centroids[top])
    if nearest is not None:
        z = z + nearest_weight * nearest[rows, top]
    return np.asarray(z)


def folds_of(label_indices: np.ndarray, folds: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """(training, held-out) example indices of stratified folds with a fixed seed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # labels with fewer examples than folds
        splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
        return list(splitter.split(np.zeros(len(label_indices)), label_indices))


def out_of_fold(
    fit: Callable[[scipy.sparse.csr_matrix, np.ndarray], np.ndarray],
    features: scipy.sparse.csr_matrix, label_indices: np.ndarray, n_labels: int, folds: int,
) -> np.ndarray:
    """Scores of every example by a model trained on the other folds (stratified, fixed seed).

    ``fit(features, label_indices)`` returns a (labels seen, features + 1) matrix of weights
    and bias for the sorted labels it saw; a label absent from a fold scores ``_UNSEEN_MARGIN``.
    """
    scores = np.full((features.shape[0], n_labels), _UNSEEN_MARGIN)
    for train, held_out in folds_of(label_indices, folds):
        seen = np.unique(label_indices[train])
        weights = fit(features[train], label_indices[train])
        fold_scores = np.asarray(features[held_out] @ weights[:, :-1].T) + weights[:, -1]
        scores[np.ix_(held_out, seen)] = fold_scores
    return scores


def fit_platt(z: np.ndarray, correct: np.ndarray) -> Platt:
    """Platt scaling of ``z`` against whether the answer was right (both outcomes must occur)."""
    if correct.all() or not correct.any():
        raise ValueError("calibration needs right and wrong out-of-fold answers")
    model = LogisticRegression(C=1e4, max_iter=1000).fit(z.reshape(-1, 1), correct)
    return Platt(float(model.coef_[0, 0]), float(model.intercept_[0]))


def with_top_confidence(probabilities: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Rows whose top label gets ``confidence`` and stays on top.

    A raised top shrinks the others to share what is left; a lowered one
    scales the whole row down alike (what is missing from 1 is "none of these").
    """
    confidence = np.maximum(confidence, _LEAST_CONFIDENCE)
    top = probabilities.argmax(axis=1)
    rows = np.arange(len(top))
    best = probabilities[rows, top]
    others = 1.0 - best
    raised = (1.0 - confidence) / np.where(others > 0, others, 1.0)
    lowered = confidence / np.where(best > 0, best, 1.0)
    result = probabilities * np.where(confidence >= best, raised, lowered)[:, None]
    result[rows, top] = confidence
    return result


def _words(text: str) -> List[str]:
    return _WORD.findall(text.lower())


def vocabulary(texts: Iterable[str]) -> Set[str]:
    """Every (lower-case, letters-only) word of the training texts."""
    return {word for text in texts for word in _words(text)}


def familiarity(texts: Iterable[str], known: Set[str], known_words_needed: float) -> np.ndarray:
    """Per text: 1 when at least ``known_words_needed`` of its words are known, less in proportion below.

    A text without any word (``"??"``) is not familiar at all.
    """
    shares = []
    for text in texts:
        words = _words(text)
        shares.append(sum(word in known for word in words) / len(words) if words else 0.0)
    if known_words_needed <= 0:
        return np.ones(len(shares))
    return np.minimum(1.0, np.asarray(shares) / known_words_needed)
