"""Private notes and @mentions, sans I/O: what a note names, who may read or write notes, and what a
mention notification carries.

A note is a transcript entry of its own kind (``note``) that only agents see: the customer's socket
sends only the kinds handoff.visibility lists, Rasa is never asked about it, and the content staff's
review leaves it out (teaching.transcripts). ``@name`` in a note (a login name, at the start of the
text or after a space or punctuation, so that ``ann@example.com`` names nobody) notifies that
colleague (handoff.notes).
"""

from __future__ import annotations

import re
from typing import Any, Collection, Dict, List, Mapping

from handoff.exceptions import Forbidden, MalformedMessage
from handoff.machine import Conversation, State

__all__ = ["EXCERPT_CHARACTERS", "MAX_MENTIONS", "NOTE_KIND", "UnknownMention", "excerpt", "may_read_notes",
           "mention_entry", "mentioned_names", "require_may_read", "require_mentionable"]

NOTE_KIND = "note"
# Colleagues one note may notify: a team is told together, a whole directory is not.
MAX_MENTIONS = 10
# How much of a note a mention notification quotes.
EXCERPT_CHARACTERS = 140
# "@" not inside a word or an address, then a login name (letters, digits, "-", "_"; starting and ending
# with a letter or digit, so that "@ann," and "(@ann)" name ann).
_MENTION = re.compile(r"(?<![\w@.+-])@([^\W_](?:[\w-]{0,62}[^\W_])?)")


class UnknownMention(MalformedMessage):
    """A note names (``@name``) someone who is not an agent of this desk."""

    code = "unknown_mention"


def mentioned_names(text: str) -> List[str]:
    """The login names a note mentions, in order, each once."""
    names: List[str] = []
    for name in _MENTION.findall(text):
        if name not in names:
            names.append(name)
    return names


def require_mentionable(names: List[str], profiles: Mapping[str, Mapping[str, Any]]) -> None:
    """Every name an agent account (``profiles``: the accounts by name, handoff.auth), and not too many."""
    if len(names) > MAX_MENTIONS:
        raise MalformedMessage(f"a note may mention at most {MAX_MENTIONS} colleagues")
    unknown = [name for name in names if "agent" not in profiles.get(name, {}).get("roles", ())]
    if unknown:
        raise UnknownMention("no agent is called " + ", ".join(f"@{name}" for name in unknown)
                             + "; mention colleagues by their login name")


def may_read_notes(conversation: Conversation, agent: str, roles: Collection[str], mentioned: bool) -> bool:
    """Who may read a conversation's notes (and its transcript) and write one: the agent serving it, a
    colleague a note in it mentioned, and supervisors."""
    serving = conversation.state is State.AGENT and conversation.agent == agent
    return serving or mentioned or "supervisor" in roles


def require_may_read(conversation: Conversation, agent: str, roles: Collection[str], mentioned: bool) -> None:
    if not may_read_notes(conversation, agent, roles, mentioned):
        raise Forbidden("only the agent serving this chat, a colleague mentioned in it, or a supervisor may do that")


def excerpt(text: str) -> str:
    """A note as its mention notification quotes it: one line, at most EXCERPT_CHARACTERS."""
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT_CHARACTERS else line[:EXCERPT_CHARACTERS - 1] + "…"


def mention_entry(conversation_id: str, note_id: str, by: str, by_name: str, text: str, ts: int) -> Dict[str, Any]:
    """The notification a mentioned colleague keeps for a conversation: its latest mention, unseen;
    ``count``, how many mentions of them it has had, is one more than the one it replaces (handoff.notes)."""
    return {"conversation_id": conversation_id, "note_id": note_id, "by": by, "by_name": by_name,
            "excerpt": excerpt(text), "ts": ts, "seen": False, "count": 1}
