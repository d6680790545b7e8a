"""make run's own Redis (scripts/env.sh start_local_redis) needs a password, which no
command line shows and which every process gets through REDIS_URL."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import redis

from harness.servers import ROOT, free_port


def test_make_runs_redis_refuses_clients_without_its_password(tmp_path: Path) -> None:
    port = free_port()
    script = ('source scripts/env.sh && unset REDIS_URL && start_local_redis && redis_settings_from_url '
              '&& echo "$REDIS_URL" && echo "$REDIS_PASSWORD" && cat "$RUN_DIR/redis/redis.pid"')
    env = {**os.environ, "RUN_DIR": str(tmp_path), "LOCAL_REDIS_PORT": str(port)}
    env.pop("REDIS_URL", None)
    url, password, pid = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True,
                                        text=True).stdout.split()
    try:
        assert url == f"redis://:{password}@127.0.0.1:{port}/0" and len(password) >= 32
        assert redis.Redis.from_url(url).ping()
        try:
            redis.Redis(port=port).ping()
            raise AssertionError("the local Redis answered a client without its password")
        except redis.AuthenticationError:
            pass
        stored = tmp_path / "redis-password"
        assert stored.read_text().strip() == password
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert password not in command_line, "the password shows in ps"
    finally:
        redis.Redis.from_url(url).shutdown(nosave=True)
