"""What a request's handler reads from the app: the bridge, the settings and who the client is.

``create_app`` puts the settings, the trusted proxies, the refusal log and the canned responses
on ``app.ctx``;
the bridge, the teaching store, the login throttle and the open sockets are added at start-up
(handoff.lifecycle).
"""

from __future__ import annotations

from typing import Optional

from sanic import Request

from handoff.refusals import Refusal, RefusalLog
from handoff.service import Bridge
from handoff.settings import Settings
from handoff.trust import client_address

__all__ = ["bridge_of", "client_of", "log_refusal", "settings_of"]


def bridge_of(request: Request) -> Bridge:
    return request.app.ctx.bridge


def settings_of(request: Request) -> Settings:
    return request.app.ctx.settings


def client_of(request: Request) -> str:
    """The client's address: the peer's, or a trusted proxy's word for it (handoff.trust)."""
    return client_address(request.ip, request.headers, request.app.ctx.trusted_proxies)


def log_refusal(request: Request, kind: Refusal, why: str, account: Optional[str] = None) -> None:
    """One warning line for a refused client, rate-limited per kind (handoff.refusals)."""
    refusals: RefusalLog = request.app.ctx.refusals
    refusals.refused(kind, client_of(request), why, account)
