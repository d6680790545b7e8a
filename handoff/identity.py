"""A customer's signed identity, sans I/O (docs/identity.md).

A host site that knows its customer signs ``{id, name, email, issued_at}`` with HMAC-SHA256 and a
secret it shares with the bridge (HANDOFF_IDENTITY_SECRET); the widget passes the result on in its
``hello``. The token is ``<payload>.<signature>``: the payload is the JSON object's UTF-8 bytes in
base64url, the signature the HMAC of the payload's base64url text, in base64url too (no padding in
either; only the canonical encoding is read: no variant that decodes to the same bytes). Signing the text as sent means the site's JSON needs no canonical form: the bridge checks
the bytes it got, and only then reads them.

Nothing unsigned is believed: the signature is checked (in constant time, against each secret of a
rotation) before the payload is even decoded; then every field strictly (no other fields, the id a
plain token of at most 128 characters, the name readable text, the email an address); then its age:
issued at most ``max_age`` ago and not later than a little clock skew ahead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Sequence

from handoff.contact import MAX_EMAIL, contact_kind
from handoff.exceptions import InvalidContact, InvalidIdentity
from handoff.protocol import readable

__all__ = ["CLOCK_SKEW_SECONDS", "CONTACT_ID", "Identity", "MAX_ID", "MAX_NAME", "MAX_TOKEN", "sign", "verify"]

# Longest accepted token: four fields at their caps, in base64, fit well within it.
MAX_TOKEN = 2048
MAX_ID, MAX_NAME = 128, 120
# A site's clock may run this far ahead of the bridge's.
CLOCK_SKEW_SECONDS = 300
# The site's own customer id: letters, digits and a few separators (it names Redis keys and is shown as is).
CONTACT_ID = re.compile(r"[A-Za-z0-9._:@+\-]{1,%d}" % MAX_ID)
_BASE64URL = re.compile(r"[A-Za-z0-9_\-]+")
_FIELDS = {"id", "name", "email", "issued_at"}


@dataclass(frozen=True)
class Identity:
    """Who the site says its customer is; every field as signed."""

    id: str
    name: str
    email: str
    issued_at: int


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    """The bytes of canonical base64url text only: no padding, no other alphabet, and none of the variants that
    decode to the same bytes (spare bits set in the last character), so that one identity has one token."""
    malformed = InvalidIdentity("the identity is not two base64url parts joined by '.'")
    if not _BASE64URL.fullmatch(text):
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise malformed from None
    if _encode(raw) != text:
        raise InvalidIdentity("the identity is not in canonical base64url (unpadded, as a site's encoder makes it)")
    return raw


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


def sign(secret: str, fields: Dict[str, Any]) -> str:
    """The token a site's server makes (the Python snippet of docs/identity.md does the same)."""
    payload = _encode(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_encode(_mac(secret, payload))}"


def _signed_payload(token: Any, secrets: Sequence[str]) -> bytes:
    if not secrets:
        raise InvalidIdentity("this bridge accepts no signed identity (HANDOFF_IDENTITY_SECRET is not set)")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
        raise InvalidIdentity(f"'identity' must be a signed identity of at most {MAX_TOKEN} characters")
    payload, dot, signature = token.partition(".")
    if not dot or not payload or "." in signature:
        raise InvalidIdentity("the identity is not two base64url parts joined by '.'")
    given = _decode(signature)
    # Every secret is tried, whichever matches: the time taken says nothing about which, or how close.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, _mac(secret, payload))
    if not matched:
        raise InvalidIdentity("the identity's signature is wrong (signed with another secret, or changed)")
    return _decode(payload)


def _fields(raw: bytes) -> Identity:
    try:
        fields = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidIdentity("the identity's payload is not JSON in UTF-8") from None
    if not isinstance(fields, dict) or not {"id", "issued_at"} <= set(fields) or set(fields) - _FIELDS:
        raise InvalidIdentity("the identity must be an object of 'id', 'issued_at' and optionally 'name', 'email'")
    contact_id, issued_at = fields["id"], fields["issued_at"]
    name, email = fields.get("name", ""), fields.get("email", "")
    if not isinstance(contact_id, str) or not CONTACT_ID.fullmatch(contact_id):
        raise InvalidIdentity(f"'id' must be 1-{MAX_ID} letters, digits or . _ : @ + -")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool) or not 0 < issued_at < 2**41:
        raise InvalidIdentity("'issued_at' must be the signing time in whole seconds since 1970")
    if not isinstance(name, str) or len(name) > MAX_NAME or readable(name) != name or "\n" in name or "\t" in name:
        raise InvalidIdentity(f"'name' must be one line of at most {MAX_NAME} readable characters")
    if not isinstance(email, str) or len(email) > MAX_EMAIL:
        raise InvalidIdentity("'email' must be an email address")
    if email:
        try:
            if contact_kind(email) != "email":
                raise InvalidContact(email)
        except InvalidContact:
            raise InvalidIdentity("'email' must be an email address") from None
    return Identity(contact_id, name.strip(), email.strip(), issued_at)


def verify(token: Any, secrets: Sequence[str], now: float, max_age_seconds: int) -> Identity:
    """The identity a token proves, or InvalidIdentity (``identity_expired`` when only its age is wrong)."""
    identity = _fields(_signed_payload(token, secrets))
    if identity.issued_at > now + CLOCK_SKEW_SECONDS:
        raise InvalidIdentity("the identity was issued in the future: check the site's clock")
    if identity.issued_at < now - max_age_seconds:
        raise InvalidIdentity(f"the identity is older than {max_age_seconds} seconds: sign it again",
                              code="identity_expired")
    return identity
