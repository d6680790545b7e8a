"""An agent's socket (``/ws/agent``): the queue, claims, the chats they serve, requests and transfers.

Its heartbeat keeps the agent's presence (and checks their login); the agent's status (available,
away: handoff.agentstatus) is set here and shown in every console of theirs; the queue comes whole
on connect and then as differences (handoff.queuediff), with each customer's presence
(handoff.customer_presence); a chat assigned to the agent anywhere is attached here
(docs/bridge-protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from typing import Any, Dict, List, Optional, Set

from handoff.agentstatus import AgentStatus, requested_status
from handoff.coalesce import Coalesced
from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import conversation_id_of, idempotency_key, signal_data, text_of
from handoff.connections.logins import HEARTBEAT_SECONDS, Login, ended_if_revoked
from handoff.connections.contacts import ContactHandlers
from handoff.connections.notes import NoteHandlers, marked_mentions
from handoff.connections.offers import OfferHandlers
from handoff.connections.open_chats import OpenChats
from handoff.connections.search import SearchHandlers
from handoff.connections.suggest import SuggestRequests
from handoff.connections.workspace import Workspace
from handoff.closing import closing_of
from handoff.exceptions import ConversationNotFound, Forbidden, MalformedMessage, StateError
from handoff.protocol import Envelope
from handoff.queuediff import QueueItems, changes, indexed
from handoff.requests import request_id_of
from handoff.search import Scope
from handoff.service import PRESENCE_TTL_MS, Bridge

__all__ = ["AgentConnection"]

logger = logging.getLogger(__name__)

# Queued customers' presence changes within this long are one look at the queue for an agent's socket.
PRESENCE_DELAY_SECONDS = 1.0


class AgentConnection(NoteHandlers, ContactHandlers, OfferHandlers, SearchHandlers, Connection):
    def __init__(self, ws: Any, bridge: Bridge, agent: str, generation: int) -> None:
        super().__init__(ws, bridge)
        self.agent = agent
        self.generation = generation  # of the token it connected with
        self.workspace = Workspace(self, agent)  # labels and canned responses (handoff.connections.workspace)
        self.connection_id = secrets.token_hex(8)
        self._heartbeat: Optional["asyncio.Task[None]"] = None
        self.chats = OpenChats(self, agent)  # the chats open here, served or read-only
        self.suggestions = SuggestRequests(self, agent, self.chats)  # suggested replies
        self._queue_sent: QueueItems = {}  # the queue as this console has it (handoff.queuediff)
        # The conversations a note mentioned this agent in, as their queue marks them: read with the whole queue
        # and again when a mention is announced (agent-events), not at every queue change of every agent.
        self._mentioned: Set[str] = set()
        self._queue_lock = asyncio.Lock()
        self.offered: Set[str] = set()  # the conversations of the offers sent last (handoff.connections.offers)
        # A burst of queue changes, one difference after it (handoff.coalesce).
        self._queue_changes = Coalesced(self._send_queue_changes, "an agent's queue view")
        # Queued customers' presence (typing started, stopped) changes often: its changes of a moment are one
        # difference, and the process's agents share one reading of the queue for them.
        self._presence_changes = Coalesced(self._send_queue_changes, "an agent's queue view (presence)",
                                           delay=PRESENCE_DELAY_SECONDS)

    def handlers(self) -> Handlers:
        return {
            "queue": self.queue, "claim": self.claim, "message": self.message,
            "hand_back": self.hand_back, "close": self.close_conversation,
            "transfer": self.transfer, "requests": self.requests, "team": self.team,
            "open_request": self.open_request, "request_done": self.request_done,
            "answer_request": self.answer_request, "assign_request": self.assign_request,
            "typing": self.signal, "read": self.signal, "set_status": self.set_status,
            **self.note_handlers(), **self.offer_handlers(), **self.contact_handlers(), **self.search_handlers(),
            "label_conversation": self.workspace.label_conversation,
            "suggest": self.suggestions.suggest, "email_transcript": self.email_transcript,
            "mail_addresses": self.mail_addresses,
        }

    async def search_scope(self) -> Scope:
        """An agent searches their skill groups' conversations and those they served (ever); a supervisor
        (role), every conversation (handoff.search)."""
        profile = await self.bridge.agents.profile(self.agent)
        return Scope(self.agent, tuple(profile["groups"]), everything="supervisor" in profile["roles"])

    async def start(self) -> None:
        await self.bridge.store.mark_online(self.agent, self.connection_id, PRESENCE_TTL_MS, arriving=True)
        status = await self.bridge.agent_arrived(self.agent)
        await self.bridge.store.publish(self.bridge.store.queue_channel, {"presence": self.agent})
        self._heartbeat = asyncio.create_task(self._beat())
        await self.watch(self.bridge.store.queue_channel, self._on_queue)
        await self.watch(self.bridge.store.said_channel, self._on_said)
        await self.watch(self.bridge.customer_presence.channel, self._on_customer_presence)
        await self.watch(self.bridge.store.key("agent-events", self.agent), self._on_own_event)
        await self.send_status(status)
        await self.send_queue()
        await self.send(Envelope("requests", None, {"items": await self._requests()}))
        await self.workspace.start()
        await self.send(Envelope("dispositions", None, {"items": list(self.bridge.settings.dispositions)}))
        await self.workspace.send_canned()  # the conversations this agent serves follow it
        await self.send_mentions()
        await self.send_offers()
        for conversation_id in await self.bridge.serving(self.agent):
            try:
                await self.attach(conversation_id)
            except (StateError, ConversationNotFound):
                await self.bridge.forget_serving(self.agent, conversation_id)  # moved on meanwhile

    async def _beat(self) -> None:
        while True:
            # At random points of the period: agents who connected together (after a restart) do not beat together.
            await asyncio.sleep(HEARTBEAT_SECONDS * random.uniform(0.5, 1.0))
            try:
                if await ended_if_revoked(self.ws, self.bridge, Login(self.agent, self.generation)):
                    return
                await self.bridge.store.mark_online(self.agent, self.connection_id, PRESENCE_TTL_MS)
            except Exception:  # noqa: BLE001 - a Redis blip must not end the agent's presence
                logger.exception("presence heartbeat for %s failed; retrying", self.agent)

    async def close(self) -> None:
        self._queue_changes.cancel()
        self._presence_changes.cancel()
        if self._heartbeat:
            self._heartbeat.cancel()
        try:
            await self.bridge.store.mark_offline(self.agent, self.connection_id)
            # Waiting customers' "is anyone available" and wait estimates change with it.
            await self.bridge.store.publish(self.bridge.store.queue_channel, {"presence": self.agent})
        finally:
            await super().close()

    async def _on_queue(self, payload: Dict[str, Any]) -> None:
        if "presence" in payload:
            return  # a colleague came or went: the queue itself is the same
        if "request" in payload:
            await self.send(Envelope("requests", None, {"items": await self._requests()}))
        if payload.get("message") == "resync":  # notifications may have been lost: the whole queue
            await self.send_queue()
            return
        self._queue_changes.poke()

    async def _on_said(self, payload: Dict[str, Any]) -> None:
        """A queued customer wrote, or their conversation was labelled: their card shows it (a resync is the
        queue channel's to answer)."""
        if "said" in payload or "labelled" in payload:
            self._queue_changes.poke()

    async def _send_queue_changes(self) -> None:
        """What changed since the view sent before, from the reading of the queue that this process's
        agents share after a change (Bridge.queue_view)."""
        async with self._queue_lock:  # one view at a time: each difference is from the one sent before
            now = indexed(marked_mentions(await self.bridge.queue_view(self.agent, shared=True), self._mentioned))
            changed = changes(self._queue_sent, now)
            if changed:
                await self.send(Envelope("queue_changed", None, changed))
                self._queue_sent = now
        # An offer card is a queue card: one whose conversation changed (what the customer wrote, their
        # presence) is sent again with the others.
        if changed and self.offered & {item["conversation_id"] for item in changed["updated"]}:
            await self.send_offers()

    async def send_queue(self, request_id: Optional[str] = None) -> None:
        """The whole queue as this agent sees it (on connect, on request, after a resync)."""
        async with self._queue_lock:
            self._mentioned = await self.bridge.notes.mentioned_in(self.agent)
            items = marked_mentions(await self.bridge.queue_view(self.agent), self._mentioned)
            await self.send(Envelope("queue", request_id, {"items": items}))
            self._queue_sent = indexed(items)

    async def _on_customer_presence(self, payload: Dict[str, Any]) -> None:
        """A queued customer connected, typed or went: their card changes (one reading per process for the
        changes of PRESENCE_DELAY_SECONDS)."""
        self._presence_changes.poke()

    async def _on_own_event(self, payload: Dict[str, Any]) -> None:
        """A chat assigned to this agent, their status set in another console of theirs, or a mention of them
        (or one seen in another tab); after a resync, both the status and the mentions again."""
        if "assigned" in payload:
            if payload.get("by"):  # a supervisor's: the console says who, as it says who transferred one
                await self.send(Envelope("chat_assigned", None, {"conversation_id": str(payload["assigned"]),
                                                                 "by": str(payload["by"])}))
            await self.attach(str(payload["assigned"]))
            return
        if "request_assigned" in payload:  # the list follows on the queue channel; this says it is theirs now
            await self.send(Envelope("request_assigned", None, {"request_id": str(payload["request_assigned"]),
                                                                 "by": str(payload.get("by") or "")}))
            return
        resync = payload.get("message") == "resync"
        if resync or "offers" in payload:  # an offer made or withdrawn (handoff.assignment)
            await self.send_offers()
        if resync or "status" in payload:
            await self.send_status(await self.bridge.statuses.get(self.agent))
        if resync or "mentioned" in payload or "mentions" in payload:
            await self.send_mentions()
        if "mentioned" in payload:  # (after a resync, the whole queue is read again with them: _on_queue)
            self._mentioned = await self.bridge.notes.mentioned_in(self.agent)
            self._queue_changes.poke()  # the queue marks the conversation

    async def send_status(self, status: AgentStatus, request_id: Optional[str] = None) -> None:
        """The agent's own status and the name customers see (the console's header)."""
        await self.send(Envelope("agent_status", request_id, {
            "name": self.agent, "display_name": await self.bridge.agents.display_name(self.agent),
            "status": status.status.value, "since": status.since_ms}))

    async def set_status(self, envelope: Envelope) -> None:
        """Available or away: away, the agent keeps their chats and sees the queue but gets no new work."""
        status = await self.bridge.choose_status(self.agent, requested_status(envelope.data))
        await self.send_status(status, envelope.id)

    async def attach(self, conversation_id: str) -> None:
        await self.chats.attach(conversation_id)

    async def detach(self, conversation_id: str) -> None:
        await self.chats.detach(conversation_id)

    async def queue(self, envelope: Envelope) -> None:
        await self.send_queue(envelope.id)

    async def requests(self, envelope: Envelope) -> None:
        await self.send(Envelope("requests", envelope.id, {"items": await self._requests()}))

    async def _groups(self) -> List[str]:
        """This agent's skill groups, read each time: a change to the account applies at once."""
        groups: List[str] = (await self.bridge.agents.profile(self.agent))["groups"]
        return groups

    async def _requests(self) -> List[Dict[str, Any]]:
        """The requests of this agent's skill groups (handoff.requests)."""
        return await self.bridge.requests.items(await self._groups())

    async def team(self, envelope: Envelope) -> None:
        await self.send(Envelope("team", envelope.id, await self.bridge.team()))

    async def open_request(self, envelope: Envelope) -> None:
        """A request's conversation, to read before calling back or answering."""
        opened = await self.bridge.requests.open(request_id_of(envelope.data), await self._groups())
        await self.send(Envelope("request", envelope.id, opened))

    async def request_done(self, envelope: Envelope) -> None:
        request = await self.bridge.requests.mark_done(request_id_of(envelope.data), self.agent, await self._groups())
        await self.send(Envelope("ack", envelope.id, {"request_id": request["id"], "state": request["state"]}))

    async def assign_request(self, envelope: Envelope) -> None:
        """The agent takes a request of their groups for themselves (handoff.request_assignment)."""
        request_id = request_id_of(envelope.data)
        if envelope.data.get("agent", self.agent) != self.agent:
            raise Forbidden("an agent assigns requests only to themselves; a supervisor assigns them to others")
        request = await self.bridge.request_assignments.take(request_id, self.agent, await self._groups())
        await self.send(Envelope("ack", envelope.id, {"request_id": request["id"],
                                                      "assigned_to": request["assigned_to"]}))

    async def answer_request(self, envelope: Envelope) -> None:
        """A reply the customer finds in the conversation when they come back, and by email for a message left
        with an email address (its ack's ``email``: where it went, null for none)."""
        request_id = request_id_of(envelope.data)
        text = text_of(envelope.data, self.bridge.settings.max_text_characters)
        request, message_id, added = await self.bridge.requests.answer(
            request_id, self.agent, await self.bridge.agents.display_name(self.agent), await self._groups(), text)
        if added:
            self.bridge.metrics["messages_agent"] += 1
        # A message left with an email address: the answer by email too, once (handoff.answer_mail).
        emailed = await self.bridge.answer_mail.after_answer(request, message_id)
        await self.send(Envelope("ack", envelope.id, {"request_id": request_id, "state": request["state"],
                                                      "message_id": message_id, "email": emailed}))

    async def transfer(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        to_agent, to_group = envelope.data.get("to_agent"), envelope.data.get("to_group")
        for value in (to_agent, to_group):
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 64):
                raise MalformedMessage("'to_agent' / 'to_group' must be a name")
        note = self.transfer_note_of(envelope)
        # Its note is pinned (or an earlier one unpinned) by the transfer's own commit (Bridge.transfer).
        await self.bridge.transfer(self.agent, conversation_id, to_agent, to_group,
                                   None if note is None else (note, str(envelope.id)))
        await self._let_go(envelope, conversation_id)

    async def claim(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.claim(self.agent, conversation_id)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.attach(conversation_id)

    async def email_transcript(self, envelope: Envelope) -> None:
        """The transcript to the customer's own address or one they typed (handoff.mail_rules), by an agent who
        may read the conversation; acknowledged when queued, the outcome follows as a system notice."""
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.notes.require_reader(self.agent, conversation_id)
        queued = await self.bridge.mail.request(conversation_id, envelope.data.get("to"), self.agent)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id, **queued}))

    async def mail_addresses(self, envelope: Envelope) -> None:
        """What the console's "Email transcript" picker offers: the identified customer's own address (chosen
        first) and those the customer typed (each only by the agent's explicit choice), for an agent who may
        read the conversation."""
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.notes.require_reader(self.agent, conversation_id)
        self.bridge.mail.require_enabled()
        found = await self.bridge.mail.addresses(conversation_id)
        await self.send(Envelope("mail_addresses", envelope.id, {"conversation_id": conversation_id, **found}))

    async def message(self, envelope: Envelope) -> None:
        key = idempotency_key(envelope)
        conversation_id = conversation_id_of(envelope.data)
        text = text_of(envelope.data, self.bridge.settings.max_text_characters)
        message_id = await self.bridge.agent_said(self.agent, conversation_id, text, key)
        await self.send(Envelope("ack", key, {"message_id": message_id}))

    async def hand_back(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.hand_back(self.agent, conversation_id)
        await self._let_go(envelope, conversation_id)

    async def close_conversation(self, envelope: Envelope) -> None:
        """``request_done``: the chat dealt with the customer's open callback or message request too, which
        is marked done with the close (handoff.requests)."""
        conversation_id = conversation_id_of(envelope.data)
        settle = envelope.data.get("request_done", False)
        if not isinstance(settle, bool):
            raise MalformedMessage("'request_done' must be true or false")
        closing = closing_of(envelope.data, self.bridge.settings.dispositions)
        await self.bridge.close(self.agent, conversation_id, closing, request_done=settle)
        await self._let_go(envelope, conversation_id)

    async def _let_go(self, envelope: Envelope, conversation_id: str) -> None:
        """Acknowledge, and stop showing a conversation this agent no longer serves."""
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.detach(conversation_id)

    async def signal(self, envelope: Envelope) -> None:
        conversation_id = conversation_id_of(envelope.data)
        await self.bridge.require_serving(self.agent, conversation_id)
        data = signal_data(envelope.type, envelope.data)
        if envelope.type == "read":  # kept: the customer's "Read" is still there after a reload
            await self.bridge.store.save_agent_read(conversation_id, data["up_to"])
        await self.bridge.store.publish(
            self.bridge.store.live_channel(conversation_id), {"from": "agent", "signal": envelope.type, "data": data}
        )
