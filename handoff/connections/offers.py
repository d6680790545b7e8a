"""An agent's offers of automatic assignment (handoff.assignment; docs/bridge-protocol.md "Automatic assignment").

A mixin of :class:`handoff.connections.agent.AgentConnection`: the agent's open offers come as ``offers``
(on connect, and whenever one is made, withdrawn or ends, on any bridge process: the assignment round
announces it on the agent's channel, and when the queue card of an offered conversation changes);
``offer_accept`` takes one (then the chat is the agent's, as after a
``claim``) and ``offer_decline`` passes it to the next agent.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional, Set

from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import conversation_id_of
from handoff.protocol import Envelope

__all__ = ["OfferHandlers"]


class OfferHandlers(Connection):
    agent: str
    offered: Set[str]  # the conversations of the offers sent last: their queue changes send them again
    attach: Callable[[str], Awaitable[None]]  # AgentConnection's: opens a chat the agent serves

    def offer_handlers(self) -> Handlers:
        return {"offer_accept": self.offer_accept, "offer_decline": self.offer_decline}

    async def send_offers(self, request_id: Optional[str] = None) -> None:
        """Every open offer of this agent's, as queue cards with when each runs out (the whole list each time)."""
        items = await self.bridge.offers_view(self.agent)
        self.offered = {item["conversation_id"] for item in items}
        await self.send(Envelope("offers", request_id, {"items": items}))

    async def offer_accept(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.accept_offer(self.agent, conversation_id)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.attach(conversation_id)

    async def offer_decline(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.decline_offer(self.agent, conversation_id)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
