"""Every HTTP error in the bridge's JSON shape, and what no route can serve refused first.

Errors are ``{"error": {"code", "message"}}`` (docs/bridge-protocol.md), Sanic's own (404,
405, ...) too; a request addressed to a host name not configured, or with two ``Host`` headers, is refused
before anything else.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional
from urllib.parse import unquote

from sanic import Request, response
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from handoff.endpoints.context import settings_of
from handoff.endpoints.static import widget_file
from handoff.guard import host_name

__all__ = ["HTTP_ERROR_CODES", "http_error", "in_json", "known_host", "refuse_what_no_route_serves"]

logger = logging.getLogger(__name__)


def http_error(status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    """Every HTTP error is ``{"error": {"code", "message"}}`` (docs/bridge-protocol.md)."""
    return response.json({"error": {"code": code, "message": message}}, status=status, headers=headers)


HTTP_ERROR_CODES = {400: "malformed", 401: "invalid_token", 404: "not_found", 405: "method_not_allowed",
                    413: "too_large", 416: "range_not_satisfiable"}


async def refuse_what_no_route_serves(request: Request) -> Optional[HTTPResponse]:
    """Requests that no route can serve, refused before they reach one (where they would fail with a 500)."""
    path = request.path
    if (path == "/widget" or path.startswith("/widget/")) and not widget_file(unquote(path[len("/widget/"):])):
        return http_error(404, "not_found", "no such file")  # Sanic's static files fail on many such with a 500
    if path.startswith("/ws/") and request.headers.get("upgrade", "").lower() != "websocket":
        return http_error(426, "upgrade_required", "a websocket endpoint: connect with a websocket client",
                          headers={"Upgrade": "websocket"})
    return None


async def in_json(request: Request, error: Exception) -> HTTPResponse:
    """Sanic's own HTTP errors (404, 405, ...) in the bridge's JSON shape too; a failure's details go to the log."""
    status = (getattr(error, "status_code", None) or 500) if isinstance(error, SanicException) else 500
    if status >= 500:
        # The traceback goes to the log; the client learns nothing of addresses or exceptions.
        logger.error("%s %s failed", request.method, request.path, exc_info=error)
        return http_error(500, "internal_error", "something went wrong on our side; please try again")
    return http_error(status, HTTP_ERROR_CODES.get(status, "bad_request"), str(error),
                      getattr(error, "headers", None))


async def known_host(request: Request) -> Optional[HTTPResponse]:
    """Every request and websocket addressed to a host name not configured is refused first: a
    hostile name pointed at the bridge (DNS rebinding) reaches nothing. A request with two ``Host`` headers is
    400 (RFC 9112 3.2): which one a proxy in front would have used cannot be known."""
    if len(request.headers.getall("host", [])) > 1:
        return http_error(400, "malformed", "a request must have one Host header")
    if host_name(request.headers.get("host")) not in settings_of(request).allowed_hosts:
        return http_error(421, "unknown_host", "this server does not answer to that host name")
    return None
