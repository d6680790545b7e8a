"""Real servers on free ports, started as `make run` starts them: Redis, the
action server, Rasa (pulling its model from a bridge) and bridge processes.

Shared by the tests (tests/conftest.py wraps them in fixtures), the fault
drills and the benchmarks (bench/), so that all three run the same processes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, NamedTuple, Optional, Tuple

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MODELS_DIR = Path(os.environ.get("MODELS_DIR", ROOT / "models"))
# Several runs at once (tests, benchmarks, drills) keep their logs apart with TEST_LOG_DIR.
LOG_DIR = Path(os.environ.get("TEST_LOG_DIR", ROOT / ".run" / "test-logs"))


def newest_model() -> Path:
    """The newest trained model; trains one when there is none (make test trains first)."""
    models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    if not models:
        subprocess.run(
            [str(VENV_BIN / "rasa"), "train", "--out", str(MODELS_DIR)], cwd=ROOT, env=base_env(), check=True
        )
        models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log.stem} exited early:\n{log.read_text()[-3000:]}")
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


class RedisServer:
    """A throw-away redis-server on a free port; with ``data_dir``, append-only
    (fsync on every write) so that it can be restarted or killed with its data."""

    def __init__(self, name: str = "redis", data_dir: Optional[Path] = None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        persistence = (["--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "always"]
                       if data_dir else ["--appendonly", "no"])
        self.command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--maxclients", "20000", *persistence]
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        import redis

        self.process, log = start(self.name, self.command, dict(os.environ))
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError(f"redis-server did not start:\n{log.read_text()}")
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes out what it has, then exits."""
        if self.process:
            stop(self.process)

    def kill(self) -> None:
        """kill -9: no goodbye; only what the append-only file has survives."""
        if self.process:
            self.process.kill()
            self.process.wait()


@contextmanager
def running_redis(name: str = "redis", data_dir: Optional[Path] = None) -> Iterator[RedisServer]:
    server = RedisServer(name, data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


SECRET = "test-secret-" + uuid.uuid4().hex
AGENT_PASSWORD = "correct horse battery"


class BridgeServer:
    """A bridge process (python -m handoff) on a fixed free port, so that it can be
    killed and started again at the same address, as a supervisor would."""

    def __init__(self, redis_url: str, rasa_url: str, name: str, prefix: str, **extra: str) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**base_env(), "REDIS_URL": redis_url, "RASA_URL": rasa_url, "HANDOFF_SECRET": SECRET,
                    "HANDOFF_PORT": str(self.port), "HANDOFF_KEY_PREFIX": prefix, "HANDOFF_AGENT_GRACE_SECONDS": "2",
                    "HANDOFF_SKILL_GROUPS": json.dumps({"card_swallowed": "cards"}), **extra}
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 60) -> None:
        self.process, log = start(self.name, [str(VENV_BIN / "python"), "-m", "handoff"], self.env)
        wait_until_up(f"http://{self.address}/health", self.process, log, timeout=timeout)

    def stop(self) -> None:
        if self.process:
            stop(self.process)

    def kill(self) -> None:
        """kill -9: no goodbye, no cleanup."""
        if self.process:
            self.process.kill()
            self.process.wait()


@contextmanager
def running_bridge(redis_url: str, rasa_url: str, name: str, prefix: str, **extra: str) -> Iterator[str]:
    """A bridge process's address (host:port) while the block runs."""
    with started_bridge(redis_url, rasa_url, name, prefix, **extra) as server:
        yield server.address


@contextmanager
def started_bridge(redis_url: str, rasa_url: str, name: str, prefix: str, **extra: str) -> Iterator[BridgeServer]:
    server = BridgeServer(redis_url, rasa_url, name, prefix, **extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def add_agent(redis_url: str, prefix: str, name: str, *options: str) -> None:
    env = {**base_env(), "REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": prefix, "HANDOFF_AGENT_PASSWORD": AGENT_PASSWORD}
    subprocess.run([str(VENV_BIN / "python"), "-m", "handoff.auth", "add", name, *options], cwd=ROOT, env=env,
                   check=True, capture_output=True)


# What a copy of the project needs for training, evaluation and validation.
PROJECT_PARTS = ["data", "domain.yml", "config.yml", "tests/nlu", "tests/conversations", "credentials.yml",
                 "endpoints.yml"]


def copy_project(destination: Path) -> Path:
    """What the teaching worker edits and trains from, copied so that tests leave data/ alone."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part)
        else:
            shutil.copy2(source, destination / part)
    return destination


@contextmanager
def running_worker(redis_url: str, teach_prefix: str, project: Path, action_server_url: str,
                   name: str = "worker") -> Iterator[Path]:
    """The teaching worker (python -m bot.teach worker) over a copy of the project; yields its log."""
    env = {**base_env(), "REDIS_URL": redis_url, "TEACH_KEY_PREFIX": teach_prefix,
           "ACTION_SERVER_URL": action_server_url}
    worker, log = start(name, [str(VENV_BIN / "python"), "-m", "bot.teach", "worker", "--project", str(project),
                               "--models", str(project / "models")], env)
    try:
        deadline = time.monotonic() + 120
        while "teaching worker ready" not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the teaching worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield log
    finally:
        stop(worker)
