"""An agent's ``suggest``: suggested replies to the customer's latest message of a conversation the
agent serves or has open read-only (docs/bridge-protocol.md, "Suggested replies"; handoff.suggestions).

Each request runs the bot's NLU once and may index finished conversations' pairs, so it has its own
limit per socket, well above the console's need (it asks once per new customer message).
"""

from __future__ import annotations

import logging
from handoff.botclient import BotUnavailable
from handoff.connections.base import Connection, TokenBucket
from handoff.connections.fields import conversation_id_of
from handoff.connections.open_chats import OpenChats
from handoff.exceptions import RateLimited, SuggestionsUnavailable
from handoff.protocol import Envelope

__all__ = ["SUGGEST_BURST", "SUGGEST_PER_SECOND", "SuggestRequests"]

logger = logging.getLogger(__name__)

SUGGEST_PER_SECOND = 0.5
SUGGEST_BURST = 5


class SuggestRequests:
    def __init__(self, connection: Connection, agent: str, chats: OpenChats) -> None:
        self.connection = connection
        self.bridge = connection.bridge
        self.agent = agent
        self.chats = chats  # a chat open read-only here was checked when opened
        self.bucket = TokenBucket(SUGGEST_PER_SECOND, SUGGEST_BURST)

    async def suggest(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        if not self.chats.viewed(conversation_id):
            await self.bridge.require_serving(self.agent, conversation_id)
        if not self.bucket.take():
            raise RateLimited("too many suggestion requests; wait a few seconds", envelope.id)
        try:
            found = await self.bridge.suggestions.for_conversation(conversation_id)
        except BotUnavailable as error:
            self.bridge.metrics["suggestions_unavailable"] += 1
            logger.warning("no suggestions for %s: %s", conversation_id, error)
            raise SuggestionsUnavailable("the bot is not answering, so there are no suggestions now") from error
        self.bridge.metrics["suggestions"] += 1
        await self.connection.send(Envelope("suggestions", envelope.id, {"conversation_id": conversation_id, **found}))
