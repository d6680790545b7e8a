"""The chat a customer had just before this one (issue 13: an agent never makes a customer explain again).

Writing after a close starts a new conversation; the widget's ``hello`` that starts it names the closed one
(``follows: {conversation_id, token}``). The bridge links the two only when the token resumes that
conversation, it is closed, and it is the new chat's customer's: of the same signed-in contact, or anonymous (the
same browser held its token; a customer who signs in afterwards keeps it). Another contact's chat is never linked,
whether the hello is signed in as someone else or anonymous (a shared computer after the sign-out). Anything else
is silently not linked (never an error for the customer, never a way to probe ids). The new conversation's hash keeps the link (``follows``; the archive too, from its state
facts); the agent serving it sees how the earlier one ended and may open it read-only through it (``view`` with
``via``). Once Redis has let the earlier one go, the bridge with an archive reads it from there (``archived``:
it opens with ``search_open`` and ``via``); with PostgreSQL down the panel says nothing (and the log says why).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from handoff.exceptions import ArchiveUnavailable, ConversationNotFound
from handoff.machine import State
from handoff.store import Store

if TYPE_CHECKING:  # the client library's environment imports follows_of without the archive's driver
    from handoff.archive_reader import ArchiveReader
    from handoff.contacts import ContactBook

__all__ = ["EarlierChats", "MAX_ID", "follows_of"]

logger = logging.getLogger(__name__)

# As long as a conversation id or token may be (``view``'s ``via`` allows 64 characters too).
MAX_ID = 64

# The archived chat as the panel shows it: how it ended, its last handoff's payload, the customer's last typed
# message (not a pressed button, nor a file: as ``last_said``).
_ARCHIVED = """
SELECT c.agent, (extract(epoch FROM c.ended_at) * 1000)::bigint AS closed_at, c.disposition, c.closing_note, c.rating, c.rating_comment,
       (SELECT h.payload FROM handoffs h WHERE h.conversation_id = c.id ORDER BY h.version DESC LIMIT 1) AS handoff,
       (SELECT array[m.text, (extract(epoch FROM m.sent_at) * 1000)::bigint::text] FROM messages m
        WHERE m.conversation_id = c.id AND m.sender = 'customer' AND NOT m.data ? 'payload'
          AND NOT m.data ? 'attachment'
        ORDER BY m.position DESC LIMIT 1) AS said
FROM conversations c WHERE c.id = %s AND c.state = 'closed'
"""


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
    def __init__(self, store: Store, contacts: "ContactBook") -> None:
        self.store = store
        self.contacts = contacts  # whose the earlier chat is
        self.reader: Optional["ArchiveReader"] = None  # with DATABASE_URL (Bridge.use_archive)

    async def verified(self, follows: Any, contact: Optional[str]) -> Optional[str]:
        """The closed conversation a hello's ``follows`` names with its right token, if it is anonymous or
        ``contact``'s (the hello's signed customer, None when anonymous); None otherwise."""
        named = follows_of(follows)
        if named is None or not await self.store.token_matches(*named):
            return None
        owner = await self.contacts.contact_of(named[0])
        if owner is not None and owner != contact:
            return None
        try:
            conversation = await self.store.load(named[0])
        except ConversationNotFound:
            return None
        return named[0] if conversation.state is State.CLOSED else None

    async def followed(self, conversation_id: str) -> Optional[str]:
        """The conversation this one follows (None: none)."""
        return await self.store.follows(conversation_id)

    async def changed(self, closed: str) -> None:
        """The closed chat changed (rated): the newest chat that follows it says so on its live channel, and the
        agents' sockets that have that one open send ``earlier`` again. Only a notification, after the change:
        a socket that misses it shows the change when the chat opens again."""
        follower = await self.store.followed_by(closed)
        if follower is not None:
            await self.store.publish(self.store.live_channel(follower), {"earlier": closed})

    async def view(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """What the agent sees of the chat this one follows: ``{conversation_id, by (the login of its last
        agent), closed_at, disposition, closing_note, rating ({score, comment} or None), summary, topics,
        last_message, archived}`` (``last_message``: what the customer typed last there, ``{text, ts}`` or None;
        ``archived``: read from the archive, Redis no longer keeps it); None without one, or once neither keeps
        it (erased, expired, not archived)."""
        earlier = await self.followed(conversation_id)
        if earlier is None:
            return None
        try:
            conversation = await self.store.load(earlier)
        except ConversationNotFound:
            return await self._archived(earlier)
        closing = await self.store.closing(earlier)
        handoff = conversation.handoff
        return {"conversation_id": earlier, "by": conversation.agent, "closed_at": closing["closed_at"],
                "disposition": closing["disposition"], "closing_note": closing["closing_note"],
                "rating": closing["rating"], "summary": str(handoff.get("summary") or ""),
                "topics": [str(topic) for topic in handoff.get("topics") or []],
                "last_message": await self.store.last_said(earlier), "archived": False}

    async def _archived(self, earlier: str) -> Optional[Dict[str, Any]]:
        """The earlier chat as the archive keeps it; None without an archive, or one that cannot answer now."""
        if self.reader is None:
            return None
        try:
            rows = await self.reader.rows(_ARCHIVED, [earlier])
        except ArchiveUnavailable as error:
            logger.warning("the earlier chat is not shown: %s", error)
            return None
        if not rows:
            return None
        row = rows[0]
        handoff = row["handoff"] if isinstance(row["handoff"], dict) else {}
        said = row["said"]
        return {"conversation_id": earlier, "by": row["agent"], "closed_at": row["closed_at"],
                "disposition": row["disposition"], "closing_note": row["closing_note"] or "",
                "rating": ({"score": row["rating"], "comment": row["rating_comment"] or ""}
                           if row["rating"] is not None else None),
                "summary": str(handoff.get("summary") or ""),
                "topics": [str(topic) for topic in handoff.get("topics") or []],
                "last_message": {"text": said[0], "ts": int(said[1])} if said else None, "archived": True}
