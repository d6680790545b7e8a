"""Agents in Redis (handoff.store: ``{p}:online``, ``{p}:offline-since``, ``{p}:serving:{agent}``,
``{p}:agents-serving``): who is online, since when offline, and whom each serves."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any, Dict, List, Optional

from handoff.store_base import StoreBase

__all__ = ["AgentsStore", "agent_names"]

# KEYS[1] an agent's serving set, KEYS[2] agents-serving; ARGV[1] a conversation it no longer
# serves ('' for none), ARGV[2] the agent: the agent is listed exactly while its set is not empty.
_SYNC_SERVING = """
if ARGV[1] ~= '' then redis.call('SREM', KEYS[1], ARGV[1]) end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2])
else redis.call('SADD', KEYS[2], ARGV[2]) end
"""


def agent_names(presence: List[bytes]) -> List[str]:
    """Online agents from the presence entries ("{agent}|{connection}")."""
    return sorted({member.decode().split("|", 1)[0] for member in presence})


class AgentsStore(StoreBase):
    """Agents online and the conversations each serves."""

    @cached_property
    def _sync_serving(self) -> Any:
        return self.redis.register_script(_SYNC_SERVING)

    async def mark_online(self, agent: str, connection: str, ttl_ms: int, arriving: bool = False) -> None:
        """Present for ``ttl_ms`` more; ``arriving``: a console has just connected, and the agent could
        take a customer from now (``agent-ready``)."""
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key("online"), {f"{agent}|{connection}": now + ttl_ms})
            pipe.hdel(self.key("offline-since"), agent)
            if arriving:
                pipe.hset(self.key("agent-ready"), agent, now)
            await pipe.execute()

    async def mark_offline(self, agent: str, connection: str) -> None:
        await self.redis.zrem(self.key("online"), f"{agent}|{connection}")
        if agent not in await self.online_agents():
            await self.redis.hsetnx(self.key("offline-since"), agent, int(time.time() * 1000))

    async def online_agents(self) -> List[str]:
        now = int(time.time() * 1000)
        await self.redis.zremrangebyscore(self.key("online"), 0, now)
        return agent_names(await self.redis.zrange(self.key("online"), 0, -1))

    async def offline_since(self, agent: str) -> Optional[int]:
        value = await self.redis.hget(self.key("offline-since"), agent)
        return int(value) if value else None

    async def agents_serving(self) -> List[str]:
        """Without scanning the keyspace: every process's sweeper asks every few seconds."""
        return sorted(member.decode() for member in await self.redis.smembers(self.key("agents-serving")))

    async def serving_chats(self) -> Dict[str, List[str]]:
        """The conversations each agent serving any serves: one round trip for them all."""
        agents = await self.agents_serving()
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent in agents:
                pipe.smembers(self.key("serving", agent))
            members = await pipe.execute()
        return {agent: sorted(member.decode() for member in chats) for agent, chats in zip(agents, members) if chats}

    async def forget_serving(self, agent: str, conversation_id: str) -> None:
        await self._sync_serving(keys=[self.key("serving", agent), self.key("agents-serving")],
                                   args=[conversation_id, agent])

    async def index_agents_serving(self) -> None:
        """Fills ``agents-serving`` from the serving sets (once per process start; idempotent)."""
        prefix = f"{self.prefix}:serving:"
        async for key in self.redis.scan_iter(f"{prefix}*", count=1000):
            await self._sync_serving(keys=[key, self.key("agents-serving")], args=["", key.decode()[len(prefix):]])
