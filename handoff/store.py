"""Conversations, transcripts and the queue in Redis.

Keys (``prefix`` defaults to ``hb``):

    {p}:conv:{id}    hash    state, agent, reason, handoff (JSON), version, token hash, client (the
                             address that started it; handoff.limits), left_queue ("gone": handoff.presence), times:
                             queued_at (this time in the queue), waiting_since (first queued in this
                             handoff, kept across transfers), claimed_at (when its agent took it, by the
                             same commit; the ages of chats in progress, for wait estimates); transferred_by (who transferred it
                             last, to a group's queue or a colleague; cleared by a new handoff); "request" (handoff.requests), "awaiting_reply"
                             (handoff.experience); notes: how many agents' notes the transcript has (each capped
                             apart from the customer's messages, by the append); last_said: the customer's latest typed message (JSON {text, ts, …},
                             by the append that stores it; the agents' queue shows it); transfer_note: the
                             note the last transfer carried (handoff.notes); refused_handoff: the bot's
                             payload for a handoff the queue's caps refused (JSON), the context of a request
                             left in its place (cleared by a new handoff and by that request); presence
                             ("{connected|typing|gone}|{since}"): handoff.customer_presence; agent_read: the
                             newest message id the serving agent has read (the customer's "Read" after a reload);
                             sla_first_met, sla_reply_from: the response-time clocks (handoff.sla);
                             contact_id, contact_name, contact_email (only from a verified signed identity)
                             and contact_token (the digest of the token the contact's other devices resume
                             it with): handoff.contacts; follows: the closed conversation this one
                             follows, the same browser's (handoff.earlier; set by the step that creates it,
                             which sets the closed one's followed_by: the newest that follows it)
                             Kept idle_seconds from creation; the first message or change: the retention.
    {p}:log:{id}     stream  the transcript, agents' private notes (kind "note") among its messages; each
                             entry's stream id is the server message id (at most
                             max_messages besides the notes when a customer writes, and max_messages notes; the notices that follow a state change
                             are added by the commit that stores it; also read, without the bridge, by
                             teaching.transcripts for the content staff's CLI)
    {p}:files:{id}   hash    the conversation's attachments (handoff.attachments): "{file}:meta" (JSON: id,
                             type, name, size, width, height), "{file}:body" (the bytes) and "bytes" (the
                             bytes of its files, against its budget); kept as long as the transcript that
                             refers to them (the scripts that keep the transcript keep it)
    {p}:files-bytes:{day}  string  the bytes of files kept on this UTC day (day number since 1970), in all,
                             against HANDOFF_MAX_FILE_BYTES_PER_DAY; expires after two days
    {p}:kept-notice:{id}  string  set (with the file's message id) when a file sent to the bot got the
                             ``attachment_kept`` notice; expires after 5 minutes: no notice again before
    {p}:files-bytes:{day}:{address}  string  the same for one customer client address (an IPv6 /64),
                             against HANDOFF_MAX_FILE_BYTES_PER_ADDRESS_PER_DAY; expires after two days
    {p}:window:uploads:{who}:{n} string  attachments uploaded in window n (10 minutes) by a conversation's
                             customer ("conv-{id}"), an agent ("agent-{name}") or a client address
    {p}:idem:{id}    hash    client idempotency key -> stream id (a retried send is stored once; a file's
                             keys, "file:customer:{id}" and "file:agent:{name}:{id}", are apart from texts');
                             "routed:{stream id}" -> "done", or "lease:{until, ms}:{owner}" while a
                             process routes it; "leave:{client id}" -> the request left (handoff.requests);
                             "privacy" -> the privacy notice's stream id: the customer was told (handoff.privacy);
                             "kept:{queued_at}" -> that wait's kept_for_person notice (handoff.rules)
    {p}:queue        zset    queued conversation ids, scored by time queued (front = oldest)
    {p}:queue:{group} zset   the same, one per skill group (changed in the same step as {p}:queue)
    {p}:queue-priority set   queued conversations handed over for distress: each goes to the front of its
                             group, behind the earlier ones (its score between theirs and the next's)
    {p}:claims:{group} zset  "{id}:{claimed at}:{pickup ms}" scored by claim time (ms): the group's
                             claims of the last half hour, for wait estimates (handoff.estimate); pickup:
                             from when the agent could have taken the customer to the claim
    {p}:exits:{group} zset   "{id}:{left at}:{waited ms}:{claimed|gave_up}" scored by when the customer left
                             the group's queue (ms), claimed or given up (a request left instead, back to the
                             bot, gone): the last half hour, for the give-up rate of wait estimates
    {p}:agent-ready  hash    agent -> when they last took or finished a chat (ms; by the same commit) or
                             came online (a console connecting): from then on a free slot of theirs is a
                             pickup under way (handoff.estimate)
    {p}:handling     list    recent handling times (ms), claim to close, hand back, transfer or lost agent
                             (pushed by the commit that ends it); newest first
    {p}:ratings      stream  CSAT ratings
    {p}:outbox       stream  the archive's outbox (archive/; only while HANDOFF_OUTBOX_MAX_LENGTH > 0, which
                             DATABASE_URL turns on): every fact a script stores, appended by that script in the
                             same step: "message" (each transcript entry, by _APPEND and add_messages), "state"
                             (each committed change, with the conversation's fields after it: _COMMIT),
                             "labels" (handoff.labels), "contact" (a conversation's first link to its signed
                             customer: handoff.contacts) and "request" (a callback or message request stored:
                             handoff.requests), and what adds to the day's counters and lists
                             below: "tally" (the counts a step added, by the same script or transaction:
                             Store.count, count_once, _APPEND, _COMMIT, handoff.sla) and "sample" (a time
                             pushed on a day's list: Store.record_day_sample), for the reports (handoff.reports);
                             format: archive/facts.py. Consumer group "archive";
                             trimmed by the archivers below what every group acknowledged, capped (MAXLEN ~)
    {p}:forget-audit stream  every forget of a customer and every archive retention sweep (handoff.forget,
                             archive.forget): who, at (ms), what, counts (JSON); never an id, name or text
    {p}:requests     stream  callbacks and messages customers left instead of waiting, each with the
                             handoff payload it stands for (field ``handoff``, JSON; handoff.requests)
    {p}:request-state:{id} hash  what became of a request: done or answered (by an agent), cancelled (by its customer) (handoff.requests)
    {p}:request-assignee:{id} hash  the agent a request is assigned to, by whom, when (handoff.request_assignment)
    {p}:serving:{agent} set  conversations an agent is serving
    {p}:agents-serving set   agents whose serving set is not empty (kept by the same commit; filled
                             from the serving sets when a process starts, for data from before it)
    {p}:agents       hash    agent accounts (handoff.auth; read here for the agents' groups and max_chats)
    {p}:mentions:{agent} hash conversation -> the agent's latest @mention in it (handoff.notes)
    {p}:online       zset    "{agent}|{connection}" -> presence expiry (ms); refreshed while connected
    {p}:agent-status hash    agent -> "{available|away|offline}|{since}" (handoff.agentstatus); the wait
                             estimates count only the agents online and not away
    {p}:offline-since hash   agent -> when their last connection went (for the grace period)
    {p}:assign-mode  hash    skill group -> "automatic" (no field: manual); handoff.assignment
    {p}:offers       hash    conversation -> "{agent}|{expires}|{offered at}|{held}": automatic assignment's
                             offers, made and withdrawn by one Lua round (handoff.assignment)
    {p}:passed:{id}  zset    agents who passed on the conversation's offer -> when (handoff.assignment)
    {p}:day:{date}   hash    the day's counters for the supervisors' dashboard (handoff.dashboard; per agent:
                             handoff.agent_figures); "sla:…": response-time breaches per kind, group and agent
                             (handoff.sla); "abandoned-group:{group}": a group's abandoned waits (handoff.experience)
    {p}:day-waits:{date} list every wait (ms) from queued to claimed that day
    {p}:day-abandoned:{date}, {p}:day-first-response:{date}  lists  (handoff.experience)
    {p}:day-agent-first-response:{date}, {p}:day-agent-handling:{date}  lists  (handoff.experience)
    {p}:stats:handoffs hash  reason -> handoffs from the bot to people (all days, for /metrics)
    {p}:stats:abandoned, {p}:stats:requeues  hashes  (handoff.experience, for /metrics)
    {p}:stats:closing hash   "disposition:{name}" -> conversations closed so (by the close's commit),
                             "label:{id}" -> labels put on conversations (all days, for /metrics);
                             "agent:{name}:taken|closed" too (the commit counts in both hashes; /metrics
                             reads only dispositions and labels)
    {p}:labels       hash    the label set: id -> {name, colour} (handoff.labels); a conversation's labels
                             are its hash's "labels" field (ids, comma-separated; a new handoff starts
                             without, a transfer keeps them), "labelled:{day}:{id}" marks a label counted that day; "disposition", "closing_note": its last close's,
                             "closed_at" (ms, by the commit that closes) and "rating" (JSON {score, comment}, by
                             the commit that rates; a read-only view of a closed chat shows them)
    {p}:contact:{contact id} hash  a customer known by a signed identity (handoff.contacts): name, email
                             (as last signed), first_seen, last_seen (ms), note, note_by, note_at (the agents'
                             note about them); kept the retention after last_seen
    {p}:contact-convs:{contact id} zset  the contact's conversations -> when each started (ms), kept as the
                             contact is; one Redis no longer keeps leaves it when the list is read (handoff.history)
    {p}:canned       hash    canned responses: shortcut -> {title, text} (handoff.canned); {p}:canned-seeded
                             marks that the file's set was loaded once
    {p}:suggest-pending list  customer message -> agent reply pairs of chats an agent's part of ended, JSON
                             {id, customer, reply}, waiting to be relayed to the bot's suggestion index
                             (handoff.suggestions; at most 1,000, the oldest go)
    {p}:mail:{id}, {p}:mail-outbox, {p}:mail-lock:{id}, {p}:mail-day:…  transcripts by email: the
                             conversation's one mail, the outbox every process sends from, the day's caps
                             (handoff.mail lists them)
    {p}:answer-mail:{request id}, {p}:answer-mail-lock:{request id}  a message request's answer by email,
                             sent from the same outbox (handoff.answer_mail lists them)
    {p}:workspace-events pub/sub the label set or the canned responses changed ({"labels": 1}, {"canned": 1})
    {p}:slots, {p}:slots:{address}, {p}:staff-slots, {p}:staff-slots:{address},
    {p}:window:{what}:{address}:{n}  the caps (handoff.limits; an IPv6 address: its network)
    {p}:customers-seen zset  conversation -> when its customer was last connected (handoff.presence)
    {p}:customer-sockets:{id} zset  the customer's open sockets in every process -> until when each counts
                             (ms), renewed by its process while still there (ZADD XX: never re-added)
    {p}:live:{id}    pub/sub "something new in this conversation" for every bridge process
    {p}:queue-events pub/sub "the queue changed" (agents, supervisors and queued customers listen); also a
                             group's assignment mode ({"assignment": group}, handoff.assignment)
    {p}:queue-said   pub/sub what changed on a queued conversation's card, for agents' sockets only:
                             {"said": id} a queued customer wrote (its last_said changed; announced by the
                             append that stores it), {"labelled": id} its labels changed (handoff.labels)
    {p}:stats-events pub/sub "the day's counters changed" (also the open offers: handoff.assignment)
    {p}:agent-events:{agent} pub/sub  for one agent's sockets: a chat assigned to them ({"assigned": id}; "by": the
                             supervisor, when one did), a request assigned to them ({"request_assigned": id, "by"},
                             handoff.request_assignment), an offer
                             of theirs made, accepted or withdrawn ({"offers": id}, handoff.assignment),
                             an @mention ({"mentioned": id}) or one seen in another tab (handoff.notes),
                             their status set in another console ({"status": …}, handoff.agentstatus)
    {p}:presence-events pub/sub "a queued customer's presence changed" (handoff.customer_presence)

Multi-key changes are Lua scripts, so they are atomic even with several
bridge processes: a state change is a compare-and-set on ``version`` that
updates the queues (and records an agent's handling time) in the same step,
and writes what follows it in that step too: its notices to the transcript
(and their keys to the idempotency hash) and the announcements on
``{p}:live:{id}`` and ``{p}:queue-events``; an append checks the idempotency
key and adds to the stream in the same step (a new customer message for the
bot takes its routing lease in it too), and the bot's answer to a message is
stored, announced and the message marked routed in one step: a bot turn is
two round trips (tests/handoff/test_turn_cost.py).
"""

from __future__ import annotations

import bisect
import enum
import hashlib
import json
import time
from dataclasses import replace
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from archive.facts import SNAPSHOT_FIELDS
from handoff.agentstatus import available_only, parse as parse_status
from handoff.auth import profile_from_record
from handoff.estimate import WINDOW_SECONDS
from handoff.exceptions import (
    AgentAtLimit, ConversationClosed, ConversationNotFound, InvalidTransition, LimitReached, TranscriptFull,
)
from handoff.machine import CLOSED_TO_CUSTOMER, Conversation, Notice, State
from handoff.mentions import NOTE_KIND
from handoff.routing import ALL_GROUPS
from teaching.transcripts import review_of

__all__ = ["LUA_NOW_MS", "Appended", "GroupFigures", "NewMessages", "Routing", "Store", "StoredMessage", "Waiting",
           "last_message", "message_order"]

StoredMessage = Dict[str, Any]
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

# ARGV[5] is the conversation's live channel: the new message is announced in the same step,
# with the id of the message before it and ARGV[6], the message itself (JSON, without its id).
# ARGV[7] = 'typed' or 'pressed' for a customer's message: stored while people have the conversation, it stays
# with people (machine.apply: nothing to route), so it is marked routed in the same step; it is
# refused (-2) when the transcript already has ARGV[8] messages besides the agents' notes. ARGV[7] = 'note'
# for an agents' note: refused (-2) when the conversation has ARGV[8] notes (its field "notes" counts them).
# Both caps are checked after the idempotency key: a message resent after its cap gets its id. ARGV[9], when not '', takes the
# routing lease of a new customer message the bot is to answer (owner ARGV[9], ARGV[10] ms: _TAKE_ROUTING)
# in the same step: nobody else can hold it yet. ARGV[11], when not '', counts the conversation once
# (_COUNT_ONCE's marker) in the day's counters KEYS[4] (ARGV[12] ms to keep them): the ARGV[14] fields
# after ARGV[16], announced on ARGV[13]. Returns the message's id, 1 when added (0: stored before, -1: not
# in the state asked for), the state it was stored in, and 1 when its lease was taken.
# ARGV[7] = 'file' for a customer's attachment (handoff.attachments): capped and routed like a typed message,
# never leased (no bot reads it), not last_said. KEYS[5], the conversation's attachments, is kept as the
# transcript is.
# A customer's typed message (not a pressed button: ARGV[7] = 'typed') is also the conversation's
# last_said (its text and time, JSON: ARGV[6]'s), which the agents' queue shows: written while they
# wait, it is announced (ARGV[16]) on the agents' channel ARGV[15] in the same step.
# ARGV[17 + ARGV[14]] is the conversation's id; the message's fields follow it: the message goes to the outbox
# KEYS[6] too (with the conversation's signed customer, "contact_id", for a customer's).
_APPEND = LUA_NOW_MS + """
-- A conversation that is gone (expired, or erased by a forget: handoff.forget) gets nothing written: -3.
if redis.call('EXISTS', KEYS[3]) == 0 then return {'', -3, '', 0} end
local state = redis.call('HGET', KEYS[3], 'state') or ''
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {existing, 0, state, 0} end
if ARGV[3] ~= '' and state ~= ARGV[3] then return {'', -1, state, 0} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[3], 'agent') ~= ARGV[4] then return {'', -1, state, 0} end
local customer = ARGV[7] == 'typed' or ARGV[7] == 'pressed' or ARGV[7] == 'file'
-- A closed chat stays as it ended: the customer's next words are refused, not stored (-4). The one place this
-- is enforced for a message or file (handoff.machine's docstring states the rule; apply never sees one).
if customer and state == 'closed' then return {'', -4, state, 0} end
local notes = tonumber(redis.call('HGET', KEYS[3], 'notes') or '0')
if customer and redis.call('XLEN', KEYS[1]) - notes >= tonumber(ARGV[8]) then return {'', -2, state, 0} end
if ARGV[7] == 'note' and notes >= tonumber(ARGV[8]) then return {'', -2, state, 0} end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local counters = tonumber(ARGV[14])
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 18 + counters))
redis.call('HSET', KEYS[2], ARGV[1], id)
to_outbox(KEYS[6], 'fact', 'message', 'conv', ARGV[17 + counters], 'id', id, 'contact',
          (customer and redis.call('HGET', KEYS[3], 'contact_id')) or '', unpack(ARGV, 18 + counters))
if ARGV[11] ~= '' and state ~= '' and redis.call('HSETNX', KEYS[3], ARGV[11], '1') == 1 then
  for i = 17, 16 + counters do redis.call('HINCRBY', KEYS[4], ARGV[i], 1) end
  redis.call('PEXPIRE', KEYS[4], ARGV[12])
  tally_to_outbox(KEYS[6], KEYS[4], {unpack(ARGV, 17, 16 + counters)})
  redis.call('PUBLISH', ARGV[13], '{}')
end
if ARGV[7] == 'note' and state ~= '' then redis.call('HINCRBY', KEYS[3], 'notes', 1) end
if ARGV[7] == 'typed' and state ~= '' then redis.call('HSET', KEYS[3], 'last_said', ARGV[6]) end
if ARGV[7] == 'typed' and state == 'queued' then redis.call('PUBLISH', ARGV[15], ARGV[16]) end
local leased = 0
if customer and (state == 'queued' or state == 'agent') then redis.call('HSET', KEYS[2], 'routed:' .. id, 'done')
elseif ARGV[9] ~= '' and state == 'bot' then
  redis.call('HSET', KEYS[2], 'routed:' .. id, 'lease:' .. (now + tonumber(ARGV[10])) .. ':' .. ARGV[9])
  leased = 1
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
redis.call('PEXPIRE', KEYS[5], ARGV[2])
local after = last and ('"' .. last[1] .. '"') or 'null'
redis.call('PUBLISH', ARGV[5], '{"message": "' .. id .. '", "after": ' .. after .. ', "entry": ' .. ARGV[6] .. '}')
return {id, 1, state, leased}
"""

# Lua shared by the scripts that store messages the bridge writes itself (_ANSWER, _COMMIT), each also to
# the ``outbox`` as a message of ``conversation``: ``count``
# messages of ``kind`` from ARGV[first] on, four arguments each (client key, text, data JSON, the entry as
# announced), each stored once per key in the transcript ``log`` (idempotency hash ``idem``) and announced
# on ``channel`` like an append (_APPEND), at time ``ts``. Returns the id of the message before the first
# one added ('' for none) and then, for each message, its new id ('' when it was stored before): what
# one script adds follows on in the transcript, so a socket in step can send it without reading it.
_ADD_MESSAGES = """
local function add_messages(log, idem, channel, kind, ts, first, count, outbox, conversation)
  local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  last = last and last[1]
  local added = {last or ''}
  for i = first, first - 1 + 4 * count, 4 do
    local id = ''
    if not redis.call('HGET', idem, ARGV[i]) then
      id = redis.call('XADD', log, '*', 'kind', kind, 'text', ARGV[i + 1], 'data', ARGV[i + 2],
                      'key', ARGV[i], 'ts', ts)
      redis.call('HSET', idem, ARGV[i], id)
      to_outbox(outbox, 'fact', 'message', 'conv', conversation, 'id', id, 'kind', kind, 'text', ARGV[i + 1],
                'data', ARGV[i + 2], 'key', ARGV[i], 'ts', ts)
      local after = last and ('"' .. last .. '"') or 'null'
      redis.call('PUBLISH', channel, '{"message": "' .. id .. '", "after": ' .. after .. ', "entry": ' .. ARGV[i + 3] .. '}')
      last = id
    end
    added[#added + 1] = id
  end
  return added
end
"""

# The bot's answer to one customer message, stored while the bot has the conversation (-1 when it
# has moved on: a person took over while the bot was thinking, and the answer is not shown):
# ARGV[5] messages, four arguments each after ARGV[6], the conversation's id (client key, text, data JSON, the entry as
# announced), each stored once per key and announced like an append (_APPEND), at time ARGV[4] ms.
# ARGV[3], when not '', is the customer message's routing field, marked routed in the same step,
# whether or not the answer was shown. KEYS[4], the conversation's attachments, is kept as the transcript is;
# KEYS[5] is the outbox. Returns what add_messages returns.
_ANSWER = _ADD_MESSAGES + """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end  -- gone (expired, forgotten): nothing written
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], 'done') end
if redis.call('HGET', KEYS[3], 'state') ~= 'bot' then return -1 end
local added = add_messages(KEYS[1], KEYS[2], ARGV[2], 'bot', ARGV[4], 7, tonumber(ARGV[5]), KEYS[5], ARGV[6])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return added
"""

# KEYS[1] an agent's serving set, KEYS[2] agents-serving; ARGV[1] a conversation it no longer
# serves ('' for none), ARGV[2] the agent: the agent is listed exactly while its set is not empty.
_SYNC_SERVING = """
if ARGV[1] ~= '' then redis.call('SREM', KEYS[1], ARGV[1]) end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2])
else redis.call('SADD', KEYS[2], ARGV[2]) end
"""

# KEYS[1] the new conversation's hash, KEYS[2] the closed one it follows (a never-used key without one); ARGV[1]
# the new one's id, ARGV[2] how long an idle new conversation is kept (ms), then its fields (name, value, ...).
# The closed one is told the newest that follows it ("followed_by", handoff.earlier) only while Redis keeps it: a
# hash that expired meanwhile is not made again.
_CREATE = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'followed_by', ARGV[1]) end
"""

_COMMIT = _ADD_MESSAGES + """
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
-- transcript KEYS[11] (idempotency hash KEYS[12]) and announced like an append (_APPEND).
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

# Counts a conversation once (a marker field in its hash) in the day's counters.
_COUNT_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 0 then return 0 end
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
tally_to_outbox(KEYS[3], KEYS[2], {unpack(ARGV, 3)})
return 1
"""
def _keep_for_window(pipe: Pipeline, key: str, member: str, at: int) -> None:
    """Adds to a zset of the estimate's window (by time, ms) and drops what has left the window."""
    pipe.zadd(key, {member: at})
    pipe.zremrangebyscore(key, 0, at - WINDOW_SECONDS * 1000)
    pipe.pexpire(key, WINDOW_SECONDS * 1000)


# Handling times kept for wait estimates (the newest).
RECENT_HANDLING = 50
# What a customer's status is made from (Store.load_waiting): not the handoff payload, which is
# kilobytes and read for every waiting customer at every change of the queue otherwise; with the
# request left and whether the customer was sent away from the queue, which a status with the bot shows.
STATUS_FIELDS = ["state", "version", "agent", "reason", "group", "rated", "waiting_since", "queued_at", "request",
                 "left_queue"]
# The fields of Store.times.
TIMES = ["queued_at", "waiting_since", "claimed_at"]
# Day counters are kept this long (for a month-over-month look).
DAY_TTL_MS = 40 * 24 * 3600 * 1000
MAX_WAITS_PER_DAY = 100_000


def _stream_order(message_id: str) -> Tuple[int, int]:
    """A stream id ("ms-seq") as a sortable pair."""
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


class GroupFigures(NamedTuple):
    """What the wait estimates of one skill group's customers share (Store.group_figures)."""

    head_queued_ms: Optional[float]  # when the first of the group was queued
    waiting: Dict[str, int]  # customers waiting by group ("all": every group) the online agents take
    claims: List[Tuple[float, float]]  # (claimed at, pickup delay) in ms, of the group, oldest first
    handling_ms: List[int]  # newest first
    agents: Dict[str, Tuple[List[str], int, int]]  # agent online -> (groups, max_chats, serving)
    ready_ms: Dict[str, float]  # agent online -> when they last took or finished a chat or came online
    exits: List[Tuple[float, float, bool]]  # (left the queue at, waited) in ms, gave up: of the group
    positions: Dict[str, int]  # conversation queued in the group -> its place (1 = next)
    # By place: when the one of places 1..place who has waited longest started waiting (their true wait: a
    # customer transferred or put back at the front keeps theirs, which their place in the queue does not show).
    earliest_since_ms: List[float]
    # Agent online -> when each chat they serve now was taken (claimed_at, ms); an agent missing: not read.
    started_ms: Dict[str, List[float]] = {}
    # The queue scores (places in the whole queue's order), lowest first, by group as in ``waiting``.
    scores: Dict[str, List[float]] = {}

    def ahead_since_ms(self, position: Optional[int]) -> Optional[float]:
        """When the one ahead of ``position`` who has waited longest started waiting (None: nobody ahead)."""
        if not position or position < 2 or position - 2 >= len(self.earliest_since_ms):
            return None
        return self.earliest_since_ms[position - 2]

    def ahead(self, group: str, position: Optional[int]) -> Optional[Dict[str, int]]:
        """Customers queued at or before the one at ``position`` of ``group``, by group as in ``waiting``: an
        agent's free slot takes the oldest it sees, so these come first (None: not among those read)."""
        own = self.scores.get(group, [])
        if not position or position > len(own):
            return None
        return {name: bisect.bisect_right(scores, own[position - 1]) for name, scores in self.scores.items()}


class Waiting(NamedTuple):
    """A conversation (without its handoff payload) and, when queued, what its wait estimate is
    made from (handoff.estimate.snapshot)."""

    conversation: Conversation
    position: Optional[int]  # in its skill group, 1 = next; None when not in the queue
    head_queued_ms: Optional[float]  # when the first of its group was queued
    ahead_since_ms: Optional[float]  # when the one ahead who has waited longest started waiting (GroupFigures)
    waiting_since_ms: float
    waiting: Dict[str, int]  # customers waiting by group ("all": every group) the online agents take
    claims: List[Tuple[float, float]]  # (claimed at, pickup delay) in ms, of its group, oldest first
    handling_ms: List[int]  # newest first
    agents: Dict[str, Tuple[List[str], int, int]]  # agent online -> (groups, max_chats, serving)
    ready_ms: Dict[str, float]  # agent online -> when they last took or finished a chat or came online
    exits: List[Tuple[float, float, bool]]  # (left the queue at, waited) in ms, gave up: of its group
    request_id: str = ""  # the last request left in the conversation (handoff.requests), "" for none
    left_queue: bool = False  # taken out of the queue for being away (mark_left_queue), until queued again
    # Agent online -> when each chat they serve now was taken (claimed_at, ms); an agent missing: not read.
    started_ms: Dict[str, List[float]] = {}
    # Customers queued at or before this one, by group as in ``waiting`` (GroupFigures.ahead; None: not read).
    ahead: Optional[Dict[str, int]] = None


class NewMessages(NamedTuple):
    """Messages just stored, in transcript order with nothing between them, and the id of the message
    before the first (None: they are the first): a socket that has sent exactly up to ``after`` sends
    them as they are (Connection.deliver), any other reads the transcript."""

    after: Optional[str]
    messages: List[StoredMessage]


def message_order(message_id: str) -> Tuple[int, int]:
    """A message id's place in its transcript (stream ids "{ms}-{n}" grow with every message)."""
    milliseconds, _, sequence = message_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class Appended(NamedTuple):
    id: str
    added: bool  # False: a retry of a message stored before
    # Who the conversation was with when the message was stored (None: it has expired).
    state: Optional[State]
    leased: bool = False  # its routing lease was taken with it (Store.append's ``lease``)


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


def _client_id(kind: str, key: str) -> str:
    """The id a customer or agent sent with their message, file or note (keys are "customer:{id}",
    "agent:{name}:{id}", "note:{name}:{id}", and for a file "file:" before the first two)."""
    key = key.removeprefix("file:")
    if kind == "customer":
        return key.partition(":")[2]
    if kind in ("agent", "note"):
        return key.split(":", 2)[-1]
    return ""


def _entry_json(kind: str, client_key: str, text: str, data_json: str, now: int) -> str:
    """A new message as its announcement carries it (as messages_after() reads it, but for its id),
    around its data already encoded for the stream."""
    return (f'{{"client_id": {json.dumps(_client_id(kind, client_key))}, "kind": {json.dumps(kind)}, '
            f'"text": {json.dumps(text)}, "data": {data_json}, "ts": {now}}}')


def _agent_names(presence: List[bytes]) -> List[str]:
    """Online agents from the presence entries ("{agent}|{connection}")."""
    return sorted({member.decode().split("|", 1)[0] for member in presence})


def last_message(stored: Optional[str]) -> Optional[Dict[str, Any]]:
    """What the customer typed last (a conversation's ``last_said``), as agents see it: ``{text, ts}``;
    None before they typed anything (a pressed button is not a message)."""
    if not stored:
        return None
    said = json.loads(stored)
    return {"text": said["text"], "ts": said["ts"]}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Routing(enum.Enum):
    """Who routes a stored customer message (to the bot, or to the person serving)."""

    TAKEN = 1  # this caller: route it, then call routed()
    RETAKEN = 2  # this caller, after a holder that stopped renewing (killed): what it stored stays
    DONE = 0  # routed already
    HELD = -1  # another caller is routing it right now (its lease has not run out)


class Store:
    """All bridge state; one instance per process around one Redis client."""

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
        self._append = self.script(_APPEND)
        self._answer = self.script(_ANSWER)
        self._commit = self.script(_COMMIT)
        self._sync_serving = redis.register_script(_SYNC_SERVING)
        self._create = redis.register_script(_CREATE)
        self._count_once = self.script(_COUNT_ONCE)
        self._take_routing = redis.register_script(_TAKE_ROUTING)
        self._keep_routing = redis.register_script(_KEEP_ROUTING)
        self._routed = redis.register_script(_ROUTED)

    def script(self, lua: str) -> Any:
        """A Lua script that may write facts to the outbox (``to_outbox``, _OUTBOX), registered."""
        return self.redis.register_script(f"local outbox_cap = {int(self.outbox_cap)}\n" + _OUTBOX + lua)

    # ---- keys ---------------------------------------------------------------

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

    # ---- conversations ------------------------------------------------------

    async def create(self, conversation_id: str, customer_token: str, client: str = "",
                     follows: Optional[str] = None) -> Conversation:
        """A new conversation, kept only ``idle_ms`` until its first message or state change; ``follows``: the
        closed one it follows (handoff.earlier), linked both ways in the same step (``followed_by``)."""
        now = str(int(time.time() * 1000))
        fields = {"state": State.BOT.value, "version": "0", "token": token_digest(customer_token),
                  "created": now, "handoff": "{}", "client": client}
        if follows is not None:
            fields["follows"] = follows
        await self._create(keys=[self.key("conv", conversation_id),
                                 self.key("conv", follows) if follows is not None else self.key("follows-none")],
                           args=[conversation_id, str(self.idle_ms), *(item for pair in fields.items() for item in pair)])
        return Conversation(conversation_id)

    async def load(self, conversation_id: str) -> Conversation:
        fields = await self.redis.hgetall(self.key("conv", conversation_id))
        if not fields:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        return self._conversation(conversation_id, {k.decode(): v.decode() for k, v in fields.items()})

    async def load_with_details(
        self, conversation_ids: List[str]
    ) -> Dict[str, Tuple[Conversation, Dict[str, str], Dict[str, str]]]:
        """Conversations, what their customers told us while waiting, and since when they wait, who
        transferred them, what the customer said last (``last_said``), its labels, a signed customer's name
        (``contact_name``) and the closed chat it follows (``follows``), in one round trip (the queue view reads every queued one); those that
        expired are left out."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hgetall(self.key("conv", conversation_id))
            replies = await pipe.execute()
        loaded = {}
        for conversation_id, fields in zip(conversation_ids, replies):
            if fields:
                text = {k.decode(): v.decode() for k, v in fields.items()}
                details = json.loads(text.get("details") or "{}")
                waits = {name: text[name]
                         for name in ("waiting_since", "transferred_by", "last_said", "labels", "presence",
                                      "sla_first_met", "sla_reply_from", "contact_name", "follows")
                         if text.get(name)}
                loaded[conversation_id] = (self._conversation(conversation_id, text), details, waits)
        return loaded

    @staticmethod
    def _conversation(conversation_id: str, text: Dict[str, str]) -> Conversation:
        return Conversation(
            id=conversation_id,
            state=State(text["state"]),
            agent=text.get("agent") or None,
            reason=text.get("reason") or None,
            handoff=json.loads(text.get("handoff") or "{}"),
            group=text.get("group") or "general",
            rated=text.get("rated") == "1",
            version=int(text["version"]),
        )

    async def token_matches(self, conversation_id: str, token: str) -> bool:
        """The customer's own token, or (a signed contact's conversation) the one their other devices got."""
        digest = token_digest(token)
        stored = await self.redis.hmget(self.key("conv", conversation_id), ["token", "contact_token"])
        return any(value is not None and value.decode() == digest for value in stored)

    async def follows(self, conversation_id: str) -> Optional[str]:
        """The closed conversation this one follows (handoff.earlier); None: none, or this one is gone."""
        value = await self.redis.hget(self.key("conv", conversation_id), "follows")
        return value.decode() if value else None

    async def followed_by(self, conversation_id: str) -> Optional[str]:
        """The newest conversation that follows this closed one (handoff.earlier); None: none."""
        value = await self.redis.hget(self.key("conv", conversation_id), "followed_by")
        return value.decode() if value else None

    async def last_said(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """What the customer typed last in the conversation, as agents see it (``last_message``)."""
        value = await self.redis.hget(self.key("conv", conversation_id), "last_said")
        return last_message(value.decode() if value else None)

    async def mark_left_queue(self, conversation_id: str) -> None:
        """The customer was taken out of the queue for being away (their status says so until queued again)."""
        await self.redis.hset(self.key("conv", conversation_id), "left_queue", "gone")

    async def client(self, conversation_id: str) -> str:
        """The address that started the conversation (handoff.limits counts its queue entries)."""
        value = await self.redis.hget(self.key("conv", conversation_id), "client")
        return value.decode() if value else ""

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
            written += [notice.key, notice.text, data_json, _entry_json("system", notice.key, notice.text, data_json, now)]
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

    # ---- transcript ---------------------------------------------------------

    def _serving_key(self, conversation: Conversation) -> str:
        """The agent's serving set when an agent serves it; a never-used key otherwise."""
        if conversation.state is State.AGENT and conversation.agent:
            return self.key("serving", conversation.agent)
        return self.key("serving-none")

    async def append(
        self, conversation_id: str, kind: str, client_key: str, text: str = "",
        data: Optional[Dict[str, Any]] = None, only_in: Optional[State] = None, only_agent: str = "",
        lease: Optional[Tuple[str, int]] = None, count_once: Optional[Tuple[str, str, List[str]]] = None,
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
        again.
        """
        now = int(time.time() * 1000)
        data_json = json.dumps(data or {})
        owner, lease_ms = lease or ("", 0)
        marker, day, counters = count_once or ("", "", [])
        message_id, added, state, leased = await self._append(
            keys=[self.key("log", conversation_id), self.key("idem", conversation_id), self.key("conv", conversation_id),
                  self.key("day", day or "none"), self.key("files", conversation_id), self.key("outbox")],
            args=[client_key, str(self.ttl_ms), only_in.value if only_in else "", only_agent,
                  self.live_channel(conversation_id), _entry_json(kind, client_key, text, data_json, now),
                  _capped_as(kind, data), str(self.max_messages), owner, str(lease_ms),
                  marker, str(DAY_TTL_MS), self.stats_channel, str(len(counters)), self.said_channel,
                  json.dumps({"said": conversation_id}), *counters, conversation_id,
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
        return Appended(message_id.decode(), bool(added), State(state.decode()) if state else None, bool(leased))

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
            written += [key, text, data_json, _entry_json("bot", key, text, data_json, now)]
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
        stored = [self._decode(*found[0]) for found in entries if found]
        return sorted(stored, key=lambda message: message_order(message["id"]))  # transcript order

    async def messages_after(self, conversation_id: str, last_seen: Optional[str], page: int = 500) -> List[StoredMessage]:
        """Every message after ``last_seen`` (exclusive), oldest first."""
        messages: List[StoredMessage] = []
        while True:
            start = f"({last_seen}" if last_seen else "-"
            entries = await self.redis.xrange(self.key("log", conversation_id), min=start, max="+", count=page)
            messages += [self._decode(entry_id, fields) for entry_id, fields in entries]
            if len(entries) < page:
                return messages
            last_seen = messages[-1]["id"]

    async def newest_messages(self, conversation_id: str, count: int) -> List[StoredMessage]:
        """The conversation's ``count`` newest messages, newest first."""
        entries = await self.redis.xrevrange(self.key("log", conversation_id), count=count)
        return [self._decode(entry_id, fields) for entry_id, fields in entries]

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

    @staticmethod
    def _decode(entry_id: bytes, fields: Dict[bytes, bytes]) -> StoredMessage:
        text = {k.decode(): v.decode() for k, v in fields.items()}
        return {
            "id": entry_id.decode(),
            "client_id": _client_id(text["kind"], text.get("key", "")),
            "kind": text["kind"],
            "text": text["text"],
            "data": json.loads(text["data"]),
            "ts": int(text["ts"]),
        }

    # ---- queue --------------------------------------------------------------

    async def queue(self) -> List[Tuple[str, float]]:
        """(conversation id, queued at in ms), oldest first."""
        entries = await self.redis.zrange(self.key("queue"), 0, -1, withscores=True)
        return [(member.decode(), score) for member, score in entries]

    async def forget_queued(self, conversation_id: str, groups: Set[str]) -> bool:
        """Takes an expired conversation out of the queue and out of every group's queue it may be in;
        False when another process took it out first."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.key("queue"), conversation_id)
            pipe.srem(self.key("queue-priority"), conversation_id)
            for group in groups:
                pipe.zrem(self.key("queue", group), conversation_id)
            removed = await pipe.execute()
        return bool(removed[0])

    async def ready_since(self, agent: str) -> Optional[int]:
        """When the agent last took a chat or finished one (None: not since the key's creation)."""
        value = await self.redis.hget(self.key("agent-ready"), agent)
        return int(value) if value else None

    async def record_claim(self, group: str, conversation_id: str, claimed_at: int, pickup_ms: int,
                           waited_ms: int) -> None:
        """A claim of the group, how long its agent took to pick the customer up and how long the
        customer had waited, kept for the estimate's window (older ones go in the same step)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            _keep_for_window(pipe, self.key("claims", group), f"{conversation_id}:{claimed_at}:{pickup_ms}",
                                  claimed_at)
            _keep_for_window(pipe, self.key("exits", group), f"{conversation_id}:{claimed_at}:{waited_ms}:claimed",
                                  claimed_at)
            await pipe.execute()

    async def record_give_up(self, group: str, conversation_id: str, left_at: int, waited_ms: int) -> None:
        """A customer of the group who left the queue unserved, for the estimate's give-up rate."""
        async with self.redis.pipeline(transaction=True) as pipe:
            _keep_for_window(pipe, self.key("exits", group), f"{conversation_id}:{left_at}:{waited_ms}:gave_up",
                                  left_at)
            await pipe.execute()


    async def save_agent_read(self, conversation_id: str, up_to: str) -> None:
        """The agent's read receipt, kept for the customer's next hello: only ever forward (the newest
        receipt of the agent's consoles). One conversation's own field: a lost race keeps a receipt
        one message older, which the next receipt corrects."""
        key = self.key("conv", conversation_id)
        before = await self.redis.hget(key, "agent_read")
        if before is None or _stream_order(up_to) > _stream_order(before.decode()):
            await self.redis.hset(key, "agent_read", up_to)

    async def agent_read(self, conversation_id: str) -> Optional[str]:
        value = await self.redis.hget(self.key("conv", conversation_id), "agent_read")
        return value.decode() if value else None

    async def times(self, conversation_id: str) -> Dict[str, int]:
        """When the conversation was queued (this time), first queued in this handoff, and claimed."""
        values = await self.redis.hmget(self.key("conv", conversation_id), TIMES)
        return {name: int(value) for name, value in zip(TIMES, values) if value}

    async def store_rating(self, conversation_id: str, agent: str, score: int, comment: str) -> None:
        rating = {"conversation": conversation_id, "agent": agent, "score": score, "comment": comment,
                  "ts": int(time.time() * 1000)}
        await self.redis.xadd(self.key("ratings"), rating, maxlen=STREAM_CAP, approximate=True)

    async def keep_refused_handoff(self, conversation_id: str, payload: Dict[str, Any]) -> None:
        """The bot's payload for a handoff the queue refused: a request left instead stands for it."""
        await self.redis.hset(self.key("conv", conversation_id), "refused_handoff", json.dumps(payload))

    async def refused_handoff(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The payload kept by ``keep_refused_handoff``, left in place (None when there is none)."""
        raw = await self.redis.hget(self.key("conv", conversation_id), "refused_handoff")
        payload = json.loads(raw) if raw else None
        return payload if isinstance(payload, dict) else None

    async def take_refused_handoff(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The payload kept by ``keep_refused_handoff``, once (None when there is none)."""
        key = self.key("conv", conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "refused_handoff")
            pipe.hset(key, "refused_handoff", "")
            raw, _ = await pipe.execute()
        payload = json.loads(raw) if raw else None
        return payload if isinstance(payload, dict) else None

    async def save_details(self, conversation_id: str, details: Dict[str, str]) -> None:
        """What a waiting customer told us about their problem and how to reach them."""
        await self.redis.hset(self.key("conv", conversation_id), "details", json.dumps(details))

    async def transferred_by(self, conversation_id: str) -> Optional[str]:
        """The agent who transferred the conversation last (None: nobody since it was handed over)."""
        raw = await self.redis.hget(self.key("conv", conversation_id), "transferred_by")
        return raw.decode() if raw else None

    async def waiting_since(self, conversation_ids: Sequence[str]) -> Dict[str, int]:
        """When each conversation's customer first queued in this handoff (ms; kept across transfers)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hget(self.key("conv", conversation_id), "waiting_since")
            replies = await pipe.execute()
        return {conversation_id: int(value) for conversation_id, value in zip(conversation_ids, replies) if value}

    async def closing(self, conversation_id: str) -> Dict[str, Any]:
        """How a closed conversation ended: its last close's disposition, closing note and time (ms), and the
        customer's rating (``{score, comment}``; None before they rate) — for colleagues reading it."""
        disposition, note, closed_at, rating = await self.redis.hmget(
            self.key("conv", conversation_id), ["disposition", "closing_note", "closed_at", "rating"])
        return {"disposition": disposition.decode() if disposition else None,
                "closing_note": note.decode() if note else "",
                "closed_at": int(closed_at) if closed_at else None,
                "rating": json.loads(rating) if rating else None}

    async def details(self, conversation_id: str) -> Dict[str, str]:
        raw = await self.redis.hget(self.key("conv", conversation_id), "details")
        return json.loads(raw) if raw else {}

    # ---- the day's counters (dashboard) --------------------------------------

    async def count_once(self, conversation_id: str, marker: str, day: str, fields: List[str]) -> bool:
        """Add 1 to ``fields`` of the day's counters, once per conversation and ``marker``."""
        counted = await self._count_once(keys=[self.key("conv", conversation_id), self.key("day", day),
                                               self.key("outbox")],
                                         args=[marker, str(DAY_TTL_MS), *fields])
        return bool(counted)

    async def count(self, day: str, increments: Dict[str, int]) -> None:
        """Add to the day's counters; the same transaction appends them to the outbox (a ``tally``)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, amount in increments.items():
                pipe.hincrby(self.key("day", day), name, amount)
            pipe.pexpire(self.key("day", day), DAY_TTL_MS)
            self.to_outbox(pipe, {"fact": "tally", "day": day, "counts": json.dumps(increments)})
            await pipe.execute()

    async def record_day_sample(self, day: str, series: str, sample: Union[int, str]) -> None:
        """One of the day's times (ms, or "{agent}|{ms}") in its list ``{p}:day-{series}:{date}`` (the newest
        MAX_WAITS_PER_DAY), and in the outbox (a ``sample``) in the same transaction."""
        key = self.key(f"day-{series}", day)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, sample)
            pipe.ltrim(key, 0, MAX_WAITS_PER_DAY - 1)
            pipe.pexpire(key, DAY_TTL_MS)
            self.to_outbox(pipe, {"fact": "sample", "day": day, "series": series, "value": str(sample)})
            await pipe.execute()

    async def record_day_wait(self, day: str, milliseconds: int) -> None:
        await self.record_day_sample(day, "waits", milliseconds)

    def to_outbox(self, pipe: Pipeline, fields: Dict[str, str]) -> None:
        """A fact in a transaction that stores it (the scripts' ``to_outbox``); nothing without an archive."""
        if self.outbox_cap > 0:
            pipe.xadd(self.key("outbox"), fields, maxlen=self.outbox_cap, approximate=True)

    async def day(self, day: str) -> Tuple[Dict[str, int], List[int]]:
        """The day's counters and its waits (ms)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.key("day", day))
            pipe.lrange(self.key("day-waits", day), 0, -1)
            counters, waits = await pipe.execute()
        return {k.decode(): int(v) for k, v in counters.items()}, [int(value) for value in waits]

    # ---- agent presence -----------------------------------------------------

    async def mark_online(self, agent: str, connection: str, ttl_ms: int, arriving: bool = False) -> None:
        """Present for ``ttl_ms`` more; ``arriving``: a console has just connected, and the agent could
        take a customer from now (``agent-ready``)."""
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key("online"), {f"{agent}|{connection}": now + ttl_ms})
            pipe.hdel(self.key("offline-since"), agent)
            if arriving:
                pipe.hset(self.key("agent-ready"), agent, now)
            await pipe.execute()

    async def mark_offline(self, agent: str, connection: str) -> None:
        await self.redis.zrem(self.key("online"), f"{agent}|{connection}")
        if agent not in await self.online_agents():
            await self.redis.hsetnx(self.key("offline-since"), agent, int(time.time() * 1000))

    async def online_agents(self) -> List[str]:
        now = int(time.time() * 1000)
        await self.redis.zremrangebyscore(self.key("online"), 0, now)
        return _agent_names(await self.redis.zrange(self.key("online"), 0, -1))

    async def load_waiting(self, conversation_id: str,
                           figures: Optional[Callable[[str], Awaitable["GroupFigures"]]] = None) -> "Waiting":
        """The conversation with, should it be queued, its place and what its wait estimate needs.
        ``figures`` gives its group's figures (default: read now, ``group_figures``): every waiting
        customer's status is worked out again whenever the queue changes, and a process shares
        one reading of the group's figures among its sockets (Bridge.customer_status)."""
        values = await self.redis.hmget(self.key("conv", conversation_id), STATUS_FIELDS)
        if values[0] is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        text = {name: value.decode() for name, value in zip(STATUS_FIELDS, values) if value is not None}
        conversation = self._conversation(conversation_id, text)  # without its handoff payload
        since = float(text.get("waiting_since") or text.get("queued_at") or time.time() * 1000)
        if conversation.state is not State.QUEUED:
            return Waiting(conversation, None, None, None, since, {}, [], [], {}, {}, [], text.get("request", ""),
                           text.get("left_queue") == "gone")
        group = await (figures or self.group_figures)(conversation.group)
        position = group.positions.get(conversation_id)
        if position is None:  # queued after the group's figures were read (or claimed since)
            rank = await self.redis.zrank(self.key("queue", conversation.group), conversation_id)
            position = None if rank is None else rank + 1
        return Waiting(conversation, position, group.head_queued_ms, group.ahead_since_ms(position), since, group.waiting,
                       group.claims, group.handling_ms, group.agents, group.ready_ms, group.exits,
                       text.get("request", ""), started_ms=group.started_ms,
                       ahead=group.ahead(conversation.group, position))

    async def group_figures(self, group: str) -> "GroupFigures":
        """What every wait estimate in ``group`` is made from, in two round trips: the agents online and
        available (not away) and their free slots; then, while someone is queued in the group, a third:
        when the queued started waiting and when the chats in progress were taken (their ages)."""
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.key("online"), 0, now)
            pipe.zrange(self.key("online"), 0, -1)
            pipe.hgetall(self.key("agents"))  # the accounts (handoff.auth)
            pipe.hgetall(self.key("agent-status"))  # away agents take no new work (handoff.agentstatus)
            _, members, accounts, statuses = await pipe.execute()
        present = set(available_only(_agent_names(members),
                                     {name.decode(): parse_status(raw) for name, raw in statuses.items()}))
        profiles = {name: profile_from_record(name, json.loads(raw))
                    for name, raw in ((key.decode(), value) for key, value in accounts.items()) if name in present}
        online = sorted(profiles)
        groups = sorted({group} | {taken for name in online for taken in profiles[name]["groups"]})
        group_queue = self.key("queue", group)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(group_queue, 0, -1, withscores=True)
            others = [each for each in groups if each != group]
            for each in others:  # their scores: how many wait in each, and how many ahead of whom
                pipe.zrange(self.key("queue") if each == ALL_GROUPS else self.key("queue", each), 0, -1,
                            withscores=True)
            pipe.zrangebyscore(self.key("claims", group), now - WINDOW_SECONDS * 1000, "+inf")
            pipe.lrange(self.key("handling"), 0, -1)
            pipe.zrangebyscore(self.key("exits", group), now - WINDOW_SECONDS * 1000, "+inf")
            for agent in online:
                pipe.smembers(self.key("serving", agent))
            if online:
                pipe.hmget(self.key("agent-ready"), online)
            replies = await pipe.execute()
        queued = replies[0]
        scores = {each: [score for _, score in members]
                  for each, members in [(group, queued), *zip(others, replies[1:1 + len(others)])]}
        claimed, handling = replies[1 + len(others)], replies[2 + len(others)]
        exited = replies[3 + len(others)]
        serving = replies[4 + len(others):4 + len(others) + len(online)]
        ready = replies[-1] if online else []
        claims = []
        for member in claimed:
            _, at, pickup = member.decode().rsplit(":", 2)
            claims.append((float(at), float(pickup)))
        exits = []
        for member in exited:
            _, at, waited, how = member.decode().rsplit(":", 3)
            exits.append((float(at), float(waited), how == "gave_up"))
        chats = [sorted(member.decode() for member in members) for members in serving]
        agents = {name: (profiles[name]["groups"], profiles[name]["max_chats"], len(served))
                  for name, served in zip(online, chats)}
        ready_ms = {name: float(at) for name, at in zip(online, ready) if at}
        earliest: List[float] = []
        taken_ms: Dict[str, List[float]] = {}
        if queued:  # nobody queued in the group: no estimate to make, and no third round trip
            async with self.redis.pipeline(transaction=False) as pipe:
                for member, _ in queued:
                    pipe.hget(self.key("conv", member.decode()), "waiting_since")
                # The ages of the chats in progress: when each was taken (claimed_at, by the commit that
                # gave it to its agent), in the same round trip.
                for served in chats:
                    for conversation_id in served:
                        pipe.hget(self.key("conv", conversation_id), "claimed_at")
                replies = await pipe.execute()
            since, taken = replies[:len(queued)], iter(replies[len(queued):])
            for name, served in zip(online, chats):
                times = [next(taken) for _ in served]
                # A chat whose claim time is gone (expired meanwhile) leaves that agent's ages unread.
                if all(times):
                    taken_ms[name] = [float(at) for at in times]
            for (_, score), started in zip(queued, since):
                started_ms = min(float(score), float(started)) if started else float(score)
                earliest.append(min(earliest[-1], started_ms) if earliest else started_ms)
        return GroupFigures(queued[0][1] if queued else None, {each: len(found) for each, found in scores.items()},
                            claims, [int(value) for value in handling], agents, ready_ms, exits,
                            {member.decode(): place for place, (member, _) in enumerate(queued, start=1)}, earliest,
                            taken_ms, scores)

    async def offline_since(self, agent: str) -> Optional[int]:
        value = await self.redis.hget(self.key("offline-since"), agent)
        return int(value) if value else None

    async def agents_serving(self) -> List[str]:
        """Without scanning the keyspace: every process's sweeper asks every few seconds."""
        return sorted(member.decode() for member in await self.redis.smembers(self.key("agents-serving")))

    async def serving_chats(self) -> Dict[str, List[str]]:
        """The conversations each agent serving any serves: one round trip for them all."""
        agents = await self.agents_serving()
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent in agents:
                pipe.smembers(self.key("serving", agent))
            members = await pipe.execute()
        return {agent: sorted(member.decode() for member in chats) for agent, chats in zip(agents, members) if chats}

    async def forget_serving(self, agent: str, conversation_id: str) -> None:
        await self._sync_serving(keys=[self.key("serving", agent), self.key("agents-serving")],
                                   args=[conversation_id, agent])

    async def index_agents_serving(self) -> None:
        """Fills ``agents-serving`` from the serving sets (once per process start; idempotent)."""
        prefix = f"{self.prefix}:serving:"
        async for key in self.redis.scan_iter(f"{prefix}*", count=1000):
            await self._sync_serving(keys=[key, self.key("agents-serving")], args=["", key.decode()[len(prefix):]])

    async def publish(self, channel: str, payload: Dict[str, Any]) -> None:
        await self.redis.publish(channel, json.dumps(payload))
