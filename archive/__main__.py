"""``python -m archive``: one archiver process (several may run); settings from the environment.

DATABASE_URL (required), REDIS_URL, HANDOFF_KEY_PREFIX (the bridge's), ARCHIVE_BATCH_SIZE (entries per
transaction, 500), ARCHIVE_CLAIM_IDLE_SECONDS (a dead archiver's entries are taken over after this, 30),
ARCHIVE_LINGER_MS (how long the first new entries wait for others to share their transaction, 100),
ARCHIVE_RETENTION_DAYS (conversations whose last message is older are deleted, hourly, one archiver at a
time; 0, the default: kept until forgotten).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from redis.asyncio import Redis

from archive.archiver import Archiver


async def main() -> None:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("error: DATABASE_URL is not set (scripts/env.sh start_postgres sets it for a local PostgreSQL)")
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6380/0"))
    archiver = Archiver(redis, database_url, os.environ.get("HANDOFF_KEY_PREFIX", "hb"),
                        batch_size=int(os.environ.get("ARCHIVE_BATCH_SIZE", "500")),
                        claim_idle_ms=int(float(os.environ.get("ARCHIVE_CLAIM_IDLE_SECONDS", "30")) * 1000),
                        linger_ms=int(os.environ.get("ARCHIVE_LINGER_MS", "100")),
                        retention_days=int(os.environ.get("ARCHIVE_RETENTION_DAYS", "0")))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await archiver.run(stop)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
