"""Routing leases (handoff.store: ``routed:{stream id}`` in ``{p}:idem:{id}``): who routes a stored customer
message, to the bot or to the person serving, and that it was routed."""

from __future__ import annotations

import enum
from functools import cached_property
from typing import Any

from handoff.store_base import LUA_NOW_MS, StoreBase

__all__ = ["Routing", "RoutingStore"]

# Routing leases (KEYS[1]: the idempotency hash; ARGV: field, owner, lease ms).
_LEASE_NOW = LUA_NOW_MS + """
local value = redis.call('HGET', KEYS[1], ARGV[1])
"""

# Returns 1 taken, 2 taken over from a holder whose lease ran out, 0 routed already (or the conversation is
# gone: its idempotency hash, which every stored message is in, erased by a forget or expired), -1 held.
_TAKE_ROUTING = _LEASE_NOW + """
if value == 'done' or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local taken = 1
if value then
  local expiry = tonumber(string.match(value, '^lease:(%d+):'))
  if expiry and expiry > now then return -1 end
  taken = 2
end
redis.call('HSET', KEYS[1], ARGV[1], 'lease:' .. (now + tonumber(ARGV[3])) .. ':' .. ARGV[2])
return taken
"""

# Extends (ARGV[3] > 0) or gives back (ARGV[3] = 0) the caller's own lease; 0 when it is not theirs.
_KEEP_ROUTING = _LEASE_NOW + """
if not value or string.match(value, '^lease:%d+:(.*)$') ~= ARGV[2] then return 0 end
if tonumber(ARGV[3]) == 0 then return redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], 'lease:' .. (now + tonumber(ARGV[3])) .. ':' .. ARGV[2])
return 1
"""

# Marks a message routed in its conversation's idempotency hash, only while that hash exists.
_ROUTED = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], 'done') end
"""


class Routing(enum.Enum):
    """Who routes a stored customer message (to the bot, or to the person serving)."""

    TAKEN = 1  # this caller: route it, then call routed()
    RETAKEN = 2  # this caller, after a holder that stopped renewing (killed): what it stored stays
    DONE = 0  # routed already
    HELD = -1  # another caller is routing it right now (its lease has not run out)


class RoutingStore(StoreBase):
    """Leases on routing a stored customer message, so that it is routed once (retries, killed processes)."""

    @cached_property
    def _take_routing(self) -> Any:
        return self.redis.register_script(_TAKE_ROUTING)

    @cached_property
    def _keep_routing(self) -> Any:
        return self.redis.register_script(_KEEP_ROUTING)

    @cached_property
    def _routed(self) -> Any:
        return self.redis.register_script(_ROUTED)

    async def take_routing(self, conversation_id: str, message_id: str, owner: str, lease_ms: int) -> Routing:
        """A lease on routing a stored message, so that it is routed once, also when its sender retries.

        Its ``owner`` renews it while routing (keep_routing); a process killed
        while routing stops renewing, and the next retry takes it over soon.
        """
        taken = await self._take_routing(keys=[self.key("idem", conversation_id)],
                                         args=[f"routed:{message_id}", owner, str(lease_ms)])
        return Routing(int(taken))

    async def keep_routing(self, conversation_id: str, message_id: str, owner: str, lease_ms: int) -> bool:
        """Extends the owner's lease by ``lease_ms`` (0: gives it back, so the next retry routes the
        message at once); False when the lease is no longer theirs."""
        kept = await self._keep_routing(keys=[self.key("idem", conversation_id)],
                                        args=[f"routed:{message_id}", owner, str(lease_ms)])
        return bool(kept)

    async def routed(self, conversation_id: str, message_id: str) -> None:
        """Marks the message routed, unless its conversation is gone meanwhile (nothing of it written again)."""
        await self._routed(keys=[self.key("idem", conversation_id)], args=[f"routed:{message_id}"])
