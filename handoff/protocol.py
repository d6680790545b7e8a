"""The websocket envelope: every message is ``{"type", "id", "data"}``.

``type`` names the message, ``id`` is chosen by the sender (a client's
idempotency key; the server's own message id for stored messages) and
``data`` is an object. docs/bridge-protocol.md lists every type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from handoff.exceptions import HandoffError, MalformedMessage, MessageTooLarge

__all__ = ["Envelope", "error_envelope", "parse_envelope"]

MAX_ID_LENGTH = 100
MAX_TYPE_LENGTH = 40


@dataclass(frozen=True)
class Envelope:
    type: str
    id: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"type": self.type, "id": self.id, "data": self.data}, ensure_ascii=False)


def parse_envelope(raw: "str | bytes", max_bytes: int) -> Envelope:
    """Validate one incoming frame; raises a ProtocolError subclass if it is not acceptable."""
    size = len(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    if size > max_bytes:
        raise MessageTooLarge(f"message is {size} bytes; the limit is {max_bytes}")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedMessage(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise MalformedMessage("a message must be a JSON object {type, id, data}")
    unknown = set(value) - {"type", "id", "data"}
    if unknown:
        raise MalformedMessage(f"unknown envelope fields: {sorted(unknown)}")
    kind, message_id, data = value.get("type"), value.get("id"), value.get("data", {})
    if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_LENGTH:
        raise MalformedMessage("'type' must be a non-empty string")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > MAX_ID_LENGTH):
        raise MalformedMessage(f"'id' must be a string of at most {MAX_ID_LENGTH} characters")
    if not isinstance(data, dict):
        raise MalformedMessage("'data' must be an object")
    return Envelope(kind, message_id, data)


def error_envelope(error: HandoffError, in_reply_to: Optional[str] = None) -> Envelope:
    """The structured reply for an error caused by one incoming message."""
    return Envelope("error", in_reply_to, {"code": error.code, "message": str(error)})
