"""The dashboard's arithmetic and the canned responses file, without Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.canned import DEFAULT_PATH, load_canned_responses
from handoff.dashboard import percentile, summarise


def test_percentiles_are_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([4, 1, 3, 2], 0.5) == 2
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile(list(range(1, 11)), 1.0) == 10


def test_summary_of_a_day():
    counters = {
        "conversations": 10, "escalated": 3, "handoffs": 4, "reason:requested": 2, "reason:frustration": 1,
        "reason:action_error": 1, "hour:09:conversations": 6, "hour:14:conversations": 4, "hour:14:handoffs": 4,
        "ratings": 4, "rating_sum": 17, "score:5": 2, "score:4": 1, "score:3": 1,
    }
    summary = summarise("2026-11-22", counters, [30_000, 90_000, 60_000, 600_000], {"queue_length": 1})
    assert summary["conversations"] == 10
    assert summary["contained"] == 7
    assert summary["containment_rate"] == 0.7
    assert list(summary["handoffs_by_reason"].items()) == [("requested", 2), ("action_error", 1), ("frustration", 1)]
    assert summary["wait"] == {"count": 4, "median_seconds": 60.0, "p90_seconds": 600.0}
    assert summary["csat"] == {"count": 4, "average": 4.25, "satisfied_rate": 0.75,
                               "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 2}}
    assert len(summary["hourly"]) == 24
    assert summary["hourly"][9] == {"hour": 9, "conversations": 6, "handoffs": 0}
    assert summary["hourly"][14] == {"hour": 14, "conversations": 4, "handoffs": 4}
    assert summary["now"] == {"queue_length": 1}


def test_refused_handoffs_are_counted_apart_from_handoffs():
    summary = summarise("2026-11-22", {"conversations": 3, "handoffs": 1, "refused": 2}, [], {})
    assert summary["refused"] == {"count": 2}
    assert summary["handoffs"] == 1


def test_a_quiet_day_has_no_rates_rather_than_zeros():
    summary = summarise("2026-11-22", {}, [], {})
    assert summary["refused"] == {"count": 0}
    assert summary["containment_rate"] is None
    assert summary["wait"]["median_seconds"] is None
    assert summary["csat"]["average"] is None and summary["csat"]["satisfied_rate"] is None


def test_escalations_of_yesterdays_conversations_never_make_containment_negative():
    summary = summarise("2026-11-22", {"conversations": 1, "escalated": 3}, [], {})
    assert summary["contained"] == 0 and summary["containment_rate"] == 0.0


def test_the_shipped_canned_responses_load():
    responses = load_canned_responses(DEFAULT_PATH, max_text=2000)
    assert {"hi", "bye"} <= {response["shortcut"] for response in responses}
    assert all(response["title"] and response["text"] for response in responses)


@pytest.mark.parametrize("content, problem", [
    ("- shortcut: hi\n  title: Hi\n", "needs exactly shortcut, title and text"),
    ("- {shortcut: Hi There, title: Hi, text: hello}\n", "must be lower-case"),
    ("- {shortcut: hi, title: Hi, text: a}\n- {shortcut: hi, title: Again, text: b}\n", "used twice"),
    ("- {shortcut: hi, title: Hi, text: " + "x" * 30 + "}\n", "text 1-20 characters"),
    ("shortcut: hi\n", "expected a list"),
    ("- [unclosed\n", "canned responses"),
])
def test_a_broken_canned_responses_file_is_refused_with_the_reason(tmp_path: Path, content: str, problem: str):
    path = tmp_path / "canned.yml"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem):
        load_canned_responses(path, max_text=20)


def test_a_missing_canned_responses_file_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="canned responses"):
        load_canned_responses(tmp_path / "nope.yml", max_text=20)
