"""The privacy masking's evaluation sets, scored (bench/privacy.py; the figures in docs/benchmarks.md).

dev was tuned on; test and fresh (written to evade the rules, before they were changed for it) were
scored once at the end. A change to handoff/privacy.py that masks less of what must be masked, or
touches a message with nothing to mask in it, fails here before it is measured again."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from bench.privacy import load_cases, score
from handoff.privacy import mask

# Precision and recall over every kind together, at least; each split was at 1.00 / 1.00 when written.
FLOOR = 0.95


@pytest.mark.parametrize("split", ["dev", "test", "fresh"])
def test_what_must_be_masked_is(split: str) -> None:
    result = score(load_cases(split))
    every_kind: Dict[str, Any] = next(row for row in result["kinds"] if row["kind"] == "all")
    assert every_kind["marked"] > 40
    assert every_kind["precision"] >= FLOOR and every_kind["recall"] >= FLOOR, result


@pytest.mark.parametrize("split", ["dev", "test", "fresh"])
def test_messages_with_nothing_to_mask_stay_as_typed(split: str) -> None:
    kept = [case for case in load_cases(split) if not case.marked]
    assert len(kept) > 40
    changed = [case.text for case in kept if mask(case.text).text != case.text]
    assert not changed
