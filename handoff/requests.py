"""Callbacks and messages customers leave instead of waiting, and what agents do with them.

A request is an entry of the ``{p}:requests`` stream (its stream id is the
request's id); what became of it is kept beside it, so that every bridge
process sees the same:

    {p}:requests             stream  the requests, newest last (conversation, kind, contact, ..., "handoff":
                                     the payload it stands for, JSON; a callback the bot's form booked:
                                     booked_with "bot")
    {p}:request-state:{id}   hash    state "done" or "answered", by (the agent), ts, message_id
                                     (the answer), in_chat (the disposition of the chat whose close
                                     settled it, "" for none); or state "cancelled", by "customer", ts:
                                     the customer took it back; absent while the request is open
    {p}:request-assignee:{id} hash   the agent it is assigned to (handoff.request_assignment)
    {p}:answer-mail:{id}     hash    the answer's email, for a message left with an address (handoff.answer_mail)
    conversation hash        field   "request": the id of the last request left in it, for the
                                     customer's status after a reload
    idempotency hash         field   "leave:{client id}" -> request id: a resent ``leave`` is stored once
    {p}:request-count:{conversation}:{day}  string  requests left in the conversation that UTC day
                                     (MAX_REQUESTS_PER_DAY; expires after a day)
    {p}:outbox               stream  a "request" fact per request stored, by the same script (archive/facts.py:
                                     the archive's conversations.first_request_at, search's "Bot only")

Each entry carries the skill group of its conversation ("group"): agents see, open, answer and
mark done only the requests of their groups (handoff.routing.visible_to), as with the queue.
A conversation has at most one open request: another ``leave`` while one is open is refused
(``request_open``), and at most MAX_REQUESTS_PER_DAY are left per conversation and day
(``too_many_requests``). An answer goes only into a conversation the bot has or that is
closed: never into a live chat of a colleague, nor to a customer waiting in the queue.

The customer may cancel their open request (``cancel_request``, only from the request's own
conversation): it is no longer open, nobody may be assigned it, answer it or mark it done, and the
agents' lists show it cancelled; the conversation may leave another.

An agent can open a request (its conversation's transcript and handoff
context), mark it done, or answer it: the answer is an agent message in the
conversation, which the customer finds there when they come back. One answer
per request: the transcript's own idempotency key (``answer:{request id}``)
decides between two agents answering at once. A message left with an email address is
answered by email too when mail is set up (handoff.answer_mail). An agent who serves the customer in a chat and
closes it may settle the conversation's open request with the close (``close`` with
``request_done``): the customer is not called back for what the chat resolved. Each request in
the agents' list says whether its customer was served in a chat since they left it
(``served_since``: the chat's agent, whether it is closed, its disposition). Every change is announced on
the queue channel (the agents' request lists) and the conversation's live
channel (the customer's status).
"""

from __future__ import annotations

import enum
import json
import logging
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from handoff.auth import AgentDirectory
from handoff.contact import contact_kind
from handoff.exceptions import (
    ConversationNotFound, Forbidden, InvalidContact, InvalidTransition, LimitReached, MalformedMessage,
)
from handoff.machine import State
from handoff.routing import DEFAULT_GROUP, visible_to
from handoff.store import DAY_TTL_MS, STREAM_CAP, Store

__all__ = ["MAX_REQUESTS_PER_DAY", "RequestDesk", "RequestState", "request_id_of"]

logger = logging.getLogger(__name__)

MAX_DETAIL = 500
# Requests one conversation may leave per UTC day: enough to correct one, too few to flood the list.
MAX_REQUESTS_PER_DAY = 5
# How far back the agents' list looks for requests of their groups.
_LIST_WINDOW = 1000


class RequestState(str, enum.Enum):
    OPEN = "open"  # nobody has dealt with it yet
    DONE = "done"  # an agent called back, or dealt with it elsewhere
    ANSWERED = "answered"  # an agent's reply is in the conversation
    CANCELLED = "cancelled"  # its customer took it back: nobody calls or answers


_REQUEST_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


def request_id_of(data: Dict[str, Any]) -> str:
    """The ``request_id`` field of an agent's request, checked at the edge."""
    value = data.get("request_id")
    # Redis refuses stream ids beyond two 64-bit numbers: such an id names no request.
    if (not isinstance(value, str) or not _REQUEST_ID.fullmatch(value)
            or max(int(part) for part in value.split("-")) >= 2**64):
        raise MalformedMessage("'request_id' must be the id of a request")
    return value


# KEYS: requests stream, idempotency hash, conversation hash, the day's request count, the outbox. ARGV[1]: the
# idempotency field, ARGV[2]: retention (ms), ARGV[3]: stream cap, ARGV[4]: the state key's prefix,
# ARGV[5]: requests per day, ARGV[6]: 1 to store, 0 only to check, ARGV[7]: the conversation's id, ARGV[8]: now
# (ms); then the entry's fields. A request stored goes to the outbox as a "request" fact (archive/facts.py):
# the archive knows people were needed even if the conversation never queued.
# Returns {id, added}: added 1 new, 0 stored before, -1 no conversation, -2 one is open, -3 day's cap.
_LEAVE = """
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {existing, 0} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'', -1} end
local last = redis.call('HGET', KEYS[3], 'request')
if last and redis.call('EXISTS', ARGV[4] .. last) == 0
    and #redis.call('XRANGE', KEYS[1], last, last) > 0 then
  return {last, -2}
end
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[5]) then return {'', -3} end
if ARGV[6] == '0' then return {'', 1} end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 9))
to_outbox(KEYS[5], 'fact', 'request', 'conv', ARGV[7], 'request', id, 'at', ARGV[8],
          'started', redis.call('HGET', KEYS[3], 'created') or ARGV[8])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('HSET', KEYS[3], 'request', id)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], 86400000)
return {id, 1}
"""

# KEYS[1]: the request's state hash. Marks it done unless something became of it before (ARGV[4]: the
# disposition of the chat whose close settles it, "" for none); returns the state it has afterwards, and by whom.
_MARK_DONE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'done', 'by', ARGV[1], 'ts', ARGV[2], 'in_chat', ARGV[4] or '')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('HMGET', KEYS[1], 'state', 'by')
"""


# KEYS[1]: the request's state hash. The customer cancels it unless something became of it before (ARGV[1]:
# now, ARGV[2]: lifetime in ms); returns the state it has afterwards.
_CANCEL = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'by', 'customer', 'ts', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HGET', KEYS[1], 'state')
"""

# What the agents' list says of the chat a request's customer had since leaving it (_served_since).
_CHAT_FIELDS = ["state", "agent", "claimed_at", "disposition"]


def _served_since(left_ms: int, chat: List[Optional[bytes]]) -> Optional[Dict[str, Any]]:
    """The chat an agent claimed after the request was left (its agent, whether it is closed and how),
    None when there was none: the request card says the customer was served meanwhile."""
    state, agent, claimed_at, disposition = (value.decode() if value else "" for value in chat)
    if not claimed_at or int(claimed_at) < left_ms or not agent:
        return None
    closed = state == State.CLOSED.value
    return {"agent": agent, "closed": closed, "disposition": disposition if closed else ""}


def _assignee(fields: Dict[bytes, bytes]) -> Dict[str, Any]:
    """A request's assignee hash (handoff.request_assignment) as the agents' list shows it."""
    values = {key.decode(): value.decode() for key, value in fields.items()}
    return {"assigned_to": values.get("agent") or None, "assigned_by": values.get("by") or None,
            "assigned_ts": int(values["ts"]) if values.get("ts") else None}


def _answer_mail(fields: List[Optional[bytes]]) -> Optional[Dict[str, str]]:
    """Where the answer's email went (handoff.answer_mail): {state, to, error}; None when none was taken."""
    state, to, error = (value.decode() if value else "" for value in fields)
    return {"state": state, "to": to, "error": error} if state else None


class RequestDesk:
    """The requests of every conversation, in Redis (one per process around the store)."""

    def __init__(self, store: Store, agents: AgentDirectory) -> None:
        self.store = store
        self.agents = agents  # the display name of the agent a request is assigned to, for its customer
        self._leave = store.script(_LEAVE)  # writes to the outbox
        self._mark_done = store.redis.register_script(_MARK_DONE)
        self._cancel = store.redis.register_script(_CANCEL)

    def state_key(self, request_id: str) -> str:
        return self.store.key("request-state", request_id)

    def assignee_key(self, request_id: str) -> str:
        """Who the request is assigned to (handoff.request_assignment)."""
        return self.store.key("request-assignee", request_id)

    # ---- customers ----------------------------------------------------------

    async def may_leave(self, conversation_id: str, key: str) -> bool:
        """Raises as ``leave`` with this client ``key`` would (a resend of one stored passes); whether it would
        be a new request (not a resend). Checked before the bot is asked and the queue is left: a refused
        request costs nothing."""
        return (await self._store_request(conversation_id, key, {}, store=False))[1]

    async def leave(self, conversation_id: str, kind: str, details: Dict[str, str], key: str,
                    handoff: Dict[str, Any], group: str) -> Tuple[str, bool]:
        """Stores the request, with the handoff payload it stands for and its skill ``group``, once per
        client ``key``; (its id, whether it is new)."""
        entry = {"conversation": conversation_id, "kind": kind, "ts": str(int(time.time() * 1000)), **details,
                 "group": group, "handoff": json.dumps(handoff)}
        return await self._store_request(conversation_id, key, entry, store=True)

    async def _store_request(self, conversation_id: str, key: str, entry: Dict[str, str],
                             store: bool) -> Tuple[str, bool]:
        fields = [item for pair in entry.items() for item in pair]
        day = time.strftime("%Y-%m-%d", time.gmtime())
        request_id, added = await self._leave(
            keys=[self.store.key("requests"), self.store.key("idem", conversation_id),
                  self.store.key("conv", conversation_id), self.store.key("request-count", f"{conversation_id}:{day}"),
                  self.store.key("outbox")],
            args=[f"leave:{key}", str(self.store.ttl_ms), str(STREAM_CAP), self.store.key("request-state") + ":",
                  str(MAX_REQUESTS_PER_DAY), "1" if store else "0", conversation_id, entry.get("ts") or str(int(time.time() * 1000)),
                  *fields],
        )
        if added == -1:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        if added == -2:
            raise LimitReached("a request of this conversation is still open: an agent will be in touch "
                               "(a resend with the same id is fine)", code="request_open")
        if added == -3:
            raise LimitReached(f"at most {MAX_REQUESTS_PER_DAY} requests per conversation a day",
                               code="too_many_requests")
        return request_id.decode(), bool(added)

    async def booked_with_bot(self, conversation_id: str, message_id: str, payload: Dict[str, Any],
                              group: str) -> Optional[Tuple[str, bool]]:
        """A callback the bot's form booked (its ``callback`` handoff: phone and time), as a request,
        once per customer message; with the bot's payload as its context. None when the payload
        has no usable phone number (the form checks it: this is not expected). Raises LimitReached when
        the conversation may not leave another request now (one is open, or the day's are used up)."""
        given = payload.get("callback")
        callback: Dict[str, Any] = given if isinstance(given, dict) else {}
        contact = str(callback.get("phone") or "")[:MAX_DETAIL]
        try:
            kind = contact_kind(contact)
        except InvalidContact:
            logger.warning("the bot booked a callback in %s without a phone number: %r", conversation_id, callback)
            return None
        details = {"contact": contact, "contact_kind": kind,
                   "description": str(payload.get("summary") or "")[:MAX_DETAIL],
                   "preferred_time": str(callback.get("preferred_time") or "")[:MAX_DETAIL],
                   "booked_with": "bot"}
        return await self.leave(conversation_id, "callback", details, f"bot:{message_id}", payload, group)

    async def cancel(self, conversation_id: str, request_id: str) -> None:
        """The customer takes back their open request (a resent cancel is the same answer). Only the request's
        own conversation may (any other is told there is no such request: ids are not to be probed), and
        only while it is open: one answered or done is what it is."""
        request = await self.get(request_id)
        if request is None or request["conversation"] != conversation_id:
            raise ConversationNotFound(f"no request {request_id} in this conversation")
        state = (await self._cancel(keys=[self.state_key(request_id)],
                                    args=[str(int(time.time() * 1000)), str(DAY_TTL_MS)])).decode()
        if state != RequestState.CANCELLED.value:
            raise InvalidTransition(f"this request was {state} already: it can no longer be cancelled")
        await self.announce(request)

    async def customer_view(self, request_id: str) -> Optional[Dict[str, Any]]:
        """The last request left in a conversation (its field ``request``, read with the customer's
        status: Store.load_waiting), as its customer's status shows it."""
        request = await self.get(request_id)
        if request is None:
            return None  # trimmed from the stream long ago
        view = {"id": request["id"], "kind": request["kind"], "state": request["state"], "ts": request["ts"]}
        if request["handled_ts"]:  # when it was answered or done: news the widget shows until the customer writes again
            view["handled_ts"] = request["handled_ts"]
        mailed = request.get("answer_mail") or {}
        if mailed.get("state") in ("queued", "sent"):  # the answer is in their mailbox too (handoff.answer_mail)
            view["emailed"] = True
        if request.get("preferred_time"):  # their own words, said back to them ("tomorrow morning")
            view["preferred_time"] = request["preferred_time"]
        if request["assigned_to"] and request["state"] == RequestState.OPEN.value:  # who looks after it, by name
            view["agent"] = await self.agents.display_name(request["assigned_to"])  # never the login name
        return view

    # ---- agents -------------------------------------------------------------

    async def items(self, groups: List[str], count: int = 100) -> List[Dict[str, Any]]:
        """The newest requests of the agent's skill ``groups`` first, each with what became of it."""
        entries = await self.store.redis.xrevrange(self.store.key("requests"), count=_LIST_WINDOW)
        mine = [(entry_id, fields) for entry_id, fields in entries
                if visible_to((fields.get(b"group") or DEFAULT_GROUP.encode()).decode(), groups)]
        return await self._with_states(mine[:count])

    async def get(self, request_id: str, with_handoff: bool = False) -> Optional[Dict[str, Any]]:
        entries = await self.store.redis.xrange(self.store.key("requests"), request_id, request_id)
        found = await self._with_states(entries, with_handoff)
        return found[0] if found else None

    async def _with_states(self, entries: List[Any], with_handoff: bool = False) -> List[Dict[str, Any]]:
        """The entries as agents see them: the payload's summary, and the whole payload only
        ``with_handoff`` (the list stays small)."""
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for entry_id, fields in entries:
                pipe.hgetall(self.state_key(entry_id.decode()))
                pipe.hmget(self.store.key("conv", (fields.get(b"conversation") or b"").decode()), _CHAT_FIELDS)
                pipe.hgetall(self.assignee_key(entry_id.decode()))
                pipe.hmget(self.store.key("answer-mail", entry_id.decode()), ["state", "to", "error"])
            replies = await pipe.execute()
        items = []
        for (entry_id, fields), state, chat, assignee, mailed in zip(entries, replies[::4], replies[1::4],
                                                                     replies[2::4], replies[3::4]):
            item: Dict[str, Any] = {"id": entry_id.decode(), "description": "", "preferred_time": "",
                                    **{k.decode(): v.decode() for k, v in fields.items()}}
            item["ts"] = int(item.get("ts") or 0)
            item["booked_with"] = item.get("booked_with") or "customer"
            item["group"] = item.get("group") or DEFAULT_GROUP
            handoff = json.loads(item.pop("handoff", "") or "{}")
            item["summary"] = str(handoff.get("summary") or "")
            if with_handoff:
                item["handoff"] = handoff
            handled = {k.decode(): v.decode() for k, v in state.items()}
            item["state"] = handled.get("state", RequestState.OPEN.value)
            item["handled_by"] = handled.get("by") or None
            item["handled_ts"] = int(handled["ts"]) if handled.get("ts") else None
            item["answer_id"] = handled.get("message_id") or None
            item["settled_in_chat"] = handled.get("in_chat") or None
            item["served_since"] = _served_since(item["ts"], chat)
            item.update(_assignee(assignee))
            item["answer_mail"] = _answer_mail(mailed)
            items.append(item)
        return items

    async def require(self, request_id: str, groups: List[str], with_handoff: bool = False) -> Dict[str, Any]:
        """The request, if an agent of these skill ``groups`` may deal with it."""
        request = await self.get(request_id, with_handoff)
        if request is None:
            raise ConversationNotFound(f"no request {request_id}")
        if not visible_to(request["group"], groups):
            raise Forbidden(f"this request is for the {request['group']} group")
        return request

    async def readable_through(self, conversation_id: str, groups: List[str]) -> bool:
        """Whether an agent of these skill ``groups`` may read the conversation (its files) for the last
        request left in it, as ``open_request`` shows them its transcript: only while that request is
        open (once answered or done, the group's right to the conversation's files ends with it)."""
        last = await self.store.redis.hget(self.store.key("conv", conversation_id), "request")
        request = await self.get(last.decode()) if last else None
        return (request is not None and request["state"] == RequestState.OPEN.value
                and visible_to(request["group"], groups))

    async def open(self, request_id: str, groups: List[str]) -> Dict[str, Any]:
        """The request with its conversation: transcript and the context the agent needs."""
        request = await self.require(request_id, groups, with_handoff=True)
        # The context is the payload the request stands for: the conversation's own is gone once it
        # left the queue, and a callback booked with the bot never queued.
        handoff = request.pop("handoff")
        conversation_id = request["conversation"]
        conversation = await self.store.load(conversation_id)
        messages = await self.store.messages_after(conversation_id, None)
        return {
            "request": request,
            "conversation": {"conversation_id": conversation_id, "state": conversation.state.value,
                             "reason": handoff.get("reason") or conversation.reason,
                             "handoff": handoff or conversation.handoff,
                             "details": await self.store.details(conversation_id)},
            "messages": [{"id": m["id"], "kind": m["kind"], "text": m["text"], "data": m["data"], "ts": m["ts"]}
                         for m in messages],
        }

    async def mark_done(self, request_id: str, agent: str, groups: List[str]) -> Dict[str, Any]:
        """Done (called back, or dealt with elsewhere); again by the same agent is the same answer."""
        request = await self.require(request_id, groups)
        state, by = await self._settle(request_id, agent, in_chat="")
        if (state, by) != (RequestState.DONE.value, agent):
            raise InvalidTransition(f"this request was {state} by {by} already")
        await self.announce(request)
        return await self.require(request_id, groups)

    async def chat_closed(self, conversation_id: str, agent: str, disposition: str, settle: bool) -> Optional[str]:
        """The conversation's chat was closed by ``agent`` (with ``disposition``): its open request, if any,
        is marked done when they ``settle`` it (the chat dealt with what the customer asked for; any
        group's request: the agent served its customer), and the agents' lists show how the chat ended.
        The id of the request settled, None when none was."""
        last = await self.store.redis.hget(self.store.key("conv", conversation_id), "request")
        request = await self.get(last.decode()) if last else None
        if request is None or request["state"] != RequestState.OPEN.value:
            return None
        settled = False
        if settle:
            state, by = await self._settle(request["id"], agent, in_chat=disposition or "closed")
            settled = (state, by) == (RequestState.DONE.value, agent)  # else a colleague dealt with it meanwhile
        await self.announce(request)
        return str(request["id"]) if settled else None

    async def _settle(self, request_id: str, agent: str, in_chat: str) -> Tuple[str, str]:
        state, by = await self._mark_done(keys=[self.state_key(request_id)],
                                          args=[agent, str(int(time.time() * 1000)), str(DAY_TTL_MS), in_chat])
        return state.decode(), by.decode()

    async def answer(self, request_id: str, agent: str, shown_as: str, groups: List[str],
                     text: str) -> Tuple[Dict[str, Any], str, bool]:
        """The agent's reply, stored in the request's conversation (once per request; the customer
        sees it from ``shown_as``, the agent's display name), and the request marked answered.
        Returns the request, the reply's message id and whether it is new. Only while the bot has
        the conversation or it is closed: a queued customer is about to talk to a person, and a
        served one is a colleague's live chat."""
        request = await self.require(request_id, groups)
        state = RequestState(request["state"])
        if state in (RequestState.DONE, RequestState.CANCELLED) or (
                state is RequestState.ANSWERED and request["handled_by"] != agent):
            raise InvalidTransition(f"this request was {request['state']} by {request['handled_by']} already")
        conversation_id = request["conversation"]
        conversation = await self.store.load(conversation_id)  # raises ConversationNotFound once it has expired
        if state is RequestState.OPEN and conversation.state in (State.QUEUED, State.AGENT):
            raise InvalidTransition(f"the customer is {'waiting for' if conversation.state is State.QUEUED else 'talking to'}"
                                    " a person now: answer in the chat instead of the request")
        # Stored only if the conversation is still where it was (a claim meanwhile refuses it);
        # a resend of an answer given is found by its key whatever the state.
        appended = await self.store.append(conversation_id, "agent", f"answer:{request_id}", text,
                                           {"agent": agent, "shown_as": shown_as, "request": request_id},
                                           only_in=conversation.state if state is RequestState.OPEN else None)
        if not appended.added:
            stored = [m for m in await self.store.messages_after(conversation_id, None) if m["id"] == appended.id]
            author = stored[0]["data"].get("agent") if stored else None
            if author != agent:
                raise InvalidTransition(f"this request was answered by {author} already")
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.state_key(request_id), mapping={"state": RequestState.ANSWERED.value, "by": agent,
                                                            "ts": str(int(time.time() * 1000)),
                                                            "message_id": appended.id})
            pipe.pexpire(self.state_key(request_id), DAY_TTL_MS)
            await pipe.execute()
        await self.announce(request)
        return await self.require(request_id, groups), appended.id, appended.added

    async def announce(self, request: Dict[str, Any]) -> None:
        """Every agent's request list, and the customer's status, in every process."""
        await self.store.publish(self.store.queue_channel, {"request": request["conversation"]})
        await self.store.publish(self.store.live_channel(request["conversation"]), {"state": "request"})
