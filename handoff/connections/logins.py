"""A socket's access ends with its login: logged out, a new password or the account removed.

Agents' sockets check at their presence heartbeat (handoff.connections.agent); supervisors' and
content editors' sockets, which have none, are watched at the same pace by :func:`watch_login`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, NamedTuple

from handoff.service import Bridge

__all__ = ["HEARTBEAT_SECONDS", "Login", "ended_if_revoked", "watch_login"]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10


class Login(NamedTuple):
    """Who a socket's token says it is, and the generation it was issued in."""

    agent: str
    generation: int


async def ended_if_revoked(ws: Any, bridge: Bridge, login: Login) -> bool:
    """Logged out, a new password, or the account removed: the socket's access ends with its login."""
    if await bridge.agents.generation(login.agent) == login.generation:
        return False
    await ws.close(code=4401, reason="login revoked; log in again")
    return True


async def watch_login(ws: Any, bridge: Bridge, login: Login) -> None:
    """For supervisors' and content editors' sockets, which have no heartbeat of their own."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS * random.uniform(0.5, 1.0))
        try:
            if await ended_if_revoked(ws, bridge, login):
                return
        except Exception:  # noqa: BLE001 - a Redis blip: the next round checks again
            logger.exception("checking %s's login failed", login.agent)
