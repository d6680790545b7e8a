"""handoff.coalesce: a burst of notifications becomes one refresh, and a change during a refresh
is never lost (end to end, every queue, dashboard and Teach view test runs through it)."""

from __future__ import annotations

import asyncio
import logging
from typing import List

import pytest
from websockets.exceptions import ConnectionClosed

from handoff.coalesce import Coalesced, Periodic


class Refreshes:
    """A refresh that records when it ran, takes ``seconds``, and can be told to fail."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.started, self.running, self.most_at_once = seconds, 0, 0, 0
        self.failures: List[BaseException] = []

    async def __call__(self) -> None:
        self.started += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.seconds)
            if self.failures:
                raise self.failures.pop(0)
        finally:
            self.running -= 1


async def settled() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_a_burst_of_pokes_is_one_refresh():
    async def scenario() -> int:
        refresh = Refreshes()
        coalesced = Coalesced(refresh, "test")
        for _ in range(10):
            coalesced.poke()
        await settled()
        return refresh.started

    assert asyncio.run(scenario()) == 1


def test_a_poke_while_refreshing_brings_exactly_one_more_never_two_at_once():
    async def scenario() -> Refreshes:
        refresh = Refreshes(seconds=0.05)
        coalesced = Coalesced(refresh, "test")
        coalesced.poke()
        await asyncio.sleep(0.01)  # the first refresh has started: what it read may predate what follows
        for _ in range(5):
            coalesced.poke()
        await asyncio.sleep(0.2)
        return refresh

    refresh = asyncio.run(scenario())
    assert (refresh.started, refresh.most_at_once) == (2, 1)


def test_pokes_within_the_delay_are_one_refresh_and_a_later_poke_another():
    async def scenario() -> List[int]:
        refresh = Refreshes()
        coalesced = Coalesced(refresh, "test", delay=0.05)
        for _ in range(4):
            coalesced.poke()
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)
        counts = [refresh.started]
        coalesced.poke()
        await asyncio.sleep(0.1)
        return counts + [refresh.started]

    assert asyncio.run(scenario()) == [1, 2]


def test_a_failed_refresh_is_logged_and_the_next_poke_refreshes_again(caplog):
    async def scenario() -> int:
        refresh = Refreshes()
        refresh.failures.append(RuntimeError("Redis went away"))
        coalesced = Coalesced(refresh, "refreshing the test view")
        coalesced.poke()
        await settled()
        coalesced.poke()
        await settled()
        return refresh.started

    with caplog.at_level(logging.ERROR, logger="handoff.coalesce"):
        assert asyncio.run(scenario()) == 2
    assert [record.getMessage() for record in caplog.records] == ["refreshing the test view failed"]


def test_a_closed_socket_ends_it_quietly_and_cancel_drops_a_due_refresh(caplog):
    async def scenario() -> List[int]:
        refresh = Refreshes()
        refresh.failures.append(ConnectionClosed(None, None))
        coalesced = Coalesced(refresh, "test")
        coalesced.poke()
        await settled()
        counts = [refresh.started]
        cancelled = Coalesced(refresh, "test", delay=0.05)
        cancelled.poke()
        cancelled.cancel()
        await asyncio.sleep(0.1)
        return counts + [refresh.started]

    with caplog.at_level(logging.ERROR, logger="handoff.coalesce"):
        assert asyncio.run(scenario()) == [1, 1]
    assert not caplog.records


@pytest.mark.parametrize("delay", [0.0, 0.02])
def test_a_poke_after_a_refresh_has_finished_refreshes_again(delay):
    async def scenario() -> int:
        refresh = Refreshes()
        coalesced = Coalesced(refresh, "test", delay=delay)
        for _ in range(3):
            coalesced.poke()
            await asyncio.sleep(delay + 0.02)
        return refresh.started

    assert asyncio.run(scenario()) == 3


class Rounds:
    """A periodic refresh that records when it ran (seconds after ``start``) and says whether to go on."""

    def __init__(self, rounds: int, failures: List[BaseException]) -> None:
        self.rounds, self.failures = rounds, failures
        self.ran: List[float] = []
        self.start = asyncio.get_running_loop().time()

    async def __call__(self) -> bool:
        self.ran.append(asyncio.get_running_loop().time() - self.start)
        if self.failures:
            raise self.failures.pop(0)
        return len(self.ran) < self.rounds


def test_a_periodic_refresh_waits_an_interval_after_the_last_working_out_and_stops_when_told(caplog):
    """The shared timer of the customers' statuses and the dashboard: an interval after it last ran or
    was worked out by other means (done), on through a failure, until the refresh says to stop."""
    async def scenario() -> List[float]:
        rounds = Rounds(3, [RuntimeError("Redis away")])
        periodic = Periodic(rounds, 0.2, "refreshing the test view")
        periodic.start()
        periodic.start()  # one timer however often started
        await asyncio.sleep(0.25)
        periodic.done()  # worked out now (a change was announced): the next round at 0.45, not 0.4
        await asyncio.sleep(0.8)
        return rounds.ran

    with caplog.at_level(logging.ERROR, logger="handoff.coalesce"):
        ran = asyncio.run(scenario())
    # The failed round, then two, the last saying stop; a busy machine makes rounds later, never earlier.
    assert len(ran) == 3, ran
    assert ran[0] >= 0.19 and ran[1] >= 0.44 and ran[2] - ran[1] >= 0.19, ran
    assert [record.getMessage() for record in caplog.records] == ["refreshing the test view failed"]


def test_a_periodic_refresh_ends_quietly_with_its_socket_or_when_stopped(caplog):
    async def scenario() -> List[int]:
        closing = Rounds(5, [ConnectionClosed(None, None)])
        periodic = Periodic(closing, 0.02, "test")
        periodic.start()
        stopped = Rounds(5, [])
        other = Periodic(stopped, 0.02, "test")
        other.start()
        other.stop()
        await asyncio.sleep(0.1)
        return [len(closing.ran), len(stopped.ran)]

    with caplog.at_level(logging.ERROR, logger="handoff.coalesce"):
        assert asyncio.run(scenario()) == [1, 0]
    assert not caplog.records
