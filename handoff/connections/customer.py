"""The customer's socket (``/ws/customer``): hello, messages, the way to a person, and the status.

A socket that has not said hello within HANDOFF_HELLO_TIMEOUT is closed: otherwise it would hold
one of its address's connection slots (handoff.limits) for nothing, for ever.

Whatever the customer types (messages, the details and request forms, a rating's comment) is masked
here, at the edge (handoff.privacy), before the bridge stores, routes, logs or announces it; a file's
name at its own edge (handoff/endpoints/attachments.py).

A customer sees only what :mod:`handoff.visibility` allows of each message, and an agent by their
display name; a queued customer's socket follows the queue's changes (docs/bridge-protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any, Dict, Optional, Tuple

from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from handoff.coalesce import Coalesced, Periodic
from handoff.connections.base import Connection, Handlers
from handoff.connections.fields import idempotency_key, is_server_id, signal_data, text_of
from handoff.exceptions import HandoffError, IdentityRequired, InvalidIdentity, InvalidToken, MalformedMessage
from handoff.identity import Identity, verify
from handoff.presence import OpenSockets
from handoff.privacy import mask, mask_fields, mask_typed
from handoff.protocol import Envelope, error_envelope
from handoff.requests import request_id_of
from handoff.service import Bridge
from handoff.visibility import customer_sees, for_customer

__all__ = ["CustomerConnection", "FORGOTTEN_TEXT", "MAX_PAYLOAD"]

logger = logging.getLogger(__name__)

MAX_PAYLOAD = 200
# How long after a queue change a waiting customer's place and wait are worked out again.
QUEUE_STATUS_DELAY_SECONDS = 0.3

# What the customer reads when their conversation is erased while it is open (a forget: handoff.forget).
FORGOTTEN_TEXT = ("This chat has ended, and what was said in it has been deleted as you asked. "
                  "If you need anything else, you can start a new chat any time.")


class CustomerConnection(Connection):
    conversation_id: Optional[str] = None
    _last_status: Optional[Dict[str, Any]] = None

    def __init__(self, ws: Any, bridge: Bridge, client: str = "", sockets: Optional[OpenSockets] = None) -> None:
        super().__init__(ws, bridge)
        self._status_lock = asyncio.Lock()
        # A burst of queue changes, one status after it (handoff.coalesce), a moment later: the agents' queue,
        # which a handoff waits for, goes out first, and ten handoffs at once are one status, not ten.
        self._queue_changes = Coalesced(lambda: self.send_status(queue_changed=True), "a queued customer's status",
                                        delay=QUEUE_STATUS_DELAY_SECONDS)
        self.client, self.sockets = client, sockets  # the client's address; this process's open sockets
        # While queued, the status is worked out again after status_refresh_seconds without one: the
        # estimate moves with time even when the queue is still.
        self._refresher = Periodic(self._refresh_status, bridge.settings.status_refresh_seconds,
                                   "refreshing a queued customer's status")
        self._greeting: Optional["asyncio.Task[None]"] = None
        self._hello_lock = asyncio.Lock()  # held while a hello is handled: the timeout waits for its outcome
        # This socket among the customer's (handoff.customer_presence): its close takes away only itself,
        # and nothing when its opening was never counted.
        self.socket_id = secrets.token_hex(8)

    def handlers(self) -> Handlers:
        return {
            "hello": self.hello, "message": self.message, "talk_to_person": self.talk_to_person,
            "rating": self.rating, "leave": self.leave, "details": self.details,
            "leave_queue": self.leave_queue, "cancel_request": self.cancel_request,
            "typing": self.signal, "read": self.signal, "email_transcript": self.email_transcript,
        }

    async def start(self) -> None:
        """The hello timeout starts once the socket has its slot."""
        self._greeting = asyncio.create_task(self._close_unless_greeted())

    async def _close_unless_greeted(self) -> None:
        timeout = self.bridge.settings.hello_timeout_seconds
        await asyncio.sleep(timeout)
        async with self._hello_lock:  # a hello under way decides; one after it waits for the close
            if self.conversation_id:
                return
            self.bridge.metrics["closed_without_hello"] += 1
            silent = HandoffError(f"no hello within {timeout:g} seconds; reconnect and say hello first",
                                  code="hello_timeout")
            with contextlib.suppress(ConnectionClosed, WebsocketClosed):
                await self.send(error_envelope(silent))
                await self.ws.close(code=1008, reason="no hello")

    async def hello(self, envelope: Envelope) -> None:
        if self.conversation_id:
            raise MalformedMessage("this connection has said hello already")
        try:
            async with self._hello_lock:
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
        given, token, last_seen = data.get("conversation_id"), data.get("token"), data.get("last_seen")
        if last_seen is not None and not is_server_id(last_seen):  # before anything is created
            raise MalformedMessage("'last_seen' must be the id of a message from the server")
        identity = self._identity(data)  # before anything is created, too
        named: Optional[str] = None  # the conversation the client resumes, its token checked
        if given or token:
            if not (isinstance(given, str) and isinstance(token, str)
                    and await self.bridge.store.token_matches(given, token)):
                raise InvalidToken("unknown conversation or wrong token; start a new one without them")
            named = given
        # The closed chat a new one follows (handoff.earlier): linked only when its token resumes it and it is
        # anonymous or this customer's; else not.
        follows = (await self.bridge.earlier.verified(data.get("follows"), identity.id if identity else None)
                   if "follows" in data else None)
        conversation_id: str
        if identity is not None:  # the contact's open conversation, begun on any device
            conversation_id, token, last_seen = await self._contacts_conversation(identity, named, token, last_seen,
                                                                                  follows)
        elif named is None:
            conversation_id, token = await self.bridge.start_conversation(self.client, follows)
        elif await self.bridge.contacts.contact_of(named) is not None:  # a signed-in customer's: not after logout
            raise IdentityRequired("this conversation is a signed-in customer's: say hello with their signed "
                                   "identity, or start a new one without the conversation")
        else:
            conversation_id = named
        self.conversation_id = conversation_id
        if self.sockets:
            await self.sockets.customer_joined(conversation_id, self.socket_id)
        # The agents see it.
        await self.bridge.customer_presence.joined(conversation_id, self.socket_id, self.bridge.now_ms())
        self.last_sent[conversation_id] = last_seen
        await self.send(Envelope("welcome", envelope.id, {"conversation_id": conversation_id, "token": token,
                                                          "transcript_mail": self.bridge.settings.mail_enabled,
                                                          "email": await self._own_email(conversation_id)}))
        await self.watch(self.bridge.store.live_channel(conversation_id), self._on_live)
        await self.deliver(conversation_id)
        read = await self.bridge.store.agent_read(conversation_id)
        if read:  # what the agent has read, as the live receipt said it before the reload
            await self.send(Envelope("read", None, {"from": "agent", "up_to": read}))
        await self.send_status(force=True)

    async def _contacts_conversation(self, identity: Identity, named: Optional[str], token: Optional[str],
                                     last_seen: Optional[str],
                                     follows: Optional[str] = None) -> Tuple[str, str, Optional[str]]:
        """The conversation a signed-in customer's hello resumes (handoff.contacts), its token, and from where
        it is replayed: another than the one named (its token checked) comes with a token of its own, whole.
        A new one follows ``follows`` (handoff.earlier)."""
        contacts, now = self.bridge.contacts, self.bridge.now_ms()
        # With last_seen the page had the conversation open (a dropped socket): it goes on with it even if it
        # closed meanwhile (the rating); without, a customer returning to a closed one gets a new one.
        resumed = await contacts.conversation_for(identity, named, now, reconnecting=last_seen is not None)
        if resumed is None:
            started, token = await self.bridge.start_conversation(self.client, follows)
            resumed = await contacts.link_started(started, identity, now)
            if resumed == started:
                return started, token, None
        if resumed == named and token is not None:
            return resumed, token, last_seen
        return resumed, contacts.token(resumed), None

    def _identity(self, data: Dict[str, Any]) -> Optional[Identity]:
        """The hello's signed identity (handoff.identity), None without one; InvalidIdentity if not believed."""
        if data.get("identity") is None:
            return None
        settings = self.bridge.settings
        try:
            return verify(data["identity"], settings.identity_secrets, self.bridge.clock(),
                          settings.identity_max_age_seconds)
        except InvalidIdentity:
            self.bridge.metrics["identities_refused"] += 1
            raise

    def sees(self, kind: str) -> bool:
        """Only the kinds handoff.visibility lists: never an agents' private note."""
        return customer_sees(kind)

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
            status = await self.bridge.customer_status(self.require(), shared=queue_changed)
            queue = self.bridge.store.queue_channel
            listening = queue in self._subscriptions
            if status["state"] == "queued" and not listening:
                await self.watch(queue, self._on_queue)
                status = await self.bridge.customer_status(self.require())  # the queue may have moved meanwhile
            elif status["state"] != "queued" and listening:
                await self.unwatch(queue)
            self._refresher.done()
            if status["state"] == "queued":
                self._refresher.start()
            else:
                self._refresher.stop()
            if force or status != self._last_status:
                self._last_status = status
                await self.send(Envelope("status", None, status))

    async def _refresh_status(self) -> bool:
        """Whether to go on: only while queued."""
        await self.send_status()
        return (self._last_status or {}).get("state") == "queued"

    async def _on_live(self, payload: Dict[str, Any]) -> None:
        if payload.get("forgotten"):  # erased at the customer's request (handoff.forget): the chat is over
            await self.unwatch(self.bridge.store.live_channel(self.require()))
            await self.send(Envelope("ended", None, {"reason": "forgotten", "text": FORGOTTEN_TEXT}))
        elif "message" in payload:
            await self.deliver(self.require(), self.bridge.store.announced(payload))
        elif "state" in payload:
            await self.send_status()
        elif payload.get("from") == "agent" and payload.get("signal") in ("typing", "read"):
            await self.send(Envelope(payload["signal"], None, {"from": "agent", **payload.get("data", {})}))

    async def _on_queue(self, payload: Dict[str, Any]) -> None:
        if (self._last_status or {}).get("state") == "queued":
            self._queue_changes.poke()

    async def close(self) -> None:
        self._queue_changes.cancel()
        self._refresher.stop()
        if self._greeting:
            self._greeting.cancel()
        try:
            if self.sockets:
                await self.sockets.customer_left(self.socket_id)  # away from now (handoff.presence)
            if self.conversation_id:
                await self.bridge.customer_presence.left(self.conversation_id, self.socket_id, self.bridge.now_ms())
        finally:
            await super().close()

    async def message(self, envelope: Envelope) -> None:
        """Stored and routed; the bot's answer is sent on this socket before the ack, and reaches the
        conversation's other sockets (other tabs, other processes) through the hub.

        A pressed button sends its title as ``text`` and what the bot should get as ``payload``.
        """
        conversation_id = self.require()
        key = idempotency_key(envelope)
        masking = mask(text_of(envelope.data, self.bridge.settings.max_text_characters))
        payload = envelope.data.get("payload", "")  # a button the bot offered (Bridge.customer_said checks)
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
            raise MalformedMessage(f"'payload' must be a string of at most {MAX_PAYLOAD} characters")
        said = await self.bridge.customer_said(conversation_id, masking.text, key, payload.strip(), masking.kinds)
        if said.deliver_first:  # its copy from the hub is then sent already: skipped by its id (Connection.deliver)
            await self.deliver(conversation_id, said.answer)
        # The text as stored: the widget's bubble shows it, never what was typed (docs/bridge-protocol.md).
        await self.send(Envelope("ack", key, {"message_id": said.message_id, "text": masking.text}))

    async def talk_to_person(self, envelope: Envelope) -> None:
        await self.bridge.customer_asked_for_person(self.require())
        await self.send(Envelope("ack", envelope.id, {}))

    async def details(self, envelope: Envelope) -> None:
        details, masked = mask_fields(envelope.data, ("description", "contact"))
        await self.bridge.customer_gave_details(self.require(), details)
        if masked:
            await self.bridge.customer_masked(self.require(), masked)
        await self.send(Envelope("ack", envelope.id, {}))

    async def leave(self, envelope: Envelope) -> None:
        """A callback request or a message instead of waiting (or when nobody is available)."""
        data = envelope.data
        fields = ("contact", "description", "preferred_time")
        details, masked = mask_fields({key: data.get(key, "") for key in fields}, fields)
        # Its id makes a resent request (the widget resends until acknowledged) stored once.
        key = envelope.id or secrets.token_hex(8)
        await self.bridge.customer_left_request(self.require(), str(data.get("kind", "")), details, key)
        if masked:
            await self.bridge.customer_masked(self.require(), masked)
        await self.send(Envelope("ack", envelope.id, {}))

    async def cancel_request(self, envelope: Envelope) -> None:
        """The customer takes back the callback or message request they left in this conversation."""
        await self.bridge.requests.cancel(self.require(), request_id_of(envelope.data))
        await self.send(Envelope("ack", envelope.id, {}))

    async def leave_queue(self, envelope: Envelope) -> None:
        """No longer needs a person: out of the queue, back to the bot."""
        await self.bridge.customer_left_queue(self.require())
        await self.send(Envelope("ack", envelope.id, {}))

    async def _own_email(self, conversation_id: str) -> Optional[str]:
        """A signed-in customer's own address as the conversation has it from their verified identity (the
        widget's "Email me this chat" starts with it); None for an anonymous one."""
        email = await self.bridge.store.redis.hget(self.bridge.store.key("conv", conversation_id), "contact_email")
        return email.decode() if email else None

    async def email_transcript(self, envelope: Envelope) -> None:
        """The conversation's transcript to the address the customer typed (handoff.mail): acknowledged when
        queued; the outcome follows as a system notice."""
        queued = await self.bridge.mail.request(self.require(), envelope.data.get("to"), "customer", self.client)
        await self.send(Envelope("ack", envelope.id, queued))

    async def rating(self, envelope: Envelope) -> None:
        score = envelope.data.get("score")
        if not isinstance(score, int) or isinstance(score, bool):
            raise MalformedMessage("'score' must be a whole number from 1 to 5")
        comment = envelope.data.get("comment", "")
        if not isinstance(comment, str):
            raise MalformedMessage("'comment' must be a string")
        masking = mask_typed(comment)
        await self.bridge.customer_rated(self.require(), score, masking.text)
        if masking.found:
            await self.bridge.customer_masked(self.require(), masking.kinds)
        await self.send(Envelope("ack", envelope.id, {}))

    async def signal(self, envelope: Envelope) -> None:
        """typing / read: passed to the agent's console, never stored; typing is also the customer's presence
        (handoff.customer_presence: the queue card and the chat's header)."""
        data = signal_data(envelope.type, envelope.data)
        if envelope.type == "typing":
            await self.bridge.customer_presence.typing(self.require(), bool(data["active"]), self.bridge.now_ms())
        await self.bridge.store.publish(
            self.bridge.store.live_channel(self.require()), {"from": "customer", "signal": envelope.type, "data": data}
        )
