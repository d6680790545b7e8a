"""``/api/agents/login`` and ``/api/agents/logout``: a staff account's token, and its end.

A login is JSON only, from an allowed origin, at a pace the throttle allows (handoff.guard);
the token it gives is offered as a websocket subprotocol, never put in a URL.
"""

from __future__ import annotations

import math
from typing import Optional

from sanic import Request, response
from sanic.exceptions import BadRequest
from sanic.response import HTTPResponse

from handoff.auth import issue_token, verify_token
from handoff.endpoints.context import bridge_of, client_of, log_refusal, settings_of
from handoff.endpoints.errors import http_error
from handoff.exceptions import AuthError, InvalidToken
from handoff.guard import LoginThrottle
from handoff.protocol import valid_unicode
from handoff.refusals import Refusal
from handoff.settings import Settings

__all__ = ["login", "logout"]


async def login(request: Request) -> HTTPResponse:
    """JSON only (a form or text/plain is what another site's page can send without asking),
    from an allowed origin, at a pace the throttle allows (handoff.guard)."""
    settings = settings_of(request)
    if refusal := _browser_post_refused(request, settings):
        return refusal
    try:
        body = request.json
    except BadRequest:  # not JSON
        body = None
    name, password = (body.get("name"), body.get("password")) if isinstance(body, dict) else (None, None)
    if not isinstance(name, str) or not isinstance(password, str) or not valid_unicode(name + password):
        return http_error(400, "malformed", "send {name, password}")
    throttle: LoginThrottle = request.app.ctx.throttle
    client = client_of(request)  # behind trusted proxies, the address they vouch for (handoff.trust)
    wait = await throttle.retry_after(client, name)
    if wait > 0:
        bridge_of(request).metrics["login_throttled"] += 1
        log_refusal(request, Refusal.LOGIN, f"held back for {math.ceil(wait)} s (too many failures)", name)
        return http_error(429, "too_many_attempts", "too many failed logins; wait before trying again",
                          headers={"Retry-After": str(math.ceil(wait))})
    agents = bridge_of(request).agents
    try:
        await agents.check(name, password)
    except AuthError as error:
        bridge_of(request).metrics["login_failures"] += 1
        log_refusal(request, Refusal.LOGIN, "wrong name or password", name)
        await throttle.failed(client, name)
        return http_error(401, error.code, str(error))
    await throttle.succeeded(name)
    token = issue_token(settings.secret, name, settings.agent_token_seconds, await agents.generation(name))
    profile = await agents.profile(name)
    if "agent" in profile["roles"]:
        await bridge_of(request).agent_arrived(name, logged_in=True)  # a login starts available (handoff.agentstatus)
    return response.json({"agent": name, "display_name": profile["display_name"], "token": token,
                          "expires_in": settings.agent_token_seconds, "roles": profile["roles"]})


async def logout(request: Request) -> HTTPResponse:
    """Ends every login of the account (``Authorization: Bearer <token>``): its tokens stop
    working, and its open sockets are closed at their next heartbeat."""
    settings = settings_of(request)
    if refusal := _browser_post_refused(request, settings):
        return refusal
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise InvalidToken("send Authorization: Bearer <token>")
        claims = verify_token(settings.secret, token.strip())
        agents = bridge_of(request).agents
        if claims.generation != await agents.generation(claims.agent):
            raise InvalidToken("this login has ended already")
        await agents.revoke(claims.agent)
    except AuthError as error:
        log_refusal(request, Refusal.TOKEN, f"logout: {error.code}")
        return http_error(401, error.code, str(error))
    return response.json({"logged_out": claims.agent})


def _browser_post_refused(request: Request, settings: Settings) -> Optional[HTTPResponse]:
    """A POST that a page on another site could make its visitors' browsers send: refused."""
    if not settings.origin_allowed(request.headers.get("origin")):
        log_refusal(request, Refusal.ORIGIN, f"{request.path} from origin {request.headers.get('origin')!r}")
        return http_error(403, "forbidden_origin", "requests from this origin are not allowed")
    if (request.content_type or "").split(";")[0].strip().lower() != "application/json":
        return http_error(415, "unsupported_media_type", "send application/json")
    return None
