"""The protocol's envelopes (docs/bridge-protocol.md): ``{"type", "id", "data"}`` both ways,
server message ids that order a conversation, and a request awaiting its ack."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from websockets.typing import Subprotocol

__all__ = ["Envelope", "RETRYABLE", "Request", "encode", "login_protocols", "message_order"]

Envelope = Dict[str, Any]
# Errors worth sending the same request again for, a second later (transport.js).
RETRYABLE = frozenset({"rate_limited", "internal_error"})


def encode(kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> str:
    return json.dumps({"type": kind, "id": id, "data": data or {}})


def message_order(server_id: str) -> Tuple[int, int]:
    """Server message ids are Redis stream ids, "<ms>-<seq>" (compareMessageIds in transport.js)."""
    milliseconds, _, sequence = server_id.partition("-")
    return int(milliseconds), int(sequence)


def login_protocols(token: str) -> List[Subprotocol]:
    """How a staff socket presents its login token: as a subprotocol, never in the URL."""
    return [Subprotocol("handoff"), Subprotocol(f"token.{token}")]


@dataclass
class Request:
    """One acknowledged send, from its first write to its ack (or refusal)."""

    id: str
    type: str
    data: Dict[str, Any]
    sender: str
    first_sent: float
    writes: int = 0
    acked_at: Optional[float] = None
    message_id: Optional[str] = None  # the server message id its ack named (messages only)
    refused: Optional[str] = None  # the code of a non-retryable error
    errors: List[str] = field(default_factory=list)  # every error code it got, retried ones too

    @property
    def settled(self) -> bool:
        return self.acked_at is not None or self.refused is not None
