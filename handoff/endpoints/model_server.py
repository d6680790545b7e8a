"""``/api/models/current``: Rasa's model server protocol, so every Rasa replica runs the deployed model."""

from __future__ import annotations

import hmac

from sanic import Request, response
from sanic.response import HTTPResponse

from teaching.store import TeachStore
from handoff.endpoints.context import settings_of
from handoff.endpoints.errors import http_error

__all__ = ["current_model"]


async def current_model(request: Request) -> HTTPResponse:
    """Rasa's model server protocol: every Rasa replica pulls the deployed model
    from here (endpoints.yml ``models``), sending the one it has as If-None-Match."""
    settings = settings_of(request)
    token = request.args.get("token", "").encode()  # as bytes: compare_digest refuses non-ASCII text
    if not settings.model_server_token or not hmac.compare_digest(token, settings.model_server_token.encode()):
        return http_error(401, "invalid_token", "a valid ?token= is needed")
    teach: TeachStore = request.app.ctx.teach
    model_id = await teach.current()
    blob = await teach.model_blob(model_id) if model_id else None
    if model_id is None or blob is None:
        return http_error(404, "not_found", "no model is deployed")
    etag = f'"{model_id}"'
    known = request.headers.get("if-none-match", "").removeprefix("W/").strip('"')
    if known == model_id:
        return response.empty(status=304, headers={"ETag": etag})
    return response.raw(blob, content_type="application/gzip",
                        headers={"ETag": etag, "filename": f"{model_id}.tar.gz"})
