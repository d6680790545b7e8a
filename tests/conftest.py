"""Session fixtures around the real servers of harness/servers.py."""

from __future__ import annotations

import secrets
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Iterator, Tuple

import pytest
from redis.asyncio import Redis

from harness.postgres import PostgresServer, running_postgres
from harness.servers import (
    ModelServer, RasaServer, delete_prefixed_keys, newest_model, publish_model, running_action_server,
    running_model_server, running_redis, started,
)


@pytest.fixture(scope="session")
def model_path() -> Path:
    return newest_model()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throw-away redis-server on a free port, with no persistence."""
    with running_redis() as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL cluster on a free port (the archive's tests and drills)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def archive_database(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's cluster, dropped after the test; yields its name
    (``postgres.url(name)`` reaches it)."""
    name = f"archive_{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    try:
        yield name
    finally:
        postgres.drop_database(name)


@asynccontextmanager
async def fresh_prefix(redis_url: str, name: str) -> AsyncIterator[Tuple[Redis, str]]:
    """A client of the test Redis and a key prefix no other test uses; its keys are deleted after."""
    client = Redis.from_url(redis_url)
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    try:
        yield client, prefix
    finally:
        await client.close()
        delete_prefixed_keys(redis_url, prefix)


@pytest.fixture(scope="session")
def model_server(redis_url: str, model_path: Path) -> Iterator[ModelServer]:
    """The session's deployed model (the newest trained one), served as under make run."""
    prefix = f"teachtest{secrets.token_hex(3)}"
    publish_model(redis_url, prefix, model_path)
    with running_model_server(redis_url, prefix) as (_, server):
        yield server


@pytest.fixture(scope="session")
def action_server_url() -> Iterator[str]:
    with running_action_server() as url:
        yield url


@pytest.fixture(scope="session")
def rasa_server(model_server: ModelServer, redis_url: str, action_server_url: str) -> Iterator[RasaServer]:
    """The session's Rasa server. The Rasa drill (tests/drills/test_rasa_down.py) stops it and starts
    it again on its port: a Rasa start is the slowest thing the tests do."""
    with started(RasaServer(model_server, redis_url, action_server_url)) as server:
        yield server


@pytest.fixture(scope="session")
def rasa_url(rasa_server: RasaServer) -> str:
    return rasa_server.url
