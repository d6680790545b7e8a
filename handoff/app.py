"""The Sanic application: HTTP endpoints and the websocket endpoints.

Handlers only parse, validate and dispatch to :class:`handoff.service.Bridge`;
each websocket message type has one handler, and anything else gets a
structured ``error`` reply (docs/bridge-protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import math
import random
import re
import secrets
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Set
from urllib.parse import unquote

import aiohttp
from redis.asyncio import BlockingConnectionPool, Redis
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse
from sanic.exceptions import BadRequest, SanicException, WebsocketClosed
from websockets.exceptions import ConnectionClosed

from teaching import commands as teach_commands
from teaching.errors import InvalidRequest, TeachError
from teaching.store import TeachStore
from handoff.admin import start_admin_server
from handoff.auth import issue_token, verify_token
from handoff.canned import load_canned_responses
from handoff.collector import CollectionPolicy, collect_after_churn, held_seconds
from handoff.exceptions import (
    AuthError, ConversationNotFound, Forbidden, HandoffError, InvalidToken, LimitReached, MalformedMessage,
    ProtocolError,
    RateLimited, StateError, TeachingFailed, UnknownMessageType,
)
from handoff.presence import MEMORY_CHECK_SECONDS, OpenSockets, redis_memory
from handoff.guard import SUBPROTOCOL, LoginThrottle, host_name, token_from_protocols
from handoff.protocol import Envelope, error_envelope, frame_id, parse_envelope, readable, valid_unicode
from handoff.queuediff import QueueItems, changes, indexed
from handoff.requests import request_id_of
from handoff.service import PRESENCE_TTL_MS, Bridge
from handoff.settings import Settings
from handoff.trust import client_address, parse_networks
from handoff.visibility import for_customer

__all__ = ["create_app"]

logger = logging.getLogger(__name__)
_app_numbers = itertools.count()


class TokenBucket:
    """``rate`` messages per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _text(data: Dict[str, Any], limit: int, name: str = "text") -> str:
    """A message's text as people will read it (handoff.protocol.readable: no disguising controls)."""
    value = data.get(name)
    if not isinstance(value, str) or not readable(value).strip():
        raise MalformedMessage(f"'{name}' must be a non-empty string")
    if len(value) > limit:
        raise MalformedMessage(f"'{name}' is longer than {limit} characters")
    return readable(value).strip()


def _idempotency_key(envelope: Envelope) -> str:
    if not envelope.id:
        raise MalformedMessage("'id' (an idempotency key) is required for messages")
    return envelope.id


def _conversation_id(data: Dict[str, Any]) -> str:
    value = data.get("conversation_id")
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise MalformedMessage("'conversation_id' must be a conversation id")
    return value


class Login(NamedTuple):
    """Who a socket's token says it is, and the generation it was issued in."""

    agent: str
    generation: int


class Connection:
    """One websocket: parsing, limits, and in-order delivery of transcripts."""

    def __init__(self, ws: Any, bridge: Bridge) -> None:
        self.ws = ws
        self.bridge = bridge
        settings = bridge.settings
        self.bucket = TokenBucket(settings.messages_per_second, settings.message_burst)
        self.last_sent: Dict[str, Optional[str]] = {}
        self._send_lock = asyncio.Lock()
        self._subscriptions: Dict[str, Callable[[Dict[str, Any]], Awaitable[None]]] = {}

    async def send(self, envelope: Envelope) -> None:
        async with self._send_lock:
            await self._write(envelope)

    async def _write(self, envelope: Envelope) -> None:
        try:
            await self.ws.send(envelope.to_json())
        except WebsocketClosed:
            # Closed under us: its messages stay in Redis for the next connection.
            raise ConnectionClosed(None, None) from None

    async def receive(self) -> Envelope:
        try:
            raw = await self.ws.recv()
        except WebsocketClosed:
            raise ConnectionClosed(None, None) from None
        if raw is None:
            raise ConnectionClosed(None, None)
        # Every frame costs a token, refused ones too: garbage is answered no faster than messages.
        if not self.bucket.take():
            raise RateLimited("too many messages; slow down", frame_id(raw))
        return parse_envelope(raw, self.bridge.settings.max_message_bytes)

    async def deliver(self, conversation_id: str, notification: Optional[Dict[str, Any]] = None) -> None:
        """Send every stored message of the conversation this socket has not sent yet.

        A live ``notification`` carries the new message and the id of the one before it: when that
        is where this socket is, the message is all it owes, and is sent without reading the
        transcript; otherwise (a notification lost, a socket that has just connected) the
        transcript says what is missing.
        """
        announced = self.bridge.store.announced(notification) if notification else None
        async with self._send_lock:
            if (announced and conversation_id in self.last_sent
                    and announced[0] == self.last_sent[conversation_id]):
                messages = [announced[1]]
            else:
                messages = await self.bridge.transcript(conversation_id, self.last_sent.get(conversation_id))
            for message in messages:
                data = {"conversation_id": conversation_id, "kind": message["kind"], "text": message["text"],
                        "data": self.shown(message["kind"], message["data"]), "ts": message["ts"]}
                if message["client_id"]:
                    data["client_id"] = message["client_id"]
                await self._write(Envelope("message", message["id"], data))
                self.last_sent[conversation_id] = message["id"]

    def shown(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        """What this socket's reader may see of a message's data: everything (agents)."""
        return data

    async def watch(self, channel: str, callback: Callable[[Dict[str, Any]], Awaitable[None]]) -> None:
        await self.unwatch(channel)  # at most one callback per channel and socket
        self._subscriptions[channel] = callback
        await self.bridge.hub.add(channel, callback)

    async def unwatch(self, channel: str) -> None:
        callback = self._subscriptions.pop(channel, None)
        if callback:
            await self.bridge.hub.discard(channel, callback)

    async def close(self) -> None:
        for channel in list(self._subscriptions):
            try:
                await self.unwatch(channel)
            except Exception:  # noqa: BLE001 - finish the clean-up whatever happens
                logger.exception("unsubscribing %s failed", channel)


MAX_PAYLOAD = 200
_SERVER_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
_LAST_STREAM_ID = (2**64 - 1, 2**64 - 1)


def _is_server_id(value: Any) -> bool:
    """A message id as Redis makes them: two 64-bit numbers (and not the very last, which nothing follows)."""
    if not isinstance(value, str) or not _SERVER_ID.fullmatch(value):
        return False
    milliseconds, sequence = (int(part) for part in value.split("-"))
    return max(milliseconds, sequence) < 2**64 and (milliseconds, sequence) != _LAST_STREAM_ID


class CustomerConnection(Connection):
    conversation_id: Optional[str] = None
    _last_status: Optional[Dict[str, Any]] = None

    def __init__(self, ws: Any, bridge: Bridge, client: str = "", sockets: Optional[OpenSockets] = None) -> None:
        super().__init__(ws, bridge)
        self._status_lock = asyncio.Lock()
        self._queue_status_waiting = False  # a status for a queue change waits for the lock
        self.client, self.sockets = client, sockets  # the client's address; this process's open sockets
        self._status_at = 0.0  # when the status was last worked out (monotonic)
        self._refresher: Optional["asyncio.Task[None]"] = None

    async def hello(self, envelope: Envelope) -> None:
        if self.conversation_id:
            raise MalformedMessage("this connection has said hello already")
        try:
            await self._hello(envelope)
        except ConnectionClosed:
            raise
        except Exception as error:
            if isinstance(error, HandoffError) and not self.conversation_id:
                raise  # a wrong token or last_seen: nothing has changed, and the client may say hello again
            # Half a hello (Redis went away) leaves a socket that cannot go on, and a client waiting
            # for its welcome would wait for ever: tell it, and close, so that it reconnects.
            logger.exception("hello failed; closing the socket")
            self.bridge.metrics["errors_internal"] += 1
            failure = HandoffError("something went wrong on our side; please reconnect")
            await self.send(error_envelope(failure, envelope.id))
            await self.ws.close(code=1011, reason="try again")
            raise ConnectionClosed(None, None) from None

    async def _hello(self, envelope: Envelope) -> None:
        data = envelope.data
        conversation_id, token, last_seen = data.get("conversation_id"), data.get("token"), data.get("last_seen")
        if last_seen is not None and not _is_server_id(last_seen):  # before anything is created
            raise MalformedMessage("'last_seen' must be the id of a message from the server")
        if conversation_id or token:
            if not (isinstance(conversation_id, str) and isinstance(token, str)
                    and await self.bridge.store.token_matches(conversation_id, token)):
                raise InvalidToken("unknown conversation or wrong token; start a new one without them")
        else:
            conversation_id, token = await self.bridge.start_conversation(self.client)
        self.conversation_id = conversation_id
        if self.sockets:
            await self.sockets.customer_joined(conversation_id)
        self.last_sent[conversation_id] = last_seen
        await self.send(Envelope("welcome", envelope.id, {"conversation_id": conversation_id, "token": token}))
        await self.watch(self.bridge.store.live_channel(conversation_id), self._on_live)
        await self.deliver(conversation_id)
        await self.send_status(force=True)

    def shown(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        """Never the handoff payload or other agent-only data; an agent by their display name,
        never the login name."""
        visible = for_customer(kind, data)
        if kind == "agent":
            visible["agent"] = data.get("shown_as", "")
        return visible

    def require(self) -> str:
        if not self.conversation_id:
            raise MalformedMessage("send 'hello' first")
        return self.conversation_id

    async def send_status(self, force: bool = False, queue_changed: bool = False) -> None:
        """Pushes the status if it changed. Only a queued customer's status changes with the queue
        (position, wait, agents available), so the socket hears of the queue's changes only while
        queued: a change in the queue costs the sockets waiting in it, not every open socket, and
        they share one reading of their group's figures (Bridge.shared_figures)."""
        async with self._status_lock:  # one at a time: each aligns the subscription with its status
            if queue_changed:
                self._queue_status_waiting = False  # a change from now on needs another look
            status = await self.bridge.customer_status(self.require(), shared=queue_changed)
            queue = self.bridge.store.queue_channel
            listening = queue in self._subscriptions
            if status["state"] == "queued" and not listening:
                await self.watch(queue, self._on_queue)
                status = await self.bridge.customer_status(self.require())  # the queue may have moved meanwhile
            elif status["state"] != "queued" and listening:
                await self.unwatch(queue)
            self._status_at = time.monotonic()
            self._keep_refreshing(status["state"] == "queued")
            if force or status != self._last_status:
                self._last_status = status
                await self.send(Envelope("status", None, status))

    def _keep_refreshing(self, queued: bool) -> None:
        """While queued, one timer on this socket works the status out again after
        ``status_refresh_seconds`` without one: the estimate moves with time even when the queue is still."""
        refresher = self._refresher
        if refresher is None or refresher.done():
            if queued:
                self._refresher = asyncio.create_task(self._refresh_status())
        elif not queued and refresher is not asyncio.current_task():  # the timer itself stops after its status
            refresher.cancel()

    async def _refresh_status(self) -> None:
        interval = self.bridge.settings.status_refresh_seconds
        while True:
            await asyncio.sleep(max(0.0, self._status_at + interval - time.monotonic()))
            if time.monotonic() - self._status_at < interval:
                continue  # the queue moved meanwhile, and the status was worked out then
            try:
                await self.send_status()
            except ConnectionClosed:
                return
            except Exception:  # noqa: BLE001 - a Redis blip: the next round tries again
                logger.exception("refreshing a queued customer's status failed")
                self._status_at = time.monotonic()
            if (self._last_status or {}).get("state") != "queued":
                return

    async def _on_live(self, payload: Dict[str, Any]) -> None:
        if "message" in payload:
            await self.deliver(self.require(), payload)
        elif "state" in payload:
            await self.send_status()
        elif payload.get("from") == "agent" and payload.get("signal") in ("typing", "read"):
            await self.send(Envelope(payload["signal"], None, {"from": "agent", **payload.get("data", {})}))

    async def _on_queue(self, payload: Dict[str, Any]) -> None:
        if (self._last_status or {}).get("state") != "queued" or self._queue_status_waiting:
            return  # a refresh already waits for its turn, and will read the queue as it is then
        self._queue_status_waiting = True
        await self.send_status(queue_changed=True)

    async def close(self) -> None:
        if self._refresher:
            self._refresher.cancel()
        try:
            if self.sockets and self.conversation_id:
                await self.sockets.customer_left(self.conversation_id)  # away from now (handoff.presence)
        finally:
            await super().close()

    async def message(self, envelope: Envelope) -> None:
        """Stored and routed; the stored messages reach this socket through the hub.

        A pressed button sends its title as ``text`` and what the bot should get as ``payload``.
        """
        conversation_id = self.require()
        key = _idempotency_key(envelope)
        text = _text(envelope.data, self.bridge.settings.max_text_characters)
        payload = envelope.data.get("payload", "")
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
            raise MalformedMessage(f"'payload' must be a string of at most {MAX_PAYLOAD} characters")
        message_id = await self.bridge.customer_said(conversation_id, text, key, payload.strip())
        await self.send(Envelope("ack", key, {"message_id": message_id}))

    async def talk_to_person(self, envelope: Envelope) -> None:
        await self.bridge.customer_asked_for_person(self.require())
        await self.send(Envelope("ack", envelope.id, {}))

    async def details(self, envelope: Envelope) -> None:
        await self.bridge.customer_gave_details(self.require(), envelope.data)
        await self.send(Envelope("ack", envelope.id, {}))

    async def leave(self, envelope: Envelope) -> None:
        """A callback request or a message instead of waiting (or when nobody is available)."""
        data = envelope.data
        details = {key: data.get(key, "") for key in ("contact", "description", "preferred_time")}
        # Its id makes a resent request (the widget resends until acknowledged) stored once.
        key = envelope.id or secrets.token_hex(8)
        await self.bridge.customer_left_request(self.require(), str(data.get("kind", "")), details, key)
        await self.send(Envelope("ack", envelope.id, {}))

    async def leave_queue(self, envelope: Envelope) -> None:
        """No longer needs a person: out of the queue, back to the bot."""
        await self.bridge.customer_left_queue(self.require())
        await self.send(Envelope("ack", envelope.id, {}))

    async def rating(self, envelope: Envelope) -> None:
        score = envelope.data.get("score")
        if not isinstance(score, int) or isinstance(score, bool):
            raise MalformedMessage("'score' must be a whole number from 1 to 5")
        comment = envelope.data.get("comment", "")
        if not isinstance(comment, str):
            raise MalformedMessage("'comment' must be a string")
        await self.bridge.customer_rated(self.require(), score, comment)
        await self.send(Envelope("ack", envelope.id, {}))

    async def signal(self, envelope: Envelope) -> None:
        """typing / read: passed to the agent's console, never stored."""
        data = {key: envelope.data[key] for key in ("active", "up_to") if key in envelope.data}
        await self.bridge.store.publish(
            self.bridge.store.live_channel(self.require()), {"from": "customer", "signal": envelope.type, "data": data}
        )


class AgentConnection(Connection):
    HEARTBEAT_SECONDS = 10

    def __init__(self, ws: Any, bridge: Bridge, agent: str, generation: int, canned: List[Dict[str, str]]) -> None:
        super().__init__(ws, bridge)
        self.agent = agent
        self.generation = generation  # of the token it connected with
        self.canned = canned
        self.connection_id = secrets.token_hex(8)
        self._heartbeat: Optional["asyncio.Task[None]"] = None
        # Live notifications (a state change, an assignment) run in tasks of their own, beside the requests:
        # attaching and releasing one at a time, a re-attach cannot hide the subscription from a release.
        self._attaching = asyncio.Lock()
        self._queue_sent: QueueItems = {}  # the queue as this console has it (handoff.queuediff)
        self._queue_lock = asyncio.Lock()
        self._queue_view_waiting = False  # a view for a queue change waits for the lock

    async def start(self) -> None:
        await self.bridge.store.mark_online(self.agent, self.connection_id, PRESENCE_TTL_MS, arriving=True)
        await self.bridge.store.publish(self.bridge.store.queue_channel, {"presence": self.agent})
        self._heartbeat = asyncio.create_task(self._beat())
        await self.watch(self.bridge.store.queue_channel, self._on_queue)
        await self.watch(self.bridge.store.key("agent-events", self.agent), self._on_assigned)
        await self.send_queue()
        await self.send(Envelope("requests", None, {"items": await self._requests()}))
        await self.send(Envelope("canned", None, {"items": self.canned}))
        for conversation_id in await self.bridge.serving(self.agent):
            try:
                await self.attach(conversation_id)
            except (StateError, ConversationNotFound):
                await self.bridge.forget_serving(self.agent, conversation_id)  # moved on meanwhile

    async def _beat(self) -> None:
        while True:
            # At random points of the period: agents who connected together (after a restart) do not beat together.
            await asyncio.sleep(self.HEARTBEAT_SECONDS * random.uniform(0.5, 1.0))
            try:
                if await _ended_if_revoked(self.ws, self.bridge, Login(self.agent, self.generation)):
                    return
                await self.bridge.store.mark_online(self.agent, self.connection_id, PRESENCE_TTL_MS)
            except Exception:  # noqa: BLE001 - a Redis blip must not end the agent's presence
                logger.exception("presence heartbeat for %s failed; retrying", self.agent)

    async def close(self) -> None:
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
        if self._queue_view_waiting:
            return  # a view already waits for its turn, and will read the queue as it is then
        self._queue_view_waiting = True
        async with self._queue_lock:  # one view at a time: each difference is from the one sent before
            self._queue_view_waiting = False  # a change from now on needs another look
            now = indexed(await self.bridge.queue_view(self.agent))
            changed = changes(self._queue_sent, now)
            if changed:
                await self.send(Envelope("queue_changed", None, changed))
                self._queue_sent = now

    async def send_queue(self, request_id: Optional[str] = None) -> None:
        """The whole queue as this agent sees it (on connect, on request, after a resync)."""
        async with self._queue_lock:
            items = await self.bridge.queue_view(self.agent)
            await self.send(Envelope("queue", request_id, {"items": items}))
            self._queue_sent = indexed(items)

    async def _on_assigned(self, payload: Dict[str, Any]) -> None:
        await self.attach(str(payload["assigned"]))

    async def attach(self, conversation_id: str) -> None:
        async with self._attaching:
            await self._attach(conversation_id)

    async def _attach(self, conversation_id: str) -> None:
        conversation = await self.bridge.require_serving(self.agent, conversation_id)
        await self.send(Envelope("conversation", None, {
            "conversation_id": conversation_id, "state": conversation.state.value,
            "reason": conversation.reason, "handoff": conversation.handoff,
            "details": await self.bridge.store.details(conversation_id),
            "transferred_by": await self.bridge.store.transferred_by(conversation_id),
        }))

        async def on_live(payload: Dict[str, Any], conversation_id: str = conversation_id) -> None:
            if "message" in payload:
                await self.deliver(conversation_id, payload)
            elif "state" in payload:
                try:
                    await self.bridge.require_serving(self.agent, conversation_id)
                except (StateError, ConversationNotFound):
                    await self.detach(conversation_id)  # requeued, or handled in another tab
            elif payload.get("from") == "customer" and payload.get("signal") in ("typing", "read"):
                data = {"from": "customer", "conversation_id": conversation_id, **payload.get("data", {})}
                await self.send(Envelope(payload["signal"], None, data))

        await self.watch(self.bridge.store.live_channel(conversation_id), on_live)
        await self.deliver(conversation_id)

    async def detach(self, conversation_id: str) -> None:
        async with self._attaching:
            channel = self.bridge.store.live_channel(conversation_id)
            if channel not in self._subscriptions:
                return  # released already (its own action and the state change both say so)
            await self.unwatch(channel)
            self.last_sent.pop(conversation_id, None)
            await self.send(Envelope("released", None, {"conversation_id": conversation_id}))

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

    async def answer_request(self, envelope: Envelope) -> None:
        """A reply the customer finds in the conversation when they come back."""
        request_id = request_id_of(envelope.data)
        text = _text(envelope.data, self.bridge.settings.max_text_characters)
        request, message_id, added = await self.bridge.requests.answer(
            request_id, self.agent, await self.bridge.agents.display_name(self.agent), await self._groups(), text)
        if added:
            self.bridge.metrics["messages_agent"] += 1
        await self.send(Envelope("ack", envelope.id, {"request_id": request_id, "state": request["state"],
                                                      "message_id": message_id}))

    async def transfer(self, envelope: Envelope) -> None:
        conversation_id = _conversation_id(envelope.data)
        to_agent, to_group = envelope.data.get("to_agent"), envelope.data.get("to_group")
        for value in (to_agent, to_group):
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 64):
                raise MalformedMessage("'to_agent' / 'to_group' must be a name")
        await self.bridge.transfer(self.agent, conversation_id, to_agent, to_group)
        await self._let_go(envelope, conversation_id)

    async def claim(self, envelope: Envelope) -> None:
        conversation_id = _conversation_id(envelope.data)
        await self.bridge.claim(self.agent, conversation_id)
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.attach(conversation_id)

    async def message(self, envelope: Envelope) -> None:
        key = _idempotency_key(envelope)
        conversation_id = _conversation_id(envelope.data)
        text = _text(envelope.data, self.bridge.settings.max_text_characters)
        message_id = await self.bridge.agent_said(self.agent, conversation_id, text, key)
        await self.send(Envelope("ack", key, {"message_id": message_id}))

    async def hand_back(self, envelope: Envelope) -> None:
        conversation_id = _conversation_id(envelope.data)
        await self.bridge.hand_back(self.agent, conversation_id)
        await self._let_go(envelope, conversation_id)

    async def close_conversation(self, envelope: Envelope) -> None:
        conversation_id = _conversation_id(envelope.data)
        await self.bridge.close(self.agent, conversation_id)
        await self._let_go(envelope, conversation_id)

    async def _let_go(self, envelope: Envelope, conversation_id: str) -> None:
        """Acknowledge, and stop showing a conversation this agent no longer serves."""
        await self.send(Envelope("ack", envelope.id, {"conversation_id": conversation_id}))
        await self.detach(conversation_id)

    async def signal(self, envelope: Envelope) -> None:
        conversation_id = _conversation_id(envelope.data)
        await self.bridge.require_serving(self.agent, conversation_id)
        data = {key: envelope.data[key] for key in ("active", "up_to") if key in envelope.data}
        await self.bridge.store.publish(
            self.bridge.store.live_channel(conversation_id), {"from": "agent", "signal": envelope.type, "data": data}
        )


class SupervisorConnection(Connection):
    """The live dashboard: pushed when the day's counters or the queue change."""

    REFRESH_SECONDS = 15.0  # waits grow even when nothing happens
    COALESCE_SECONDS = 0.5  # a burst of changes becomes one push

    def __init__(self, ws: Any, bridge: Bridge) -> None:
        super().__init__(ws, bridge)
        self._pending: Optional["asyncio.Task[None]"] = None
        self._refresher: Optional["asyncio.Task[None]"] = None

    async def start(self) -> None:
        await self.watch(self.bridge.store.stats_channel, self._on_change)
        await self.watch(self.bridge.store.queue_channel, self._on_change)
        await self.push()
        self._refresher = asyncio.create_task(self._refresh())

    async def push(self, request_id: Optional[str] = None) -> None:
        await self.send(Envelope("dashboard", request_id, await self.bridge.dashboard()))

    async def dashboard(self, envelope: Envelope) -> None:
        await self.push(envelope.id)

    async def _on_change(self, payload: Dict[str, Any]) -> None:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._push_soon())

    async def _push_soon(self) -> None:
        await asyncio.sleep(self.COALESCE_SECONDS)
        with contextlib.suppress(ConnectionClosed):
            await self.push()

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.REFRESH_SECONDS)
            try:
                await self.push()
            except ConnectionClosed:
                return
            except Exception:  # noqa: BLE001 - a Redis blip: the next round tries again
                logger.exception("refreshing the dashboard failed")

    async def close(self) -> None:
        for task in (self._pending, self._refresher):
            if task:
                task.cancel()
        await super().close()



# What the Teach view shows; each is pushed again when the worker says it changed.
TEACH_VIEWS = ("catalog", "inbox", "job", "models", "audit")


def _teach_request(envelope: Envelope) -> Dict[str, Any]:
    """The request's fields, checked at the edge (the worker checks the meaning)."""
    try:
        return teach_commands.check(envelope.type, envelope.data)
    except InvalidRequest as error:
        raise MalformedMessage(str(error)) from None


class ContentConnection(Connection):
    """The content staff's Teach view: inbox, labelling, training, models and audit trail.

    Labelling and training go to the one teaching worker (teaching.worker.worker)
    through Redis and are acknowledged when it has carried them out; deploy and
    rollback are Redis operations any bridge process can do. Whatever changes,
    the worker or the store says so on one channel, and each open view is
    pushed the parts that changed.
    """

    COALESCE_SECONDS = 0.2

    def __init__(self, ws: Any, bridge: Bridge, teach: TeachStore, name: str) -> None:
        super().__init__(ws, bridge)
        self.teach = teach
        self.name = name
        self._changed: Set[str] = set()
        self._pending: Optional["asyncio.Task[None]"] = None

    async def start(self) -> None:
        await self.watch(self.teach.events_channel, self._on_change)
        for view in TEACH_VIEWS:
            await self.push(view)

    async def push(self, view: str, request_id: Optional[str] = None) -> None:
        await self.send(Envelope(view, request_id, await self._view(view)))

    async def _view(self, view: str) -> Dict[str, Any]:
        if view == "catalog":
            return await self.teach.catalog()
        if view == "inbox":
            return await self.teach.groups()
        if view == "job":
            return {"job": await self.teach.job()}
        if view == "models":
            models = await self.teach.models()
            for model in models:  # the list carries each report's headline; "model" sends one in full
                model["report"] = _report_summary(model["report"])
            return {"current": await self.teach.current(), "history": await self.teach.deployment_history(),
                    "models": models}
        return {"entries": await self.teach.recent_audit(100)}

    async def _on_change(self, payload: Dict[str, Any]) -> None:
        view = payload.get("type")
        self._changed.update([view] if view in TEACH_VIEWS else TEACH_VIEWS)  # "resync": everything
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._push_changed())

    async def _push_changed(self) -> None:
        await asyncio.sleep(self.COALESCE_SECONDS)
        changed, self._changed = self._changed, set()
        with contextlib.suppress(ConnectionClosed):
            for view in TEACH_VIEWS:
                if view in changed:
                    await self.push(view)

    async def conversation(self, envelope: Envelope) -> None:
        review = await self.bridge.store.review(_conversation_id(envelope.data))
        await self.send(Envelope("conversation", envelope.id, review))

    async def model(self, envelope: Envelope) -> None:
        model_id = _teach_request(envelope)["model_id"]
        await self.send(Envelope("model", envelope.id, await self._teaching(self.teach.model(model_id))))

    async def command(self, envelope: Envelope) -> None:
        """label, new_faq, new_intent, out_of_scope, skip and train: carried out by the worker."""
        data = _teach_request(envelope)
        result = await self._teaching(self.teach.command(envelope.type, data, self.name))
        await self.send(Envelope("ack", envelope.id, result))

    async def deploy(self, envelope: Envelope) -> None:
        request = _teach_request(envelope)
        await self._teaching(self.teach.deploy(request["model_id"], self.name, override=request.get("override", False),
                                               reason=request.get("reason", "")))
        await self.send(Envelope("ack", envelope.id, {"model_id": request["model_id"]}))

    async def rollback(self, envelope: Envelope) -> None:
        _teach_request(envelope)
        model_id = await self._teaching(self.teach.rollback(self.name))
        await self.send(Envelope("ack", envelope.id, {"model_id": model_id}))

    async def audit(self, envelope: Envelope) -> None:
        _teach_request(envelope)
        await self.push("audit", envelope.id)

    @staticmethod
    async def _teaching(request: Awaitable[Any]) -> Any:
        """The teaching loop's errors become the bridge's structured replies."""
        try:
            return await request
        except TeachError as error:
            failure = TeachingFailed(str(error))
            failure.code = error.code
            raise failure from None

    async def close(self) -> None:
        if self._pending:
            self._pending.cancel()
        await super().close()


def _report_summary(report: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not report:
        return None
    corpus = report.get("stuck_corpus") or {}
    return {"current": report.get("current"), "candidate": report.get("candidate"), "verdict": report.get("verdict"),
            "reasons": report.get("reasons", []), "stuck_corpus_passed": corpus.get("passed")}


async def _finish_even_if_disconnected(request: Awaitable[None]) -> None:
    """Sanic cancels a handler when its client goes away; the request itself still
    finishes (a state change and its notices, the bot's answer), only the replies
    to that socket are lost."""
    task = asyncio.ensure_future(request)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_log_failure)
        raise


def _log_failure(task: "asyncio.Future[None]") -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None and not isinstance(error, (ConnectionClosed, HandoffError)):
        logger.error("a request from a client who left failed", exc_info=error)


async def _ended_if_revoked(ws: Any, bridge: Bridge, login: Login) -> bool:
    """Logged out, a new password, or the account removed: the socket's access ends with its login."""
    if await bridge.agents.generation(login.agent) == login.generation:
        return False
    await ws.close(code=4401, reason="login revoked; log in again")
    return True


async def _watch_login(ws: Any, bridge: Bridge, login: Login) -> None:
    """For supervisors' and content editors' sockets, which have no heartbeat of their own."""
    while True:
        await asyncio.sleep(AgentConnection.HEARTBEAT_SECONDS * random.uniform(0.5, 1.0))
        try:
            if await _ended_if_revoked(ws, bridge, login):
                return
        except Exception:  # noqa: BLE001 - a Redis blip: the next round checks again
            logger.exception("checking %s's login failed", login.agent)


async def _serve(connection: Connection, handlers: Dict[str, Callable[[Envelope], Awaitable[None]]]) -> None:
    """Read envelopes until the socket closes; every failure is answered, never fatal."""
    while True:
        envelope: Optional[Envelope] = None
        try:
            envelope = await connection.receive()
            handler = handlers.get(envelope.type)
            if handler is None:
                raise UnknownMessageType(f"unknown message type {envelope.type!r}; known: {sorted(handlers)}")
            await _finish_even_if_disconnected(handler(envelope))
        except ConnectionClosed:
            return
        except HandoffError as error:
            connection.bridge.metrics[f"errors_{error.code}"] += 1
            about = error.in_reply_to if isinstance(error, ProtocolError) else None
            await connection.send(error_envelope(error, envelope.id if envelope else about))
        except Exception:  # noqa: BLE001 - a bug or a Redis blip must not drop the customer
            logger.exception("handling %s failed", envelope.type if envelope else "a message")
            connection.bridge.metrics["errors_internal"] += 1
            failure = HandoffError("something went wrong on our side; please try again")
            await connection.send(error_envelope(failure, envelope.id if envelope else None))


def create_app(settings: Settings, name: Optional[str] = None) -> Sanic:
    """Build the bridge app; Redis and HTTP clients are created at start-up and closed at shutdown."""
    app = Sanic(name or f"handoff{next(_app_numbers)}")
    # Frames up to this size get a structured "too_large" reply from our own
    # check; only absurd ones make the websocket library close the connection.
    app.config.WEBSOCKET_MAX_SIZE = max(1 << 20, settings.max_message_bytes * 8)
    trusted_proxies = parse_networks(settings.trusted_proxies)
    canned = load_canned_responses(Path(settings.canned_responses), settings.max_text_characters)
    _refuse_unknown_hosts(app, settings)
    _serve_browser_files(app)
    _answer_http_errors_in_json(app)

    @app.before_server_start
    async def start(app: Sanic) -> None:
        redis = Redis.from_pool(BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=settings.redis_connections, timeout=settings.redis_wait_seconds))
        app.ctx.redis = redis
        app.ctx.http = aiohttp.ClientSession()
        app.ctx.bridge = Bridge(settings, redis, app.ctx.http)
        app.ctx.teach = TeachStore(redis, settings.teach_key_prefix)
        await app.ctx.bridge.hub.start()
        await app.ctx.bridge.store.index_agents_serving()
        app.ctx.sweeper = asyncio.create_task(sweep(app.ctx.bridge))
        app.ctx.sockets = OpenSockets(app.ctx.bridge.limits, app.ctx.bridge.presence)
        app.ctx.keeper = asyncio.create_task(keep(app.ctx.bridge, app.ctx.sockets))
        app.ctx.collector = asyncio.create_task(collect_after_churn(
            app.ctx.sockets, CollectionPolicy(settings.collect_after_sockets), app.ctx.bridge.metrics,
            held_seconds(app.config)))
        app.ctx.throttle = LoginThrottle(redis, settings.key_prefix, settings.login_free_per_account,
                                         settings.login_free_per_address, settings.login_longest_hold_seconds,
                                         settings.login_window_seconds)
        app.ctx.admin = await start_admin_server(settings, app.ctx.bridge, app.ctx.http, app.ctx.sockets)

    async def keep(bridge: Bridge, sockets: OpenSockets) -> None:
        """Renews this process's connection slots and customers' presence, sends away queued customers
        gone too long, and warns when Redis nears its memory limit (handoff.presence)."""
        checked = 0.0
        while True:
            await asyncio.sleep(sockets.refresh_seconds)
            try:
                await sockets.refresh()
                await bridge.customers_gone()
                if time.monotonic() - checked > MEMORY_CHECK_SECONDS:
                    checked = time.monotonic()
                    memory = await redis_memory(bridge.store.redis)
                    if memory["limit"] and memory["used"] > settings.redis_memory_warning * memory["limit"]:
                        logger.warning("Redis uses %d of its %d bytes (maxmemory): over %d%%", memory["used"],
                                       memory["limit"], settings.redis_memory_warning * 100)
            except Exception:  # noqa: BLE001 - a Redis blip: try again next round
                logger.exception("keeping presence and limits failed")

    async def sweep(bridge: Bridge) -> None:
        """Every process checks for agents gone past their grace period (idempotent)."""
        while True:
            await asyncio.sleep(max(1.0, settings.agent_grace_seconds / 4))
            try:
                await bridge.requeue_lost_agents()
            except Exception:  # noqa: BLE001 - a Redis blip: try again next round
                logger.exception("requeueing lost agents failed")

    @app.after_server_stop
    async def stop(app: Sanic) -> None:
        await app.ctx.admin.cleanup()
        for task in (app.ctx.sweeper, app.ctx.keeper, app.ctx.collector):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.ctx.bridge.hub.stop()
        await app.ctx.http.close()
        await app.ctx.redis.aclose()

    def bridge_of(request: Request) -> Bridge:
        return request.app.ctx.bridge

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/api/models/current")
    async def current_model(request: Request) -> HTTPResponse:
        """Rasa's model server protocol: every Rasa replica pulls the deployed model
        from here (endpoints.yml ``models``), sending the one it has as If-None-Match."""
        token = request.args.get("token", "").encode()  # as bytes: compare_digest refuses non-ASCII text
        if not settings.model_server_token or not hmac.compare_digest(token, settings.model_server_token.encode()):
            return http_error(401, "invalid_token", "a valid ?token= is needed")
        teach: TeachStore = request.app.ctx.teach
        model_id = await teach.current()
        blob = await teach.model_blob(model_id) if model_id else None
        if model_id is None or blob is None:
            return http_error(404, "not_found", "no model is deployed")
        etag = f'"{model_id}"'
        known = request.headers.get("if-none-match", "").removeprefix("W/").strip('"')
        if known == model_id:
            return response.empty(status=304, headers={"ETag": etag})
        return response.raw(blob, content_type="application/gzip",
                            headers={"ETag": etag, "filename": f"{model_id}.tar.gz"})

    @app.post("/api/agents/login")
    async def login(request: Request) -> HTTPResponse:
        """JSON only (a form or text/plain is what another site's page can send without asking),
        from an allowed origin, at a pace the throttle allows (handoff.guard)."""
        if refusal := _browser_post_refused(request, settings):
            return refusal
        try:
            body = request.json
        except BadRequest:  # not JSON
            body = None
        name, password = (body.get("name"), body.get("password")) if isinstance(body, dict) else (None, None)
        if not isinstance(name, str) or not isinstance(password, str) or not valid_unicode(name + password):
            return http_error(400, "malformed", "send {name, password}")
        throttle: LoginThrottle = request.app.ctx.throttle
        client = client_of(request)  # behind trusted proxies, the address they vouch for (handoff.trust)
        wait = await throttle.retry_after(client, name)
        if wait > 0:
            bridge_of(request).metrics["login_throttled"] += 1
            return http_error(429, "too_many_attempts", "too many failed logins; wait before trying again",
                              headers={"Retry-After": str(math.ceil(wait))})
        agents = bridge_of(request).agents
        try:
            await agents.check(name, password)
        except AuthError as error:
            bridge_of(request).metrics["login_failures"] += 1
            await throttle.failed(client, name)
            return http_error(401, error.code, str(error))
        await throttle.succeeded(name)
        token = issue_token(settings.secret, name, settings.agent_token_seconds, await agents.generation(name))
        profile = await agents.profile(name)
        return response.json({"agent": name, "display_name": profile["display_name"], "token": token,
                              "expires_in": settings.agent_token_seconds, "roles": profile["roles"]})

    @app.post("/api/agents/logout")
    async def logout(request: Request) -> HTTPResponse:
        """Ends every login of the account (``Authorization: Bearer <token>``): its tokens stop
        working, and its open sockets are closed at their next heartbeat."""
        if refusal := _browser_post_refused(request, settings):
            return refusal
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise InvalidToken("send Authorization: Bearer <token>")
            claims = verify_token(settings.secret, token.strip())
            agents = bridge_of(request).agents
            if claims.generation != await agents.generation(claims.agent):
                raise InvalidToken("this login has ended already")
            await agents.revoke(claims.agent)
        except AuthError as error:
            return http_error(401, error.code, str(error))
        return response.json({"logged_out": claims.agent})

    def client_of(request: Request) -> str:
        """The client's address: the peer's, or a trusted proxy's word for it (handoff.trust)."""
        return client_address(request.ip, request.headers, trusted_proxies)

    async def refused(request: Request, ws: Any) -> bool:
        """Checks the Origin; tells the client why it is refused."""
        if settings.origin_allowed(request.headers.get("origin")):
            return False
        reason = ("forbidden_origin", f"origin {request.headers.get('origin')!r} is not allowed")
        bridge_of(request).metrics["refused_connections"] += 1
        await ws.send(Envelope("error", None, {"code": reason[0], "message": reason[1]}).to_json())
        return True

    async def run(connection: Connection, request: Request, handlers: Dict[str, Any],
                  first: Optional[Callable[[], Awaitable[None]]] = None, watch: Optional[Login] = None) -> None:
        """Serves the socket; with ``watch``, a login checked as an agent's heartbeat checks it."""
        sockets: OpenSockets = request.app.ctx.sockets
        slot = secrets.token_hex(8)
        try:
            await sockets.opened(slot, client_of(request), connection)  # the connection caps (handoff.limits)
        except LimitReached as error:
            bridge_of(request).metrics["refused_connections"] += 1
            await _send_error(connection, error)
            return
        except Exception:  # noqa: BLE001 - Redis away: said without its details, which go to the log
            logger.exception("opening a connection slot failed")
            bridge_of(request).metrics["errors_internal"] += 1
            await _send_error(connection, HandoffError("something went wrong on our side; please reconnect"))
            with contextlib.suppress(ConnectionClosed):
                await connection.ws.close(code=1011, reason="try again")
            return
        bridge_of(request).metrics["connections"] += 1
        watcher = asyncio.create_task(_watch_login(connection.ws, connection.bridge, watch)) if watch else None
        try:
            if first:
                await first()
            await _serve(connection, handlers)
        except ConnectionClosed:
            pass
        finally:
            if watcher:
                watcher.cancel()
            # Sanic cancels the handler when the client goes away; the clean-up
            # (presence, subscriptions, the connection's slot) must still run to the end.
            await asyncio.shield(_close(connection, sockets, slot))

    @app.websocket("/ws/customer")
    async def customer(request: Request, ws: Any) -> None:
        if await refused(request, ws):
            return
        connection = CustomerConnection(ws, bridge_of(request), client_of(request), request.app.ctx.sockets)
        handlers = {
            "hello": connection.hello, "message": connection.message, "talk_to_person": connection.talk_to_person,
            "rating": connection.rating, "leave": connection.leave, "details": connection.details,
            "leave_queue": connection.leave_queue,
            "typing": connection.signal, "read": connection.signal,
        }
        await run(connection, request, handlers)

    async def authorised(request: Request, ws: Any, role: str) -> Optional[Login]:
        """The account when its token (a subprotocol, never in the URL) is valid and current, and
        it has ``role``; else tells why."""
        try:
            token = token_from_protocols(request.headers.get("sec-websocket-protocol"))
            if not token:
                raise InvalidToken(f"offer the subprotocols {SUBPROTOCOL!r} and 'token.<your login token>'")
            name, generation = verify_token(settings.secret, token)
            agents = bridge_of(request).agents
            profile = await agents.profile(name)
            if not profile["roles"]:
                raise InvalidToken("this account no longer exists")
            if generation != await agents.generation(name):
                raise InvalidToken("login revoked (logged out, new password or account removed); log in again")
            if role not in profile["roles"]:
                raise Forbidden(f"{name} does not have the {role} role")
        except AuthError as error:
            await ws.send(error_envelope(error).to_json())
            return None
        except Exception:  # noqa: BLE001 - Redis away: said without its details, which go to the log
            logger.exception("checking a login failed")
            failure = HandoffError("something went wrong on our side; please reconnect")
            await ws.send(error_envelope(failure).to_json())
            await ws.close(code=1011, reason="try again")
            return None
        return Login(name, generation)

    @app.websocket("/ws/agent", subprotocols=[SUBPROTOCOL])
    async def agent(request: Request, ws: Any) -> None:
        if await refused(request, ws):
            return
        login = await authorised(request, ws, "agent")
        if login is None:
            return
        connection = AgentConnection(ws, bridge_of(request), login.agent, login.generation, canned)
        handlers = {
            "queue": connection.queue, "claim": connection.claim, "message": connection.message,
            "hand_back": connection.hand_back, "close": connection.close_conversation,
            "transfer": connection.transfer, "requests": connection.requests, "team": connection.team,
            "open_request": connection.open_request, "request_done": connection.request_done,
            "answer_request": connection.answer_request,
            "typing": connection.signal, "read": connection.signal,
        }
        await run(connection, request, handlers, first=connection.start)

    @app.websocket("/ws/supervisor", subprotocols=[SUBPROTOCOL])
    async def supervisor(request: Request, ws: Any) -> None:
        if await refused(request, ws):
            return
        login = await authorised(request, ws, "supervisor")
        if login is None:
            return
        connection = SupervisorConnection(ws, bridge_of(request))
        await run(connection, request, {"dashboard": connection.dashboard}, first=connection.start, watch=login)

    @app.websocket("/ws/content", subprotocols=[SUBPROTOCOL])
    async def content(request: Request, ws: Any) -> None:
        if await refused(request, ws):
            return
        login = await authorised(request, ws, "content")
        if login is None:
            return
        connection = ContentConnection(ws, bridge_of(request), request.app.ctx.teach, login.agent)
        handlers: Dict[str, Callable[[Envelope], Awaitable[None]]] = {
            kind: connection.command for kind in teach_commands.WORKER_COMMANDS
        }
        handlers.update({
            "conversation": connection.conversation, "model": connection.model, "deploy": connection.deploy,
            "rollback": connection.rollback, "audit": connection.audit,
        })
        await run(connection, request, handlers, first=connection.start, watch=login)

    return app


async def _send_error(connection: Connection, error: HandoffError) -> None:
    """An error for a socket about to be closed (it may be gone already)."""
    with contextlib.suppress(ConnectionClosed):
        await connection.send(error_envelope(error))


async def _close(connection: Connection, sockets: OpenSockets, slot: str) -> None:
    """The connection's own clean-up, then its slot back (handoff.limits), whatever happens."""
    try:
        await connection.close()
    finally:
        await sockets.closed(slot)


def http_error(status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    """Every HTTP error is ``{"error": {"code", "message"}}`` (docs/bridge-protocol.md)."""
    return response.json({"error": {"code": code, "message": message}}, status=status, headers=headers)


HTTP_ERROR_CODES = {400: "malformed", 401: "invalid_token", 404: "not_found", 405: "method_not_allowed",
                    413: "too_large", 416: "range_not_satisfiable"}


def _answer_http_errors_in_json(app: Sanic) -> None:
    """Sanic's own HTTP errors (404, 405, ...) in the bridge's JSON shape too, and requests
    that no route can serve refused before they reach one (where they would fail with a 500)."""

    @app.on_request
    async def refuse_what_no_route_serves(request: Request) -> Optional[HTTPResponse]:
        path = request.path
        if (path == "/widget" or path.startswith("/widget/")) and not _widget_file(unquote(path[len("/widget/"):])):
            return http_error(404, "not_found", "no such file")  # Sanic's static files fail on many such with a 500
        if path.startswith("/ws/") and request.headers.get("upgrade", "").lower() != "websocket":
            return http_error(426, "upgrade_required", "a websocket endpoint: connect with a websocket client",
                              headers={"Upgrade": "websocket"})
        return None

    @app.exception(Exception)
    async def in_json(request: Request, error: Exception) -> HTTPResponse:
        status = (getattr(error, "status_code", None) or 500) if isinstance(error, SanicException) else 500
        if status >= 500:
            # The traceback goes to the log; the client learns nothing of addresses or exceptions.
            logger.error("%s %s failed", request.method, request.path, exc_info=error)
            return http_error(500, "internal_error", "something went wrong on our side; please try again")
        return http_error(status, HTTP_ERROR_CODES.get(status, "bad_request"), str(error),
                          getattr(error, "headers", None))


def _refuse_unknown_hosts(app: Sanic, settings: Settings) -> None:
    """Every request and websocket addressed to a host name not configured is refused first: a
    hostile name pointed at the bridge (DNS rebinding) reaches nothing."""

    @app.middleware("request", priority=100)
    async def known_host(request: Request) -> Optional[HTTPResponse]:
        if host_name(request.headers.get("host")) not in settings.allowed_hosts:
            return http_error(421, "unknown_host", "this server does not answer to that host name")
        return None


def _browser_post_refused(request: Request, settings: Settings) -> Optional[HTTPResponse]:
    """A POST that a page on another site could make its visitors' browsers send: refused."""
    if not settings.origin_allowed(request.headers.get("origin")):
        return http_error(403, "forbidden_origin", "requests from this origin are not allowed")
    if (request.content_type or "").split(";")[0].strip().lower() != "application/json":
        return http_error(415, "unsupported_media_type", "send application/json")
    return None


WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget"
# The console runs only our own files; the widget is embedded by other sites.
CONSOLE_POLICY = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
                  "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _widget_file(relative: str) -> bool:
    """Whether a file (not a directory) in widget/ has this name."""
    try:
        file = (WIDGET_DIR / relative).resolve()
        return file.is_relative_to(WIDGET_DIR) and file.is_file()
    except (OSError, ValueError):  # a NUL in the name, a name too long
        return False


def _serve_browser_files(app: Sanic) -> None:
    """The demo page at ``/``, the console at ``/console`` and the widget's files under ``/widget/``."""
    app.static("/widget", str(WIDGET_DIR), name="widget_files")

    @app.get("/")
    async def demo(request: Request) -> HTTPResponse:
        return await response.file(WIDGET_DIR / "demo" / "index.html")

    @app.get("/console")
    async def console(request: Request) -> HTTPResponse:
        return await response.file(WIDGET_DIR / "console" / "index.html")

    @app.on_response
    async def browser_headers(request: Request, reply: HTTPResponse) -> None:
        reply.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path.startswith("/widget/"):
            # Host pages on other origins load the widget's modules and styles.
            reply.headers["Access-Control-Allow-Origin"] = "*"
            reply.headers.setdefault("Cache-Control", "no-cache")
        if request.path == "/console" or request.path.startswith("/widget/console/"):
            reply.headers["Content-Security-Policy"] = CONSOLE_POLICY
            reply.headers["X-Frame-Options"] = "DENY"
