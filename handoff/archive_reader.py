"""The bridge's access to the PostgreSQL archive (docs/data-model.md): the one place that knows how to connect
(``connect``: the URL of Settings.database_url, a connect timeout, a statement timeout, read-only or not), and
a small pool of read-only connections per process, made at start-up when DATABASE_URL is set (handoff.lifecycle).

Every query runs in a read-only session with a statement timeout, so a costly search or report is cut short
instead of holding a connection; a connection that failed is dropped and a new one made next time. A forget
writes on a connection of its own (``writing``), made the same way. Without DATABASE_URL there is no reader,
and search, reports and the archive's part of a forget are refused or skipped.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncContextManager, AsyncIterator, Awaitable, Callable, Dict, List, Sequence, Tuple, TypeVar

import psycopg
from psycopg.rows import dict_row, tuple_row

from handoff.exceptions import ArchiveUnavailable

__all__ = ["ArchiveReader", "Row", "connect", "writing"]

Row = Dict[str, Any]
T = TypeVar("T")
CONNECT_TIMEOUT_SECONDS = 5


async def connect(url: str, statement_timeout_ms: int, read_only: bool,
                  application_name: str = "bridge") -> "psycopg.AsyncConnection[Any]":
    """A connection to the archive in autocommit mode whose every statement stops after ``statement_timeout_ms``
    (0: never), and that refuses to write when ``read_only``."""
    options = f"-c statement_timeout={int(statement_timeout_ms)}"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return await psycopg.AsyncConnection.connect(url, autocommit=True, options=options,
                                                 connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                                 application_name=application_name)


@asynccontextmanager
async def writing(url: str, statement_timeout_ms: int) -> AsyncIterator["psycopg.AsyncConnection[Any]"]:
    """A connection that may write (a forget: the bridge's, or ``make forget``'s own), closed after."""
    async with await connect(url, statement_timeout_ms, read_only=False, application_name="forget") as connection:
        yield connection


class ArchiveReader:
    """At most ``size`` connections, opened when first needed; a query waits for a free one."""

    def __init__(self, url: str, size: int = 4, statement_timeout_ms: int = 3000,
                 write_timeout_ms: int = 60_000) -> None:
        self.url = url
        self.statement_timeout_ms = statement_timeout_ms
        self.write_timeout_ms = write_timeout_ms
        self._idle: "asyncio.LifoQueue[psycopg.AsyncConnection[Any]]" = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(size)
        self._open: List["psycopg.AsyncConnection[Any]"] = []

    async def _connect(self) -> "psycopg.AsyncConnection[Any]":
        connection = await connect(self.url, self.statement_timeout_ms, read_only=True)
        self._open.append(connection)
        return connection

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> List[Row]:
        """The rows of one read-only query; ArchiveUnavailable when PostgreSQL cannot answer in time."""
        async def query(connection: "psycopg.AsyncConnection[Any]") -> List[Row]:
            async with connection.cursor(row_factory=dict_row) as cursor:
                await cursor.execute(sql, params)
                return await cursor.fetchall()

        try:
            return await self._using(query)
        except psycopg.errors.QueryCanceled:
            raise ArchiveUnavailable("the search took too long: narrow it (fewer results, a date range)",
                                     code="search_timeout") from None
        except psycopg.Error as error:
            raise ArchiveUnavailable(f"the archive cannot be read now ({type(error).__name__})",
                                     code="archive_unavailable") from None

    async def rows_together(self, statements: Sequence[str], params: Dict[str, Any], timeout_ms: int,
                            work_mem: str) -> List[List[Tuple[Any, ...]]]:
        """The rows of each statement, read in one read-only transaction under its own ``timeout_ms`` and
        ``work_mem`` (a report: longer than a search may take); psycopg's errors are the caller's to word."""
        async def query(connection: "psycopg.AsyncConnection[Any]") -> List[List[Tuple[Any, ...]]]:
            async with connection.transaction():
                await connection.execute("SELECT set_config('statement_timeout', %s, true), "
                                         "set_config('work_mem', %s, true)", (str(int(timeout_ms)), work_mem))
                found = []
                for statement in statements:
                    async with connection.cursor(row_factory=tuple_row) as cursor:
                        await cursor.execute(statement, params)
                        found.append(await cursor.fetchall())
                return found

        return await self._using(query)

    async def _using(self, work: Callable[["psycopg.AsyncConnection[Any]"], Awaitable[T]]) -> T:
        """``work`` done on one of the pool's connections; psycopg's errors pass through."""
        async with self._slots:
            try:
                return await self._run(work, reuse=True)
            except psycopg.errors.QueryCanceled:
                raise
            except psycopg.OperationalError:
                # An idle connection PostgreSQL closed meanwhile (a restart): once more, on a new one.
                return await self._run(work, reuse=False)

    async def _run(self, work: Callable[["psycopg.AsyncConnection[Any]"], Awaitable[T]], reuse: bool) -> T:
        connection = self._idle.get_nowait() if reuse and not self._idle.empty() else await self._connect()
        try:
            done = await work(connection)
        except psycopg.errors.QueryCanceled:
            self._idle.put_nowait(connection)  # cut short by the timeout: the session is fine
            raise
        except BaseException:  # failed, or cancelled mid-query (its socket closed): in no known state
            await self._discard(connection)
            raise
        self._idle.put_nowait(connection)
        return done

    def writing(self) -> AsyncContextManager["psycopg.AsyncConnection[Any]"]:
        """A connection that may write (a forget), outside the pool, under ``write_timeout_ms``."""
        return writing(self.url, self.write_timeout_ms)

    async def _discard(self, connection: "psycopg.AsyncConnection[Any]") -> None:
        if connection in self._open:
            self._open.remove(connection)
        await connection.close()

    async def close(self) -> None:
        for connection in list(self._open):
            await self._discard(connection)
