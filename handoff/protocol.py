"""The websocket envelope: every message is ``{"type", "id", "data"}``.

``type`` names the message, ``id`` is chosen by the sender (a client's
idempotency key; the server's own message id for stored messages) and
``data`` is an object. docs/bridge-protocol.md lists every type.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from handoff.exceptions import AlreadyClaimed, HandoffError, LimitReached, MalformedMessage, MessageTooLarge

__all__ = ["Envelope", "error_envelope", "frame_id", "has_visible", "parse_envelope", "readable", "valid_unicode"]

MAX_ID_LENGTH = 100
MAX_TYPE_LENGTH = 40
# Objects and lists within each other. No message needs more; json's own limit
# (a RecursionError) depends on how deep the stack already is.
MAX_NESTING = 32
# Where frame_id looks for the id: clients put it near the start ({"type", "id", "data"}).
ID_SEARCH_CHARACTERS = 300
_ID_FIELD = re.compile(r'"id"\s*:\s*"([^"\\]{1,%d})"' % MAX_ID_LENGTH)


@dataclass(frozen=True)
class Envelope:
    type: str
    id: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"type": self.type, "id": self.id, "data": self.data}, ensure_ascii=False)


def parse_envelope(raw: "str | bytes", max_bytes: int) -> Envelope:
    """Validate one incoming frame; raises a ProtocolError subclass if it is not acceptable.

    The error carries the frame's ``id`` whenever the frame has a usable one, so
    that the client can tell which of its requests was refused.
    """
    size = len(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    if size > max_bytes:
        raise MessageTooLarge(f"message is {size} bytes; the limit is {max_bytes}", frame_id(raw))
    try:
        value = _decode(raw)
    except MalformedMessage as error:  # the id, if the frame's start has one, says which request it was
        raise MalformedMessage(str(error), frame_id(raw)) from None
    if not isinstance(value, dict):
        raise MalformedMessage("a message must be a JSON object {type, id, data}")
    about = _usable_id(value)
    unknown = set(value) - {"type", "id", "data"}
    if unknown:
        raise MalformedMessage(f"unknown envelope fields: {sorted(unknown)}", about)
    kind, message_id, data = value.get("type"), value.get("id"), value.get("data", {})
    if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_LENGTH:
        raise MalformedMessage("'type' must be a non-empty string", about)
    if message_id is not None and about is None:
        raise MalformedMessage(f"'id' must be a string of at most {MAX_ID_LENGTH} characters")
    if not isinstance(data, dict):
        raise MalformedMessage("'data' must be an object", about)
    return Envelope(kind, message_id, data)


def frame_id(raw: "str | bytes") -> Optional[str]:
    """The id of a frame that will not be parsed (too large, over the rate limit), from its start.

    Parsing such a frame would cost what refusing it is meant to save (a
    megabyte of nested lists takes a quarter of a second); the id lets the
    client tell which of its requests was refused.
    """
    start = raw[:ID_SEARCH_CHARACTERS]
    found = _ID_FIELD.search(start.decode("utf-8", "ignore") if isinstance(start, bytes) else start)
    return found.group(1) if found else None


def _decode(raw: "str | bytes") -> Any:
    """JSON, nested at most MAX_NESTING deep, and valid Unicode throughout: a lone
    surrogate (``"\\ud800"``) is valid JSON but can be neither stored in Redis nor
    sent on (UTF-8 has no such thing)."""
    try:
        value = json.loads(raw, parse_constant=_not_a_number)
        # Only escapes (or other encodings) make lone surrogates.
        if (isinstance(raw, bytes) or "\\u" in raw) and not valid_unicode(json.dumps(value, ensure_ascii=False)):
            raise MalformedMessage("text must be valid Unicode (no lone surrogates)")
    except RecursionError:
        raise MalformedMessage(f"nested more than {MAX_NESTING} deep") from None
    # Our own words, never the library's: its messages name Python's internals.
    except json.JSONDecodeError as error:
        raise MalformedMessage(f"not JSON (the first fault is at character {error.pos})") from None
    except UnicodeDecodeError:
        raise MalformedMessage("not JSON: a binary frame must be UTF-8 text") from None
    except ValueError:  # json's only other refusal: an integer longer than Python will convert
        raise MalformedMessage("not JSON that can be read: a number has too many digits") from None
    brackets = raw.count(b"[") + raw.count(b"{") if isinstance(raw, bytes) else raw.count("[") + raw.count("{")
    if brackets > MAX_NESTING and _nesting(value) > MAX_NESTING:
        raise MalformedMessage(f"nested more than {MAX_NESTING} deep")
    return value


def valid_unicode(text: str) -> bool:
    """False for lone surrogates: JSON can carry them (``"\\ud800"``), UTF-8 (so Redis, a browser) cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Bidi embeddings and overrides (U+202A-U+202E) make "\u202egnp.exe" read "exe.png": never kept.
# C0 controls (but tab and newline) and DEL: a NUL or an escape in a message is nobody's text.
_UNREADABLE = re.compile("[\u202a-\u202e\x00-\x08\x0b-\x1f\x7f]")
_ISOLATES = re.compile("[\u2066-\u2069]")


def readable(text: str) -> str:
    """Text people will read (messages, details), without the controls that disguise it: bidi
    embeddings and overrides, C0 controls but tab and newline. The isolates (U+2066-U+2069) stay
    only when each is closed by a U+2069 in order (then they only keep a name apart); else they
    go too. The marks U+200E/U+200F stay: they cannot reorder more than their neighbours."""
    text = _UNREADABLE.sub("", text)
    depth = 0
    for isolate in _ISOLATES.findall(text):
        depth += -1 if isolate == "\u2069" else 1
        if depth < 0:
            break
    return text if depth == 0 else _ISOLATES.sub("", text)


# Characters that show nothing on their own: controls, format characters (zero-width space and joiners, word
# joiner, BOM, soft hyphen, bidi marks), separators and spaces (below), variation selectors, the combining
# grapheme joiner, and the fillers and blank that fonts draw empty (Hangul fillers, the braille blank).
_SHOW_NOTHING_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_SHOW_NOTHING = re.compile("[\u034f\u115f\u1160\u2800\u3164\uffa0\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def has_visible(text: str) -> bool:
    """Whether ``text`` has a character that shows: one of only zero-width spaces, joiners or a BOM is read as
    an empty line by the agent (and as nonsense by the bot)."""
    return any(not (character.isspace() or unicodedata.category(character) in _SHOW_NOTHING_CATEGORIES
                    or _SHOW_NOTHING.match(character)) for character in text)


def _not_a_number(name: str) -> Any:
    """Python reads NaN and Infinity, which JSON lacks; passed on, a browser could not parse the frame."""
    raise MalformedMessage(f"not JSON: {name} is not a JSON number")


def _nesting(value: Any) -> int:
    """How many objects and lists deep ``value`` goes (iteratively: it may be deep)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _usable_id(value: Any) -> Optional[str]:
    message_id = value.get("id") if isinstance(value, dict) else None
    return message_id if isinstance(message_id, str) and len(message_id) <= MAX_ID_LENGTH else None


def error_envelope(error: HandoffError, in_reply_to: Optional[str] = None) -> Envelope:
    """The structured reply for an error caused by one incoming message: a lost claim says who won
    (``agent``), a cap that ends says when (``retry_at``, ms since the epoch)."""
    data: Dict[str, Any] = {"code": error.code, "message": str(error)}
    if isinstance(error, AlreadyClaimed) and error.agent:
        data["agent"] = error.agent
    if isinstance(error, LimitReached) and error.retry_at_ms:
        data["retry_at"] = error.retry_at_ms
    return Envelope("error", in_reply_to, data)
