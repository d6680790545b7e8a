"""Rules about the code itself that no single behaviour test would notice breaking."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_PACKAGES = ("actions", "bot", "handoff", "teaching")


@pytest.mark.parametrize("package", PRODUCTION_PACKAGES)
def test_no_assert_guards_production_code(package: str) -> None:
    """``python -O`` removes asserts, so a check that must hold is a real ``if ... raise``."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Assert)]
    assert found == []


def test_the_architecture_map_names_only_paths_that_exist() -> None:
    """docs/architecture.md is a newcomer's map: every file or folder it names in backticks is there."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = {name for name in re.findall(r"`([\w./-]+)`", text)
             if "/" in name or re.search(r"\.(py|yml|js|md)$", name)}
    assert len(named) > 30, named  # the map still names the places it is for
    assert sorted(name for name in named if not (ROOT / name).exists()) == []
