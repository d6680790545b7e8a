"""Checks of the fields that several roles' messages share, at the edge: a clear error, never a guess."""

from __future__ import annotations

from typing import Any, Dict

from handoff.exceptions import MalformedMessage
from handoff.protocol import Envelope, readable

__all__ = ["conversation_id_of", "idempotency_key", "text_of"]


def text_of(data: Dict[str, Any], limit: int, name: str = "text") -> str:
    """A message's text as people will read it (handoff.protocol.readable: no disguising controls)."""
    value = data.get(name)
    if not isinstance(value, str) or not readable(value).strip():
        raise MalformedMessage(f"'{name}' must be a non-empty string")
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
