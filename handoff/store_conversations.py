"""Conversations in Redis (handoff.store: ``{p}:conv:{id}``): created (linked to the closed one they follow),
loaded, and their fields read and kept; a state change is handoff.store_commit's."""

from __future__ import annotations

import hashlib
import json
import time
from functools import cached_property
from typing import Any, Dict, List, Optional, Sequence, Tuple

from handoff.exceptions import ConversationNotFound
from handoff.machine import Conversation, State
from handoff.store_base import STREAM_CAP, StoreBase
from handoff.store_messages import refused_handoff_of

__all__ = ["TIMES", "ConversationStore", "conversation_from_fields", "last_message", "token_digest"]

# KEYS[1] the new conversation's hash, KEYS[2] the closed one it follows (a never-used key without one); ARGV[1]
# the new one's id, ARGV[2] how long an idle new conversation is kept (ms), then its fields (name, value, ...).
# The closed one is told the newest that follows it ("followed_by", handoff.earlier) only while Redis keeps it: a
# hash that expired meanwhile is not made again.
_CREATE = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'followed_by', ARGV[1]) end
"""

# The fields of Store.times.
TIMES = ["queued_at", "waiting_since", "claimed_at"]


def _stream_order(message_id: str) -> Tuple[int, int]:
    """A stream id ("ms-seq") as a sortable pair."""
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


def conversation_from_fields(conversation_id: str, text: Dict[str, str]) -> Conversation:
    """A conversation from its hash's fields (decoded)."""
    return Conversation(
        id=conversation_id,
        state=State(text["state"]),
        agent=text.get("agent") or None,
        reason=text.get("reason") or None,
        handoff=json.loads(text.get("handoff") or "{}"),
        group=text.get("group") or "general",
        rated=text.get("rated") == "1",
        version=int(text["version"]),
    )


def last_message(stored: Optional[str]) -> Optional[Dict[str, Any]]:
    """What the customer typed last (a conversation's ``last_said``), as agents see it: ``{text, ts}``;
    None before they typed anything (a pressed button is not a message)."""
    if not stored:
        return None
    said = json.loads(stored)
    return {"text": said["text"], "ts": said["ts"]}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConversationStore(StoreBase):
    """A conversation's hash: created, loaded, and the fields other steps than a state change keep in it."""

    @cached_property
    def _create(self) -> Any:
        return self.redis.register_script(_CREATE)

    async def create(self, conversation_id: str, customer_token: str, client: str = "",
                     follows: Optional[str] = None) -> Conversation:
        """A new conversation, kept only ``idle_ms`` until its first message or state change; ``follows``: the
        closed one it follows (handoff.earlier), linked both ways in the same step (``followed_by``)."""
        now = str(int(time.time() * 1000))
        fields = {"state": State.BOT.value, "version": "0", "token": token_digest(customer_token),
                  "created": now, "handoff": "{}", "client": client}
        if follows is not None:
            fields["follows"] = follows
        await self._create(keys=[self.key("conv", conversation_id),
                                 self.key("conv", follows) if follows is not None else self.key("follows-none")],
                           args=[conversation_id, str(self.idle_ms), *(item for pair in fields.items() for item in pair)])
        return Conversation(conversation_id)

    async def load(self, conversation_id: str) -> Conversation:
        fields = await self.redis.hgetall(self.key("conv", conversation_id))
        if not fields:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        return conversation_from_fields(conversation_id, {k.decode(): v.decode() for k, v in fields.items()})

    async def load_with_details(
        self, conversation_ids: List[str]
    ) -> Dict[str, Tuple[Conversation, Dict[str, str], Dict[str, str]]]:
        """Conversations, what their customers told us while waiting, and since when they wait, who
        transferred them, what the customer said last (``last_said``), its labels, a signed customer's name
        (``contact_name``) and the closed chat it follows (``follows``), in one round trip (the queue view reads every queued one); those that
        expired are left out."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hgetall(self.key("conv", conversation_id))
            replies = await pipe.execute()
        loaded = {}
        for conversation_id, fields in zip(conversation_ids, replies):
            if fields:
                text = {k.decode(): v.decode() for k, v in fields.items()}
                details = json.loads(text.get("details") or "{}")
                waits = {name: text[name]
                         for name in ("waiting_since", "transferred_by", "last_said", "labels", "presence",
                                      "sla_first_met", "sla_reply_from", "contact_name", "follows")
                         if text.get(name)}
                loaded[conversation_id] = (conversation_from_fields(conversation_id, text), details, waits)
        return loaded

    async def token_matches(self, conversation_id: str, token: str) -> bool:
        """The customer's own token, or (a signed contact's conversation) the one their other devices got."""
        digest = token_digest(token)
        stored = await self.redis.hmget(self.key("conv", conversation_id), ["token", "contact_token"])
        return any(value is not None and value.decode() == digest for value in stored)

    async def follows(self, conversation_id: str) -> Optional[str]:
        """The closed conversation this one follows (handoff.earlier); None: none, or this one is gone."""
        value = await self.redis.hget(self.key("conv", conversation_id), "follows")
        return value.decode() if value else None

    async def followed_by(self, conversation_id: str) -> Optional[str]:
        """The newest conversation that follows this closed one (handoff.earlier); None: none."""
        value = await self.redis.hget(self.key("conv", conversation_id), "followed_by")
        return value.decode() if value else None

    async def last_said(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """What the customer typed last in the conversation, as agents see it (``last_message``)."""
        value = await self.redis.hget(self.key("conv", conversation_id), "last_said")
        return last_message(value.decode() if value else None)

    async def mark_left_queue(self, conversation_id: str) -> None:
        """The customer was taken out of the queue for being away (their status says so until queued again)."""
        await self.redis.hset(self.key("conv", conversation_id), "left_queue", "gone")

    async def client(self, conversation_id: str) -> str:
        """The address that started the conversation (handoff.limits counts its queue entries)."""
        value = await self.redis.hget(self.key("conv", conversation_id), "client")
        return value.decode() if value else ""

    async def save_agent_read(self, conversation_id: str, up_to: str) -> None:
        """The agent's read receipt, kept for the customer's next hello: only ever forward (the newest
        receipt of the agent's consoles). One conversation's own field: a lost race keeps a receipt
        one message older, which the next receipt corrects."""
        key = self.key("conv", conversation_id)
        before = await self.redis.hget(key, "agent_read")
        if before is None or _stream_order(up_to) > _stream_order(before.decode()):
            await self.redis.hset(key, "agent_read", up_to)

    async def agent_read(self, conversation_id: str) -> Optional[str]:
        value = await self.redis.hget(self.key("conv", conversation_id), "agent_read")
        return value.decode() if value else None

    async def times(self, conversation_id: str) -> Dict[str, int]:
        """When the conversation was queued (this time), first queued in this handoff, and claimed."""
        values = await self.redis.hmget(self.key("conv", conversation_id), TIMES)
        return {name: int(value) for name, value in zip(TIMES, values) if value}

    async def store_rating(self, conversation_id: str, agent: str, score: int, comment: str) -> None:
        rating = {"conversation": conversation_id, "agent": agent, "score": score, "comment": comment,
                  "ts": int(time.time() * 1000)}
        await self.redis.xadd(self.key("ratings"), rating, maxlen=STREAM_CAP, approximate=True)

    async def keep_refused_handoff(self, conversation_id: str, payload: Dict[str, Any]) -> None:
        """The bot's payload for a handoff the queue refused: a request left instead stands for it."""
        await self.redis.hset(self.key("conv", conversation_id), "refused_handoff", json.dumps(payload))

    async def refused_handoff(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The payload kept by ``keep_refused_handoff``, left in place (None when there is none)."""
        return refused_handoff_of(await self.redis.hget(self.key("conv", conversation_id), "refused_handoff"))

    async def take_refused_handoff(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The payload kept by ``keep_refused_handoff``, once (None when there is none)."""
        key = self.key("conv", conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(key, "refused_handoff")
            pipe.hset(key, "refused_handoff", "")
            raw, _ = await pipe.execute()
        return refused_handoff_of(raw)

    async def save_details(self, conversation_id: str, details: Dict[str, str]) -> None:
        """What a waiting customer told us about their problem and how to reach them."""
        await self.redis.hset(self.key("conv", conversation_id), "details", json.dumps(details))

    async def transferred_by(self, conversation_id: str) -> Optional[str]:
        """The agent who transferred the conversation last (None: nobody since it was handed over)."""
        raw = await self.redis.hget(self.key("conv", conversation_id), "transferred_by")
        return raw.decode() if raw else None

    async def waiting_since(self, conversation_ids: Sequence[str]) -> Dict[str, int]:
        """When each conversation's customer first queued in this handoff (ms; kept across transfers)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in conversation_ids:
                pipe.hget(self.key("conv", conversation_id), "waiting_since")
            replies = await pipe.execute()
        return {conversation_id: int(value) for conversation_id, value in zip(conversation_ids, replies) if value}

    async def closing(self, conversation_id: str) -> Dict[str, Any]:
        """How a closed conversation ended: its last close's disposition, closing note and time (ms), and the
        customer's rating (``{score, comment}``; None before they rate) — for colleagues reading it."""
        disposition, note, closed_at, rating = await self.redis.hmget(
            self.key("conv", conversation_id), ["disposition", "closing_note", "closed_at", "rating"])
        return {"disposition": disposition.decode() if disposition else None,
                "closing_note": note.decode() if note else "",
                "closed_at": int(closed_at) if closed_at else None,
                "rating": json.loads(rating) if rating else None}

    async def details(self, conversation_id: str) -> Dict[str, str]:
        raw = await self.redis.hget(self.key("conv", conversation_id), "details")
        return json.loads(raw) if raw else {}
