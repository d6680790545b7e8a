"""``/api/conversations/<id>/attachments``: a customer or an agent sends a file; the conversation's people read it.

Who asks is said in ``Authorization``: ``Conversation <the customer's conversation token>`` or ``Bearer
<an agent's login token>``; the customer of a signed-in customer's conversation also sends ``X-Identity``: their
signed identity, as their ``hello`` does (docs/identity.md), else ``identity_required``. An upload is the file's bytes as the body (``X-File-Name``: its name,
percent-encoded, masked like anything a customer types: handoff.privacy; ``X-Client-Id``: an idempotency
key), read only up to HANDOFF_MAX_ATTACHMENT_BYTES, counted against the upload caps before it is read,
and checked for what it is by its content (handoff.filecheck, in a worker thread: a 10 MB PNG takes a
tenth of a second to inflate). A file is
served with the type it was stored as, never the client's, and headers that keep a browser from doing
anything but show it (docs/security.md "Attachments"). Browsers on the widget's other sites reach both
through CORS, for the allowed origins only.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any, Dict, Tuple
from urllib.parse import quote, unquote

from sanic import Request, response
from sanic.response import HTTPResponse

from handoff.attachments import masked_name
from handoff.endpoints.context import bridge_of, client_of, log_refusal, settings_of
from handoff.endpoints.errors import http_error
from handoff.exceptions import FileRefused, HandoffError, InvalidToken, LimitReached, MalformedMessage
from handoff.filecheck import check_file
from handoff.privacy import Masking, mask
from handoff.protocol import readable, valid_unicode
from handoff.refusals import Refusal

__all__ = ["ERROR_STATUS", "SERVED_POLICY", "file", "preflight", "upload"]

SERVED_POLICY = "default-src 'none'; sandbox"
MAX_CLIENT_ID = 100
MAX_NAME_HEADER = 1000
MAX_VIA = 64  # a conversation id, as the sockets' ``via``
# The HTTP status of each refusal (its code is the error's): docs/bridge-protocol.md "Attachments".
ERROR_STATUS: Dict[str, int] = {
    "malformed": 400, "invalid_token": 401, "invalid_identity": 401, "identity_expired": 401,
    "identity_required": 401, "forbidden": 403, "forbidden_origin": 403, "not_found": 404,
    "invalid_transition": 409, "transcript_full": 409, "conversation_closed": 409, "too_large": 413, "unsupported_type": 415,
    "disguised_file": 415, "malformed_file": 422, "unsafe_file": 422, "too_many_uploads": 429,
    "file_space_full": 507,
}
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_CORS_HEADERS = "Authorization, Content-Type, X-File-Name, X-Client-Id, X-Identity"


async def preflight(request: Request, conversation_id: str, file_id: str = "") -> HTTPResponse:
    """A browser's CORS preflight: allowed origins only."""
    if not request.headers.get("origin") or not _cors(request):
        return http_error(403, "forbidden_origin", "requests from this origin are not allowed")
    return response.empty(headers={
        **_cors(request), "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": _CORS_HEADERS,
        "Access-Control-Max-Age": "600"})


async def upload(request: Request, conversation_id: str) -> HTTPResponse:
    """A file into the conversation: ``201 {"message_id", "attachment"}``, or an error with its code."""
    try:
        _check_origin(request)
        client_id, encoded_name = request.headers.get("x-client-id", ""), request.headers.get("x-file-name", "")
        name = unquote(encoded_name, errors="replace")
        if (len(client_id) > MAX_CLIENT_ID or len(encoded_name) > MAX_NAME_HEADER
                or not _PRINTABLE_ASCII.fullmatch(client_id + encoded_name) or not valid_unicode(name)):
            raise HandoffError("X-Client-Id: at most 100 printable ASCII characters; X-File-Name: at most 1000, "
                               "percent-encoded", code="malformed")
        bridge = bridge_of(request)
        token, agent = await _who(request)
        sender = await bridge.attachments.sender(conversation_id, token, agent, _identity(request))
        # A customer's file name is text they typed: masked before anything keeps it (handoff.privacy), as
        # typed for the checks and as it is kept once cleaned (handoff.attachments.masked_name).
        masking = mask(readable(name)) if sender[0] == "customer" else Masking(name, ())
        await bridge.attachments.count_upload(sender, client_of(request))
        body = await _read_capped(request, settings_of(request).max_attachment_bytes)
        checked = await asyncio.to_thread(check_file, body, masking.text, request.headers.get("content-type", ""))
        kept_name, masked = masked_name(name, checked.kind) if sender[0] == "customer" else (name, ())
        message_id, attachment = await bridge.attachments.send(conversation_id, sender, checked, body, kept_name,
                                                               client_of(request), client_id)
        if masked:
            await bridge.customer_masked(conversation_id, masked)
    except HandoffError as error:
        if isinstance(error, FileRefused):
            bridge_of(request).metrics[f"attachments_refused_{error.code}"] += 1
        return _refused(request, error)
    bridge.metrics["attachments_stored"] += 1
    return response.json({"message_id": message_id, "attachment": attachment}, status=201, headers=_cors(request))


async def file(request: Request, conversation_id: str, file_id: str) -> HTTPResponse:
    """A file, to its conversation's customer and the agents who may read the conversation."""
    try:
        _check_origin(request)
        bridge = bridge_of(request)
        token, agent = await _who(request)
        await bridge.attachments.require_reader(conversation_id, token, agent, _identity(request), _via(request))
        attachment, body = await bridge.attachments.read(conversation_id, file_id)
    except HandoffError as error:
        return _refused(request, error)
    disposition = "inline" if attachment["type"].startswith("image/") else "attachment"
    name = attachment["name"]
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return response.raw(body, content_type=attachment["type"], headers={
        **_cors(request),
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": SERVED_POLICY,
        "Cache-Control": "private, no-store", "Cross-Origin-Resource-Policy": "same-origin",
    })


def _via(request: Request) -> str:
    """``?via=``: the conversation an agent reads this one's files through (the contact panel's history)."""
    via = request.args.get("via", "")
    if len(via) > MAX_VIA:
        raise MalformedMessage("'via' must be the id of a conversation of the same customer")
    return via


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if not settings_of(request).origin_allowed(origin):
        log_refusal(request, Refusal.ORIGIN, f"{request.path} from origin {origin!r}")
        raise HandoffError("requests from this origin are not allowed", code="forbidden_origin")


async def _who(request: Request) -> Tuple[str, str]:
    """(the customer's conversation token, '') or ('', the agent's name) from ``Authorization``."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "conversation" and credential:
        return credential, ""
    if scheme.lower() != "bearer" or not credential:
        raise InvalidToken("send Authorization: Conversation <conversation token> or Bearer <agent token>")
    claims = await bridge_of(request).agents.current_login(settings_of(request).secret, credential,
                                                          {"agent", "supervisor"})
    return "", claims.agent


def _identity(request: Request) -> str:
    """A signed-in customer's signed identity (``X-Identity``, as their ``hello`` sends it); '' without one."""
    return request.headers.get("x-identity", "").strip()


async def _read_capped(request: Request, most: int) -> bytes:
    """The body, refused as soon as it is larger than ``most`` (a Content-Length saying so: before reading)."""
    too_large = FileRefused(f"files may be at most {most // (1024 * 1024) or 1} MB ({most} bytes)", code="too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > most:
        raise too_large
    chunks, size = [], 0
    stream: Any = request.stream  # Sanic's HTTP/1 reader: read() gives the next chunk, None at the end
    while stream is not None and (chunk := await stream.read()) is not None:
        size += len(chunk)
        if size > most:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(request: Request, error: HandoffError) -> HTTPResponse:
    if error.code in ("invalid_token", "forbidden", "identity_required", "invalid_identity", "identity_expired"):
        log_refusal(request, Refusal.TOKEN, f"{request.path}: {error.code}")
    status = ERROR_STATUS.get(error.code, 409)
    headers = _cors(request)
    retry_at_ms = error.retry_at_ms if isinstance(error, LimitReached) else None
    if retry_at_ms is not None:  # the seconds to the end of the cap's window, or of the day
        headers = {**headers, "Retry-After": str(max(1, math.ceil(retry_at_ms / 1000 - time.time())))}
    return http_error(status, error.code, str(error), headers=headers)


def _cors(request: Request) -> Dict[str, str]:
    """CORS for a browser's request from an allowed origin (the widget on its sites)."""
    origin = request.headers.get("origin")
    if not origin or not settings_of(request).origin_allowed(origin):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Content-Disposition"}
