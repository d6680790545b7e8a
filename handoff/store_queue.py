"""The queue in Redis (handoff.store: ``{p}:queue``, ``{p}:queue:{group}``, ``{p}:claims:{group}``,
``{p}:exits:{group}``): its members, and each group's figures for wait estimates (handoff.estimate)."""

from __future__ import annotations

import bisect
import json
import time
from typing import Awaitable, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from redis.asyncio.client import Pipeline

from handoff.agentstatus import available_only, parse as parse_status
from handoff.auth import profile_from_record
from handoff.estimate import WINDOW_SECONDS
from handoff.exceptions import ConversationNotFound
from handoff.machine import Conversation, State
from handoff.routing import ALL_GROUPS
from handoff.store_agents import agent_names
from handoff.store_base import StoreBase
from handoff.store_conversations import conversation_from_fields

__all__ = ["STATUS_FIELDS", "GroupFigures", "QueueStore", "Waiting"]

def _keep_for_window(pipe: Pipeline, key: str, member: str, at: int) -> None:
    """Adds to a zset of the estimate's window (by time, ms) and drops what has left the window."""
    pipe.zadd(key, {member: at})
    pipe.zremrangebyscore(key, 0, at - WINDOW_SECONDS * 1000)
    pipe.pexpire(key, WINDOW_SECONDS * 1000)


# What a customer's status is made from (Store.load_waiting): not the handoff payload, which is
# kilobytes and read for every waiting customer at every change of the queue otherwise; with the
# request left and whether the customer was sent away from the queue, which a status with the bot shows.
STATUS_FIELDS = ["state", "version", "agent", "reason", "group", "rated", "waiting_since", "queued_at", "request",
                 "left_queue"]


class GroupFigures(NamedTuple):
    """What the wait estimates of one skill group's customers share (Store.group_figures)."""

    head_queued_ms: Optional[float]  # when the first of the group was queued
    waiting: Dict[str, int]  # customers waiting by group ("all": every group) the online agents take
    claims: List[Tuple[float, float]]  # (claimed at, pickup delay) in ms, of the group, oldest first
    handling_ms: List[int]  # newest first
    agents: Dict[str, Tuple[List[str], int, int]]  # agent online -> (groups, max_chats, serving)
    ready_ms: Dict[str, float]  # agent online -> when they last took or finished a chat or came online
    exits: List[Tuple[float, float, bool]]  # (left the queue at, waited) in ms, gave up: of the group
    positions: Dict[str, int]  # conversation queued in the group -> its place (1 = next)
    # By place: when the one of places 1..place who has waited longest started waiting (their true wait: a
    # customer transferred or put back at the front keeps theirs, which their place in the queue does not show).
    earliest_since_ms: List[float]
    # Agent online -> when each chat they serve now was taken (claimed_at, ms); an agent missing: not read.
    started_ms: Dict[str, List[float]] = {}
    # The queue scores (places in the whole queue's order), lowest first, by group as in ``waiting``.
    scores: Dict[str, List[float]] = {}

    def ahead_since_ms(self, position: Optional[int]) -> Optional[float]:
        """When the one ahead of ``position`` who has waited longest started waiting (None: nobody ahead)."""
        if not position or position < 2 or position - 2 >= len(self.earliest_since_ms):
            return None
        return self.earliest_since_ms[position - 2]

    def ahead(self, group: str, position: Optional[int]) -> Optional[Dict[str, int]]:
        """Customers queued at or before the one at ``position`` of ``group``, by group as in ``waiting``: an
        agent's free slot takes the oldest it sees, so these come first (None: not among those read)."""
        own = self.scores.get(group, [])
        if not position or position > len(own):
            return None
        return {name: bisect.bisect_right(scores, own[position - 1]) for name, scores in self.scores.items()}


class Waiting(NamedTuple):
    """A conversation (without its handoff payload) and, when queued, what its wait estimate is
    made from (handoff.estimate.snapshot)."""

    conversation: Conversation
    position: Optional[int]  # in its skill group, 1 = next; None when not in the queue
    head_queued_ms: Optional[float]  # when the first of its group was queued
    ahead_since_ms: Optional[float]  # when the one ahead who has waited longest started waiting (GroupFigures)
    waiting_since_ms: float
    waiting: Dict[str, int]  # customers waiting by group ("all": every group) the online agents take
    claims: List[Tuple[float, float]]  # (claimed at, pickup delay) in ms, of its group, oldest first
    handling_ms: List[int]  # newest first
    agents: Dict[str, Tuple[List[str], int, int]]  # agent online -> (groups, max_chats, serving)
    ready_ms: Dict[str, float]  # agent online -> when they last took or finished a chat or came online
    exits: List[Tuple[float, float, bool]]  # (left the queue at, waited) in ms, gave up: of its group
    request_id: str = ""  # the last request left in the conversation (handoff.requests), "" for none
    left_queue: bool = False  # taken out of the queue for being away (mark_left_queue), until queued again
    # Agent online -> when each chat they serve now was taken (claimed_at, ms); an agent missing: not read.
    started_ms: Dict[str, List[float]] = {}
    # Customers queued at or before this one, by group as in ``waiting`` (GroupFigures.ahead; None: not read).
    ahead: Optional[Dict[str, int]] = None


class QueueStore(StoreBase):
    """The queue, and what a waiting customer's status and wait estimate are made from."""

    async def queue(self) -> List[Tuple[str, float]]:
        """(conversation id, queued at in ms), oldest first."""
        entries = await self.redis.zrange(self.key("queue"), 0, -1, withscores=True)
        return [(member.decode(), score) for member, score in entries]

    async def forget_queued(self, conversation_id: str, groups: Set[str]) -> bool:
        """Takes an expired conversation out of the queue and out of every group's queue it may be in;
        False when another process took it out first."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.key("queue"), conversation_id)
            pipe.srem(self.key("queue-priority"), conversation_id)
            for group in groups:
                pipe.zrem(self.key("queue", group), conversation_id)
            removed = await pipe.execute()
        return bool(removed[0])

    async def ready_since(self, agent: str) -> Optional[int]:
        """When the agent last took a chat or finished one (None: not since the key's creation)."""
        value = await self.redis.hget(self.key("agent-ready"), agent)
        return int(value) if value else None

    async def record_claim(self, group: str, conversation_id: str, claimed_at: int, pickup_ms: int,
                           waited_ms: int) -> None:
        """A claim of the group, how long its agent took to pick the customer up and how long the
        customer had waited, kept for the estimate's window (older ones go in the same step)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            _keep_for_window(pipe, self.key("claims", group), f"{conversation_id}:{claimed_at}:{pickup_ms}",
                                  claimed_at)
            _keep_for_window(pipe, self.key("exits", group), f"{conversation_id}:{claimed_at}:{waited_ms}:claimed",
                                  claimed_at)
            await pipe.execute()

    async def record_give_up(self, group: str, conversation_id: str, left_at: int, waited_ms: int) -> None:
        """A customer of the group who left the queue unserved, for the estimate's give-up rate."""
        async with self.redis.pipeline(transaction=True) as pipe:
            _keep_for_window(pipe, self.key("exits", group), f"{conversation_id}:{left_at}:{waited_ms}:gave_up",
                                  left_at)
            await pipe.execute()

    async def load_waiting(self, conversation_id: str,
                           figures: Optional[Callable[[str], Awaitable["GroupFigures"]]] = None) -> "Waiting":
        """The conversation with, should it be queued, its place and what its wait estimate needs.
        ``figures`` gives its group's figures (default: read now, ``group_figures``): every waiting
        customer's status is worked out again whenever the queue changes, and a process shares
        one reading of the group's figures among its sockets (Bridge.customer_status)."""
        values = await self.redis.hmget(self.key("conv", conversation_id), STATUS_FIELDS)
        if values[0] is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        text = {name: value.decode() for name, value in zip(STATUS_FIELDS, values) if value is not None}
        conversation = conversation_from_fields(conversation_id, text)  # without its handoff payload
        since = float(text.get("waiting_since") or text.get("queued_at") or time.time() * 1000)
        if conversation.state is not State.QUEUED:
            return Waiting(conversation, None, None, None, since, {}, [], [], {}, {}, [], text.get("request", ""),
                           text.get("left_queue") == "gone")
        group = await (figures or self.group_figures)(conversation.group)
        position = group.positions.get(conversation_id)
        if position is None:  # queued after the group's figures were read (or claimed since)
            rank = await self.redis.zrank(self.key("queue", conversation.group), conversation_id)
            position = None if rank is None else rank + 1
        return Waiting(conversation, position, group.head_queued_ms, group.ahead_since_ms(position), since, group.waiting,
                       group.claims, group.handling_ms, group.agents, group.ready_ms, group.exits,
                       text.get("request", ""), started_ms=group.started_ms,
                       ahead=group.ahead(conversation.group, position))

    async def group_figures(self, group: str) -> "GroupFigures":
        """What every wait estimate in ``group`` is made from, in two round trips: the agents online and
        available (not away) and their free slots; then, while someone is queued in the group, a third:
        when the queued started waiting and when the chats in progress were taken (their ages)."""
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.key("online"), 0, now)
            pipe.zrange(self.key("online"), 0, -1)
            pipe.hgetall(self.key("agents"))  # the accounts (handoff.auth)
            pipe.hgetall(self.key("agent-status"))  # away agents take no new work (handoff.agentstatus)
            _, members, accounts, statuses = await pipe.execute()
        present = set(available_only(agent_names(members),
                                     {name.decode(): parse_status(raw) for name, raw in statuses.items()}))
        profiles = {name: profile_from_record(name, json.loads(raw))
                    for name, raw in ((key.decode(), value) for key, value in accounts.items()) if name in present}
        online = sorted(profiles)
        groups = sorted({group} | {taken for name in online for taken in profiles[name]["groups"]})
        group_queue = self.key("queue", group)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(group_queue, 0, -1, withscores=True)
            others = [each for each in groups if each != group]
            for each in others:  # their scores: how many wait in each, and how many ahead of whom
                pipe.zrange(self.key("queue") if each == ALL_GROUPS else self.key("queue", each), 0, -1,
                            withscores=True)
            pipe.zrangebyscore(self.key("claims", group), now - WINDOW_SECONDS * 1000, "+inf")
            pipe.lrange(self.key("handling"), 0, -1)
            pipe.zrangebyscore(self.key("exits", group), now - WINDOW_SECONDS * 1000, "+inf")
            for agent in online:
                pipe.smembers(self.key("serving", agent))
            if online:
                pipe.hmget(self.key("agent-ready"), online)
            replies = await pipe.execute()
        queued = replies[0]
        scores = {each: [score for _, score in members]
                  for each, members in [(group, queued), *zip(others, replies[1:1 + len(others)])]}
        claimed, handling = replies[1 + len(others)], replies[2 + len(others)]
        exited = replies[3 + len(others)]
        serving = replies[4 + len(others):4 + len(others) + len(online)]
        ready = replies[-1] if online else []
        claims = []
        for member in claimed:
            _, at, pickup = member.decode().rsplit(":", 2)
            claims.append((float(at), float(pickup)))
        exits = []
        for member in exited:
            _, at, waited, how = member.decode().rsplit(":", 3)
            exits.append((float(at), float(waited), how == "gave_up"))
        chats = [sorted(member.decode() for member in members) for members in serving]
        agents = {name: (profiles[name]["groups"], profiles[name]["max_chats"], len(served))
                  for name, served in zip(online, chats)}
        ready_ms = {name: float(at) for name, at in zip(online, ready) if at}
        earliest: List[float] = []
        taken_ms: Dict[str, List[float]] = {}
        if queued:  # nobody queued in the group: no estimate to make, and no third round trip
            async with self.redis.pipeline(transaction=False) as pipe:
                for member, _ in queued:
                    pipe.hget(self.key("conv", member.decode()), "waiting_since")
                # The ages of the chats in progress: when each was taken (claimed_at, by the commit that
                # gave it to its agent), in the same round trip.
                for served in chats:
                    for conversation_id in served:
                        pipe.hget(self.key("conv", conversation_id), "claimed_at")
                replies = await pipe.execute()
            since, taken = replies[:len(queued)], iter(replies[len(queued):])
            for name, served in zip(online, chats):
                times = [next(taken) for _ in served]
                # A chat whose claim time is gone (expired meanwhile) leaves that agent's ages unread.
                if all(times):
                    taken_ms[name] = [float(at) for at in times]
            for (_, score), started in zip(queued, since):
                started_ms = min(float(score), float(started)) if started else float(score)
                earliest.append(min(earliest[-1], started_ms) if earliest else started_ms)
        return GroupFigures(queued[0][1] if queued else None, {each: len(found) for each, found in scores.items()},
                            claims, [int(value) for value in handling], agents, ready_ms, exits,
                            {member.decode(): place for place, (member, _) in enumerate(queued, start=1)}, earliest,
                            taken_ms, scores)
