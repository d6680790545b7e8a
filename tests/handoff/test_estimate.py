"""The wait estimator's rules, without I/O (handoff/estimate.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Dict, Optional, Tuple

from handoff.estimate import (
    WINDOW_SECONDS, AgentLoad, Basis, Estimate, QueueSnapshot, Tuning, estimate, snapshot, status_fields,
)

MINUTE = 60.0
# A steady queue: 30 claims in the window (each picked up within 20-40 s) and 30 handling times of 5 minutes.
STEADY = QueueSnapshot(
    position=1, waiting_in_group=1, waited_seconds=0, longest_ahead_seconds=0,
    claim_pickups=tuple(20.0 + index for index in range(30)), handling_seconds=(300.0,) * 30,
    agents=(AgentLoad(max_chats=3, serving=3, waiting_visible=1),) * 2,
)


def test_no_number_with_nobody_to_serve_or_outside_opening_hours():
    nobody = estimate(replace(STEADY, agents=()))
    closed = estimate(replace(STEADY, is_open=False))
    assert (nobody.basis, nobody.seconds, nobody.range_minutes) == (Basis.NO_AGENTS, None, None)
    assert closed.basis is Basis.CLOSED and closed.minutes is None
    assert "No one from our team is available" in nobody.text and "closed" in closed.text
    assert status_fields(nobody, 3) == {
        "position": 3, "wait": nobody.text, "wait_minutes": None, "wait_range": None, "wait_basis": "no_agents",
        "agents_available": False, "offer": ["callback", "message"],
    }


def test_a_free_slot_means_a_short_wait_and_a_full_team_a_longer_one():
    free = estimate(replace(STEADY, agents=(AgentLoad(3, 1, 1),)))
    assert free.seconds is not None and free.seconds < MINUTE and free.text == "less than a minute"
    full = estimate(replace(STEADY, position=4))
    # 6 slots of 5 minutes free one every 50 s or so: the 4th in about 3-4 minutes.
    assert full.seconds is not None and 2 * MINUTE < full.seconds < 6 * MINUTE
    assert full.basis is Basis.QUEUE and full.text.startswith(f"about {full.minutes} minutes, at most ")


def test_further_back_or_fewer_agents_is_never_sooner():
    waits = [estimate(replace(STEADY, position=place)).seconds for place in range(1, 12)]
    assert waits == sorted(waits)
    one_agent = estimate(replace(STEADY, position=5, agents=STEADY.agents[:1])).seconds
    assert one_agent is not None and one_agent > (estimate(replace(STEADY, position=5)).seconds or 0)


def test_nobody_is_promised_less_than_those_ahead_have_waited():
    state = replace(STEADY, position=7, waiting_in_group=7, longest_ahead_seconds=14 * MINUTE)
    told, queue = estimate(state), estimate(replace(state, longest_ahead_seconds=0))
    assert told.range_minutes is not None and told.range_minutes[1] >= 14
    assert told.high_seconds is not None and queue.high_seconds is not None and queue.seconds is not None
    assert queue.high_seconds < 14 * MINUTE
    assert math.isclose(told.high_seconds, queue.high_seconds * 14 * MINUTE / queue.seconds, rel_tol=1e-12)
    assert (told.seconds, told.low_seconds) == (queue.seconds, queue.low_seconds), "the point stays the queue's"
    # A customer who has waited 10 of those minutes themselves is promised no less than 4 more.
    later = estimate(replace(state, waited_seconds=10 * MINUTE))
    assert later.high_seconds is not None and later.high_seconds >= 4 * MINUTE


def test_thin_data_is_said_as_a_wider_range():
    thin = estimate(replace(STEADY, position=4, claim_pickups=(30.0,), handling_seconds=(280.0, 320.0)))
    steady = estimate(replace(STEADY, position=4))
    assert thin.basis is Basis.THIN and thin.range_minutes is not None and steady.range_minutes is not None
    low, high = thin.range_minutes
    assert thin.text == (f"{low}-{high} minutes" if low else f"up to {high} minutes")
    width = (thin.high_seconds or 0) / (thin.low_seconds or 1)
    assert width > (steady.high_seconds or 0) / (steady.low_seconds or 1)


def test_the_upper_end_allows_more_for_the_team_shrinking_the_further_off_the_wait():
    """The team may shrink (a break, a shift's end) before the slots a customer needs come free, the likelier
    the longer that takes: only the upper end moves, and by more further back; a pickup under way not at all."""
    steady_team = Tuning(team_change_seconds=0.0)

    def widening(place: int) -> float:
        waiting = replace(STEADY, position=place, waiting_in_group=place)
        told, without = estimate(waiting), estimate(waiting, steady_team)
        assert (told.seconds, told.low_seconds) == (without.seconds, without.low_seconds)
        assert told.high_seconds is not None and without.high_seconds is not None and told.seconds is not None
        assert told.high_seconds > without.high_seconds > told.seconds
        return told.high_seconds / without.high_seconds

    assert 1 < widening(2) < widening(8) < widening(30)
    # At place 30 (about 25 minutes off), the upper end's log-sd grows by about the square root of 25/60.
    assert widening(30) > math.exp(0.4)
    picked_up = replace(STEADY, agents=(AgentLoad(3, 1, 1, free_seconds=10.0),))
    assert estimate(picked_up) == estimate(picked_up, steady_team)


def test_the_range_in_minutes_is_rounded_outwards():
    told = Estimate(Basis.QUEUE, seconds=330, low_seconds=250, high_seconds=430)
    assert told.range_minutes == (4, 8) and told.minutes == 6


def test_agents_of_several_groups_share_their_slots_with_the_other_waiting_customers():
    alone = estimate(replace(STEADY, position=3, agents=(AgentLoad(3, 3, 3),), waiting_in_group=3))
    shared = estimate(replace(STEADY, position=3, agents=(AgentLoad(3, 3, 9),), waiting_in_group=3))
    assert (shared.seconds or 0) > (alone.seconds or 0)


def test_the_snapshot_counts_the_agents_who_take_the_group_and_the_claims_of_the_window():
    now = 10_000_000.0
    state = snapshot(
        now, "cards", position=2, head_queued_ms=now - 5 * 60_000, waiting_since_ms=now - 60_000,
        waiting={"cards": 2, "general": 4, "all": 6},
        claims=[(now - (WINDOW_SECONDS + 1) * 1000, 9_000.0), (now - 1000, 20_000.0)], handling_ms=[240_000],
        agents={"ann": (["all"], 3, 1), "cara": (["cards"], 1, 0), "gus": (["general"], 2, 0)}, is_open=True,
        ahead_since_ms=now - 5 * 60_000,
    )
    # gus does not take cards; free since the first in line was queued (when they were ready is not known)
    assert state.agents == (AgentLoad(3, 1, 6, 300.0), AgentLoad(1, 0, 2, 300.0))
    assert state.claim_pickups == (20.0,) and state.handling_seconds == (240.0,)
    assert (state.position, state.waited_seconds, state.longest_ahead_seconds) == (2, 60.0, 300.0)
    first = snapshot(now, "cards", None, None, now, {}, [], [], {}, is_open=True, ahead_since_ms=None)
    assert (first.position, first.longest_ahead_seconds, first.agents) == (1, 0.0, ())


def test_without_claims_nobody_behind_the_first_is_told_less_than_a_minute():
    """One agent online with free slots who has not claimed anyone yet: the second in line is not promised a
    minute (the first is still waiting), and the range allows for the agent not picking up at once."""
    quiet = replace(STEADY, claim_pickups=(), handling_seconds=(), waiting_in_group=2,
                    agents=(AgentLoad(max_chats=3, serving=0, waiting_visible=2),))
    first, second = estimate(quiet), estimate(replace(quiet, position=2))
    assert first.text == "less than a minute", "the front of an empty queue with a free agent"
    assert second.basis is Basis.THIN and second.range_minutes is not None
    low, high = second.range_minutes
    # The agent may take them at once: from 0, said "up to", never "1-10 minutes".
    assert low == 0 and high >= 10 and second.text == f"up to {high} minutes"
    third = estimate(replace(quiet, position=3, waiting_in_group=3))
    assert third.range_minutes is not None and third.range_minutes[1] > high
    # (At place 2, two wait in the group, as the snapshot always says: half the agent's three free slots were
    # half a slot short of this customer, whose wait the chats' ages would then tell.)
    steady_second = estimate(replace(STEADY, position=2, waiting_in_group=2, agents=(AgentLoad(3, 0, 2),)))
    assert steady_second.range_minutes is not None and steady_second.range_minutes[1] <= 3, \
        "with claims seen, free slots are known to be picked up: not widened"


def test_a_pickup_under_way_has_less_left_and_one_long_overdue_more():
    """Told again as the queue moves, the first in line behind a free agent: the agent could have taken them
    for a while already, so less of the pickup is left; an agent who has not picked up for many times the
    usual pickup is not about to, and the customer is not told "less than a minute"."""
    front = replace(STEADY, agents=(AgentLoad(3, 1, 1, free_seconds=0.0),))
    fresh, under_way = estimate(front), estimate(replace(front, agents=(AgentLoad(3, 1, 1, free_seconds=15.0),)))
    overdue = estimate(replace(front, agents=(AgentLoad(3, 1, 1, free_seconds=20 * MINUTE),)))
    assert fresh.seconds is not None and under_way.seconds is not None and overdue.seconds is not None
    assert under_way.seconds < fresh.seconds and (under_way.high_seconds or 0) < (fresh.high_seconds or 0)
    assert overdue.seconds > MINUTE and overdue.text != "less than a minute"
    # Two free agents, one who has just finished a chat: the customer is not held to the overdue one alone.
    both = estimate(replace(front, agents=(AgentLoad(3, 1, 1, 20 * MINUTE), AgentLoad(3, 1, 1, 0.0))))
    assert both.seconds is not None and both.seconds < overdue.seconds


def test_the_snapshot_says_how_long_each_free_agent_could_have_taken_the_first_in_line():
    now = 10_000_000.0
    state = snapshot(
        now, "general", position=2, head_queued_ms=now - 60_000, waiting_since_ms=now - 30_000,
        waiting={"general": 2, "all": 2}, claims=[], handling_ms=[],
        agents={"ann": (["all"], 3, 1), "bob": (["all"], 2, 0), "dan": (["all"], 1, 1), "eve": (["all"], 1, 0)},
        is_open=True, ready_ms={"ann": now - 10_000, "bob": now - 90_000, "dan": now - 5_000},
        ahead_since_ms=now - 60_000,
    )
    # ann finished a chat 10 s ago; bob was free before the first in line came (60 s); dan is full;
    # eve's readiness is not known: since the first in line was queued.
    assert [agent.free_seconds for agent in state.agents] == [10.0, 60.0, 0.0, 60.0]


def test_the_snapshot_keeps_the_exits_of_the_window_in_seconds():
    now = 10_000_000.0
    exits = [(now - 60_000, 120_000.0, False), (now - 30_000, 600_000.0, True),
             (now - (WINDOW_SECONDS + 1) * 1000, 900_000.0, True)]  # out of the window
    state = snapshot(now, "general", 1, now, now, {"general": 1}, [], [], {}, True, exits=exits, ahead_since_ms=None)
    assert state.exits == ((120.0, False), (600.0, True))


def test_customers_ahead_who_give_up_shorten_the_wait_of_those_far_back_only():
    """Those ahead who wait for a slot may give up meanwhile: a customer far back is told less where
    customers give up often; the next in line, who waits for one slot only, is told the same."""
    # 10 gave up after 5 minutes, 20 were served after 1: 10 give-ups in 10,000 s of waiting, with the prior.
    leaving = ((300.0, True),) * 10 + ((60.0, False),) * 20
    patient = replace(STEADY, position=8, waiting_in_group=8)
    told, sooner = estimate(patient), estimate(replace(patient, exits=leaving))
    assert told.seconds is not None and sooner.seconds is not None and sooner.seconds < told.seconds
    assert (sooner.high_seconds or 0) < (told.high_seconds or 0)
    served = estimate(replace(patient, exits=((60.0, False),) * 30))
    assert served == told, "exits without a give-up foresee none"
    rarely = estimate(replace(patient, exits=((300.0, True),) + ((60.0, False),) * 29))
    assert rarely.seconds is not None and sooner.seconds < rarely.seconds < told.seconds, "the rate, not the count"
    front = replace(STEADY, position=1)
    assert estimate(replace(front, exits=leaving)) == estimate(front)
    waits = [estimate(replace(STEADY, position=place, exits=leaving)).seconds for place in range(1, 15)]
    assert waits == sorted(waits), "further back is still never sooner"
    # The rule holds whatever the rate: never less than those ahead have waited.
    ahead = estimate(replace(patient, exits=leaving, longest_ahead_seconds=20 * MINUTE))
    assert ahead.high_seconds is not None and ahead.high_seconds >= 20 * MINUTE


def test_an_agent_who_does_not_pick_up_is_not_promised_a_minute_for_ever():
    """The fresh-eyes trial: first in line, one agent online with a free slot who picks nobody up for 150 s.
    Beyond a pickup's usual upper end the estimate grows with the time the slot has been free: never less
    than the time it has been overdue; the low end stays (the agent may be back any moment)."""
    front = replace(STEADY, agents=(AgentLoad(3, 1, 1, free_seconds=0.0),))
    usual = estimate(front).high_seconds
    assert usual is not None and usual < MINUTE
    told = {free: estimate(replace(front, waited_seconds=free, agents=(AgentLoad(3, 1, 1, free),)))
            for free in (0.0, 30.0, 90.0, 120.0, 150.0, 300.0)}
    for free, found in told.items():
        assert found.seconds is not None and found.seconds >= free - usual - 0.01  # (bisection)
    points = [told[free].seconds or 0 for free in (90.0, 120.0, 150.0, 300.0)]
    assert points == sorted(points) and len(set(points)) == len(points), "it grows with the time"
    assert told[150.0].text != "less than a minute" and (told[150.0].minutes or 0) >= 2
    assert (told[150.0].low_seconds or 0) < MINUTE
    # Another agent whose slot has just come free: the customer is not held to the one away.
    both = estimate(replace(front, agents=(AgentLoad(3, 1, 1, 150.0), AgentLoad(3, 1, 1, 0.0))))
    assert both.seconds is not None and both.seconds < MINUTE and both.high_seconds is not None
    assert both.high_seconds < 2 * MINUTE < (told[150.0].high_seconds or 0)



def test_chats_near_their_end_free_slots_sooner_than_chats_just_taken():
    """Every slot busy: with handling times close to 5 minutes, a customer behind chats that have run 4
    minutes and more is served sooner than one behind chats just taken, and both differ from the mean rate
    alone (the ages not known)."""
    behind = replace(STEADY, position=3, waiting_in_group=3, agents=(AgentLoad(3, 3, 3),) * 2)
    unknown = estimate(behind)

    def with_ages(*ages: float) -> Estimate:
        return estimate(replace(behind, agents=(AgentLoad(3, 3, 3, ages=ages),) * 2))

    just_taken, ending = with_ages(0.0, 10.0, 20.0), with_ages(250.0, 260.0, 280.0)
    assert just_taken.seconds is not None and ending.seconds is not None and unknown.seconds is not None
    assert ending.seconds < unknown.seconds < just_taken.seconds
    assert (ending.high_seconds or 0) < (unknown.high_seconds or 0) < (just_taken.high_seconds or 0)
    # Chats just taken: the next slots come free when they end, about 5 minutes on, not a slot every 50 s.
    assert just_taken.seconds > 4 * MINUTE and ending.seconds < 2 * MINUTE
    waits = [estimate(replace(behind, position=place, waiting_in_group=place,
                              agents=(AgentLoad(3, 3, place, ages=(100.0, 150.0, 200.0)),) * 2)).seconds
             for place in range(1, 12)]
    assert waits == sorted(waits), "further back is still never sooner"


def test_with_handling_times_spread_widely_a_chat_that_has_run_long_has_longer_left():
    """A heavy tail (handling times from under a minute to half an hour): the conditional residual of a chat
    running an hour is long, and the customer behind such chats waits longer than behind chats of a few
    minutes."""
    spread = tuple(300 * math.exp(1.5 * (index - 14.5) / 8.7) for index in range(30))
    behind = replace(STEADY, position=3, waiting_in_group=3, handling_seconds=spread)
    few_minutes, an_hour = (estimate(replace(behind, agents=(AgentLoad(3, 3, 3, ages=(age,) * 3),) * 2))
                            for age in (120.0, 3600.0))
    assert few_minutes.seconds is not None and an_hour.seconds is not None
    assert an_hour.seconds > 2 * few_minutes.seconds


def test_the_ages_leave_a_free_slot_and_the_rules_of_honesty_as_they_were():
    """A free slot is a pickup under way whatever the other chats' ages; never less than those ahead
    waited; an agent's chats not all read: the mean rate alone."""
    free = replace(STEADY, agents=(AgentLoad(3, 1, 1, ages=(290.0,)),))
    assert estimate(free) == estimate(replace(free, agents=(AgentLoad(3, 1, 1),)))
    ending = (AgentLoad(3, 3, 7, ages=(280.0, 290.0, 295.0)),) * 2
    ahead = estimate(replace(STEADY, position=7, waiting_in_group=7, agents=ending,
                             longest_ahead_seconds=14 * MINUTE))
    assert ahead.high_seconds is not None and ahead.high_seconds >= 14 * MINUTE
    partly = (AgentLoad(3, 3, 3, ages=(280.0, 290.0)), AgentLoad(3, 3, 3, ages=(280.0, 290.0, 295.0)))
    behind = replace(STEADY, position=3, waiting_in_group=3)
    assert estimate(replace(behind, agents=partly)) == estimate(replace(behind, agents=(AgentLoad(3, 3, 3),) * 2))


def test_the_snapshot_turns_the_claim_times_of_the_chats_in_progress_into_ages():
    now = 10_000_000.0
    state = snapshot(
        now, "general", position=1, head_queued_ms=now - 60_000, waiting_since_ms=now - 60_000,
        waiting={"general": 1, "all": 1}, claims=[], handling_ms=[],
        agents={"ann": (["all"], 2, 2), "bob": (["all"], 1, 1)}, is_open=True,
        ahead_since_ms=None, started_ms={"ann": [now - 90_000, now - 300_000]},
    )
    assert [agent.ages for agent in state.agents] == [(90.0, 300.0), ()], "bob's chat not read: no age"


def test_the_snapshot_shares_an_agents_slots_by_those_ahead_when_they_are_known():
    now = 10_000_000.0

    def agents_seen(ahead: Optional[Dict[str, int]]) -> Tuple[AgentLoad, ...]:
        return snapshot(
            now, "cards", position=1, head_queued_ms=now - 60_000, waiting_since_ms=now - 60_000,
            waiting={"cards": 3, "general": 6, "all": 9}, claims=[], handling_ms=[],
            agents={"ann": (["all"], 2, 2), "cara": (["cards"], 1, 1)}, is_open=True, ahead_since_ms=None,
            ahead=ahead,
        ).agents

    # The first of cards, behind five of general: ann's slots go to those six, cara's to them alone.
    assert [(agent.waiting_visible, agent.max_chats) for agent in agents_seen({"cards": 1, "general": 5, "all": 6})] \
        == [(6, 2), (1, 1)]
    assert [agent.waiting_visible for agent in agents_seen(None)] == [9, 3], "not known: all who wait share them"


def test_those_queued_behind_in_other_groups_do_not_lengthen_the_wait():
    now = 10_000_000.0

    def told(ahead: Dict[str, int]) -> float:  # by the agents' slots alone (no claims to pull the rate)
        state = snapshot(
            now, "cards", position=1, head_queued_ms=now - 60_000, waiting_since_ms=now - 60_000,
            waiting={"cards": 1, "general": 5, "all": 6}, claims=[],
            handling_ms=[300_000] * 30, agents={"ann": (["all"], 3, 3), "bob": (["all"], 3, 3)}, is_open=True,
            ahead_since_ms=None, ahead=ahead,
        )
        return estimate(state).seconds or 0.0

    before_them, behind_them = told({"cards": 1, "general": 0, "all": 1}), told({"cards": 1, "general": 5, "all": 6})
    assert before_them < behind_them / 2, "the five of general queued later are served after them"
