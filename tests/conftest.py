"""Real servers for the tests: Redis, the action server and Rasa, on free ports."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import pytest
import requests

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


@contextmanager
def running_rasa(model_path: Path, redis_url: str, action_server_url: str, name: str = "rasa") -> Iterator[str]:
    """A Rasa server as `make run` starts it: REST channel, HTTP API, Redis stores."""
    port = free_port()
    redis_port = redis_url.rsplit(":", 1)[1].split("/")[0]
    env = {
        **base_env(),
        "ACTION_SERVER_URL": action_server_url,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": redis_port,
        "REDIS_DB": "0",
        "REDIS_PASSWORD": "",
        "TRACKER_EXPIRY_SECONDS": "3600",
    }
    process, log = start(
        name,
        [
            str(VENV_BIN / "rasa"), "run", "--enable-api", f"--auth-token={RASA_API_TOKEN}",
            "--interface", "127.0.0.1", "--port", str(port),
            "--model", str(model_path), "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml",
        ],
        env,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/status?token={RASA_API_TOKEN}", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def action_server_url() -> Iterator[str]:
    with running_action_server() as url:
        yield url


@pytest.fixture(scope="session")
def rasa_url(model_path: Path, redis_url: str, action_server_url: str) -> Iterator[str]:
    with running_rasa(model_path, redis_url, action_server_url) as url:
        yield url
