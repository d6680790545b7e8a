"""Replies agents gave before, indexed by the meaning of the customer message they answered.

Several Rasa servers share one index in Redis; each keeps a copy of it in memory, read again
whenever the index's version (raised by every change) differs from its copy's. Each entry holds
the agent's reply, the NLU's topic of the customer message and that message's sentence embedding
(all-MiniLM-L6-v2, the NLU's own), never the customer's words: what is kept is what may be
suggested. Which replies may be kept at all the bridge decides before it relays them
(handoff/suggestions.py): agents' replies only, never notes, none with personal data.

A reply is offered only once the team has given it, near-identical (the same words after
lower-casing, dropping punctuation and joining spaces), in MIN_CONVERSATIONS different
conversations (a pair id is ``conversation:message``): a reply written for one person's
circumstances ("your card was stolen from your flat") is not suggested to another customer, while
the team's recurring answers are.

Redis keys (``{p}`` is ``SUGGESTIONS_KEY_PREFIX``: ``support:`` as the tracker store's; one hash
tag, one Cluster slot):

    {p}{suggest}:replies  hash  pair id -> JSON {"reply", "topic", "vector": base64 float32}
    {p}{suggest}:order    zset  pair id -> when it was added (ms): the oldest go first past the cap
    {p}{suggest}:version  string  raised by every change
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Sequence, Set, Tuple

import numpy as np
from redis.asyncio import Redis

from bot.suggestions.faq import Suggestion

__all__ = ["MIN_CONVERSATIONS", "LearnedPair", "NearestReplies", "ReplyIndex", "recurring"]

# How many replies the index keeps (the oldest go first): ~2.5 kB each in Redis and in each server.
MAX_REPLIES = 5_000
# In how many different conversations a reply must have been given before it is suggested.
MIN_CONVERSATIONS = 3

# One script adds pairs, drops the oldest past the cap and raises the version: atomic across servers.
_ADD = """
local added = 0
for i = 3, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i])
    added = added + 1
  end
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
if excess > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], excess)
  for j = 1, #oldest, 2 do redis.call('HDEL', KEYS[1], oldest[j]) end
end
if added > 0 or excess > 0 then redis.call('INCR', KEYS[3]) end
return added
"""


@dataclass(frozen=True)
class LearnedPair:
    """A customer message and the agent's reply to it, as the bridge relays them (checked there)."""

    pair_id: str
    customer: str
    reply: str


@dataclass
class NearestReplies:
    """An in-memory copy of the index: the replies whose customer messages are nearest a message's."""

    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    replies: List[Tuple[str, str]] = field(default_factory=list)  # (reply, topic), in the vectors' order

    def nearest(self, vector: np.ndarray, limit: int, min_similarity: float) -> List[Suggestion]:
        """At most ``limit`` distinct replies, most similar first, each at least ``min_similarity``
        (cosine of the customer messages' embeddings)."""
        if not self.replies:
            return []
        similarity = self.vectors @ vector.astype(np.float32)
        found: List[Suggestion] = []
        for index in np.argsort(-similarity):
            if similarity[index] < min_similarity or len(found) == limit:
                break
            reply, topic = self.replies[index]
            if all(reply != kept["text"] for kept in found):
                found.append({"text": reply, "source": "agent", "score": round(float(similarity[index]), 4),
                              "topic": topic})
        return found


def _normalised(reply: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", reply.lower()).split())


def recurring(replies: Mapping[str, str], min_conversations: int) -> List[str]:
    """The pair ids (``conversation:message`` -> reply) whose reply was given, near-identical, in at
    least ``min_conversations`` different conversations."""
    conversations: Dict[str, Set[str]] = {}
    for pair_id, reply in replies.items():
        conversations.setdefault(_normalised(reply), set()).add(pair_id.rsplit(":", 1)[0])
    return [pair_id for pair_id, reply in replies.items()
            if len(conversations[_normalised(reply)]) >= min_conversations]


def _encoded(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype(np.float32).tobytes()).decode()


def _decoded(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)


class ReplyIndex:
    """The shared index in Redis with this server's copy of it."""

    def __init__(self, redis: Redis, prefix: str, max_replies: int = MAX_REPLIES,
                 min_conversations: int = MIN_CONVERSATIONS) -> None:
        self.redis = redis
        self.keys = [f"{prefix}{{suggest}}:{name}" for name in ("replies", "order", "version")]
        self.max_replies = max_replies
        self.min_conversations = min_conversations
        self._add = redis.register_script(_ADD)
        self._copy = NearestReplies()
        self._copy_version: Any = None

    async def unknown(self, pairs: Sequence[LearnedPair]) -> List[LearnedPair]:
        """The pairs not in the index yet (only those need embedding)."""
        if not pairs:
            return []
        present = await self.redis.hmget(self.keys[0], [pair.pair_id for pair in pairs])
        return [pair for pair, found in zip(pairs, present) if found is None]

    async def add(self, pairs: Sequence[LearnedPair], vectors: np.ndarray, topics: Sequence[str]) -> int:
        """Adds the pairs (a pair id already there is kept as it is); returns how many were new."""
        if not pairs:
            return 0
        entries: List[str] = []
        for pair, vector, topic in zip(pairs, vectors, topics):
            entries += [pair.pair_id, json.dumps({"reply": pair.reply, "topic": topic, "vector": _encoded(vector)})]
        return int(await self._add(keys=self.keys, args=[self.max_replies, int(time.time() * 1000), *entries]))

    async def current(self) -> NearestReplies:
        """This server's copy of the replies that may be offered (given in enough conversations), read
        again from Redis if another server (or this one) changed the index."""
        version = await self.redis.get(self.keys[2])
        if version != self._copy_version or version is None:
            stored: Dict[bytes, bytes] = await self.redis.hgetall(self.keys[0])
            decoded = {pair_id.decode(): json.loads(value) for pair_id, value in stored.items()}
            offered = recurring({pair_id: entry["reply"] for pair_id, entry in decoded.items()}, self.min_conversations)
            entries = [decoded[pair_id] for pair_id in offered]
            vectors = np.vstack([_decoded(entry["vector"]) for entry in entries]) if entries else \
                np.zeros((0, 0), dtype=np.float32)
            self._copy = NearestReplies(vectors, [(entry["reply"], entry["topic"]) for entry in entries])
            self._copy_version = version
        return self._copy
