"""Files in a conversation: a customer's or an agent's image or PDF, kept in Redis beside the transcript.

An upload is checked for what it is (handoff.filecheck), kept under ``{p}:files:{id}`` (its bytes and
what it is) and referred to by a message in the transcript: a ``customer`` or ``agent`` message whose
``data.attachment`` is ``{id, type, name, size, width?, height?}`` and whose ``text`` is the file's name
(docs/bridge-protocol.md "Attachments"). The scripts that keep a transcript keep its files for as long
(handoff.store), so a file goes with its conversation, and every bridge process can serve it.

The bot never reads a file: one a customer sends while the bot has the conversation is kept for the
agent (it is in the transcript the agent reads) and answered by a notice, ``attachment_kept``, that
says so and offers a person.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from handoff.exceptions import (
    ConversationNotFound, Forbidden, HandoffError, InvalidToken, InvalidTransition, LimitReached,
)
from handoff.filecheck import Checked, FileKind
from handoff.machine import State
from handoff.protocol import readable

if TYPE_CHECKING:
    from handoff.service import Bridge

__all__ = ["KEPT_NOTICE", "AttachmentDesk", "Sender", "attachment_of", "safe_name"]

KEPT_NOTICE = ("I can't read files, but I've kept it for our support team: a person will see it when they "
               "join. Would you like to talk to a person now?")
NAME_STEM_CHARACTERS = 60
_UNSAFE_IN_NAME = re.compile(r"[^\w .()+-]+")

# Who sends or reads a file: ("customer", conversation id) or ("agent", login name).
Sender = Tuple[str, str]


def safe_name(claimed: str, kind: FileKind) -> str:
    """A name that is safe to show and to put in a header: the client's name without its folders,
    disguising controls and unusual characters, shortened, with the extension of what the file really is."""
    base = readable(unicodedata.normalize("NFC", claimed)).replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = " ".join(_UNSAFE_IN_NAME.sub("_", stem).split()).strip("._ ")[:NAME_STEM_CHARACTERS].strip()
    return f"{stem or ('image' if kind.is_image else 'document')}.{kind.extension}"


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

    def _files_key(self, conversation_id: str) -> str:
        return self.store.key("files", conversation_id)

    async def sender(self, conversation_id: str, customer_token: str = "", agent: str = "") -> Sender:
        """Who may send a file to this conversation now: its customer (their token), or the agent
        serving it (Forbidden otherwise); ConversationNotFound when there is none."""
        if agent:
            try:
                await self.bridge.require_serving(agent, conversation_id)
            except InvalidTransition:
                raise Forbidden("only the agent serving this chat may send files to it") from None
            return ("agent", agent)
        await self._require_customer(conversation_id, customer_token)
        return ("customer", conversation_id)

    async def require_reader(self, conversation_id: str, customer_token: str = "", agent: str = "") -> None:
        """The conversation's customer, the agent serving it, a colleague a note in it mentioned, a
        supervisor (handoff.mentions.may_read_notes), or an agent of the group of the request left in it
        (who reads its transcript with ``open_request``) may read its files; Forbidden for other agents."""
        if agent:
            try:
                await self.bridge.notes.require_reader(agent, conversation_id)
            except Forbidden:
                groups: List[str] = (await self.bridge.agents.profile(agent))["groups"]
                if not await self.bridge.requests.readable_through(conversation_id, groups):
                    raise
        else:
            await self._require_customer(conversation_id, customer_token)

    async def _require_customer(self, conversation_id: str, token: str) -> None:
        if not token or not await self.store.token_matches(conversation_id, token):
            if not await self.store.redis.exists(self.store.key("conv", conversation_id)):
                raise ConversationNotFound("no such conversation")
            raise InvalidToken("wrong conversation token")

    async def count_upload(self, sender: Sender, address: str) -> None:
        """One upload against the sender's cap and the address's (LimitReached ``too_many_uploads``)."""
        try:
            await self.bridge.limits.count_pair(
                "uploads", f"{'conv' if sender[0] == 'customer' else 'agent'}-{sender[1]}", address,
                self.settings.max_uploads_per_sender, self.settings.max_uploads_per_ip, "too_many_uploads")
        except LimitReached as error:
            raise LimitReached(f"too many files sent: {error}; wait a few minutes", code=error.code) from None

    async def send(self, conversation_id: str, sender: Sender, checked: Checked, body: bytes, claimed_name: str,
                   client_id: str = "") -> Tuple[str, Dict[str, Any]]:
        """Keep the file and add the message that refers to it; returns the message's id and the attachment.
        A resend with the same ``client_id`` stores nothing new (the first file and message stand)."""
        file_id = (hashlib.sha256(f"{sender[0]}:{sender[1]}:{client_id}".encode()).hexdigest()[:20] if client_id
                   else secrets.token_hex(10))
        attachment: Dict[str, Any] = {"id": file_id, "type": checked.kind.value, "name": safe_name(claimed_name, checked.kind),
                                      "size": len(body)}
        if checked.kind.is_image:
            attachment.update(width=checked.width, height=checked.height)
        attachment, new = await self._keep(conversation_id, attachment, body)
        key = client_id or file_id
        try:
            if sender[0] == "agent":
                message_id = await self._agent_sent(sender[1], conversation_id, attachment, key)
            else:
                message_id = await self._customer_sent(conversation_id, attachment, key)
        except HandoffError:  # no message refers to it (the transcript full, the chat moved on): not kept
            if new:
                await self.store.redis.hdel(self._files_key(conversation_id), f"{file_id}:meta", f"{file_id}:body")
            raise
        return message_id, attachment

    async def _keep(self, conversation_id: str, attachment: Dict[str, Any], body: bytes) -> Tuple[Dict[str, Any], bool]:
        """The file stored (what it is, and whether this call stored it: a resend finds the first one)."""
        key, file_id = self._files_key(conversation_id), attachment["id"]
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, f"{file_id}:meta", json.dumps(attachment))
            pipe.hsetnx(key, f"{file_id}:body", body)
            pipe.pexpire(key, self.store.ttl_ms)
            pipe.hget(key, f"{file_id}:meta")
            new, *_, stored = await pipe.execute()
        return dict(json.loads(stored)), bool(new)

    async def _customer_sent(self, conversation_id: str, attachment: Dict[str, Any], key: str) -> str:
        appended = await self.bridge.append(conversation_id, "customer", f"customer:{key}", attachment["name"],
                                            {"attachment": attachment})
        if appended.state is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        if appended.state in (State.BOT, State.CLOSED):
            # The bot cannot read it: kept for the agent, and said so honestly, with a person offered.
            await self.bridge.append(conversation_id, "system", f"notice:attachment:{appended.id}", KEPT_NOTICE,
                                     {"notice": "attachment_kept", "offer": ["talk_to_person"]})
        return appended.id

    async def _agent_sent(self, agent: str, conversation_id: str, attachment: Dict[str, Any], key: str) -> str:
        shown_as = await self.bridge.agents.display_name(agent)
        appended = await self.bridge.append(conversation_id, "agent", f"agent:{agent}:{key}", attachment["name"],
                                            {"agent": agent, "shown_as": shown_as, "attachment": attachment},
                                            only_in=State.AGENT, only_agent=agent)
        if appended.added:
            await self.bridge.agent_answered(agent, conversation_id)
        return appended.id

    async def read(self, conversation_id: str, file_id: str) -> Tuple[Dict[str, Any], bytes]:
        """What a file is and its bytes; ConversationNotFound when it is not (or no longer) kept."""
        meta, body = await self.store.redis.hmget(self._files_key(conversation_id), f"{file_id}:meta", f"{file_id}:body")
        if meta is None or body is None:
            raise ConversationNotFound("no such file (the conversation may have ended and been removed)")
        return dict(json.loads(meta)), bytes(body)
