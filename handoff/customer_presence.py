"""Whether a customer is connected, typing or gone, and since when: the agents' queue cards and chat headers.

Kept in the conversation's own hash, so it goes with the conversation: ``presence``
("{connected|typing|gone}|{since, ms}") and ``sockets`` (the customer's sockets open in every
bridge process together). One script per event (a socket opened or closed, typing started or
stopped) changes both and, only when the state changed, announces it in the same step: on the
conversation's live channel (``{"customer_presence": {"state", "since"}}``, for the agent serving
it) and, while the conversation is queued, on ``{p}:presence-events`` (``{"customer_presence": id}``)
for the agents' queue views, which every process reads once per change for all its agents
(Bridge.queue_view). Typing again while typing, or a second tab, changes nothing and announces nothing.

A process that dies leaves its customers' sockets counted. Every process that keeps presence
(handoff.lifecycle.keep) marks gone, since they were last seen (handoff.presence), the queued and
served customers who are still counted as here but have not been seen for three refresh periods.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, List, NamedTuple, Optional

from redis.asyncio import Redis

__all__ = ["CustomerPresenceBoard", "CustomerState", "Presence", "parse", "shown"]

STALE_REFRESHES = 3  # not seen for this many refresh periods: their process has gone


class CustomerState(str, enum.Enum):
    CONNECTED = "connected"
    TYPING = "typing"
    GONE = "gone"


class Presence(NamedTuple):
    state: CustomerState
    since_ms: Optional[int]  # None: not known (a conversation from before presence was kept)


def parse(raw: Optional[str]) -> Presence:
    if not raw:
        return Presence(CustomerState.GONE, None)
    state, _, since = raw.partition("|")
    try:
        return Presence(CustomerState(state), int(since))
    except ValueError:
        return Presence(CustomerState.GONE, None)


def shown(presence: Presence, now_ms: int) -> Dict[str, Any]:
    """As the protocol sends it: the state and for how many seconds so far (the console counts on)."""
    seconds = None if presence.since_ms is None else max(0, (now_ms - presence.since_ms) // 1000)
    return {"state": presence.state.value, "seconds": seconds}


# KEYS[1] conversation hash, KEYS[2] its live channel, KEYS[3] presence-events, KEYS[4] customers-seen
# (handoff.presence); ARGV[1] event: joined, left, typing, idle or lost; ARGV[2] now (ms); ARGV[3] the
# conversation id; for lost, ARGV[4]: seen before this (ms) or it is not lost. Nothing for a conversation
# that has expired. Returns the new value when the state changed, else ''.
_EVENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local current = redis.call('HGET', KEYS[1], 'presence') or ''
local state = string.match(current, '^([a-z]+)|') or 'gone'
local sockets = tonumber(redis.call('HGET', KEYS[1], 'sockets') or '0')
local event, since = ARGV[1], ARGV[2]
local new = state
if event == 'joined' then
  sockets = sockets + 1
  if state == 'gone' then new = 'connected' end
elseif event == 'left' then
  sockets = math.max(0, sockets - 1)
  if sockets == 0 then new = 'gone' end
elseif event == 'typing' then
  if sockets > 0 then new = 'typing' end
elseif event == 'idle' then
  if state == 'typing' then new = 'connected' end
elseif event == 'lost' then
  local seen = redis.call('ZSCORE', KEYS[4], ARGV[3])
  if sockets == 0 or (seen and tonumber(seen) >= tonumber(ARGV[4])) then return '' end
  sockets = 0
  new = 'gone'
  if seen then since = tostring(math.floor(tonumber(seen))) end
end
redis.call('HSET', KEYS[1], 'sockets', sockets)
if new == state and current ~= '' then return '' end
local value = new .. '|' .. since
redis.call('HSET', KEYS[1], 'presence', value)
redis.call('PUBLISH', KEYS[2], cjson.encode({customer_presence = {state = new, since = tonumber(since)}}))
if redis.call('HGET', KEYS[1], 'state') == 'queued' then
  redis.call('PUBLISH', KEYS[3], cjson.encode({customer_presence = ARGV[3]}))
end
return value
"""


class CustomerPresenceBoard:
    """The customers' presence in Redis; every time is given (ms), the bridge's clock."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.channel = f"{prefix}:presence-events"
        self._seen_key = f"{prefix}:customers-seen"
        self._event = redis.register_script(_EVENT)

    async def _apply(self, conversation_id: str, event: str, now_ms: int, seen_before: int = 0) -> Optional[Presence]:
        """The new presence when ``event`` changed it, else None."""
        value = await self._event(
            keys=[f"{self.prefix}:conv:{conversation_id}", f"{self.prefix}:live:{conversation_id}", self.channel,
                  self._seen_key],
            args=[event, now_ms, conversation_id, seen_before])
        return parse(value.decode()) if value else None

    async def joined(self, conversation_id: str, now_ms: int) -> Optional[Presence]:
        return await self._apply(conversation_id, "joined", now_ms)

    async def left(self, conversation_id: str, now_ms: int) -> Optional[Presence]:
        return await self._apply(conversation_id, "left", now_ms)

    async def typing(self, conversation_id: str, active: bool, now_ms: int) -> Optional[Presence]:
        return await self._apply(conversation_id, "typing" if active else "idle", now_ms)

    async def get(self, conversation_id: str) -> Presence:
        raw = await self.redis.hget(f"{self.prefix}:conv:{conversation_id}", "presence")
        return parse(raw.decode() if raw else None)

    async def sweep(self, conversation_ids: List[str], now_ms: int, refresh_seconds: float) -> List[str]:
        """Of these conversations, those whose customer is counted as here but was not seen for
        STALE_REFRESHES refresh periods are gone (their process died); returns them."""
        if not conversation_ids:
            return []
        seen_before = now_ms - int(STALE_REFRESHES * refresh_seconds * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hget(f"{self.prefix}:conv:{conversation_id}", "sockets")
            counted = await pipe.execute()
        seen = await self.redis.zmscore(self._seen_key, conversation_ids)
        lost = []
        for conversation_id, sockets, last in zip(conversation_ids, counted, seen):
            if sockets and int(sockets) > 0 and (last is None or last < seen_before):
                if await self._apply(conversation_id, "lost", now_ms, seen_before):
                    lost.append(conversation_id)
        return lost
