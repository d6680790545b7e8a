"""A teaching stack's handles: its Redis state, the bridge serving the model and
the content socket, the Rasa server pulling from it, and the teaching worker.
The tests' ``teach_stack`` fixture and ``bench.training`` both drive one."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List

import requests
from redis.asyncio import Redis

from harness.servers import RASA_API_TOKEN
from teaching.store import TeachStore

__all__ = ["TeachStack"]


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
