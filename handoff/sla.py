"""Response-time targets (SLA) in Redis: the clocks, the due times stated to consoles, breaches counted once.

Due times come from what Redis already holds (handoff.sla_rules), so every bridge process states the
same and none keeps a timer. A breach is counted by the step that stores the agent's answer (one Lua
script reads and clears the clock and counts in the day's counters): exactly once, whichever process
stores it. The reply clock is started by the step that stores the customer's message (Store.append: no
round trip of its own while an agent serves). A chat that is never answered is not counted; it shows on the
dashboard as breached now while it waits.

Keys (``{p}`` is the store's prefix):

    conversation hash  "sla_first_met": the ``waiting_since`` whose first response an agent gave;
                       "sla_reply_from": when the customer's earliest unanswered message (to an agent) came
    {p}:day:{date}     "sla:{first|reply}", "sla:{kind}:group:{group}", "sla:{kind}:agent:{agent}": breaches
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from handoff.machine import State
from handoff.sla_rules import DEFAULT_NAME, Target, due_times, risk, target_for
from handoff.store import DAY_TTL_MS, Store

__all__ = ["Sla"]

# KEYS: conversation hash, the day's counters, the outbox (a breach is a ``tally`` fact). ARGV: now (ms), agent, the counters' lifetime (ms), the
# default first and reply targets (ms), then each named group's: group, first, reply. Reads the group and
# the clocks, clears the clocks and counts a breach in one step: exactly once.
_REPLIED = """
local since = redis.call('HGET', KEYS[1], 'waiting_since')
if not since then return {} end
local group = redis.call('HGET', KEYS[1], 'group') or ''
local first, reply = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 6, #ARGV, 3 do
  if ARGV[i] == group then first, reply = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]) end
end
local met = redis.call('HGET', KEYS[1], 'sla_first_met')
local from = redis.call('HGET', KEYS[1], 'sla_reply_from')
redis.call('HDEL', KEYS[1], 'sla_reply_from')
local now = tonumber(ARGV[1])
local kind = false
if met ~= since then
  redis.call('HSET', KEYS[1], 'sla_first_met', since)
  if now > tonumber(since) + first then kind = 'first' end
elseif from and now > tonumber(from) + reply then
  kind = 'reply'
end
if not kind then return {} end
redis.call('HINCRBY', KEYS[2], 'sla:' .. kind, 1)
redis.call('HINCRBY', KEYS[2], 'sla:' .. kind .. ':group:' .. group, 1)
redis.call('HINCRBY', KEYS[2], 'sla:' .. kind .. ':agent:' .. ARGV[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
tally_to_outbox(KEYS[3], KEYS[2], {'sla:' .. kind, 'sla:' .. kind .. ':group:' .. group, 'sla:' .. kind .. ':agent:' .. ARGV[2]})
return {kind}
"""

FIELDS = ["state", "group", "agent", "waiting_since", "sla_first_met", "sla_reply_from"]


class Sla:
    """The clocks in the conversation hash, the breaches in the day's counters (every process shares them)."""

    def __init__(self, store: Store, targets: Mapping[str, Target]) -> None:
        self.store = store
        self.targets = dict(targets)
        self._replied = store.script(_REPLIED)
        default = target_for(self.targets, DEFAULT_NAME)
        self._targets_args: List[Any] = [default.first_seconds * 1000, default.reply_seconds * 1000]
        for group, target in self.targets.items():
            if group != DEFAULT_NAME:
                self._targets_args += [group, target.first_seconds * 1000, target.reply_seconds * 1000]

    def target(self, group: str) -> Target:
        return target_for(self.targets, group)

    async def agent_replied(self, conversation_id: str, agent: str, day: str, now_ms: int) -> List[str]:
        """The kinds of target this answer missed (counted by the same step), none when on time."""
        kinds = await self._replied(keys=[self.store.key("conv", conversation_id), self.store.key("day", day),
                                          self.store.key("outbox")],
                                    args=[now_ms, agent, DAY_TTL_MS, *self._targets_args])
        if kinds:
            await self.store.publish(self.store.stats_channel, {})
        return [kind.decode() if isinstance(kind, bytes) else str(kind) for kind in kinds]

    async def views(self, conversation_ids: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        """Each conversation's due times, with its state, group and agent (expired ones left out)."""
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hmget(self.store.key("conv", conversation_id), FIELDS)
            replies = await pipe.execute()
        views = {}
        for conversation_id, values in zip(conversation_ids, replies):
            fields = {name: value.decode() for name, value in zip(FIELDS, values) if value}
            if "state" in fields:
                group = fields.get("group", "")
                views[conversation_id] = {"state": fields["state"], "group": group, "agent": fields.get("agent") or None,
                                          "sla": due_times(self.target(group), State(fields["state"]), fields)}
        return views

    async def view(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The ``conversation`` envelope's ``sla`` (None: the conversation has expired)."""
        found = (await self.views([conversation_id])).get(conversation_id)
        return found["sla"] if found else None

    async def at_risk(self, conversation_ids: Sequence[str], now_ms: int) -> List[Dict[str, Any]]:
        """The dashboard's ``sla.at_risk``: queued and served chats with a quarter of a target or less left."""
        rows = []
        for conversation_id, found in (await self.views(conversation_ids)).items():
            danger = risk(found["sla"], now_ms)
            if danger is not None:
                rows.append({"conversation_id": conversation_id, "group": found["group"],
                             "agent": found["agent"] if found["state"] == State.AGENT.value else None, **danger})
        return sorted(rows, key=lambda row: row["seconds_left"])
