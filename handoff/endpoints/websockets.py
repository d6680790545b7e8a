"""The websocket endpoints: ``/ws/customer``, and for staff ``/ws/agent``, ``/ws/supervisor``, ``/ws/content``.

Each checks the Origin (and a staff member's token, offered as a subprotocol, and role), takes one
of the connection slots (handoff.limits), then serves its role's connection (handoff.connections)
until the socket closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any, Awaitable, Callable, Optional

from sanic import Request
from websockets.exceptions import ConnectionClosed

from handoff.connections import (
    AgentConnection, Connection, ContentConnection, CustomerConnection, SupervisorConnection,
)
from handoff.connections.base import Handlers, send_error, serve
from handoff.connections.logins import Login, watch_login
from handoff.endpoints.context import bridge_of, client_of, log_refusal, settings_of
from handoff.exceptions import AuthError, HandoffError, InvalidToken, LimitReached
from handoff.guard import SUBPROTOCOL, token_from_protocols
from handoff.presence import OpenSockets
from handoff.protocol import Envelope, error_envelope
from handoff.refusals import Refusal

__all__ = ["agent", "content", "customer", "supervisor"]

logger = logging.getLogger(__name__)


async def refused(request: Request, ws: Any) -> bool:
    """Checks the Origin; tells the client why it is refused."""
    if settings_of(request).origin_allowed(request.headers.get("origin")):
        return False
    reason = ("forbidden_origin", f"origin {request.headers.get('origin')!r} is not allowed")
    bridge_of(request).metrics["refused_connections"] += 1
    log_refusal(request, Refusal.ORIGIN, f"{request.path} from origin {request.headers.get('origin')!r}")
    await ws.send(Envelope("error", None, {"code": reason[0], "message": reason[1]}).to_json())
    return True


async def run(connection: Connection, request: Request, handlers: Handlers,
              first: Optional[Callable[[], Awaitable[None]]] = None, watch: Optional[Login] = None,
              staff: bool = False) -> None:
    """Serves the socket; with ``watch``, a login checked as an agent's heartbeat checks it.
    A staff member's socket takes a staff slot: anonymous sockets cannot use those up."""
    sockets: OpenSockets = request.app.ctx.sockets
    slot = secrets.token_hex(8)
    try:
        await sockets.opened(slot, client_of(request), connection, staff)  # the connection caps (handoff.limits)
    except LimitReached as error:
        bridge_of(request).metrics["refused_connections"] += 1
        log_refusal(request, Refusal.CONNECTIONS, f"{request.path}: {error}")
        await send_error(connection, error)
        return
    except Exception:  # noqa: BLE001 - Redis away: said without its details, which go to the log
        logger.exception("opening a connection slot failed")
        bridge_of(request).metrics["errors_internal"] += 1
        await send_error(connection, HandoffError("something went wrong on our side; please reconnect"))
        with contextlib.suppress(ConnectionClosed):
            await connection.ws.close(code=1011, reason="try again")
        return
    bridge_of(request).metrics["connections"] += 1
    watcher = asyncio.create_task(watch_login(connection.ws, connection.bridge, watch)) if watch else None
    try:
        if first:
            await first()
        await serve(connection, handlers)
    except ConnectionClosed:
        pass
    finally:
        if watcher:
            watcher.cancel()
        # Sanic cancels the handler when the client goes away; the clean-up
        # (presence, subscriptions, the connection's slot) must still run to the end.
        await asyncio.shield(_close(connection, sockets, slot))


async def authorised(request: Request, ws: Any, role: str) -> Optional[Login]:
    """The account when its token (a subprotocol, never in the URL) is valid and current, and
    it has ``role``; else tells why."""
    try:
        token = token_from_protocols(request.headers.get("sec-websocket-protocol"))
        if not token:
            raise InvalidToken(f"offer the subprotocols {SUBPROTOCOL!r} and 'token.<your login token>'")
        name, generation = await bridge_of(request).agents.current_login(settings_of(request).secret, token, {role})
    except AuthError as error:
        log_refusal(request, Refusal.TOKEN, f"{request.path}: {error.code} ({error})")
        await ws.send(error_envelope(error).to_json())
        return None
    except Exception:  # noqa: BLE001 - Redis away: said without its details, which go to the log
        logger.exception("checking a login failed")
        failure = HandoffError("something went wrong on our side; please reconnect")
        await ws.send(error_envelope(failure).to_json())
        await ws.close(code=1011, reason="try again")
        return None
    return Login(name, generation)


async def customer(request: Request, ws: Any) -> None:
    if await refused(request, ws):
        return
    connection = CustomerConnection(ws, bridge_of(request), client_of(request), request.app.ctx.sockets)
    await run(connection, request, connection.handlers(), first=connection.start)


async def agent(request: Request, ws: Any) -> None:
    if await refused(request, ws):
        return
    login = await authorised(request, ws, "agent")
    if login is None:
        return
    connection = AgentConnection(ws, bridge_of(request), login.agent, login.generation)
    await run(connection, request, connection.handlers(), first=connection.start, staff=True)


async def supervisor(request: Request, ws: Any) -> None:
    if await refused(request, ws):
        return
    login = await authorised(request, ws, "supervisor")
    if login is None:
        return
    connection = SupervisorConnection(ws, bridge_of(request), login.agent)
    await run(connection, request, connection.handlers(), first=connection.start, watch=login, staff=True)


async def content(request: Request, ws: Any) -> None:
    if await refused(request, ws):
        return
    login = await authorised(request, ws, "content")
    if login is None:
        return
    connection = ContentConnection(ws, bridge_of(request), request.app.ctx.teach, login.agent)
    await run(connection, request, connection.handlers(), first=connection.start, watch=login, staff=True)


async def _close(connection: Connection, sockets: OpenSockets, slot: str) -> None:
    """The connection's own clean-up, then its slot back (handoff.limits), whatever happens."""
    try:
        await connection.close()
    finally:
        await sockets.closed(slot)
