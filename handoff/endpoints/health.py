"""``/health`` on the public port: a liveness check that tells nothing.

Readiness, metrics and the queue's figures are for the operators only, on the loopback-only
admin port (handoff.endpoints.admin).
"""

from __future__ import annotations

from sanic import Request, response
from sanic.response import HTTPResponse

__all__ = ["health"]


async def health(request: Request) -> HTTPResponse:
    return response.json({"status": "ok"})
