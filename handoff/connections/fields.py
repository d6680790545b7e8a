"""Checks of the fields that several roles' messages share, at the edge: a clear error, never a guess."""

from __future__ import annotations

import re
from typing import Any, Dict

from handoff.exceptions import EmptyText, MalformedMessage
from handoff.protocol import Envelope, has_visible, readable

__all__ = ["conversation_id_of", "idempotency_key", "is_server_id", "signal_data", "text_of"]

_SERVER_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
_LAST_STREAM_ID = (2**64 - 1, 2**64 - 1)


def text_of(data: Dict[str, Any], limit: int, name: str = "text") -> str:
    """A message's text as people will read it (handoff.protocol.readable: no disguising controls); one that
    shows nothing (spaces, zero-width characters) is EmptyText, never an empty line for the agent."""
    value = data.get(name)
    if not isinstance(value, str):
        raise MalformedMessage(f"'{name}' must be a non-empty string")
    if not has_visible(readable(value)):
        raise EmptyText(f"'{name}' has nothing to read: only spaces or invisible characters")
    if len(value) > limit:
        raise MalformedMessage(f"'{name}' is longer than {limit} characters")
    return readable(value).strip()


def idempotency_key(envelope: Envelope) -> str:
    if not envelope.id:
        raise MalformedMessage("'id' (an idempotency key) is required for messages")
    return envelope.id


def conversation_id_of(data: Dict[str, Any]) -> str:
    value = data.get("conversation_id")
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise MalformedMessage("'conversation_id' must be a conversation id")
    return value


def is_server_id(value: Any) -> bool:
    """A message id as Redis makes them: two 64-bit numbers (and not the very last, which nothing follows)."""
    if not isinstance(value, str) or not _SERVER_ID.fullmatch(value):
        return False
    milliseconds, sequence = (int(part) for part in value.split("-"))
    return max(milliseconds, sequence) < 2**64 and (milliseconds, sequence) != _LAST_STREAM_ID


def signal_data(kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """What a ``typing`` (``active``: true or false) or ``read`` (``up_to``: a message id from the
    server) passes on to the other side: checked, as anything else a client sends."""
    if kind == "typing":
        if not isinstance(data.get("active"), bool):
            raise MalformedMessage("'active' must be true or false")
        return {"active": data["active"]}
    if not is_server_id(data.get("up_to")):
        raise MalformedMessage("'up_to' must be the id of a message from the server")
    return {"up_to": data["up_to"]}
