"""What an agent says when closing a conversation: a disposition and an optional closing note.

Without I/O: :func:`closing_of` checks a ``close`` message's fields at the edge against the
configured dispositions (``HANDOFF_DISPOSITIONS``); :meth:`Closing.fields` and
:meth:`Closing.counters` are what the close's one commit (handoff.store.Store.commit) writes into
the conversation's hash and counts in the day's counters, so the close, its notices and its
disposition are stored together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

from handoff.exceptions import MalformedMessage
from handoff.protocol import readable

__all__ = ["Closing", "MAX_DISPOSITION", "MAX_DISPOSITIONS", "MAX_NOTE", "closing_of"]

MAX_DISPOSITIONS = 12
MAX_DISPOSITION = 40
MAX_NOTE = 1000


@dataclass(frozen=True)
class Closing:
    disposition: str = ""  # '' when the client sent none (a client older than dispositions)
    note: str = ""

    def fields(self) -> List[str]:
        """The conversation's fields (name, value, ...): this close's, replacing an earlier close's."""
        return ["disposition", self.disposition, "closing_note", self.note]

    def counters(self) -> List[str]:
        """The day's counters this close adds 1 to."""
        return [f"disposition:{self.disposition}"] if self.disposition else []


def closing_of(data: Dict[str, Any], dispositions: Sequence[str]) -> Closing:
    """``disposition`` (one of ``dispositions``; optional) and ``closing_note`` (optional) of a ``close``."""
    disposition, note = data.get("disposition"), data.get("closing_note")
    if disposition is not None and disposition not in dispositions:
        raise MalformedMessage(f"'disposition' must be one of {list(dispositions)}")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise MalformedMessage(f"'closing_note' must be text of at most {MAX_NOTE} characters")
    return Closing(disposition or "", readable(note or "").strip())
