"""The two sides of a conversation on one :class:`~handoff_client.transport.Transport`.

A :class:`Customer` says ``hello`` on every connection (resuming with its
``conversation_id``, ``token`` and ``last_seen`` once it has them, as
``widget/customer/widget.js`` does) and is ready when welcomed. An :class:`Agent`
logs in over HTTP for a token, presents it as a subprotocol, and follows its
queue and the conversations it serves; with ``endpoint="supervisor"`` or
``"content"`` the same class is the dashboard's or a content editor's socket.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List, Optional, Sequence, Set, Union

import aiohttp
from websockets.typing import Subprotocol

from handoff_client.envelope import Envelope, Request, login_protocols, message_order
from handoff_client.transport import Transport

__all__ = ["Agent", "Customer", "LoginRefused", "log_in"]


class LoginRefused(Exception):
    """``POST /api/agents/login`` answered with an error (its ``code``: e.g. ``invalid_login``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"login refused ({status} {code}): {message}")
        self.status, self.code = status, code


async def log_in(address: str, name: str, password: str, secure: bool = False) -> str:
    """A staff login token from the bridge at ``address`` (host:port; https when ``secure``)."""
    scheme = "https" if secure else "http"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{scheme}://{address}/api/agents/login", json={"name": name, "password": password}) as reply:
            body = await reply.json(content_type=None)
            if reply.status != 200:
                error = (body or {}).get("error") or {}
                raise LoginRefused(reply.status, str(error.get("code")), str(error.get("message")))
            return str(body["token"])


# What a closed conversation refuses (``conversation_closed``) and a reconnecting customer sends again in a new one.
STARTS_OVER = frozenset({"message", "talk_to_person"})


class Customer(Transport):
    """The customer widget's socket: ``hello`` (or resume), messages, "talk to a person".

    A closed chat stays as it ended (docs/bridge-protocol.md): a message or "talk to a person" it refuses as
    ``conversation_closed`` starts a new conversation, as the widget's does, when the customer ``reconnect``s
    (the terminal client); a customer read by pulling (a test's) is only told.
    """

    path = "/ws/customer"

    def __init__(self, addresses: Union[str, Sequence[str]], *, conversation_id: str = "", token: str = "",
                 last_seen: Optional[str] = None, identity: str = "",
                 follows: Optional[Dict[str, str]] = None, **options: Any) -> None:
        super().__init__(addresses, **options)
        self.conversation_id = conversation_id
        self.token = token
        # The closed chat a new conversation follows ({conversation_id, token}), named in the hello that starts it
        # (handoff.earlier: its agent sees that chat); set when a closed chat refuses what the customer sent.
        self.follows = follows
        self.identity = identity  # a signed identity from the host site (docs/identity.md), sent in every hello
        self.last_seen = last_seen  # the newest server message id received: a resume starts after it
        self.status: Dict[str, Any] = {}  # the latest status push
        self.welcomed = False  # on this connection

    @classmethod
    async def connect(cls, address: str, **options: Any) -> "Customer":
        """A customer welcomed on one connection, read by pulling (a test's customer)."""
        customer = cls(address, **options)
        await customer.open()
        return customer

    async def _opened(self) -> None:
        self.welcomed = False
        hello: Dict[str, Any] = {}
        if self.conversation_id:
            hello = {"conversation_id": self.conversation_id, "token": self.token}
            if self.last_seen:
                hello["last_seen"] = self.last_seen
        elif self.follows:
            hello["follows"] = self.follows
        if self.identity:
            hello["identity"] = self.identity
        await self.send("hello", hello, id=uuid.uuid4().hex)

    async def _on_envelope(self, envelope: Envelope) -> None:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "welcome":
            if data["conversation_id"] != self.conversation_id:  # another (the signed contact's open one)
                self.last_seen = None
            self.conversation_id, self.token = data["conversation_id"], data["token"]
            self.follows = None
            self.welcomed = True
            await self._became_ready()
        elif kind == "message":
            server_id = str(envelope["id"])
            if not self.last_seen or message_order(server_id) > message_order(self.last_seen):
                self.last_seen = server_id
        elif kind == "status":
            self.status = data
        elif kind == "error" and data.get("code") == "conversation_closed":
            await self._start_over(str(envelope.get("id")))

    async def _start_over(self, request_id: str) -> None:
        """The refused request waits again in the outbox, and the socket is closed: the reconnection says hello
        without the closed conversation (a new one), then sends it there."""
        request = self.requests.get(request_id)
        if request is None or request.type not in STARTS_OVER or not self.reconnect:
            return
        request.refused = None
        self.outbox[request.id] = request
        self.follows = {"conversation_id": self.conversation_id, "token": self.token}
        self.conversation_id, self.token, self.last_seen, self.status = "", "", None, {}
        if self.ws is not None:
            await self.ws.close()

    async def say(self, text: str, **data: Any) -> Request:
        """A message (``payload`` for a pressed button), acknowledged once stored and routed."""
        return await self.request("message", {"text": text, **data})

    async def talk_to_person(self) -> Request:
        return await self.request("talk_to_person")

    async def leave_queue(self) -> Request:
        return await self.request("leave_queue")

    def describe(self) -> str:
        return f"status {self.status}, {super().describe()}"


class Agent(Transport):
    """A staff socket (``endpoint`` agent, supervisor or content), logged in as ``name``.

    An agent's socket keeps ``queue`` (conversation ids, oldest first) and
    ``queue_items`` from the ``queue`` and ``queue_changed`` pushes, and
    ``serving``, the conversations the bridge has attached to it, and ``offers``, the conversations
    automatic assignment offers it (conversation id -> its card, from the latest ``offers`` push).
    """

    def __init__(self, addresses: Union[str, Sequence[str]], name: str = "", *, password: str = "",
                 token: str = "", endpoint: str = "agent", **options: Any) -> None:
        super().__init__(addresses, path=f"/ws/{endpoint}", name=name, **options)
        self.password = password
        self.token = token
        self.queue_items: Dict[str, Dict[str, Any]] = {}
        self.queue: List[str] = []
        self.serving: Set[str] = set()
        self.offers: Dict[str, Dict[str, Any]] = {}

    @classmethod
    async def connect(cls, address: str, name: str, password: str, endpoint: str = "agent",
                      **options: Any) -> "Agent":
        """A staff socket read by pulling (a test's agent)."""
        agent = cls(address, name, password=password, endpoint=endpoint, **options)
        await agent.open()
        return agent

    def protocols(self) -> Optional[List[Subprotocol]]:
        return login_protocols(self.token)

    async def _log_in_if_needed(self) -> None:
        if not self.token:
            self.token = await log_in(self.addresses[0], self.name, self.password, self.secure)

    async def open(self, timeout: float = 30.0) -> None:
        await self._log_in_if_needed()
        await super().open(timeout)

    async def start(self, timeout: Optional[float] = 30.0) -> None:
        await self._log_in_if_needed()
        await super().start(timeout)

    async def _opened(self) -> None:
        self.serving.clear()  # what it serves comes again as "conversation" envelopes
        await super()._opened()

    async def _on_envelope(self, envelope: Envelope) -> None:
        kind, data = envelope.get("type"), envelope.get("data") or {}
        if kind == "queue":
            self.queue_items = {item["conversation_id"]: item for item in data.get("items", [])}
            self.queue = [item["conversation_id"] for item in data.get("items", [])]
        elif kind == "queue_changed":  # a difference from the queue before (docs/bridge-protocol.md)
            for conversation_id in data.get("removed", []):
                self.queue_items.pop(conversation_id, None)
            for item in [*data.get("added", []), *data.get("updated", [])]:
                self.queue_items[item["conversation_id"]] = item
            ordered = sorted(self.queue_items.values(), key=lambda item: item["queued_at"])
            self.queue = [item["conversation_id"] for item in ordered]
        elif kind == "conversation" and not data.get("view"):  # a read-only view is not served here
            self.serving.add(data["conversation_id"])
        elif kind == "released":
            self.serving.discard(data["conversation_id"])
        elif kind == "offers":
            self.offers = {item["conversation_id"]: item for item in data.get("items", [])}

    async def queue_item(self, conversation_id: str, timeout: float = 30.0) -> Dict[str, Any]:
        """This conversation as the queue shows it, from the next ``queue`` (or change of it) that has it."""
        while True:
            update = await self.next_matching(lambda envelope: envelope["type"] in ("queue", "queue_changed"),
                                              "queue or queue_changed", timeout)
            data = update["data"]
            items = data["items"] if update["type"] == "queue" else [*data["added"], *data["updated"]]
            for item in items:
                if item["conversation_id"] == conversation_id:
                    return item

    async def claim(self, conversation_id: str) -> Request:
        return await self.request("claim", {"conversation_id": conversation_id})

    async def accept_offer(self, conversation_id: str) -> Request:
        """Takes a conversation automatic assignment offered: then it is served here, as after a claim."""
        return await self.request("offer_accept", {"conversation_id": conversation_id})

    async def decline_offer(self, conversation_id: str) -> Request:
        """Passes an offered conversation on to the next agent."""
        return await self.request("offer_decline", {"conversation_id": conversation_id})

    async def say(self, text: str, conversation_id: str, **data: Any) -> Request:
        return await self.request("message", {"conversation_id": conversation_id, "text": text, **data})

    async def note(self, text: str, conversation_id: str) -> Request:
        """A private note in the conversation (agents only; ``@name`` mentions a colleague)."""
        return await self.request("note", {"conversation_id": conversation_id, "text": text})

    async def suggest(self, conversation_id: str, timeout: float = 30.0) -> Envelope:
        """Suggested replies to the customer's latest message: the ``suggestions`` answer, or the ``error``."""
        request_id = uuid.uuid4().hex
        await self.send("suggest", {"conversation_id": conversation_id}, id=request_id)
        return await self.next_matching(lambda envelope: envelope["type"] in ("suggestions", "error")
                                        and envelope.get("id") == request_id, f"suggestions {request_id}", timeout)

    async def close_conversation(self, conversation_id: str) -> Request:
        """Ends the chat; the customer is asked for a rating."""
        return await self.request("close", {"conversation_id": conversation_id})

    def describe(self) -> str:
        return f"serving {sorted(self.serving)}, queue {self.queue}, {super().describe()}"
