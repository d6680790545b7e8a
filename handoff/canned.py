"""Canned responses for agents: a YAML file of ``shortcut``, ``title`` and ``text``.

Agents type ``/shortcut`` in the console (or pick from the list) to insert the
text; ``{agent}`` in a text becomes the agent's name. The file is checked when
the bridge starts, so a mistake stops it with a clear message instead of
showing agents a broken list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import yaml

__all__ = ["DEFAULT_PATH", "load_canned_responses"]

DEFAULT_PATH = Path(__file__).with_name("canned_responses.yml")
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
MAX_TITLE = 60


def load_canned_responses(path: Path, max_text: int) -> List[Dict[str, str]]:
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"canned responses {path}: {error}") from None
    if not isinstance(entries, list):
        raise ValueError(f"canned responses {path}: expected a list of {{shortcut, title, text}}")
    responses: List[Dict[str, str]] = []
    seen = set()
    for number, entry in enumerate(entries, 1):
        where = f"canned responses {path}, entry {number}"
        if not isinstance(entry, dict) or set(entry) != {"shortcut", "title", "text"}:
            raise ValueError(f"{where}: needs exactly shortcut, title and text")
        shortcut, title, text = (str(entry[name]).strip() for name in ("shortcut", "title", "text"))
        if not _SHORTCUT.match(shortcut):
            raise ValueError(f"{where}: shortcut {shortcut!r} must be lower-case letters, digits, '-' or '_'")
        if shortcut in seen:
            raise ValueError(f"{where}: shortcut {shortcut!r} is used twice")
        if not title or len(title) > MAX_TITLE or not text or len(text) > max_text:
            raise ValueError(f"{where}: title 1-{MAX_TITLE} and text 1-{max_text} characters")
        seen.add(shortcut)
        responses.append({"shortcut": shortcut, "title": title, "text": text})
    return responses
