"""A whole teaching stack on its own prefix: a copy of the project, a bridge that
serves the model and the content socket, a Rasa server pulling from it, and the
teaching worker writing into the copy."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
from redis.asyncio import Redis

from bot.teach.store import TeachStore
from tests.handoff.conftest import Client, login
from tests.servers import (
    RASA_API_TOKEN, add_agent, copy_project, free_port, publish_model, running_model_server, running_rasa,
    running_worker,
)


@dataclass
class TeachStack:
    redis_url: str
    prefix: str
    project: Path
    bridge: str  # host:port
    rasa_url: str
    model_token: str
    worker_log: Path

    async def store_call(self, call: Any) -> Any:
        """Awaits ``call(store)`` against this stack's teaching state."""
        client = Redis.from_url(self.redis_url)
        try:
            return await call(TeachStore(client, self.prefix))
        finally:
            await client.close()

    async def seed(self, texts: List[str], reasons: List[str], intent: str = "", confidence: float = 0.3,
                   conversation_id: str = "") -> List[str]:
        """Puts messages in the inbox the way the Rasa event broker does; returns their ids."""
        ids = [uuid.uuid4().hex for _ in texts]

        async def add(store: TeachStore) -> None:
            for message_id, text in zip(ids, texts):
                await store.add_incoming({
                    "text": text, "conversation_id": conversation_id or f"seeded-{message_id[:8]}",
                    "message_id": message_id, "reasons": reasons, "intent": intent or None,
                    "confidence": confidence, "time": time.time(), "handoff_reason": None,
                })

        await self.store_call(add)
        return ids

    async def wait_for_items(self, ids: List[str], timeout: float = 30.0) -> None:
        """Until the worker has taken every one of these messages into the inbox."""
        deadline = time.monotonic() + timeout
        wanted = set(ids)
        while True:
            groups = await self.store_call(lambda store: store.groups())
            missing = wanted - {item["id"] for group in groups["groups"] for item in group["items"]}
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker did not take in {len(missing)} messages; see {self.worker_log}")
            await asyncio.sleep(0.2)

    async def served_model(self) -> str:
        """The model file the Rasa server has loaded (it is named after the model's id)."""
        reply = await asyncio.to_thread(
            requests.get, f"{self.rasa_url}/status", params={"token": RASA_API_TOKEN}, timeout=10)
        return Path(reply.json()["model_file"]).name.removesuffix(".tar.gz")

    async def wait_until_served(self, model_id: str, timeout: float = 30.0) -> float:
        """Seconds until the Rasa server has pulled and loaded ``model_id``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await self.served_model() == model_id:
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        raise AssertionError(f"Rasa still serves {await self.served_model()}, not {model_id}")


CONTENT_EDITOR = "carla"


@pytest.fixture(scope="module")
def teach_stack(tmp_path_factory, redis_url, model_path, action_server_url) -> Iterator[TeachStack]:
    prefix = f"teach{uuid.uuid4().hex[:6]}"
    project = copy_project(tmp_path_factory.mktemp("project"))
    publish_model(redis_url, prefix, model_path)
    rasa_port = free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    with running_model_server(redis_url, prefix, rasa_url=rasa_url, name=f"bridge-{prefix}") as (bridge, server):
        add_agent(redis_url, f"hb{prefix}", CONTENT_EDITOR, "--roles", "content")
        add_agent(redis_url, f"hb{prefix}", "ann")
        with running_rasa(server, redis_url, action_server_url, name=f"rasa-{prefix}", port=rasa_port):
            with running_worker(redis_url, prefix, project, action_server_url, f"worker-{prefix}") as log:
                yield TeachStack(redis_url, prefix, project, bridge, rasa_url, server.token, log)


async def content_editor(stack: TeachStack, name: str = CONTENT_EDITOR) -> Client:
    """A content editor's /ws/content socket, after the first pushes of every view."""
    token = login(stack.bridge, name).json()["token"]
    import websockets

    client = Client(await websockets.connect(f"ws://{stack.bridge}/ws/content?token={token}"))
    for view in ("catalog", "inbox", "job", "models", "audit"):
        await client.expect(view)
    return client


async def request(client: Client, kind: str, data: Dict[str, Any], timeout: float = 60.0) -> Dict[str, Any]:
    """Sends a request and returns its ack's data; fails with the error reply if there is one."""
    request_id = uuid.uuid4().hex
    await client.send(kind, data, id=request_id)
    reply = await client.next_matching(
        lambda envelope: envelope["id"] == request_id and envelope["type"] in ("ack", "error", kind),
        f"reply to {kind}", timeout)
    if reply["type"] == "error":
        raise AssertionError(f"{kind} failed: {json.dumps(reply['data'])}")
    return reply["data"]
