"""The chats open in one agent's socket: those the agent serves, and those open read-only (a chat a
colleague mentioned them in, or any chat for a supervisor) — docs/bridge-protocol.md, "Agents".

Opening a chat sends its ``conversation`` envelope, then every message this socket has not sent, then
what follows live. Listening starts before the context is read, so that nothing said of the chat in
between (the customer starting to type, say) is lost; what is heard meanwhile waits until the console
has the chat. Opening, closing and switching a chat between served and read-only happen one at a
time (one lock per socket), and each re-reads the conversation inside the lock: an assignment heard
from Redis, the agent's own claim and a view cannot undo one another.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any, Awaitable, Callable, Dict, Optional

from handoff.connections.base import Connection
from handoff.customer_presence import parse as parse_presence, shown as presence_shown
from handoff.exceptions import ConversationNotFound, LimitReached, StateError
from handoff.labels import split
from handoff.machine import Conversation, State
from handoff.protocol import Envelope

__all__ = ["MAX_VIEWS", "Opened", "OpenChats"]

# Read-only views open at once in one socket: each is a subscription of the process and a transcript sent.
MAX_VIEWS = 20


class Opened(enum.Enum):
    SERVED = "served"
    VIEWED = "viewed"


class OpenChats:
    def __init__(self, connection: Connection, agent: str) -> None:
        self.connection = connection
        self.bridge = connection.bridge
        self.agent = agent
        self._open: Dict[str, Opened] = {}
        self._lock = asyncio.Lock()

    def viewed(self, conversation_id: str) -> bool:
        return self._open.get(conversation_id) is Opened.VIEWED

    def require_room_to_view(self, conversation_id: str) -> None:
        if conversation_id not in self._open and sum(o is Opened.VIEWED for o in self._open.values()) >= MAX_VIEWS:
            raise LimitReached(f"at most {MAX_VIEWS} conversations open read-only; close one first", code="too_many")

    async def attach(self, conversation_id: str) -> None:
        """Opens a chat this agent serves (claimed, assigned, or theirs on connecting); once, however
        many of those say so."""
        async with self._lock:
            if self._open.get(conversation_id) is Opened.SERVED:
                return
            conversation = await self.bridge.require_serving(self.agent, conversation_id)
            await self._open_chat(conversation_id, Opened.SERVED, lambda: self.context(conversation_id, conversation))

    async def detach(self, conversation_id: str) -> None:
        """Closes a served chat the agent no longer serves (released, requeued, handled in another tab)."""
        async with self._lock:
            if self._open.get(conversation_id) is not Opened.SERVED:
                return  # released already (its own action and the state change both say so)
            try:
                await self.bridge.require_serving(self.agent, conversation_id)
                return  # theirs again meanwhile (claimed back): it stays open
            except (StateError, ConversationNotFound):
                pass
            await self._close_chat(conversation_id)

    async def view(self, conversation_id: str, reader: Callable[[], Awaitable[Conversation]]) -> None:
        """Opens a chat read-only (the reader's rights are checked by the caller; re-read here with ``reader``)."""
        async with self._lock:
            conversation = await reader()
            if conversation.state is State.AGENT and conversation.agent == self.agent:
                return  # served here: it opens, or is open, as theirs
            self.require_room_to_view(conversation_id)

            await self._open_chat(conversation_id, Opened.VIEWED, lambda: self._view_context(conversation_id, conversation))

    async def _view_context(self, conversation_id: str, conversation: Conversation) -> Dict[str, Any]:
        """A read-only view's ``conversation`` envelope: who serves the chat, and how a closed one ended."""
        closed = None
        if conversation.state is State.CLOSED:
            closed = {"by": conversation.agent, **await self.bridge.store.closing(conversation_id)}
        return {**await self.context(conversation_id, conversation), "view": True,
                "serving_agent": conversation.agent if conversation.state is State.AGENT else None, "closed": closed}

    async def _view_changed(self, conversation_id: str) -> None:
        """A chat open read-only was claimed, transferred, requeued or closed: its envelope again, so the
        view says who serves it now or how it ended (one that became this agent's opens as theirs)."""
        async with self._lock:
            if self._open.get(conversation_id) is not Opened.VIEWED:
                return
            conversation = await self.bridge.store.load(conversation_id)
            if conversation.state is State.AGENT and conversation.agent == self.agent:
                return
            await self.connection.send(Envelope("conversation", None, await self._view_context(conversation_id, conversation)))

    async def unview(self, conversation_id: str) -> None:
        async with self._lock:
            if self._open.get(conversation_id) is Opened.VIEWED:
                await self._close_chat(conversation_id)

    async def _open_chat(self, conversation_id: str, opened_as: Opened,
                         context: Callable[[], Awaitable[Dict[str, Any]]]) -> None:
        connection = self.connection
        heard = asyncio.Event()

        async def after_opening(payload: Dict[str, Any]) -> None:
            await heard.wait()
            await self._on_live(conversation_id, payload)

        self._open[conversation_id] = opened_as
        await connection.watch(self.bridge.store.live_channel(conversation_id), after_opening)
        try:
            await connection.send(Envelope("conversation", None, await context()))
            await connection.deliver(conversation_id)
        except BaseException:
            # Not open after all (Redis away, the socket gone): the next attempt opens it from the start.
            self._open.pop(conversation_id, None)
            await connection.unwatch(self.bridge.store.live_channel(conversation_id))
            connection.last_sent.pop(conversation_id, None)
            raise
        finally:
            heard.set()  # what was heard meanwhile goes out now (or, after a failure, to no callback)

    async def _close_chat(self, conversation_id: str, reason: str = "") -> None:
        del self._open[conversation_id]
        await self.connection.unwatch(self.bridge.store.live_channel(conversation_id))
        self.connection.last_sent.pop(conversation_id, None)
        await self.connection.send(Envelope("released", None, {"conversation_id": conversation_id,
                                                               **({"reason": reason} if reason else {})}))

    async def _forgotten(self, conversation_id: str) -> None:
        """The customer was forgotten (handoff.forget): the chat closes here with the reason, served or viewed."""
        async with self._lock:
            if conversation_id in self._open:
                await self._close_chat(conversation_id, "forgotten")

    async def _on_live(self, conversation_id: str, payload: Dict[str, Any]) -> None:
        """What the chat's live channel says, for a chat open here (served or read-only)."""
        opened_as = self._open.get(conversation_id)
        if opened_as is None:
            return  # closed while this waited
        connection = self.connection
        if payload.get("forgotten"):
            await self._forgotten(conversation_id)
        elif payload.get("message") == "resync":  # notifications may have been lost: read again what they say
            await connection.deliver(conversation_id)
            await self._send_labels(conversation_id)
            await self._send_presence(conversation_id)
            if opened_as is Opened.SERVED:
                await self._still_served(conversation_id)
        elif "message" in payload:
            await connection.deliver(conversation_id, self.bridge.store.announced(payload))
        elif "state" in payload:
            if opened_as is Opened.SERVED:
                await self._still_served(conversation_id)
            else:
                await self._view_changed(conversation_id)
        elif "earlier" in payload:  # the chat this one follows changed since (rated): handoff.earlier
            await connection.send(Envelope("earlier", None, {
                "conversation_id": conversation_id, "earlier": await self.bridge.earlier.view(conversation_id)}))
        elif "labels" in payload:
            await connection.send(Envelope("conversation_labels", None, {
                "conversation_id": conversation_id, "labels": split(payload["labels"])}))
        elif "customer_presence" in payload:
            presence = payload["customer_presence"]
            await self._send_presence(conversation_id, f"{presence['state']}|{presence['since']}")
        elif payload.get("from") == "customer" and payload.get("signal") in ("typing", "read"):
            data = {"from": "customer", "conversation_id": conversation_id, **payload.get("data", {})}
            await connection.send(Envelope(payload["signal"], None, data))

    async def _still_served(self, conversation_id: str) -> None:
        try:
            await self.bridge.require_serving(self.agent, conversation_id)
        except (StateError, ConversationNotFound):
            await self.detach(conversation_id)  # requeued, or handled in another tab

    async def _send_labels(self, conversation_id: str) -> None:
        await self.connection.send(Envelope("conversation_labels", None, {
            "conversation_id": conversation_id, "labels": await self.bridge.labels.of(conversation_id)}))

    async def _send_presence(self, conversation_id: str, announced: Optional[str] = None) -> None:
        """The customer's presence as announced (``state|since``), or as Redis holds it now."""
        presence = (parse_presence(announced) if announced is not None
                    else await self.bridge.customer_presence.get(conversation_id))
        await self.connection.send(Envelope("customer_presence", None, {
            "conversation_id": conversation_id, **presence_shown(presence, self.bridge.now_ms())}))

    async def context(self, conversation_id: str, conversation: Conversation) -> Dict[str, Any]:
        """The ``conversation`` envelope's data: what the console shows above the transcript, the note
        the last transfer carried first (``transfer_note``, None without one), whether the customer is there,
        who they are when they signed in (``contact``, None when anonymous), the closed chat this one follows
        (``earlier``, handoff.earlier; None without one)."""
        return {
            "conversation_id": conversation_id, "state": conversation.state.value,
            "reason": conversation.reason, "handoff": conversation.handoff,
            "details": await self.bridge.store.details(conversation_id),
            "transferred_by": await self.bridge.store.transferred_by(conversation_id),
            "transfer_note": await self.bridge.notes.transfer_note(conversation_id),
            "labels": await self.bridge.labels.of(conversation_id),
            "customer_presence": presence_shown(await self.bridge.customer_presence.get(conversation_id),
                                                self.bridge.now_ms()),
            "sla": await self.bridge.sla.view(conversation_id),  # what the console counts down (handoff.sla)
            "transcript_mail": self.bridge.settings.mail_enabled,  # the console offers "Email transcript"
            "contact": await self.bridge.contacts.signed(conversation_id),  # a signed-in customer (handoff.contacts)
            "earlier": await self.bridge.earlier.view(conversation_id),  # the chat before (handoff.earlier)
        }
