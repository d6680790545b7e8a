"""How long a waiting customer will wait, from what the queue actually does (sans I/O).

A customer at place ``p`` of their skill group is served once ``p`` chat slots
of the agents who take that group have come free (minus the slots free right
now), and an agent has picked them up (as fast as the group's recent pickups,
measured from when the agent could have taken the customer). Slots come free at ``slots / mean
handling time`` (the agents available now, online and not away
(handoff.agentstatus), and their ``max_chats``, with recent handling times), blended with the rate at which the group's conversations
really left the queue over the last half hour (claims). Customers ahead give
up at the group's recent rate (give-ups over the time the customers who left
the queue in the window had waited), so the line ahead shortens faster than
slots come free, and fewer slots are needed. The time to the
``p``-th free slot is spread like a Gamma(p) variable, so the estimate is a
range; when the claim times of the chats in progress are known (their ages),
those slots come free not at the mean rate from now but as those chats end:
each chat's remaining handling time is the lognormal's conditional residual
given its age (the handling times' mean and log-sd estimated from the recent
ones), so a chat that has run long is nearer its end, or, for a heavy tail,
further from it, and each end of the range is told by when that share of the
slots needed has come free (:class:`_Slots`, scaled to the mean rate in the long run).
The range's upper end is meant to hold for about nine customers in ten (as
measured by bench/waits.py), and it is wider while there are few observations;
while slots must come free, its log-variance grows with the time to them
(``team_change_seconds``): the longer the wait, the likelier an agent's break
or the end of a shift before it is over, which only lengthens it.
The point told sits a fifth of a log-standard deviation below that spread's
median (``point_z``, chosen on the benchmark's development seeds, where the
median overestimated what followed); the range's ends stay.
When a free slot is there for the customer already, only the pickup is left,
and it has been under way since the slot came free: the pickup's spread is
conditioned on that time (less is left of a pickup under way; more, of one
far beyond the usual), so the estimate moves with time even when the queue
does not (the bridge tells it again every ``status_refresh_seconds``). A
slot free for longer than a pickup's usual upper end is an agent not picking
up (away, on the phone): the customer is told at least the time it has been
overdue (as likely as not, that goes on as long again), with the low end kept.

Three rules keep it honest: with nobody available who takes the group (none online,
or all of them away), or outside opening hours, there is no number at all; nobody is promised (the range's
upper end) less than the longest wait of those already ahead of them (that customer waited
that long and is still not served; a customer transferred or put back at the front counts with
their whole wait, not from their new place in the line), while the point told stays the queue's own; and while the group has no claim in the
window, nobody behind the first in line is told "less than a minute": free
slots are not known to be picked up at once, so the range's upper end allows
``unclaimed_pickup_seconds`` per customer up to them.

:func:`snapshot` turns what the store reads from Redis into a
:class:`QueueSnapshot`; the bridge and the benchmark (bench/waits.py) both
call it and :func:`estimate`, so the benchmark measures this very code.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from handoff.routing import ALL_GROUPS

__all__ = ["AgentLoad", "Basis", "Estimate", "QueueSnapshot", "Tuning", "WINDOW_SECONDS", "estimate", "snapshot",
           "status_fields"]

# Claims older than this say little about the queue now.
WINDOW_SECONDS = 30 * 60


class Basis(str, enum.Enum):
    """Why the estimate is what it is (sent to the widget as ``wait_basis``)."""

    QUEUE = "queue"  # recent claims and handling times: a point and an upper end
    THIN = "thin_data"  # few observations yet: a wide range
    NO_AGENTS = "no_agents"  # nobody online takes this group: no number
    CLOSED = "closed"  # outside opening hours: no number


@dataclass(frozen=True)
class AgentLoad:
    """An agent available (online, not away) who takes the customer's group."""

    max_chats: int
    serving: int
    # Customers waiting in all the groups this agent takes (the customer's group shares the agent with them):
    # those ahead of and including the customer when known (``QueueSnapshot.waiting_in_group`` is then their place).
    waiting_visible: int
    # How long a free slot of theirs has had the group's first in line waiting for it (a pickup under way):
    # since they last took or finished a chat or came online, or the first in line was queued, if later.
    free_seconds: float = 0.0
    # How long each chat they serve now has been going (s, from its claimed_at): a chat that has run long has
    # less (or, for a heavy tail, more) left of its handling time.
    ages: Tuple[float, ...] = ()


@dataclass(frozen=True)
class QueueSnapshot:
    """Everything the estimate is made from, for one waiting customer."""

    position: int  # in the customer's own skill group, 1 = next
    waiting_in_group: int  # or up to the customer only (their place), when ``AgentLoad.waiting_visible`` counts so
    waited_seconds: float  # this customer, so far
    longest_ahead_seconds: float  # the longest wait so far of those ahead in the group (0 for the first)
    # Pickup delays (s) of the group's claims within the window: from when the claiming agent could have
    # taken the customer (the customer waiting, and the agent's last claim or end of a chat) to the claim.
    claim_pickups: Tuple[float, ...]
    handling_seconds: Tuple[float, ...]  # recent handling times, claim to close, hand back or transfer
    agents: Tuple[AgentLoad, ...]
    is_open: bool = True
    # (waited s, gave up) of the group's customers who left the queue within the window, served or not.
    exits: Tuple[Tuple[float, bool], ...] = ()


@dataclass(frozen=True)
class Tuning:
    """The estimator's constants, chosen on the benchmark's development scenarios (bench/waits.py)."""

    prior_handling_seconds: float = 300.0  # before handling times are known
    prior_weight: float = 5.0  # handling times worth as much as this many observations
    prior_pickup_seconds: float = 30.0  # an agent with a free slot picks a customer up this fast
    pickup_quantile: float = 0.5  # of recent pickup delays
    claims_weight: float = 0.7  # how far the observed claim rate pulls the capacity rate (at many claims)
    claims_half: float = 10.0  # claims at which that pull is half its full weight
    pickup_spread: float = 0.8  # coefficient of variation of the pickup delay
    upper_z: float = 1.0  # the upper end: this many log-standard deviations above the median
    lower_z: float = 1.0
    # Waiting time counted with no give-up before any is seen (s): a few early give-ups are not a rate yet.
    give_up_prior_seconds: float = 1800.0
    thin_below: int = 8  # fewer handling times or claims than this: thin data
    # With no claim of the group in the window, nobody knows that the agents online pick up at once (a free
    # slot may belong to someone on the phone or away): behind the first in line, the upper end allows this
    # long per customer up to this one.
    unclaimed_pickup_seconds: float = 300.0
    # The point told, in log-standard deviations from the median of the spread while slots must come free
    # first: that median overestimated what followed (dev seeds, told again: 6 % at the median); the range's
    # ends stay where they are.
    point_z: float = -0.2
    # Handling times' log-standard deviation before they are known (worth ``prior_weight`` observations).
    prior_handling_sigma: float = 0.7
    # How far the chats' ages move the time to the slots needed (0: the mean rate alone, 1: the ages alone).
    age_weight: float = 1.0
    # While slots must come free first, the upper end's log-variance grows by the time to the spread's median
    # over this (s; 0: not at all): the team can shrink meanwhile (a break, a shift's end), which no figure of
    # the queue foretells, and the further off the wait, the likelier (dev seeds, told again: the statuses
    # whose team shrank before they were served were under-promised 11.6 % against 2.2 % with a steady team,
    # with a fixed 1.25 log-sds; now 7.6 % against 2.8 %, 3.5 % in all as before, the range no wider).
    team_change_seconds: float = 3600.0


@dataclass(frozen=True)
class Estimate:
    basis: Basis
    seconds: Optional[float] = None  # the point estimate (median)
    low_seconds: Optional[float] = None
    high_seconds: Optional[float] = None

    @property
    def minutes(self) -> Optional[int]:
        return None if self.seconds is None else max(1, round(self.seconds / 60))

    @property
    def range_minutes(self) -> Optional[Tuple[int, int]]:
        """The range in whole minutes, rounded outwards (rounding never narrows the promise)."""
        if self.low_seconds is None or self.high_seconds is None:
            return None
        return math.floor(self.low_seconds / 60), max(1, math.ceil(self.high_seconds / 60))

    @property
    def text(self) -> str:
        """In English; the widget says it in its own language from the numbers."""
        if self.basis is Basis.CLOSED:
            return "We're closed right now. Leave a message or ask for a callback and we'll get back to you."
        if self.basis is Basis.NO_AGENTS or self.range_minutes is None:
            return "No one from our team is available right now. Leave a message or ask for a callback."
        low, high = self.range_minutes
        if high <= 1:
            return "less than a minute"
        if self.basis is Basis.THIN:  # from 0: "up to", never "1-3 minutes" (they may be taken at once)
            return f"{low}-{high} minutes" if low else f"up to {high} minutes"
        return f"about {self.minutes} minute{'s' if self.minutes != 1 else ''}, at most {high}"


_NORMAL = NormalDist()
# How closely the pickup still ahead is worked out: customers are told minutes, and every waiting customer's
# status works it out three times at each queue change (60 halvings took 0.3 ms a time; this takes about 14).
PICKUP_PRECISION_SECONDS = 0.5


def _pickup_left(median: float, sigma: float, under_way: Sequence[Tuple[float, float]], share: float) -> float:
    """The ``share`` quantile of the pickup still ahead. The group's pickup (lognormal: ``median``,
    log-sd ``sigma``) is under way at each free agent for a while, ``under_way``: (weight, seconds); its
    hazard now is theirs averaged by weight, so a pickup long under way has less left (or, far beyond the
    usual, an agent not picking up, more)."""
    total = sum(weight for weight, _ in under_way)

    def log_survival(seconds: float) -> float:
        return math.log(max(1e-300, _NORMAL.cdf(-math.log(max(seconds, 1e-9) / median) / sigma)))

    def left(extra: float) -> float:  # the chance that the pickup takes longer than ``extra`` from now
        return math.exp(sum(weight / total * (log_survival(elapsed + extra) - log_survival(elapsed))
                            for weight, elapsed in under_way))

    low, high = 0.0, median * math.exp(8 * sigma) + max(elapsed for _, elapsed in under_way)
    while high - low > PICKUP_PRECISION_SECONDS:
        middle = (low + high) / 2
        low, high = (middle, high) if left(middle) > 1 - share else (low, middle)
    return (low + high) / 2


_LONGEST_SECONDS = 7 * 24 * 3600.0


class _Slots:
    """How many slots have come free ``t`` seconds from now, counted in slots of the mean rate: each chat in
    progress ends after what is left of its handling time (lognormal with the estimated mean and log-sd,
    conditioned on the chat's age: the real conditional residual), and its slot then takes the next
    customer, whose chat ends as a new one's does (the renewal function: at first as its spread says, in
    the long run one per mean handling time), from about when the first is likely over (its median left);
    a free slot takes a customer ahead now (a chat of age 0). Scaled so that, in the long run, it counts
    ``rate`` slots a second, as the mean rate (with the pull of the observed claims) does: the ages tell
    when the next ones free, not how fast slots free on the whole."""

    def __init__(self, chats: Sequence[Tuple[float, float]], mean: float, sigma: float, rate: float) -> None:
        self.mean, self.sigma = mean, sigma
        self.log_median = math.log(mean) - sigma**2 / 2
        oldest = math.exp(self.log_median + 6 * sigma)  # beyond: the lognormal's tail says nothing sound
        self.chats: List[Tuple[float, float, float, float]] = []  # (weight, age, survival at it, median left)
        capacity = 0.0
        for weight, age in chats:
            age = min(max(0.0, age), oldest)
            survival = self._survival(age)
            # The median of what is left of it: where the survival is half what it is at its age.
            left = math.exp(self.log_median + sigma * _NORMAL.inv_cdf(min(1 - 1e-12, 1 - survival / 2))) - age
            self.chats.append((weight, age, survival, max(0.0, left)))
            capacity += weight / mean
        self.scale = rate / capacity if capacity else 0.0

    def _survival(self, seconds: float) -> float:
        if seconds <= 0:
            return 1.0
        return 0.5 * math.erfc((math.log(seconds) - self.log_median) / (self.sigma * math.sqrt(2)))

    def _renewals(self, seconds: float) -> float:
        """Chats ended within ``seconds`` of one taken now: at first as a chat's own spread says, in the
        long run one per mean handling time (the renewal function's asymptote)."""
        if seconds <= 0:
            return 0.0
        return max(1 - self._survival(seconds), seconds / self.mean + (math.exp(self.sigma**2) - 2) / 2)

    def count(self, seconds: float) -> float:
        total = 0.0
        for weight, age, survival, left in self.chats:
            ended = 1 - self._survival(age + seconds) / survival  # the chat is over by then
            total += weight * ended * (1 + self._renewals(seconds - left))  # and its slot's next ones
        return self.scale * total

    def time_to(self, slots: float) -> float:
        """When ``slots`` (in slots of the mean rate) have come free."""
        if slots <= 0 or not self.scale:
            return 0.0
        high = max(1.0, slots / (self.scale * sum(weight for weight, *_ in self.chats) / self.mean))
        while self.count(high) < slots and high < _LONGEST_SECONDS:  # the count grows without end: a guard only
            high *= 2
        low = 0.0
        while high - low > max(PICKUP_PRECISION_SECONDS, 1e-3 * high):
            middle = (low + high) / 2
            low, high = (middle, high) if self.count(middle) < slots else (low, middle)
        return (low + high) / 2


def _handling_sigma(handled: Sequence[float], tuning: Tuning) -> float:
    """The handling times' log-standard deviation, the prior's worth ``prior_weight`` observations."""
    logs = [math.log(max(1.0, value)) for value in handled]
    prior = tuning.prior_weight
    if len(logs) < 2:
        return tuning.prior_handling_sigma
    centre = sum(logs) / len(logs)
    spread = sum((value - centre) ** 2 for value in logs)
    return math.sqrt((spread + prior * tuning.prior_handling_sigma**2) / (len(logs) - 1 + prior))


def _quantile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def estimate(state: QueueSnapshot, tuning: Tuning = Tuning()) -> Estimate:
    """The wait still ahead of this customer."""
    if not state.is_open:
        return Estimate(Basis.CLOSED)
    if not state.agents:
        return Estimate(Basis.NO_AGENTS)
    # Agents who take several groups share their slots by how many wait in each (ahead of the customer, when
    # known: the oldest are taken first).
    shares = [min(1.0, state.waiting_in_group / max(1, agent.waiting_visible)) for agent in state.agents]
    free = sum(share * max(0, agent.max_chats - agent.serving) for share, agent in zip(shares, state.agents))
    slots = sum(share * agent.max_chats for share, agent in zip(shares, state.agents))
    handled = state.handling_seconds
    prior = tuning.prior_weight
    mean_handling = (sum(handled) + prior * tuning.prior_handling_seconds) / (len(handled) + prior)
    rate = slots / mean_handling  # slots coming free per second once all are busy
    claims = len(state.claim_pickups)
    if claims:
        pull = tuning.claims_weight * claims / (claims + tuning.claims_half)
        rate = math.exp((1 - pull) * math.log(rate) + pull * math.log(claims / WINDOW_SECONDS))
    pickup = tuning.prior_pickup_seconds
    if state.claim_pickups:
        seen = _quantile(state.claim_pickups, tuning.pickup_quantile)
        pickup = (claims * seen + tuning.prior_weight * pickup) / (claims + tuning.prior_weight)

    needed = max(0.0, state.position - free)  # slots that must come free first
    give_ups = sum(1 for _, gave_up in state.exits if gave_up)
    if needed > 1 and give_ups:
        # The chance per second that a waiting customer gives up: the give-ups over the time all who left
        # had waited. Those ahead who wait for a slot as well give up meanwhile: the line ahead, m, shortens
        # as dm/dt = -rate - give_up_rate * m, and is gone after fewer free slots than it is long.
        waited = sum(seconds for seconds, _ in state.exits) + tuning.give_up_prior_seconds
        give_up_rate = give_ups / max(1.0, waited)
        needed = 1 + rate * math.log1p(give_up_rate * (needed - 1) / rate) / give_up_rate
    under_way = [(share * (agent.max_chats - agent.serving), agent.free_seconds)
                 for share, agent in zip(shares, state.agents) if agent.max_chats > agent.serving and share > 0]
    if not needed and under_way:
        # A free slot takes the customer once its pickup, already under way, is over.
        spread = 1 + tuning.pickup_spread**2
        pickup_median, pickup_sigma = pickup / math.sqrt(spread), math.sqrt(math.log(spread))
        median, low, high = (_pickup_left(pickup_median, pickup_sigma, under_way, _NORMAL.cdf(z))
                             for z in (0.0, -tuning.lower_z, tuning.upper_z))
        # Free for longer than a pickup's usual upper end, even the least overdue slot is an agent not picking
        # up (away, on the phone): as likely as not, that goes on as long again as it has beyond the usual. They
        # may be back any moment: the low end stays.
        overdue = min(elapsed for _, elapsed in under_way) - pickup_median * math.exp(tuning.upper_z * pickup_sigma)
        if overdue > median:
            high, median = high * overdue / median, overdue
    else:
        mean = pickup + needed / rate
        # The Gamma spread of the needed slots, the pickup's, and the rate's own uncertainty (fewer data, wider).
        observations = min(len(handled), claims) if claims else len(handled)
        rate_doubt = 1 / math.sqrt(observations + 1)
        variance = needed / rate**2 + (tuning.pickup_spread * pickup) ** 2 + (rate_doubt * needed / rate) ** 2
        sigma = math.sqrt(math.log(1 + variance / mean**2))
        median = mean / math.sqrt(1 + variance / mean**2)
        # The upper end allows for the team shrinking before then: more, the further off that is.
        shrinking = median / tuning.team_change_seconds if tuning.team_change_seconds > 0 else 0.0
        low, high = median * math.exp(-tuning.lower_z * sigma), median * math.exp(
            tuning.upper_z * math.sqrt(sigma**2 + shrinking))
        median *= math.exp(tuning.point_z * sigma)
        chats = [(share, age) for share, agent in zip(shares, state.agents) if share > 0
                 for age in agent.ages + (0.0,) * max(0, agent.max_chats - agent.serving)]
        aged = all(len(agent.ages) == agent.serving for agent in state.agents)  # every chat's age read
        if tuning.age_weight > 0 and needed > 0 and aged and chats:
            # Not at the mean rate alone: the chats in progress are at their ages, and the slots needed come
            # free as those end. Each end of the range is the same share of the slots needed, told by when
            # that many have come free.
            slots_free = _Slots(chats, mean_handling, _handling_sigma(handled, tuning), rate)
            weight = tuning.age_weight

            def told(seconds: float) -> float:
                slots_by_then = max(0.0, seconds - pickup) * rate
                return ((1 - weight) * seconds
                        + weight * (min(seconds, pickup) + slots_free.time_to(slots_by_then)))

            median, low, high = told(median), told(low), told(high)

    # Never promised less than those ahead waited: the upper end (what is promised) is widened as far as the
    # point falls short of it. The point and the low end stay the queue's own: lifted to it, the point
    # overestimated what followed (dev seeds, told again: +21 % at the median where it did).
    floor = max(0.0, state.longest_ahead_seconds - state.waited_seconds)
    if floor > median:
        high = high * floor / median
    if not claims and state.position > 1:
        high = max(high, state.position * tuning.unclaimed_pickup_seconds)
    thin = min(len(handled), claims) < tuning.thin_below
    return Estimate(Basis.THIN if thin else Basis.QUEUE, median, low, high)


def snapshot(
    now_ms: float,
    group: str,
    position: Optional[int],
    head_queued_ms: Optional[float],
    waiting_since_ms: float,
    waiting: Mapping[str, int],
    claims: Sequence[Tuple[float, float]],
    handling_ms: Sequence[float],
    agents: Mapping[str, Tuple[Sequence[str], int, int]],
    is_open: bool,
    ready_ms: Optional[Mapping[str, float]] = None,
    exits: Sequence[Tuple[float, float, bool]] = (),
    *,
    ahead_since_ms: Optional[float],
    started_ms: Optional[Mapping[str, Sequence[float]]] = None,
    ahead: Optional[Mapping[str, int]] = None,
) -> QueueSnapshot:
    """The snapshot from what Redis holds.

    ``position``: in the group's queue (None: not in it, e.g. claimed meanwhile);
    ``head_queued_ms``: when the first of the group was queued; ``waiting``:
    customers waiting by group, ``"all"`` for every group; ``claims``: (claimed
    at ms, pickup delay ms) of the group's claims; ``agents``: online agent -> (groups,
    max_chats, serving); ``ready_ms``: agent -> when they last took or finished a chat or came online;
    ``exits``: (left at ms, waited ms, gave up) of the group's customers who left the queue, served or not;
    ``ahead_since_ms``: when the one ahead who has waited longest started waiting (their true wait, which a
    customer transferred or put back at the front keeps; None: nobody ahead); ``started_ms``: agent -> when
    each chat they serve now was taken (its claimed_at; None or an agent missing: not read, and the estimate
    goes by the mean rate alone); ``ahead``: customers queued at or before this one, by group (``"all"``:
    every group), of whom an agent's free slots take the oldest first, so an agent's slots go to this group
    before this customer as its share of those ahead, not of all who wait (those behind never come first;
    None: not read, and ``waiting`` shares them).
    """
    place = position or 1
    # Sharing an agent's slots among groups: as those ahead are, the customer's own place (its group's share
    # of them); else as all who wait are.
    counts, in_group = (ahead, place) if ahead is not None else (waiting, max(waiting.get(group, 0), place))
    head_ms = now_ms if head_queued_ms is None else head_queued_ms
    loads: List[AgentLoad] = []
    for agent, (groups, max_chats, serving) in agents.items():
        if ALL_GROUPS not in groups and group not in groups:
            continue
        visible = counts.get(ALL_GROUPS, 0) if ALL_GROUPS in groups else sum(counts.get(name, 0) for name in groups)
        free_since = max(head_ms, (ready_ms or {}).get(agent, head_ms))
        free_seconds = max(0.0, (now_ms - free_since) / 1000) if serving < max_chats else 0.0
        started = (started_ms or {}).get(agent)
        ages = () if started is None else tuple(max(0.0, (now_ms - at) / 1000) for at in started)
        loads.append(AgentLoad(max_chats, serving, max(visible, in_group), free_seconds, ages))
    longest_ahead = (now_ms - ahead_since_ms) / 1000 if place > 1 and ahead_since_ms is not None else 0.0
    recent = [pickup / 1000 for claimed_at, pickup in claims if now_ms - claimed_at <= WINDOW_SECONDS * 1000]
    left = tuple((waited / 1000, gave_up) for at, waited, gave_up in exits if now_ms - at <= WINDOW_SECONDS * 1000)
    return QueueSnapshot(
        position=place, waiting_in_group=in_group, waited_seconds=max(0.0, (now_ms - waiting_since_ms) / 1000),
        longest_ahead_seconds=max(0.0, longest_ahead), claim_pickups=tuple(recent),
        handling_seconds=tuple(value / 1000 for value in handling_ms), agents=tuple(loads), is_open=is_open,
        exits=left,
    )


def status_fields(found: Estimate, position: int) -> Dict[str, Any]:
    """What a queued customer's status says about the wait (docs/bridge-protocol.md)."""
    spoken = found.range_minutes
    return {
        "position": position,
        "wait": found.text,
        "wait_minutes": found.minutes,
        "wait_range": list(spoken) if spoken else None,
        "wait_basis": found.basis.value,
        "agents_available": found.basis not in (Basis.NO_AGENTS, Basis.CLOSED),
        "offer": ["callback", "message"],
    }
