"""Writes a batch's rows (archive.facts) to PostgreSQL in one transaction, every write an upsert.

Writing the same batch twice, or two batches in either order (several archivers), leaves the same
rows: messages, state changes, handoffs and ratings are keyed by the live store's ids; a
conversation's state is taken from the newest version, its labels from the newest outbox entry;
first times (first request among them) are the least seen and the handling time is the sum over its state changes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from archive.facts import Batch

__all__ = ["write"]

_CONTACTS = """
INSERT INTO contacts (id, name, email, first_seen, last_seen) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
  name = CASE WHEN excluded.last_seen >= contacts.last_seen THEN coalesce(excluded.name, contacts.name)
              ELSE coalesce(contacts.name, excluded.name) END,
  email = CASE WHEN excluded.last_seen >= contacts.last_seen THEN coalesce(excluded.email, contacts.email)
               ELSE coalesce(contacts.email, excluded.email) END,
  first_seen = least(contacts.first_seen, excluded.first_seen),
  last_seen = greatest(contacts.last_seen, excluded.last_seen)
"""
_CONVERSATIONS = """
INSERT INTO conversations (id, started_at, last_message_at) VALUES (%s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
  started_at = least(conversations.started_at, excluded.started_at),
  last_message_at = greatest(conversations.last_message_at, excluded.last_message_at)
"""
_STATES = """
UPDATE conversations SET version = %(version)s, state = %(state)s, agent = %(agent)s,
  skill_group = %(skill_group)s, contact_id = coalesce(%(contact_id)s, contact_id), ended_at = %(ended_at)s,
  handoff_reason = coalesce(%(handoff_reason)s, handoff_reason), disposition = %(disposition)s,
  closing_note = %(closing_note)s, rating = %(rating)s, rating_comment = %(rating_comment)s,
  follows = coalesce(%(follows)s, follows)
WHERE id = %(id)s AND version < %(version)s
"""
# A conversation belongs to one contact for good (handoff/contacts.py): the link, whatever the row's version.
_LINKS = """
UPDATE conversations SET contact_id = %s WHERE id = %s
"""
# Whatever version the row has: the first times are the least of every state seen.
_FIRST_TIMES = """
UPDATE conversations SET first_queued_at = least(first_queued_at, %(queued_at)s),
  first_claimed_at = least(first_claimed_at, %(claimed_at)s)
WHERE id = %(id)s
"""
# The first request left, whatever else the row holds (a conversation may leave several).
_REQUESTS = """
UPDATE conversations SET first_request_at = least(first_request_at, %s) WHERE id = %s
"""
_LABELS = """
UPDATE conversations SET label_ids = %s, labels_position = %s WHERE id = %s AND labels_position < %s
"""
_LABEL_NAMES = """
INSERT INTO labels (id, name, colour) VALUES (%s, %s, %s)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, colour = excluded.colour
"""
_FIRST_RESPONSES = """
UPDATE conversations SET first_response_at = least(first_response_at, %s) WHERE id = %s
"""
_MESSAGES = """
INSERT INTO messages (conversation_id, id, position, sent_at, sender, author, text, data)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
_STATE_CHANGES = """
INSERT INTO state_changes (conversation_id, version, at, from_state, to_state, agent, skill_group, wait_ms,
  handled_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
_HANDLING = """
UPDATE conversations SET handling_ms = totals.handled
FROM (SELECT conversation_id, coalesce(sum(handled_ms), 0) AS handled FROM state_changes
      WHERE conversation_id = ANY(%s) GROUP BY conversation_id) AS totals
WHERE conversations.id = totals.conversation_id
"""
_HANDOFFS = """
INSERT INTO handoffs (conversation_id, version, at, reason, skill_group, payload) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""
_RATINGS = """
INSERT INTO ratings (conversation_id, version, at, agent, score, comment) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""
_TALLIES = """
INSERT INTO day_tallies (outbox_id, day, name, amount) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
_SAMPLES = """
INSERT INTO day_samples (outbox_id, day, series, agent, ms) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
_REJECTED = """
INSERT INTO rejected_facts (outbox_id, fields, error) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING
"""


async def write(connection: AsyncConnection[Any], batch: Batch) -> None:
    """Every row of ``batch``, in one transaction (all or nothing); conversations' rows in the order of
    their ids, so that two archivers' transactions wait for each other rather than deadlock."""
    async with connection.transaction():
        async with connection.cursor() as cursor:
            steps: List[Tuple[str, Sequence[Any]]] = [
                (_CONTACTS, [(c.id, c.name, c.email, c.seen, c.seen) for _, c in sorted(batch.contacts.items())]),
                (_CONVERSATIONS, [(conversation_id, started, last)
                                  for conversation_id, (started, last) in sorted(batch.conversations.items())]),
                (_STATES, [vars(state) for _, state in sorted(batch.states.items())]),
                (_LINKS, [(contact_id, conversation_id) for conversation_id, contact_id in sorted(batch.links.items())]),
                (_FIRST_TIMES, [{"id": s.id, "queued_at": s.queued_at, "claimed_at": s.claimed_at}
                                for s in batch.states.values()]),
                (_REQUESTS, [(left_at, conversation_id) for conversation_id, left_at in sorted(batch.requests.items())]),
                (_LABEL_NAMES, [(label_id, name, colour) for label_id, (name, colour) in batch.label_names.items()]),
                (_LABELS, [(ids, position, conversation_id, position)
                           for conversation_id, (ids, position) in batch.labels.items()]),
                (_FIRST_RESPONSES, [(first, conversation_id) for conversation_id, first in batch.first_responses.items()]),
                (_MESSAGES, [(m.conversation_id, m.id, m.position, m.sent_at, m.sender, m.author, m.text, Jsonb(m.data))
                             for m in batch.messages.values()]),
                (_STATE_CHANGES, [(c.conversation_id, c.version, c.at, c.from_state, c.to_state, c.agent,
                                   c.skill_group, c.wait_ms, c.handled_ms) for c in batch.state_changes]),
                (_HANDOFFS, [(h.conversation_id, h.version, h.at, h.reason, h.skill_group, Jsonb(h.payload))
                             for h in batch.handoffs]),
                (_RATINGS, [(r.conversation_id, r.version, r.at, r.agent, r.score, r.comment) for r in batch.ratings]),
                (_TALLIES, [(t.outbox_id, t.day, t.name, t.amount) for t in batch.tallies]),
                (_SAMPLES, [(s.outbox_id, s.day, s.series, s.agent, s.ms) for s in batch.samples]),
                (_REJECTED, [(r.outbox_id, Jsonb(r.fields), r.error) for r in batch.rejected]),
            ]
            for statement, rows in steps:
                if rows:
                    await cursor.executemany(statement, rows)
            changed: Dict[str, None] = dict.fromkeys(change.conversation_id for change in batch.state_changes)
            if changed:
                await cursor.execute(_HANDLING, (list(changed),))
