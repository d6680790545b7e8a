"""The conversations behind inbox items, read without the bridge.

Content staff look at a message's whole conversation and at what agents
answered (a starting point for a FAQ answer). The bridge writes those
transcripts, but the teaching contract must not import the bridge: it names
what it needs, a :class:`TranscriptReader`. The bridge's store
(``handoff.store.Store.review``) is one; :class:`RedisTranscripts` is another,
reading the same key of the bridge's key table (docstring of handoff/store.py)
for the CLI, which runs without the bridge:

    {p}:log:{id}   stream   one entry per message: kind, text, data (JSON), key, ts (ms)
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Protocol, Sequence

from redis.asyncio import Redis

__all__ = ["DEFAULT_HANDOFF_PREFIX", "REVIEWED_KINDS", "RedisTranscripts", "TranscriptReader", "review_of"]

DEFAULT_HANDOFF_PREFIX = "hb"


class TranscriptReader(Protocol):
    async def review(self, conversation_id: str) -> Dict[str, Any]:
        """The conversation as :func:`review_of` shapes it (no messages: gone or never bridged)."""


# What content staff review of a transcript: the conversation as the customer had it. Agents'
# private notes (kind "note") stay with the agents.
REVIEWED_KINDS = ("customer", "bot", "agent", "system")


def review_of(conversation_id: str, messages: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """A conversation as content staff see it from their inbox: every message the customer had
    (``kind``, ``text``, ``ts``, ``data``; REVIEWED_KINDS) and what agents answered."""
    messages = [m for m in messages if m["kind"] in REVIEWED_KINDS]
    return {
        "conversation_id": conversation_id,
        "messages": [{"kind": m["kind"], "text": m["text"], "ts": m["ts"], "data": m["data"]} for m in messages],
        "answers": [{"text": m["text"], "agent": str(m["data"].get("agent", "")), "ts": m["ts"]}
                    for m in messages if m["kind"] == "agent"],
    }


class RedisTranscripts:
    """Reads transcripts straight from the bridge's Redis keys (under ``prefix``, HANDOFF_KEY_PREFIX)."""

    def __init__(self, redis: Redis, prefix: str = DEFAULT_HANDOFF_PREFIX, page: int = 500) -> None:
        self.redis = redis
        self.prefix = prefix
        self.page = page

    async def review(self, conversation_id: str) -> Dict[str, Any]:
        key = f"{self.prefix}:log:{conversation_id}"
        messages: List[Dict[str, Any]] = []
        start = "-"
        while True:
            entries = await self.redis.xrange(key, min=start, max="+", count=self.page)
            for _, fields in entries:
                text = {k.decode(): v.decode() for k, v in fields.items()}
                messages.append({"kind": text["kind"], "text": text["text"], "ts": int(text["ts"]),
                                 "data": json.loads(text["data"])})
            if len(entries) < self.page:
                return review_of(conversation_id, messages)
            start = f"({entries[-1][0].decode()}"
