"""The state change (handoff.store): one Lua step per change, so several bridge processes agree."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from functools import cached_property
from typing import Any, Dict, List, Optional, Sequence

from archive.facts import SNAPSHOT_FIELDS
from handoff.exceptions import AgentAtLimit, LimitReached
from handoff.machine import Conversation, Notice, State
from handoff.store_base import StoreBase
from handoff.store_counters import DAY_TTL_MS
from handoff.store_messages import ADD_MESSAGES, entry_json

__all__ = ["RECENT_HANDLING", "CommitStore"]

_COMMIT = ADD_MESSAGES + """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
-- KEYS[3]/KEYS[4]: serving sets of the agent before/after; ARGV[7] = '1' when an agent serves it after
local moves = KEYS[4] ~= KEYS[3]
if moves and ARGV[7] == '1' and redis.call('SCARD', KEYS[4]) >= tonumber(ARGV[6]) then return -1 end
-- KEYS[5]/KEYS[6]: the skill group's queue before/after (the whole queue and the group's change together)
local operation = ARGV[2]
-- ARGV[11]: the queue's length cap (HANDOFF_MAX_QUEUE_LENGTH), for new entries only (a requeue keeps its place)
if operation == 'add' and redis.call('ZSCORE', KEYS[2], ARGV[4]) == false
    and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[11]) then return -2 end
if operation == 'add' then
  if redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[4]) == 1 then redis.call('ZADD', KEYS[6], ARGV[3], ARGV[4]) end
elseif operation == 'front' then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local score = tonumber(ARGV[3])
  if first[2] and tonumber(first[2]) <= score then score = tonumber(first[2]) - 1 end
  redis.call('ZADD', KEYS[2], score, ARGV[4])
  redis.call('ZADD', KEYS[6], score, ARGV[4])
elseif operation == 'priority' then
  -- KEYS[9]: the distress handoffs queued: ahead of the group's first other customer, behind them
  local score, last = tonumber(ARGV[3]), nil
  for _, member in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
    if redis.call('SISMEMBER', KEYS[9], member) == 0 then
      local next_score = tonumber(redis.call('ZSCORE', KEYS[6], member))
      if last then score = (last + next_score) / 2 else score = math.min(score, next_score - 1) end
      break
    end
    last = tonumber(redis.call('ZSCORE', KEYS[6], member))
  end
  redis.call('ZADD', KEYS[2], score, ARGV[4])
  redis.call('ZADD', KEYS[6], score, ARGV[4])
  redis.call('SADD', KEYS[9], ARGV[4])
elseif operation == 'remove' then
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('ZREM', KEYS[5], ARGV[4])
end
if operation ~= 'priority' and operation ~= '' then redis.call('SREM', KEYS[9], ARGV[4]) end
-- KEYS[10]: the agents serving anyone (ARGV[8] the agent whose part ends, ARGV[10] the one who takes it)
if moves then
  redis.call('SREM', KEYS[3], ARGV[4])
  if ARGV[8] ~= '' and redis.call('SCARD', KEYS[3]) == 0 then redis.call('SREM', KEYS[10], ARGV[8]) end
  if ARGV[7] == '1' then
    redis.call('SADD', KEYS[4], ARGV[4])
    redis.call('SADD', KEYS[10], ARGV[10])
  end
end
-- ARGV[8]: the agent whose part ends (closed, handed back, transferred, lost), or '': its handling time
-- (from claimed_at, read before the fields below replace it) goes to KEYS[7], the recent handling times,
-- and the agent is ready for the next customer from now (KEYS[8]); so is ARGV[10], an agent who takes it.
local handled = ''
if ARGV[8] ~= '' then
  local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimed_at') or '')
  if claimed then
    handled = math.max(0, tonumber(ARGV[3]) - claimed)
    redis.call('LPUSH', KEYS[7], handled)
    redis.call('LTRIM', KEYS[7], 0, ARGV[9] - 1)
  end
  redis.call('HSET', KEYS[8], ARGV[8], ARGV[3])
end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[8], ARGV[10], ARGV[3]) end
-- ARGV[17]: how many of the arguments after it are the conversation's fields (name, value, ...)
local fields = tonumber(ARGV[17])
local before = redis.call('HGET', KEYS[1], 'state') or ''
redis.call('HSET', KEYS[1], unpack(ARGV, 18, 17 + fields))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
-- The change to the outbox KEYS[16]: the conversation's hash as it leaves it (archive.facts.SNAPSHOT_FIELDS),
-- the state before, the handling time it ended and whether it stored a rating.
if outbox_cap > 0 then
  local names = {""" + ", ".join(f"'{name}'" for name in SNAPSHOT_FIELDS) + """}
  local values = redis.call('HMGET', KEYS[1], unpack(names))
  local snapshot, rated = {}, ''
  for i, name in ipairs(names) do if values[i] then snapshot[name] = values[i] end end
  for i = 18, 17 + fields, 2 do if ARGV[i] == 'rating' and ARGV[i + 1] ~= '' then rated = '1' end end
  to_outbox(KEYS[16], 'fact', 'state', 'conv', ARGV[4], 'version', version, 'at', ARGV[3], 'from', before,
            'handled_ms', handled, 'rated', rated, 'conversation', cjson.encode(snapshot))
end
-- What follows the change, in the same step: ARGV[13] the customer's new state for their live channel
-- ARGV[12] ('' when their status shows nothing new), ARGV[15] for the queue's channel ARGV[14] ('': the
-- queue did not change), then ARGV[16] notices, four arguments each after the fields: client key, text,
-- data (JSON), the entry as announced (JSON, without its id); each is stored once per key in the
-- transcript KEYS[11] (idempotency hash KEYS[12]) and announced like an append (handoff.store_transcript's _APPEND).
if ARGV[13] ~= '' then redis.call('PUBLISH', ARGV[12], ARGV[13]) end
if ARGV[15] ~= '' then redis.call('PUBLISH', ARGV[14], ARGV[15]) end
local notices = tonumber(ARGV[16])
if notices > 0 then
  add_messages(KEYS[11], KEYS[12], ARGV[12], 'system', ARGV[3], 18 + fields, notices, KEYS[16], ARGV[4])
  redis.call('PEXPIRE', KEYS[11], ARGV[5])
  redis.call('PEXPIRE', KEYS[12], ARGV[5])
  redis.call('PEXPIRE', KEYS[15], ARGV[5])  -- the attachments the transcript refers to
end
-- After the notices: how many counters the change adds 1 to in the day's counters KEYS[13] and all days'
-- KEYS[14] (a close's disposition, handoff.closing), ms to keep the day's, the stats channel, the names.
local counted_at = 18 + fields + 4 * notices
local counted = tonumber(ARGV[counted_at])
if counted > 0 then
  for i = counted_at + 3, counted_at + 2 + counted do
    redis.call('HINCRBY', KEYS[13], ARGV[i], 1)
    redis.call('HINCRBY', KEYS[14], ARGV[i], 1)
  end
  redis.call('PEXPIRE', KEYS[13], ARGV[counted_at + 1])
  tally_to_outbox(KEYS[16], KEYS[13], {unpack(ARGV, counted_at + 3, counted_at + 2 + counted)})
  redis.call('PUBLISH', ARGV[counted_at + 2], '{}')
end
return version
"""


# Handling times kept for wait estimates (the newest).
RECENT_HANDLING = 50


class CommitStore(StoreBase):
    """A conversation's state change: a compare-and-set that moves the queues and serving sets and writes
    what follows it (notices, announcements, counters, the outbox) in the same step."""

    @cached_property
    def _commit(self) -> Any:
        return self.script(_COMMIT)

    async def commit(
        self, before: Conversation, after: Conversation, queue: str = "", agent_limit: int = 1_000_000,
        transferred_by: str = "", notices: Sequence[Notice] = (), state: Optional[Dict[str, Any]] = None,
        queue_changed: bool = False, extra_fields: Sequence[str] = (), day: str = "", counters: Sequence[str] = (),
    ) -> Optional[Conversation]:
        """Store ``after`` if nobody changed the conversation since ``before`` was read.

        ``queue`` is ``add``, ``front``, ``priority`` (distress: ahead of all but earlier distress
        handoffs in its group) or ``remove``: the queue (the whole one and
        the skill group's) and the agents' serving sets change in the same atomic
        step; ``transferred_by`` is the agent who transferred it (to a group's queue or a colleague). Returns the stored
        conversation, None when it was stale; raises AgentAtLimit when the
        agent taking it already serves ``agent_limit`` conversations.

        What follows the change is written by the same step, so a process killed after the
        commit loses none of it: the ``notices`` (system messages, added to the transcript and
        announced like ``append``'s), ``state`` announced on the conversation's live channel and,
        when ``queue_changed``, the conversation on the queue's channel (handoff.rules.notices,
        handoff.rules.announcements). ``extra_fields`` (name, value, ...) are stored in the conversation's
        hash with the change, and ``counters`` counted in the ``day``'s counters and all days'
        (``{p}:stats:closing``): a close's disposition (handoff.closing).
        """
        now = int(time.time() * 1000)
        fields: List[str] = [
            "state", after.state.value, "agent", after.agent or "", "reason", after.reason or "",
            "handoff", json.dumps(after.handoff), "group", after.group, "rated", "1" if after.rated else "0",
        ]
        if after.state is State.QUEUED and before.state is not State.QUEUED:
            fields += ["queued_at", str(now), "transferred_by", transferred_by, "left_queue", ""]
            if before.state is not State.AGENT:  # a new handoff; a transfer or a lost agent keeps the wait so far
                # and the chat's labels (a new handoff is a new chat: the last one's labels were counted with it).
                fields += ["waiting_since", str(now), "refused_handoff", "", "labels", ""]
        taken = after.state is State.AGENT and after.agent != before.agent
        if taken:
            fields += ["claimed_at", str(now)]
            if transferred_by:  # straight to a colleague (a claim keeps who sent it to the queue)
                fields += ["transferred_by", transferred_by]
        agent_ended = before.state is State.AGENT and (after.state is not State.AGENT or after.agent != before.agent)
        if after.state is State.CLOSED and before.state is not State.CLOSED:
            fields += ["closed_at", str(now), "rating", ""]  # an earlier close's rating is not this one's
        fields += extra_fields
        written: List[str] = []
        for notice in notices:
            data_json = json.dumps(notice.data)
            written += [notice.key, notice.text, data_json, entry_json("system", notice.key, notice.text, data_json, now)]
        version = await self._commit(
            keys=[self.key("conv", after.id), self.key("queue"), self._serving_key(before), self._serving_key(after),
                  self.key("queue", before.group), self.key("queue", after.group), self.key("handling"),
                  self.key("agent-ready"), self.key("queue-priority"), self.key("agents-serving"),
                  self.key("log", after.id), self.key("idem", after.id), self.key("day", day or "none"),
                  self.key("stats", "closing"), self.key("files", after.id), self.key("outbox")],
            args=[str(before.version), queue, str(now), after.id, str(self.ttl_ms), str(agent_limit),
                  "1" if after.state is State.AGENT else "0", (before.agent or "") if agent_ended else "",
                  str(RECENT_HANDLING), (after.agent or "") if taken else "", str(self.max_queue),
                  self.live_channel(after.id), json.dumps(state) if state else "",
                  self.queue_channel if queue_changed else "", json.dumps({"conversation": after.id}),
                  str(len(notices)), str(len(fields)), *fields, *written,
                  str(len(counters)), str(DAY_TTL_MS), self.stats_channel, *counters],
        )
        if version == -2:
            raise LimitReached(f"the queue is full ({self.max_queue} waiting); try again later or leave a message",
                               code="queue_full")
        if version == -1:
            raise AgentAtLimit(f"{after.agent} already serves {agent_limit} conversations (their limit)")
        if not version:
            return None
        return replace(after, version=int(version))

    def _serving_key(self, conversation: Conversation) -> str:
        """The agent's serving set when an agent serves it; a never-used key otherwise."""
        if conversation.state is State.AGENT and conversation.agent:
            return self.key("serving", conversation.agent)
        return self.key("serving-none")
