"""The hub's notification numbers, against a real redis-server (started by tests/conftest.py)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import pytest
import redis

from handoff.hub import Hub
from tests.conftest import fresh_prefix


# The hub runs on the bridge's own runtime (redis-py 5+: PubSub.aclose); scripts/test.sh runs this file there.
pytestmark = pytest.mark.skipif(redis.VERSION < (5,), reason="the bridge's runtime: run in .venv-bridge")


def test_a_channel_listened_on_again_never_repeats_a_number(redis_url):
    """Readings are shared by notification number (handoff.shared): a channel nobody listened on missed
    its changes, so listening again must start from a number no earlier reading was made at."""

    async def scenario() -> None:
        async with fresh_prefix(redis_url, "hub") as (client, prefix):
            hub = Hub(client, prefix)
            await hub.start()
            channel = f"{prefix}:queue"
            heard: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()

            async def listener(payload: Dict[str, Any]) -> None:
                await heard.put(payload)

            try:
                await hub.add(channel, listener)
                first = hub.notified(channel)
                await client.publish(channel, "{}")
                await asyncio.wait_for(heard.get(), 5)
                after_change = hub.notified(channel)
                await hub.discard(channel, listener)
                assert hub.notified(channel) == 0 and hub.channels == 0  # nothing kept for it
                await hub.add(channel, listener)
                again = hub.notified(channel)
                assert len({first, after_change, again}) == 3 and 0 not in {first, after_change, again}
            finally:
                await hub.stop()

    asyncio.run(scenario())
