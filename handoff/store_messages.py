"""Messages as the transcript stores and announces them (handoff.store): their types, how an entry is read
and announced, and the Lua that stores the bridge's own messages."""

from __future__ import annotations

import json
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from handoff.machine import State

__all__ = ["ADD_MESSAGES", "Appended", "NewMessages", "StoredMessage", "decode_message", "entry_json", "message_order", "refused_handoff_of"]

StoredMessage = Dict[str, Any]

# Lua shared by the scripts that store messages the bridge writes itself (handoff.store_transcript's _ANSWER,
# handoff.store_commit's _COMMIT), each also to the ``outbox`` as a message of ``conversation``: ``count``
# messages of ``kind`` from ARGV[first] on, four arguments each (client key, text, data JSON, the entry as
# announced), each stored once per key in the transcript ``log`` (idempotency hash ``idem``) and announced
# on ``channel`` like an append (handoff.store_transcript's
# _APPEND), at time ``ts``. Returns the id of the message before the first
# one added ('' for none) and then, for each message, its new id ('' when it was stored before): what
# one script adds follows on in the transcript, so a socket in step can send it without reading it.
ADD_MESSAGES = """
local function add_messages(log, idem, channel, kind, ts, first, count, outbox, conversation)
  local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  last = last and last[1]
  local added = {last or ''}
  for i = first, first - 1 + 4 * count, 4 do
    local id = ''
    if not redis.call('HGET', idem, ARGV[i]) then
      id = redis.call('XADD', log, '*', 'kind', kind, 'text', ARGV[i + 1], 'data', ARGV[i + 2],
                      'key', ARGV[i], 'ts', ts)
      redis.call('HSET', idem, ARGV[i], id)
      to_outbox(outbox, 'fact', 'message', 'conv', conversation, 'id', id, 'kind', kind, 'text', ARGV[i + 1],
                'data', ARGV[i + 2], 'key', ARGV[i], 'ts', ts)
      local after = last and ('"' .. last .. '"') or 'null'
      redis.call('PUBLISH', channel, '{"message": "' .. id .. '", "after": ' .. after .. ', "entry": ' .. ARGV[i + 3] .. '}')
      last = id
    end
    added[#added + 1] = id
  end
  return added
end
"""


class NewMessages(NamedTuple):
    """Messages just stored, in transcript order with nothing between them, and the id of the message
    before the first (None: they are the first): a socket that has sent exactly up to ``after`` sends
    them as they are (Connection.deliver), any other reads the transcript."""

    after: Optional[str]
    messages: List[StoredMessage]


def message_order(message_id: str) -> Tuple[int, int]:
    """A message id's place in its transcript (stream ids "{ms}-{n}" grow with every message)."""
    milliseconds, _, sequence = message_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class Appended(NamedTuple):
    id: str
    added: bool  # False: a retry of a message stored before
    # Who the conversation was with when the message was stored (None: it has expired).
    state: Optional[State]
    leased: bool = False  # its routing lease was taken with it (Store.append's ``lease``)
    # Stored while queued: the stay (queued_at, ms) whose once-per-stay notice is not stored yet (Store.append's
    # ``told_once``); None: told already, not asked, or not queued.
    untold_stay: Optional[int] = None
    # With its lease: the handoff the queue refused and keeps (Store.keep_refused_handoff), for the bot.
    refused_handoff: Optional[Dict[str, Any]] = None


def refused_handoff_of(raw: Optional[bytes]) -> Optional[Dict[str, Any]]:
    """A kept refused handoff's payload as stored (JSON; empty once taken): None for none."""
    payload = json.loads(raw) if raw else None
    return payload if isinstance(payload, dict) else None


def _client_id(kind: str, key: str) -> str:
    """The id a customer or agent sent with their message, file or note (keys are "customer:{id}",
    "agent:{name}:{id}", "note:{name}:{id}", and for a file "file:" before the first two)."""
    key = key.removeprefix("file:")
    if kind == "customer":
        return key.partition(":")[2]
    if kind in ("agent", "note"):
        return key.split(":", 2)[-1]
    return ""


def entry_json(kind: str, client_key: str, text: str, data_json: str, now: int) -> str:
    """A new message as its announcement carries it (as messages_after() reads it, but for its id),
    around its data already encoded for the stream."""
    return (f'{{"client_id": {json.dumps(_client_id(kind, client_key))}, "kind": {json.dumps(kind)}, '
            f'"text": {json.dumps(text)}, "data": {data_json}, "ts": {now}}}')


def decode_message(entry_id: bytes, fields: Dict[bytes, bytes]) -> StoredMessage:
    """A transcript entry as clients read it."""
    text = {k.decode(): v.decode() for k, v in fields.items()}
    return {
        "id": entry_id.decode(),
        "client_id": _client_id(text["kind"], text.get("key", "")),
        "kind": text["kind"],
        "text": text["text"],
        "data": json.loads(text["data"]),
        "ts": int(text["ts"]),
    }
