"""What customers live through, counted per day for the supervisors' dashboard.

Beside the day's counters (handoff.store), this keeps:

- abandoned waits: a stay in the queue that ended without an agent claiming it
  (counted by way and, unless it expired, by skill group).
  The customer left a callback or message request instead of waiting
  (``left_request``), pressed "back to the assistant" (``left_queue``: no longer
  needs a person), or the conversation expired while still queued
  (``expired``: nobody claimed it within HANDOFF_RETENTION_SECONDS), or the
  customer had no connection for HANDOFF_CUSTOMER_GONE_SECONDS (``gone``:
  handoff.presence). A customer who closes the page and comes back within that
  time keeps their place (the widget resumes the conversation). Each stay counts once: a requeued conversation (transferred to a
  group, its agent lost) starts a new stay.
- first responses: from an agent claiming a conversation to that agent's (or the
  colleague's it was transferred to) first message in it.
- requeues: a conversation back in the queue after a transfer to a group or a
  lost agent; not a new handoff.

Keys (``{p}`` is the store's prefix):

    {p}:day-abandoned:{date}       list  every abandoned wait (ms) that day
    {p}:day-first-response:{date}  list  every claim -> first agent message (ms) that day
    {p}:day-agent-first-response:{date}  list  the same, as "{agent}|{ms}" (handoff.agent_figures)
    {p}:day-agent-handling:{date}  list  "{agent}|{ms}": taken -> closed by that agent, that day
    {p}:stats:abandoned            hash  way -> count, for /metrics (all days)
    {p}:stats:requeues             hash  "total" -> count, for /metrics (all days)
    conversation hash   field "awaiting_reply": when it was claimed, until the agent's first message
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

from handoff.dashboard import ABANDONED_IN_GROUP
from handoff.store import Store

__all__ = ["ABANDON_WAYS", "Experience"]

ABANDON_WAYS = ("left_request", "left_queue", "expired", "gone")


class Experience:
    """Counts into Redis, so every bridge process adds to the same day."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def abandoned(self, day: str, waited_ms: int, way: str, conversation_id: str,
                        group: Optional[str]) -> None:
        """``group``: the skill group whose queue the customer left (None: no longer known, the
        conversation expired); its give-up is kept for the group's wait estimates."""
        if group is not None:
            await self.store.record_give_up(group, conversation_id, int(time.time() * 1000), max(0, waited_ms))
        await self.store.record_day_sample(day, "abandoned", max(0, waited_ms))
        increments = {"abandoned": 1, f"abandoned:{way}": 1}
        if group is not None:  # reports' per-group abandonment (an expired wait's group is no longer known)
            increments[f"{ABANDONED_IN_GROUP}{group}"] = 1
        await self.store.count(day, increments)
        await self.store.redis.hincrby(self.store.key("stats", "abandoned"), way, 1)
        await self.store.publish(self.store.stats_channel, {})

    async def requeued(self, day: str) -> None:
        await self.store.count(day, {"requeued": 1})
        await self.store.redis.hincrby(self.store.key("stats", "requeues"), "total", 1)

    async def claimed(self, conversation_id: str) -> None:
        """The clock for the first response starts (again, for a conversation claimed before)."""
        await self.store.redis.hset(self.store.key("conv", conversation_id), "awaiting_reply",
                                    str(int(time.time() * 1000)))

    async def agent_replied(self, conversation_id: str, day: str, agent: str) -> None:
        """An agent's message: the first since the claim stops the clock (read and cleared in one step)."""
        key = self.store.key("conv", conversation_id)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "awaiting_reply")
            pipe.hdel(key, "awaiting_reply")
            since, _ = await pipe.execute()
        if since:
            waited = int(time.time() * 1000) - int(since)
            await self.store.record_day_sample(day, "first-response", waited)
            await self.store.record_day_sample(day, "agent-first-response", f"{agent}|{waited}")
            await self.store.publish(self.store.stats_channel, {})

    async def handled(self, day: str, agent: str, milliseconds: int) -> None:
        """The agent closed a conversation they took ``milliseconds`` ago (called once, by the close's commit
        winner)."""
        await self.store.record_day_sample(day, "agent-handling", f"{agent}|{max(0, milliseconds)}")

    async def day(self, day: str) -> Tuple[List[int], List[int]]:
        """The day's abandoned waits and first responses (ms)."""
        async with self.store.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(self.store.key("day-abandoned", day), 0, -1)
            pipe.lrange(self.store.key("day-first-response", day), 0, -1)
            abandoned, first = await pipe.execute()
        return [int(value) for value in abandoned], [int(value) for value in first]

    async def agents_day(self, day: str) -> Tuple[List[str], List[str]]:
        """The day's per-agent first responses and handling times (``{agent}|{ms}``)."""
        async with self.store.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(self.store.key("day-agent-first-response", day), 0, -1)
            pipe.lrange(self.store.key("day-agent-handling", day), 0, -1)
            first, handling = await pipe.execute()
        return [value.decode() for value in first], [value.decode() for value in handling]

    async def totals(self) -> Tuple[Dict[str, int], int]:
        """Abandoned stays by way and requeues, over all days (for /metrics)."""
        abandoned = await self.store.redis.hgetall(self.store.key("stats", "abandoned"))
        requeues = await self.store.redis.hget(self.store.key("stats", "requeues"), "total")
        return {k.decode(): int(v) for k, v in abandoned.items()}, int(requeues or 0)
