"""Rules about the code itself that no single behaviour test would notice breaking."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_PACKAGES = ("actions", "archive", "bot", "handoff", "teaching")


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


# What a sans-I/O core must not reach, even through a module of ours it imports.
IO_MODULES = {"aiohttp", "asyncio", "redis", "requests", "sanic", "socket", "websockets"}
SANS_IO = ("handoff/machine.py", "handoff/rules.py", "handoff/sla_rules.py")


def _imports(path: Path) -> set:
    """The modules a file imports, by their full dotted names (``from a import b``: ``a`` and ``a.b``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _source(module: str) -> "Path | None":
    """The file of one of our modules (a package's __init__.py), None for anything else."""
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if module.split(".")[0] in PRODUCTION_PACKAGES and candidate.is_file():
            return candidate
    return None


@pytest.mark.parametrize("core", SANS_IO)
def test_the_sans_io_cores_import_nothing_that_does_io(core: str) -> None:
    """The rules and the state machine are tested in-process with plain data (tests/handoff/test_rules.py):
    none of the modules they import, directly or through ours, may import Redis, Sanic or asyncio."""
    seen: set = set()
    waiting, reached = [ROOT / core], set()
    while waiting:
        path = waiting.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            if module.split(".")[0] in IO_MODULES:
                reached.add(f"{path.relative_to(ROOT)} imports {module}")
            found = _source(module)
            if found is not None:
                waiting.append(found)
    assert len(seen) > 1, seen  # the walk follows our own imports
    assert sorted(reached) == [], f"{core} reaches I/O"
