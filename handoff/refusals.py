"""One warning line in the log per refusal, with who was refused (docs/security.md "What is logged").

A wrong password, a login held back, a forbidden origin, a forged or stale token, a connection
cap: each is counted in /metrics and also logged once, with the client's address (and the account
for a login), so that an operator can see who is at the door. A flood of refusals must not fill
the disk: each kind writes at most ``lines_per_second`` lines a second, and the next line of that
kind says how many were left out meanwhile.
"""

from __future__ import annotations

import logging
import time
from enum import Enum
from typing import Callable, Dict, Optional, Tuple

__all__ = ["LINES_PER_SECOND", "Refusal", "RefusalLog"]

logger = logging.getLogger("handoff.refusals")

LINES_PER_SECOND = 10  # per kind of refusal


class Refusal(str, Enum):
    LOGIN = "login"  # a wrong password or an unknown account, or a login held back (429)
    ORIGIN = "origin"  # a page of a site that is not allowed
    TOKEN = "token"  # a socket or logout with a missing, forged, expired or revoked token, or without the role
    CONNECTIONS = "connections"  # a connection cap (handoff.limits)


class RefusalLog:
    """At most ``lines_per_second`` warnings a second for each kind; the rest counted, and said later."""

    def __init__(self, lines_per_second: int = LINES_PER_SECOND,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lines_per_second, self.clock = lines_per_second, clock
        self._second: Dict[Refusal, Tuple[int, int]] = {}  # kind -> (which second, lines written in it)
        self.suppressed: Dict[Refusal, int] = {}

    def refused(self, kind: Refusal, address: str, why: str, account: Optional[str] = None) -> bool:
        """Logs one refusal unless its kind has written its lines this second; True if logged.
        Whatever a client chose (an account name, an origin) is written with repr(): no line of theirs
        can forge another."""
        second = int(self.clock())
        current, written = self._second.get(kind, (second, 0))
        if current != second:
            written = 0
        if written >= self.lines_per_second:
            self._second[kind] = (second, written)
            self.suppressed[kind] = self.suppressed.get(kind, 0) + 1
            return False
        self._second[kind] = (second, written + 1)
        left_out = self.suppressed.pop(kind, 0)
        logger.warning("refused %s: address=%s%s %s%s", kind.value, address,
                       f" account={account!r}" if account is not None else "", why,
                       f" ({left_out} more {kind.value} refusals suppressed)" if left_out else "")
        return True
