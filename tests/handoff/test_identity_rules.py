"""The signed identity's rules without I/O (handoff.identity): what is believed, and what is refused with
which code; the settings that configure it; the snippets docs/identity.md gives site developers (Python,
and Node.js run by ``node``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict

import pytest

from handoff.exceptions import InvalidIdentity
from handoff.identity import CLOCK_SKEW_SECONDS, MAX_ID, MAX_NAME, MAX_TOKEN, Identity, sign, verify
from handoff.settings import Settings

SECRET = "k" * 40
OLD_SECRET = "o" * 40
NOW = 1_800_000_000
DAY = 24 * 3600


def fields(**changes: Any) -> Dict[str, Any]:
    return {"id": "cust-42", "name": "Ada Lovelace", "email": "ada@example.com", "issued_at": NOW, **changes}


def refused(token: Any, secrets: Any = (SECRET,), now: float = NOW, code: str = "invalid_identity") -> str:
    with pytest.raises(InvalidIdentity) as refusal:
        verify(token, secrets, now, DAY)
    assert refusal.value.code == code
    return str(refusal.value)


def test_a_signed_identity_is_believed_with_every_field_as_signed() -> None:
    assert verify(sign(SECRET, fields()), (SECRET,), NOW, DAY) == Identity("cust-42", "Ada Lovelace",
                                                                           "ada@example.com", NOW)


def test_name_and_email_are_optional() -> None:
    assert verify(sign(SECRET, {"id": "7", "issued_at": NOW}), (SECRET,), NOW, DAY) == Identity("7", "", "", NOW)


def test_the_token_is_payload_dot_hmac_of_the_payload_text() -> None:
    """What docs/identity.md tells site developers, computed here by hand."""
    payload = base64.urlsafe_b64encode(json.dumps(fields()).encode()).rstrip(b"=").decode()
    mac = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    token = f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert verify(token, (SECRET,), NOW, DAY).id == "cust-42"


def test_any_secret_of_a_rotation_is_accepted_and_no_other() -> None:
    assert verify(sign(OLD_SECRET, fields()), (SECRET, OLD_SECRET), NOW, DAY).id == "cust-42"
    assert "signature" in refused(sign("x" * 40, fields()), (SECRET, OLD_SECRET))


def test_a_changed_payload_or_signature_is_refused() -> None:
    token = sign(SECRET, fields())
    payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(fields(id="cust-1")).encode()).rstrip(b"=").decode()
    assert "signature" in refused(f"{forged}.{signature}")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert "signature" in refused(f"{payload}.{flipped}")
    refused(f"{payload}.")


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def same_bytes_other_text(text: str) -> str:
    """The base64url ``text`` with its last character's unused low bits set: it decodes to the same bytes."""
    unused = {2: 4, 3: 2}[len(text) % 4]  # 2 characters carry 1 byte (4 bits spare), 3 carry 2 (2 spare)
    last = _ALPHABET.index(text[-1])
    return text[:-1] + _ALPHABET[last | ((1 << unused) - 1)]


def test_only_the_canonical_base64url_of_the_signature_and_payload_is_believed() -> None:
    """One token per identity: no padding, no '+' '/' alphabet, no spare bits set, no trailing garbage."""
    token = sign(SECRET, fields())
    payload, signature = token.split(".")
    assert len(signature) % 4 == 3  # 32 bytes: 43 characters, the last with 2 spare bits
    variant = same_bytes_other_text(signature)
    assert variant != signature and base64.urlsafe_b64decode(variant + "=") == base64.urlsafe_b64decode(signature + "=")
    refused(f"{payload}.{variant}")
    standard_alphabet = signature.replace("-", "+").replace("_", "/")
    for other in (signature + "=", standard_alphabet, signature + "A", signature + "AA", signature + "\n",
                  " " + signature):
        if other != signature:
            refused(f"{payload}.{other}")
    # A payload signed as sent but not canonical (spare bits set) is refused too: it is no site's encoder's.
    body = base64.urlsafe_b64encode(json.dumps(fields()).encode()).rstrip(b"=").decode()
    if len(body) % 4:
        odd = same_bytes_other_text(body)
        mac = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), odd.encode(), hashlib.sha256).digest())
        refused(f"{odd}.{mac.rstrip(b'=').decode()}")
    padded = base64.urlsafe_b64encode(json.dumps(fields(name="Ada")).encode()).decode()
    assert padded.endswith("=")
    mac = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), padded.encode(), hashlib.sha256).digest())
    refused(f"{padded}.{mac.rstrip(b'=').decode()}")
    assert verify(token, (SECRET,), NOW, DAY).id == "cust-42"  # the canonical one still is


@pytest.mark.parametrize("token", [
    None, 42, "", "nodot", "a.b.c", "***.***", "a" * (MAX_TOKEN + 1), ".abc", ["a.b"],
])
def test_what_is_no_token_is_refused(token: Any) -> None:
    refused(token)


def test_without_a_secret_no_identity_is_accepted() -> None:
    assert "HANDOFF_IDENTITY_SECRET" in refused(sign(SECRET, fields()), ())


@pytest.mark.parametrize("bad", [
    {"id": ""}, {"id": "a b"}, {"id": "x" * (MAX_ID + 1)}, {"id": 42}, {"id": "é"}, {"id": "a/b"},
    {"issued_at": "1800000000"}, {"issued_at": True}, {"issued_at": 1.5}, {"issued_at": -1}, {"issued_at": 2**60},
    {"name": "x" * (MAX_NAME + 1)}, {"name": "line\nbreak"}, {"name": "\u202eevil"}, {"name": None}, {"name": 3},
    {"email": "not an address"}, {"email": "a@b"}, {"email": ["a@b.co"]}, {"email": "x" * 250 + "@b.co"},
    {"admin": True},
])
def test_each_field_is_checked_strictly(bad: Dict[str, Any]) -> None:
    refused(sign(SECRET, fields(**bad)))


def test_a_payload_that_is_no_object_of_the_fields_is_refused() -> None:
    for body in ([1, 2], "text", {"id": "a"}, {"issued_at": NOW}):
        refused(sign(SECRET, body))  # type: ignore[arg-type]
    payload = base64.urlsafe_b64encode(b"\xff\xfe{").rstrip(b"=").decode()
    mac = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest())
    assert "JSON" in refused(f"{payload}.{mac.rstrip(b'=').decode()}")


def test_an_old_identity_expires_and_says_so() -> None:
    token = sign(SECRET, fields(issued_at=NOW - DAY - 1))
    assert "older" in refused(token, code="identity_expired")
    assert verify(sign(SECRET, fields(issued_at=NOW - DAY)), (SECRET,), NOW, DAY).id == "cust-42"


def test_a_little_clock_skew_is_allowed_and_no_more() -> None:
    assert verify(sign(SECRET, fields(issued_at=NOW + CLOCK_SKEW_SECONDS)), (SECRET,), NOW, DAY).id == "cust-42"
    assert "future" in refused(sign(SECRET, fields(issued_at=NOW + CLOCK_SKEW_SECONDS + 1)))


def test_settings_take_several_secrets_and_refuse_short_ones() -> None:
    base = {"HANDOFF_SECRET": "s" * 16}
    settings = Settings.from_env({**base, "HANDOFF_IDENTITY_SECRET": f"{SECRET}, {OLD_SECRET}",
                                  "HANDOFF_IDENTITY_MAX_AGE": "3600"})
    assert settings.identity_secrets == (SECRET, OLD_SECRET) and settings.identity_max_age_seconds == 3600
    assert Settings.from_env(base).identity_secrets == ()
    with pytest.raises(ValueError, match="32"):
        Settings.from_env({**base, "HANDOFF_IDENTITY_SECRET": "short"})
    with pytest.raises(ValueError, match="MAX_AGE"):
        Settings.from_env({**base, "HANDOFF_IDENTITY_MAX_AGE": "5"})


# ---- the site developers' snippets (docs/identity.md), run as documented ---------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "identity.md"


def snippet(language: str) -> str:
    """The documented code block in ``language`` (there is one of each)."""
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(), re.S)
    assert len(blocks) == 1, f"docs/identity.md has {len(blocks)} {language} blocks"
    return blocks[0]


def test_the_python_snippet_signs_what_the_bridge_believes() -> None:
    namespace: Dict[str, Any] = {}
    exec(snippet("python"), namespace)  # the documented code, as a site would paste it
    token = namespace["support_chat_identity"](SECRET, "cust-42", "Zoë Ørsted", "zoe@example.com")
    identity = verify(token, (SECRET,), time.time(), DAY)
    assert (identity.id, identity.name, identity.email) == ("cust-42", "Zoë Ørsted", "zoe@example.com")
    assert verify(namespace["support_chat_identity"](SECRET, "7"), (SECRET,), time.time(), DAY).name == ""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_signs_what_the_bridge_believes(tmp_path: Path) -> None:
    script = tmp_path / "sign.js"
    script.write_text(snippet("js") + '\nconsole.log(supportChatIdentity(process.env.SECRET, "cust-42", "Zoë Ørsted", '
                                      '"zoe@example.com"));\n')
    signed = subprocess.run(["node", str(script)], env={**os.environ, "SECRET": SECRET}, capture_output=True,
                            text=True, check=True).stdout.strip()
    identity = verify(signed, (SECRET,), time.time(), DAY)
    assert (identity.id, identity.name, identity.email) == ("cust-42", "Zoë Ørsted", "zoe@example.com")
