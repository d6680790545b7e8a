"""The bridge's behaviour: carries out the state machine's effects with Redis and Rasa.

Every change to a conversation goes through :meth:`Bridge.transition`: read,
apply the pure state machine, compare-and-set in Redis (retrying when another
process changed it first), then carry out the effects. Messages are appended
to the transcript before anything else happens, so a message the bridge has
acknowledged is never lost.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import statistics
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
from redis.asyncio import Redis

from handoff.auth import AgentDirectory
from handoff.exceptions import ConversationNotFound, InvalidTransition, StateError
from handoff.hub import Hub
from handoff.machine import (
    AgentClaimed, AskBot, AskRating, BotAnswered, Closed, Conversation, CustomerAskedForPerson,
    CustomerRated, CustomerSaid, AgentSaid, Effect, Enqueue, Event, HandedBack, Notify, State,
    StoreRating, apply,
)
from handoff.settings import Settings
from handoff.store import Store, StoredMessage

__all__ = ["Bridge", "wait_text"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
BOT_UNAVAILABLE = "bot_unavailable"


def wait_text(position: Optional[int], recent_waits_ms: Sequence[int]) -> str:
    """An honest estimate from recent real waits, in words."""
    if position is None:
        return ""
    if not recent_waits_ms:
        return "We don't have enough recent chats to estimate the wait yet."
    typical = statistics.median(recent_waits_ms) / 1000 * position
    minutes = max(1, round(typical / 60))
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


class Bridge:
    """One per process: the store, the Rasa client and the pub/sub hub."""

    def __init__(self, settings: Settings, redis: Redis, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.store = Store(redis, settings.key_prefix, settings.finished_ttl_seconds)
        self.agents = AgentDirectory(redis, settings.key_prefix)
        self.hub = Hub(redis)
        self._http = http

    # ---- conversations ------------------------------------------------------

    async def start_conversation(self) -> Tuple[str, str]:
        conversation_id, token = secrets.token_urlsafe(18), secrets.token_urlsafe(24)
        await self.store.create(conversation_id, token)
        return conversation_id, token

    async def transition(self, conversation_id: str, event: Event) -> Tuple[Conversation, List[Effect]]:
        for _ in range(MAX_ATTEMPTS):
            before = await self.store.load(conversation_id)
            after, effects = apply(before, event)
            if after == before:
                await self._carry_out(after, before, effects)
                return after, effects
            queue = ""
            enqueue = next((effect for effect in effects if isinstance(effect, Enqueue)), None)
            if enqueue:
                queue = "front" if enqueue.front else "add"
            elif before.state is State.QUEUED:
                queue = "remove"
            stored = await self.store.commit(before, after, queue=queue)
            if stored is not None:
                await self._carry_out(stored, before, effects)
                return stored, effects
        raise StateError("the conversation is changing too fast; try again")

    async def _carry_out(self, after: Conversation, before: Conversation, effects: List[Effect]) -> None:
        if after.state is not before.state:
            await self.store.publish(self.store.live_channel(after.id), {"state": after.state.value})
        if after.state is State.QUEUED or before.state is State.QUEUED:
            await self.store.publish(self.store.queue_channel, {"conversation": after.id})
        for effect in effects:
            if isinstance(effect, Notify):
                await self.append(after.id, "system", f"system:{after.version}:{effect.kind}", effect.text,
                                  {"notice": effect.kind})
            elif isinstance(effect, AskRating):
                await self.append(after.id, "system", f"system:{after.version}:rate",
                                  "How did we do? Please rate this chat from 1 to 5.", {"notice": "rate"})
            elif isinstance(effect, StoreRating):
                await self.store.store_rating(after.id, after.agent or "", effect.score, effect.comment)
            elif isinstance(effect, Enqueue):
                await self.store.redis.hincrby(self.store.key("stats", "handoffs"), effect.reason, 1)

    async def append(self, conversation_id: str, kind: str, key: str, text: str = "",
                     data: Optional[Dict[str, Any]] = None) -> Tuple[str, bool]:
        message_id, added = await self.store.append(conversation_id, kind, key, text, data)
        if added:
            await self.store.publish(self.store.live_channel(conversation_id), {"message": message_id})
        return message_id, added

    # ---- customers ----------------------------------------------------------

    async def customer_said(self, conversation_id: str, text: str, key: str) -> str:
        """Store the message (once per key) and route it; returns its server id."""
        message_id, added = await self.append(conversation_id, "customer", f"customer:{key}", text)
        if added:
            _, effects = await self.transition(conversation_id, CustomerSaid(text))
            for effect in effects:
                if isinstance(effect, AskBot):
                    await self._ask_bot(conversation_id, message_id, effect.text)
        return message_id

    async def _ask_bot(self, conversation_id: str, message_id: str, text: str) -> None:
        try:
            replies = await self._rasa_reply(conversation_id, text)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.warning("Rasa did not answer for %s: %r", conversation_id, error)
            await self.append(
                conversation_id, "system", f"bot-down:{message_id}",
                "Sorry, the assistant isn't available right now. I'm connecting you to a person.",
                {"notice": "bot_unavailable"},
            )
            await self._queue_without_bot(conversation_id)
            return
        for index, reply in enumerate(replies):
            data = {key: value for key, value in reply.items() if key not in ("text", "recipient_id")}
            await self.append(conversation_id, "bot", f"bot:{message_id}:{index}", str(reply.get("text", "")), data)
        await self.transition(conversation_id, BotAnswered(tuple(replies)))

    async def _rasa_reply(self, conversation_id: str, text: str) -> List[Dict[str, Any]]:
        timeout = aiohttp.ClientTimeout(total=self.settings.rasa_timeout_seconds)
        async with self._http.post(
            f"{self.settings.rasa_url}/webhooks/rest/webhook",
            json={"sender": conversation_id, "message": text},
            timeout=timeout,
        ) as response:
            response.raise_for_status()
            replies = await response.json()
        if not isinstance(replies, list):
            raise ValueError(f"unexpected reply from Rasa: {replies!r}")
        return [reply for reply in replies if isinstance(reply, dict)]

    async def _queue_without_bot(self, conversation_id: str) -> None:
        payload = {"custom": {"handoff": {"reason": BOT_UNAVAILABLE,
                                          "summary": "The assistant did not answer; the customer was queued."}}}
        await self.transition(conversation_id, BotAnswered((payload,)))

    async def customer_asked_for_person(self, conversation_id: str) -> None:
        await self.transition(conversation_id, CustomerAskedForPerson())

    async def customer_rated(self, conversation_id: str, score: int, comment: str) -> None:
        await self.transition(conversation_id, CustomerRated(score, comment))

    async def customer_status(self, conversation_id: str) -> Dict[str, Any]:
        conversation = await self.store.load(conversation_id)
        status: Dict[str, Any] = {"state": conversation.state.value}
        if conversation.state is State.QUEUED:
            position = await self.store.position(conversation_id)
            status["position"] = position
            status["wait"] = wait_text(position, await self.store.recent_waits())
        if conversation.state is State.AGENT:
            status["agent"] = conversation.agent
        return status

    # ---- agents -------------------------------------------------------------

    async def queue_view(self) -> List[Dict[str, Any]]:
        now = time.time() * 1000
        items = []
        for conversation_id, queued_at in await self.store.queue():
            try:
                conversation = await self.store.load(conversation_id)
            except ConversationNotFound:
                continue
            handoff = conversation.handoff
            items.append({
                "conversation_id": conversation_id,
                "waiting_seconds": max(0, int((now - queued_at) / 1000)),
                "reason": conversation.reason,
                "topic": handoff.get("topic"),
                "summary": handoff.get("summary", ""),
            })
        return items

    async def claim(self, agent: str, conversation_id: str) -> Conversation:
        queued_at = await self.store.queued_at(conversation_id)
        conversation, _ = await self.transition(conversation_id, AgentClaimed(agent))
        if queued_at:
            await self.store.record_wait(int(time.time() * 1000) - queued_at)
        await self.store.redis.sadd(self.store.key("serving", agent), conversation_id)
        return conversation

    async def agent_said(self, agent: str, conversation_id: str, text: str, key: str) -> str:
        await self.transition(conversation_id, AgentSaid(agent))  # refuses anyone but the serving agent
        message_id, _ = await self.append(conversation_id, "agent", f"agent:{agent}:{key}", text, {"agent": agent})
        return message_id

    async def hand_back(self, agent: str, conversation_id: str) -> None:
        await self.transition(conversation_id, HandedBack(agent))
        await self.store.redis.srem(self.store.key("serving", agent), conversation_id)

    async def close(self, agent: str, conversation_id: str) -> None:
        await self.transition(conversation_id, Closed(agent))
        await self.store.redis.srem(self.store.key("serving", agent), conversation_id)

    async def serving(self, agent: str) -> List[str]:
        members = await self.store.redis.smembers(self.store.key("serving", agent))
        return sorted(member.decode() for member in members)

    async def transcript(self, conversation_id: str, last_seen: Optional[str] = None) -> List[StoredMessage]:
        return await self.store.messages_after(conversation_id, last_seen)

    async def require_serving(self, agent: str, conversation_id: str) -> Conversation:
        conversation = await self.store.load(conversation_id)
        if conversation.state is not State.AGENT or conversation.agent != agent:
            raise InvalidTransition(f"{agent} is not serving {conversation_id}")
        return conversation
