"""What the bridge checks before anything else, so that nothing is guessed or spoofed (docs/security.md).

- ``Host``: only the configured names (DNS rebinding points a hostile name at the bridge).
- ``Origin``: only the bridge's own pages (on the configured hosts, never whatever ``Host`` says)
  and the listed sites.
- Logins: failures counted per client address (an IPv6 client per network: handoff.trust) and per
  account in Redis (every bridge process sees them); past a few free attempts each failure doubles the time before the next attempt is heard.
- Agent sockets carry the login token in the ``Sec-WebSocket-Protocol`` header, never in the URL.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Optional, Sequence, Tuple

from redis.asyncio import Redis

from handoff.trust import address_group

__all__ = ["LoginThrottle", "SUBPROTOCOL", "TOKEN_PROTOCOL_PREFIX", "host_name", "own_origins", "token_from_protocols"]

# Agent, supervisor and content sockets: the client offers ["handoff", "token.<token>"]; the bridge picks "handoff".
SUBPROTOCOL = "handoff"
TOKEN_PROTOCOL_PREFIX = "token."


# A Host header as RFC 9110 allows it: a name or IPv4 address, or an IPv6 address in brackets, and an optional
# port of at most 5 digits; nothing before or after (no user, path, spaces or second port).
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?")


def host_name(header: Optional[str]) -> str:
    """The name in a ``Host`` header, without its port, lower case; "" when there is none or the
    header is malformed (which no configured name matches)."""
    found = _HOST.fullmatch((header or "").strip().lower())
    if found is None or (found["port"] is not None and not 0 < int(found["port"]) < 65536):
        return ""
    return found["ipv6"] or found["name"]


def own_origins(hosts: Iterable[str], port: int) -> Tuple[str, ...]:
    """The origins of pages the bridge serves itself: on its configured host names, directly
    or behind a (TLS) proxy, on the bridge's port or the default ones."""
    names = [f"[{host}]" if ":" in host else host for host in hosts]
    return tuple(f"{scheme}://{name}{suffix}" for name in names for scheme in ("http", "https")
                 for suffix in (f":{port}", ""))


def token_from_protocols(header: Optional[str]) -> str:
    """The token an agent's socket offered as a subprotocol ("" when none)."""
    for offered in (header or "").split(","):
        offered = offered.strip()
        if offered.startswith(TOKEN_PROTOCOL_PREFIX):
            return offered[len(TOKEN_PROTOCOL_PREFIX):]
    return ""


# KEYS[1] the failure count, KEYS[2] the hold; ARGV: free attempts, longest hold (s), window (s).
# The count and the hold change together, so two processes' failures both count.
_FAILED = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local over = count - tonumber(ARGV[1])
if over > 0 then
  local hold = math.min(tonumber(ARGV[2]), 2 ^ (over - 1))
  redis.call('SET', KEYS[2], count, 'PX', math.floor(hold * 1000))
end
return count
"""


class LoginThrottle:
    """Failed logins per client address and per account (``{prefix}:login:fails:*`` counts and
    ``{prefix}:login:hold:*`` holds, docs/security.md "Limits").

    The first ``free`` failures cost nothing; then each one holds the next attempt back for 1, 2,
    4 ... seconds, up to ``longest`` seconds, until ``window`` seconds pass without a failure. A
    hold answers at once (429 with ``Retry-After``) instead of keeping a request open.
    """

    def __init__(self, redis: Redis, prefix: str, free_per_account: int, free_per_address: int,
                 longest_seconds: int, window_seconds: int, ipv6_prefix: int) -> None:
        self.redis, self.ipv6_prefix = redis, ipv6_prefix
        self.prefix = prefix
        self.free = {"account": free_per_account, "address": free_per_address}
        self.longest, self.window = longest_seconds, window_seconds
        self._failed = redis.register_script(_FAILED)

    def _keys(self, scope: str, who: str) -> Sequence[str]:
        # Hashed: an account name or address of any length makes a key of one size.
        if scope == "address":
            who = address_group(who, self.ipv6_prefix)
        digest = hashlib.sha256(who.lower().encode()).hexdigest()[:32]
        return f"{self.prefix}:login:fails:{scope}:{digest}", f"{self.prefix}:login:hold:{scope}:{digest}"

    async def retry_after(self, address: str, account: str) -> float:
        """Seconds until this address may try this account again (0: now)."""
        holds = [self._keys("address", address)[1], self._keys("account", account)[1]]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in holds:
                pipe.pttl(key)
            remaining = await pipe.execute()
        return max(0, *remaining) / 1000

    async def failed(self, address: str, account: str) -> None:
        for scope, who in (("address", address), ("account", account)):
            await self._failed(keys=list(self._keys(scope, who)),
                               args=[self.free[scope], self.longest, self.window])

    async def succeeded(self, account: str) -> None:
        """The right password ends the account's count (not the address's: one good account
        must not buy an address more guesses at the others)."""
        await self.redis.delete(*self._keys("account", account))
