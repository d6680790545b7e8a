"""Automatic assignment: per skill group, queued conversations offered to agents in turn.

Supervisors choose per skill group between ``manual`` (agents claim from the queue: the default)
and ``automatic``. In an automatic group, one Lua script (:data:`_ROUND`, run by whichever bridge
process has cause to: a queue change, an agent arriving, a status change, a decline, and every
process's assignment round each second) decides for every automatic group at once, atomically:

- it withdraws the offers that have run out (not accepted within HANDOFF_ASSIGN_ACCEPT_SECONDS),
  whose agent is away or offline, or whose conversation is no longer queued in an automatic group;
- then it walks each automatic group's queue in order (its place: arrival, a requeue at the front)
  and offers each conversation without an offer (whose customer has not gone: one whose page closed keeps
  their place and is offered once they are back, handoff.customer_presence) to the agent who takes the
  group, is online and available, and has a free chat slot (serving + open offers < max_chats): the least busy first
  (serving + open offers), then the longest idle (``agent-ready``: since they last took or finished a
  chat, or came online), then by name. An agent who passed on the conversation (declined it, let the
  offer run out, went away) is asked again only when nobody else can take it, and not before the
  accept time has gone by since they passed.

A change of a group's mode is announced on the queue's channel (``{p}:queue-events``,
``{"assignment": group}``): the dashboards and the agents' queue cards show it. Every offer made or
withdrawn is announced on the agent's channel (``{"offers": id}``) by the same script, so a process
killed right after loses none, and so is a change of the open offers on the counters' channel
(``{p}:stats-events``, ``{"offers": true}``: the dashboards count them); since the script runs from
Redis state alone, an offer made by a process that died runs out and moves on all the same. An offered conversation
stays in the queue, keeps its place and is still waiting: customers' positions and wait estimates do
not change (its agent's reserved slot is the pickup under way, handoff.estimate).

Accepting marks the offer held for the accepting agent for :data:`HOLD_MS` (still counted in their
load, never withdrawn or offered again meanwhile), then claims the conversation as a ``claim`` does and
takes the offer out. In an automatic group a plain agent's ``claim`` of a conversation not offered to them is refused
(``assigned_automatically``); supervisors (an account with the supervisor role) may still claim any.

Keys (``{p}`` is the store's prefix; the script reaches the per-agent and per-conversation keys by
their names, which needs one Redis, not a cluster, as the rest of the bridge does):

    {p}:assign-mode     hash   group -> "automatic" (no field: manual)
    {p}:offers          hash   conversation -> "{agent}|{expires, ms}|{offered at, ms}|{held: 1 once accepted}"
    {p}:passed:{id}     zset   agents who passed on the conversation -> when (ms); kept a day
"""

from __future__ import annotations

import enum
import json
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from handoff.exceptions import ConversationNotFound, InvalidTransition, MalformedMessage
from handoff.store import LUA_NOW_MS, Store

__all__ = ["HOLD_MS", "Assignment", "Mode", "Offer", "may_claim", "requested_mode"]

# How long an accepted offer holds its conversation for the claim that follows (a claim takes milliseconds).
HOLD_MS = 10_000
# How long a conversation's "passed" agents are remembered (a queue stay is shorter).
PASSED_TTL_MS = 24 * 3600 * 1000


class Mode(str, enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"


class Offer(NamedTuple):
    conversation_id: str
    agent: str
    expires_ms: int
    offered_ms: int
    held: bool  # accepted: the claim is under way


def requested_mode(data: Dict[str, Any]) -> Tuple[str, Mode]:
    """``assignment_mode``'s group and mode (MalformedMessage otherwise)."""
    group, mode = data.get("group"), data.get("mode")
    if not isinstance(group, str) or not 0 < len(group) <= 64:
        raise MalformedMessage("'group' must be a skill group's name")
    if not isinstance(mode, str) or mode not in {each.value for each in Mode}:
        raise MalformedMessage("'mode' must be 'manual' or 'automatic'")
    return group, Mode(mode)


def may_claim(mode: Mode, offered_to: Optional[str], agent: str, roles: Sequence[str]) -> None:
    """In an automatic group only the agent offered the conversation, or a supervisor, may take it
    (InvalidTransition ``assigned_automatically`` otherwise): agents get its conversations by offer, fairly."""
    if mode is Mode.AUTOMATIC and offered_to != agent and "supervisor" not in roles:
        raise InvalidTransition("this team's chats are assigned automatically; wait for an offer",
                                code="assigned_automatically")


def _parse_offer(conversation_id: str, raw: bytes) -> Offer:
    agent, expires, offered, held = raw.decode().rsplit("|", 3)
    return Offer(conversation_id, agent, int(expires), int(offered), held == "1")


# KEYS: 1 modes, 2 offers, 3 online, 4 agent-status, 5 agents, 6 agent-ready. ARGV: 1 prefix, 2 accept ms,
# 3 how long a conversation's passed agents are kept. Returns {made, withdrawn}, each a flat list of
# conversation, agent.
_ROUND = LUA_NOW_MS + """
local prefix, accept_ms = ARGV[1], tonumber(ARGV[2])
local function key(kind, name) return prefix .. ':' .. kind .. ':' .. name end
local modes = {}
local listed = redis.call('HGETALL', KEYS[1])
for i = 1, #listed, 2 do if listed[i + 1] == 'automatic' then modes[listed[i]] = true end end
-- Every group manual and no offer left: nothing to do (the round every process runs every second costs this).
if next(modes) == nil and redis.call('HLEN', KEYS[2]) == 0 then return {{}, {}} end
local statuses = {}
listed = redis.call('HGETALL', KEYS[4])
for i = 1, #listed, 2 do statuses[listed[i]] = string.match(listed[i + 1], '^([a-z]+)') end
local online = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], now, '+inf')) do
  online[string.match(member, '^(.*)|[^|]*$') or member] = true
end
-- An agent keeps an offer while not away and not offline (a reload keeps it); takes a new one only online.
local function keeps(agent) return statuses[agent] == 'available' or (online[agent] and statuses[agent] ~= 'away') end
local made, withdrawn, offered, load = {}, {}, {}, {}
local function pass(conversation, agent)
  local passed = key('passed', conversation)
  redis.call('ZADD', passed, now, agent)
  redis.call('PEXPIRE', passed, ARGV[3])
end
listed = redis.call('HGETALL', KEYS[2])
for i = 1, #listed, 2 do
  local conversation = listed[i]
  local agent, expires, held = string.match(listed[i + 1], '^(.*)|(%d+)|%d+|(%d)$')
  local state = redis.call('HMGET', key('conv', conversation), 'state', 'group')
  local queued = state[1] == 'queued' and modes[state[2] or 'general']
  if not queued or tonumber(expires) <= now or (held == '0' and not keeps(agent)) then
    redis.call('HDEL', KEYS[2], conversation)
    if queued then pass(conversation, agent) else redis.call('DEL', key('passed', conversation)) end
    withdrawn[#withdrawn + 1] = conversation
    withdrawn[#withdrawn + 1] = agent
    redis.call('PUBLISH', key('agent-events', agent), cjson.encode({offers = conversation}))
  else
    offered[conversation] = true
    load[agent] = (load[agent] or 0) + 1
  end
end
-- The dashboards count the open offers: a change is announced on the counters' channel.
local function done()
  if #made > 0 or #withdrawn > 0 then redis.call('PUBLISH', prefix .. ':stats-events', '{"offers":true}') end
  return {made, withdrawn}
end
if next(modes) == nil then return done() end
-- The candidates: online, available, an agent's account; their groups, free slots, load and idle time.
local candidates = {}
for agent, _ in pairs(online) do
  if statuses[agent] ~= 'away' then
    local record = redis.call('HGET', KEYS[5], agent)
    if record then
      local account = cjson.decode(record)
      local roles = account['roles'] or {'agent'}
      local serves = false
      for _, role in ipairs(roles) do if role == 'agent' then serves = true end end
      if serves then
        local busy = redis.call('SCARD', key('serving', agent)) + (load[agent] or 0)
        local groups = {}
        for _, group in ipairs(account['groups'] or {'all'}) do groups[group] = true end
        candidates[#candidates + 1] = {name = agent, groups = groups, busy = busy,
          free = tonumber(account['max_chats'] or 3) - busy,
          ready = tonumber(redis.call('HGET', KEYS[6], agent) or '0')}
      end
    end
  end
end
local function better(a, b)
  if a.busy ~= b.busy then return a.busy < b.busy end
  if a.ready ~= b.ready then return a.ready < b.ready end
  return a.name < b.name
end
local function free_in(group)
  for _, agent in ipairs(candidates) do
    if agent.free > 0 and (agent.groups[group] or agent.groups['all']) then return true end
  end
  return false
end
for group, _ in pairs(modes) do
  for _, conversation in ipairs(redis.call('ZRANGE', key('queue', group), 0, -1)) do
    if not free_in(group) then break end  -- the rest of the group's queue waits for a slot
    local fields = redis.call('HMGET', key('conv', conversation), 'state', 'presence')
    -- A customer whose page has gone keeps their place but is offered to nobody until they are back.
    local here = not string.find(fields[2] or '', '^gone|')
    if not offered[conversation] and fields[1] == 'queued' and here then
      local best, best_passed = nil, nil
      for _, agent in ipairs(candidates) do
        if agent.free > 0 and (agent.groups[group] or agent.groups['all']) then
          local passed = redis.call('ZSCORE', key('passed', conversation), agent.name)
          local fresh = not passed
          if fresh or tonumber(passed) + accept_ms <= now then
            if best == nil or (fresh and best_passed) or (fresh == not best_passed and better(agent, best)) then
              best, best_passed = agent, not fresh
            end
          end
        end
      end
      if best then
        redis.call('HSET', KEYS[2], conversation, best.name .. '|' .. (now + accept_ms) .. '|' .. now .. '|0')
        best.free, best.busy = best.free - 1, best.busy + 1
        made[#made + 1] = conversation
        made[#made + 1] = best.name
        redis.call('PUBLISH', key('agent-events', best.name), cjson.encode({offers = conversation}))
      end
    end
  end
end
return done()
"""

# KEYS: 1 offers. ARGV: 1 conversation, 2 agent, 3 hold ms, 4 the agent's channel. 1: held for the claim
# (the agent's consoles hear it is no longer an open offer); 0: not this agent's open offer, or it has run out.
_ACCEPT = LUA_NOW_MS + """
local offer = redis.call('HGET', KEYS[1], ARGV[1])
if not offer then return 0 end
local agent, expires, offered, held = string.match(offer, '^(.*)|(%d+)|(%d+)|(%d)$')
if agent ~= ARGV[2] or held ~= '0' or tonumber(expires) <= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], agent .. '|' .. (now + tonumber(ARGV[3])) .. '|' .. offered .. '|1')
redis.call('PUBLISH', ARGV[4], cjson.encode({offers = ARGV[1]}))
return 1
"""

# KEYS: 1 offers, 2 passed:{id}. ARGV: 1 conversation, 2 agent, 3 passed ttl ms, 4 '1': the claim after the accept
# failed (the agent passed). The offer held for the agent is taken out.
_RELEASE = LUA_NOW_MS + """
local offer = redis.call('HGET', KEYS[1], ARGV[1])
if offer and string.match(offer, '^(.*)|%d+|%d+|1$') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
"""

# KEYS: 1 offers, 2 passed:{id}. ARGV: 1 conversation, 2 agent, 3 passed ttl ms, 4 the agent's channel,
# 5 the counters' channel (the dashboards' count of open offers). 1: declined; 0: not this agent's offer
# (run out, withdrawn).
_DECLINE = LUA_NOW_MS + """
local offer = redis.call('HGET', KEYS[1], ARGV[1])
if not offer or string.match(offer, '^(.*)|%d+|%d+|0$') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], cjson.encode({offers = ARGV[1]}))
redis.call('PUBLISH', ARGV[5], '{"offers":true}')
return 1
"""


class Assignment:
    """The modes, the offers and the round that makes them, in Redis (one per process)."""

    def __init__(self, store: Store, accept_seconds: float) -> None:
        self.redis = store.redis
        self.prefix = store.prefix  # the round builds agents' and conversations' key names from it
        self.key = store.key
        self.accept_ms = int(accept_seconds * 1000)
        self._round = self.redis.register_script(_ROUND)
        self._accept = self.redis.register_script(_ACCEPT)
        self._decline = self.redis.register_script(_DECLINE)
        self._release = self.redis.register_script(_RELEASE)

    async def modes(self) -> Dict[str, Mode]:
        """The groups a supervisor made automatic (every other group is manual)."""
        stored = await self.redis.hgetall(self.key("assign-mode"))
        return {group.decode(): Mode(mode.decode()) for group, mode in stored.items()}

    async def mode(self, group: str) -> Mode:
        stored = await self.redis.hget(self.key("assign-mode"), group)
        return Mode(stored.decode()) if stored else Mode.MANUAL

    async def set_mode(self, group: str, mode: Mode) -> None:
        """Stored for every process (the next round follows it), announced on the queue's channel."""
        if mode is Mode.AUTOMATIC:
            await self.redis.hset(self.key("assign-mode"), group, mode.value)
        else:
            await self.redis.hdel(self.key("assign-mode"), group)
        await self.redis.publish(self.key("queue-events"), json.dumps({"assignment": group, "mode": mode.value}))

    async def run_round(self) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
        """Withdraw what ran out, offer what can be offered: (made, withdrawn), each (conversation, agent)."""
        made, withdrawn = await self._round(
            keys=[self.key("assign-mode"), self.key("offers"), self.key("online"), self.key("agent-status"),
                  self.key("agents"), self.key("agent-ready")],
            args=[self.prefix, str(self.accept_ms), str(PASSED_TTL_MS)])
        return _pairs(made), _pairs(withdrawn)

    async def offers(self) -> List[Offer]:
        """Every open offer (some may have run out and wait for the next round)."""
        stored = await self.redis.hgetall(self.key("offers"))
        return [_parse_offer(conversation.decode(), raw) for conversation, raw in stored.items()]

    async def offered_to(self, conversation_id: str) -> Optional[str]:
        raw = await self.redis.hget(self.key("offers"), conversation_id)
        return _parse_offer(conversation_id, raw).agent if raw else None

    async def take(self, agent: str, conversation_id: str) -> None:
        """The agent accepts: the offer is theirs and still open (ConversationNotFound otherwise), and the
        conversation is held for them until :meth:`release`."""
        taken = await self._accept(keys=[self.key("offers")],
                                   args=[conversation_id, agent, str(HOLD_MS), self.key("agent-events", agent)])
        if not taken:
            raise ConversationNotFound("that offer is no longer yours (it ran out or was withdrawn)")

    async def release(self, conversation_id: str, agent: str, taken: bool) -> None:
        """The claim that followed an accept is over; ``taken`` False: it failed, and the agent passed."""
        await self._release(keys=[self.key("offers"), self.key("passed", conversation_id)],
                            args=[conversation_id, agent, str(PASSED_TTL_MS), "" if taken else "1"])

    async def decline(self, agent: str, conversation_id: str) -> None:
        declined = await self._decline(
            keys=[self.key("offers"), self.key("passed", conversation_id)],
            args=[conversation_id, agent, str(PASSED_TTL_MS), self.key("agent-events", agent),
                  self.key("stats-events")])
        if not declined:
            raise ConversationNotFound("that offer is no longer yours (it ran out or was withdrawn)")


def _pairs(flat: List[bytes]) -> List[Tuple[str, str]]:
    values = [value.decode() for value in flat]
    return list(zip(values[::2], values[1::2]))
