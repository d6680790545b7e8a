"""Fan-out between bridge processes: one Redis pub/sub connection per process.

A socket that shows a conversation registers a callback for the
conversation's channel; whichever process appends a message publishes on
that channel, and every process with such a socket calls its callbacks. The
payload carries the new message and the id of the one before it: a socket
that has sent exactly up to that one sends it as it is, one that has sent it
already skips it (the bot's answer, which the asking socket's process wrote
to it first: handoff.connections.customer), any other reads what it missed
from the transcript stream, so a lost notification delays a message but never
loses or duplicates one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Optional, Set

from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

__all__ = ["Hub"]

logger = logging.getLogger(__name__)

Callback = Callable[[Dict[str, Any]], Awaitable[None]]


@dataclass
class _Channel:
    """What the hub keeps for a channel, only while some socket of this process listens on it."""

    callbacks: Set[Callback] = field(default_factory=set)
    notified: int = 0  # the number of its last notification, or of when listening on it began


class Hub:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._pubsub = redis.pubsub()
        self._placeholder = f"{prefix}:hub-started"
        self._channels: Dict[str, _Channel] = {}
        self._reader: Optional["asyncio.Task[None]"] = None
        self._running: Set["asyncio.Task[None]"] = set()
        # One count for every channel: a channel listened on again never repeats a number.
        self._notifications = itertools.count(1)

    async def start(self) -> None:
        # A placeholder subscription lets the reader start before any socket does.
        await self._pubsub.subscribe(self._placeholder)
        self._reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._reader:
            self._reader.cancel()
        await self._pubsub.aclose()

    @property
    def channels(self) -> int:
        """Channels this process keeps anything for: those its sockets listen on (/metrics)."""
        return len(self._channels)

    async def add(self, channel: str, callback: Callback) -> None:
        if channel not in self._channels:
            await self._pubsub.subscribe(channel)  # first, so a failure leaves nothing half-registered
            # A fresh number: a reading shared before nobody here listened (and heard of changes) is out of date.
            self._channels[channel] = _Channel(notified=next(self._notifications))
        self._channels[channel].callbacks.add(callback)

    async def discard(self, channel: str, callback: Callback) -> None:
        listened = self._channels.get(channel)
        if not listened:
            return
        listened.callbacks.discard(callback)
        if not listened.callbacks:
            del self._channels[channel]  # nothing stays behind for a channel nobody here listens on
            await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        missed = False
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis blips: reconnect, then let every socket catch up
                logger.exception("pub/sub read failed; retrying")
                missed = True
                await asyncio.sleep(0.5)
                continue
            if missed:
                missed = False
                await self._everyone({"message": "resync"})
            if not message:
                continue
            channel = message["channel"].decode()
            try:
                payload = json.loads(message["data"])
            except ValueError:
                logger.warning("ignoring a malformed notification on %s", channel)
                continue
            await self._call(channel, payload)

    async def _everyone(self, payload: Dict[str, Any]) -> None:
        """Notifications may have been lost: every socket re-reads what it missed."""
        for channel in list(self._channels):
            await self._call(channel, payload)

    def notified(self, channel: str) -> int:
        """The number of the last notification on ``channel`` this process handed out, or of when a socket
        here began listening on it (0: nobody listens); it changes with every notification and never comes back:
        what was read before it may be out of date (Bridge.shared_figures shares readings by it)."""
        listened = self._channels.get(channel)
        return listened.notified if listened else 0

    async def _call(self, channel: str, payload: Dict[str, Any]) -> None:
        listened = self._channels.get(channel)
        if not listened:
            return  # its last socket stopped listening while the notification was on its way
        listened.notified = next(self._notifications)
        # Each socket in its own task: a slow client delays only itself. Order is safe: a socket sends under
        # its lock what follows what it sent last, and news that arrive late (already sent, by message_order)
        # or after a gap are skipped or read from the transcript instead (Connection.deliver, unsent).
        for callback in list(listened.callbacks):
            task = asyncio.create_task(self._deliver(channel, callback, payload))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @staticmethod
    async def _deliver(channel: str, callback: Callback, payload: Dict[str, Any]) -> None:
        try:
            await callback(payload)
        except ConnectionClosed:
            pass  # that socket is closing; it unregisters itself
        except Exception:  # noqa: BLE001 - one broken socket must not stop the others
            logger.exception("delivery on %s failed", channel)
