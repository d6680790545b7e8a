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
                             sla_first_met, sla_reply_from: the response-time clocks (handoff.sla; the reply clock
                             started by the append that stores the customer's message);
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
                             "kept:{queued_at}" -> that wait's kept_for_person notice (handoff.rules; looked for by
                             the append that stores a queued customer's message)
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
                             same step: "message" (each transcript entry, by _APPEND and add_messages:
                             handoff.store_transcript, store_messages), "state" (each committed change, with
                             the conversation's fields after it: _COMMIT, handoff.store_commit),
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
    {p}:agents       hash    agent accounts (handoff.auth; read by handoff.store_queue for the agents' groups and max_chats)
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

``Store`` is one class made of parts by concept, each a mixin over handoff.store_base.StoreBase (the
client, settings, keys, channels and the Lua every script may start with) that registers its own
scripts: handoff.store_conversations (a conversation's hash), handoff.store_commit (a state change),
handoff.store_transcript (messages appended and read; their types in handoff.store_messages),
handoff.store_routing (routing leases), handoff.store_queue (the queue and the wait's figures),
handoff.store_agents (agents online, whom they serve) and handoff.store_counters (the day's counters).
Mixins rather than delegates: every caller keeps one ``store`` and its methods (``store.append``, not
``store.transcript.append``), and a part is read on its own.
"""

from __future__ import annotations

from handoff.store_agents import AgentsStore
from handoff.store_base import LUA_NOW_MS, STREAM_CAP
from handoff.store_commit import CommitStore
from handoff.store_conversations import ConversationStore, last_message, token_digest
from handoff.store_counters import DAY_TTL_MS, CountersStore
from handoff.store_messages import Appended, NewMessages, StoredMessage, message_order
from handoff.store_queue import GroupFigures, QueueStore, Waiting
from handoff.store_routing import Routing, RoutingStore
from handoff.store_transcript import TranscriptStore

__all__ = ["DAY_TTL_MS", "LUA_NOW_MS", "STREAM_CAP", "Appended", "GroupFigures", "NewMessages", "Routing", "Store",
           "StoredMessage", "Waiting", "last_message", "message_order", "token_digest"]


class Store(ConversationStore, CommitStore, TranscriptStore, RoutingStore, QueueStore, AgentsStore, CountersStore):
    """All bridge state; one instance per process around one Redis client. One class made of its concepts'
    parts (mixins over handoff.store_base.StoreBase, each registering its own scripts), so that every caller
    keeps one ``store`` and each part can be read on its own."""
