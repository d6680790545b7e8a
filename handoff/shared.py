"""One reading of Redis per change, shared by every socket of this process that needs it.

After a queue change, every socket in this process that shows the queue hears of it at about the
same moment, and each would read the same keys. A :class:`SharedReading` hands them all one
reading: the first socket to ask starts it, and the others wait for that one, until the next
notification (``version``, Hub.notified) makes it out of date. A reading started after the latest
notification is at least as new as the change it announced, so sharing it loses nothing. A
reading that fails (Redis away) is not shared: the next socket reads again.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Hashable, Optional, Tuple, TypeVar

__all__ = ["SharedReading"]

T = TypeVar("T")


class SharedReading(Generic[T]):
    """``read`` once per ``version()``; what it returns is shared by every caller: read it, never change it.
    A version may be a tuple (the notifications of several channels, any of which makes a reading old)."""

    def __init__(self, read: Callable[[], Awaitable[T]], version: Callable[[], Hashable]) -> None:
        self._read, self._version = read, version
        self._current: Optional[Tuple[Hashable, "asyncio.Future[T]"]] = None

    async def get(self) -> T:
        version = self._version()
        if self._current is None or self._current[0] != version:
            reading = asyncio.ensure_future(self._read())
            reading.add_done_callback(self._forget_failed)
            self._current = (version, reading)
        # Shielded: a socket that goes away while waiting does not cancel the others' reading.
        return await asyncio.shield(self._current[1])

    def _forget_failed(self, reading: "asyncio.Future[T]") -> None:
        failed = reading.cancelled() or reading.exception() is not None
        if failed and self._current is not None and self._current[1] is reading:
            self._current = None
