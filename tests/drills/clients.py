"""Drill clients that behave like the real widget and agent console, and keep a ledger.

Like ``widget/shared/transport.js``: every reliable send (a message, a claim,
"talk to a person") gets an id and stays in an outbox until the bridge
acknowledges that id; after a reconnect the outbox is sent again with the SAME
ids; ``rate_limited`` and ``internal_error`` replies are retried a second
later; a lost connection is retried with exponential backoff and jitter. Like
``widget/customer/widget.js``, a customer resumes with ``hello
{conversation_id, token, last_seen}``, ``last_seen`` being the newest server
message id it has received.

The ledger is what the drills account for afterwards (tests/drills/ledger.py):
every send with its ack (and the server message id the ack named), every
server message id each client received, and what the customers were told
(status, notices, errors).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import aiohttp
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from harness.clients import login_protocols
from harness.servers import AGENT_PASSWORD

__all__ = ["DrillAgent", "DrillCustomer", "Ledger", "Send", "message_order"]

# widget/shared/transport.js
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
RETRY_SECONDS = 1.0
RETRYABLE = frozenset({"rate_limited", "internal_error"})


def message_order(server_id: str) -> Tuple[int, int]:
    """Server message ids are Redis stream ids, "<ms>-<seq>" (compareMessageIds in transport.js)."""
    milliseconds, _, sequence = server_id.partition("-")
    return int(milliseconds), int(sequence)


@dataclass
class Send:
    """One reliable send, from its first write to its ack (or refusal)."""

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


@dataclass
class Ledger:
    """Everything a drill's clients sent and what came of it, shared by all of them."""

    sends: Dict[str, Send] = field(default_factory=dict)
    conflicting_acks: int = 0  # one id acknowledged with two different server message ids
    # Messages that reached another client live (sent after that client's connection got ready, so
    # not a replay): (receiver, received at, milliseconds from the first write)
    relays: List[Tuple[str, float, float]] = field(default_factory=list)

    def relayed_to_since(self, since: float) -> Set[str]:
        """The clients that received another's message live after ``since``."""
        return {receiver for receiver, at, _ in self.relays if at >= since}

    def relay_ms(self, start: float, end: float) -> List[float]:
        return [ms for _, at, ms in self.relays if start <= at < end]

    def messages(self) -> List[Send]:
        return [send for send in self.sends.values() if send.type == "message"]


def backoff(attempt: int) -> float:
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** attempt)
    return base * (0.8 + random.random() * 0.4)


class Endpoint:
    """One websocket client that reconnects on its own; subclasses speak the customer or agent side.

    ``addresses`` are the bridge processes it may reach, as behind a load
    balancer: it goes to ``addresses[first]`` and a failed connection
    attempt goes to the next one.
    """

    path = ""

    def __init__(self, name: str, addresses: Sequence[str], ledger: Ledger, first: int = 0) -> None:
        self.name = name
        self.addresses = list(addresses)
        self.ledger = ledger
        self.outbox: Dict[str, Send] = {}
        self.errors: Counter = Counter()  # error codes not about a reliable send
        self.connections = 0  # successful (ready) connections
        self.connected_to: Optional[str] = None
        self.ready = asyncio.Event()
        self.ready_since = float("inf")  # when the current connection got ready
        self._ws: Optional[Any] = None
        self._address_index = first
        self._online = asyncio.Event()  # cleared while the drill holds the client offline
        self._online.set()
        self._closed = False
        self._task: Optional["asyncio.Task[None]"] = None
        self._changed = asyncio.Event()
        self._retries: Set["asyncio.Task[None]"] = set()

    # ---- connection ----------------------------------------------------------

    def url(self, address: str) -> str:
        return f"ws://{address}{self.path}"

    def protocols(self) -> Optional[List[Subprotocol]]:
        """What the socket offers in Sec-WebSocket-Protocol (an agent's login token)."""
        return None

    async def start(self, timeout: Optional[float] = 30.0) -> None:
        """Connects (and keeps reconnecting); waits until ready unless ``timeout`` is None."""
        self._task = asyncio.create_task(self._run(), name=self.name)
        if timeout is not None:
            await asyncio.wait_for(self.ready.wait(), timeout)

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            await self._online.wait()
            address = self.addresses[self._address_index % len(self.addresses)]
            try:
                ws = await websockets.connect(self.url(address), open_timeout=5, close_timeout=1, max_size=None,
                                              subprotocols=self.protocols())
            except (OSError, InvalidHandshake, asyncio.TimeoutError):
                self._address_index += 1  # the load balancer tries another process
                await asyncio.sleep(backoff(attempt))
                attempt += 1
                continue
            self._ws = ws
            self.connected_to = address
            was_ready = False
            try:
                await self._opened()
                async for raw in ws:
                    envelope = json.loads(raw)
                    if await self._receive(envelope):
                        was_ready = True
            except ConnectionClosed:
                pass
            finally:
                self._ws = None
                self.ready.clear()
                self.ready_since = float("inf")
                self.connected_to = None
            if self._closed:
                return
            if was_ready:
                attempt = 0  # transport.js: a connection that got ready starts the backoff afresh
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def _opened(self) -> None:
        """Right after connecting (a customer says hello; an agent is ready at once)."""
        await self._became_ready()

    async def _became_ready(self) -> None:
        self.connections += 1
        self.ready.set()
        self.ready_since = time.monotonic()
        for send in list(self.outbox.values()):
            await self._write(send)

    def drop(self) -> None:
        """The network drops: the socket goes without a goodbye, and the client reconnects (after its backoff)."""
        if self._ws is not None:
            self._ws.transport.abort()

    def go_offline(self) -> None:
        """The network drops and stays away until :meth:`go_online`."""
        self._online.clear()
        self.drop()

    def go_online(self) -> None:
        self._online.set()

    @property
    def crash(self) -> Optional[BaseException]:
        """What ended the client's connection loop before it was closed (a bug in the client), if anything."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass

    # ---- sending ---------------------------------------------------------------

    async def send_now(self, kind: str, data: Dict[str, Any], id: Optional[str] = None) -> None:
        """Fire and forget (hello, typing): dropped when not connected."""
        if self._ws is not None:
            try:
                await self._ws.send(json.dumps({"type": kind, "id": id, "data": data}))
            except ConnectionClosed:
                pass

    async def send_reliable(self, kind: str, data: Dict[str, Any], id: Optional[str] = None) -> Send:
        send = Send(id or uuid.uuid4().hex, kind, data, self.name, time.monotonic())
        self.outbox[send.id] = send
        self.ledger.sends[send.id] = send
        if self.ready.is_set():
            await self._write(send)
        return send

    async def _write(self, send: Send) -> None:
        if self._ws is None:
            return
        send.writes += 1
        try:
            await self._ws.send(json.dumps({"type": send.type, "id": send.id, "data": send.data}))
        except ConnectionClosed:
            pass  # sent again after the reconnect

    async def _retry_later(self, send: Send) -> None:
        await asyncio.sleep(RETRY_SECONDS)
        if self.ready.is_set() and send.id in self.outbox:
            await self._write(send)

    async def acknowledged(self, send: Send, timeout: float = 30.0) -> Send:
        """Waits until ``send`` is acknowledged or refused."""
        deadline = time.monotonic() + timeout
        while send.acked_at is None and send.refused is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: {send.type} {send.id} not acknowledged in {timeout} s "
                                     f"(errors {send.errors}, writes {send.writes})")
            await self._wait_change(remaining)
        return send

    async def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Waits until ``predicate()`` holds, re-checking after every envelope."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {what} within {timeout} s; {self.describe()}")
            await self._wait_change(remaining)

    def describe(self) -> str:
        return f"errors {dict(self.errors)}"

    async def _wait_change(self, timeout: float) -> None:
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    # ---- receiving -------------------------------------------------------------

    async def _receive(self, envelope: Dict[str, Any]) -> bool:
        """Handles one envelope; True once the connection is ready."""
        kind = envelope.get("type")
        if kind == "ack":
            self._settle_ack(envelope)
        elif kind == "error":
            self._settle_error(envelope)
        self._changed.set()
        return self.ready.is_set()

    def _settle_ack(self, envelope: Dict[str, Any]) -> None:
        send = self.ledger.sends.get(str(envelope.get("id")))
        if send is None or send.sender != self.name:
            return
        message_id = (envelope.get("data") or {}).get("message_id")
        if send.message_id is not None and message_id is not None and message_id != send.message_id:
            self.ledger.conflicting_acks += 1
        if send.acked_at is None:
            send.acked_at = time.monotonic()
            send.message_id = message_id
        self.outbox.pop(send.id, None)

    def _settle_error(self, envelope: Dict[str, Any]) -> None:
        code = str((envelope.get("data") or {}).get("code"))
        send = self.outbox.get(str(envelope.get("id")))
        if send is None:
            self.errors[code] += 1
            return
        send.errors.append(code)
        if code in RETRYABLE:
            retry = asyncio.create_task(self._retry_later(send))
            self._retries.add(retry)  # kept until done: the loop holds tasks only weakly
            retry.add_done_callback(self._retries.discard)
        else:
            send.refused = code
            self.outbox.pop(send.id, None)

    def _relayed(self, client_id: Optional[str]) -> None:
        send = self.ledger.sends.get(client_id or "")
        if send is not None and send.sender != self.name and send.first_sent >= self.ready_since:
            now = time.monotonic()
            self.ledger.relays.append((self.name, now, (now - send.first_sent) * 1000))


class DrillCustomer(Endpoint):
    """The customer widget: hello (or resume), messages, "talk to a person"."""

    path = "/ws/customer"

    def __init__(self, name: str, addresses: Sequence[str], ledger: Ledger, first: int = 0) -> None:
        super().__init__(name, addresses, ledger, first)
        self.conversation_id = ""
        self.token = ""
        self.last_seen: Optional[str] = None
        self.received: List[str] = []  # every server message id, in the order received, over all connections
        self.messages: Dict[str, Dict[str, Any]] = {}  # server id -> message data
        self.arrivals: List[Tuple[float, str]] = []  # (received at, kind) of each message, first receipt only
        self.out_of_order = 0  # a server message id older than one received before
        self.statuses: List[Dict[str, Any]] = []
        self.hello_errors: List[str] = []  # an error instead of a welcome: the widget waits for ever
        self._welcomed = False
        self._status_after_welcome = asyncio.Event()

    @property
    def resumed(self) -> bool:
        """This connection has said hello and been told the conversation's status."""
        return self.ready.is_set() and self._status_after_welcome.is_set()

    @property
    def status(self) -> Dict[str, Any]:
        return self.statuses[-1] if self.statuses else {}

    def notices(self) -> List[str]:
        return [str(m["data"].get("notice")) for m in self.messages.values() if m["kind"] == "system"]

    async def _opened(self) -> None:
        self._welcomed = False
        self._status_after_welcome.clear()
        data: Dict[str, Any] = {}
        if self.conversation_id:
            data = {"conversation_id": self.conversation_id, "token": self.token}
            if self.last_seen:
                data["last_seen"] = self.last_seen
        await self.send_now("hello", data, id=uuid.uuid4().hex)

    async def _receive(self, envelope: Dict[str, Any]) -> bool:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "welcome":
            self.conversation_id, self.token = data["conversation_id"], data["token"]
            self._welcomed = True
            await self._became_ready()
        elif kind == "error" and not self._welcomed:
            self.hello_errors.append(str(data.get("code")))
        elif kind == "message":
            self._message(str(envelope["id"]), data)
        elif kind == "status":
            self.statuses.append(data)
            if self._welcomed:
                self._status_after_welcome.set()
        return await super()._receive(envelope)

    def _message(self, server_id: str, data: Dict[str, Any]) -> None:
        if server_id not in self.messages:  # a duplicate counts in the ledger's account, from received
            if self.last_seen and message_order(server_id) < message_order(self.last_seen):
                self.out_of_order += 1
            self.arrivals.append((time.monotonic(), str(data.get("kind"))))
        self.received.append(server_id)
        self.messages.setdefault(server_id, data)
        if not self.last_seen or message_order(server_id) > message_order(self.last_seen):
            self.last_seen = server_id
        if data.get("kind") in ("customer", "agent"):
            self._relayed(data.get("client_id"))

    async def say(self, text: str) -> Send:
        return await self.send_reliable("message", {"text": text})

    async def resume(self, timeout: float = 30.0) -> None:
        """A fresh connection with last_seen (a reload): waits until it has sent the status."""
        self._status_after_welcome.clear()
        self.drop()
        await asyncio.wait_for(self._status_after_welcome.wait(), timeout)

    def describe(self) -> str:
        return f"status {self.status}, notices {self.notices()}, hello errors {self.hello_errors}"


class DrillAgent(Endpoint):
    """The agent console: claims, replies; gets its conversations back after a reconnect."""

    path = "/ws/agent"

    def __init__(self, name: str, addresses: Sequence[str], ledger: Ledger, first: int = 0) -> None:
        super().__init__(name, addresses, ledger, first)
        self.token = ""
        self.serving: Set[str] = set()
        self.queue: List[str] = []  # the latest queue push, oldest first
        self._queue_items: Dict[str, Dict[str, Any]] = {}  # the queue as pushed and changed since
        # conversation -> the server ids received since its latest "conversation" (an attachment)
        self.attachment: Dict[str, List[str]] = {}
        self.seen: Dict[str, Set[str]] = {}  # conversation -> every server id received, over all attachments
        self.duplicates = 0  # a server id received twice within one attachment
        self.attachments: Counter = Counter()  # conversation -> how many times it was (re)attached

    def url(self, address: str) -> str:
        return f"ws://{address}{self.path}"

    def protocols(self) -> Optional[List[Subprotocol]]:
        return login_protocols(self.token)

    async def start(self, timeout: Optional[float] = 30.0) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://{self.addresses[0]}/api/agents/login",
                                 json={"name": self.name, "password": AGENT_PASSWORD}) as reply:
                reply.raise_for_status()
                self.token = (await reply.json())["token"]
        await super().start(timeout)

    async def _receive(self, envelope: Dict[str, Any]) -> bool:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "queue":
            self._queue_items = {item["conversation_id"]: item for item in data.get("items", [])}
            self.queue = [item["conversation_id"] for item in data.get("items", [])]
        elif kind == "queue_changed":  # a difference from the queue before (docs/bridge-protocol.md)
            for conversation_id in data.get("removed", []):
                self._queue_items.pop(conversation_id, None)
            for item in [*data.get("added", []), *data.get("updated", [])]:
                self._queue_items[item["conversation_id"]] = item
            ordered = sorted(self._queue_items.values(), key=lambda item: item["queued_at"])
            self.queue = [item["conversation_id"] for item in ordered]
        elif kind == "conversation":
            conversation_id = data["conversation_id"]
            self.serving.add(conversation_id)
            self.attachment[conversation_id] = []
            self.attachments[conversation_id] += 1
        elif kind == "released":
            self.serving.discard(data["conversation_id"])
        elif kind == "message":
            conversation_id = data["conversation_id"]
            attached = self.attachment.setdefault(conversation_id, [])
            if envelope["id"] in attached:
                self.duplicates += 1
            attached.append(envelope["id"])
            self.seen.setdefault(conversation_id, set()).add(envelope["id"])
            if data.get("kind") == "customer":
                self._relayed(data.get("client_id"))
        return await super()._receive(envelope)

    async def _opened(self) -> None:
        self.serving.clear()  # what it serves comes again as "conversation" envelopes
        await super()._opened()

    async def claim(self, conversation_id: str) -> Send:
        return await self.send_reliable("claim", {"conversation_id": conversation_id})

    async def say(self, conversation_id: str, text: str) -> Send:
        return await self.send_reliable("message", {"conversation_id": conversation_id, "text": text})

    def describe(self) -> str:
        return f"serving {sorted(self.serving)}, queue {self.queue}"
