"""From outbox entries to archive rows: a pure function, no I/O (the archiver writes what it returns).

The bridge's Lua scripts append one entry to ``{p}:outbox`` in the step that stores each fact
(handoff/store.py, handoff/labels.py). Every entry has a ``fact`` field:

- ``message``: ``conv``, ``id`` (the transcript's stream id), ``kind``, ``text``, ``data`` (JSON),
  ``key`` (the client's idempotency key), ``ts`` (ms) and, for a customer's, ``contact`` (the signed
  customer id, "" when anonymous);
- ``state``: ``conv``, ``version``, ``at`` (ms), ``from`` (the state before), ``handled_ms`` (an agent's
  part that ended: claim to now; "" otherwise), ``rated`` ("1": this change stored a rating) and
  ``conversation``: the conversation's hash after the change (JSON; the fields of SNAPSHOT_FIELDS, the
  closed conversation it follows among them: ``follows``, set when it was created);
- ``labels``: ``conv``, ``labels`` (ids, comma-separated) and ``names`` (JSON: id -> {name, colour});
- ``contact``: ``conv``, ``contact`` (the signed customer's id), ``name``, ``email``, ``at`` (ms) and
  ``started`` (ms): a conversation linked to its contact (handoff/contacts.py, the first time only), so
  that the archive links it even if no state change after the link carries it (a chat the bot alone
  served, which may never change state);
- ``request``: ``conv``, ``request`` (its id in ``{p}:requests``), ``at`` (ms) and ``started`` (ms): a callback or
  message request stored (handoff/requests.py: left by the customer or booked with the bot), so that the archive
  knows people were needed even if the conversation never queued (``conversations.first_request_at``);
- ``tally`` and ``sample``: the day's figures (archive/day_facts.py).

Rows carry their own keys, so writing a batch twice changes nothing (archive/writer.py). An entry
that cannot be read becomes a ``Rejected`` row with its fields, never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from archive.day_facts import Sample, Tally, sample_of, tallies_of

__all__ = ["Batch", "Contact", "ConversationState", "Handoff", "Message", "Rating", "Rejected", "StateChange",
           "SNAPSHOT_FIELDS", "outbox_position", "rows_of"]

# The conversation hash's fields a state fact carries (the Lua of handoff/store.py reads them).
SNAPSHOT_FIELDS = ("state", "agent", "reason", "group", "handoff", "created", "queued_at", "waiting_since",
                   "claimed_at", "closed_at", "disposition", "closing_note", "labels", "rating",
                   "contact_id", "contact_name", "contact_email", "follows")
SENDERS = ("customer", "bot", "agent", "system", "note")
STATES = ("bot", "queued", "agent", "closed")


class BadFact(ValueError):
    """An outbox entry the archive cannot read (kept in ``rejected_facts``)."""


def at(milliseconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise BadFact(f"no time: {milliseconds} ms") from None


def outbox_position(stream_id: str) -> int:
    """A stream id "{ms}-{n}" as one number that sorts as the ids do."""
    milliseconds, _, sequence = stream_id.partition("-")
    return int(milliseconds) * 1_000_000 + int(sequence or 0)


@dataclass(frozen=True)
class Contact:
    id: str
    name: Optional[str]
    email: Optional[str]
    seen: datetime


@dataclass(frozen=True)
class Message:
    conversation_id: str
    id: str
    position: int
    sent_at: datetime
    sender: str
    author: Optional[str]
    text: str
    data: Dict[str, Any]


@dataclass(frozen=True)
class ConversationState:
    """The conversation as a state change left it (newer versions win in the archive)."""

    id: str
    version: int
    state: str
    agent: Optional[str]
    skill_group: str
    contact_id: Optional[str]
    ended_at: Optional[datetime]
    handoff_reason: Optional[str]
    queued_at: Optional[datetime]
    claimed_at: Optional[datetime]
    disposition: Optional[str]
    closing_note: Optional[str]
    rating: Optional[int]
    rating_comment: Optional[str]
    follows: Optional[str]  # the closed conversation this one follows (handoff.earlier)


@dataclass(frozen=True)
class StateChange:
    conversation_id: str
    version: int
    at: datetime
    from_state: str
    to_state: str
    agent: Optional[str]
    skill_group: str
    wait_ms: Optional[int]
    handled_ms: Optional[int]


@dataclass(frozen=True)
class Handoff:
    conversation_id: str
    version: int
    at: datetime
    reason: Optional[str]
    skill_group: str
    payload: Dict[str, Any]


@dataclass(frozen=True)
class Rating:
    conversation_id: str
    version: int
    at: datetime
    agent: Optional[str]
    score: int
    comment: str


@dataclass(frozen=True)
class Rejected:
    outbox_id: str
    fields: Dict[str, str]
    error: str

    @classmethod
    def of(cls, outbox_id: str, fields: Mapping[str, str], error: str) -> "Rejected":
        """The entry kept whole, but for NUL characters (which no PostgreSQL text holds): U+FFFD."""
        return cls(outbox_id, {name: value.replace("\x00", "\ufffd") for name, value in fields.items()}, error)


@dataclass
class Batch:
    """The rows of a batch of outbox entries, merged per key where later entries win."""

    contacts: Dict[str, Contact] = field(default_factory=dict)
    # conversation -> (first seen, last message): the row every other row refers to
    conversations: Dict[str, Tuple[datetime, Optional[datetime]]] = field(default_factory=dict)
    states: Dict[str, ConversationState] = field(default_factory=dict)  # the newest version per conversation
    labels: Dict[str, Tuple[List[str], int]] = field(default_factory=dict)  # conversation -> (ids, position)
    links: Dict[str, str] = field(default_factory=dict)  # conversation -> its contact, as linked
    requests: Dict[str, datetime] = field(default_factory=dict)  # conversation -> its first request left
    label_names: Dict[str, Tuple[str, str]] = field(default_factory=dict)  # id -> (name, colour)
    first_responses: Dict[str, datetime] = field(default_factory=dict)
    messages: Dict[Tuple[str, str], Message] = field(default_factory=dict)
    state_changes: List[StateChange] = field(default_factory=list)
    handoffs: List[Handoff] = field(default_factory=list)
    ratings: List[Rating] = field(default_factory=list)
    rejected: List[Rejected] = field(default_factory=list)
    tallies: List[Tally] = field(default_factory=list)
    samples: List[Sample] = field(default_factory=list)

    def _seen(self, conversation_id: str, first: datetime, message_at: Optional[datetime] = None) -> None:
        started, last = self.conversations.get(conversation_id, (first, message_at))
        if message_at and (last is None or message_at > last):
            last = message_at
        self.conversations[conversation_id] = (min(started, first), last)

    def _contact(self, contact_id: str, name: Optional[str], email: Optional[str], seen: datetime) -> None:
        known = self.contacts.get(contact_id)
        if known and known.seen > seen:
            return
        self.contacts[contact_id] = Contact(contact_id, name or (known and known.name) or None,
                                            email or (known and known.email) or None, seen)


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise BadFact(f"no {name}")
    return value


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadFact(f"{name} is not a whole number: {value!r}") from None


def _json_object(value: str, name: str) -> Dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise BadFact(f"{name} is not JSON") from None
    if not isinstance(parsed, dict):
        raise BadFact(f"{name} is not a JSON object")
    return parsed


def _time_field(snapshot: Mapping[str, Any], name: str) -> Optional[datetime]:
    value = snapshot.get(name)
    return at(int(str(value))) if value not in (None, "") and str(value).isdigit() else None


def _author(kind: str, key: str) -> Optional[str]:
    """The agent of an agent's message or note (keys "agent:{name}:{id}", "note:{name}:{id}", a file's
    "file:agent:{name}:{id}")."""
    if kind not in ("agent", "note"):
        return None
    parts = key.removeprefix("file:").split(":", 2)
    return parts[1] if len(parts) == 3 else None


def _message(batch: Batch, fields: Mapping[str, str]) -> None:
    conversation_id, message_id = _required(fields, "conv"), _required(fields, "id")
    kind = _required(fields, "kind")
    if kind not in SENDERS:
        raise BadFact(f"unknown message kind {kind!r}")
    sent_at = at(_integer(_required(fields, "ts"), "ts"))
    # PostgreSQL's text and jsonb hold no NUL character: one a client sent is kept as U+FFFD.
    message = Message(conversation_id, message_id, outbox_position(message_id), sent_at, kind,
                      _author(kind, fields.get("key", "")), fields.get("text", "").replace("\x00", "\ufffd"),
                      _json_object((fields.get("data") or "{}").replace("\\u0000", "\\ufffd"), "data"))
    batch._seen(conversation_id, sent_at, sent_at)
    batch.messages[(conversation_id, message_id)] = message
    if fields.get("contact"):
        batch._contact(fields["contact"], None, None, sent_at)
    if kind == "agent":
        first = batch.first_responses.get(conversation_id)
        batch.first_responses[conversation_id] = min(first, sent_at) if first else sent_at


def _state(batch: Batch, fields: Mapping[str, str]) -> None:
    conversation_id = _required(fields, "conv")
    version = _integer(_required(fields, "version"), "version")
    changed_at = at(_integer(_required(fields, "at"), "at"))
    before = _required(fields, "from")
    snapshot = _json_object(_required(fields, "conversation"), "conversation")
    after = str(snapshot.get("state", ""))
    if before not in STATES or after not in STATES:
        raise BadFact(f"unknown state {before!r} -> {after!r}")
    group = str(snapshot.get("group") or "general")
    agent = str(snapshot.get("agent") or "") or None
    contact_id = str(snapshot.get("contact_id") or "") or None
    rating = _json_object(snapshot.get("rating") or "{}", "rating")
    score = rating.get("score")
    if score is not None and not (isinstance(score, int) and 1 <= score <= 5):
        raise BadFact(f"a rating's score is 1 to 5, not {score!r}")
    payload = _json_object(snapshot.get("handoff") or "{}", "handoff")
    handled = fields.get("handled_ms", "")
    handled_ms = _integer(handled, "handled_ms") if handled else None
    # Read whole before anything is kept: a bad entry adds no row.
    batch._seen(conversation_id, _time_field(snapshot, "created") or changed_at)
    if contact_id:
        batch._contact(contact_id, snapshot.get("contact_name") or None, snapshot.get("contact_email") or None,
                       changed_at)
    closed = after == "closed"
    state = ConversationState(
        conversation_id, version, after, agent, group, contact_id,
        _time_field(snapshot, "closed_at") if closed else None, str(snapshot.get("reason") or "") or None,
        _time_field(snapshot, "waiting_since") or _time_field(snapshot, "queued_at"),
        _time_field(snapshot, "claimed_at"), str(snapshot.get("disposition") or "") or None,
        str(snapshot.get("closing_note") or "") or None, score, str(rating.get("comment", "")) if score else None,
        str(snapshot.get("follows") or "") or None)
    newest = batch.states.get(conversation_id)
    if newest is None or newest.version < version:
        batch.states[conversation_id] = state
    position = outbox_position(fields["_id"])
    batch.labels[conversation_id] = _newer_labels(batch, conversation_id, str(snapshot.get("labels") or ""), position)
    # A claim's wait is this stay in the queue (queued_at), as the day's ``waits`` samples the report's totals and the
    # dashboard read: from waiting_since, a chat transferred to a group counted its first agent's time as waiting too.
    queued_at = _time_field(snapshot, "queued_at")
    claimed = before == "queued" and after == "agent"
    wait_ms = int((changed_at - queued_at).total_seconds() * 1000) if claimed and queued_at else None
    batch.state_changes.append(StateChange(conversation_id, version, changed_at, before, after, agent, group,
                                           wait_ms, handled_ms))
    if after == "queued" and before in ("bot", "closed"):  # not a transfer, nor an agent lost
        batch.handoffs.append(Handoff(conversation_id, version, changed_at, state.handoff_reason, group, payload))
    if fields.get("rated") == "1" and score is not None:
        batch.ratings.append(Rating(conversation_id, version, changed_at, agent, score, state.rating_comment or ""))


def _newer_labels(batch: Batch, conversation_id: str, labels: str, position: int) -> Tuple[List[str], int]:
    known = batch.labels.get(conversation_id)
    if known and known[1] > position:
        return known
    return [label for label in labels.split(",") if label], position


def _labels(batch: Batch, fields: Mapping[str, str]) -> None:
    conversation_id = _required(fields, "conv")
    names = _json_object(fields.get("names") or "{}", "names")
    for label_id, label in names.items():
        if not isinstance(label, dict) or not isinstance(label.get("name"), str):
            raise BadFact(f"label {label_id!r} has no name")
    batch.label_names.update({label_id: (label["name"], str(label.get("colour", "")))
                              for label_id, label in names.items()})
    batch.labels[conversation_id] = _newer_labels(batch, conversation_id, fields.get("labels", ""),
                                                  outbox_position(fields["_id"]))


def _link(batch: Batch, fields: Mapping[str, str]) -> None:
    conversation_id, contact_id = _required(fields, "conv"), _required(fields, "contact")
    linked_at = at(_integer(_required(fields, "at"), "at"))
    started = fields.get("started", "")
    batch._seen(conversation_id, at(_integer(started, "started")) if started else linked_at)
    batch._contact(contact_id, fields.get("name") or None, fields.get("email") or None, linked_at)
    batch.links[conversation_id] = contact_id


def _request(batch: Batch, fields: Mapping[str, str]) -> None:
    conversation_id = _required(fields, "conv")
    _required(fields, "request")
    left_at = at(_integer(_required(fields, "at"), "at"))
    started = fields.get("started", "")
    batch._seen(conversation_id, at(_integer(started, "started")) if started else left_at)
    first = batch.requests.get(conversation_id)
    batch.requests[conversation_id] = min(first, left_at) if first else left_at


def _tally(batch: Batch, fields: Mapping[str, str]) -> None:
    try:
        batch.tallies += tallies_of(fields["_id"], fields)
    except ValueError as error:
        raise BadFact(str(error)) from None


def _sample(batch: Batch, fields: Mapping[str, str]) -> None:
    try:
        batch.samples.append(sample_of(fields["_id"], fields))
    except ValueError as error:
        raise BadFact(str(error)) from None


_READERS = {"message": _message, "state": _state, "labels": _labels, "contact": _link, "request": _request,
            "tally": _tally, "sample": _sample}


def rows_of(entries: Sequence[Tuple[str, Mapping[str, str]]]) -> Batch:
    """The rows of outbox entries (stream id, fields), in outbox order."""
    batch = Batch()
    for entry_id, fields in entries:
        reader = _READERS.get(fields.get("fact", ""))
        try:
            if reader is None:
                raise BadFact(f"unknown fact {fields.get('fact')!r}")
            reader(batch, {**fields, "_id": entry_id})
        except BadFact as error:
            batch.rejected.append(Rejected.of(entry_id, fields, str(error)))
    return batch
