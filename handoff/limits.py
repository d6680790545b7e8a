"""Caps on what one client address (and everyone together) may make the bridge keep.

Every cap is counted in Redis, so that it holds across bridge processes
(docs/security.md "Limits"):

- open websockets, per address and in all: each connection holds a slot that
  its process renews while it is open; a process that dies without closing
  its sockets leaves slots that run out within SLOT_SECONDS. Staff sockets
  (logged in) have slots and caps of their own, so that anonymous sockets
  cannot lock the staff at an address (or everywhere) out;
- new conversations and new queue entries, per address and in all, and callback and
  message requests per address, per window of WINDOW_SECONDS (fixed windows: counters
  that expire with their window);
- the queue's length.

The client address is the socket's peer, or, when the peer is a configured
trusted proxy, what that proxy says (handoff.trust); an IPv6 client is counted
by its network, a /HANDOFF_IPV6_PREFIX (handoff.trust.address_group).

Keys (``{p}`` is the store's prefix):

    {p}:{sockets}            zset  "{address}|{connection}" -> slot expiry (ms): every open websocket
                                   of the kind, {sockets} "slots" (customers) or "staff-slots"
    {p}:{sockets}:{address}  zset  the same, for one address (expires with its last slot)
    {p}:window:{what}:{address}:{n}  string  how many ``what`` (conversations, queue, requests, uploads) in window n;
                                     address "*" counts everyone; for uploads also per sender
                                     ("conv-{id}", "agent-{name}": count_pair)
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Dict, Optional, Sequence, Tuple

from redis.asyncio import Redis

from handoff.exceptions import LimitReached
from handoff.settings import Settings
from handoff.trust import address_group

__all__ = ["SLOT_SECONDS", "WINDOW_SECONDS", "Limits", "SlotHolder"]

WINDOW_SECONDS = 600
SLOT_SECONDS = 90
RENEW_BATCH = 1000  # sockets renewed per Redis pipeline

# Whose slot: which kind of sockets ("slots" or "staff-slots") and the address (group) counted.
SlotHolder = Tuple[str, str]

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

# KEYS[1] the address's window counter, KEYS[2] everyone's ('' for no cap on everyone), KEYS[3] a zset whose
# size is capped too (the queue; '' for none); ARGV: per-address cap, overall cap, window ms, cap of KEYS[3].
_COUNT_IN_WINDOW = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return -1 end
if KEYS[2] ~= '' and tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return -2 end
if KEYS[3] ~= '' and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return -3 end
for i = 1, 2 do
  if KEYS[i] ~= '' and redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
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

    def group(self, address: str) -> str:
        """What the per-address caps count: an IPv6 client's network, an IPv4 address."""
        return address_group(address, self.settings.ipv6_prefix)

    async def take_slot(self, address: str, connection: str, staff: bool = False) -> SlotHolder:
        """A slot for one open websocket (a staff member's or anyone's); LimitReached when the
        address or everyone has all theirs. The holder is what renew_slots and release_slot take."""
        holder = ("staff-slots" if staff else "slots", self.group(address))
        per_address = self.settings.max_staff_connections_per_ip if staff else self.settings.max_connections_per_ip
        now = int(time.time() * 1000)
        taken = await self._take_slot(
            keys=[self._key(holder[0]), self._key(*holder)],
            args=[now, now + SLOT_SECONDS * 1000, f"{holder[1]}|{connection}", per_address,
                  self.settings.max_connections])
        if taken == -1:
            raise LimitReached(f"at most {per_address} connections per address", code="too_many_connections")
        if taken == -2:
            raise LimitReached("the service is at its connection limit; try again shortly", code="too_many_connections")
        return holder

    async def renew_slots(self, slots: Sequence[Tuple[SlotHolder, str]]) -> None:
        """Every open socket of this process keeps its slot (called well within SLOT_SECONDS).

        One ZADD per address and batch rather than three commands a socket, in batches that let
        the event loop run between them: 10,000 sockets renewed in one pipeline of 30,000 commands
        stopped every relay for a third of a second."""
        expiry = int(time.time() * 1000) + SLOT_SECONDS * 1000
        for start in range(0, len(slots), RENEW_BATCH):
            by_holder: Dict[SlotHolder, Dict[str, int]] = defaultdict(dict)
            for holder, connection in slots[start:start + RENEW_BATCH]:
                by_holder[holder][f"{holder[1]}|{connection}"] = expiry
            async with self.redis.pipeline(transaction=False) as pipe:
                for sockets in {sockets for sockets, _ in by_holder}:
                    pipe.zadd(self._key(sockets), {member: expiry for holder, members in by_holder.items()
                                                   if holder[0] == sockets for member in members}, xx=True)
                for holder, members in by_holder.items():
                    pipe.zadd(self._key(*holder), members, xx=True)
                    pipe.pexpireat(self._key(*holder), expiry)
                await pipe.execute()

    async def release_slot(self, holder: SlotHolder, connection: str) -> None:
        member = f"{holder[1]}|{connection}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._key(holder[0]), member)
            pipe.zrem(self._key(*holder), member)
            await pipe.execute()

    async def new_conversation(self, address: str) -> None:
        await self._count("conversations", address, self.settings.max_new_conversations_per_ip,
                          self.settings.max_new_conversations, "too_many_conversations", "new conversations")

    async def new_queue_entry(self, address: str, queue_key: str, urgent: bool = False) -> None:
        """``urgent``: a customer in distress, counted apart with an allowance as large, so that one behind a
        shared address (an office, a mobile carrier) whose others used it up is still taken; a flood that
        claims distress gets twice the caps at most, and never past the queue's length."""
        await self._count("queue-urgent" if urgent else "queue", address, self.settings.max_queue_entries_per_ip,
                          self.settings.max_queue_entries, "queue_full", "requests for a person", queue_key)

    async def new_request(self, address: str) -> None:
        """One more callback or message request from this address: each new chat may leave one, so without
        this one address could fill the agents' list (per address only: a flood from many is the
        conversations' caps')."""
        await self._count("requests", address, self.settings.max_requests_per_ip, None, "request_limit_address",
                          "callback or message requests")

    async def count_pair(self, what: str, sender: str, address: str, per_sender: int, per_address: int,
                         code: str) -> None:
        """One more ``what`` (e.g. uploads) in this window for a sender (a conversation, an agent) and for its
        client address; LimitReached with ``code`` past either cap."""
        window = str(int(time.time()) // WINDOW_SECONDS)
        counted = await self._count_in_window(
            keys=[self._key("window", what, sender, window), self._key("window", what, self.group(address), window), ""],
            args=[per_sender, per_address, WINDOW_SECONDS * 1000, 0])
        minutes = WINDOW_SECONDS // 60
        ends_ms = (int(window) + 1) * WINDOW_SECONDS * 1000  # the fixed window's end: counted afresh from then
        if counted == -1:
            raise LimitReached(f"at most {per_sender} in {minutes} minutes from one sender", code=code,
                               retry_at_ms=ends_ms)
        if counted == -2:
            raise LimitReached(f"at most {per_address} in {minutes} minutes from one address", code=code,
                               retry_at_ms=ends_ms)

    async def _count(self, what: str, address: str, per_address: int, overall: Optional[int], code: str, label: str,
                     capped_set: str = "") -> None:
        """``overall`` None: no cap on everyone together."""
        window = str(int(time.time()) // WINDOW_SECONDS)
        everyone = "" if overall is None else self._key("window", what, "*", window)
        counted = await self._count_in_window(
            keys=[self._key("window", what, self.group(address), window), everyone, capped_set],
            args=[per_address, overall or 0, WINDOW_SECONDS * 1000, self.settings.max_queue_length])
        minutes = WINDOW_SECONDS // 60
        ends_ms = (int(window) + 1) * WINDOW_SECONDS * 1000  # the fixed window's end: counted afresh from then
        if counted == -1:
            raise LimitReached(f"at most {per_address} {label} per address in {minutes} minutes", code=code,
                               retry_at_ms=ends_ms)
        if counted == -2:
            raise LimitReached(f"the service takes at most {overall} {label} in {minutes} minutes; try again later",
                               code=code, retry_at_ms=ends_ms)
        if counted == -3:
            raise LimitReached(f"the queue is full ({self.settings.max_queue_length} waiting); try again later or "
                               "leave a message", code=code)
