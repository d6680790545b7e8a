"""Which FAQ answer, once the classifier has decided the message asks for one.

Real customers' wording is often close to one training example of the right
answer while the linear model, which generalises, prefers a neighbouring
answer (a fee on a currency exchange: ``fees`` or ``exchange_rate``). Adding
each label's nearest-example cosine to its score fixes many of those, but done
for every label it also lifts questions about other things towards some label
and blurs out-of-scope detection (docs/nlu-pipeline.md, "Round three").

So the nearest example only votes *among the answers of the top label's
retrieval intent* (``faq/...``): whether the message is an FAQ question at all,
and how sure the classifier is (the calibrated confidence, and with it the
fallback), are decided without it. Plain intents (``greet``, ``out_of_scope``,
every label of a data set without retrieval intents) are never changed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["answer_groups", "vote_among_answers"]

_DELIMITER = "/"


def answer_groups(labels: Sequence[str]) -> np.ndarray:
    """Per label, the index of its retrieval intent among the labels' intents; -1 for a plain intent."""
    intents = sorted({label.split(_DELIMITER, 1)[0] for label in labels if _DELIMITER in label})
    return np.array([intents.index(label.split(_DELIMITER, 1)[0]) if _DELIMITER in label else -1
                     for label in labels], dtype=int)


def vote_among_answers(
    probabilities: np.ndarray, scores: np.ndarray, nearest: np.ndarray, groups: np.ndarray, weight: float,
) -> np.ndarray:
    """Rows whose top label is an answer get the answer that wins ``scores + weight * nearest``.

    Only answers of the top label's own retrieval intent compete. The winner
    swaps probabilities with the old top label, so the row's top probability
    (the confidence) is unchanged and every other label keeps its own.
    ``nearest``: (messages, labels) cosines to each label's nearest example.
    """
    result = probabilities.copy()
    if weight == 0:
        return result
    voted = scores + weight * nearest
    top = probabilities.argmax(axis=1)
    for row, label in enumerate(top):
        if groups[label] < 0:
            continue
        rivals = np.flatnonzero(groups == groups[label])
        winner = int(rivals[np.argmax(voted[row, rivals])])
        if winner != label:
            result[row, [label, winner]] = probabilities[row, [winner, label]]
    return result
