"""Agents' status: available, away or offline, shared by every bridge process.

An agent sets available or away in the console; a console connecting makes an agent who was
offline (or never had a status) available, and a login does too. An agent with no socket open
for HANDOFF_AGENT_GRACE_SECONDS is offline (set by whichever process sweeps first). Away agents
keep their chats and see the queue, but get no new work: the wait estimates, the "is anyone
available" of the notices and statuses, and transfers count only available agents
(:func:`available_only`). Every change is announced like an agent coming or going, on the queue
channel (``{"presence": agent}``), and to the agent's own consoles (``agent-events``).

Keys (``{p}`` is the store's prefix):

    {p}:agent-status  hash  agent -> "{available|away|offline}|{since, ms}"
"""

from __future__ import annotations

import enum
from typing import Any, Collection, Dict, List, Mapping, NamedTuple, Optional, Tuple

from redis.asyncio import Redis

from handoff.exceptions import InvalidTransition, MalformedMessage

__all__ = ["AgentStatus", "AgentStatuses", "Status", "available_only", "parse", "requested_status", "shown",
           "team_statuses"]


class Status(str, enum.Enum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


# What an agent may choose; offline follows from having no console open.
CHOSEN = (Status.AVAILABLE, Status.AWAY)


class AgentStatus(NamedTuple):
    status: Status
    since_ms: Optional[int]  # None: never had one (an account that has not connected)


NEVER = AgentStatus(Status.OFFLINE, None)


def parse(raw: Optional[bytes]) -> AgentStatus:
    """The stored value ("{status}|{since}"); nothing stored, or something unreadable: never connected."""
    if not raw:
        return NEVER
    status, _, since = raw.decode().partition("|")
    try:
        return AgentStatus(Status(status), int(since))
    except ValueError:
        return NEVER


def shown(stored: AgentStatus, connected: bool) -> AgentStatus:
    """What colleagues and supervisors see: the stored status, but an agent with a console open is
    never offline (they are arriving: the connect makes them available in a moment)."""
    if connected and stored.status is Status.OFFLINE:
        return AgentStatus(Status.AVAILABLE, stored.since_ms)
    return stored


def available_only(online: Collection[str], statuses: Mapping[str, AgentStatus]) -> List[str]:
    """The agents online who take new work: all but those away."""
    return sorted(name for name in online if shown(statuses.get(name, NEVER), True).status is Status.AVAILABLE)


def requested_status(data: Dict[str, Any]) -> Status:
    """``set_status``'s ``status``: available or away (MalformedMessage otherwise)."""
    value = data.get("status")
    if not isinstance(value, str) or value not in {status.value for status in CHOSEN}:
        raise MalformedMessage("'status' must be 'available' or 'away'")
    return Status(value)


# KEYS[1] status hash, KEYS[2] agent-ready hash; ARGV[1] agent, ARGV[2] status, ARGV[3] now (ms),
# ARGV[4] '1': only when offline or without a status (a console arriving). The same status again keeps
# its time. Becoming available starts a pickup (handoff.estimate: a free slot from now). Returns the
# stored value and 1 when it changed.
_SET = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local status = current and string.match(current, '^([a-z]+)|') or ''
if ARGV[4] == '1' and status ~= '' and status ~= 'offline' then return {current, 0} end
if status == ARGV[2] then return {current, 0} end
local value = ARGV[2] .. '|' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], value)
if ARGV[2] == 'available' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
return {value, 1}
"""

# KEYS[1] status hash, KEYS[2] offline-since hash (handoff.store); ARGV[1] agent, ARGV[2] when their last
# socket went as read by the sweeper, ARGV[3] when the grace period ended. Offline only if they have not come
# back meanwhile (a console connecting clears offline-since in the step that marks it online). 1: changed.
_OFFLINE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if string.match(current, '^offline|') then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'offline|' .. ARGV[3])
return 1
"""


class AgentStatuses:
    """The statuses in Redis; every time is given (ms), the bridge's clock."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:agent-status"
        self._ready_key = f"{prefix}:agent-ready"
        self._offline_since_key = f"{prefix}:offline-since"
        self._set = redis.register_script(_SET)
        self._offline = redis.register_script(_OFFLINE)

    async def all(self) -> Dict[str, AgentStatus]:
        return {name.decode(): parse(raw) for name, raw in (await self.redis.hgetall(self.key)).items()}

    async def get(self, agent: str) -> AgentStatus:
        return parse(await self.redis.hget(self.key, agent))

    async def require_takes_work(self, agent: str, shown_as: str = "") -> None:
        """A transfer to a colleague who is away is refused: no new work for them (``shown_as``: their display
        name, which the refusal says, as the console names colleagues)."""
        if (await self.get(agent)).status is Status.AWAY:
            raise InvalidTransition(f"{shown_as or agent} is away")

    async def choose(self, agent: str, status: Status, now_ms: int) -> Tuple[AgentStatus, bool]:
        """The agent's choice; whether it changed anything."""
        return await self._store(agent, status, now_ms, arriving=False)

    async def arrived(self, agent: str, now_ms: int) -> Tuple[AgentStatus, bool]:
        """A console connected (or the agent logged in): available, unless they chose away and are still here."""
        return await self._store(agent, Status.AVAILABLE, now_ms, arriving=True)

    async def logged_in(self, agent: str, now_ms: int) -> Tuple[AgentStatus, bool]:
        """A new login starts available, whatever the status before."""
        return await self._store(agent, Status.AVAILABLE, now_ms, arriving=False)

    async def _store(self, agent: str, status: Status, now_ms: int, arriving: bool) -> Tuple[AgentStatus, bool]:
        value, changed = await self._set(keys=[self.key, self._ready_key],
                                         args=[agent, status.value, now_ms, "1" if arriving else "0"])
        return parse(value), bool(changed)

    async def missed_goodbye(self, agent: str, now_ms: int) -> None:
        """An agent not online whose process died without saying goodbye (no offline-since): their grace
        period starts now, once, whichever process sees it first."""
        await self.redis.hsetnx(self._offline_since_key, agent, now_ms)

    async def sweep(self, online: Collection[str], now_ms: int, grace_seconds: float) -> List[str]:
        """Agents with a status but no console open for the grace period become offline; returns who did.
        An agent whose process died without saying goodbye starts the grace period now."""
        went: List[str] = []
        statuses = await self.all()
        since = {name.decode(): int(value) for name, value in (await self.redis.hgetall(self._offline_since_key)).items()}
        for agent, stored in statuses.items():
            if agent in online or stored.status is Status.OFFLINE:
                continue
            if agent not in since:
                await self.missed_goodbye(agent, now_ms)
                continue
            ended = since[agent] + int(grace_seconds * 1000)
            if now_ms >= ended and await self._offline(keys=[self.key, self._offline_since_key],
                                                       args=[agent, since[agent], ended]):
                went.append(agent)
        return went


def team_statuses(profiles: Mapping[str, Mapping[str, Any]], online: Collection[str],
                  statuses: Mapping[str, AgentStatus], serving: Mapping[str, int], now_ms: int) -> List[Dict[str, Any]]:
    """Every agent's status for the supervisors' dashboard: who is available, away or offline, and since when
    (``seconds`` so far; None when never connected), with their skill groups, how many chats they serve and
    whether a console of theirs is open (``connected``: an agent whose console closed stays available or away for the grace period)."""
    rows = []
    for name, profile in sorted(profiles.items()):
        if "agent" not in profile["roles"]:
            continue
        status = shown(statuses.get(name, NEVER), name in online)
        rows.append({"name": name, "display_name": profile["display_name"], "status": status.status.value,
                     "since": status.since_ms,
                     "seconds": None if status.since_ms is None else max(0, (now_ms - status.since_ms) // 1000),
                     "connected": name in online, "serving": serving.get(name, 0),
                     "groups": list(profile["groups"])})  # whom a request of a group may be assigned to
    return rows
