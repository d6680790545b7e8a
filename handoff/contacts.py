"""Customers known by a signed identity (handoff.identity): their contact record, their conversations,
and the note agents keep about them (docs/identity.md).

A verified ``hello`` resumes one of the contact's open conversations, or links one it starts to the contact
(never an anonymous one it names: docs/identity.md), in one script: the conversation's
``contact_id``, ``contact_name``, ``contact_email`` and ``contact_token`` (the digest of the token any
of the contact's devices resumes it with), the contact's hash ``{p}:contact:{id}`` (name, email,
first_seen, last_seen; note, note_by, note_at) and its list ``{p}:contact-convs:{id}`` (conversation
-> when it started). A conversation belongs to one contact for good: another's identity never takes
it over. The contact's keys are kept for the retention (HANDOFF_RETENTION_SECONDS) after they were
last seen.

The token a second device gets is derived from HANDOFF_SECRET and the conversation's id, so every
process makes the same one and nothing but its digest is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Dict, Optional

from handoff.exceptions import ConversationNotFound, StateError
from handoff.history import ContactHistory, RedisHistory
from handoff.identity import Identity
from handoff.machine import State
from handoff.store import Store, token_digest

__all__ = ["ContactBook", "MAX_CONTACT_NOTE"]

MAX_CONTACT_NOTE = 1000
# How many of a contact's newest conversations are looked through for one still open.
_OPEN_LOOKBACK = 10

# How _LINK takes a conversation: one nobody's yet or the contact's (LINK), one just started for the contact
# (STARTED: then the contact's open conversation, if they have one, is taken instead: two devices starting at
# once end in one conversation), only one that is already the contact's and not closed (RESUME: what a
# hello names; an anonymous conversation is never adopted, a closed one never reopened), or one that is
# already the contact's, closed or not (RECONNECT: a page that had it open reconnecting, with its last_seen,
# so that a socket dropped after the close still shows that chat and takes its rating).
_MODE_LINK, _MODE_STARTED, _MODE_RESUME, _MODE_RECONNECT = "link", "started", "resume", "reconnect"

# KEYS: the conversation, the contact, the contact's conversations, the outbox. ARGV: conversation id, contact
# id, name, email, contact token digest, now (ms), ms to keep the contact, the conversations' key prefix, the
# mode (above). Returns the conversation linked, another open one, or nil: no such conversation, another
# contact's (or, to RESUME or RECONNECT, nobody's; to RESUME, closed). A conversation linked for the first
# time goes to the outbox as a "contact" fact (archive/facts.py): the archive links it even if no later state
# change does.
_LINK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local owner = redis.call('HGET', KEYS[1], 'contact_id')
if owner and owner ~= ARGV[2] then return false end
if (ARGV[9] == '%s' or ARGV[9] == '%s') and not owner then return false end
if ARGV[9] == '%s' and redis.call('HGET', KEYS[1], 'state') == 'closed' then return false end
if ARGV[9] == '%s' then
  for _, other in ipairs(redis.call('ZREVRANGE', KEYS[3], 0, %d)) do
    local state = redis.call('HGET', ARGV[8] .. other, 'state')
    if state and state ~= 'closed' and other ~= ARGV[1] then return other end
  end
end
redis.call('HSET', KEYS[1], 'contact_id', ARGV[2], 'contact_name', ARGV[3], 'contact_email', ARGV[4],
           'contact_token', ARGV[5])
local started = redis.call('HGET', KEYS[1], 'created') or ARGV[6]
redis.call('ZADD', KEYS[3], 'NX', started, ARGV[1])
redis.call('HSET', KEYS[2], 'name', ARGV[3], 'email', ARGV[4], 'last_seen', ARGV[6])
redis.call('HSETNX', KEYS[2], 'first_seen', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[7])
if not owner then
  to_outbox(KEYS[4], 'fact', 'contact', 'conv', ARGV[1], 'contact', ARGV[2], 'name', ARGV[3], 'email', ARGV[4],
            'at', ARGV[6], 'started', started)
end
return ARGV[1]
""" % (_MODE_RESUME, _MODE_RECONNECT, _MODE_RESUME, _MODE_STARTED, _OPEN_LOOKBACK - 1)

# KEYS: the contact. ARGV: text, agent, now (ms). 1 saved, 0 no such contact (expired, or forgotten).
_NOTE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'note', ARGV[1], 'note_by', ARGV[2], 'note_at', ARGV[3])
return 1
"""


class ContactBook:
    def __init__(self, store: Store, secret: str, history: ContactHistory) -> None:
        self.store = store
        self._secret = secret.encode()
        self.history = history  # the contact panel's list (with an archive, its older conversations too)
        self.live = RedisHistory(store)  # a hello's lookup of an open conversation: Redis alone, never the archive
        self._link = store.script(_LINK)  # writes to the outbox
        self._note = store.redis.register_script(_NOTE)

    def token(self, conversation_id: str) -> str:
        """The token every device of the conversation's contact resumes it with."""
        return hmac.new(self._secret, f"contact-token|{conversation_id}".encode(), hashlib.sha256).hexdigest()

    async def link(self, conversation_id: str, identity: Identity, now_ms: int) -> bool:
        """Links the conversation to the contact (again: the name and email as newly signed) if it is nobody's
        yet or theirs; False when it is another contact's or gone. A hello never calls it on a conversation
        it names: that one is only resumed (:meth:`conversation_for`)."""
        return await self._linked(conversation_id, identity, now_ms, _MODE_LINK) == conversation_id

    async def link_started(self, conversation_id: str, identity: Identity, now_ms: int) -> str:
        """Links a conversation just started for the contact, unless another device's hello started or
        found one of theirs meanwhile: the conversation to use (that one, or this)."""
        linked = await self._linked(conversation_id, identity, now_ms, _MODE_STARTED)
        return linked or conversation_id

    async def _resumed(self, conversation_id: str, identity: Identity, now_ms: int, closed_too: bool = False) -> bool:
        """Whether the conversation is the contact's and open, or ``closed_too`` closed (then signed again, as
        newly signed)."""
        mode = _MODE_RECONNECT if closed_too else _MODE_RESUME
        return await self._linked(conversation_id, identity, now_ms, mode) == conversation_id

    async def _linked(self, conversation_id: str, identity: Identity, now_ms: int, mode: str) -> Optional[str]:
        keys = [self.store.key("conv", conversation_id), self.store.key("contact", identity.id),
                self.store.key("contact-convs", identity.id), self.store.key("outbox")]
        linked = await self._link(keys=keys, args=[
            conversation_id, identity.id, identity.name, identity.email, token_digest(self.token(conversation_id)),
            now_ms, self.store.ttl_ms, f"{self.store.prefix}:conv:", mode])
        return linked.decode() if linked else None

    async def open_conversation(self, contact_id: str) -> Optional[str]:
        """The contact's newest conversation that is not closed, if Redis keeps one."""
        for past in await self.live.conversations(contact_id, _OPEN_LOOKBACK):
            if past.state != State.CLOSED.value:
                return past.conversation_id
        return None

    async def conversation_for(self, identity: Identity, given: Optional[str], now_ms: int,
                               reconnecting: bool = False) -> Optional[str]:
        """Which conversation a verified ``hello`` resumes: the one it names (its token checked already) if it
        is already this contact's and not closed (or, ``reconnecting``: a page that had it open, closed
        too); else the contact's open one; None: start a new one. An anonymous conversation the browser still
        holds (someone else's, on a shared computer) is never adopted, and a customer returning to a closed
        one gets a new one: each closed chat stays its own entry in the history."""
        if given is not None and await self._resumed(given, identity, now_ms, closed_too=reconnecting):
            return given
        found = await self.open_conversation(identity.id)
        return found if found and await self._resumed(found, identity, now_ms) else None

    async def contact_of(self, conversation_id: str) -> Optional[str]:
        value = await self.store.redis.hget(self.store.key("conv", conversation_id), "contact_id")
        return value.decode() if value else None

    async def same_contact(self, conversation_id: str, other: str) -> bool:
        """Whether both conversations are one signed contact's (an agent reading one may open the other)."""
        first, second = await self.contact_of(conversation_id), await self.contact_of(other)
        return first is not None and first == second

    async def signed(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """Who the conversation's customer is, as signed (``{id, name, email, verified}``); None: anonymous."""
        contact_id, name, email = await self.store.redis.hmget(
            self.store.key("conv", conversation_id), ["contact_id", "contact_name", "contact_email"])
        if not contact_id:
            return None
        return {"id": contact_id.decode(), "name": (name or b"").decode(), "email": (email or b"").decode(),
                "verified": True}

    async def card(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The contact panel's data for a conversation's customer: None for an anonymous one."""
        signed = await self.signed(conversation_id)
        if signed is None:
            return None
        contact_id = signed["id"]
        raw = await self.store.redis.hgetall(self.store.key("contact", contact_id))
        record = {key.decode(): value.decode() for key, value in raw.items()}
        note = ({"text": record["note"], "by": record.get("note_by", ""), "at": int(record.get("note_at") or 0)}
                if record.get("note") else None)
        return {  # the contact as last signed; as this conversation was, if Redis no longer keeps the contact
            "id": contact_id, "verified": True, "name": record.get("name", signed["name"]),
            "email": record.get("email", signed["email"]),
            "first_seen": int(record.get("first_seen") or 0), "last_seen": int(record.get("last_seen") or 0),
            "note": note,
            "conversations": [past.shown() for past in await self.history.conversations(contact_id)],
        }

    async def save_note(self, conversation_id: str, text: str, agent: str, now_ms: int) -> str:
        """Replaces the note about the conversation's contact (text, who, when: one write); the contact's id."""
        contact_id = await self.contact_of(conversation_id)
        if contact_id is None:
            raise StateError("this customer is anonymous: a note about them needs a signed identity",
                             code="not_identified")
        if not int(await self._note(keys=[self.store.key("contact", contact_id)], args=[text, agent, now_ms])):
            raise ConversationNotFound(f"no contact {contact_id} any more")
        return contact_id
