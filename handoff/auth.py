"""Agents: hashed passwords in Redis, signed tokens that expire or are revoked.

A token carries its account's generation; logging out, a new password and removal move the
generation on, and every token issued before stops working (checked when a socket connects and on
every heartbeat). Customers see an account's display name, never its login name.

Manage agents from the command line::

    python -m handoff.auth add ann        # asks for the password (and the display name, "Ann")
    python -m handoff.auth add ann --display-name "Ann Smith"
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
from typing import Any, Collection, Dict, List, NamedTuple, Optional, Sequence

from redis.asyncio import Redis
from redis.exceptions import WatchError

from handoff.exceptions import Forbidden, InvalidCredentials, InvalidToken
from handoff.settings import Settings

__all__ = ["AgentDirectory", "TokenClaims", "checked_display_name", "default_display_name", "issue_token", "profile_from_record",
           "verify_token"]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_NAME = 64
MAX_DISPLAY_NAME = 40
# agent: serves chats in the console; supervisor: sees the dashboard;
# content: teaches the bot from real conversations.
ROLES = ("agent", "supervisor", "content")


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)


def checked_display_name(display_name: str) -> str:
    """A display name customers and colleagues read as it is: no markup, no control or direction
    characters (a right-to-left override makes "Ann" read as someone else), not over-long."""
    if len(display_name) > MAX_DISPLAY_NAME:
        raise ValueError(f"display names are at most {MAX_DISPLAY_NAME} characters")
    if "<" in display_name or ">" in display_name:
        raise ValueError("display names may not contain '<' or '>'")
    if not display_name.isprintable():  # controls, zero-width and bidi overrides are all non-printable
        raise ValueError("display names may not contain control or direction characters")
    return display_name


def default_display_name(name: str) -> str:
    """What customers see when no display name was given: "ann-smith" -> "Ann Smith"."""
    return " ".join(part.capitalize() for part in name.replace("_", "-").split("-") if part) or name


# An unknown account's password is checked against this, so that it costs what a known one does.
_DUMMY = {"salt": "30" * 16, "hash": _hash_password("not a password", bytes.fromhex("30" * 16)).hex()}


class AgentDirectory:
    """Agent accounts in ``{prefix}:agents`` (name -> salted scrypt hash and profile) and their
    token generations in ``{prefix}:agent-generations`` (name -> a number that only grows)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:agents"
        self.generations_key = f"{prefix}:agent-generations"

    async def add(self, name: str, password: str, groups: Sequence[str] = ("all",), max_chats: int = 3,
                  roles: Sequence[str] = ("agent",), display_name: str = "") -> None:
        """Adds an account, or resets one (every token issued before stops working)."""
        if not name or len(name) > MAX_NAME or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError("agent names are 1-64 letters, digits, '-' or '_'")
        if len(password) < 8:
            raise ValueError("passwords need at least 8 characters")
        if max_chats < 1 or not groups:
            raise ValueError("an agent needs at least one group and one chat at a time")
        if not roles or set(roles) - set(ROLES):
            raise ValueError(f"roles are one or more of: {', '.join(ROLES)}")
        display_name = checked_display_name(" ".join(display_name.split()) or default_display_name(name))
        salt = os.urandom(16)
        record = {"salt": salt.hex(), "hash": _hash_password(password, salt).hex(), "groups": list(groups),
                  "max_chats": max_chats, "roles": list(roles), "display_name": display_name}
        async with self.redis.pipeline(transaction=True) as pipe:
            # Watched: two accounts added at once cannot both take the same name.
            await pipe.watch(self.key)
            for other, raw in (await pipe.hgetall(self.key)).items():
                shown = profile_from_record(other.decode(), json.loads(raw))["display_name"]
                if other.decode() != name and shown.casefold() == display_name.casefold():
                    raise ValueError(f"{other.decode()} is already shown to customers as {shown!r}: "
                                     "choose a name they can tell apart")
            pipe.multi()
            pipe.hset(self.key, name, json.dumps(record))
            pipe.hincrby(self.generations_key, name, 1)
            try:
                await pipe.execute()
            except WatchError:
                raise ValueError("the accounts changed meanwhile; try again") from None

    async def generation(self, name: str) -> int:
        """Tokens issued with an older generation are no longer valid."""
        return int(await self.redis.hget(self.generations_key, name) or 0)

    async def revoke(self, name: str) -> None:
        """Logs the account out everywhere: its tokens so far stop working."""
        await self.redis.hincrby(self.generations_key, name, 1)

    async def display_name(self, name: str) -> str:
        return str((await self.profile(name))["display_name"])

    async def current_login(self, secret: str, token: str, roles: Collection[str]) -> TokenClaims:
        """Whose login ``token`` is, when it is signed, unexpired and current (its account exists, no
        logout or new password since) and the account has one of ``roles``: InvalidToken or Forbidden
        otherwise. The one check of a login, for the websockets and the HTTP endpoints alike."""
        name, generation = verify_token(secret, token)
        profile = await self.profile(name)
        if not profile["roles"]:
            raise InvalidToken("this account no longer exists")
        if generation != await self.generation(name):
            raise InvalidToken("login revoked (logged out, new password or account removed); log in again")
        if not set(roles) & set(profile["roles"]):
            raise Forbidden(f"{name} does not have the {' or '.join(sorted(roles))} role")
        return TokenClaims(name, generation)

    async def profile(self, name: str) -> Dict[str, Any]:
        """An account's skill groups, how many chats it may serve at once, and its roles
        (none for an account that does not exist)."""
        raw = await self.redis.hget(self.key, name)
        if not raw:
            return {"groups": ["all"], "max_chats": 3, "roles": [], "display_name": default_display_name(name)}
        return profile_from_record(name, json.loads(raw))

    async def profiles(self) -> Dict[str, Dict[str, Any]]:
        """Every account's profile, by name (for the console's transfer list)."""
        records = await self.redis.hgetall(self.key)
        return {name.decode(): profile_from_record(name.decode(), json.loads(raw)) for name, raw in sorted(records.items())}

    async def remove(self, name: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key, name)
            pipe.hincrby(self.generations_key, name, 1)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def names(self) -> List[str]:
        return sorted(name.decode() for name in await self.redis.hkeys(self.key))

    async def exists(self, name: str) -> bool:
        return bool(await self.redis.hexists(self.key, name))

    async def check(self, name: str, password: str) -> None:
        raw = await self.redis.hget(self.key, name) if name and len(name) <= MAX_NAME else None
        record = json.loads(raw) if raw else _DUMMY  # the same cost and answer for unknown names
        # scrypt takes ~50 ms of CPU: off the event loop, so other sockets keep flowing.
        loop = asyncio.get_running_loop()
        computed = await loop.run_in_executor(None, _hash_password, password[:1024], bytes.fromhex(record["salt"]))
        if raw is None or not hmac.compare_digest(computed, bytes.fromhex(record["hash"])):
            raise InvalidCredentials("wrong agent name or password")


def profile_from_record(name: str, record: Dict[str, Any]) -> Dict[str, Any]:
    # Accounts stored before roles (display names) existed are agents (shown by their name, capitalised).
    return {"groups": record.get("groups", ["all"]), "max_chats": int(record.get("max_chats", 3)),
            "roles": record.get("roles", ["agent"]),
            "display_name": record.get("display_name") or default_display_name(name)}


class TokenClaims(NamedTuple):
    agent: str
    generation: int


def _sign(secret: str, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode().rstrip("=")


def issue_token(secret: str, agent: str, lifetime_seconds: int, generation: int = 0,
                now: Optional[float] = None) -> str:
    """Base64url without padding, so that the token is a valid websocket subprotocol name."""
    expires = int((now if now is not None else time.time()) + lifetime_seconds)
    claims = json.dumps({"agent": agent, "exp": expires, "gen": generation}).encode()
    payload = base64.urlsafe_b64encode(claims).decode().rstrip("=")
    return f"{payload}.{_sign(secret, payload.encode())}"


def verify_token(secret: str, token: str, now: Optional[float] = None) -> TokenClaims:
    """The agent's name and the generation it was issued in, if the token is genuine and
    unexpired (whether that generation is still current is the directory's to say)."""
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
    return TokenClaims(str(claims["agent"]), int(claims.get("gen", 0)))


_NO_PASSWORD = ("no password given: type it at a terminal, pipe it in (printf 'password\\n' | make agent NAME=ann) "
                "or set HANDOFF_AGENT_PASSWORD")


def _password(name: str) -> str:
    """Asked at a terminal; else the first line piped in (getpass would read the terminal, or end in EOFError
    without one). ValueError (a one-line error, exit 2) when none is given."""
    if sys.stdin.isatty():
        try:
            return getpass.getpass(f"password for {name}: ")
        except EOFError:
            raise ValueError(_NO_PASSWORD) from None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValueError(_NO_PASSWORD)
    return password


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Manage the agents who can log in to the console.")
    parser.add_argument("command", choices=["add", "remove", "list"])
    parser.add_argument("name", nargs="?")
    parser.add_argument("--groups", default="all", help="comma-separated skill groups ('all' sees every queue)")
    parser.add_argument("--max-chats", type=int, default=3, help="conversations served at once")
    parser.add_argument("--roles", default="agent", help=f"comma-separated, from: {', '.join(ROLES)}")
    parser.add_argument("--display-name", default=None,
                        help="the name customers see (asked for when not given; default: the name, capitalised)")
    args = parser.parse_args(argv)
    # The bridge's own names and defaults (handoff.settings); no secret is needed to manage accounts.
    redis = Redis.from_url(os.environ.get("REDIS_URL", Settings.redis_url))
    directory = AgentDirectory(redis, os.environ.get("HANDOFF_KEY_PREFIX", Settings.key_prefix))

    async def run() -> int:
        try:
            if args.command == "list":
                for name, profile in (await directory.profiles()).items():
                    print(f"{name}\troles={','.join(profile['roles'])}\tgroups={','.join(profile['groups'])}"
                          f"\tmax_chats={profile['max_chats']}\tshown_as={profile['display_name']}")
                return 0
            if not args.name:
                parser.error("a name is needed")
            if args.command == "remove":
                removed = await directory.remove(args.name)
                print(f"removed {args.name} (logged out everywhere)" if removed else f"no agent {args.name}")
                return 0 if removed else 1
            password = os.environ.get("HANDOFF_AGENT_PASSWORD") or _password(args.name)
            groups = [group.strip() for group in args.groups.split(",") if group.strip()]
            roles = [role.strip() for role in args.roles.split(",") if role.strip()]
            display_name = args.display_name
            if display_name is None:  # a reset keeps the name customers know
                current = (await directory.profile(args.name))["display_name"]
                display_name = (input(f"name customers see [{current}]: ") if sys.stdin.isatty() else "") or current
            await directory.add(args.name, password, groups, args.max_chats, roles, display_name)
            shown = (await directory.profile(args.name))["display_name"]
            print(f"{args.name} can now log in ({', '.join(roles)}); customers see {shown!r}; "
                  "earlier logins are signed out")
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
