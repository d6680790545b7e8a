"""The dashboard's per-agent rows and the counters a change adds (handoff.agent_figures), without Redis."""

from __future__ import annotations

from handoff.agent_figures import agent_rows, per_agent_counters, split_samples


def test_a_change_counts_for_the_agent_who_takes_or_closes():
    assert per_agent_counters("queued", None, "agent", "ann") == ["agent:ann:taken"]
    assert per_agent_counters("agent", "ann", "agent", "bob") == ["agent:bob:taken"]  # a transfer to bob
    assert per_agent_counters("agent", "ann", "closed", "ann") == ["agent:ann:closed"]
    assert per_agent_counters("agent", "ann", "queued", None) == []  # transferred to a group: nobody's yet
    assert per_agent_counters("agent", "ann", "agent", "ann") == []  # a resent claim changes nothing


def test_samples_are_split_by_agent_and_unreadable_ones_skipped():
    assert split_samples(["ann|1000", "bob|3000", "ann|3000", "broken", "a|b|500", "ann|-4", "|7"]) == {
        "ann": [1000, 3000], "bob": [3000], "a|b": [500]}


def test_rows_give_each_agent_their_day_busiest_first():
    counters = {"agent:ann:taken": 3, "agent:ann:closed": 2, "agent:ann:ratings": 2, "agent:ann:rating_sum": 9,
                "agent:gone:taken": 1, "ratings": 2, "sla:first:agent:ann": 2, "sla:reply:agent:ann": 1,
                "sla:reply:agent:cy": 1, "sla:reply": 2}
    rows = agent_rows(counters, {"ann": [1000, 5000, 3000]}, {"ann": [60000, 120000]},
                      {"ann": "Ann Lee", "bob": "Bob"})
    # An account deleted today keeps its row, as does one only late today.
    assert [row["name"] for row in rows] == ["ann", "gone", "bob", "cy"]
    ann, gone, bob, cy = rows
    assert ann == {"name": "ann", "display_name": "Ann Lee", "taken": 3, "closed": 2,
                   "first_response": {"count": 3, "median_seconds": 3.0},
                   "handling": {"count": 2, "median_seconds": 60.0}, "csat": {"count": 2, "average": 4.5},
                   "sla_breaches": {"first": 2, "reply": 1}}
    assert gone["display_name"] == "gone" and gone["taken"] == 1
    assert bob["taken"] == 0 and bob["csat"] == {"count": 0, "average": None}
    assert bob["first_response"]["median_seconds"] is None and bob["sla_breaches"] == {"first": 0, "reply": 0}
    assert cy["taken"] == 0 and cy["sla_breaches"] == {"first": 0, "reply": 1}
