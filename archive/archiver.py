"""The archiver: the bridge's outbox (a Redis stream) into PostgreSQL, a batch per transaction.

Several may run: they share one consumer group, ``archive``, so each entry goes to one of them.
An entry is acknowledged (XACK) only after the transaction that wrote its rows committed; one read
but not acknowledged by an archiver that died is claimed by another after ``claim_idle_ms``
(XAUTOCLAIM), and one written twice leaves the same rows (archive.writer). While PostgreSQL is down
the archiver retries with backoff and the outbox grows (capped by the bridge; its length is on the
bridge's /metrics). The stream is trimmed below what every consumer group has acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import psycopg
from psycopg import AsyncConnection
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError, ResponseError, TimeoutError as RedisTimeoutError

from archive.facts import Batch, Rejected
from archive.forget import archive_entries, audit, sweep
from archive.migrate import migrate
from archive.writer import write

__all__ = ["GROUP", "Archiver", "outbox_key", "trim_bound"]

log = logging.getLogger("archive")

GROUP = "archive"
# A consumer (an archiver process) idle this long with nothing pending is gone: it leaves the group.
GONE_AFTER_MS = 3600 * 1000
Entry = Tuple[str, Dict[str, str]]


def outbox_key(prefix: str) -> str:
    return f"{prefix}:outbox"


def _next_id(stream_id: str) -> str:
    milliseconds, _, sequence = stream_id.partition("-")
    return f"{milliseconds}-{int(sequence or 0) + 1}"


def trim_bound(groups: Sequence[Tuple[int, str, Optional[str]]]) -> Optional[str]:
    """The lowest id every group may still need, from each group's (pending count, last delivered id,
    lowest pending id): entries below it are acknowledged by all. None: no group (keep everything)."""
    bounds = [lowest if pending and lowest else _next_id(delivered) for pending, delivered, lowest in groups]
    if not bounds:
        return None
    return min(bounds, key=lambda stream_id: tuple(int(part) for part in stream_id.split("-")))


def _decoded(entries: Sequence[Tuple[Any, Any]]) -> Tuple[List[Entry], List[str]]:
    """Entries as text, and the ids of those whose fields are gone (trimmed by the outbox's cap)."""
    kept, gone = [], []
    for entry_id, fields in entries:
        name = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        if not fields:
            gone.append(name)
        else:
            kept.append((name, {key.decode(): value.decode("utf-8", "replace") for key, value in fields.items()}))
    return kept, gone


class Archiver:
    """One archiver process's loop around one Redis client and one PostgreSQL connection."""

    def __init__(self, redis: Redis, database_url: str, prefix: str, consumer: str = "", batch_size: int = 500,
                 claim_idle_ms: int = 30_000, block_ms: int = 1_000, trim_every_seconds: float = 5.0,
                 linger_ms: int = 100, retention_days: int = 0, sweep_every_seconds: float = 3600.0) -> None:
        self.redis, self.database_url, self.outbox = redis, database_url, outbox_key(prefix)
        self.prefix = prefix
        # Conversations whose last message is older than this are deleted (0: kept until forgotten).
        self.retention_days, self.sweep_every_seconds = retention_days, sweep_every_seconds
        self._next_sweep = 0.0
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch_size, self.claim_idle_ms, self.block_ms = batch_size, claim_idle_ms, block_ms
        self.trim_every_seconds = trim_every_seconds
        # After the first new entries, what else comes within linger_ms joins their batch: fewer, larger
        # transactions cost PostgreSQL and this process less CPU (on the bridge's cores) for that much lag.
        self.linger_ms = linger_ms
        self.connection: Optional[AsyncConnection[Any]] = None
        self.archived = 0  # entries written by this process
        self._own_pending = True  # read what this consumer was given before (a restart) first
        self._next_claim = 0.0
        self._next_trim = 0.0

    async def start(self, stop: asyncio.Event) -> None:
        """The consumer group (from the outbox's start: what the bridge wrote before any archiver ran is
        archived too) and the schema, migrated."""
        try:
            await self.redis.xgroup_create(self.outbox, GROUP, id="0", mkstream=True)
        except ResponseError:
            if not any(group["name"].decode() == GROUP for group in await self.redis.xinfo_groups(self.outbox)):
                raise
        connection = await self._connected(stop)
        if connection is not None:
            applied = await migrate(connection)
            if applied:
                log.info("archive schema: applied %s", ", ".join(applied))

    async def run(self, stop: asyncio.Event) -> None:
        await self.start(stop)
        log.info("archiver ready: %s as %s", self.outbox, self.consumer)
        delay = 0.2
        while not stop.is_set():
            try:
                entries = await self._next_entries()
                if entries:
                    await self._archive(entries, stop)
                if time.monotonic() >= self._next_trim:
                    self._next_trim = time.monotonic() + self.trim_every_seconds
                    await self.trim()
                if self.retention_days and time.monotonic() >= self._next_sweep:
                    self._next_sweep = time.monotonic() + self.sweep_every_seconds
                    await self.sweep(stop)
                delay = 0.2
            except (RedisConnectionError, RedisTimeoutError) as error:  # Redis restarting: the entries wait there
                log.warning("Redis unreachable (%s); trying again in %.1f s", error, delay)
                self._own_pending = True  # what this archiver read and did not acknowledge, first
                if await self._sleep(stop, delay):
                    break
                delay = min(delay * 2, 10.0)
        if self.connection is not None:
            await self.connection.close()

    async def _next_entries(self) -> List[Entry]:
        if time.monotonic() >= self._next_claim:  # a dead archiver's entries, read but never acknowledged
            self._next_claim = time.monotonic() + self.claim_idle_ms / 2000
            _, claimed, _ = await self.redis.xautoclaim(self.outbox, GROUP, self.consumer, self.claim_idle_ms,
                                                        "0-0", count=self.batch_size)
            if claimed:
                return await self._readable(claimed)
        if self._own_pending:  # given to this consumer before and not acknowledged (a write that failed)
            replies = await self.redis.xreadgroup(GROUP, self.consumer, {self.outbox: "0"}, count=self.batch_size)
            if replies and replies[0][1]:
                return await self._readable(replies[0][1])
            self._own_pending = False
        replies = await self.redis.xreadgroup(GROUP, self.consumer, {self.outbox: ">"}, count=self.batch_size,
                                              block=self.block_ms)
        entries = list(replies[0][1]) if replies else []
        if entries and len(entries) < self.batch_size and self.linger_ms:
            await asyncio.sleep(self.linger_ms / 1000)
            more = await self.redis.xreadgroup(GROUP, self.consumer, {self.outbox: ">"},
                                               count=self.batch_size - len(entries))
            entries += more[0][1] if more else []
        return await self._readable(entries)

    async def _readable(self, entries: Sequence[Tuple[Any, Any]]) -> List[Entry]:
        kept, gone = _decoded(entries)
        if gone:  # dropped by the outbox's cap before any archiver read them
            log.warning("outbox entries gone before they were archived (the outbox's cap): %s", ", ".join(gone))
            await self.redis.xack(self.outbox, GROUP, *gone)
        return kept

    async def _connected(self, stop: asyncio.Event) -> Optional[AsyncConnection[Any]]:
        """The PostgreSQL connection, made again with backoff while PostgreSQL is away (None: stopped)."""
        delay = 0.2
        while self.connection is None or self.connection.closed:
            try:
                self.connection = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True,
                                                                        connect_timeout=5)
            except psycopg.OperationalError as error:
                log.warning("PostgreSQL unreachable (%s); trying again in %.1f s", str(error).strip(), delay)
                if await self._sleep(stop, delay):
                    return None
                delay = min(delay * 2, 10.0)
        return self.connection

    async def sweep(self, stop: asyncio.Event) -> Optional[Dict[str, int]]:
        """The archive's retention (archive.forget.sweep), audited; None: PostgreSQL away or another
        archiver sweeping."""
        connection = await self._connected(stop)
        if connection is None:
            return None
        try:
            counts = await sweep(connection, self.retention_days)
        except psycopg.OperationalError as error:
            log.warning("retention sweep failed (%s); next time", str(error).strip())
            await connection.close()
            return None
        if counts is not None:
            await audit(self.redis, self.prefix, "retention", "retention", counts)
            log.info("retention (%d days): %s", self.retention_days, counts)
        return counts

    async def _archive(self, entries: List[Entry], stop: asyncio.Event) -> None:
        """Writes the entries' rows (but those of forgotten conversations), retrying while PostgreSQL is
        down, then acknowledges them."""
        delay = 0.2
        while True:
            connection = await self._connected(stop)
            if connection is None:
                return
            try:
                try:
                    await archive_entries(connection, entries)
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as error:  # a row PostgreSQL refuses: each entry alone, bad ones kept aside
                    log.warning("a batch of %d entries refused (%s); writing them one by one", len(entries), error)
                    await self._one_by_one(connection, entries)
                break
            except psycopg.OperationalError as error:
                log.warning("archive write failed (%s); trying again in %.1f s", str(error).strip(), delay)
                await connection.close()
            if await self._sleep(stop, delay):
                return
            delay = min(delay * 2, 10.0)
        await self.redis.xack(self.outbox, GROUP, *(entry_id for entry_id, _ in entries))
        self.archived += len(entries)

    async def _one_by_one(self, connection: AsyncConnection[Any], entries: List[Entry]) -> None:
        for entry_id, fields in entries:
            try:
                await archive_entries(connection, [(entry_id, fields)])
            except psycopg.OperationalError:
                raise
            except psycopg.Error as error:
                log.error("outbox entry %s refused by PostgreSQL (%s): kept in rejected_facts", entry_id, error)
                await write(connection, Batch(rejected=[Rejected.of(entry_id, fields, f"refused: {error}")]))

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
        """Waits ``seconds``; True when told to stop meanwhile."""
        try:
            await asyncio.wait_for(stop.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    async def trim(self) -> Optional[str]:
        """Trims the outbox below what every consumer group has acknowledged; returns the bound."""
        groups = []
        for group in await self.redis.xinfo_groups(self.outbox):
            lowest = None
            if group["pending"]:
                summary = await self.redis.xpending(self.outbox, group["name"])
                lowest = summary["min"].decode() if summary["min"] else None
            groups.append((int(group["pending"]), group["last-delivered-id"].decode(), lowest))
        bound = trim_bound(groups)
        if bound is not None:
            await self.redis.xtrim(self.outbox, minid=bound)
        for consumer in await self.redis.xinfo_consumers(self.outbox, GROUP):  # archivers gone, nothing left
            if not consumer["pending"] and consumer["idle"] > GONE_AFTER_MS and consumer["name"].decode() != self.consumer:
                await self.redis.xgroup_delconsumer(self.outbox, GROUP, consumer["name"])
        return bound

