"""Forgetting and retention in the archive: a forget's rows deleted, the tombstones that keep them
deleted, and the retention sweep.

A forget and an archiver's batch exclude each other by one PostgreSQL advisory lock: every batch is
written holding it shared (archivers do not wait for each other), a forget holds it exclusive while it
records the conversations' digests in ``forgotten_conversations`` and deletes their rows. A batch
committed before the forget is deleted by it; one written after it skips the forgotten conversations'
entries. So a forget racing an archiver mid-batch still leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Dict, Optional, Sequence, Set, Tuple

from psycopg import AsyncConnection
from redis.asyncio import Redis

from archive.facts import rows_of
from archive.writer import write

__all__ = ["AUDIT_CAP", "FORGET_LOCK", "RETENTION_LOCK", "archive_entries", "archived_of", "audit", "audit_key",
           "digest", "forget_rows", "sweep"]

Entry = Tuple[str, Dict[str, str]]
# pg_advisory_*lock keys (fixed numbers, the same in every process): forgets against batches, and the
# retention sweep (one archiver at a time).
FORGET_LOCK = 0x666F7267  # "forg"
RETENTION_LOCK = 0x72657465  # "rete"
AUDIT_CAP = 100_000


def audit_key(prefix: str) -> str:
    return f"{prefix}:forget-audit"


async def audit(redis: Redis, prefix: str, who: str, what: str, counts: Dict[str, int]) -> None:
    """One entry of the audit stream ``{p}:forget-audit``: who, when (ms), what kind of forget and how many
    of each thing went; never an id, a name or a text of what was forgotten."""
    await redis.xadd(audit_key(prefix), {"who": who, "what": what, "at": str(int(time.time() * 1000)),
                                         "counts": json.dumps(counts, sort_keys=True)},
                     maxlen=AUDIT_CAP, approximate=True)


def digest(conversation_id: str) -> bytes:
    return hashlib.sha256(conversation_id.encode()).digest()


async def archive_entries(connection: AsyncConnection[Any], entries: Sequence[Entry]) -> int:
    """Writes the entries' rows in one transaction but those of forgotten conversations; returns how many
    entries were left out."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock_shared(%s)", (FORGET_LOCK,))
        mentioned = {fields["conv"] for _, fields in entries if fields.get("conv")}
        forgotten: set[str] = set()
        if mentioned:
            by_digest = {digest(conversation_id): conversation_id for conversation_id in mentioned}
            cursor = await connection.execute(
                "SELECT digest FROM forgotten_conversations WHERE digest = ANY(%s)", (list(by_digest),))
            forgotten = {by_digest[bytes(row[0])] for row in await cursor.fetchall()}
        kept = [(entry_id, fields) for entry_id, fields in entries if fields.get("conv") not in forgotten]
        await write(connection, rows_of(kept))
    return len(entries) - len(kept)


async def archived_of(connection: AsyncConnection[Any], contact_id: str, conversation_id: str) -> Tuple[Set[str], bool]:
    """The archived conversations of the contact (and the one conversation, if archived), and whether the
    archive knows the contact."""
    cursor = await connection.execute("SELECT id FROM conversations WHERE contact_id = %s OR id = %s",
                                      (contact_id or None, conversation_id or None))
    found = {row[0] for row in await cursor.fetchall()}
    cursor = await connection.execute("SELECT 1 FROM contacts WHERE id = %s", (contact_id or None,))
    return found, await cursor.fetchone() is not None


_COUNTS = """
SELECT (SELECT count(*) FROM messages WHERE conversation_id = ANY(%(ids)s)),
       (SELECT count(*) FROM state_changes WHERE conversation_id = ANY(%(ids)s)),
       (SELECT count(*) FROM handoffs WHERE conversation_id = ANY(%(ids)s)),
       (SELECT count(*) FROM ratings WHERE conversation_id = ANY(%(ids)s))
"""


async def forget_rows(connection: AsyncConnection[Any], conversation_ids: Sequence[str],
                      contact_id: Optional[str]) -> Dict[str, int]:
    """Deletes the conversations' rows (their messages, state changes, handoffs and ratings with them),
    the entries rejected for them and the contact, and records their tombstones, in one transaction
    holding the forget lock; returns how many rows of each kind went."""
    ids = sorted(set(conversation_ids))
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (FORGET_LOCK,))
        async with connection.cursor() as cursor:
            await cursor.executemany("INSERT INTO forgotten_conversations (digest) VALUES (%s) "
                                     "ON CONFLICT DO NOTHING", [(digest(conversation_id),) for conversation_id in ids])
            await cursor.execute(_COUNTS, {"ids": ids})
            row = await cursor.fetchone()
            messages, state_changes, handoffs, ratings = row if row else (0, 0, 0, 0)
            await cursor.execute("DELETE FROM conversations WHERE id = ANY(%s)", (ids,))
            conversations = cursor.rowcount
            await cursor.execute("DELETE FROM rejected_facts WHERE fields->>'conv' = ANY(%s)", (ids,))
            rejected = cursor.rowcount
            contacts = 0
            if contact_id:
                await cursor.execute("DELETE FROM contacts WHERE id = %s", (contact_id,))
                contacts = cursor.rowcount
    return {"archived_conversations": conversations, "archived_messages": int(messages),
            "archived_state_changes": int(state_changes), "archived_handoffs": int(handoffs),
            "archived_ratings": int(ratings), "archived_rejected_facts": rejected, "archived_contacts": contacts}


_OLD_CONVERSATIONS = """
DELETE FROM conversations WHERE id IN (
  SELECT id FROM conversations WHERE coalesce(last_message_at, started_at) < now() - make_interval(days => %s)
  LIMIT %s)
"""
_OLD_CONTACTS = """
DELETE FROM contacts WHERE last_seen < now() - make_interval(days => %s)
  AND NOT EXISTS (SELECT 1 FROM conversations WHERE conversations.contact_id = contacts.id)
"""
_OLD_REJECTED = "DELETE FROM rejected_facts WHERE at < now() - make_interval(days => %s)"
_OLD_TOMBSTONES = "DELETE FROM forgotten_conversations WHERE forgotten_at < now() - make_interval(days => %s)"


async def sweep(connection: AsyncConnection[Any], days: int, batch_size: int = 1000) -> Optional[Dict[str, int]]:
    """Deletes conversations whose last message is older than ``days`` days (with their rows), in
    transactions of ``batch_size`` conversations so that archivers' batches do not wait long, then
    contacts left without conversations and not seen since, and old rejected entries. One archiver
    at a time (a session advisory lock; None: another is sweeping). ``connection`` is in autocommit.
    Tombstones go after the live store's retention has let every outbox entry go, with the same
    number of days (at least 30)."""
    cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (RETENTION_LOCK,))
    row = await cursor.fetchone()
    if not row or not row[0]:
        return None
    counts = {"archived_conversations": 0, "archived_contacts": 0, "archived_rejected_facts": 0}
    try:
        while True:
            async with connection.transaction():
                deleted = (await connection.execute(_OLD_CONVERSATIONS, (days, batch_size))).rowcount
            counts["archived_conversations"] += deleted
            if deleted < batch_size:
                break
        async with connection.transaction():
            counts["archived_contacts"] = (await connection.execute(_OLD_CONTACTS, (days,))).rowcount
            counts["archived_rejected_facts"] = (await connection.execute(_OLD_REJECTED, (days,))).rowcount
            await connection.execute(_OLD_TOMBSTONES, (max(days, 30),))
    finally:
        await connection.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))
    return counts
