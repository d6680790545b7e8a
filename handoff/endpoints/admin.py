"""``/metrics``, ``/ready`` and ``/health`` on a second, loopback-only port (``HANDOFF_ADMIN_PORT``).

What the queue holds, how many connections are open and whether Redis and Rasa answer is for the
operators' monitoring on the same machine, not for the internet: the public port keeps only
``/health`` (a liveness check that tells nothing). A tiny aiohttp server in the bridge's own event
loop, so that it reads the same counters the sockets update. It answers only to the allowed host
names too: a page whose name rebinds to 127.0.0.1 in a browser on that machine reads nothing.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Dict

import aiohttp
from aiohttp import web

from handoff.guard import host_name
from handoff.labels import closing_totals
from handoff.metrics import CONTENT_TYPE_LATEST, exposition
from handoff.presence import OpenSockets, redis_memory
from handoff.service import Bridge
from handoff.settings import Settings

__all__ = ["ADMIN_HOST", "start_admin_server"]

logger = logging.getLogger(__name__)
ADMIN_HOST = "127.0.0.1"  # never another interface: a deployment scrapes it on the same host (docs/security.md)


async def start_admin_server(settings: Settings, bridge: Bridge, http: aiohttp.ClientSession,
                             sockets: OpenSockets) -> web.AppRunner:
    """Started with the bridge; ``cleanup()`` the runner at shutdown."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(request: web.Request) -> web.Response:
        checks: Dict[str, str] = {}
        try:
            await bridge.store.redis.ping()
            checks["redis"] = "ok"
        except Exception:  # noqa: BLE001 - reported, not raised; the details go to the log
            logger.exception("readiness: Redis does not answer")
            checks["redis"] = "unavailable"
        try:
            async with http.get(f"{settings.rasa_url}/", timeout=aiohttp.ClientTimeout(total=2)) as reply:
                checks["rasa"] = "ok" if reply.status == 200 else f"HTTP {reply.status}"
        except Exception:  # noqa: BLE001
            logger.warning("readiness: Rasa does not answer", exc_info=True)
            checks["rasa"] = "unavailable"
        ok = all(value == "ok" for value in checks.values())
        return web.json_response({"ready": ok, "checks": checks}, status=200 if ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        now = await bridge.right_now()
        handoffs = await bridge.store.redis.hgetall(bridge.store.key("stats", "handoffs"))
        abandoned, requeues = await bridge.experience.totals()
        kept = {"connection_objects": len(sockets.in_memory), "hub_channels": bridge.hub.channels,
                "customer_conversations": len(sockets.customers)}
        closing = closing_totals(await bridge.store.redis.hgetall(bridge.store.key("stats", "closing")),
                                 await bridge.labels.items())
        outbox = ({"length": await bridge.store.redis.xlen(bridge.store.key("outbox")), "cap": bridge.store.outbox_cap}
                  if bridge.store.outbox_cap else None)
        body = exposition(now, handoffs, bridge.metrics, len(sockets.slots), requeues, abandoned,
                          await redis_memory(bridge.store.redis), kept, closing, outbox)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @web.middleware
    async def known_host(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if host_name(request.headers.get("Host")) not in settings.allowed_hosts:
            return web.json_response({"error": {"code": "unknown_host", "message": "unknown host name"}}, status=421)
        return await handler(request)

    app = web.Application(middlewares=[known_host])
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, ADMIN_HOST, settings.admin_port).start()
    return runner
