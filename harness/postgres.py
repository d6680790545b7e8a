"""The archive's servers for tests, drills and benchmarks: a real, throw-away PostgreSQL cluster on
a free port (Debian's package, as scripts/env.sh start_postgres runs it for `make run`) and archiver
processes (python -m archive, as `make run` starts one).

PostgreSQL refuses to run as root: as root, its programs run as Debian's ``postgres`` user
(setpriv, which execs, so the server's pid is the process's: stop and kill -9 reach it).
Databases are made and dropped with its own createdb and dropdb: no driver needed here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List

from harness.servers import ServerProcess, bridge_command, bridge_env, free_port, started

__all__ = ["ArchiverProcess", "PostgresServer", "postgres_bin", "running_archiver", "running_postgres"]


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's programs (/usr/lib/postgresql/VERSION/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (scripts/test.sh does)")
    return found[-1]


def _as_postgres() -> List[str]:
    if os.getuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


class PostgresServer(ServerProcess):
    """A cluster in a fresh folder (fsync off: a test's data need not survive a power cut, only a
    stop or a crash of PostgreSQL itself); ``url(database)`` reaches it with its password."""

    def __init__(self, name: str = "postgres") -> None:
        port = free_port()
        self.bin = postgres_bin()
        self.password = secrets.token_urlsafe(16)
        self.data_dir = Path(tempfile.mkdtemp(prefix="archive-pg-"))
        self._initdb()
        command = [*_as_postgres(), str(self.bin / "postgres"), "-D", str(self.data_dir), "-p", str(port),
                   "-c", "listen_addresses=127.0.0.1", "-k", str(self.data_dir), "-c", "fsync=off",
                   "-c", "full_page_writes=off", "-c", "max_connections=200"]
        super().__init__(name, port, command, dict(os.environ), health_url="", start_timeout=30)

    def _initdb(self) -> None:
        if os.getuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        password_file = self.data_dir.parent / f"{self.data_dir.name}.password"
        password_file.write_text(self.password + "\n")
        if os.getuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        try:
            subprocess.run([*_as_postgres(), str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                            "--auth=scram-sha-256", f"--pwfile={password_file}", "--encoding=UTF8",
                            "--locale=C.UTF-8"], check=True, capture_output=True)
        finally:
            password_file.unlink()

    def _client_env(self) -> Dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def wait_until_ready(self, process: subprocess.Popen, log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): open sessions are ended, as a restart by an operator does
        (SIGTERM would wait for every client to leave)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str) -> str:
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        database], env=self._client_env(), check=True, capture_output=True)
        return self.url(database)

    def drop_database(self, database: str) -> None:
        subprocess.run([str(self.bin / "dropdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "--force", "--if-exists", database], env=self._client_env(), check=True, capture_output=True)

    def query(self, database: str, sql: str) -> List[List[str]]:
        """Rows of one query, as text (psql's unaligned output): what a test compares."""
        done = subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               "-d", database, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              env=self._client_env(), check=True, capture_output=True, text=True)
        return [line.split("\t") for line in done.stdout.splitlines() if line]


@contextmanager
def running_postgres(name: str = "postgres") -> Iterator[PostgresServer]:
    """A cluster while the block runs; its folder is removed after."""
    server = PostgresServer(name)
    try:
        with started(server):
            yield server
    finally:
        shutil.rmtree(server.data_dir, ignore_errors=True)


class ArchiverProcess(ServerProcess):
    """An archiver (python -m archive, the bridge's environment) over a bridge prefix's outbox; ready when
    it says so in its log. ``claim_idle_seconds``: how soon it takes over a dead archiver's entries."""

    def __init__(self, redis_url: str, database_url: str, prefix: str, name: str = "archiver",
                 claim_idle_seconds: float = 30.0) -> None:
        env = bridge_env({"REDIS_URL": redis_url, "DATABASE_URL": database_url, "HANDOFF_KEY_PREFIX": prefix,
                          "ARCHIVE_CLAIM_IDLE_SECONDS": str(claim_idle_seconds)})
        super().__init__(name, 0, bridge_command("-m", "archive"), env, health_url="", start_timeout=60)

    def wait_until_ready(self, process: subprocess.Popen, log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while "archiver ready" not in log.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the archiver did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)


@contextmanager
def running_archiver(redis_url: str, database_url: str, prefix: str, name: str = "archiver",
                     claim_idle_seconds: float = 30.0) -> Iterator[ArchiverProcess]:
    with started(ArchiverProcess(redis_url, database_url, prefix, name, claim_idle_seconds)) as archiver:
        yield archiver
