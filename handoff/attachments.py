"""Files in a conversation: a customer's or an agent's image or PDF, kept in Redis beside the transcript.

An upload is checked for what it is (handoff.filecheck), kept under ``{p}:files:{id}`` (its bytes and
what it is) and referred to by a message in the transcript: a ``customer`` or ``agent`` message whose
``data.attachment`` is ``{id, type, name, size, width?, height?}`` and whose ``text`` is the file's name
(docs/bridge-protocol.md "Attachments"). The scripts that keep a transcript keep its files for as long
(handoff.store), so a file goes with its conversation, and every bridge process can serve it.

The bytes kept are budgeted, counted in Redis by the script that keeps a file, so that concurrent uploads
through any process cannot pass a budget together: per conversation (the ``bytes`` field of its files'
hash, for as long as it is kept), per customer client address and UTC day
(``{p}:files-bytes:{day}:{address}``: one visitor cannot spend everyone's) and in all per UTC day
(``{p}:files-bytes:{day}``); past any an upload is refused with ``file_space_full`` (docs/security.md
"Limits"); an upload refused within its 10-minute cap is told the seconds to that window's end.
A file's message has idempotency keys of its own (``file:customer:{id}``, ``file:agent:{name}:{id}``),
never a text message's.

The bot never reads a file: one a customer sends while the bot has the conversation is kept for the
agent (it is in the transcript the agent reads) and answered by a notice, ``attachment_kept``, that
says so and offers a person: once per burst, not again within KEPT_NOTICE_QUIET_SECONDS of the last
(``{p}:kept-notice:{id}``, set only if absent: processes taking files at once send one). A closed chat
takes no more files from its customer (``conversation_closed``, handoff.machine): it stays as it ended.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from handoff.exceptions import (
    ConversationNotFound, Forbidden, HandoffError, IdentityRequired, InvalidIdentity, InvalidToken, InvalidTransition,
    LimitReached,
)
from handoff.filecheck import Checked, FileKind
from handoff.identity import verify
from handoff.machine import State
from handoff.privacy import PLACEHOLDER, Secret, mask
from handoff.protocol import readable
from handoff.store import Appended

if TYPE_CHECKING:
    from handoff.service import Bridge

__all__ = ["KEPT_NOTICE", "KEPT_NOTICE_QUIET_SECONDS", "AttachmentDesk", "Sender", "attachment_of", "masked_name",
           "safe_name"]

DAY_SECONDS = 86400
# KEYS[1] the conversation's files, KEYS[2] the bytes of files kept today in all, KEYS[3] today's from the
# sender's address (a customer's; an agent's upload: KEYS[3] = KEYS[2], never over its own budget); ARGV:
# file id, its meta JSON, its bytes, their size, the conversation's budget, the day's, the files' ttl ms,
# the day counters' ttl ms, the address's budget. Returns {1, meta} (kept now), {0, meta} (kept before: a
# resend), {-1, ''} / {-2, ''} / {-3, ''} (the conversation's, the day's, the address's budget spent).
_KEEP_FILE = """
local kept = redis.call('HGET', KEYS[1], ARGV[1] .. ':meta')
if kept then return {0, kept} end
local size = tonumber(ARGV[4])
if tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0') + size > tonumber(ARGV[5]) then return {-1, ''} end
if tonumber(redis.call('GET', KEYS[2]) or '0') + size > tonumber(ARGV[6]) then return {-2, ''} end
if tonumber(redis.call('GET', KEYS[3]) or '0') + size > tonumber(ARGV[9]) then return {-3, ''} end
redis.call('HSET', KEYS[1], ARGV[1] .. ':meta', ARGV[2], ARGV[1] .. ':body', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'bytes', size)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if redis.call('INCRBY', KEYS[2], size) == size then redis.call('PEXPIRE', KEYS[2], ARGV[8]) end
if KEYS[3] ~= KEYS[2] and redis.call('INCRBY', KEYS[3], size) == size then redis.call('PEXPIRE', KEYS[3], ARGV[8]) end
return {1, ARGV[2]}
"""
# KEYS[1] the conversation's files; ARGV: the file id, its size. A file removed and its bytes given back.
_FORGET_FILE = """
if redis.call('HDEL', KEYS[1], ARGV[1] .. ':meta', ARGV[1] .. ':body') == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 'bytes', -tonumber(ARGV[2])) <= 0 then redis.call('HDEL', KEYS[1], 'bytes') end
return 1
"""

KEPT_NOTICE = ("I can't read files, but I've kept it for our support team: a person will see it when they "
               "join. Would you like to talk to a person now?")
KEPT_NOTICE_QUIET_SECONDS = 300  # files sent to the bot within this of its notice get no new one
NAME_STEM_CHARACTERS = 60
_UNSAFE_IN_NAME = re.compile(r"[^\w .()+-]+")
_PATH = re.compile(r"(?:[A-Za-z]:|\.{1,2})?/")  # a drive's or a relative path's start, or an absolute one

# Who sends or reads a file: ("customer", conversation id) or ("agent", login name).
Sender = Tuple[str, str]


def safe_name(claimed: str, kind: FileKind) -> str:
    """A name that is safe to show and to put in a header: the client's name without its folders,
    disguising controls and unusual characters, shortened, with the extension of what the file really is.
    Folders are dropped only from what is a path (a backslash, a drive, or a leading "/", "./", "../":
    old browsers sent the whole path); elsewhere "/" is a character of the name ("<b>bold</b>.pdf" is
    "b_bold_b.pdf", not "b.pdf")."""
    name = readable(unicodedata.normalize("NFC", claimed))
    base = name.replace("\\", "/").rsplit("/", 1)[-1] if "\\" in name or _PATH.match(name) else name
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = " ".join(_UNSAFE_IN_NAME.sub("_", stem).split()).strip("._ ")[:NAME_STEM_CHARACTERS].strip()
    return f"{stem or ('image' if kind.is_image else 'document')}.{kind.extension}"


# What a name keeps of what was masked in it: the placeholder's words ("card number.png").
_NAME_PLACEHOLDER = {kind: placeholder.strip("[]") for kind, placeholder in PLACEHOLDER.items()}


def masked_name(claimed: str, kind: FileKind) -> Tuple[str, Tuple[Secret, ...]]:
    """A customer's file name as it is kept (safe_name), masked (handoff.privacy), and the kinds masked in
    it. Masked as typed and again once cleaned: cleaning turns unusual characters into "_", which joins
    what they kept apart ("4111;1111;1111;1111" is no card number, "4111_1111_1111_1111" is one)."""
    typed = mask(readable(claimed), _NAME_PLACEHOLDER)
    cleaned = mask(safe_name(typed.text, kind), _NAME_PLACEHOLDER)
    return safe_name(cleaned.text, kind), tuple(dict.fromkeys(typed.kinds + cleaned.kinds))


def attachment_of(message: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The attachment a stored message refers to, if any."""
    attachment = (message.get("data") or {}).get("attachment")
    return attachment if isinstance(attachment, dict) else None


class AttachmentDesk:
    """Keeps and reads the files of conversations, and counts uploads against their caps."""

    def __init__(self, bridge: "Bridge") -> None:
        self.bridge = bridge
        self.store = bridge.store
        self.settings = bridge.settings
        self._keep_file = self.store.redis.register_script(_KEEP_FILE)
        self._forget_file = self.store.redis.register_script(_FORGET_FILE)

    def _files_key(self, conversation_id: str) -> str:
        return self.store.key("files", conversation_id)

    async def sender(self, conversation_id: str, customer_token: str = "", agent: str = "",
                     identity: str = "") -> Sender:
        """Who may send a file to this conversation now: its customer (their token and, a signed-in customer's
        conversation, their signed identity), or the agent serving it (Forbidden otherwise); a customer's wrong
        token and an unknown conversation get the one InvalidToken."""
        if agent:
            try:
                await self.bridge.require_serving(agent, conversation_id)
            except InvalidTransition:
                raise Forbidden("only the agent serving this chat may send files to it") from None
            return ("agent", agent)
        await self._require_customer(conversation_id, customer_token, identity)
        return ("customer", conversation_id)

    async def require_reader(self, conversation_id: str, customer_token: str = "", agent: str = "",
                             identity: str = "", via: str = "") -> None:
        """The conversation's customer, the agent serving it, a colleague a note in it mentioned, a
        supervisor (handoff.mentions.may_read_notes), an agent of the group of the open request left in it
        (who reads its transcript with ``open_request``), or (``via``: another conversation of the same signed-in
        customer, as a ``view`` from the contact panel's history, or the closed one it follows, handoff.earlier)
        whoever may read that one may read its files; Forbidden for other agents, ConversationNotFound for ``via``
        an unrelated one (no id is probed)."""
        if agent and via:
            await self.bridge.notes.require_reader(agent, via)
            if not await self.bridge.related(via, conversation_id):
                raise ConversationNotFound("no such conversation")
        elif agent:
            try:
                await self.bridge.notes.require_reader(agent, conversation_id)
            except Forbidden:
                groups: List[str] = (await self.bridge.agents.profile(agent))["groups"]
                if not await self.bridge.requests.readable_through(conversation_id, groups):
                    raise
        else:
            await self._require_customer(conversation_id, customer_token, identity)

    async def _require_customer(self, conversation_id: str, token: str, identity: str) -> None:
        """The conversation's token; for a signed-in customer's conversation, also their signed identity (as a
        ``hello``'s, handoff.identity) for the contact it is linked to: IdentityRequired without it or with
        another contact's, so that a token left in a browser after a logout reads and sends nothing."""
        if not token or not await self.store.token_matches(conversation_id, token):
            # One answer for an unknown id and a wrong token, as a hello's: a leaked id is not confirmed.
            raise InvalidToken("unknown conversation or wrong token")
        contact = await self.bridge.contacts.contact_of(conversation_id)
        if contact is None:
            return
        if not identity:
            raise IdentityRequired("this conversation is a signed-in customer's: send their signed identity "
                                   "in X-Identity")
        try:
            signed = verify(identity, self.settings.identity_secrets, self.bridge.clock(),
                            self.settings.identity_max_age_seconds)
        except InvalidIdentity:
            self.bridge.metrics["identities_refused"] += 1
            raise
        if signed.id != contact:
            raise IdentityRequired("X-Identity is another customer's: this conversation is not theirs")

    async def count_upload(self, sender: Sender, address: str) -> None:
        """One upload against the sender's cap and the address's (LimitReached ``too_many_uploads``)."""
        try:
            await self.bridge.limits.count_pair(
                "uploads", f"{'conv' if sender[0] == 'customer' else 'agent'}-{sender[1]}", address,
                self.settings.max_uploads_per_sender, self.settings.max_uploads_per_ip, "too_many_uploads")
        except LimitReached as error:
            raise LimitReached(f"too many files sent: {error}; wait a few minutes", code=error.code,
                               retry_at_ms=error.retry_at_ms) from None

    async def send(self, conversation_id: str, sender: Sender, checked: Checked, body: bytes, claimed_name: str,
                   address: str, client_id: str = "") -> Tuple[str, Dict[str, Any]]:
        """Keep the file and add the message that refers to it; returns the message's id and the attachment.
        A resend with the same ``client_id`` stores nothing new (the first file and message stand).
        ``address``: the sender's client address (a customer's counts against its own day's budget)."""
        file_id = (hashlib.sha256(f"{sender[0]}:{sender[1]}:{client_id}".encode()).hexdigest()[:20] if client_id
                   else secrets.token_hex(10))
        attachment: Dict[str, Any] = {"id": file_id, "type": checked.kind.value, "name": safe_name(claimed_name, checked.kind),
                                      "size": len(body)}
        if checked.kind.is_image:
            attachment.update(width=checked.width, height=checked.height)
        from_address = self.bridge.limits.group(address) if sender[0] == "customer" else ""
        attachment, new = await self._keep(conversation_id, attachment, body, from_address)
        key = client_id or file_id
        try:
            if sender[0] == "agent":
                appended = await self._agent_sent(sender[1], conversation_id, attachment, key)
            else:
                appended = await self._customer_sent(conversation_id, attachment, key)
        except HandoffError:  # no message refers to it (the transcript full, the chat moved on): not kept
            if new:
                await self._forget(conversation_id, attachment)
            raise
        if new and not appended.added:  # the key's message was there already: it refers to no new file
            await self._forget(conversation_id, attachment)
        return appended.id, attachment

    async def _keep(self, conversation_id: str, attachment: Dict[str, Any], body: bytes,
                    address: str) -> Tuple[Dict[str, Any], bool]:
        """The file stored within the budgets (what it is, and whether this call stored it: a resend finds
        the first one); LimitReached ``file_space_full`` when a budget is spent. ``address``: a customer's
        address group, whose day's budget it counts against ('' for an agent's file)."""
        day = int(time.time()) // DAY_SECONDS
        day_key = self.store.key("files-bytes", str(day))
        kept, meta = await self._keep_file(
            keys=[self._files_key(conversation_id), day_key,
                  self.store.key("files-bytes", f"{day}:{address}") if address else day_key],
            args=[attachment["id"], json.dumps(attachment), body, len(body), self.settings.max_file_bytes_per_conversation,
                  self.settings.max_file_bytes_per_day, self.store.ttl_ms, 2 * DAY_SECONDS * 1000,
                  self.settings.max_file_bytes_per_address_per_day if address else self.settings.max_file_bytes_per_day])
        if kept == -1:
            raise LimitReached(f"this conversation has as many files as it may keep "
                               f"({self.settings.max_file_bytes_per_conversation} bytes)", code="file_space_full")
        if kept == -2:
            raise LimitReached("the service has taken as many files as it may today; try again tomorrow",
                               code="file_space_full", retry_at_ms=(day + 1) * DAY_SECONDS * 1000)
        if kept == -3:
            raise LimitReached(f"as many files as one address may send in a day have been sent from here "
                               f"({self.settings.max_file_bytes_per_address_per_day} bytes); try again tomorrow",
                               code="file_space_full", retry_at_ms=(day + 1) * DAY_SECONDS * 1000)
        return dict(json.loads(meta)), kept == 1

    async def _forget(self, conversation_id: str, attachment: Dict[str, Any]) -> None:
        """A file this upload stored that no message refers to, removed and its bytes given back to the
        conversation's budget (the day's stays counted)."""
        await self._forget_file(keys=[self._files_key(conversation_id)], args=[attachment["id"], attachment["size"]])

    async def _customer_sent(self, conversation_id: str, attachment: Dict[str, Any], key: str) -> Appended:
        appended = await self.bridge.append(conversation_id, "customer", f"file:customer:{key}", attachment["name"],
                                            {"attachment": attachment})
        if appended.state is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        if appended.state is State.BOT and await self.store.redis.set(
                self.store.key("kept-notice", conversation_id), appended.id, nx=True, ex=KEPT_NOTICE_QUIET_SECONDS):
            # The bot cannot read it: kept for the agent, and said so honestly, with a person offered
            # (once for a burst of files).
            await self.bridge.append(conversation_id, "system", f"notice:attachment:{appended.id}", KEPT_NOTICE,
                                     {"notice": "attachment_kept", "offer": ["talk_to_person"]})
        return appended

    async def _agent_sent(self, agent: str, conversation_id: str, attachment: Dict[str, Any], key: str) -> Appended:
        shown_as = await self.bridge.agents.display_name(agent)
        appended = await self.bridge.append(conversation_id, "agent", f"file:agent:{agent}:{key}", attachment["name"],
                                            {"agent": agent, "shown_as": shown_as, "attachment": attachment},
                                            only_in=State.AGENT, only_agent=agent)
        if appended.added:
            await self.bridge.agent_answered(agent, conversation_id)
        return appended

    async def read(self, conversation_id: str, file_id: str) -> Tuple[Dict[str, Any], bytes]:
        """What a file is and its bytes; ConversationNotFound when it is not (or no longer) kept."""
        meta, body = await self.store.redis.hmget(self._files_key(conversation_id), f"{file_id}:meta", f"{file_id}:body")
        if meta is None or body is None:
            raise ConversationNotFound("no such file (the conversation may have ended and been removed)")
        return dict(json.loads(meta)), bytes(body)
