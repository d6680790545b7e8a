"""The Store's foundation (handoff.store): its Redis client, settings, keys and channels, and the Lua every
script may start with (Redis's time; the archive's outbox)."""

from __future__ import annotations

import json
from typing import Any, Dict

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

__all__ = ["LUA_NOW_MS", "STREAM_CAP", "StoreBase"]

# Ratings and left requests kept (the newest); older ones are for an export, not Redis.
STREAM_CAP = 100_000

# Routing leases' and offers' times are Redis's own (TIME), so bridge hosts whose clocks differ agree on
# when a lease or an offer runs out: Lua that sets ``now`` (ms), for the scripts that start with it.
LUA_NOW_MS = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

# The outbox (``{p}:outbox``, archive/): every fact a script stores is appended to it by that script, in
# the same step, for the archiver to copy to PostgreSQL (archive/facts.py reads the entries). Scripts that
# write facts are registered with Store.script, which puts ``outbox_cap`` (0: no archive, no outbox) first.
_OUTBOX = """
local function to_outbox(outbox, ...)
  if outbox_cap > 0 then redis.call('XADD', outbox, 'MAXLEN', '~', outbox_cap, '*', ...) end
end
-- What a step added to the day's counters (the key "{p}:day:{date}", each name 1), for the reports.
local function tally_to_outbox(outbox, day_key, names)
  if outbox_cap == 0 or #names == 0 then return end
  local counts = {}
  for _, name in ipairs(names) do counts[name] = (counts[name] or 0) + 1 end
  to_outbox(outbox, 'fact', 'tally', 'day', string.sub(day_key, -10), 'counts', cjson.encode(counts))
end
"""


class StoreBase:
    """What every part of the Store shares: its Redis client and settings, its keys and channels, its
    scripts' registration and the outbox. Each part registers its own scripts at their first use (a cached
    property: redis-py's Script object costs no round trip until it runs)."""

    def __init__(self, redis: Redis, prefix: str, finished_ttl_seconds: int = 7 * 24 * 3600,
                 idle_seconds: int = 300, max_messages: int = 1000, max_queue: int = 500, outbox_cap: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = finished_ttl_seconds * 1000
        # A conversation costs little until it is used: kept idle_seconds, then (first message,
        # first state change) the retention ttl_ms; a customer's message beyond max_messages is refused.
        self.idle_ms = idle_seconds * 1000
        self.max_messages = max_messages
        self.max_queue = max_queue  # queued at once: checked by the commit that queues (handoff.limits checks first)
        # The outbox's length cap (entries beyond it, oldest first, are dropped unarchived); 0: no outbox (no archive).
        self.outbox_cap = outbox_cap

    def script(self, lua: str) -> Any:
        """A Lua script that may write facts to the outbox (``to_outbox``, _OUTBOX), registered."""
        return self.redis.register_script(f"local outbox_cap = {int(self.outbox_cap)}\n" + _OUTBOX + lua)

    def key(self, kind: str, conversation_id: str = "") -> str:
        return f"{self.prefix}:{kind}:{conversation_id}" if conversation_id else f"{self.prefix}:{kind}"

    def live_channel(self, conversation_id: str) -> str:
        return self.key("live", conversation_id)

    @property
    def queue_channel(self) -> str:
        return self.key("queue-events")

    @property
    def said_channel(self) -> str:
        """What queued customers write and how their conversations are labelled, for the agents' queue cards
        only (no customer's socket listens)."""
        return self.key("queue-said")

    @property
    def stats_channel(self) -> str:
        return self.key("stats-events")

    def to_outbox(self, pipe: Pipeline, fields: Dict[str, str]) -> None:
        """A fact in a transaction that stores it (the scripts' ``to_outbox``); nothing without an archive."""
        if self.outbox_cap > 0:
            pipe.xadd(self.key("outbox"), fields, maxlen=self.outbox_cap, approximate=True)

    async def publish(self, channel: str, payload: Dict[str, Any]) -> None:
        await self.redis.publish(channel, json.dumps(payload))
