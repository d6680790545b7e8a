"""Search and read-only reading of archived conversations (handoff.search builds the queries; the archive
is read through handoff.archive_reader): what the ``search`` and ``search_open`` messages answer.

A conversation found opens whole, read-only: from Redis while it keeps it (the newest messages, not yet
archived, among them), from the archive after Redis has let it go.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from handoff.archive_reader import ArchiveReader, Row
from handoff.exceptions import ConversationNotFound
from handoff.search import (MAX_RESULTS, Scope, SearchRequest, among_hits, hits_sql, lines_sql, marked, scope_sql,
                            search_sql)
from handoff.store import Store

__all__ = ["ArchiveSearch", "MAX_OPENED_MESSAGES"]

# The kinds of message an agent wrote: their login is the message's author.
AUTHORED = ("agent", "note")
# An opened conversation shows at most this many messages (the live store's cap per transcript is lower).
MAX_OPENED_MESSAGES = 5000

_FIELDS = ("c.id, c.started_at, c.state, c.agent, c.skill_group, c.disposition, c.label_ids, c.rating, c.rating_comment,"
           " c.handoff_reason, c.closing_note, c.ended_at, c.contact_id, ct.name AS contact_name,"
           " ct.email AS contact_email")


def _ms(value: Optional[datetime]) -> Optional[int]:
    return int(value.timestamp() * 1000) if value is not None else None


def _summary(row: Row) -> Dict[str, Any]:
    return {"conversation_id": row["id"], "started": _ms(row["started_at"]), "state": row["state"],
            "agent": row["agent"], "group": row["skill_group"], "disposition": row["disposition"],
            "labels": list(row["label_ids"]), "rating": row["rating"], "reason": row["handoff_reason"],
            "contact": ({"id": row["contact_id"], "name": row["contact_name"] or "", "email": row["contact_email"] or ""}
                        if row["contact_id"] else None)}


class ArchiveSearch:
    def __init__(self, reader: ArchiveReader, store: Store) -> None:
        self.reader = reader
        self.store = store

    async def search(self, request: SearchRequest, scope: Scope) -> Dict[str, Any]:
        """A page of results, newest first: each conversation with its first matching lines (marked)."""
        among = None
        if request.words:
            sql, params = hits_sql(request)
            among = among_hits([row["conversation_id"] for row in await self.reader.rows(sql, params)])
        sql, params = search_sql(request, scope, among)
        found = await self.reader.rows(sql, params)
        more = len(found) > request.size
        results = [_summary(row) for row in found[: request.size]]
        if request.words and results:
            sql, params = lines_sql(request, [result["conversation_id"] for result in results])
            lines: Dict[str, List[Dict[str, Any]]] = {}
            for line in await self.reader.rows(sql, params):
                lines.setdefault(line["conversation_id"], []).append({
                    "message_id": line["id"], "sent": _ms(line["sent_at"]), "sender": line["sender"],
                    "author": line["author"], "segments": marked(line["text"], request.words)})
            for result in results:
                result["lines"] = lines.get(result["conversation_id"], [])
        else:
            for result in results:
                result["lines"] = []
        following = request.offset + request.size
        return {"results": results, "offset": request.offset,
                "next_offset": following if more and following < MAX_RESULTS else None}

    async def in_scope(self, conversation_id: str, scope: Scope) -> Row:
        """The archived conversation, if the searcher may read it; ConversationNotFound otherwise, whether it is
        not archived or outside the searcher's scope (another skill group's): the same answer, so that ids cannot
        be probed."""
        if "\x00" in conversation_id:  # PostgreSQL's text holds none: no conversation is called so
            raise ConversationNotFound(f"no conversation {conversation_id!r}")
        params: List[Any] = []
        readable = scope_sql(scope, params)
        rows = await self.reader.rows(
            f"SELECT {_FIELDS}, {readable} AS readable FROM conversations c"
            f" LEFT JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = %s", [*params, conversation_id])
        if not rows or not rows[0]["readable"]:
            raise ConversationNotFound(f"no conversation {conversation_id} in the archive")
        return rows[0]

    async def opened(self, row: Row) -> Dict[str, Any]:
        """The whole conversation, read-only: Redis's transcript while it keeps it, else the archive's."""
        conversation_id = row["id"]
        summary = {**_summary(row), "closing_note": row["closing_note"], "ended": _ms(row["ended_at"]),
                   "rating_comment": row["rating_comment"]}
        live = await self.store.messages_after(conversation_id, None)
        if live:
            messages = [{"message_id": message["id"], "kind": message["kind"], "text": message["text"],
                         "data": message["data"], "ts": message["ts"],
                         "author": (message["data"] or {}).get("agent") if message["kind"] in AUTHORED else None}
                        for message in live]
            return {**summary, "source": "live", "messages": messages}
        archived = await self.reader.rows(
            "SELECT id, sent_at, sender, author, text, data FROM messages WHERE conversation_id = %s ORDER BY position"
            " LIMIT %s", [conversation_id, MAX_OPENED_MESSAGES])
        messages = [{"message_id": message["id"], "kind": message["sender"], "text": message["text"],
                     "data": message["data"], "ts": _ms(message["sent_at"]), "author": message["author"]}
                    for message in archived]
        return {**summary, "source": "archive", "messages": messages}
