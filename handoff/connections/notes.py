"""An agent's notes, mentions and read-only views of conversations (docs/bridge-protocol.md "Notes").

A mixin of :class:`handoff.connections.agent.AgentConnection`: ``note`` writes a private note,
``mentions`` and ``mention_seen`` are the agent's mention notifications, ``view`` and ``unview`` open
and close a conversation the agent does not serve (a colleague mentioned them in it, they are a
supervisor, or it is another conversation of a signed-in customer whose chat they may read) to read,
live, and to answer with notes.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import conversation_id_of, idempotency_key, is_server_id, text_of
from handoff.connections.open_chats import OpenChats
from handoff.exceptions import ConversationNotFound, MalformedMessage
from handoff.machine import Conversation
from handoff.protocol import Envelope

__all__ = ["NoteHandlers", "marked_mentions"]


def marked_mentions(items: List[Dict[str, Any]], mentioned: Set[str]) -> List[Dict[str, Any]]:
    """Queue items with ``mentioned``: whether a note in the conversation mentioned this agent (copies:
    the items are this process's shared reading of the queue)."""
    return [{**item, "mentioned": item["conversation_id"] in mentioned} for item in items]


class NoteHandlers(Connection):
    agent: str
    chats: OpenChats

    def note_handlers(self) -> Handlers:
        return {"note": self.note, "mentions": self.send_mentions, "mention_seen": self.mention_seen,
                "view": self.view, "unview": self.unview}

    def note_text(self, data: Dict[str, Any], name: str = "text") -> str:
        return text_of(data, self.bridge.settings.max_text_characters, name)

    async def note(self, envelope: Envelope) -> None:
        key = idempotency_key(envelope)
        conversation_id = conversation_id_of(envelope.data)
        text = self.note_text(envelope.data)
        mentioned = await self.bridge.notes.check_mentions(text)
        conversation = await self.bridge.notes.require_reader(self.agent, conversation_id)
        await self.bridge.notes.require_may_mention(self.agent, conversation, mentioned)
        message_id = await self.bridge.notes.write(self.agent, conversation_id, text, key, mentioned)
        self.bridge.metrics["notes"] += 1
        await self.send(Envelope("ack", key, {"message_id": message_id, "mentioned": mentioned}))

    def transfer_note_of(self, envelope: Envelope) -> Optional[str]:
        """A transfer's ``note``, checked like a note's text; it needs the transfer's ``id`` (stored once)."""
        if "note" not in envelope.data:
            return None
        if not envelope.id:
            raise MalformedMessage("'id' (an idempotency key) is required for a transfer with a note")
        return self.note_text(envelope.data, "note")

    async def send_mentions(self, envelope: Optional[Envelope] = None) -> None:
        items = await self.bridge.notes.mentions(self.agent)
        await self.send(Envelope("mentions", envelope.id if envelope else None,
                                 {"items": items, "unseen": sum(1 for item in items if not item["seen"])}))

    async def mention_seen(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        note_id = envelope.data.get("note_id", "")  # the mention the console showed: never a newer one seen
        if not isinstance(note_id, str) or (note_id and not is_server_id(note_id)):
            raise MalformedMessage("'note_id' must be the id of the note the mention is of")
        await self.bridge.notes.seen(self.agent, conversation_id, note_id)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))

    async def view(self, envelope: Envelope) -> None:
        """Read-only: the conversation's context, its whole transcript with notes, then what follows."""
        conversation_id = conversation_id_of(envelope.data)
        reader = self.reader_of(conversation_id, envelope.data.get("via"))
        await reader()
        self.chats.require_room_to_view(conversation_id)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.chats.view(conversation_id, reader)

    def reader_of(self, conversation_id: str, via: Any) -> Callable[[], Awaitable[Conversation]]:
        """The check that this agent may read the conversation: their own rights to it, or (``via``: another
        conversation of the same signed-in customer, handoff.contacts, or one ``via`` follows, handoff.earlier)
        their rights to that one, so that the contact panel's history and the earlier chat open for whoever may
        read the chat they are shown beside."""
        if via is None:
            return lambda: self.bridge.notes.require_reader(self.agent, conversation_id)
        if not isinstance(via, str) or not 0 < len(via) <= 64:
            raise MalformedMessage("'via' must be the id of a conversation of the same customer")

        async def through_related() -> Conversation:
            await self.bridge.notes.require_reader(self.agent, via)
            conversation = await self.bridge.store.load(conversation_id)
            if not await self.bridge.related(via, conversation_id):  # as one that does not exist: no id is probed
                raise ConversationNotFound(f"no conversation {conversation_id}")
            return conversation
        return through_related

    async def unview(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.chats.unview(conversation_id)
