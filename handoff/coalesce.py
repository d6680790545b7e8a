"""A burst of notifications becomes one refresh; time alone brings one too.

A socket hears of changes (the queue, the day's counters, the teaching worker's news) one
notification at a time, and what it sends is worked out again from Redis. :class:`Coalesced` runs
that refresh once per burst and never two at once: a notification while a refresh is due is
covered by it; one that comes while a refresh runs brings one more after it, since what the
running one read may be older than the change. Some of what a socket shows changes with time
even when nothing is announced (a queued customer's wait, the dashboard's ages):
:class:`Periodic` works it out again once an interval has passed since it was last worked out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Optional

from websockets.exceptions import ConnectionClosed

__all__ = ["Coalesced", "Periodic"]

logger = logging.getLogger(__name__)


class Coalesced:
    """Calls ``refresh`` ``delay`` seconds after a :meth:`poke` (at the next turn of the loop with
    none), in a task of its own; ``what`` names it in the log when it fails."""

    def __init__(self, refresh: Callable[[], Awaitable[None]], what: str, delay: float = 0.0) -> None:
        self._refresh, self._what, self._delay = refresh, what, delay
        self._due = False  # a refresh will run that has not started yet
        self._task: Optional["asyncio.Task[None]"] = None

    def poke(self) -> None:
        """Something changed: a refresh follows, unless one that has not started yet is due already."""
        if self._due:
            return
        self._due = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._due:
            await asyncio.sleep(self._delay)
            self._due = False  # a change from now on needs another look
            try:
                await self._refresh()
            except ConnectionClosed:
                self._due = False
                return  # the socket is closing; it cancels what it started
            except Exception:  # noqa: BLE001 - a Redis blip: the next change (or the socket's own timer) tries again
                logger.exception("%s failed", self._what)

    def cancel(self) -> None:
        self._due = False
        if self._task:
            self._task.cancel()


class Periodic:
    """Calls ``refresh`` once ``interval`` seconds have passed since it last ran or since :meth:`done`, in a
    task of its own, until ``refresh`` returns False, the socket closes or :meth:`stop`; a failure is logged
    (``what`` names it) and tried again an interval later."""

    def __init__(self, refresh: Callable[[], Awaitable[bool]], interval: float, what: str) -> None:
        self._refresh, self._interval, self._what = refresh, interval, what
        self._at = time.monotonic()  # when it was last worked out
        self._task: Optional["asyncio.Task[None]"] = None

    def done(self) -> None:
        """Worked out just now by other means (a change was announced): the next refresh is an interval away."""
        self._at = time.monotonic()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        """Called from its own ``refresh``, it does nothing: ``refresh`` says by its answer whether to go on."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self._at + self._interval - time.monotonic()))
            if time.monotonic() - self._at < self._interval:
                continue  # worked out meanwhile
            try:
                going_on = await self._refresh()
            except ConnectionClosed:
                return
            except Exception:  # noqa: BLE001 - a Redis blip: the next round tries again
                logger.exception("%s failed", self._what)
                going_on = True
            self._at = time.monotonic()
            if not going_on:
                return
