"""The calibration arithmetic of TopicClassifier (bot/nlu/calibration.py); the trained model's
behaviour (gibberish falls back, FAQ confidences) is in tests/test_nlu.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from bot.nlu.calibration import (
    centroids, confidence_score, familiarity, fit_platt, folds_of, nearest_by_label, out_of_fold, vocabulary,
    with_top_confidence,
)


def test_a_new_top_confidence_keeps_every_label_in_its_place():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.2, 0.3, 0.5]])
    result = with_top_confidence(probabilities, np.array([0.9, 0.2, 0.0]))

    assert result[0, 0] == pytest.approx(0.9) and result.sum(axis=1)[0] == pytest.approx(1.0)  # raised
    assert result[1, 1] == pytest.approx(0.2) and result[1, 2] == pytest.approx(0.16)  # lowered alike
    assert (result.argmax(axis=1) == probabilities.argmax(axis=1)).all()
    assert (np.argsort(-result, axis=1) == np.argsort(-probabilities, axis=1)).all()
    assert result[2, 2] < 1e-5  # nothing left, yet the best guess is still on top


def test_messages_made_of_unknown_words_are_not_familiar():
    known = vocabulary(["My card hasn't arrived", "how do I top up"])
    shares = familiarity(["my card hasnt arived", "blorp the flanges", "zxcvzxcv", "??", "top up my card"],
                         known, known_words_needed=0.5)

    assert shares.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]  # 2 of 4 words known is enough


def test_similarity_to_a_labels_examples_raises_the_score():
    dense = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    means = centroids(dense, np.array([0, 0, 1]), 2)
    scores = np.array([[2.0, 0.0], [2.0, 0.0]])
    near, far = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])

    assert means is not None and np.allclose(np.linalg.norm(means, axis=1), 1.0)
    z_near = confidence_score(scores[:1], 5.0, near, means, 10.0)
    z_far = confidence_score(scores[1:], 5.0, far, means, 10.0)
    assert z_near[0] - z_far[0] == pytest.approx(10.0 * (means[0] @ near[0] - means[0] @ far[0]))


def test_platt_scaling_is_fitted_on_out_of_fold_answers():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 30)
    features = scipy.sparse.csr_matrix(np.eye(3)[labels] + rng.normal(0, 0.6, (90, 3)))

    def fit(x: scipy.sparse.csr_matrix, y: np.ndarray) -> np.ndarray:
        means = np.vstack([np.asarray(x[y == label].mean(axis=0)) for label in np.unique(y)])
        return np.hstack([means, np.zeros((len(means), 1))])

    scores = out_of_fold(fit, features, labels, 3, folds=3)
    right = scores.argmax(axis=1) == labels
    platt = fit_platt(scores.max(axis=1), right)

    assert 0.5 < right.mean() < 1.0
    assert platt.slope > 0  # a clearer win is more often right
    assert platt(np.array([scores.max()]))[0] > platt(np.array([scores.max(axis=1).min()]))[0]
    with pytest.raises(ValueError):
        fit_platt(np.array([0.1, 0.2]), np.array([True, True]))


def test_each_label_is_as_near_as_its_nearest_example():
    examples = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    messages = np.array([[1.0, 0.0], [0.6, 0.8]])

    nearest = nearest_by_label(messages, examples, np.array([1, 1, 0]), 3)

    assert np.allclose(nearest, [[0.0, 1.0, -1.0], [0.8, 0.96, -1.0]])  # label 2 has no example


def test_a_label_of_varied_examples_is_recognised_by_its_nearest_one():
    # out_of_scope's examples point every which way: their mean resembles none of them.
    varied = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    labels = np.zeros(3, dtype=int)
    message = varied[:1]
    scores = np.array([[1.0]])
    means = centroids(varied, labels, 1)
    nearest = nearest_by_label(message, varied, labels, 1)

    by_mean = confidence_score(scores, 5.0, message, means, 10.0)
    with_nearest = confidence_score(scores, 5.0, message, means, 10.0, nearest, 5.0)
    assert with_nearest[0] - by_mean[0] == pytest.approx(5.0)


def test_folds_are_stratified_and_cover_every_example_once():
    labels = np.repeat([0, 1, 2], 6)
    held_out = np.concatenate([fold for _, fold in folds_of(labels, 3)])

    assert sorted(held_out.tolist()) == list(range(18))
    assert all(np.bincount(labels[fold]).tolist() == [2, 2, 2] for _, fold in folds_of(labels, 3))
