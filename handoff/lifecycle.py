"""What the bridge starts with its server and stops with it: the clients, and the background rounds.

At start-up: the Redis pool and HTTP session, the :class:`~handoff.service.Bridge`, the teaching
store, the login throttle, this process's open sockets, the loopback admin server
(handoff.endpoints.admin) and four rounds that every process runs: :func:`keep` (connection slots,
customers' presence, Redis memory), :func:`sweep` (agents gone past their grace period), :func:`assign`
(automatic assignment's offers, handoff.assignment) and the collection of closed sockets' garbage
(handoff.collector); with SMTP set up, the sender of transcripts by email (handoff.mail).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time

import aiohttp
from redis.asyncio import BlockingConnectionPool, Redis
from sanic import Sanic

from teaching.store import TeachStore
from handoff.archive_reader import ArchiveReader
from handoff.collector import CollectionPolicy, collect_after_churn, held_seconds
from handoff.endpoints.admin import start_admin_server
from handoff.guard import LoginThrottle
from handoff.presence import MEMORY_CHECK_SECONDS, OpenSockets, redis_memory
from handoff.service import Bridge
from handoff.settings import Settings

__all__ = ["assign", "keep", "start", "stop", "sweep"]

logger = logging.getLogger(__name__)


async def start(app: Sanic) -> None:
    """Redis and HTTP clients are created at start-up (in the server's event loop) and closed at shutdown."""
    settings: Settings = app.ctx.settings
    redis = Redis.from_pool(BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=settings.redis_connections, timeout=settings.redis_wait_seconds))
    app.ctx.redis = redis
    app.ctx.http = aiohttp.ClientSession()
    app.ctx.bridge = Bridge(settings, redis, app.ctx.http)
    # The archive, read-only (search, reports, older contact history; a forget's own write connection), when
    # one is configured (handoff.archive_reader).
    app.ctx.archive = (ArchiveReader(settings.database_url, settings.archive_connections,
                                     settings.archive_statement_timeout_ms, settings.forget_timeout_ms)
                       if settings.database_url else None)
    if app.ctx.archive is not None:
        app.ctx.bridge.use_archive(app.ctx.archive)
    app.ctx.teach = TeachStore(redis, settings.teach_key_prefix)
    await app.ctx.bridge.hub.start()
    await app.ctx.bridge.store.index_agents_serving()
    await app.ctx.bridge.canned.seed(app.ctx.canned)  # the file's set, the first time only (handoff.canned)
    app.ctx.sweeper = asyncio.create_task(sweep(app.ctx.bridge))
    app.ctx.assigner = asyncio.create_task(assign(app.ctx.bridge))
    app.ctx.sockets = OpenSockets(app.ctx.bridge.limits, app.ctx.bridge.customers_seen,
                                  app.ctx.bridge.customer_presence)
    app.ctx.keeper = asyncio.create_task(keep(app.ctx.bridge, app.ctx.sockets))
    app.ctx.throttle = LoginThrottle(redis, settings.key_prefix, settings.login_free_per_account,
                                     settings.login_free_per_address, settings.login_longest_hold_seconds,
                                     settings.login_window_seconds, settings.ipv6_prefix)
    # A full garbage collection once as many sockets have gone as are open (handoff.collector).
    app.ctx.collector = asyncio.create_task(collect_after_churn(
        app.ctx.sockets, CollectionPolicy(settings.collect_after_sockets), app.ctx.bridge.metrics,
        held_seconds(app.config)))
    # Transcripts by email: every process sends from the shared outbox (handoff.mail), when SMTP is set up.
    app.ctx.mailer = (asyncio.create_task(app.ctx.bridge.mail.run(f"{socket.gethostname()}-{os.getpid()}-"
                                                                   f"{secrets.token_hex(4)}"))
                      if settings.mail_enabled else None)
    app.ctx.admin = await start_admin_server(settings, app.ctx.bridge, app.ctx.http, app.ctx.sockets)


async def keep(bridge: Bridge, sockets: OpenSockets) -> None:
    """Renews this process's connection slots and customers' presence, sends away queued customers
    gone too long, marks gone the customers of a process that died (handoff.customer_presence), and warns
    when Redis nears its memory limit (handoff.presence)."""
    checked = 0.0
    while True:
        await asyncio.sleep(sockets.refresh_seconds)
        try:
            await sockets.refresh(bridge.now_ms())
            await bridge.customers_gone()
            await bridge.customers_lost()
            if time.monotonic() - checked > MEMORY_CHECK_SECONDS:
                checked = time.monotonic()
                memory = await redis_memory(bridge.store.redis)
                warning = bridge.settings.redis_memory_warning
                if memory["limit"] and memory["used"] > warning * memory["limit"]:
                    logger.warning("Redis uses %d of its %d bytes (maxmemory): over %d%%", memory["used"],
                                   memory["limit"], warning * 100)
        except Exception:  # noqa: BLE001 - a Redis blip: try again next round
            logger.exception("keeping presence and limits failed")


async def sweep(bridge: Bridge) -> None:
    """Every process checks for agents gone past their grace period: their chats back to the queue, their
    status offline (idempotent)."""
    while True:
        await asyncio.sleep(max(1.0, bridge.settings.agent_grace_seconds / 4))
        try:
            await bridge.requeue_lost_agents()
            await bridge.mark_offline_agents()
        except Exception:  # noqa: BLE001 - a Redis blip: try again next round
            logger.exception("requeueing lost agents failed")


async def assign(bridge: Bridge) -> None:
    """Automatic assignment's rounds: at once when this process changed something that may make or end an
    offer (Bridge.assign_due), and every HANDOFF_ASSIGN_ROUND_SECONDS in any case: offers run out, and
    another process (perhaps one that died) changed something, from Redis state alone."""
    while True:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(bridge.assign_due.wait(), bridge.settings.assign_round_seconds)
        bridge.assign_due.clear()
        try:
            await bridge.assign()
        except Exception:  # noqa: BLE001 - a Redis blip: try again next round
            logger.exception("an assignment round failed")
            await asyncio.sleep(bridge.settings.assign_round_seconds)


async def stop(app: Sanic) -> None:
    await app.ctx.admin.cleanup()
    for task in (app.ctx.sweeper, app.ctx.assigner, app.ctx.keeper, app.ctx.collector, app.ctx.mailer):
        if task is None:
            continue
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app.ctx.bridge.hub.stop()
    await app.ctx.http.close()
    if app.ctx.archive is not None:
        await app.ctx.archive.close()
    await app.ctx.redis.aclose()
