"""Versioned migrations: the SQL files of archive/migrations/, applied in order, each once.

``schema_migrations`` lists those applied. Several archivers may start at once: the first to take
the advisory lock applies what is missing while the others wait, then find nothing left to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Tuple

from psycopg import AsyncConnection

__all__ = ["MIGRATIONS", "available", "migrate", "pending"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock's key for migrations (any fixed number, the same for every archiver).
_LOCK = 0x61726368  # "arch"


def available() -> List[Tuple[str, str]]:
    """(version, SQL) of every migration file, in order: "0001_history.sql" is version "0001"."""
    return [(path.name.split("_", 1)[0], path.read_text()) for path in sorted(MIGRATIONS.glob("[0-9]*.sql"))]


async def pending(connection: AsyncConnection[Any]) -> List[str]:
    """The versions not applied yet."""
    async with connection.cursor() as cursor:
        await cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        row = await cursor.fetchone()
        applied = set()
        if row and row[0]:
            await cursor.execute("SELECT version FROM schema_migrations")
            applied = {version for (version,) in await cursor.fetchall()}
    return [version for version, _ in available() if version not in applied]


async def migrate(connection: AsyncConnection[Any]) -> List[str]:
    """Applies the missing migrations, each in its own transaction; returns the versions applied."""
    applied: List[str] = []
    await connection.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
    try:
        async with connection.transaction():
            await connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                     "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        missing = set(await pending(connection))
        for version, sql in available():
            if version in missing:
                async with connection.transaction():
                    await connection.execute(sql.encode())
                    await connection.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))
    return applied
