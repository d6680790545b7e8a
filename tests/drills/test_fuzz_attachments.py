"""Fuzzing the attachment endpoints (docs/bridge-protocol.md "Attachments") like the rest of the bridge
(tests/drills/test_fuzz.py, whose bridge and HTTP helpers this module uses).

``POST /api/conversations/<id>/attachments`` is sent any bytes (real pictures and PDFs, the same flipped,
cut short or with something after them, disguises, random bytes) with any name, type, client id, origin
and authorisation, for conversations with the bot, queued, and served by Ann, and ones that do not exist;
``GET`` of a file is asked by every kind of reader. The oracle computes the documented answer for each:
the status and code of the first check that fails in the documented order (origin, headers, who asks,
the conversation, the file's content: handoff.filecheck decides what a file is), else ``201`` with the
file stored once per client id and served back byte for byte with its headers. Never a 5xx.

    make drills ARGS="-k fuzz_attachments"
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Dict, Iterator, Optional, Tuple

import pytest
from hypothesis import example, given, strategies as st

from handoff.exceptions import FileRefused
from handoff.filecheck import check_file
from handoff_client import Agent, Customer
from harness.files import HTML_AS_PNG, SVG_WITH_SCRIPT, image, pdf, pdf_hiding_script, pdf_with_script
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (  # noqa: F401 - the fixture world
    ANN, BOB, COLE, SUE, reported, World, budget, check_http, http_request, http_tally, json_error, world,
)

SAMPLES = [image("PNG", 12, 9), image("JPEG", 12, 9), image("GIF", 12, 9), image("WEBP", 12, 9), pdf(),
           pdf_with_script(), pdf_hiding_script(), HTML_AS_PNG, SVG_WITH_SCRIPT, b"", b"hello"]
STATUS = {"malformed": 400, "invalid_token": 401, "forbidden": 403, "forbidden_origin": 403, "not_found": 404,
          "too_large": 413, "unsupported_type": 415, "disguised_file": 415, "malformed_file": 422,
          "unsafe_file": 422, "too_many_uploads": 429}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A sample file as it is, damaged (a byte flipped, cut short, something after it) or random bytes."""
    base = draw(st.sampled_from(SAMPLES))
    how = draw(st.sampled_from(["as is", "as is", "flip", "cut", "append", "random"]))
    if how == "flip" and base:
        at = draw(st.integers(0, len(base) - 1))
        return base[:at] + bytes([base[at] ^ draw(st.integers(1, 255))]) + base[at + 1:]
    if how == "cut" and base:
        return base[:draw(st.integers(0, len(base) - 1))]
    if how == "append":
        return base + draw(st.binary(min_size=1, max_size=40))
    if how == "random":
        return draw(st.binary(max_size=300))
    return base


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)
NAMES = st.one_of(st.sampled_from(["photo.png", "statement.pdf", "x.txt", "", "../../etc/passwd", "a\u202egnp.exe"]),
                  st.text(max_size=60)).map(lambda name: urllib.parse.quote(name, safe=""))
# Weighted towards those who may send (the customer, Ann serving), so that many uploads get as far as their content.
WHO = st.sampled_from(["customer"] * 4 + ["ann"] * 3 + ["other customer", "bob", "sue", "cole", "none", "garbage",
                                                        "bearer garbage"])
WHERE = st.sampled_from(["bot", "queued", "served", "served", "missing"])
ORIGINS = st.sampled_from(["", "", "", "own", "own", "http://evil.example"])
CLIENT_IDS = st.sampled_from(["", "", "", "", "photo-1", "x" * 100, "x" * 101, " spaced ", "é"])


SURFACES = ("POST /api/conversations/<id>/attachments", "GET /api/conversations/<id>/attachments/<file>")


@pytest.fixture(scope="module", autouse=True)
def attachments_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, SURFACES)  # here, not again by test_fuzz's report


@dataclass
class Bench:
    """Conversations in each state (with the bot, queued, served by Ann), their customers' tokens."""

    conversations: Dict[str, str]
    tokens: Dict[str, str]
    other_token: str
    # (conversation, who, client id) -> the attachment and bytes stored first: a resend stores nothing new.
    sent: Dict[Tuple[str, str, str], Tuple[Dict[str, object], bytes]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def bench(world: World) -> Iterator[Bench]:
    async def set_up() -> Tuple[Bench, list]:
        customers = {where: await Customer.connect(world.address) for where in ("bot", "queued", "served", "other")}
        for where in ("queued", "served"):
            await customers[where].send("talk_to_person", id="talk")
            await customers[where].expect("status", state="queued")
        ann = Agent(world.address, token=world.tokens[ANN])
        await ann.open()
        await ann.send("claim", {"conversation_id": customers["served"].conversation_id}, id="claim")
        await ann.acknowledged("claim")
        conversations = {where: customer.conversation_id for where, customer in customers.items() if where != "other"}
        conversations["missing"] = "no-such-conversation"
        tokens = {where: customer.token for where, customer in customers.items()}
        return Bench(conversations, tokens, tokens["other"]), [*customers.values(), ann]

    made, sockets = world.run(set_up())
    yield made
    for socket in sockets:
        world.run(socket.close())


def authorization(world: World, bench: Bench, who: str, where: str) -> Optional[str]:
    return {"customer": f"Conversation {bench.tokens.get(where, 'x')}", "other customer": f"Conversation {bench.other_token}",
            "ann": f"Bearer {world.tokens[ANN]}", "bob": f"Bearer {world.tokens[BOB]}", "sue": f"Bearer {world.tokens[SUE]}",
            "cole": f"Bearer {world.tokens[COLE]}", "none": None, "garbage": "Basic Zm9vOmJhcg==",
            "bearer garbage": "Bearer not.a.token"}[who]


def who_refusal(who: str, where: str, reading: bool) -> Optional[str]:
    """The code for who asks, about a conversation in ``where`` (None: they may)."""
    if who in ("none", "garbage", "bearer garbage"):
        return "invalid_token"
    if who == "cole":
        return "forbidden"  # neither an agent nor a supervisor
    if where == "missing":  # a customer's token for none is a wrong token: an id is never confirmed
        return "invalid_token" if who in ("customer", "other customer") else "not_found"
    if who in ("customer",):
        return None
    if who == "other customer":
        return "invalid_token"
    if who == "sue" and reading:
        return None  # a supervisor may read any conversation
    return None if (who == "ann" and where == "served") else "forbidden"


def upload_oracle(world: World, bench: Bench, who: str, where: str, origin: str, client_id: str, name: str,
                  content_type: str, body: bytes) -> str:
    if origin == "http://evil.example":
        return "forbidden_origin"
    if len(client_id) > 100 or len(name) > 1000 or not all(" " <= c <= "~" for c in client_id + name):
        return "malformed"
    refusal = who_refusal(who, where, reading=False)
    if refusal:
        return refusal
    try:
        check_file(body, urllib.parse.unquote(name, errors="replace"), content_type)
    except FileRefused as refused:
        return refused.code
    return ""


@budget(200)
@example(who="customer", where="bot", origin="", client_id="", name="photo.png", content_type="image/png",
         body=HTML_AS_PNG)
@example(who="ann", where="served", origin="own", client_id="c1", name="s.pdf", content_type="", body=pdf())
@given(who=WHO, where=WHERE, origin=ORIGINS, client_id=CLIENT_IDS,
       name=NAMES, content_type=st.sampled_from(["", "image/png", "text/html", "application/pdf", "image/svg+xml"]),
       body=bodies())
def test_any_upload_gets_its_documented_answer_never_a_5xx(world: World, bench: Bench, who: str, where: str, origin: str,
                                                           client_id: str, name: str, content_type: str,
                                                           body: bytes) -> None:
    conversation_id = bench.conversations[where]
    headers = {"X-File-Name": name, "Content-Type": content_type or "application/octet-stream"}
    if client_id:
        headers["X-Client-Id"] = client_id.strip()
        client_id = client_id.strip()
    if origin:
        headers["Origin"] = f"http://{world.address}" if origin == "own" else origin
    auth = authorization(world, bench, who, where)
    if auth:
        headers["Authorization"] = auth
    status, reply_headers, reply = http_request(world, "POST", f"/api/conversations/{conversation_id}/attachments",
                                                body, headers)
    check_http("POST", status, reply, f"upload by {who} to {where} of {body[:40]!r}")
    expected = upload_oracle(world, bench, who, where, origin, client_id, name, content_type, body)
    if expected:
        assert (status, json_error(reply)) == (STATUS[expected], expected), (who, where, reply[:300])
        http_tally(SURFACES[0], status, True)
        return
    assert status == 201, (who, where, reply[:300])
    attachment = json.loads(reply)["attachment"]
    if client_id:  # sent again with the same client id: the first file stands
        first, body = bench.sent.setdefault((conversation_id, who, client_id), (attachment, body))
        assert attachment == first
    kind = check_file(body).kind
    assert attachment["type"] == kind.value and attachment["size"] == len(body)
    assert attachment["name"].endswith(f".{kind.extension}")
    keys = [fields[b"key"].decode() for _, fields in world.redis.xrange(f"{world.prefix}:log:{conversation_id}")]
    sent_key = (f"file:customer:{client_id or attachment['id']}" if who == "customer"  # files' own keys
                else f"file:agent:{ANN}:{client_id or attachment['id']}")
    assert keys.count(sent_key) == 1, "a file's message is stored once per client id"
    served_status, served_headers, served = http_request(
        world, "GET", f"/api/conversations/{conversation_id}/attachments/{attachment['id']}", headers={"Authorization": auth or ""})
    assert served_status == 200 and served == body
    assert served_headers["content-type"] == kind.value
    assert served_headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served_headers["x-content-type-options"] == "nosniff"
    assert served_headers["content-disposition"].startswith("inline;" if kind.is_image else "attachment;")
    http_tally(SURFACES[0], status, True)


@budget(60)
@given(who=WHO, where=WHERE, file_id=st.one_of(st.just("stored"), HEADER_TEXT.map(lambda t: urllib.parse.quote(t, safe=""))))
def test_any_read_of_a_file_is_served_only_to_its_readers(world: World, bench: Bench, who: str, where: str,
                                                          file_id: str) -> None:
    conversation_id = bench.conversations[where]
    owner = "served" if where == "missing" else where
    stored = http_request(world, "POST", f"/api/conversations/{bench.conversations[owner]}/attachments", image("GIF", 4, 4),
                          {"Authorization": f"Conversation {bench.tokens[owner]}", "X-Client-Id": "fuzz-read"})
    stored_id = json.loads(stored[2])["attachment"]["id"]
    wanted = stored_id if file_id == "stored" else file_id
    auth = authorization(world, bench, who, where)
    status, headers, body = http_request(world, "GET", f"/api/conversations/{conversation_id}/attachments/{wanted or 'x'}",
                                         headers={"Authorization": auth} if auth else {})
    check_http("GET", status, body, f"read by {who} of {where}")
    refusal = who_refusal(who, where, reading=True)
    if refusal is None and (file_id != "stored" or where == "missing"):
        refusal = "not_found"
    if refusal:
        assert (status, json_error(body)) == (STATUS[refusal], refusal), (who, where, file_id, body[:200])
    else:
        assert status == 200 and body == image("GIF", 4, 4)
    http_tally(SURFACES[1], status, True)
