"""Undoing a label: taking exactly its lines back out of the training data.

A label wrote example lines into an intent's ``examples: |`` block and, when
it created an FAQ topic or an intent, the topic's block, its answer, and for
an intent its ``domain.yml`` entries and rule. Undoing removes those example
lines (found by their exact text in that intent's blocks) and, when the label
created the topic and nothing else uses it any more (no examples left, no
other label adding to it), the topic's definition too; a file left with
nothing but its header (one the teaching loop created) is deleted. Like labelling, the edit is
text-only and read back with Rasa's readers (:func:`teaching.worker.datafiles._commit`):
anything unexpected restores the files and raises :class:`DataError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from teaching.errors import DataError
from teaching.worker.datafiles import (
    _INTENT_ITEM, DOMAIN, RETRIEVAL_INTENT, TAUGHT_RULES, _commit, _Expected, _files, _indent,
    _is_blank, _Lines, _Project, _read_text, _section, _unquote,
)

__all__ = ["UndoResult", "undo_label"]


@dataclass
class UndoResult:
    """The example lines removed, the changed files, and whether the topic itself went."""

    removed: List[str] = field(default_factory=list)
    files: List[str] = field(default_factory=list)
    definition_removed: bool = False


def undo_label(root: Path, intent: str, examples: Sequence[str], created: Optional[Mapping[str, Any]],
               keep_definition: bool) -> UndoResult:
    """Removes ``examples`` of ``intent`` (and the topic ``created``, unless ``keep_definition``
    or other examples remain); nothing is changed when any example is no longer there."""
    project = _Project.read(root)
    texts: Dict[str, str] = {}
    for rel in project.blocks.get(intent, []):
        texts[rel] = _read_text(root, rel) or ""
    changes: Dict[str, Optional[str]] = {}
    expected = _Expected()
    left = list(examples)
    for rel, text in texts.items():
        lines = _Lines(text)
        found = _example_lines(lines, intent, left)
        if found:
            for index in sorted(found, reverse=True):
                del lines.lines[index]
            changes[rel] = lines.text()
            expected.removed_examples[rel] = [(intent, found[index]) for index in sorted(found)]
            left = [example for example in left if example not in found.values()]
    if left:
        raise DataError(f'"{left[0]}" is no longer an example of {intent} in data/ (it was edited since), '
                        "so nothing was undone; a developer can remove the label's lines by hand.")
    remaining = sum(1 for pairs in project.examples.values() for name, _ in pairs if name == intent) - len(examples)
    remove_definition = created is not None and not keep_definition and remaining == 0
    if remove_definition:
        _remove_definition(root, intent, str((created or {}).get("kind")), changes, expected)
    for rel, content in list(changes.items()):
        if content is not None and not _has_items(content):
            changes[rel] = None  # only labels wrote into it, and none is left
    files = _commit(root, changes, expected) if changes else []
    return UndoResult(list(examples), files, remove_definition)


def _example_lines(lines: _Lines, intent: str, examples: Sequence[str]) -> Dict[int, str]:
    """Line index → example, for each of ``examples`` in ``intent``'s blocks of this file (first match)."""
    wanted = {f"- {example}": example for example in examples}
    found: Dict[int, str] = {}
    for start, item_indent in _intent_items(lines, intent):
        for index in range(start + 1, len(lines)):
            line = lines.plain(index)
            if not _is_blank(line) and _indent(line) <= item_indent:
                break
            example = wanted.get(line.strip())
            if example is not None and _indent(line) > item_indent + 2 and example not in found.values():
                found[index] = example
    return found


def _intent_items(lines: _Lines, intent: str) -> List[Tuple[int, int]]:
    items = []
    for index in range(len(lines)):
        match = _INTENT_ITEM.match(lines.plain(index))
        if match and _unquote(match.group("name")) == intent:
            items.append((index, len(match.group("indent"))))
    return items


def _remove_definition(root: Path, intent: str, kind: str, changes: Dict[str, Optional[str]],
                       expected: _Expected) -> None:
    """The topic's block in data/nlu, its answer, and for an intent its domain entries and rule."""
    for rel in list(changes):
        lines = _Lines(changes[rel] or "")
        for start, indent in reversed(_intent_items(lines, intent)):
            _remove_item(lines, start, indent)
        changes[rel] = lines.text()
    response = f"utter_{intent}"
    if kind == "faq" and intent.startswith(RETRIEVAL_INTENT + "/"):
        for rel in _files(root, "data/responses"):
            text = changes.get(rel) or _read_text(root, rel) or ""
            edited = _without_key(text, rel, "responses", response)
            if edited != text:
                changes[rel] = edited
                expected.removed_responses.setdefault(rel, []).append(response)
        return
    if kind != "intent":
        raise DataError(f"The label created {intent} as {kind!r}, which cannot be undone automatically.")
    domain = _read_text(root, DOMAIN) or ""
    domain = _without_key(domain, DOMAIN, "responses", response)
    changes[DOMAIN] = _without_list_entry(domain, DOMAIN, "intents", intent)
    expected.removed_domain_intent, expected.removed_domain_response = intent, response
    rules = _read_text(root, TAUGHT_RULES)
    if rules is not None:
        lines = _Lines(rules)
        pattern = re.compile(rf"^(?P<indent> *)- +rule: +answer {re.escape(intent)} *$")
        starts = [(i, len(m.group("indent"))) for i in range(len(lines)) if (m := pattern.match(lines.plain(i)))]
        if len(starts) != 1:
            raise DataError(f"The rule that answers {intent} is not in {TAUGHT_RULES} once; nothing was undone.")
        _remove_item(lines, *starts[0])
        changes[TAUGHT_RULES] = lines.text()
        expected.removed_rule = intent


def _remove_item(lines: _Lines, start: int, indent: int, key: bool = False) -> None:
    """Deletes the block starting at ``start`` (to the next line at ``indent`` or less; for a
    mapping ``key``, whose list may sit at its own indent, not a "- " line there), with the
    blank line that separated it from the one before."""
    end = len(lines)
    for index in range(start + 1, len(lines)):
        line = lines.plain(index)
        if _is_blank(line) or _indent(line) > indent or (key and _indent(line) == indent and line.lstrip().startswith("- ")):
            continue
        end = index
        break
    while end - 1 > start and _is_blank(lines.plain(end - 1)):
        end -= 1
    if start > 0 and _is_blank(lines.plain(start - 1)):
        start -= 1
    del lines.lines[start:end]


def _without_key(text: str, rel: str, section_key: str, name: str) -> str:
    """``text`` without the mapping entry ``name:`` (and its value) of the top-level ``section_key``."""
    lines = _Lines(text)
    try:
        section = _section(lines, section_key, rel)
    except DataError:
        return text
    pattern = re.compile(rf"^(?P<indent> +){re.escape(name)}: *(#.*)?$")
    for index in range(section.start + 1, section.end):
        match = pattern.match(lines.plain(index))
        if match:
            _remove_item(lines, index, len(match.group("indent")), key=True)
            return lines.text()
    return text


def _without_list_entry(text: str, rel: str, section_key: str, name: str) -> str:
    lines = _Lines(text)
    section = _section(lines, section_key, rel)
    pattern = re.compile(rf"^ *- +{re.escape(name)} *(#.*)?$")
    matches = [i for i in range(section.start + 1, section.end) if pattern.match(lines.plain(i))]
    if len(matches) != 1:
        raise DataError(f"{name} is not listed once under {section_key} in {rel}; nothing was undone.")
    del lines.lines[matches[0]]
    return lines.text()


def _has_items(text: str) -> bool:
    """Whether a data file still lists anything (an intent, a response, a rule) after its header."""
    return any(line.startswith((" ", "-")) and line.strip() for line in text.split("\n"))
