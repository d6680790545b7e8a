"""Routing rules without I/O: skill groups, opening hours (wait estimates: test_estimate.py)."""

from datetime import datetime, timezone

import pytest

from handoff.routing import BusinessHours, group_for, visible_to


def test_groups_come_from_the_topic_then_the_reason_then_the_default():
    groups = {"card_swallowed": "cards", "frustration": "senior", "*": "general"}

    assert group_for("card_swallowed", "requested", groups) == "cards"
    assert group_for("fees", "frustration", groups) == "senior"
    assert group_for(None, "requested", groups) == "general"
    assert group_for(None, None, {}) == "general"
    assert visible_to("cards", ["cards"]) and visible_to("cards", ["all"]) and not visible_to("cards", ["loans"])


def test_business_hours_in_the_configured_time_zone():
    hours = BusinessHours.parse("mon-fri 08:00-20:00; sat 09:00-13:00", "Europe/London")

    assert hours.is_open(datetime(2026, 11, 23, 8, 30, tzinfo=timezone.utc))  # Monday 08:30 in London
    assert not hours.is_open(datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc))
    assert hours.is_open(datetime(2026, 11, 28, 12, 59, tzinfo=timezone.utc))  # Saturday
    assert not hours.is_open(datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc))  # Sunday
    summer = BusinessHours.parse("mon-fri 08:00-20:00", "Europe/London")  # London is UTC+1 in July
    assert not summer.is_open(datetime(2026, 7, 6, 6, 30, tzinfo=timezone.utc))  # 07:30 BST
    assert summer.is_open(datetime(2026, 7, 6, 7, 0, tzinfo=timezone.utc))  # 08:00 BST
    assert BusinessHours.parse("", "UTC").is_open(datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc))


@pytest.mark.parametrize("text", ["weekdays 9-5", "mon-fri 20:00-08:00", "xyz 08:00-09:00"])
def test_bad_opening_hours_are_refused(text):
    with pytest.raises(ValueError, match="opening hours"):
        BusinessHours.parse(text, "UTC")
