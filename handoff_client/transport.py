"""One websocket connection to the bridge that speaks its envelopes (docs/bridge-protocol.md).

Every frame is an envelope ``{"type", "id", "data"}``. A *request* is a send the
bridge acknowledges by its ``id``: it waits in the outbox until its ``ack`` (or a
refusing ``error``) and, with ``reconnect``, is sent again with the SAME id after
a reconnect, as ``widget/shared/transport.js`` does; ``retry_seconds`` resends
one refused as ``rate_limited`` or ``internal_error``.

Two ways to read, one state: *pulled* (:meth:`Transport.open`, then
:meth:`~Transport.expect` reads the socket until the wanted envelope comes and
keeps the others in ``received``: what a test does), or *pushed*
(:meth:`Transport.start`: a task reads every envelope, keeps them when ``keep``,
and with ``reconnect`` connects again after a drop with exponential backoff and
jitter, trying the next of ``addresses`` as a load balancer would: what the
drills and the terminal client do). Either way every envelope goes through
:meth:`Transport._dispatch`, which settles requests and lets a role (customer,
agent) keep its own state. A reader that times each frame itself (a benchmark)
pulls with :meth:`Transport.receive` or iterates the transport, whose
``arrived_ns`` is the latest frame's arrival.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Set, Union

from websockets.client import WebSocketClientProtocol, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from handoff_client.envelope import RETRYABLE, Envelope, Request, encode

__all__ = ["NotReceived", "Transport", "backoff"]

BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0


class NotReceived(AssertionError):
    """The envelope waited for did not come in time (an AssertionError, so a test shows it as a failure)."""


def backoff(attempt: int) -> float:
    """Seconds before reconnection attempt ``attempt`` (from 0): doubling, capped, with 20 % jitter."""
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** attempt)
    return base * (0.8 + random.random() * 0.4)


class Transport:
    """A connection to ``path`` on one of ``addresses`` (host:port), pulled or pushed (module docstring).

    ``reconnect``: connect again after a drop (pushed reading). ``retry_seconds``:
    resend a request refused as retryable after so long. ``keep``: keep the
    envelopes read in ``received`` (a pushed reader that only counts sets it False).
    ``first``: the index in ``addresses`` to try first. ``secure``: wss (and
    https for a staff login). ``socket_options`` go to ``websockets.connect``
    (``ping_interval``, ``max_size``, ``extra_headers``, ``origin``, ...). Used as it is, it is a raw
    connection; :class:`~handoff_client.roles.Customer` and
    :class:`~handoff_client.roles.Agent` add a role's greeting and state.
    """

    path = ""

    def __init__(self, addresses: Union[str, Sequence[str]], *, path: Optional[str] = None, name: str = "",
                 reconnect: bool = False, retry_seconds: Optional[float] = None, keep: bool = True,
                 first: int = 0, secure: bool = False, **socket_options: Any) -> None:
        self.addresses = [addresses] if isinstance(addresses, str) else list(addresses)
        if path is not None:
            self.path = path
        self.name = name
        self.reconnect = reconnect
        self.retry_seconds = retry_seconds
        self.keep = keep
        self.secure = secure  # wss:// (and https:// for a staff login)
        self.socket_options: Dict[str, Any] = {"open_timeout": 10, "close_timeout": 1, **socket_options}
        self.ws: Optional[WebSocketClientProtocol] = None
        self.received: List[Envelope] = []  # envelopes read but not yet taken by expect (when kept)
        self.requests: Dict[str, Request] = {}  # every request by id, settled or not
        self.outbox: Dict[str, Request] = {}  # those not settled yet
        self.errors: Counter = Counter()  # error codes about no request of ours
        self.conflicting_acks = 0  # one request acknowledged with two different server message ids
        self.listeners: List[Callable[[Envelope], None]] = []  # called with every envelope, after the role
        self.connections = 0  # connections that got ready
        self.connected_to: Optional[str] = None
        self.ready = asyncio.Event()
        self.ready_since = float("inf")  # when the current connection got ready (monotonic)
        self.arrived_ns = 0  # time.monotonic_ns() when the latest frame arrived, before decoding it
        self.close_code: Optional[int] = None  # of the latest connection, once closed (1009: a frame too large)
        self.close_reason = ""  # what the bridge said when it closed it (e.g. "login revoked; log in again")
        self._address_index = first
        self._online = asyncio.Event()  # cleared while held offline (go_offline)
        self._online.set()
        self._closing = False
        self._task: Optional["asyncio.Task[None]"] = None
        self._changed = asyncio.Event()
        self._retries: Set["asyncio.Task[None]"] = set()

    # ---- connecting -------------------------------------------------------------

    def url(self, address: str) -> str:
        return f"{'wss' if self.secure else 'ws'}://{address}{self.path}"

    def protocols(self) -> Optional[List[Subprotocol]]:
        """What the socket offers in Sec-WebSocket-Protocol (a staff login token)."""
        return None

    async def _connect(self, address: str) -> None:
        self.ws = await connect(self.url(address), subprotocols=self.protocols(), **self.socket_options)
        self.connected_to = address

    async def open(self, timeout: float = 30.0) -> None:
        """Connects once, to read by pulling; returns once ready (a customer: welcomed, the welcome taken)."""
        await self._connect(self.addresses[self._address_index % len(self.addresses)])
        await self._opened()
        if not self.ready.is_set():
            await self.next_matching(lambda envelope: self.ready.is_set(), "welcome", timeout)

    async def start(self, timeout: Optional[float] = 30.0) -> None:
        """Starts the reading task (with ``reconnect``, for good); waits until ready unless ``timeout`` is None."""
        self._task = asyncio.create_task(self._run(), name=self.name or self.path)
        if timeout is None:
            return
        ready = asyncio.ensure_future(self.ready.wait())
        done, _ = await asyncio.wait({self._task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # what ended it
                raise ConnectionError(f"{self.name or self.path}: closed before it was ready")
            raise NotReceived(f"{self.name or self.path}: not ready within {timeout} s; {self.describe()}")

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            await self._online.wait()
            try:
                await self._connect(self.addresses[self._address_index % len(self.addresses)])
            except (OSError, InvalidHandshake, asyncio.TimeoutError):
                if not self.reconnect:
                    raise
                self._address_index += 1  # the load balancer tries another process
                await asyncio.sleep(backoff(attempt))
                attempt += 1
                continue
            was_ready = False
            try:
                await self._opened()
                while True:
                    envelope = await self._read()
                    was_ready = was_ready or self.ready.is_set()
                    if self.keep:
                        self.received.append(envelope)
            except ConnectionClosed:
                pass
            finally:
                self._disconnected()
            if self._closing or not self.reconnect:
                return
            if was_ready:
                attempt = 0  # transport.js: a connection that got ready starts the backoff afresh
            await asyncio.sleep(backoff(attempt))
            attempt += 1

    async def _opened(self) -> None:
        """Right after connecting: ready at once (a customer says hello first and is ready when welcomed)."""
        await self._became_ready()

    async def _became_ready(self) -> None:
        self.connections += 1
        self.ready.set()
        self.ready_since = time.monotonic()
        for request in list(self.outbox.values()):
            await self._write(request)

    def _disconnected(self) -> None:
        if self.ws is not None:
            self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason or ""
        self.ws = None
        self.ready.clear()
        self.ready_since = float("inf")
        self.connected_to = None
        self._changed.set()

    def drop(self) -> None:
        """The network drops: the socket goes without a goodbye (with ``reconnect``, it comes back)."""
        if self.ws is not None:
            self.ws.transport.abort()

    def go_offline(self) -> None:
        """The network drops and stays away until :meth:`go_online`."""
        self._online.clear()
        self.drop()

    def go_online(self) -> None:
        self._online.set()

    @property
    def crash(self) -> Optional[BaseException]:
        """What ended the reading task before it was closed (a bug, or a failed connection), if anything."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def wait_stopped(self) -> None:
        """Until the reading task ends: the socket closed for good (without ``reconnect``), or :meth:`close`."""
        if self._task is not None:
            await asyncio.wait({self._task})

    @property
    def running(self) -> bool:
        """The reading task is still at work (pushed reading)."""
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
        for retry in list(self._retries):
            retry.cancel()

    # ---- sending ----------------------------------------------------------------

    async def send(self, kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> None:
        """One envelope now, not followed up (a typing signal, a test's own frame)."""
        if self.ws is None:
            raise ConnectionError(f"{self.name or self.path}: not connected")
        await self.ws.send(encode(kind, data, id))

    async def request(self, kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> Request:
        """A send the bridge acknowledges: kept until its ack, sent again after a reconnect (same id)."""
        request = Request(id or uuid.uuid4().hex, kind, data or {}, self.name, time.monotonic())
        self.requests[request.id] = request
        self.outbox[request.id] = request
        if self.ready.is_set():
            await self._write(request)
        return request

    async def _write(self, request: Request) -> None:
        if self.ws is None:
            return
        request.writes += 1
        try:
            await self.ws.send(encode(request.type, request.data, request.id))
        except ConnectionClosed:
            if not self.reconnect:
                raise
            # sent again after the reconnect

    async def _retry_later(self, request: Request, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.ready.is_set() and request.id in self.outbox:
            await self._write(request)

    # ---- receiving --------------------------------------------------------------

    async def _read(self) -> Envelope:
        if self.ws is None:
            raise ConnectionError(f"{self.name or self.path}: not connected")
        raw = await self.ws.recv()
        self.arrived_ns = time.monotonic_ns()
        envelope: Envelope = json.loads(raw)
        await self._dispatch(envelope)
        return envelope

    async def _dispatch(self, envelope: Envelope) -> None:
        kind = envelope.get("type")
        if kind == "ack":
            self._settle_ack(envelope)
        elif kind == "error":
            self._settle_error(envelope)
        await self._on_envelope(envelope)
        for listener in self.listeners:
            listener(envelope)
        self._changed.set()

    async def _on_envelope(self, envelope: Envelope) -> None:
        """A role's own bookkeeping of each envelope (nothing for a raw connection)."""

    def _settle_ack(self, envelope: Envelope) -> None:
        request = self.requests.get(str(envelope.get("id")))
        if request is None:
            return
        message_id = (envelope.get("data") or {}).get("message_id")
        if request.message_id is not None and message_id is not None and message_id != request.message_id:
            self.conflicting_acks += 1
        if request.acked_at is None:
            request.acked_at = time.monotonic()
            request.message_id = message_id
        self.outbox.pop(request.id, None)

    def _settle_error(self, envelope: Envelope) -> None:
        code = str((envelope.get("data") or {}).get("code"))
        request = self.outbox.get(str(envelope.get("id")))
        if request is None:
            self.errors[code] += 1
            return
        request.errors.append(code)
        if code in RETRYABLE and self.retry_seconds is not None:
            retry = asyncio.create_task(self._retry_later(request, self.retry_seconds))
            self._retries.add(retry)  # kept until done: the loop holds tasks only weakly
            retry.add_done_callback(self._retries.discard)
        elif code not in RETRYABLE:
            request.refused = code
            self.outbox.pop(request.id, None)

    async def _next_change(self, timeout: float) -> None:
        """Pulled: reads one envelope and keeps it. Pushed: waits until the task has read one (or ``timeout``)."""
        if self.running:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            return
        self.received.append(await asyncio.wait_for(self._read(), timeout))

    async def next_matching(self, wanted: Callable[[Envelope], bool], description: str,
                            timeout: float = 30.0) -> Envelope:
        """The next envelope ``wanted`` accepts, from those kept or new ones (the others are kept)."""
        deadline = asyncio.get_running_loop().time() + timeout
        checked = 0
        while True:
            for index in range(checked, len(self.received)):
                if wanted(self.received[index]):
                    return self.received.pop(index)
            # Pulled, only this call reads: the next round checks the new envelope alone. Pushed, another
            # waiter may have taken one meanwhile: the next round checks them all again.
            checked = 0 if self.running else len(self.received)
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                await self._next_change(remaining)
            except asyncio.TimeoutError:
                raise NotReceived(f"no {description} within {timeout}s; got {self.received[-10:]}") from None

    async def expect(self, envelope_type: str, /, timeout: float = 30.0, **match: Any) -> Envelope:
        """The next envelope of this type whose data contains ``match`` (others are kept)."""
        return await self.next_matching(
            lambda envelope: envelope["type"] == envelope_type
            and all(envelope["data"].get(k) == v for k, v in match.items()),
            f"{envelope_type} {match}", timeout)

    async def acknowledged(self, request: Union[str, Request], timeout: float = 30.0) -> Envelope:
        """The ack of this request (or of the request sent with this id): the bridge has carried it out."""
        request_id = request if isinstance(request, str) else request.id
        return await self.next_matching(lambda envelope: envelope["type"] == "ack" and envelope["id"] == request_id,
                                        f"ack of {request_id}", timeout)

    async def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Until ``predicate()`` holds, checked again after every envelope."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotReceived(f"{self.name or self.path}: no {what} within {timeout} s; {self.describe()}")
            try:
                await self._next_change(remaining)
            except asyncio.TimeoutError:
                pass

    async def settled(self, request: Request, timeout: float = 30.0) -> Request:
        """Until ``request`` is acknowledged or refused."""
        await self.wait_for(lambda: request.settled, f"ack of {request.type} {request.id} "
                            f"(errors {request.errors}, writes {request.writes})", timeout)
        return request

    def messages(self, kind: Optional[str] = None) -> List[Envelope]:
        """The kept ``message`` envelopes (of one kind: customer, bot, agent, system)."""
        return [e for e in self.received if e["type"] == "message" and (kind is None or e["data"]["kind"] == kind)]

    def describe(self) -> str:
        """What a failure message says about this connection's state."""
        return f"errors {dict(self.errors)}"

    async def receive(self, timeout: Optional[float] = None) -> Envelope:
        """The next envelope off the socket (pulled), not kept: for a reader that times each one itself."""
        return await asyncio.wait_for(self._read(), timeout)

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        """Every envelope from now until the socket closes (pulled; ``arrived_ns`` is the latest's arrival)."""
        try:
            while True:
                yield await self._read()
        except ConnectionClosed:
            return
