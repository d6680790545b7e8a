"""A websocket connection: parsing, limits, in-order delivery, and the loop that serves it.

Each role's connection (customer, agent, supervisor, content) extends :class:`Connection` with
its handlers, one per message type; :func:`serve` dispatches to them, and anything else gets a
structured ``error`` reply (docs/bridge-protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional

from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from handoff.exceptions import HandoffError, ProtocolError, RateLimited, UnknownMessageType
from handoff.protocol import Envelope, error_envelope, frame_id, parse_envelope
from handoff.service import Bridge
from handoff.store import NewMessages, StoredMessage, message_order

__all__ = ["Connection", "Handlers", "TokenBucket", "send_error", "serve", "unsent"]

logger = logging.getLogger(__name__)

# A connection's handlers: message type -> the coroutine that answers it.
Handlers = Dict[str, Callable[[Envelope], Awaitable[None]]]


class TokenBucket:
    """``rate`` messages per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def unsent(sent: Optional[str], news: NewMessages) -> Optional[List[StoredMessage]]:
    """What of ``news`` a socket that has sent up to ``sent`` has still to send; None when it cannot tell
    (it reads the transcript). No news (the bot answered nothing) tells nothing: the message before them,
    the customer's own, may not have reached this socket yet."""
    if not news.messages:
        return None
    if sent is not None and message_order(news.messages[-1]["id"]) <= message_order(sent):
        return []  # sent already: ids grow, and a socket sends every message in order
    ids = [news.after, *(message["id"] for message in news.messages[:-1])]
    return news.messages[ids.index(sent):] if sent in ids else None


class Connection:
    """One websocket: parsing, limits, and in-order delivery of transcripts."""

    def __init__(self, ws: Any, bridge: Bridge) -> None:
        self.ws = ws
        self.bridge = bridge
        settings = bridge.settings
        self.bucket = TokenBucket(settings.messages_per_second, settings.message_burst)
        self.last_sent: Dict[str, Optional[str]] = {}
        self._send_lock = asyncio.Lock()
        self._subscriptions: Dict[str, Callable[[Dict[str, Any]], Awaitable[None]]] = {}

    async def send(self, envelope: Envelope) -> None:
        async with self._send_lock:
            await self._write(envelope)

    async def _write(self, envelope: Envelope) -> None:
        try:
            await self.ws.send(envelope.to_json())
        except WebsocketClosed:
            # Closed under us: its messages stay in Redis for the next connection.
            raise ConnectionClosed(None, None) from None

    async def receive(self) -> Envelope:
        try:
            raw = await self.ws.recv()
        except WebsocketClosed:
            raise ConnectionClosed(None, None) from None
        if raw is None:
            raise ConnectionClosed(None, None)
        # Every frame costs a token, refused ones too: garbage is answered no faster than messages.
        if not self.bucket.take():
            raise RateLimited("too many messages; slow down", frame_id(raw))
        return parse_envelope(raw, self.bridge.settings.max_message_bytes)

    async def deliver(self, conversation_id: str, news: Optional[NewMessages] = None) -> None:
        """Send every stored message of the conversation this socket has not sent yet.

        ``news`` are messages just stored (a live notification's, or the bot's answer this socket
        asked for) and the id of the one before them: when this socket has sent up to one of those,
        what follows it is all it owes, and is sent without reading the transcript; when it has sent
        them all already (the bot's answer, sent here first, then heard through the hub), nothing is
        sent; otherwise (a notification lost, a socket that has just connected) the transcript says
        what is missing.
        """
        async with self._send_lock:
            messages = self._unsent(conversation_id, news) if news is not None else None
            if messages is None:
                messages = await self.bridge.transcript(conversation_id, self.last_sent.get(conversation_id))
            for message in messages:
                if self.sees(message["kind"]):
                    data = {"conversation_id": conversation_id, "kind": message["kind"], "text": message["text"],
                            "data": self.shown(message["kind"], message["data"]), "ts": message["ts"]}
                    if message["client_id"]:
                        data["client_id"] = message["client_id"]
                    await self._write(Envelope("message", message["id"], data))
                self.last_sent[conversation_id] = message["id"]  # passed over, if not for this reader

    def sees(self, kind: str) -> bool:
        """Whether this socket's reader may see messages of ``kind`` at all: every kind (agents)."""
        return True

    def _unsent(self, conversation_id: str, news: NewMessages) -> Optional[List[StoredMessage]]:
        """What of ``news`` this socket has still to send; None when it cannot tell (read the transcript)."""
        if conversation_id not in self.last_sent:
            return None  # not delivering this conversation yet: from its start
        return unsent(self.last_sent[conversation_id], news)

    def shown(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        """What this socket's reader may see of a message's data: everything (agents)."""
        return data

    async def watch(self, channel: str, callback: Callable[[Dict[str, Any]], Awaitable[None]]) -> None:
        await self.unwatch(channel)  # at most one callback per channel and socket
        self._subscriptions[channel] = callback
        await self.bridge.hub.add(channel, callback)

    async def unwatch(self, channel: str) -> None:
        callback = self._subscriptions.pop(channel, None)
        if callback:
            await self.bridge.hub.discard(channel, callback)

    async def close(self) -> None:
        for channel in list(self._subscriptions):
            try:
                await self.unwatch(channel)
            except Exception:  # noqa: BLE001 - finish the clean-up whatever happens
                logger.exception("unsubscribing %s failed", channel)


async def _finish_even_if_disconnected(request: Awaitable[None]) -> None:
    """Sanic cancels a handler when its client goes away; the request itself still
    finishes (a state change and its notices, the bot's answer), only the replies
    to that socket are lost."""
    task = asyncio.ensure_future(request)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_log_failure)
        raise


def _log_failure(task: "asyncio.Future[None]") -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None and not isinstance(error, (ConnectionClosed, HandoffError)):
        logger.error("a request from a client who left failed", exc_info=error)


async def serve(connection: Connection, handlers: Handlers) -> None:
    """Read envelopes until the socket closes; every failure is answered, never fatal."""
    while True:
        envelope: Optional[Envelope] = None
        try:
            envelope = await connection.receive()
            handler = handlers.get(envelope.type)
            if handler is None:
                raise UnknownMessageType(f"unknown message type {envelope.type!r}; known: {sorted(handlers)}")
            await _finish_even_if_disconnected(handler(envelope))
        except ConnectionClosed:
            return
        except HandoffError as error:
            connection.bridge.metrics[f"errors_{error.code}"] += 1
            about = error.in_reply_to if isinstance(error, ProtocolError) else None
            await connection.send(error_envelope(error, envelope.id if envelope else about))
        except Exception:  # noqa: BLE001 - a bug or a Redis blip must not drop the customer
            logger.exception("handling %s failed", envelope.type if envelope else "a message")
            connection.bridge.metrics["errors_internal"] += 1
            failure = HandoffError("something went wrong on our side; please try again")
            await connection.send(error_envelope(failure, envelope.id if envelope else None))


async def send_error(connection: Connection, error: HandoffError) -> None:
    """An error for a socket about to be closed (it may be gone already)."""
    with contextlib.suppress(ConnectionClosed):
        await connection.send(error_envelope(error))
