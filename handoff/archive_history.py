"""A contact's conversations from the archive as well as Redis (the contact panel's history, handoff.history):
those Redis keeps, as they are now, then the older ones only the archive still has. With PostgreSQL down
the panel shows what Redis keeps (and the log says why); a customer's hello never reads the archive
(handoff.contacts.ContactBook.open_conversation)."""

from __future__ import annotations

import logging
from typing import List

from handoff.archive_reader import ArchiveReader
from handoff.exceptions import ArchiveUnavailable
from handoff.history import MAX_LISTED, PastConversation, RedisHistory

__all__ = ["ArchiveHistory"]

logger = logging.getLogger(__name__)

_CONVERSATIONS = """
SELECT c.id, c.started_at, c.state, c.disposition, c.ended_at, c.rating, c.rating_comment,
       (SELECT h.payload -> 'topics' FROM handoffs h WHERE h.conversation_id = c.id
        ORDER BY h.version DESC LIMIT 1) AS topics
FROM conversations c WHERE c.contact_id = %s ORDER BY c.started_at DESC LIMIT %s
"""


class ArchiveHistory:
    """Redis's list first (the freshest truth, conversations not archived yet among them), then the archive's."""

    def __init__(self, live: RedisHistory, reader: ArchiveReader) -> None:
        self.live = live
        self.reader = reader

    async def conversations(self, contact_id: str, limit: int = MAX_LISTED) -> List[PastConversation]:
        kept = await self.live.conversations(contact_id, limit)
        listed = {past.conversation_id for past in kept}
        try:
            rows = await self.reader.rows(_CONVERSATIONS, [contact_id, limit])
        except ArchiveUnavailable as error:
            logger.warning("a contact's older conversations are not listed: %s", error)
            return kept
        archived = []
        for row in rows:
            if row["id"] in listed:
                continue
            topics = row["topics"] if isinstance(row["topics"], list) else []
            archived.append(PastConversation(
                row["id"], int(row["started_at"].timestamp() * 1000), row["state"], row["disposition"],
                int(row["ended_at"].timestamp() * 1000) if row["ended_at"] else None, [str(topic) for topic in topics],
                {"score": row["rating"], "comment": row["rating_comment"] or ""} if row["rating"] is not None else None,
                archived=True))
        return sorted([*kept, *archived], key=lambda past: past.started, reverse=True)[:limit]

