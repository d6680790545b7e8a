"""The transcript in Redis (handoff.store: ``{p}:log:{id}``, ``{p}:idem:{id}``): a message appended once per
client key, checked, capped, announced and (for a new customer message) leased in one step; the bot's
answer stored in one step; and the transcript read."""

from __future__ import annotations

import json
import time
from functools import cached_property
from typing import Any, Dict, List, Optional, Sequence, Tuple

from handoff.exceptions import ConversationClosed, ConversationNotFound, InvalidTransition, TranscriptFull
from handoff.machine import CLOSED_TO_CUSTOMER, State
from handoff.mentions import NOTE_KIND
from handoff.store_base import LUA_NOW_MS, StoreBase
from handoff.store_counters import DAY_TTL_MS
from handoff.store_messages import (
    ADD_MESSAGES, Appended, NewMessages, StoredMessage, decode_message, entry_json, message_order, refused_handoff_of,
)
from teaching.transcripts import review_of

__all__ = ["TranscriptStore"]

# ARGV[5] is the conversation's live channel: the new message is announced in the same step,
# with the id of the message before it and ARGV[6], the message itself (JSON, without its id).
# ARGV[7] = 'typed' or 'pressed' for a customer's message: stored while people have the conversation, it stays
# with people (machine.apply: nothing to route), so it is marked routed in the same step; it is
# refused (-2) when the transcript already has ARGV[8] messages besides the agents' notes. ARGV[7] = 'note'
# for an agents' note: refused (-2) when the conversation has ARGV[8] notes (its field "notes" counts them).
# Both caps are checked after the idempotency key: a message resent after its cap gets its id. ARGV[9], when not '', takes the
# routing lease of a new customer message the bot is to answer (owner ARGV[9], ARGV[10] ms:
# handoff.store_routing's _TAKE_ROUTING) in the same step: nobody else can hold it yet. ARGV[11], when not '',
# counts the conversation once (handoff.store_counters' _COUNT_ONCE's marker) in the day's counters KEYS[4]
# (ARGV[12] ms to keep them): the ARGV[14] fields after ARGV[17], announced on ARGV[13]. Returns the message's id, 1 when added (0: stored before, -1: not
# in the state asked for), the state it was stored in, 1 when its lease was taken, and (ARGV[17], when not
# '': the key prefix of a notice said once per stay in the queue, handoff.rules.kept_key) for a customer's
# message stored while queued, the stay's queued_at when the idempotency hash has no such notice yet (else ''),
# and with a lease taken, the handoff the queue refused and keeps (the conversation's "refused_handoff", else '').
# A customer's typed or pressed message stored while an agent serves starts the reply clock (handoff.sla's
# "sla_reply_from": its id's time) unless an earlier unanswered message's runs.
# ARGV[7] = 'file' for a customer's attachment (handoff.attachments): capped and routed like a typed message,
# never leased (no bot reads it), not last_said. KEYS[5], the conversation's attachments, is kept as the
# transcript is.
# A customer's typed message (not a pressed button: ARGV[7] = 'typed') is also the conversation's
# last_said (its text and time, JSON: ARGV[6]'s), which the agents' queue shows: written while they
# wait, it is announced (ARGV[16]) on the agents' channel ARGV[15] in the same step.
# ARGV[18 + ARGV[14]] is the conversation's id; the message's fields follow it: the message goes to the outbox
# KEYS[6] too (with the conversation's signed customer, "contact_id", for a customer's).
_APPEND = LUA_NOW_MS + """
-- A conversation that is gone (expired, or erased by a forget: handoff.forget) gets nothing written: -3.
if redis.call('EXISTS', KEYS[3]) == 0 then return {'', -3, '', 0, '', ''} end
local state = redis.call('HGET', KEYS[3], 'state') or ''
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {existing, 0, state, 0, '', ''} end
if ARGV[3] ~= '' and state ~= ARGV[3] then return {'', -1, state, 0, '', ''} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[3], 'agent') ~= ARGV[4] then return {'', -1, state, 0, '', ''} end
local customer = ARGV[7] == 'typed' or ARGV[7] == 'pressed' or ARGV[7] == 'file'
-- A closed chat stays as it ended: the customer's next words are refused, not stored (-4). The one place this
-- is enforced for a message or file (handoff.machine's docstring states the rule; apply never sees one).
if customer and state == 'closed' then return {'', -4, state, 0, '', ''} end
local notes = tonumber(redis.call('HGET', KEYS[3], 'notes') or '0')
if customer and redis.call('XLEN', KEYS[1]) - notes >= tonumber(ARGV[8]) then return {'', -2, state, 0, '', ''} end
if ARGV[7] == 'note' and notes >= tonumber(ARGV[8]) then return {'', -2, state, 0, '', ''} end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local counters = tonumber(ARGV[14])
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 19 + counters))
redis.call('HSET', KEYS[2], ARGV[1], id)
to_outbox(KEYS[6], 'fact', 'message', 'conv', ARGV[18 + counters], 'id', id, 'contact',
          (customer and redis.call('HGET', KEYS[3], 'contact_id')) or '', unpack(ARGV, 19 + counters))
if ARGV[11] ~= '' and state ~= '' and redis.call('HSETNX', KEYS[3], ARGV[11], '1') == 1 then
  for i = 18, 17 + counters do redis.call('HINCRBY', KEYS[4], ARGV[i], 1) end
  redis.call('PEXPIRE', KEYS[4], ARGV[12])
  tally_to_outbox(KEYS[6], KEYS[4], {unpack(ARGV, 18, 17 + counters)})
  redis.call('PUBLISH', ARGV[13], '{}')
end
if ARGV[7] == 'note' and state ~= '' then redis.call('HINCRBY', KEYS[3], 'notes', 1) end
if ARGV[7] == 'typed' and state ~= '' then redis.call('HSET', KEYS[3], 'last_said', ARGV[6]) end
if ARGV[7] == 'typed' and state == 'queued' then redis.call('PUBLISH', ARGV[15], ARGV[16]) end
if (ARGV[7] == 'typed' or ARGV[7] == 'pressed') and state == 'agent' then
  redis.call('HSETNX', KEYS[3], 'sla_reply_from', string.match(id, '^%d+'))
end
local untold = ''
if ARGV[17] ~= '' and customer and state == 'queued' then
  local stay = redis.call('HGET', KEYS[3], 'queued_at')
  if stay and redis.call('HEXISTS', KEYS[2], ARGV[17] .. stay) == 0 then untold = stay end
end
local leased, refused = 0, ''
if customer and (state == 'queued' or state == 'agent') then redis.call('HSET', KEYS[2], 'routed:' .. id, 'done')
elseif ARGV[9] ~= '' and state == 'bot' then
  redis.call('HSET', KEYS[2], 'routed:' .. id, 'lease:' .. (now + tonumber(ARGV[10])) .. ':' .. ARGV[9])
  leased = 1
  refused = redis.call('HGET', KEYS[3], 'refused_handoff') or ''
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
redis.call('PEXPIRE', KEYS[5], ARGV[2])
local after = last and ('"' .. last[1] .. '"') or 'null'
redis.call('PUBLISH', ARGV[5], '{"message": "' .. id .. '", "after": ' .. after .. ', "entry": ' .. ARGV[6] .. '}')
return {id, 1, state, leased, untold, refused}
"""

# The bot's answer to one customer message, stored while the bot has the conversation (-1 when it
# has moved on: a person took over while the bot was thinking, and the answer is not shown):
# ARGV[5] messages, four arguments each after ARGV[6], the conversation's id (client key, text, data JSON, the entry as
# announced), each stored once per key and announced like an append (_APPEND), at time ARGV[4] ms.
# ARGV[3], when not '', is the customer message's routing field, marked routed in the same step,
# whether or not the answer was shown. KEYS[4], the conversation's attachments, is kept as the transcript is;
# KEYS[5] is the outbox. Returns what add_messages returns.
_ANSWER = ADD_MESSAGES + """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end  -- gone (expired, forgotten): nothing written
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], 'done') end
if redis.call('HGET', KEYS[3], 'state') ~= 'bot' then return -1 end
local added = add_messages(KEYS[1], KEYS[2], ARGV[2], 'bot', ARGV[4], 7, tonumber(ARGV[5]), KEYS[5], ARGV[6])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return added
"""


def _capped_as(kind: str, data: Optional[Dict[str, Any]]) -> str:
    """_APPEND's ARGV[7]: a customer's message typed, a button pressed (its payload) or a file sent, or an
    agents' note, each under its cap; else ''."""
    if kind == NOTE_KIND:
        return "note"
    if kind != "customer":
        return ""
    if (data or {}).get("attachment"):
        return "file"
    return "pressed" if (data or {}).get("payload") else "typed"


class TranscriptStore(StoreBase):
    """A conversation's transcript: messages stored once per key and announced in the same step, and read."""

    @cached_property
    def _append(self) -> Any:
        return self.script(_APPEND)

    @cached_property
    def _answer(self) -> Any:
        return self.script(_ANSWER)

    async def append(
        self, conversation_id: str, kind: str, client_key: str, text: str = "",
        data: Optional[Dict[str, Any]] = None, only_in: Optional[State] = None, only_agent: str = "",
        lease: Optional[Tuple[str, int]] = None, count_once: Optional[Tuple[str, str, List[str]]] = None,
        told_once: str = "",
    ) -> "Appended":
        """Add a message once per ``client_key``, and say so on the conversation's live channel.

        With ``only_in`` (and ``only_agent``) the message is stored only while the
        conversation is in that state (with that agent), checked in the same step:
        a bot answer arriving after a person took over is dropped, not shown.
        ``lease`` (owner, ms): a new customer message for the bot comes with its routing
        lease (take_routing) from the same step. ``count_once`` (marker, day, fields): a new
        message counts its conversation as ``count_once`` does, in the same step. A customer's
        new message or file to a closed conversation is refused in that step too
        (ConversationClosed: the rule handoff.machine states, enforced here only); one stored before gets its id
        again. ``told_once``: the key prefix of a notice said once per stay in the queue (handoff.rules.kept_key):
        the same step says whether this stay's is stored yet (``Appended.untold_stay``), so that only the first
        message of a stay costs a read. A customer's typed or pressed message to an agent starts the reply
        clock (handoff.sla) in the same step too. With its lease comes the handoff the queue refused and keeps
        (``Appended.refused_handoff``), which goes to the bot with the message.
        """
        now = int(time.time() * 1000)
        data_json = json.dumps(data or {})
        owner, lease_ms = lease or ("", 0)
        marker, day, counters = count_once or ("", "", [])
        message_id, added, state, leased, untold, refused = await self._append(
            keys=[self.key("log", conversation_id), self.key("idem", conversation_id), self.key("conv", conversation_id),
                  self.key("day", day or "none"), self.key("files", conversation_id), self.key("outbox")],
            args=[client_key, str(self.ttl_ms), only_in.value if only_in else "", only_agent,
                  self.live_channel(conversation_id), entry_json(kind, client_key, text, data_json, now),
                  _capped_as(kind, data), str(self.max_messages), owner, str(lease_ms),
                  marker, str(DAY_TTL_MS), self.stats_channel, str(len(counters)), self.said_channel,
                  json.dumps({"said": conversation_id}), told_once, *counters, conversation_id,
                  "kind", kind, "text", text, "data", data_json, "key", client_key, "ts", str(now)],
        )
        if added == -2 and kind == NOTE_KIND:
            raise TranscriptFull(f"this conversation has {self.max_messages} notes, as many as it may keep")
        if added == -2:
            raise TranscriptFull(f"this conversation has {self.max_messages} messages, as many as it may keep; "
                                 "please start a new one")
        if added == -1:
            raise InvalidTransition("the conversation has moved on")
        if added == -3:
            raise ConversationNotFound("no such conversation (it ended and was deleted, or expired)")
        if added == -4:
            raise ConversationClosed(CLOSED_TO_CUSTOMER)
        return Appended(message_id.decode(), bool(added), State(state.decode()) if state else None, bool(leased),
                        int(untold) if untold else None, refused_handoff_of(refused))

    async def answer(self, conversation_id: str, message_id: str, replies: Sequence[Dict[str, Any]],
                     routed: bool) -> NewMessages:
        """The bot's ``replies`` to the customer's message ``message_id``, stored (once per key
        "bot:{message_id}:{n}") and announced in one step while the bot has the conversation;
        ``routed``: the message is marked routed in that step too (an answer without a handoff is
        the end of its turn). Returns those added, as the transcript reads them (the asking socket
        sends them itself); raises InvalidTransition when a person took over meanwhile (the answer
        is not shown; the message is marked routed all the same)."""
        now = int(time.time() * 1000)
        written: List[str] = []
        messages: List[StoredMessage] = []
        for index, reply in enumerate(replies):
            key, text = f"bot:{message_id}:{index}", str(reply.get("text", ""))
            data = {name: value for name, value in reply.items() if name not in ("text", "recipient_id")}
            data_json = json.dumps(data)
            written += [key, text, data_json, entry_json("bot", key, text, data_json, now)]
            messages.append({"client_id": "", "kind": "bot", "text": text, "data": data, "ts": now})
        added = await self._answer(
            keys=[self.key("log", conversation_id), self.key("idem", conversation_id), self.key("conv", conversation_id),
                  self.key("files", conversation_id), self.key("outbox")],
            args=[str(self.ttl_ms), self.live_channel(conversation_id), f"routed:{message_id}" if routed else "",
                  str(now), str(len(replies)), conversation_id, *written],
        )
        if added == -1:
            raise InvalidTransition("the conversation has moved on")
        after, *ids = (value.decode() for value in added)
        return NewMessages(after or None,
                           [{"id": new_id, **message} for new_id, message in zip(ids, messages) if new_id])

    async def answers_to(self, conversation_id: str, message_id: str, most: int = 20) -> List[StoredMessage]:
        """What is stored in answer to a customer message, in transcript order: the bot's replies
        and the notice that the bot did not answer or that the queue refused its handoff (keys "bot:{id}:{n}",
        "bot-down:{id}" and "refused:{id}")."""
        keys = [f"bot-down:{message_id}", f"refused:{message_id}",
                *(f"bot:{message_id}:{index}" for index in range(most))]
        ids = [entry_id for entry_id in await self.redis.hmget(self.key("idem", conversation_id), keys) if entry_id]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipeline:
            for entry_id in ids:
                pipeline.xrange(self.key("log", conversation_id), entry_id, entry_id)
            entries = await pipeline.execute()
        stored = [decode_message(*found[0]) for found in entries if found]
        return sorted(stored, key=lambda message: message_order(message["id"]))  # transcript order

    async def messages_after(self, conversation_id: str, last_seen: Optional[str], page: int = 500) -> List[StoredMessage]:
        """Every message after ``last_seen`` (exclusive), oldest first."""
        messages: List[StoredMessage] = []
        while True:
            start = f"({last_seen}" if last_seen else "-"
            entries = await self.redis.xrange(self.key("log", conversation_id), min=start, max="+", count=page)
            messages += [decode_message(entry_id, fields) for entry_id, fields in entries]
            if len(entries) < page:
                return messages
            last_seen = messages[-1]["id"]

    async def buttons_to_check(self, conversation_id: str, client_key: str, count: int) -> Optional[List[StoredMessage]]:
        """The ``count`` newest messages (newest first) that a button pressed with ``client_key`` is checked
        against, in one round trip; None when there is nothing to check: it was stored before (checked when
        first sent), or the conversation is closed or gone, which the append refuses, saying so."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hexists(self.key("idem", conversation_id), client_key)
            pipe.hget(self.key("conv", conversation_id), "state")
            pipe.xrevrange(self.key("log", conversation_id), count=count)
            sent, state, entries = await pipe.execute()
        if sent or state is None or state.decode() == State.CLOSED.value:
            return None
        return [decode_message(entry_id, fields) for entry_id, fields in entries]

    async def newest_messages(self, conversation_id: str, count: int) -> List[StoredMessage]:
        """The conversation's ``count`` newest messages, newest first."""
        entries = await self.redis.xrevrange(self.key("log", conversation_id), count=count)
        return [decode_message(entry_id, fields) for entry_id, fields in entries]

    async def review(self, conversation_id: str) -> Dict[str, Any]:
        """A conversation as content staff see it from their inbox: every message,
        and what agents answered (the starting point for a new FAQ answer)."""
        return review_of(conversation_id, await self.messages_after(conversation_id, None))

    @staticmethod
    def announced(payload: Dict[str, Any]) -> Optional[NewMessages]:
        """The message a live notification announces, with the id of the one before it; None for a
        notification that carries no message (a resync, a state change)."""
        if "entry" not in payload:
            return None
        return NewMessages(payload["after"], [{"id": payload["message"], **payload["entry"]}])
