"""Redis settings as endpoints.yml gives them to the bot's Rasa components.

Values substituted from the environment arrive as strings, possibly empty
(``password: ${REDIS_PASSWORD}`` with no password set), and ``url`` may be a
host name or a ``redis://`` URL. Shared by the teaching inbox's event broker
and the tracker store.
"""

from __future__ import annotations

from typing import Any, Optional

from redis.asyncio import Redis

__all__ = ["as_float", "as_int", "redis_client"]


def as_float(value: Any, default: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return float(value)


def as_int(value: Any, default: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return int(value)


def redis_client(url: Optional[str], port: Any = None, db: Any = None, password: Any = None,
                 **options: Any) -> Redis:
    """An asyncio client for a host (with port, db, password) or a redis://, rediss:// or unix:// URL."""
    url = url or "127.0.0.1"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return Redis.from_url(url, **options)
    return Redis(host=url, port=as_int(port, 6379), db=as_int(db, 0),
                 password=str(password) if password else None, **options)
