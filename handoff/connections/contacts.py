"""The contact panel of an agent's socket (docs/bridge-protocol.md "Contacts"): who a signed-in customer
is, their conversations, and the note colleagues keep about them (handoff.contacts).

A mixin of :class:`handoff.connections.agent.AgentConnection`. An agent who may read a conversation
(serving it, mentioned in it, a supervisor: handoff.notes) may read its contact's card, write the
note, and open the contact's other conversations read-only (``view`` with ``via``).
"""

from __future__ import annotations

from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import conversation_id_of, text_of
from handoff.contacts import MAX_CONTACT_NOTE
from handoff.protocol import Envelope

__all__ = ["ContactHandlers"]


class ContactHandlers(Connection):
    agent: str

    def contact_handlers(self) -> Handlers:
        return {"contact": self.contact, "contact_note": self.contact_note}

    async def contact(self, envelope: Envelope) -> None:
        """The conversation's contact (``null``: an anonymous customer), as the panel shows it."""
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.notes.require_reader(self.agent, conversation_id)
        card = await self.bridge.contacts.card(conversation_id)
        await self.send(Envelope("contact", envelope.id, {"conversation_id": conversation_id, "contact": card}))

    async def contact_note(self, envelope: Envelope) -> None:
        """Replaces the note about the conversation's contact; the card again, for the console to show."""
        conversation_id = conversation_id_of(envelope.data)
        text = text_of(envelope.data, MAX_CONTACT_NOTE)
        await self.bridge.notes.require_reader(self.agent, conversation_id)
        await self.bridge.contacts.save_note(conversation_id, text, self.agent, self.bridge.now_ms())
        self.bridge.metrics["contact_notes"] += 1
        card = await self.bridge.contacts.card(conversation_id)
        await self.send(Envelope("contact", envelope.id, {"conversation_id": conversation_id, "contact": card}))
