"""Reports' arithmetic and the ranges supervisors may ask for (handoff.reports), with plain data."""

from __future__ import annotations

from datetime import date

import pytest

from handoff.exceptions import MalformedMessage
from handoff.reports import GroupFigures, ReportRange, Spread, Times, build_report, requested_range

TODAY = date(2026, 3, 14)


def test_a_range_is_two_dates_in_order_within_the_span_and_not_after_today():
    assert requested_range({"from": "2026-02-12", "to": "2026-03-14"}, TODAY, 31) == \
        ReportRange(date(2026, 2, 12), TODAY)
    for data, error in [
        ({"from": "2026-03-01"}, "'to' must be a date, YYYY-MM-DD"),
        ({"from": "2026-3-1", "to": "2026-03-02"}, "'from' must be a date, YYYY-MM-DD"),
        ({"from": "2026-02-30", "to": "2026-03-02"}, "'from' must be a date, YYYY-MM-DD"),
        ({"from": 20260301, "to": "2026-03-02"}, "'from' must be a date, YYYY-MM-DD"),
        ({"from": "2026-03-05", "to": "2026-03-02"}, "'from' must not be after 'to'"),
        ({"from": "2026-03-05", "to": "2026-03-15"}, "'to' must not be after today (2026-03-14)"),
        ({"from": "2026-02-11", "to": "2026-03-14"}, "a report covers at most 31 days"),
    ]:
        with pytest.raises(MalformedMessage) as refused:
            requested_range(data, TODAY, 31)
        assert str(refused.value) == error


def test_days_sum_to_the_totals_and_a_day_without_figures_is_listed_empty():
    span = ReportRange(date(2026, 3, 12), TODAY)
    first, last = date(2026, 3, 12), TODAY
    tallies = [
        (first, "conversations", 10), (first, "escalated", 4), (first, "handoffs", 5), (first, "handed_over", 4),
        (first, "reason:customer_asked", 5), (first, "abandoned", 1), (first, "abandoned:left_queue", 1),
        (first, "abandoned-group:cards", 1), (last, "abandoned", 1), (last, "abandoned:left_queue", 1),
        (last, "abandoned-group:loans", 1),
        (first, "ratings", 2), (first, "rating_sum", 9), (first, "score:4", 1), (first, "score:5", 1),
        (first, "agent:ann:taken", 3), (first, "agent:ann:closed", 3), (first, "agent:ann:ratings", 2),
        (first, "agent:ann:rating_sum", 9), (first, "sla:first", 1), (first, "sla:first:group:cards", 1),
        (first, "sla:first:agent:ann", 1),
        (last, "conversations", 6), (last, "escalated", 0), (last, "ratings", 1), (last, "rating_sum", 1),
        (last, "score:1", 1),
    ]
    times = Times(by_day={first: {"waits": Spread(3, 20_000, 95_000)}},
                  total={"waits": Spread(3, 20_000, 95_000), "agent-handling": Spread(3, 300_000, 600_000)},
                  by_agent={"agent-handling": {"ann": Spread(3, 300_000, 600_000)},
                            "agent-first-response": {"bob": Spread(1, 4_000, 4_000)}})
    report = build_report(span, "Europe/London", tallies, times,
                          [GroupFigures("general", 1, 1, 1000, 1000), GroupFigures("cards", 4, 3, 20_000, 95_000)],
                          {"ann": "Ann Lee", "cy": "Cy"})
    assert (report["from"], report["to"], report["timezone"]) == ("2026-03-12", "2026-03-14", "Europe/London")
    assert [day["day"] for day in report["days"]] == ["2026-03-12", "2026-03-13", "2026-03-14"]
    totals = report["totals"]
    assert (totals["conversations"], totals["contained"], totals["containment_rate"]) == (16, 12, 0.75)
    assert totals["handoffs_by_reason"] == {"customer_asked": 5}
    assert totals["wait"] == {"count": 3, "median_seconds": 20.0, "p90_seconds": 95.0}
    assert totals["abandoned"]["count"] == 2 and totals["abandoned"]["rate"] == 0.4
    assert totals["abandoned"]["by_way"] == {"left_queue": 2}, "a group's counter is not a way"
    assert totals["handling"]["median_seconds"] == 300.0
    assert totals["csat"]["count"] == 3 and totals["csat"]["average"] == 3.33
    assert totals["sla_breaches"] == {"first": 1, "reply": 0}
    empty = report["days"][1]
    assert empty["conversations"] == 0 and empty["containment_rate"] is None and empty["wait"]["count"] == 0
    assert report["days"][2]["csat"]["distribution"]["1"] == 1
    assert [group["group"] for group in report["groups"]] == ["cards", "general", "loans"], "busiest first"
    assert report["groups"][0]["sla_breaches"] == {"first": 1, "reply": 0}
    abandoned = {group["group"]: group["abandoned"] for group in report["groups"]}
    assert abandoned == {"cards": {"count": 1, "rate": 0.25}, "general": {"count": 0, "rate": 0.0},
                         "loans": {"count": 1, "rate": 1.0}}, "a group handed over before the range, given up in it"
    assert report["groups"][0]["wait"] == {"median_seconds": 20.0, "p90_seconds": 95.0}
    ann, bob, cy = report["agents"]
    assert (ann["name"], ann["display_name"], ann["taken"], ann["closed"], ann["csat"]["average"]) == ("ann", "Ann Lee", 3, 3, 4.5)
    assert (cy["name"], cy["taken"], cy["first_response"]["count"]) == ("cy", 0, 0), "every agent account, idle ones too"
    assert ann["handling"]["median_seconds"] == 300.0 and ann["sla_breaches"] == {"first": 1, "reply": 0}
    assert (bob["name"], bob["display_name"], bob["taken"], bob["first_response"]["median_seconds"]) == ("bob", "bob", 0, 4.0)
