"""A contact's past conversations, behind one small interface (the contact panel reads it).

:class:`ContactHistory` is all the panel needs: a contact's conversations, newest first, each with
how it ended. :class:`RedisHistory` reads what Redis still keeps (HANDOFF_RETENTION_SECONDS); an
archive that keeps conversations longer (PostgreSQL, issue 17) backs the same interface, for the
conversations Redis has let go.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Protocol

from handoff.store import Store

__all__ = ["ContactHistory", "PastConversation", "RedisHistory", "MAX_LISTED"]

# The panel lists this many of a contact's conversations, the newest.
MAX_LISTED = 20


@dataclass(frozen=True)
class PastConversation:
    """One conversation of a contact as the panel lists it: ``started``/``closed_at`` in ms, ``state`` its
    state now, ``disposition`` of its last close (None: never closed), ``topics`` the FAQ topics of its last
    handoff, ``rating`` ``{score, comment}`` (None: not rated)."""

    conversation_id: str
    started: int
    state: str
    disposition: Optional[str]
    closed_at: Optional[int]
    topics: List[str]
    rating: Optional[Dict[str, Any]]
    archived: bool = False  # only the archive keeps it (opened with search_open, handoff.archive_history)

    def shown(self) -> Dict[str, Any]:
        return asdict(self)


class ContactHistory(Protocol):
    async def conversations(self, contact_id: str, limit: int = MAX_LISTED) -> List[PastConversation]:
        """The contact's conversations, newest first, at most ``limit``."""


class RedisHistory:
    """The conversations Redis still keeps, from the contact's list (``{p}:contact-convs:{id}``); one that
    expired leaves the list as it is read."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def conversations(self, contact_id: str, limit: int = MAX_LISTED) -> List[PastConversation]:
        listed = self.store.key("contact-convs", contact_id)
        members = await self.store.redis.zrevrange(listed, 0, limit - 1, withscores=True)
        fields = ["state", "disposition", "closed_at", "rating", "handoff"]
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for member, _ in members:
                pipe.hmget(self.store.key("conv", member.decode()), fields)
            replies = await pipe.execute()
        found, gone = [], []
        for (member, started), values in zip(members, replies):
            conversation_id = member.decode()
            state, disposition, closed_at, rating, handoff = (v.decode() if v else None for v in values)
            if state is None:
                gone.append(conversation_id)
                continue
            topics = json.loads(handoff or "{}").get("topics") or []
            found.append(PastConversation(conversation_id, int(started), state, disposition,
                                          int(closed_at) if closed_at else None,
                                          [str(topic) for topic in topics], json.loads(rating) if rating else None))
        if gone:
            await self.store.redis.zrem(listed, *gone)
        return found
