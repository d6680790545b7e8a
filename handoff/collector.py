"""Full garbage collections once many sockets have gone, so that a closed socket's memory is freed.

A socket's objects (Sanic's protocol and request, the websocket and its tasks, locks and
buffers, the bridge's Connection) refer to one another, so reference counting never frees them:
a closed socket's objects (some 60) wait for the cyclic collector. A socket lives long enough for
them to reach the oldest generation, which only a full collection looks at, and the bridge makes
full collections rare on purpose (handoff.__main__.GC_THRESHOLDS: with Python's defaults they
stopped the event loop for seconds, every few seconds, at 10,000 sockets). So closed sockets
piled up: 1,000 customers connecting and leaving left 60,000 objects behind each time, freed
only by the next full collection whenever it came (bench.scale: RSS 426 MB after the first of
eight rounds of 10,000, 805 MB after the eighth).

Here a full collection is due once as many sockets have ended (closed, or refused a slot) since
the last one as are open now, and at least ``min_ended``: the garbage of closed sockets never
outgrows what the open ones hold, and each collection, whose cost grows with every object
tracked (open sockets' and garbage), is paid for by as many closed sockets, a constant cost per
socket. It runs once Sanic has let go of those sockets (``held_seconds``): after a mass
departure, when the loop has little else to do; with many sockets open it stops the loop as
long as a full collection of them takes (docs/benchmarks.md, "RSS after churn (issue 15)").
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, Counter

from handoff.presence import OpenSockets

__all__ = ["CHECK_SECONDS", "CollectionPolicy", "collect_after_churn", "held_seconds"]

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often the counts are compared (two integers: nearly free)
SLOW_SECONDS = 0.5  # a collection that held the event loop this long is logged as a warning
SANIC_WEBSOCKET_CLOSE_TIMEOUT = 10.0  # sanic.server.protocols.websocket_protocol: not configurable


def held_seconds(config: Any) -> float:
    """How long after a socket closes Sanic may still refer to its objects (``config``: the app's):
    a timer aborts the transport the websocket close timeout after the close, and the timeout check
    of the upgrade request runs half Sanic's shortest HTTP timeout after the connection opened
    (30 s by default). Collected earlier, they would survive the collection and wait for the next."""
    check = min(config.KEEP_ALIVE_TIMEOUT, config.REQUEST_TIMEOUT, config.RESPONSE_TIMEOUT) / 2
    return max(SANIC_WEBSOCKET_CLOSE_TIMEOUT, check) + CHECK_SECONDS


class CollectionPolicy:
    """When a full collection is due, from how many sockets have ended and how many are open."""

    def __init__(self, min_ended: int) -> None:
        self.min_ended = min_ended
        self._ended_at_last = 0

    def due(self, ended: int, open_now: int) -> bool:
        """``ended``: sockets ended since the process started; ``open_now``: open at the moment."""
        return ended - self._ended_at_last >= max(self.min_ended, open_now)

    def collected(self, ended: int) -> None:
        self._ended_at_last = ended


async def collect_after_churn(sockets: OpenSockets, policy: CollectionPolicy, metrics: Counter[str],
                              settle_seconds: float) -> None:
    """Runs for the process's life: a full collection ``settle_seconds`` (``held_seconds``) after
    ``policy`` says one is due; the sockets that end meanwhile count towards the next."""
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        ended = sockets.ended
        if not policy.due(ended, len(sockets.slots)):
            continue
        policy.collected(ended)
        await asyncio.sleep(settle_seconds)
        started = time.perf_counter()
        freed = gc.collect()
        seconds = time.perf_counter() - started
        metrics["garbage_collections"] += 1
        # The event loop stood still meanwhile: worth a warning when every socket felt it.
        logger.log(logging.WARNING if seconds >= SLOW_SECONDS else logging.INFO,
                   "full garbage collection (%d sockets ended so far, %d open): %d objects freed in %.2f s",
                   ended, len(sockets.slots), freed, seconds)
