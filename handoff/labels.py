"""Labels: a set the supervisors manage, put on conversations by the agents serving them.

The set is one Redis hash shared by every bridge process (``{p}:labels``: id -> ``{name, colour}``);
a change is announced on ``{p}:workspace-events`` (``{"labels": 1}``) and every console gets the
set again. A conversation's labels are the ids in its hash's ``labels`` field (comma-separated, in
the order put on), changed by one script that checks who may change them, counts the label in the
day's counters (once per conversation and day; taken off again the same day, uncounted) and
announces the change on the conversation's live channel (and, while it is queued, on ``{p}:queue-said``,
``{"labelled": id}``, for its card in the agents' queue).
Names and colours are checked here, at the edge; the dashboard's figures are :func:`closing_figures`.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any, Dict, List, Optional, Sequence

from redis.exceptions import WatchError

from handoff.exceptions import (
    AlreadyExists, ConversationNotFound, InvalidTransition, LimitReached, MalformedMessage, StateError, UnknownItem,
)
from handoff.protocol import readable
from handoff.store import DAY_TTL_MS, Store

__all__ = ["LabelDesk", "MAX_LABELS", "MAX_LABELS_PER_CONVERSATION", "MAX_NAME", "closing_figures", "closing_totals", "colour_of",
           "label_id_of", "name_of", "split", "workspace_channel"]

MAX_LABELS = 50
MAX_LABELS_PER_CONVERSATION = 10
MAX_NAME = 32
SAVE_ATTEMPTS = 20  # a save tried again so often while other supervisors change the set
_COLOUR = re.compile(r"#[0-9a-f]{6}")
_LABEL_ID = re.compile(r"[0-9a-f]{8}")

# KEYS: the conversation's hash, the label set, the day's counters, all days' closing counters, the outbox.
# ARGV: label id, '1' to put it on / '0' to take it off, the agent who must be serving it ('' for a
# supervisor: any conversation), the most labels one conversation may have, the day, ms to keep the
# day's counters, the live channel, the queue's channel, the stats channel, the conversation id.
# Labels deleted from the set drop off the conversation with its next change. Returns
# {1, labels, changed} or {code}: -1 no such conversation, -2 not served by that agent, -3 no such
# label, -4 too many labels.
_SET_LABEL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local state = redis.call('HGET', KEYS[1], 'state')
if ARGV[3] ~= '' and (state ~= 'agent' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[3]) then return {-2} end
if ARGV[2] == '1' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {-3} end
local kept, present = {}, false
for id in string.gmatch(redis.call('HGET', KEYS[1], 'labels') or '', '[^,]+') do
  if redis.call('HEXISTS', KEYS[2], id) == 1 then
    if id == ARGV[1] then present = true else table.insert(kept, id) end
  end
end
local changed = (ARGV[2] == '1') ~= present
if ARGV[2] == '1' then
  if not present and #kept >= tonumber(ARGV[4]) then return {-4} end
  table.insert(kept, ARGV[1])
end
local labels = table.concat(kept, ',')
redis.call('HSET', KEYS[1], 'labels', labels)
if changed then
  local marker = 'labelled:' .. ARGV[5] .. ':' .. ARGV[1]
  local counted = false
  if ARGV[2] == '1' then
    redis.call('HINCRBY', KEYS[4], 'label:' .. ARGV[1], 1)
    counted = redis.call('HSETNX', KEYS[1], marker, '1') == 1
    if counted then redis.call('HINCRBY', KEYS[3], 'label:' .. ARGV[1], 1) end
  elseif redis.call('HDEL', KEYS[1], marker) == 1 then
    redis.call('HINCRBY', KEYS[3], 'label:' .. ARGV[1], -1)
    counted = true
  end
  if counted then
    redis.call('PEXPIRE', KEYS[3], ARGV[6])
    redis.call('PUBLISH', ARGV[9], '{}')
    -- What the day's counters got, for the reports (archive/day_facts.py).
    to_outbox(KEYS[5], 'fact', 'tally', 'day', ARGV[5], 'counts',
              cjson.encode({['label:' .. ARGV[1]] = ARGV[2] == '1' and 1 or -1}))
  end
  redis.call('PUBLISH', ARGV[7], cjson.encode({labels = labels}))
  -- The conversation's labels, with the names they have now, to the outbox KEYS[5] (archive.facts).
  local names = {}
  for _, id in ipairs(kept) do names[id] = cjson.decode(redis.call('HGET', KEYS[2], id)) end
  to_outbox(KEYS[5], 'fact', 'labels', 'conv', ARGV[10], 'labels', labels, 'names', cjson.encode(names))
  if state == 'queued' then redis.call('PUBLISH', ARGV[8], cjson.encode({labelled = ARGV[10]})) end
end
return {1, labels, changed and 1 or 0}
"""


def workspace_channel(prefix: str) -> str:
    """Where changes to the label set and the canned responses are announced (handoff.canned too)."""
    return f"{prefix}:workspace-events"


def name_of(data: Dict[str, Any]) -> str:
    value = data.get("name")
    if not isinstance(value, str) or not 0 < len(readable(value).strip()) <= MAX_NAME:
        raise MalformedMessage(f"'name' must be 1-{MAX_NAME} characters")
    return " ".join(readable(value).split())


def colour_of(data: Dict[str, Any]) -> str:
    value = data.get("colour")
    if not isinstance(value, str) or not _COLOUR.fullmatch(value.lower()):
        raise MalformedMessage("'colour' must be a colour such as #1f6feb")
    return value.lower()


def label_id_of(data: Dict[str, Any]) -> str:
    value = data.get("label_id")
    if not isinstance(value, str) or not _LABEL_ID.fullmatch(value):
        raise MalformedMessage("'label_id' must be a label's id")
    return value


def closing_figures(counters: Dict[str, int], labels: Sequence[Dict[str, str]],
                    dispositions: Sequence[str]) -> Dict[str, Any]:
    """The dashboard's ``labels`` (conversations given each label today, every label of the set, most
    used first) and ``dispositions`` (conversations closed today with each, the configured ones first)."""
    counted = [{**label, "count": counters.get(f"label:{label['id']}", 0)} for label in labels]
    by_disposition = {name: counters.get(f"disposition:{name}", 0) for name in dispositions}
    for field, count in sorted(counters.items()):  # closed today with one no longer configured
        if field.startswith("disposition:") and field[len("disposition:"):] not in by_disposition:
            by_disposition[field[len("disposition:"):]] = count
    return {"labels": sorted(counted, key=lambda label: (-label["count"], label["name"].casefold())),
            "dispositions": by_disposition}


def closing_totals(stored: Dict[bytes, bytes], labels: Sequence[Dict[str, str]]) -> Dict[str, Dict[str, int]]:
    """All days' ``{p}:stats:closing`` for /metrics: conversations closed by disposition, and labels put on
    conversations by label name (of the labels still in the set)."""
    names = {label["id"]: label["name"] for label in labels}
    totals: Dict[str, Dict[str, int]] = {"dispositions": {}, "labels": {}}
    for field, value in stored.items():
        kind, _, name = field.decode().partition(":")
        if kind == "disposition":
            totals["dispositions"][name] = int(value)
        elif kind == "label" and name in names:
            totals["labels"][names[name]] = int(value)
    return totals


class LabelDesk:
    """The label set and conversations' labels in Redis (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis
        self.key = store.key("labels")
        self.channel = workspace_channel(store.prefix)
        self._set_label = store.script(_SET_LABEL)

    async def items(self) -> List[Dict[str, str]]:
        """The set, by name."""
        return _labels(await self.redis.hgetall(self.key))

    async def save(self, label_id: Optional[str], name: str, colour: str) -> str:
        """A new label (``label_id`` None) or a label renamed or recoloured; returns its id. Names are
        unique whatever their case, and the set has at most MAX_LABELS: checked and written in one
        transaction on the set, tried again when another supervisor changed it meanwhile."""
        value = json.dumps({"name": name, "colour": colour})
        for _ in range(SAVE_ATTEMPTS):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(self.key)
                    labels = _labels(await pipe.hgetall(self.key))
                    saved_id = _check_save(labels, label_id, name)
                    pipe.multi()
                    pipe.hset(self.key, saved_id, value)
                    await pipe.execute()
                except WatchError:
                    continue
            await self.redis.publish(self.channel, json.dumps({"labels": 1}))
            return saved_id
        raise StateError("the labels are changing too fast; try again")

    async def delete(self, label_id: str) -> None:
        if not await self.redis.hdel(self.key, label_id):
            raise UnknownItem("no such label (deleted meanwhile?)")
        await self.redis.publish(self.channel, json.dumps({"labels": 1}))

    async def of(self, conversation_id: str) -> List[str]:
        """The ids of a conversation's labels (some may since have been deleted from the set)."""
        return split(await self.redis.hget(self.store.key("conv", conversation_id), "labels"))

    async def set_on(self, conversation_id: str, label_id: str, on: bool, day: str, agent: str = "") -> List[str]:
        """Puts a label on a conversation or takes it off; returns its labels. ``agent``: only while they
        serve it ('' for a supervisor)."""
        result = await self._set_label(
            keys=[self.store.key("conv", conversation_id), self.key, self.store.key("day", day),
                  self.store.key("stats", "closing"), self.store.key("outbox")],
            args=[label_id, "1" if on else "0", agent, str(MAX_LABELS_PER_CONVERSATION), day, str(DAY_TTL_MS),
                  self.store.live_channel(conversation_id), self.store.said_channel,
                  self.store.stats_channel, conversation_id])
        code = int(result[0])
        if code == -1:
            raise ConversationNotFound("conversation not found")
        if code == -2:
            raise InvalidTransition(f"{agent} is not serving this conversation")
        if code == -3:
            raise UnknownItem("no such label (deleted meanwhile?)")
        if code == -4:
            raise LimitReached(f"a conversation has at most {MAX_LABELS_PER_CONVERSATION} labels", code="too_many")
        return split(result[1])


def _labels(stored: Dict[bytes, bytes]) -> List[Dict[str, str]]:
    """The set as stored, by name."""
    labels = [{"id": key.decode(), **json.loads(value)} for key, value in stored.items()]
    return sorted(labels, key=lambda label: label["name"].casefold())


def _check_save(labels: List[Dict[str, str]], label_id: Optional[str], name: str) -> str:
    """The id a label saved as ``name`` gets in the set ``labels`` (new: ``label_id`` None), or why not."""
    if any(label["name"].casefold() == name.casefold() and label["id"] != label_id for label in labels):
        raise AlreadyExists(f"there is a label named {name!r} already")
    if label_id is not None:
        if all(label["id"] != label_id for label in labels):
            raise UnknownItem("no such label (deleted meanwhile?)")
        return label_id
    if len(labels) >= MAX_LABELS:
        raise LimitReached(f"there are {MAX_LABELS} labels already; delete one first", code="too_many")
    taken = {label["id"] for label in labels}
    return next(new_id for new_id in iter(lambda: secrets.token_hex(4), "") if new_id not in taken)


def split(stored: "bytes | str | None") -> List[str]:
    """A conversation's ``labels`` field as a list of ids."""
    text = stored.decode() if isinstance(stored, bytes) else (stored or "")
    return [label_id for label_id in text.split(",") if label_id]
