"""The bridge's Sanic application: :func:`create_app` and its route table.

Handlers only parse, validate and dispatch to :class:`handoff.service.Bridge`. The HTTP
endpoints are in :mod:`handoff.endpoints`, each role's websocket connection (one handler per
message type) in :mod:`handoff.connections`, and what starts and stops with the server in
:mod:`handoff.lifecycle`. ``/metrics`` and ``/ready`` are on the loopback-only admin port
(:mod:`handoff.endpoints.admin`).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Coroutine, List, NamedTuple, Optional, Sequence

from sanic import Sanic
from sanic.response import HTTPResponse

from handoff import lifecycle
from handoff.canned import load_canned_responses
from handoff.endpoints import attachments, errors, health, login, model_server, static, websockets
from handoff.guard import SUBPROTOCOL
from handoff.refusals import RefusalLog
from handoff.settings import Settings
from handoff.trust import parse_networks

__all__ = ["ROUTES", "Route", "create_app"]

_app_numbers = itertools.count()


class Route(NamedTuple):
    """A path, its handler, and how it is reached: an HTTP method, or ``"websocket"``."""

    path: str
    handler: Callable[..., Coroutine[Any, Any, Optional[HTTPResponse]]]
    kind: str
    subprotocols: Sequence[str] = ()  # a websocket's; staff offer their login token as one (handoff.guard)
    stream: bool = False  # the handler reads the body itself (an upload, capped while it is read)


STAFF = (SUBPROTOCOL,)

ROUTES: List[Route] = [
    Route("/", static.demo, "GET"),
    Route("/console", static.console, "GET"),
    Route("/health", health.health, "GET"),
    Route("/api/models/current", model_server.current_model, "GET"),
    Route("/api/agents/login", login.login, "POST"),
    Route("/api/agents/logout", login.logout, "POST"),
    Route("/api/conversations/<conversation_id:str>/attachments", attachments.upload, "POST", stream=True),
    Route("/api/conversations/<conversation_id:str>/attachments", attachments.preflight, "OPTIONS"),
    Route("/api/conversations/<conversation_id:str>/attachments/<file_id:str>", attachments.file, "GET"),
    Route("/api/conversations/<conversation_id:str>/attachments/<file_id:str>", attachments.preflight, "OPTIONS"),
    Route("/ws/customer", websockets.customer, "websocket"),
    Route("/ws/agent", websockets.agent, "websocket", STAFF),
    Route("/ws/supervisor", websockets.supervisor, "websocket", STAFF),
    Route("/ws/content", websockets.content, "websocket", STAFF),
]
WIDGET_FILES = "/widget"  # and under it, the widget's and the console's files (static.WIDGET_DIR)


def create_app(settings: Settings, name: Optional[str] = None) -> Sanic:
    """Build the bridge app; Redis and HTTP clients are created at start-up and closed at shutdown."""
    app = Sanic(name or f"handoff{next(_app_numbers)}")
    # Frames up to this size get a structured "too_large" reply from our own
    # check; only absurd ones make the websocket library close the connection.
    app.config.WEBSOCKET_MAX_SIZE = max(1 << 20, settings.max_message_bytes * 8)
    app.ctx.settings = settings
    app.ctx.trusted_proxies = parse_networks(settings.trusted_proxies)
    app.ctx.refusals = RefusalLog()
    app.ctx.canned = load_canned_responses(Path(settings.canned_responses), settings.max_text_characters)
    app.middleware(errors.known_host, attach_to="request", priority=100)  # before anything else
    # use_content_range: a HEAD says the file's true length (uptime and link checkers), as GET would.
    app.static(WIDGET_FILES, str(static.WIDGET_DIR), name="widget_files", use_content_range=True)
    for number, route in enumerate(ROUTES):
        if route.kind == "websocket":
            app.add_websocket_route(route.handler, route.path, subprotocols=list(route.subprotocols) or None)
        else:
            # HEAD answers as GET does, without the body (Sanic drops it and keeps its length).
            app.add_route(route.handler, route.path, methods=[route.kind, "HEAD"] if route.kind == "GET" else [route.kind],
                          stream=route.stream, name=f"{route.handler.__name__}_{number}")  # one handler, several paths
    app.on_response(static.browser_headers)
    app.on_request(errors.refuse_what_no_route_serves)
    app.exception(Exception)(errors.in_json)
    app.before_server_start(lifecycle.start)
    app.after_server_stop(lifecycle.stop)
    return app
