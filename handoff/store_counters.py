"""The day's counters (handoff.store: ``{p}:day:{date}``, ``{p}:day-{series}:{date}``), added to in the step
that appends them to the outbox."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Dict, List, Tuple, Union

from handoff.store_base import StoreBase

__all__ = ["DAY_TTL_MS", "MAX_WAITS_PER_DAY", "CountersStore"]

# Day counters are kept this long (for a month-over-month look).
DAY_TTL_MS = 40 * 24 * 3600 * 1000
MAX_WAITS_PER_DAY = 100_000

# Counts a conversation once (a marker field in its hash) in the day's counters.
_COUNT_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 0 then return 0 end
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
tally_to_outbox(KEYS[3], KEYS[2], {unpack(ARGV, 3)})
return 1
"""


class CountersStore(StoreBase):
    """The day's counters and times for the dashboard and reports, each also a fact in the outbox."""

    @cached_property
    def _count_once(self) -> Any:
        return self.script(_COUNT_ONCE)

    async def count_once(self, conversation_id: str, marker: str, day: str, fields: List[str]) -> bool:
        """Add 1 to ``fields`` of the day's counters, once per conversation and ``marker``."""
        counted = await self._count_once(keys=[self.key("conv", conversation_id), self.key("day", day),
                                               self.key("outbox")],
                                         args=[marker, str(DAY_TTL_MS), *fields])
        return bool(counted)

    async def count(self, day: str, increments: Dict[str, int]) -> None:
        """Add to the day's counters; the same transaction appends them to the outbox (a ``tally``)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, amount in increments.items():
                pipe.hincrby(self.key("day", day), name, amount)
            pipe.pexpire(self.key("day", day), DAY_TTL_MS)
            self.to_outbox(pipe, {"fact": "tally", "day": day, "counts": json.dumps(increments)})
            await pipe.execute()

    async def record_day_sample(self, day: str, series: str, sample: Union[int, str]) -> None:
        """One of the day's times (ms, or "{agent}|{ms}") in its list ``{p}:day-{series}:{date}`` (the newest
        MAX_WAITS_PER_DAY), and in the outbox (a ``sample``) in the same transaction."""
        key = self.key(f"day-{series}", day)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, sample)
            pipe.ltrim(key, 0, MAX_WAITS_PER_DAY - 1)
            pipe.pexpire(key, DAY_TTL_MS)
            self.to_outbox(pipe, {"fact": "sample", "day": day, "series": series, "value": str(sample)})
            await pipe.execute()

    async def record_day_wait(self, day: str, milliseconds: int) -> None:
        await self.record_day_sample(day, "waits", milliseconds)

    async def day(self, day: str) -> Tuple[Dict[str, int], List[int]]:
        """The day's counters and its waits (ms)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.key("day", day))
            pipe.lrange(self.key("day-waits", day), 0, -1)
            counters, waits = await pipe.execute()
        return {k.decode(): int(v) for k, v in counters.items()}, [int(value) for value in waits]
