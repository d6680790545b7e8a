"""The per-topic regression rule: a paired exact test on the questions two models disagree on."""

from __future__ import annotations

import pytest

from teaching.worker.regressions import ALPHA, MIN_DROP, one_sided_sign_test, regressed, topic_changes


@pytest.mark.parametrize("worse, better, expected", [
    (0, 0, 1.0), (0, 5, 1.0), (1, 0, 0.5), (5, 0, 1 / 32), (4, 0, 1 / 16), (6, 1, 8 / 128), (3, 3, 42 / 64),
])
def test_the_sign_test_is_the_exact_binomial_tail(worse, better, expected):
    assert one_sided_sign_test(worse, better) == pytest.approx(expected)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        one_sided_sign_test(-1, 2)


def labels(topic: str, pattern: str) -> list:
    """``pattern``: per question, "r" right or "w" wrong."""
    return [topic if mark == "r" else "other" for mark in pattern]


def test_a_topic_regresses_only_beyond_the_noise_of_its_questions():
    expected = ["a"] * 12 + ["b"] * 12 + ["c"] * 12 + ["d"] * 200
    current = labels("a", "r" * 12) + labels("b", "r" * 12) + labels("c", "rrrrrrwwwwww") + labels("d", "r" * 200)
    candidate = (labels("a", "wwwwwrrrrrrr")  # 5 newly wrong, none right: p = 1/32
                 + labels("b", "wwwwrrrrrrrr")  # 4 newly wrong: p = 1/16, could be chance
                 + labels("c", "wwwwwwwwwwrr")  # 6 newly wrong, 2 newly right: p = 0.145
                 + labels("d", "w" * 12 + "r" * 188))  # p tiny, but a drop of 6 points only
    changes = {change.topic: change for change in topic_changes(expected, current, candidate)}
    assert [change.topic for change in regressed(changes.values())] == ["a"]
    assert (changes["a"].newly_wrong, changes["a"].newly_right, changes["a"].p_value) == (5, 0, 1 / 32)
    assert changes["b"].p_value > ALPHA and not changes["b"].regressed
    assert (changes["c"].newly_wrong, changes["c"].newly_right, changes["c"].regressed) == (6, 2, False)
    assert changes["d"].p_value < 1e-3 and changes["d"].drop < MIN_DROP and not changes["d"].regressed
    assert "a: 12 → 7 of 12 held-out questions right (5 newly wrong, 0 newly right; p = 0.031)" == \
        changes["a"].describe()


def test_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        topic_changes(["a"], ["a"], [])
