"""A burst of notifications becomes one refresh.

A socket hears of changes (the queue, the day's counters, the teaching worker's news) one
notification at a time, and what it sends is worked out again from Redis. :class:`Coalesced` runs
that refresh once per burst and never two at once: a notification while a refresh is due is
covered by it; one that comes while a refresh runs brings one more after it, since what the
running one read may be older than the change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional

from websockets.exceptions import ConnectionClosed

__all__ = ["Coalesced"]

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
