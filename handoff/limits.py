"""Caps on what one client address (and everyone together) may make the bridge keep.

Every cap is counted in Redis, so that it holds across bridge processes
(docs/security.md "Limits"):

- open websockets, per address and in all: each connection holds a slot that
  its process renews while it is open; a process that dies without closing
  its sockets leaves slots that run out within SLOT_SECONDS;
- new conversations and new queue entries, per address and in all, per window
  of WINDOW_SECONDS (fixed windows: counters that expire with their window);
- the queue's length.

The client address is the socket's peer, or, when the peer is a configured
trusted proxy, what that proxy says (handoff.trust).

Keys (``{p}`` is the store's prefix):

    {p}:slots             zset  "{address}|{connection}" -> slot expiry (ms): every open websocket
    {p}:slots:{address}   zset  the same, for one address (expires with its last slot)
    {p}:window:{what}:{address}:{n}  string  how many ``what`` (conversations, queue) in window n;
                                     address "*" counts everyone
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Dict, Sequence, Tuple

from redis.asyncio import Redis

from handoff.exceptions import LimitReached
from handoff.settings import Settings

__all__ = ["SLOT_SECONDS", "WINDOW_SECONDS", "Limits"]

WINDOW_SECONDS = 600
SLOT_SECONDS = 90
RENEW_BATCH = 1000  # sockets renewed per Redis pipeline

# KEYS[1] every slot, KEYS[2] the address's; ARGV: now, expiry, member, per-address cap, overall cap.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return -2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return 1
"""

# KEYS[1] the address's window counter, KEYS[2] everyone's, KEYS[3] a zset whose size is capped too
# (the queue; '' for none); ARGV: per-address cap, overall cap, window ms, cap of KEYS[3].
_COUNT_IN_WINDOW = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return -1 end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return -2 end
if KEYS[3] ~= '' and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return -3 end
for i = 1, 2 do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
end
return 1
"""


class Limits:
    """The caps of Settings, counted in Redis under the store's prefix."""

    def __init__(self, redis: Redis, prefix: str, settings: Settings) -> None:
        self.redis, self.prefix, self.settings = redis, prefix, settings
        self._take_slot = redis.register_script(_TAKE_SLOT)
        self._count_in_window = redis.register_script(_COUNT_IN_WINDOW)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def take_slot(self, address: str, connection: str) -> None:
        """A slot for one open websocket; LimitReached when the address or everyone has all theirs."""
        now = int(time.time() * 1000)
        taken = await self._take_slot(
            keys=[self._key("slots"), self._key("slots", address)],
            args=[now, now + SLOT_SECONDS * 1000, f"{address}|{connection}", self.settings.max_connections_per_ip,
                  self.settings.max_connections])
        if taken == -1:
            raise LimitReached(f"at most {self.settings.max_connections_per_ip} connections per address",
                               code="too_many_connections")
        if taken == -2:
            raise LimitReached("the service is at its connection limit; try again shortly", code="too_many_connections")

    async def renew_slots(self, slots: Sequence[Tuple[str, str]]) -> None:
        """Every open socket of this process keeps its slot (called well within SLOT_SECONDS).

        One ZADD per address and batch rather than three commands a socket, in batches that let
        the event loop run between them: 10,000 sockets renewed in one pipeline of 30,000 commands
        stopped every relay for a third of a second."""
        expiry = int(time.time() * 1000) + SLOT_SECONDS * 1000
        for start in range(0, len(slots), RENEW_BATCH):
            by_address: Dict[str, Dict[str, int]] = defaultdict(dict)
            for address, connection in slots[start:start + RENEW_BATCH]:
                by_address[address][f"{address}|{connection}"] = expiry
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self._key("slots"), {member: expiry for members in by_address.values()
                                               for member in members}, xx=True)
                for address, members in by_address.items():
                    pipe.zadd(self._key("slots", address), members, xx=True)
                    pipe.pexpireat(self._key("slots", address), expiry)
                await pipe.execute()

    async def release_slot(self, address: str, connection: str) -> None:
        member = f"{address}|{connection}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._key("slots"), member)
            pipe.zrem(self._key("slots", address), member)
            await pipe.execute()

    async def new_conversation(self, address: str) -> None:
        await self._count("conversations", address, self.settings.max_new_conversations_per_ip,
                          self.settings.max_new_conversations, "too_many_conversations", "new conversations")

    async def new_queue_entry(self, address: str, queue_key: str) -> None:
        await self._count("queue", address, self.settings.max_queue_entries_per_ip,
                          self.settings.max_queue_entries, "queue_full", "requests for a person", queue_key)

    async def _count(self, what: str, address: str, per_address: int, overall: int, code: str, label: str,
                     capped_set: str = "") -> None:
        window = str(int(time.time()) // WINDOW_SECONDS)
        counted = await self._count_in_window(
            keys=[self._key("window", what, address, window), self._key("window", what, "*", window), capped_set],
            args=[per_address, overall, WINDOW_SECONDS * 1000, self.settings.max_queue_length])
        minutes = WINDOW_SECONDS // 60
        if counted == -1:
            raise LimitReached(f"at most {per_address} {label} per address in {minutes} minutes", code=code)
        if counted == -2:
            raise LimitReached(f"the service takes at most {overall} {label} in {minutes} minutes; try again later",
                               code=code)
        if counted == -3:
            raise LimitReached(f"the queue is full ({self.settings.max_queue_length} waiting); try again later or "
                               "leave a message", code=code)
