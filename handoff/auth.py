"""Agents: hashed passwords in Redis, signed tokens that expire.

Manage agents from the command line::

    python -m handoff.auth add ann        # asks for the password
    python -m handoff.auth add bob --groups cards,payments --max-chats 5
    python -m handoff.auth add sue --roles agent,supervisor
    python -m handoff.auth remove ann
    python -m handoff.auth list
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import hashlib
import hmac
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from redis.asyncio import Redis

from handoff.exceptions import InvalidCredentials, InvalidToken

__all__ = ["AgentDirectory", "issue_token", "profile_from_record", "verify_token"]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_NAME = 64
# agent: serves chats in the console; supervisor: sees the dashboard;
# content: teaches the bot from real conversations.
ROLES = ("agent", "supervisor", "content")


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)


class AgentDirectory:
    """Agent accounts in ``{prefix}:agents`` (name -> salted scrypt hash)."""

    def __init__(self, redis: Redis, prefix: str = "hb") -> None:
        self.redis = redis
        self.key = f"{prefix}:agents"

    async def add(self, name: str, password: str, groups: Sequence[str] = ("all",), max_chats: int = 3,
                  roles: Sequence[str] = ("agent",)) -> None:
        if not name or len(name) > MAX_NAME or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError("agent names are 1-64 letters, digits, '-' or '_'")
        if len(password) < 8:
            raise ValueError("passwords need at least 8 characters")
        if max_chats < 1 or not groups:
            raise ValueError("an agent needs at least one group and one chat at a time")
        if not roles or set(roles) - set(ROLES):
            raise ValueError(f"roles are one or more of: {', '.join(ROLES)}")
        salt = os.urandom(16)
        record = {"salt": salt.hex(), "hash": _hash_password(password, salt).hex(),
                  "groups": list(groups), "max_chats": max_chats, "roles": list(roles)}
        await self.redis.hset(self.key, name, json.dumps(record))

    async def profile(self, name: str) -> Dict[str, Any]:
        """An account's skill groups, how many chats it may serve at once, and its roles
        (none for an account that does not exist)."""
        raw = await self.redis.hget(self.key, name)
        return profile_from_record(json.loads(raw)) if raw else {"groups": ["all"], "max_chats": 3, "roles": []}

    async def profiles(self) -> Dict[str, Dict[str, Any]]:
        """Every account's profile, by name (for the console's transfer list)."""
        records = await self.redis.hgetall(self.key)
        return {name.decode(): profile_from_record(json.loads(raw)) for name, raw in sorted(records.items())}

    async def remove(self, name: str) -> bool:
        return bool(await self.redis.hdel(self.key, name))

    async def names(self) -> List[str]:
        return sorted(name.decode() for name in await self.redis.hkeys(self.key))

    async def exists(self, name: str) -> bool:
        return bool(await self.redis.hexists(self.key, name))

    async def check(self, name: str, password: str) -> None:
        raw = await self.redis.hget(self.key, name) if name and len(name) <= MAX_NAME else None
        record = json.loads(raw) if raw else {"salt": "30" * 16, "hash": ""}  # same cost for unknown names
        # scrypt takes ~50 ms of CPU: off the event loop, so other sockets keep flowing.
        loop = asyncio.get_running_loop()
        computed = await loop.run_in_executor(None, _hash_password, password[:1024], bytes.fromhex(record["salt"]))
        if raw is None or not hmac.compare_digest(computed, bytes.fromhex(record["hash"])):
            raise InvalidCredentials("wrong agent name or password")


def profile_from_record(record: Dict[str, Any]) -> Dict[str, Any]:
    # Accounts stored before roles existed are agents.
    return {"groups": record.get("groups", ["all"]), "max_chats": int(record.get("max_chats", 3)),
            "roles": record.get("roles", ["agent"])}


def _sign(secret: str, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode().rstrip("=")


def issue_token(secret: str, agent: str, lifetime_seconds: int, now: Optional[float] = None) -> str:
    expires = int((now if now is not None else time.time()) + lifetime_seconds)
    payload = base64.urlsafe_b64encode(json.dumps({"agent": agent, "exp": expires}).encode()).decode()
    return f"{payload}.{_sign(secret, payload.encode())}"


def verify_token(secret: str, token: str, now: Optional[float] = None) -> str:
    """The agent's name, if the token is genuine and unexpired."""
    try:
        payload, signature = token.split(".", 1)
    except (AttributeError, ValueError):
        raise InvalidToken("malformed token") from None
    if not token.isascii():  # tokens are base64; compare_digest refuses other text
        raise InvalidToken("malformed token")
    if not hmac.compare_digest(_sign(secret, payload.encode()), signature):
        raise InvalidToken("token signature does not match")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if claims["exp"] < (now if now is not None else time.time()):
        raise InvalidToken("token expired; log in again")
    return str(claims["agent"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Manage the agents who can log in to the console.")
    parser.add_argument("command", choices=["add", "remove", "list"])
    parser.add_argument("name", nargs="?")
    parser.add_argument("--groups", default="all", help="comma-separated skill groups ('all' sees every queue)")
    parser.add_argument("--max-chats", type=int, default=3, help="conversations served at once")
    parser.add_argument("--roles", default="agent", help=f"comma-separated, from: {', '.join(ROLES)}")
    args = parser.parse_args(argv)
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6380/0"))
    directory = AgentDirectory(redis, os.environ.get("HANDOFF_KEY_PREFIX", "hb"))

    async def run() -> int:
        try:
            if args.command == "list":
                for name, profile in (await directory.profiles()).items():
                    print(f"{name}\troles={','.join(profile['roles'])}\tgroups={','.join(profile['groups'])}"
                          f"\tmax_chats={profile['max_chats']}")
                return 0
            if not args.name:
                parser.error("a name is needed")
            if args.command == "remove":
                removed = await directory.remove(args.name)
                print(f"removed {args.name}" if removed else f"no agent {args.name}")
                return 0 if removed else 1
            password = os.environ.get("HANDOFF_AGENT_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
            groups = [group.strip() for group in args.groups.split(",") if group.strip()]
            roles = [role.strip() for role in args.roles.split(",") if role.strip()]
            await directory.add(args.name, password, groups, args.max_chats, roles)
            print(f"{args.name} can now log in ({', '.join(roles)})")
            return 0
        finally:
            await redis.aclose()

    try:
        return asyncio.run(run())
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
