"""The drills' customers and agents: :mod:`handoff_client` as the real widget and console
run it, with a ledger.

As ``widget/shared/transport.js`` does, every client reconnects with backoff
(to the next bridge process after a failed attempt), sends its unacknowledged
requests again with the same ids, and retries ``rate_limited`` and
``internal_error`` a second later; a customer resumes with ``last_seen``. All
that is the client's; what is here is the bookkeeping the drills account for
afterwards (tests/drills/ledger.py): every request with its ack, shared in one
:class:`Ledger`, every server message id each client received, and what the
customers were told (status, notices, errors).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from handoff_client import Agent, Customer, Envelope, Request, message_order
from harness.servers import AGENT_PASSWORD

__all__ = ["DrillAgent", "DrillCustomer", "Ledger"]

RETRY_SECONDS = 1.0  # widget/shared/transport.js


@dataclass
class Ledger:
    """Everything a drill's clients sent and what came of it, shared by all of them."""

    sends: Dict[str, Request] = field(default_factory=dict)
    # Messages that reached another client live (sent after that client's connection got ready, so
    # not a replay): (receiver, received at, milliseconds from the first write)
    relays: List[Tuple[str, float, float]] = field(default_factory=list)

    def relayed_to_since(self, since: float) -> Set[str]:
        """The clients that received another's message live after ``since``."""
        return {receiver for receiver, at, _ in self.relays if at >= since}

    def relay_ms(self, start: float, end: float) -> List[float]:
        return [ms for _, at, ms in self.relays if start <= at < end]

    def messages(self) -> List[Request]:
        return [send for send in self.sends.values() if send.type == "message"]

    def note_relay(self, receiver: str, ready_since: float, client_id: Optional[str]) -> None:
        """``receiver`` got the message its sender sent as ``client_id``: a live relay unless a replay."""
        send = self.sends.get(client_id or "")
        if send is not None and send.sender != receiver and send.first_sent >= ready_since:
            now = time.monotonic()
            self.relays.append((receiver, now, (now - send.first_sent) * 1000))


class DrillCustomer(Customer):
    """A widget that keeps every server message id it received, and every status it was told."""

    def __init__(self, name: str, addresses: Sequence[str], ledger: Ledger, first: int = 0) -> None:
        super().__init__(addresses, name=name, reconnect=True, retry_seconds=RETRY_SECONDS, keep=False,
                         first=first, open_timeout=5, max_size=None)
        self.ledger = ledger
        self.server_ids: List[str] = []  # every server message id, in the order received, over all connections
        self.messages_by_id: Dict[str, Dict[str, Any]] = {}  # server id -> message data
        self.arrivals: List[Tuple[float, str]] = []  # (received at, kind) of each message, first receipt only
        self.out_of_order = 0  # a server message id older than one received before
        self.statuses: List[Dict[str, Any]] = []
        self.hello_errors: List[str] = []  # an error instead of a welcome: the widget waits for ever
        self._status_after_welcome = asyncio.Event()

    @property
    def resumed(self) -> bool:
        """This connection has said hello and been told the conversation's status."""
        return self.ready.is_set() and self._status_after_welcome.is_set()

    def notices(self) -> List[str]:
        return [str(m["data"].get("notice")) for m in self.messages_by_id.values() if m["kind"] == "system"]

    async def _opened(self) -> None:
        self._status_after_welcome.clear()
        await super()._opened()

    async def _on_envelope(self, envelope: Envelope) -> None:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "error" and not self.welcomed:
            self.hello_errors.append(str(data.get("code")))
        elif kind == "message":
            self._message(str(envelope["id"]), data)  # before the client moves last_seen on
        elif kind == "status":
            self.statuses.append(data)
            if self.welcomed:
                self._status_after_welcome.set()
        await super()._on_envelope(envelope)

    def _message(self, server_id: str, data: Dict[str, Any]) -> None:
        if server_id not in self.messages_by_id:  # a duplicate counts in the ledger's account, from server_ids
            if self.last_seen and message_order(server_id) < message_order(self.last_seen):
                self.out_of_order += 1
            self.arrivals.append((time.monotonic(), str(data.get("kind"))))
        self.server_ids.append(server_id)
        self.messages_by_id.setdefault(server_id, data)
        if data.get("kind") in ("customer", "agent"):
            self.ledger.note_relay(self.name, self.ready_since, data.get("client_id"))

    async def request(self, kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> Request:
        send = await super().request(kind, data, id)
        self.ledger.sends[send.id] = send
        return send

    async def resume(self, timeout: float = 30.0) -> None:
        """A fresh connection with last_seen (a reload): waits until it has sent the status."""
        self._status_after_welcome.clear()
        self.drop()
        await asyncio.wait_for(self._status_after_welcome.wait(), timeout)

    def describe(self) -> str:
        return f"status {self.status}, notices {self.notices()}, hello errors {self.hello_errors}"


class DrillAgent(Agent):
    """A console that keeps, per conversation, the server message ids of each attachment."""

    def __init__(self, name: str, addresses: Sequence[str], ledger: Ledger, first: int = 0) -> None:
        super().__init__(addresses, name, password=AGENT_PASSWORD, reconnect=True, retry_seconds=RETRY_SECONDS,
                         keep=False, first=first, open_timeout=5, max_size=None)
        self.ledger = ledger
        # conversation -> the server ids received since its latest "conversation" (an attachment)
        self.attachment: Dict[str, List[str]] = {}
        self.seen: Dict[str, Set[str]] = {}  # conversation -> every server id received, over all attachments
        self.duplicates = 0  # a server id received twice within one attachment
        self.attachments: Counter = Counter()  # conversation -> how many times it was (re)attached

    async def _on_envelope(self, envelope: Envelope) -> None:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "conversation":
            self.attachment[data["conversation_id"]] = []
            self.attachments[data["conversation_id"]] += 1
        elif kind == "message":
            conversation_id = data["conversation_id"]
            attached = self.attachment.setdefault(conversation_id, [])
            if envelope["id"] in attached:
                self.duplicates += 1
            attached.append(envelope["id"])
            self.seen.setdefault(conversation_id, set()).add(envelope["id"])
            if data.get("kind") == "customer":
                self.ledger.note_relay(self.name, self.ready_since, data.get("client_id"))
        await super()._on_envelope(envelope)

    async def request(self, kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> Request:
        send = await super().request(kind, data, id)
        self.ledger.sends[send.id] = send
        return send
