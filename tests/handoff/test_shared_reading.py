"""handoff.shared: one reading per change for every socket of a process that asks (end to end:
test_queue_views.py, where several agents' sockets share the queue's reading)."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

from handoff.shared import SharedReading


class Readings:
    """A reading that counts how often it ran and can be told to fail."""

    def __init__(self) -> None:
        self.version, self.count = 0, 0
        self.failures: List[Exception] = []

    async def read(self) -> List[int]:
        self.count += 1
        await asyncio.sleep(0.01)
        if self.failures:
            raise self.failures.pop(0)
        return [self.count]


def test_callers_between_two_changes_share_one_reading_and_a_change_makes_a_new_one():
    async def scenario() -> None:
        readings = Readings()
        shared = SharedReading(readings.read, lambda: readings.version)
        together = await asyncio.gather(*(shared.get() for _ in range(5)))
        assert readings.count == 1 and all(result is together[0] for result in together)
        assert await shared.get() is together[0]  # nothing has changed since
        readings.version += 1
        assert await shared.get() == [2] and readings.count == 2

    asyncio.run(scenario())


def test_a_failed_reading_fails_its_callers_and_is_not_shared():
    async def scenario() -> None:
        readings = Readings()
        readings.failures.append(ConnectionError("Redis went away"))
        shared = SharedReading(readings.read, lambda: readings.version)
        results = await asyncio.gather(shared.get(), shared.get(), return_exceptions=True)
        assert all(isinstance(result, ConnectionError) for result in results) and readings.count == 1
        assert await shared.get() == [2]  # the same version, read again

    asyncio.run(scenario())


def test_a_caller_that_goes_away_does_not_cancel_the_others_reading():
    async def scenario() -> None:
        readings = Readings()
        shared = SharedReading(readings.read, lambda: readings.version)
        leaving = asyncio.ensure_future(shared.get())
        staying = asyncio.ensure_future(shared.get())
        await asyncio.sleep(0)
        leaving.cancel()
        assert await staying == [1] and readings.count == 1
        with pytest.raises(asyncio.CancelledError):
            await leaving

    asyncio.run(scenario())
