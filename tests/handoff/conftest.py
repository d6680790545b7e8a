"""A real bridge process (python -m handoff) against the test Redis and Rasa."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from harness.servers import add_agent, running_bridge


@pytest.fixture(scope="session")
def bridge_prefix() -> str:
    return f"hbtest{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def bridge(redis_url, rasa_url, bridge_prefix) -> Iterator[str]:
    for agent in ("ann", "bob"):
        add_agent(redis_url, bridge_prefix, agent)
    add_agent(redis_url, bridge_prefix, "cara", "--groups", "cards", "--max-chats", "1")
    add_agent(redis_url, bridge_prefix, "sam", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-a", bridge_prefix) as address:
        yield address


@pytest.fixture(scope="session")
def second_bridge(redis_url, rasa_url, bridge_prefix, bridge) -> Iterator[str]:
    """Another process sharing the same Redis, as behind a load balancer."""
    with running_bridge(redis_url, rasa_url, "bridge-b", bridge_prefix) as address:
        yield address
