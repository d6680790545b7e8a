"""Which topics a candidate model makes markedly worse, beyond the noise of their questions.

Overall accuracy can rise while one topic collapses (a mislabelled group of
messages pulls its questions to another topic), so every intent and FAQ topic
is judged on its own held-out questions. A topic has few of them (10-12 in
the demo bot), so a drop of one or two answers is noise. Both models answer
*the same* questions, so the test is paired: only the questions the two
models disagree on say anything (McNemar's test). Of those, ``worse`` became
wrong and ``better`` became right; if the models were equally good each
disagreement would go either way with probability 1/2, so the chance of at
least ``worse`` of ``worse + better`` going the wrong way is the one-sided
exact binomial tail. A topic **regressed** when that chance is at most
``ALPHA`` *and* its accuracy fell by at least ``MIN_DROP`` (so a large topic
cannot be blocked by a statistically clear but tiny drop).

Pure functions over predicted labels; :mod:`teaching.worker.evaluation` calls them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import comb
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["ALPHA", "MIN_DROP", "TopicChange", "one_sided_sign_test", "regressed", "topic_changes"]

ALPHA = 0.05
MIN_DROP = 0.10


@dataclass(frozen=True)
class TopicChange:
    """One topic's held-out questions answered by the live model and by the candidate."""

    topic: str
    support: int
    current_correct: int
    candidate_correct: int
    newly_wrong: int
    newly_right: int
    p_value: float
    regressed: bool

    @property
    def drop(self) -> float:
        return (self.current_correct - self.candidate_correct) / self.support if self.support else 0.0

    def as_dict(self) -> Dict[str, Any]:
        return {**asdict(self), "p_value": round(self.p_value, 4), "drop": round(self.drop, 4)}

    def describe(self) -> str:
        return (f"{self.topic}: {self.current_correct} → {self.candidate_correct} of {self.support} held-out "
                f"questions right ({self.newly_wrong} newly wrong, {self.newly_right} newly right; "
                f"p = {self.p_value:.3f})")


def one_sided_sign_test(worse: int, better: int) -> float:
    """P(at least ``worse`` of ``worse + better`` fair coin flips go the wrong way): exact McNemar."""
    if worse < 0 or better < 0:
        raise ValueError("counts of disagreements cannot be negative")
    total = worse + better
    if worse == 0:
        return 1.0
    return sum(comb(total, k) for k in range(worse, total + 1)) / 2 ** total


def topic_changes(
    expected: Sequence[str],
    current: Sequence[str],
    candidate: Sequence[str],
    alpha: float = ALPHA,
    min_drop: float = MIN_DROP,
) -> List[TopicChange]:
    """Every topic of ``expected``, the most significant drop first."""
    if not len(expected) == len(current) == len(candidate):
        raise ValueError("expected and predicted labels must be of the same length")
    rows: Dict[str, List[int]] = {}  # topic → support, current right, candidate right, newly wrong, newly right
    for gold, was, now in zip(expected, current, candidate):
        row = rows.setdefault(gold, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += was == gold
        row[2] += now == gold
        row[3] += was == gold and now != gold
        row[4] += was != gold and now == gold
    changes = []
    for topic, (support, was_right, now_right, worse, better) in rows.items():
        p_value = one_sided_sign_test(worse, better)
        drop = (was_right - now_right) / support
        changes.append(TopicChange(topic, support, was_right, now_right, worse, better, p_value,
                                   p_value <= alpha and drop >= min_drop - 1e-9))
    return sorted(changes, key=lambda change: (change.p_value, -change.drop, change.topic))


def regressed(changes: Optional[Sequence[TopicChange]]) -> List[TopicChange]:
    """The topics among ``changes`` that block a deployment."""
    return [change for change in changes or [] if change.regressed]
