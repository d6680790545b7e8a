"""Which package may import which: the bridge and the teaching contract stay free of machine learning.

    handoff/           the bridge          -> the teaching contract only
    teaching/*.py      the contract        -> the standard library, redis, the contract
    teaching/worker/   the worker's part   -> the contract, Rasa, numpy, sklearn, bot/; never handoff

Read from the source (every import statement, also those inside functions), so a
lazy import cannot slip past; tests/handoff/test_runtime.py checks what importing
actually loads, in the bridge's environment.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_MAY_IMPORT = set(sys.stdlib_module_names) | {"redis", "teaching"}


def imports(path: Path, module_level_only: bool = False) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in the file (or only of those run on import)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes: Iterable[ast.AST] = tree.body if module_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import"
            assert node.module is not None
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def offending(paths: List[Path], allowed: Callable[[str], bool], module_level_only: bool = False) -> List[str]:
    return [f"{path.relative_to(ROOT)}:{line}: {name}" for path in paths
            for line, name in imports(path, module_level_only) if not allowed(name)]


def contract_may_import(name: str) -> bool:
    return name.split(".")[0] in CONTRACT_MAY_IMPORT and not under(name, "teaching.worker")


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def contract_modules() -> List[Path]:
    return sorted((ROOT / "teaching").glob("*.py"))


def test_nothing_in_teaching_imports_the_bridge():
    paths = sorted((ROOT / "teaching").rglob("*.py"))
    assert len(paths) > len(contract_modules())
    assert offending(paths, lambda name: not under(name, "handoff")) == []


def test_the_bridge_imports_only_the_teaching_contract():
    paths = sorted((ROOT / "handoff").rglob("*.py"))
    used = {name for path in paths for _, name in imports(path) if under(name, "teaching")}
    assert {"teaching.store.TeachStore", "teaching.errors.TeachError"} <= used
    assert offending(paths, lambda name: not under(name, "teaching.worker") and not under(name, "bot")) == []


def test_the_contract_imports_nothing_but_the_standard_library_redis_and_itself():
    assert offending([path for path in contract_modules() if path.name != "__main__.py"], contract_may_import) == []


def test_the_command_line_starts_the_worker_only_when_asked():
    """python -m teaching runs in either environment; only its worker command needs the worker's part."""
    command_line = ROOT / "teaching" / "__main__.py"
    assert offending([command_line], contract_may_import, module_level_only=True) == []
    lazily = offending([command_line], contract_may_import)
    assert [entry.rsplit(": ", 1)[1] for entry in lazily] == ["teaching.worker.worker.Worker"], lazily
