"""The bridge's read access to the PostgreSQL archive (docs/data-model.md): a small pool of read-only
connections per process, made at start-up when DATABASE_URL is set (handoff.lifecycle).

Every query runs in a read-only session with a statement timeout, so a costly search is cut short
instead of holding a connection; a connection that failed is dropped and a new one made next time.
Without DATABASE_URL there is no reader, and search is refused (``archive_off``, handoff.connections.search).
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Sequence

import psycopg
from psycopg.rows import dict_row

from handoff.exceptions import ArchiveUnavailable

__all__ = ["ArchiveReader", "Row"]

Row = Dict[str, Any]


class ArchiveReader:
    """At most ``size`` connections, opened when first needed; a query waits for a free one."""

    def __init__(self, url: str, size: int = 4, statement_timeout_ms: int = 3000) -> None:
        self.url = url
        self.statement_timeout_ms = statement_timeout_ms
        self._idle: "asyncio.LifoQueue[psycopg.AsyncConnection[Row]]" = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(size)
        self._open: List["psycopg.AsyncConnection[Row]"] = []

    async def _connect(self) -> "psycopg.AsyncConnection[Row]":
        options = f"-c statement_timeout={int(self.statement_timeout_ms)} -c default_transaction_read_only=on"
        connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True, row_factory=dict_row,
                                                           options=options, connect_timeout=5)
        self._open.append(connection)
        return connection

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> List[Row]:
        """The rows of one read-only query; ArchiveUnavailable when PostgreSQL cannot answer in time."""
        async with self._slots:
            try:
                try:
                    return await self._run(sql, params, reuse=True)
                except psycopg.OperationalError:
                    # An idle connection PostgreSQL closed meanwhile (a restart): once more, on a new one.
                    return await self._run(sql, params, reuse=False)
            except psycopg.errors.QueryCanceled:
                raise ArchiveUnavailable("the search took too long: narrow it (fewer results, a date range)",
                                         code="search_timeout") from None
            except psycopg.Error as error:
                raise ArchiveUnavailable(f"the archive cannot be read now ({type(error).__name__})",
                                         code="archive_unavailable") from None

    async def _run(self, sql: str, params: Sequence[Any], reuse: bool) -> List[Row]:
        connection = self._idle.get_nowait() if reuse and not self._idle.empty() else await self._connect()
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(sql, params)
                found = await cursor.fetchall()
        except psycopg.errors.QueryCanceled:
            self._idle.put_nowait(connection)  # cut short by the timeout: the session is fine
            raise
        except BaseException:  # failed, or cancelled mid-query (its socket closed): in no known state
            await self._discard(connection)
            raise
        self._idle.put_nowait(connection)
        return found

    async def _discard(self, connection: "psycopg.AsyncConnection[Row]") -> None:
        if connection in self._open:
            self._open.remove(connection)
        await connection.close()

    async def close(self) -> None:
        for connection in list(self._open):
            await self._discard(connection)

