"""The nearest example's vote among FAQ answers (bot/nlu/answer_vote.py)."""

from __future__ import annotations

import numpy as np

from bot.nlu.answer_vote import answer_groups, vote_among_answers

LABELS = ["faq/exchange_rate", "faq/fees", "greet", "out_of_scope", "other/thing"]
GROUPS = answer_groups(LABELS)


def test_answers_are_grouped_by_their_retrieval_intent_and_plain_intents_by_none():
    assert GROUPS.tolist() == [0, 0, -1, -1, 1]


def test_an_answer_whose_example_is_nearest_wins_and_the_confidence_stays():
    probabilities = np.array([[0.7, 0.2, 0.05, 0.03, 0.02]])
    scores = np.array([[0.5, 0.4, -1.0, -1.0, -1.0]])
    nearest = np.array([[0.6, 0.9, 0.2, 0.2, 0.95]])  # "other/thing" is nearer still, but not a rival

    voted = vote_among_answers(probabilities, scores, nearest, GROUPS, weight=1.0)

    assert voted.argmax(axis=1).tolist() == [1]
    assert voted[0, 1] == 0.7 and voted[0, 0] == 0.2  # swapped: the top probability is the same
    assert voted[0, 2:].tolist() == probabilities[0, 2:].tolist()


def test_a_plain_intent_on_top_is_never_voted_away():
    probabilities = np.array([[0.1, 0.1, 0.05, 0.7, 0.05]])
    scores = np.array([[0.2, 0.2, -1.0, 0.5, -1.0]])
    nearest = np.array([[0.9, 0.9, 0.1, 0.3, 0.1]])

    voted = vote_among_answers(probabilities, scores, nearest, GROUPS, weight=5.0)

    assert voted.tolist() == probabilities.tolist()


def test_without_weight_nothing_changes():
    probabilities = np.array([[0.7, 0.2, 0.05, 0.03, 0.02]])
    scores = np.array([[0.5, 0.4, -1.0, -1.0, -1.0]])
    nearest = np.array([[0.1, 0.9, 0.2, 0.2, 0.2]])

    assert vote_among_answers(probabilities, scores, nearest, GROUPS, weight=0.0).tolist() == probabilities.tolist()
