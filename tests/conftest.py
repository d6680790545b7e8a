"""Real servers for the tests: Redis, the action server and Rasa, on free ports."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, AsyncIterator, Dict, Iterator, NamedTuple, Optional, Tuple

import pytest
import requests

if TYPE_CHECKING:
    from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MODELS_DIR = Path(os.environ.get("MODELS_DIR", ROOT / "models"))
LOG_DIR = ROOT / ".run" / "test-logs"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s; see {log}")


def start(name: str, command: list, env: Dict[str, str]) -> "tuple[subprocess.Popen, Path]":
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{name}.log"
    with log.open("w") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return process, log


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def base_env() -> Dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The newest trained model; trains one when there is none (make test trains first)."""
    models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    if not models:
        subprocess.run(
            [str(VENV_BIN / "rasa"), "train", "--out", str(MODELS_DIR)], cwd=ROOT, env=base_env(), check=True
        )
        models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throw-away redis-server on a free port, with no persistence."""
    port = free_port()
    process, log = start(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dict(os.environ),
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"redis-server did not start:\n{log.read_text()}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    stop(process)


@asynccontextmanager
async def fresh_prefix(redis_url: str, name: str) -> AsyncIterator[Tuple["Redis", str]]:
    """A client of the test Redis and a key prefix no other test uses; its keys are deleted after."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.close()


# Rasa's HTTP API (parse, trackers, model) requires this token, as under `make run`.
RASA_API_TOKEN = secrets.token_urlsafe(16)


@contextmanager
def running_action_server(name: str = "actions", extra_env: Optional[Dict[str, str]] = None) -> Iterator[str]:
    port = free_port()
    process, log = start(
        name,
        [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(port), "--actions", "actions"],
        {**base_env(), **(extra_env or {})},
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process)


class ModelServer(NamedTuple):
    """Where Rasa servers pull their model: a bridge's /api/models/current over one teaching prefix."""

    url: str
    token: str
    teach_prefix: str


def publish_model(redis_url: str, teach_prefix: str, model_path: Path) -> None:
    """Registers and deploys a model file, as make run does."""
    subprocess.run(
        [str(VENV_BIN / "python"), "-m", "bot.teach", "--as", "tests", "publish", str(model_path)],
        cwd=ROOT, env={**base_env(), "REDIS_URL": redis_url, "TEACH_KEY_PREFIX": teach_prefix},
        check=True, capture_output=True,
    )


@contextmanager
def running_rasa(model_server: ModelServer, redis_url: str, action_server_url: str, name: str = "rasa",
                 port: Optional[int] = None) -> Iterator[str]:
    """A Rasa server as `make run` starts it: REST channel, HTTP API, Redis stores, the
    inbox event broker, and the model pulled from a bridge."""
    port = port or free_port()
    redis_port = redis_url.rsplit(":", 1)[1].split("/")[0]
    env = {
        **base_env(),
        "ACTION_SERVER_URL": action_server_url,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": redis_port,
        "REDIS_DB": "0",
        "REDIS_PASSWORD": "",
        "TRACKER_EXPIRY_SECONDS": "3600",
        "MODEL_SERVER_URL": model_server.url,
        "MODEL_SERVER_TOKEN": model_server.token,
        "TEACH_KEY_PREFIX": model_server.teach_prefix,
    }
    process, log = start(
        name,
        [
            str(VENV_BIN / "rasa"), "run", "--enable-api", f"--auth-token={RASA_API_TOKEN}",
            "--interface", "127.0.0.1", "--port", str(port),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
        ],
        env,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/status?token={RASA_API_TOKEN}", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@contextmanager
def running_model_server(redis_url: str, teach_prefix: str, rasa_url: str = "http://127.0.0.1:9",
                         name: str = "model-server", **extra: str) -> Iterator[Tuple[str, ModelServer]]:
    """A bridge process (its address) serving the deployed model of ``teach_prefix``.

    Serving models needs no Rasa: without ``rasa_url`` the bridge points at a
    closed port, which only its /ready check would notice.
    """
    port = free_port()
    token = secrets.token_urlsafe(16)
    env = {**base_env(), "REDIS_URL": redis_url, "RASA_URL": rasa_url, "HANDOFF_PORT": str(port),
           "HANDOFF_SECRET": secrets.token_urlsafe(24), "HANDOFF_KEY_PREFIX": f"hb{teach_prefix}",
           "MODEL_SERVER_TOKEN": token, "TEACH_KEY_PREFIX": teach_prefix, **extra}
    process, log = start(name, [str(VENV_BIN / "python"), "-m", "handoff"], env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log, timeout=60)
        yield f"127.0.0.1:{port}", ModelServer(f"http://127.0.0.1:{port}/api/models/current", token, teach_prefix)
    finally:
        stop(process)


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
def rasa_url(model_server: ModelServer, redis_url: str, action_server_url: str) -> Iterator[str]:
    with running_rasa(model_server, redis_url, action_server_url) as url:
        yield url
