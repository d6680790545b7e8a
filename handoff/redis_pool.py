"""The bridge's Redis connection pool: a burst beyond its size waits instead of failing.

redis-py's asyncio pool refuses a command at once (``MaxConnectionsError``) when all
of its connections (100 by default) are in use, which a burst of conversations
reaches; its ``BlockingConnectionPool`` waits, but pays a condition, a timeout and
its own bookkeeping on every command (a relayed message took 0.96 ms of the
bridge's CPU with it against 0.67 ms without, bench/relay.py). This pool is the
plain one on the common path and waits only when it is full.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import MaxConnectionsError

__all__ = ["WaitingConnectionPool"]


class WaitingConnectionPool(ConnectionPool):
    """``ConnectionPool`` whose ``get_connection`` waits up to ``wait_seconds`` for a
    released connection when all ``max_connections`` are in use."""

    def __init__(self, *, wait_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait_seconds = wait_seconds
        self._released = asyncio.Event()
        self._waiting = 0

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        while True:
            try:
                return await super().get_connection(*args, **kwargs)
            except MaxConnectionsError:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise
                self._waiting += 1
                try:
                    await asyncio.wait_for(self._released.wait(), remaining)
                except TimeoutError:
                    raise MaxConnectionsError(
                        f"no Redis connection free within {self.wait_seconds} s") from None
                finally:
                    self._waiting -= 1

    async def release(self, connection: AbstractConnection) -> None:
        await super().release(connection)
        if self._waiting:
            # Wakes everyone waiting now (they try again; whoever loses waits on the next event).
            released, self._released = self._released, asyncio.Event()
            released.set()
