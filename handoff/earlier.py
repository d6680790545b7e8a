"""The chat a customer had just before this one (issue 13: an agent never makes a customer explain again).

Writing after a close starts a new conversation; the widget's ``hello`` that starts it names the closed one
(``follows: {conversation_id, token}``). The bridge links the two only when the token resumes that
conversation and it is closed: anything else is silently not linked (never an error for the customer, never
a way to probe ids). The new conversation's hash keeps the link (``follows``); the agent serving it sees how
the earlier one ended and may open it read-only through it (``view`` with ``via``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from handoff.exceptions import ConversationNotFound
from handoff.machine import State
from handoff.store import Store

__all__ = ["EarlierChats", "MAX_ID", "follows_of"]

# As long as a conversation id or token may be (``view``'s ``via`` allows 64 characters too).
MAX_ID = 64


def follows_of(value: Any) -> Optional[Tuple[str, str]]:
    """The ``(conversation_id, token)`` a hello's ``follows`` names; None when it names none (absent or
    malformed: a new chat is never refused for it)."""
    if not isinstance(value, dict):
        return None
    conversation_id, token = value.get("conversation_id"), value.get("token")
    if not (isinstance(conversation_id, str) and isinstance(token, str)):
        return None
    if not (0 < len(conversation_id) <= MAX_ID and 0 < len(token) <= MAX_ID):
        return None
    return conversation_id, token


class EarlierChats:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def verified(self, follows: Any) -> Optional[str]:
        """The closed conversation a hello's ``follows`` names with its right token; None otherwise."""
        named = follows_of(follows)
        if named is None or not await self.store.token_matches(*named):
            return None
        try:
            conversation = await self.store.load(named[0])
        except ConversationNotFound:
            return None
        return named[0] if conversation.state is State.CLOSED else None

    async def followed(self, conversation_id: str) -> Optional[str]:
        """The conversation this one follows (None: none)."""
        return await self.store.follows(conversation_id)

    async def view(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """What the agent sees of the chat this one follows: ``{conversation_id, by (the login of its last
        agent), closed_at, disposition, closing_note, summary, topics, last_message}`` (``last_message``: what
        the customer typed last there, ``{text, ts}`` or None); None without one, or once Redis no longer keeps
        it (erased, expired)."""
        earlier = await self.followed(conversation_id)
        if earlier is None:
            return None
        try:
            conversation = await self.store.load(earlier)
        except ConversationNotFound:
            return None
        closing = await self.store.closing(earlier)
        handoff = conversation.handoff
        return {"conversation_id": earlier, "by": conversation.agent, "closed_at": closing["closed_at"],
                "disposition": closing["disposition"], "closing_note": closing["closing_note"],
                "summary": str(handoff.get("summary") or ""),
                "topics": [str(topic) for topic in handoff.get("topics") or []],
                "last_message": await self.store.last_said(earlier)}
