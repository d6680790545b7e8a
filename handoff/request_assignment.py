"""Requests given to an agent: who calls the customer back or answers their message.

A supervisor assigns an open request (a callback or a message left, handoff.requests) to an agent who
takes its skill group, or gives it to another; an agent takes one of their groups for themselves while
nobody else has it. The assignment is kept beside the request, so every bridge process sees the same:

    {p}:request-assignee:{id}  hash  agent (login), by (who assigned it: the agent themselves or a
                                     supervisor), ts (ms); absent while nobody has it

One Lua script decides: only while the request is open (its state hash absent), and an agent's own take
only while nobody else has it, so two agents taking it at once on two processes get one winner. Each
change is announced on the queue channel (every agent's request list and the supervisors'), on the
conversation's live channel (the customer's status names who looks after it, by display name) and on
the assignee's own channel (their console notifies them).
"""

from __future__ import annotations

import enum
import time
from typing import Any, Dict, List, Optional, Tuple

from handoff.exceptions import InvalidTransition, MalformedMessage
from handoff.requests import RequestDesk, RequestState
from handoff.routing import ALL_GROUPS, visible_to

__all__ = ["AssignOutcome", "RequestAssignments"]

# KEYS: the request's state hash, its assignee hash. ARGV: agent, by, now (ms), lifetime (ms), "1" when the
# agent takes it for themselves (only while nobody else has it). Returns {outcome, the assignee before}.
_ASSIGN = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'settled', redis.call('HGET', KEYS[1], 'state') or ''}
end
local before = redis.call('HGET', KEYS[2], 'agent') or ''
if ARGV[5] == '1' and before ~= '' and before ~= ARGV[1] then return {'taken', before} end
if before == ARGV[1] then return {'same', before} end
redis.call('HSET', KEYS[2], 'agent', ARGV[1], 'by', ARGV[2], 'ts', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {'assigned', before}
"""


class AssignOutcome(str, enum.Enum):
    ASSIGNED = "assigned"  # the request is the agent's now
    SAME = "same"  # it was theirs already: nothing changed, nothing announced
    TAKEN = "taken"  # an agent's own take, but a colleague has it
    SETTLED = "settled"  # answered or done meanwhile: nobody is assigned any more


class RequestAssignments:
    """Assigning requests, around the request desk (one per process)."""

    def __init__(self, desk: RequestDesk) -> None:
        self.desk = desk
        self.store = desk.store
        self._assign = self.store.redis.register_script(_ASSIGN)

    async def take(self, request_id: str, agent: str, groups: List[str]) -> Dict[str, Any]:
        """The agent's own take of a request of their ``groups`` (Forbidden for another group's)."""
        request = await self.desk.require(request_id, groups)
        return await self._give(request, agent, by=agent, own=True)

    async def assign(self, request_id: str, agent: str, by: str, profile: Dict[str, Any]) -> Dict[str, Any]:
        """A supervisor (``by``) gives the request to ``agent`` (their account's ``profile``), who must take its
        group; online or not (a request waits for them)."""
        if "agent" not in profile["roles"]:
            raise MalformedMessage(f"no agent {agent!r}")
        request = await self._request(request_id)
        if not visible_to(request["group"], profile["groups"]):
            raise InvalidTransition(f"{profile['display_name']} does not take the {request['group']} group")
        return await self._give(request, agent, by=by, own=False)

    async def _request(self, request_id: str) -> Dict[str, Any]:
        """The request whatever its group (a supervisor's, or one an agent's groups were checked for)."""
        return await self.desk.require(request_id, [ALL_GROUPS])

    async def _give(self, request: Dict[str, Any], agent: str, by: str, own: bool) -> Dict[str, Any]:
        if request["state"] != RequestState.OPEN.value:
            raise InvalidTransition(f"this request was {request['state']} by {request['handled_by']} already")
        outcome, before = await self._run(request["id"], agent, by, own)
        if outcome is AssignOutcome.SETTLED:
            raise InvalidTransition(f"this request was {before or 'settled'} meanwhile")
        if outcome is AssignOutcome.TAKEN:
            raise InvalidTransition(f"{before} has this request already", code="already_assigned")
        if outcome is AssignOutcome.ASSIGNED:  # the lists first: the assignee's console finds it there when told
            await self.desk.announce(request)
            await self.store.publish(self.store.key("agent-events", agent),
                                     {"request_assigned": request["id"], "by": by})
        return await self._request(request["id"])

    async def _run(self, request_id: str, agent: str, by: str, own: bool) -> Tuple[AssignOutcome, Optional[str]]:
        outcome, before = await self._assign(
            keys=[self.desk.state_key(request_id), self.desk.assignee_key(request_id)],
            args=[agent, by, str(int(time.time() * 1000)), str(self.store.ttl_ms), "1" if own else "0"])
        return AssignOutcome(outcome.decode()), before.decode() or None
