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
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple, TypeVar
from urllib.parse import urlparse

import redis
import requests

__all__ = [
    "ACTION_SERVER_LIMITS", "AGENT_PASSWORD", "BRIDGE_VENV_BIN", "LOG_DIR", "LOOPBACK_LIMITS", "MODELS_DIR",
    "PROJECT_PARTS", "RASA_API_TOKEN", "REDIS_MEMORY", "ROOT", "SECRET", "TEST_ADDRESS_LIMITS", "VENV_BIN",
    "ActionServer", "BridgeServer", "ModelServer", "RasaServer", "RedisServer", "ServerProcess", "add_agent",
    "admin_address", "base_env", "bridge_command", "bridge_env", "copy_project", "delete_prefixed_keys",
    "free_port", "newest_model",
    "process_cpu_seconds", "publish_model", "running_action_server", "running_bridge", "running_model_server",
    "running_rasa", "running_redis", "running_worker", "start", "started", "started_bridge", "stop",
    "wait_until_up",
]

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# The bridge runs in its own environment (Python 3.13; scripts/bootstrap-bridge.sh), as under make run;
# the clients of tests, drills and benchmarks stay here and reach it over the network, as a browser does.
BRIDGE_VENV_BIN = Path(os.environ.get("BRIDGE_VENV", ROOT / ".venv-bridge")) / "bin"
MODELS_DIR = Path(os.environ.get("MODELS_DIR", ROOT / "models"))
# Several runs at once (tests, benchmarks, drills) keep their logs apart with TEST_LOG_DIR.
LOG_DIR = Path(os.environ.get("TEST_LOG_DIR", ROOT / ".run" / "test-logs"))
# Every client of a test, drill or benchmark comes from 127.0.0.1: the per-address connection cap
# (meant for the public internet) is lifted for bridges that many clients reach.
LOOPBACK_LIMITS = {"HANDOFF_MAX_CONNECTIONS_PER_IP": "1000000"}
# Tests start many conversations, queue many customers and leave many requests from 127.0.0.1 within
# minutes: the per-address caps on those are lifted for every test bridge but those that test the caps.
TEST_ADDRESS_LIMITS = {"HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP": "1000000", "HANDOFF_MAX_QUEUE_ENTRIES_PER_IP": "1000000",
                       "HANDOFF_MAX_CONNECTIONS_PER_IP": "1000", "HANDOFF_MAX_UPLOADS_PER_IP": "1000000",
                       "HANDOFF_MAX_FILE_BYTES_PER_ADDRESS_PER_DAY": str(2**40), "HANDOFF_MAX_REQUESTS_PER_IP": "1000000"}
# Redis as make run starts it (scripts/env.sh start_local_redis): a memory limit, and at the limit
# writes are refused, never live data dropped.
REDIS_MEMORY = ["--maxmemory", "256mb", "--maxmemory-policy", "noeviction"]


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


_STARTS: Counter = Counter()  # process name -> how many times this run started one under it


def start(name: str, command: List[str], env: Dict[str, str]) -> "tuple[subprocess.Popen, Path]":
    """Starts a server process logging to ``{name}.log``; started again under the same name in
    this run (a restart after a kill), to ``{name}.2.log`` and so on, so that every process's
    log, a killed one's last words too, stays."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    _STARTS[name] += 1
    log = LOG_DIR / (f"{name}.log" if _STARTS[name] == 1 else f"{name}.{_STARTS[name]}.log")
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


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used so far, from /proc: the
    difference over a run is what the run cost that process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def bridge_command(*arguments: str) -> List[str]:
    """``python ARGUMENTS`` in the bridge's environment."""
    python = BRIDGE_VENV_BIN / "python"
    if not python.exists():
        raise RuntimeError(f"no bridge environment at {python.parent.parent}: run scripts/bootstrap.sh --test")
    return [str(python), *arguments]


def bridge_env(settings: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A bridge process's environment: a deprecation in what it runs is an error (a failed start or
    request), so that none is left for the next release of Sanic, websockets or redis-py to break.
    Sanic files its own deprecations under a filter of its own (config DEPRECATION_FILTER, "once")."""
    return {**base_env(), "PYTHONWARNINGS": "error::DeprecationWarning,error::PendingDeprecationWarning",
            "SANIC_DEPRECATION_FILTER": "error", "HANDOFF_ADMIN_PORT": str(free_port()), **(settings or {})}


_ADMIN_ADDRESSES: Dict[str, str] = {}  # a bridge's address -> its loopback-only admin address


def admin_address(address: str) -> str:
    """Where a bridge started here serves /metrics and /ready (host:port; docs/security.md)."""
    return _ADMIN_ADDRESSES[address]


def base_env() -> Dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "HF_HUB_OFFLINE": "1",
    }


class ServerProcess:
    """A server process on a fixed free port, so that it can be stopped or killed and
    started again at the same address, as a supervisor would."""

    def __init__(self, name: str, port: int, command: List[str], env: Dict[str, str], health_url: str,
                 start_timeout: float = 180.0) -> None:
        self.name = name
        self.port = port
        self.command = command
        self.env = env
        self.health_url = health_url
        self.start_timeout = start_timeout
        self.process: Optional[subprocess.Popen] = None
        self.log: Optional[Path] = None  # the current (or last) process's log

    def start(self) -> None:
        self.process, self.log = start(self.name, self.command, self.env)
        self.wait_until_ready(self.process, self.log, self.start_timeout)

    def wait_until_ready(self, process: subprocess.Popen, log: Path, timeout: float) -> None:
        wait_until_up(self.health_url, process, log, timeout=timeout)

    def stop(self) -> None:
        if self.process:
            stop(self.process)

    def kill(self) -> None:
        """kill -9: no goodbye, no cleanup."""
        if self.process:
            self.process.kill()
            self.process.wait()


Server = TypeVar("Server", bound=ServerProcess)


@contextmanager
def started(server: Server) -> Iterator[Server]:
    """The server running while the block runs."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RedisServer(ServerProcess):
    """A throw-away redis-server on a free port; with ``data_dir``, append-only (fsync on
    every write) so that it can be restarted with its data after ``stop()`` (SIGTERM: Redis
    writes out what it has) or ``kill()`` (kill -9: only what the append-only file has survives)."""

    def __init__(self, name: str = "redis", data_dir: Optional[Path] = None) -> None:
        port = free_port()
        persistence = (["--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "always"]
                       if data_dir else ["--appendonly", "no"])
        # With a password, as make run's own Redis (scripts/env.sh start_local_redis): every client
        # under test reaches it through a URL that carries it.
        self.password = secrets.token_urlsafe(16)
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--maxclients", "20000", "--requirepass", self.password, *REDIS_MEMORY, *persistence]
        super().__init__(name, port, command, dict(os.environ), health_url="", start_timeout=10)
        self.url = f"redis://:{self.password}@127.0.0.1:{port}/0"

    def wait_until_ready(self, process: subprocess.Popen, log: Path, timeout: float) -> None:
        client = redis.Redis(port=self.port, password=self.password)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"redis-server did not start:\n{log.read_text()}")
                    time.sleep(0.05)
        finally:
            client.close()


def delete_prefixed_keys(redis_url: str, *prefixes: str) -> None:
    """Deletes every key under each prefix (``{prefix}:*``): what a test left in a shared Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        for prefix in prefixes:
            keys = list(client.scan_iter(f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@contextmanager
def running_redis(name: str = "redis", data_dir: Optional[Path] = None) -> Iterator[RedisServer]:
    with started(RedisServer(name, data_dir)) as server:
        yield server


# Rasa's HTTP API (parse, trackers, model) requires this token, as under `make run`.
RASA_API_TOKEN = secrets.token_urlsafe(16)


# A tracker of a long conversation is a few hundred kB; 10 MB of one is an attack (scripts/run.sh).
ACTION_SERVER_LIMITS = {"SANIC_REQUEST_MAX_SIZE": str(2 * 1024 * 1024)}


class ActionServer(ServerProcess):
    """The Rasa action server (``rasa run actions``); Rasa calls it at ``url``."""

    def __init__(self, name: str = "actions", extra_env: Optional[Dict[str, str]] = None) -> None:
        port = free_port()
        super().__init__(name, port, [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(port),
                                      "--actions", "actions"],
                         # rasa_sdk listens on SANIC_HOST (every interface without it); only Rasa calls it.
                         # Its Sanic refuses bodies over SANIC_REQUEST_MAX_SIZE, as under make run.
                         {**base_env(), "SANIC_HOST": "127.0.0.1", **ACTION_SERVER_LIMITS, **(extra_env or {})},
                         f"http://127.0.0.1:{port}/health")
        self.url = f"http://127.0.0.1:{port}/webhook"


@contextmanager
def running_action_server(name: str = "actions", extra_env: Optional[Dict[str, str]] = None) -> Iterator[str]:
    """The action server's webhook URL while the block runs."""
    with started(ActionServer(name, extra_env)) as server:
        yield server.url


class ModelServer(NamedTuple):
    """Where Rasa servers pull their model: a bridge's /api/models/current over one teaching prefix."""

    url: str
    token: str
    teach_prefix: str


def publish_model(redis_url: str, teach_prefix: str, model_path: Path) -> None:
    """Registers and deploys a model file, as make run does."""
    subprocess.run(
        [str(VENV_BIN / "python"), "-m", "teaching", "--as", "tests", "publish", str(model_path)],
        cwd=ROOT, env={**base_env(), "REDIS_URL": redis_url, "TEACH_KEY_PREFIX": teach_prefix},
        check=True, capture_output=True,
    )


class RasaServer(ServerProcess):
    """A Rasa server as `make run` starts it: REST channel, HTTP API, Redis stores, the
    inbox event broker, and the model pulled from a bridge. Its address is ``url``."""

    def __init__(self, model_server: ModelServer, redis_url: str, action_server_url: str, name: str = "rasa",
                 port: Optional[int] = None) -> None:
        port = port or free_port()
        redis = urlparse(redis_url)
        env = {
            **base_env(),
            "ACTION_SERVER_URL": action_server_url,
            # As scripts/env.sh redis_settings_from_url passes them to endpoints.yml.
            "REDIS_URL": redis_url,
            "REDIS_HOST": redis.hostname or "127.0.0.1",
            "REDIS_PORT": str(redis.port or 6379),
            "REDIS_DB": "0",
            "REDIS_USERNAME": "",
            "REDIS_PASSWORD": redis.password or "",
            "REDIS_USE_SSL": "",
            "TRACKER_EXPIRY_SECONDS": "3600",
            "MODEL_SERVER_URL": model_server.url,
            "MODEL_SERVER_TOKEN": model_server.token,
            "TEACH_KEY_PREFIX": model_server.teach_prefix,
        }
        command = [
            str(VENV_BIN / "rasa"), "run", "--enable-api", f"--auth-token={RASA_API_TOKEN}",
            "--interface", "127.0.0.1", "--port", str(port),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
        ]
        super().__init__(name, port, command, env, f"http://127.0.0.1:{port}/status?token={RASA_API_TOKEN}")
        self.url = f"http://127.0.0.1:{port}"


@contextmanager
def running_rasa(model_server: ModelServer, redis_url: str, action_server_url: str, name: str = "rasa",
                 port: Optional[int] = None) -> Iterator[str]:
    """A Rasa server's URL while the block runs (see RasaServer)."""
    with started(RasaServer(model_server, redis_url, action_server_url, name, port)) as server:
        yield server.url


@contextmanager
def running_model_server(redis_url: str, teach_prefix: str, rasa_url: str = "http://127.0.0.1:9",
                         name: str = "model-server", **extra: str) -> Iterator[Tuple[str, ModelServer]]:
    """A bridge process (its address) serving the deployed model of ``teach_prefix``.

    Serving models needs no Rasa: without ``rasa_url`` the bridge points at a
    closed port, which only its /ready check would notice.
    """
    port = free_port()
    token = secrets.token_urlsafe(16)
    env = bridge_env({"REDIS_URL": redis_url, "RASA_URL": rasa_url, "HANDOFF_PORT": str(port),
                      "HANDOFF_SECRET": secrets.token_urlsafe(24), "HANDOFF_KEY_PREFIX": f"hb{teach_prefix}",
                      "MODEL_SERVER_TOKEN": token, "TEACH_KEY_PREFIX": teach_prefix, **TEST_ADDRESS_LIMITS, **extra})
    process, log = start(name, bridge_command("-m", "handoff"), env)
    _ADMIN_ADDRESSES[f"127.0.0.1:{port}"] = f"127.0.0.1:{env['HANDOFF_ADMIN_PORT']}"
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log, timeout=60)
        yield f"127.0.0.1:{port}", ModelServer(f"http://127.0.0.1:{port}/api/models/current", token, teach_prefix)
    finally:
        stop(process)


SECRET = "test-secret-" + uuid.uuid4().hex
# What test sites sign their customers' identities with (handoff.identity): every test bridge accepts it.
IDENTITY_SECRET = "test-identity-secret-" + uuid.uuid4().hex
AGENT_PASSWORD = "correct horse battery"


class BridgeServer(ServerProcess):
    """A bridge process (python -m handoff); its clients reach it at ``address`` (host:port)."""

    def __init__(self, redis_url: str, rasa_url: str, name: str, prefix: str, **extra: str) -> None:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        env = bridge_env({"REDIS_URL": redis_url, "RASA_URL": rasa_url, "HANDOFF_SECRET": SECRET,
                          "HANDOFF_IDENTITY_SECRET": IDENTITY_SECRET,
                          "HANDOFF_PORT": str(port), "HANDOFF_KEY_PREFIX": prefix, "HANDOFF_AGENT_GRACE_SECONDS": "2",
                          "HANDOFF_SKILL_GROUPS": json.dumps({"card_swallowed": "cards"}), **TEST_ADDRESS_LIMITS,
                          **extra})
        # /metrics and /ready (its admin port listens before the public one does).
        self.admin_address = _ADMIN_ADDRESSES[self.address] = f"127.0.0.1:{env['HANDOFF_ADMIN_PORT']}"
        super().__init__(name, port, bridge_command("-m", "handoff"), env,
                         f"http://{self.address}/health", start_timeout=60)


@contextmanager
def running_bridge(redis_url: str, rasa_url: str, name: str, prefix: str, **extra: str) -> Iterator[str]:
    """A bridge process's address (host:port) while the block runs."""
    with started_bridge(redis_url, rasa_url, name, prefix, **extra) as server:
        yield server.address


@contextmanager
def started_bridge(redis_url: str, rasa_url: str, name: str, prefix: str, **extra: str) -> Iterator[BridgeServer]:
    with started(BridgeServer(redis_url, rasa_url, name, prefix, **extra)) as server:
        yield server


def add_agent(redis_url: str, prefix: str, name: str, *options: str) -> None:
    env = bridge_env({"REDIS_URL": redis_url, "HANDOFF_KEY_PREFIX": prefix, "HANDOFF_AGENT_PASSWORD": AGENT_PASSWORD})
    subprocess.run(bridge_command("-m", "handoff.auth", "add", name, *options), cwd=ROOT, env=env,
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
    """The teaching worker (python -m teaching worker) over a copy of the project; yields its log."""
    env = {**base_env(), "REDIS_URL": redis_url, "TEACH_KEY_PREFIX": teach_prefix,
           "ACTION_SERVER_URL": action_server_url}
    worker, log = start(name, [str(VENV_BIN / "python"), "-m", "teaching", "worker", "--project", str(project),
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
