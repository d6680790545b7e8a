"""Replies agents gave before, indexed by the meaning of the customer message they answered.

Several Rasa servers share one index in Redis; each keeps a copy of it in memory, read again
whenever the index's version (raised by every change) differs from its copy's. Each entry holds
the agent's reply, the NLU's topic of the customer message and that message's sentence embedding
(all-MiniLM-L6-v2, the NLU's own), never the customer's words: what is kept is what may be
suggested. Which replies may be kept at all the bridge decides before it relays them
(handoff/suggestions.py): agents' replies only, never notes, none with personal data.

Redis keys (``{p}`` is ``SUGGESTIONS_KEY_PREFIX``: ``support:`` as the tracker store's; one hash
tag, one Cluster slot):

    {p}{suggest}:replies  hash  pair id -> JSON {"reply", "topic", "vector": base64 float32}
    {p}{suggest}:order    zset  pair id -> when it was added (ms): the oldest go first past the cap
    {p}{suggest}:version  string  raised by every change
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from redis.asyncio import Redis

from bot.suggestions.faq import Suggestion

__all__ = ["LearnedPair", "NearestReplies", "ReplyIndex"]

# How many replies the index keeps (the oldest go first): ~2.5 kB each in Redis and in each server.
MAX_REPLIES = 5_000

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


def _encoded(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype(np.float32).tobytes()).decode()


def _decoded(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)


class ReplyIndex:
    """The shared index in Redis with this server's copy of it."""

    def __init__(self, redis: Redis, prefix: str, max_replies: int = MAX_REPLIES) -> None:
        self.redis = redis
        self.keys = [f"{prefix}{{suggest}}:{name}" for name in ("replies", "order", "version")]
        self.max_replies = max_replies
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
        """This server's copy, read again from Redis if another server (or this one) changed the index."""
        version = await self.redis.get(self.keys[2])
        if version != self._copy_version or version is None:
            stored: Dict[bytes, bytes] = await self.redis.hgetall(self.keys[0])
            entries = [json.loads(value) for value in stored.values()]
            vectors = np.vstack([_decoded(entry["vector"]) for entry in entries]) if entries else \
                np.zeros((0, 0), dtype=np.float32)
            self._copy = NearestReplies(vectors, [(entry["reply"], entry["topic"]) for entry in entries])
            self._copy_version = version
        return self._copy
