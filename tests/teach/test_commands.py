"""The checks every content editor's request passes, at the bridge and again in the worker."""

from __future__ import annotations

import pytest

from teaching.commands import MAX_ITEMS, check
from teaching.errors import InvalidRequest


def test_fields_are_typed_stripped_and_optional_ones_may_be_left_out():
    assert check("label", {"item_ids": ["a", "b"], "intent": "  greet "}) == {"item_ids": ["a", "b"], "intent": "greet"}
    assert check("train", {}) == {}
    assert check("deploy", {"model_id": "m1", "reason": ""}) == {"model_id": "m1", "reason": ""}
    assert check("rollback", {}) == {}


@pytest.mark.parametrize("kind, data, complaint", [
    ("label", {"item_ids": ["a"]}, "needs 'intent'"),
    ("label", {"item_ids": "a", "intent": "greet"}, "'item_ids' as a list"),
    ("label", {"item_ids": [], "intent": "greet"}, "must list 1 to"),
    ("label", {"item_ids": ["a"] * (MAX_ITEMS + 1), "intent": "greet"}, "must list 1 to"),
    ("label", {"item_ids": ["x" * 101], "intent": "greet"}, "must list 1 to"),
    ("label", {"item_ids": [7], "intent": "greet"}, "must list 1 to"),
    ("label", {"item_ids": ["a"], "intent": "   "}, "'intent' must have 1 to 1000"),
    ("new_faq", {"item_ids": ["a"], "key": "k", "category": "c", "answer": "a" * 1001}, "'answer' must have 1 to 1000"),
    ("skip", {"item_ids": ["a"], "extra": 1}, "unknown fields for skip: ['extra']"),
    ("train", {"deploy": "yes"}, "'deploy' as a bool"),
    ("deploy", {"model_id": "m" * 101}, "'model_id' must have 1 to 100"),
    ("rollback", {"to": "m1"}, "unknown fields"),
    ("frobnicate", {}, "unknown request 'frobnicate'"),
])
def test_a_bad_request_is_refused_with_what_is_wrong(kind, data, complaint):
    with pytest.raises(InvalidRequest, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        check(kind, data)
