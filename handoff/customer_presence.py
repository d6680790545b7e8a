"""Whether a customer is connected, typing or gone, and since when: the agents' queue cards and chat headers.

Kept with the conversation: ``presence`` ("{connected|typing|gone}|{since, ms}") in its hash, and
``{p}:customer-sockets:{id}``, the customer's sockets open in every bridge process together (a zset:
socket id -> until when it counts, ms), each entry renewed by its process while the socket is open
(handoff.presence.OpenSockets.refresh) and counted only until then: a process that dies leaves no
socket counted for ever, however the customer reconnects. One script per event (a socket opened or
closed, typing started or stopped, a socket's process found dead) changes both and, only when the
state changed, announces it in the same step: on the conversation's live channel
(``{"customer_presence": {"state", "since"}}``, for the agent serving it) and, while the conversation
is queued, on ``{p}:presence-events`` (``{"customer_presence": id}``) for the agents' queue views,
which every process reads once per change for all its agents (Bridge.queue_view). Typing again while
typing, or a second tab, changes nothing and announces nothing.

Every process that keeps presence (handoff.lifecycle.keep) sweeps the queued and served
conversations: sockets not renewed for STALE_REFRESHES refresh periods are no longer counted, and a
customer left with none is gone since their sockets were last renewed.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from handoff.store import Store

__all__ = ["CustomerPresenceBoard", "CustomerState", "Presence", "parse", "shown"]

STALE_REFRESHES = 3  # not renewed for this many refresh periods: their process has gone
RENEW_BATCH = 500  # sockets renewed per pipeline


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


# KEYS[1] conversation hash, KEYS[2] its live channel, KEYS[3] presence-events, KEYS[4] the customer's
# sockets; ARGV[1] event: joined, left, typing, idle or lost; ARGV[2] now (ms); ARGV[3] the conversation
# id; ARGV[4] the socket (joined, left); ARGV[5] how long a socket counts without being renewed (ms).
# Sockets not renewed in time are dropped first, whatever the event. Nothing for a conversation that has
# expired. Returns the new value when the state changed, else ''.
_EVENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[5])
local current = redis.call('HGET', KEYS[1], 'presence') or ''
local state = string.match(current, '^([a-z]+)|') or 'gone'
local last = redis.call('ZREVRANGEBYSCORE', KEYS[4], now, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local event, since = ARGV[1], ARGV[2]
if event == 'joined' then
  redis.call('ZADD', KEYS[4], now + ttl, ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ttl)
elseif event == 'left' then
  redis.call('ZREM', KEYS[4], ARGV[4])
end
local sockets = redis.call('ZCARD', KEYS[4])
local new = state
if event == 'joined' then
  if state == 'gone' then new = 'connected' end
elseif event == 'left' then
  if sockets == 0 then new = 'gone' end
elseif event == 'typing' then
  if sockets > 0 then new = 'typing' end
elseif event == 'idle' then
  if state == 'typing' then new = 'connected' end
elseif event == 'lost' then
  if sockets > 0 or state == 'gone' then return '' end
  new = 'gone'
  if last[2] then since = tostring(math.floor(tonumber(last[2]) - ttl)) end
end
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
    """The customers' presence in Redis; every time is given (ms), the bridge's clock. A socket counts
    for STALE_REFRESHES periods of ``refresh_seconds`` after it opened or was last renewed."""

    def __init__(self, store: Store, refresh_seconds: float = 10.0) -> None:
        self.store = store
        self.redis = store.redis
        self.channel = store.key("presence-events")
        self.counted_ms = int(STALE_REFRESHES * refresh_seconds * 1000)
        self._event = store.redis.register_script(_EVENT)

    def _sockets_key(self, conversation_id: str) -> str:
        return self.store.key("customer-sockets", conversation_id)

    async def _apply(self, conversation_id: str, event: str, now_ms: int, socket: str = "") -> Optional[Presence]:
        """The new presence when ``event`` changed it, else None."""
        value = await self._event(
            keys=[self.store.key("conv", conversation_id), self.store.live_channel(conversation_id), self.channel,
                  self._sockets_key(conversation_id)],
            args=[event, now_ms, conversation_id, socket, self.counted_ms])
        return parse(value.decode()) if value else None

    async def joined(self, conversation_id: str, socket: str, now_ms: int) -> Optional[Presence]:
        """``socket``: an id of the customer's socket, unique over every process."""
        return await self._apply(conversation_id, "joined", now_ms, socket)

    async def left(self, conversation_id: str, socket: str, now_ms: int) -> Optional[Presence]:
        return await self._apply(conversation_id, "left", now_ms, socket)

    async def typing(self, conversation_id: str, active: bool, now_ms: int) -> Optional[Presence]:
        return await self._apply(conversation_id, "typing" if active else "idle", now_ms)

    async def get(self, conversation_id: str) -> Presence:
        raw = await self.redis.hget(self.store.key("conv", conversation_id), "presence")
        return parse(raw.decode() if raw else None)

    async def renew(self, sockets: List[Tuple[str, str]], now_ms: int) -> None:
        """This process's open customer sockets, (socket, conversation id), count for a while longer; in
        batches, so that neither this event loop nor Redis stops long for thousands of them. Only sockets
        still counted are renewed (ZADD XX): the list is read before the batches run, and a socket that
        closed meanwhile (``left`` removed it) must not be counted again."""
        for start in range(0, len(sockets), RENEW_BATCH):
            async with self.redis.pipeline(transaction=False) as pipe:
                for socket, conversation_id in sockets[start:start + RENEW_BATCH]:
                    pipe.zadd(self._sockets_key(conversation_id), {socket: now_ms + self.counted_ms}, xx=True)
                    pipe.pexpire(self._sockets_key(conversation_id), self.counted_ms)
                await pipe.execute()

    async def sweep(self, conversation_ids: List[str], now_ms: int) -> List[str]:
        """Of these conversations, those whose customer is shown here but has no socket counted any more
        (their process died) are gone since their sockets were last renewed; returns them."""
        if not conversation_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hget(self.store.key("conv", conversation_id), "presence")
                pipe.zcount(self._sockets_key(conversation_id), now_ms + 1, "+inf")
            read = await pipe.execute()
        lost = []
        for conversation_id, shown_as, counted in zip(conversation_ids, read[::2], read[1::2]):
            if counted == 0 and parse(shown_as.decode() if shown_as else None).state is not CustomerState.GONE:
                if await self._apply(conversation_id, "lost", now_ms):
                    lost.append(conversation_id)
        return lost
