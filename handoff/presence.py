"""What this process keeps alive in Redis while its sockets are open, and what it sweeps.

- customer presence: every conversation with an open customer socket (in any
  process) is "seen" now and again; a queued customer not seen for
  HANDOFF_CUSTOMER_GONE_SECONDS has gone, leaves the queue (counted as
  abandoned, way ``gone``: handoff.experience) and is told so on return;
- connection slots (handoff.limits): renewed while their sockets are open;
- Redis memory: a warning in the log above HANDOFF_REDIS_MEMORY_WARNING of
  ``maxmemory`` (/metrics shows both numbers).

Keys (``{p}`` is the store's prefix):

    {p}:customers-seen  zset  conversation id -> when a socket of its customer was last open (ms)
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Dict, List, Set, Tuple

from redis.asyncio import Redis

from handoff.customer_presence import CustomerPresenceBoard
from handoff.limits import SLOT_SECONDS, Limits, SlotHolder

__all__ = ["CustomerPresence", "OpenSockets", "redis_memory"]

logger = logging.getLogger(__name__)

# Redis memory is checked (and a warning logged, if high) at most this often.
MEMORY_CHECK_SECONDS = 60.0
SEEN_BATCH = 1000  # customers marked seen per ZADD


class CustomerPresence:
    """When each customer was last connected, shared by every bridge process."""

    def __init__(self, redis: Redis, prefix: str, gone_seconds: int) -> None:
        self.redis = redis
        self.key = f"{prefix}:customers-seen"
        self.gone_ms = gone_seconds * 1000

    @property
    def refresh_seconds(self) -> float:
        """How often an open socket says it is there: several times within the time to be gone."""
        return min(10.0, self.gone_ms / 3000)

    async def seen(self, conversation_ids: List[str]) -> None:
        """In batches, so that neither this event loop nor Redis stops long for thousands of customers."""
        now = int(time.time() * 1000)
        for start in range(0, len(conversation_ids), SEEN_BATCH):
            await self.redis.zadd(self.key, {conversation_id: now
                                             for conversation_id in conversation_ids[start:start + SEEN_BATCH]})

    async def gone(self, queue: List[Tuple[str, float]]) -> List[str]:
        """The queued conversations whose customer has not been connected for the time to be gone.
        Not seen at all (or forgotten): counted from when it was queued."""
        now = int(time.time() * 1000)
        # What is older than twice the time to be gone is of no more use (its queued_at is older still).
        await self.redis.zremrangebyscore(self.key, 0, now - 2 * self.gone_ms)
        if not queue:
            return []
        seen = await self.redis.zmscore(self.key, [conversation_id for conversation_id, _ in queue])
        return [conversation_id for (conversation_id, queued_at), last in zip(queue, seen)
                if now - max(queued_at, last or 0) > self.gone_ms]


class OpenSockets:
    """This process's open sockets: their slots (handoff.limits) and their customers' conversations, kept
    seen and counted (handoff.customer_presence) while open; how many have closed, and which of their
    objects are still in memory (handoff.collector)."""

    def __init__(self, limits: Limits, presence: CustomerPresence, board: CustomerPresenceBoard) -> None:
        self.limits, self.presence, self.board = limits, presence, board
        self.slots: Dict[str, SlotHolder] = {}  # connection id -> whose slot (handoff.limits)
        self.customer_sockets: Dict[str, str] = {}  # an open customer socket's id -> its conversation
        self.ended = 0  # sockets closed or refused a slot since the process started
        # Each socket's own object (handoff.connections.base.Connection), open or closed, until it is freed.
        self.in_memory: "weakref.WeakSet[object]" = weakref.WeakSet()

    @property
    def refresh_seconds(self) -> float:
        return min(SLOT_SECONDS / 3, self.presence.refresh_seconds)

    async def opened(self, connection: str, address: str, owner: object, staff: bool = False) -> None:
        """Takes a slot, a staff member's or anyone's (LimitReached when there is none); ``owner`` is
        the socket's object, followed until it is freed."""
        self.in_memory.add(owner)
        try:
            self.slots[connection] = await self.limits.take_slot(address, connection, staff)
        except BaseException:
            self.ended += 1  # refused: its objects are as much garbage as a closed socket's
            raise

    async def closed(self, connection: str) -> None:
        self.ended += 1
        holder = self.slots.pop(connection, None)
        if holder is not None:
            await self.limits.release_slot(holder, connection)

    @property
    def customers(self) -> Set[str]:
        """The conversations with a customer socket open in this process."""
        return set(self.customer_sockets.values())

    async def customer_joined(self, conversation_id: str, socket: str) -> None:
        self.customer_sockets[socket] = conversation_id
        await self.presence.seen([conversation_id])

    async def customer_left(self, socket: str) -> None:
        conversation_id = self.customer_sockets.pop(socket, None)
        if conversation_id is not None:
            await self.presence.seen([conversation_id])  # gone from now

    async def refresh(self, now_ms: int) -> None:
        """``now_ms``: the bridge's clock, which the presence scripts count in."""
        await self.limits.renew_slots([(holder, connection) for connection, holder in self.slots.items()])
        await self.presence.seen(list(self.customers))
        await self.board.renew(list(self.customer_sockets.items()), now_ms)


async def redis_memory(redis: Redis) -> Dict[str, int]:
    """Redis's used memory and its limit (``maxmemory``; 0: none), in bytes."""
    info = await redis.info("memory")
    return {"used": int(info.get("used_memory", 0)), "limit": int(info.get("maxmemory", 0))}
