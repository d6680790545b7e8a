"""Websocket clients of a running bridge, as the widget and the console speak to it:
used by the bridge's tests, the browser and teaching tests, the drills and the benchmarks."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Callable, Dict, List, Optional

import requests
from websockets.client import connect
from websockets.typing import Subprotocol

from harness.servers import AGENT_PASSWORD

__all__ = ["Client", "claimed", "login", "login_protocols", "queued_customer"]


def login(address: str, agent: str, password: str = AGENT_PASSWORD) -> requests.Response:
    return requests.post(f"http://{address}/api/agents/login", json={"name": agent, "password": password}, timeout=10)


def login_protocols(token: str) -> List[Subprotocol]:
    """How an agent's socket presents its login token: as a subprotocol, never in the URL."""
    return [Subprotocol("handoff"), Subprotocol(f"token.{token}")]


class Client:
    """A websocket test client that keeps every envelope it received."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.received: List[Dict[str, Any]] = []
        self.conversation_id = ""
        self.token = ""

    @classmethod
    async def customer(cls, address: str, **hello: Any) -> "Client":
        client = cls(await connect(f"ws://{address}/ws/customer"))
        await client.send("hello", {k: v for k, v in hello.items() if v is not None})
        welcome = await client.expect("welcome")
        client.conversation_id = welcome["data"]["conversation_id"]
        client.token = welcome["data"]["token"]
        return client

    @classmethod
    async def agent(cls, address: str, agent: str, endpoint: str = "agent") -> "Client":
        """An agent's console socket (or with endpoint="supervisor", the dashboard's)."""
        token = login(address, agent).json()["token"]
        return cls(await connect(f"ws://{address}/ws/{endpoint}", subprotocols=login_protocols(token)))

    async def send(self, kind: str, data: Optional[Dict[str, Any]] = None, id: Optional[str] = None) -> None:
        await self.ws.send(json.dumps({"type": kind, "id": id, "data": data or {}}))

    async def say(self, text: str, **data: Any) -> str:
        key = uuid.uuid4().hex
        await self.send("message", {"text": text, **data}, id=key)
        return key

    async def expect(self, envelope_type: str, /, timeout: float = 30.0, **match: Any) -> Dict[str, Any]:
        """The next envelope of this type whose data contains ``match`` (others are kept)."""
        return await self.next_matching(
            lambda envelope: envelope["type"] == envelope_type
            and all(envelope["data"].get(k) == v for k, v in match.items()),
            f"{envelope_type} {match}", timeout)

    async def acknowledged(self, request_id: str, timeout: float = 30.0) -> Dict[str, Any]:
        """The ack of the request sent with this id: the bridge has carried out all it entails."""
        return await self.next_matching(lambda envelope: envelope["type"] == "ack" and envelope["id"] == request_id,
                                f"ack of {request_id}", timeout)

    async def next_matching(self, wanted: Callable[[Dict[str, Any]], bool], description: str, timeout: float) -> Dict[str, Any]:
        """The next envelope ``wanted`` accepts, from those kept or new ones (the others are kept)."""
        for envelope in self.received:
            if wanted(envelope):
                self.received.remove(envelope)
                return envelope
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                envelope = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            except asyncio.TimeoutError:
                raise AssertionError(f"no {description} within {timeout}s; got {self.received[-10:]}") from None
            if wanted(envelope):
                return envelope
            self.received.append(envelope)

    async def queue_item(self, conversation_id: str) -> Dict[str, Any]:
        """An agent's view of one queued conversation, from the next queue (or change of it) that has it."""
        while True:
            update = await self.next_matching(lambda envelope: envelope["type"] in ("queue", "queue_changed"),
                                              "queue or queue_changed", 30.0)
            data = update["data"]
            items = data["items"] if update["type"] == "queue" else [*data["added"], *data["updated"]]
            for item in items:
                if item["conversation_id"] == conversation_id:
                    return item

    def messages(self, kind: Optional[str] = None) -> List[Dict[str, Any]]:
        return [e for e in self.received if e["type"] == "message" and (kind is None or e["data"]["kind"] == kind)]

    async def close(self) -> None:
        await self.ws.close()


async def queued_customer(address: str) -> Client:
    customer = await Client.customer(address)
    await customer.send("talk_to_person", id="talk")
    await customer.expect("status", state="queued")
    assert (await customer.expect("ack"))["id"] == "talk"
    return customer


async def claimed(address: str, agent_name: str = "ann") -> "tuple[Client, Client]":
    """A customer in the queue, and an agent who has just claimed them."""
    customer = await queued_customer(address)
    agent = await Client.agent(address, agent_name)
    await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
    await agent.expect("ack", conversation_id=customer.conversation_id)
    await customer.expect("status", state="agent")
    return customer, agent
