"""Fuzzing the bridge with hypothesis: every websocket message type and every HTTP endpoint.

One real bridge process (on the session's Redis and Rasa) is sent, for each of
/ws/customer, /ws/agent, /ws/supervisor and /ws/content, well-typed envelopes of
every message type with arbitrary field values (any unicode, lone surrogates as
JSON escapes, empty, long, nested, numbers, nulls, wrong types, extra fields,
ids of every type) and garbage frames (random bytes as text and binary frames,
invalid JSON, JSON that is not an object, deep nesting, frames near and over
the size limits); refused handshakes (tokens offered as a subprotocol, tokens in
the URL, origins); requests to every HTTP endpoint (login and logout with any
body, content type and token) and the browser files (with path traversal,
encoded or not); and any route with a host name the bridge was not given.

For every input:

- it is answered in time and the socket stays open: after each fuzzed frame the
  client sends a probe of a type no endpoint handles; a socket handles its
  frames one after another, so the probe's ``unknown_type`` error proves that
  the fuzzed frame was dealt with and that the connection survived it;
- the answer is the one docs/bridge-protocol.md gives for that input in that
  state (an oracle per endpoint computes it): the reply or ``ack``, or one
  ``error`` with the right code, never ``internal_error``, whose ``id`` echoes
  the request's id whenever it had a usable one (a string of at most 100
  characters), even when the envelope around it was refused;
- an error leaves the conversation as it was (its version in Redis), and an
  acknowledged message is stored once, also when it is sent again;
- frames over 1 MiB close the socket (code 1009), refused handshakes get one
  ``error`` and are closed; HTTP never answers 5xx, bad input gets 4xx with a
  JSON ``error`` (415 for a login that is not JSON, 421 for another ``Host``),
  /ready and /metrics answer only on the loopback admin port, and no file
  outside widget/ is ever served.

The agents' callback and message requests (open_request, request_done,
answer_request: rare among all agent types) also get a test of their own, by
two agents, on requests open, dealt with by either, and unknown; so do notes
and mentions (note, view, unview, mention_seen, a transfer with a note), by two
agents claiming and mentioning each other.

A hypothesis state machine then drives one customer and two agents through
hello, message (and retries), talk_to_person, leave_queue, details, leave, claim, transfer,
hand_back, close, rating and reconnects, checking against a model of
handoff/machine.py that every reply is the expected one, that the stored state
is always one of the four and the customer's last ``status`` push catches up
with it, that an error changes nothing, and that every message is stored and
delivered to the customer exactly once, in order, across reconnects.

Last, the bridge must still be healthy: /health ok, a whole conversation with
the bot and an agent works, and its log has no traceback at all: every failure
a client can cause is answered (an error reply, a 4xx), so a traceback in the
log is a bug (the fixes this fuzzing led to are in handoff/protocol.py,
handoff/connections/ and handoff/endpoints/, and the @example lines below keep them fixed).

Each fuzzed surface adds one line to the drills' report ("fuzz: /ws/customer",
...): inputs sent, inputs answered as documented with a reply or ack, and the
errors by code in the notes.

Profiles, chosen with HYPOTHESIS_PROFILE:

- ``ci`` (the default): derandomized, so every run sends the same inputs:
  about 1,700 fuzzed inputs and 25 state-machine runs (about 450 steps), some
  40 s on two busy cores including starting the bridge (Rasa is the session's).
- ``thorough``: ten times the examples with a random seed; failures are kept
  in .run/hypothesis and tried first next time.

    make drills ARGS="-k fuzz"
    HYPOTHESIS_PROFILE=thorough make drills ARGS="-k fuzz"
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import re
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, ClassVar, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, TypeVar, Union

import pytest
import redis as redis_sync
import requests
import websockets
from hypothesis import HealthCheck, example, given, settings, strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test,
)
from sanic.request import json_loads as sanic_json_loads
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from handoff.mentions import mentioned_names
from handoff.protocol import has_visible, readable
from handoff.requests import MAX_REQUESTS_PER_DAY
from handoff_client import Agent, Customer, Transport, message_order
from harness.clients import login
from harness.servers import (
    AGENT_PASSWORD, ROOT, BridgeServer, add_agent, admin_address, delete_prefixed_keys, publish_model, started_bridge,
)
from teaching import commands as teach_commands
from teaching.errors import InvalidRequest
from teaching.store import model_id_of
from tests.drills.report import DrillReport, DrillResult

# ---- budget -------------------------------------------------------------------------------

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILES = {"ci": 1, "thorough": 10}  # profile -> how many times the examples below
if PROFILE not in PROFILES:
    raise ValueError(f"HYPOTHESIS_PROFILE must be one of {sorted(PROFILES)}, not {PROFILE!r}")


def budget(examples: int, **extra: Any) -> settings:
    """``examples`` per test under ``ci``; reproducible there, random and remembered under ``thorough``."""
    thorough = PROFILE == "thorough"
    return settings(
        max_examples=examples * PROFILES[PROFILE], deadline=None, derandomize=not thorough,
        database=DirectoryBasedExampleDatabase(str(ROOT / ".run" / "hypothesis")) if thorough else None,
        # Sockets are opened once per test (function-scoped fixtures), not once per example.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                               HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
        **extra,
    )


# ---- what the protocol promises (docs/bridge-protocol.md) ------------------------------------

MAX_MESSAGE_BYTES = 8192  # HANDOFF_MAX_MESSAGE_BYTES (default)
SOCKET_LIMIT = 1 << 20  # frames over 1 MiB close the socket
MAX_TEXT = 2000
MAX_PAYLOAD = 200
MAX_DETAIL = 500
MAX_ID = 100
ID_SEARCH_CHARACTERS = 300  # an oversized frame's id is looked for this near its start
ID_AT_START = re.compile(r'"id"\s*:\s*"([^"\\]{1,%d})"' % MAX_ID)
MAX_TYPE = 40
MAX_NESTING = 32
REPLY_TIMEOUT = 30.0  # a bot turn may take up to HANDOFF_RASA_TIMEOUT (10 s) on a busy machine
PROBE = "fuzz_probe"  # no endpoint handles it
STATES = {"bot", "queued", "agent", "closed"}
# Every code docs/bridge-protocol.md lists (the protocol's, then the teaching loop's); never internal_error.
DOCUMENTED_CODES = {"malformed", "invalid_contact", "unknown_type", "too_large", "rate_limited", "invalid_token", "not_found",
                    "too_many_conversations", "queue_full", "transcript_full", "too_many_connections",
                    "request_open", "too_many_requests", "unknown_button", "unknown_mention", "forbidden",
                    "invalid_transition", "already_claimed", "invalid_request", "invalid_text", "unknown_intent",
                    "conflict", "exists", "invalid_name", "invalid_answer", "invalid_data", "busy", "refused",
                    "training_failed", "worker_unavailable", "assigned_automatically",
                    "suggestions_unavailable", "not_waiting", "mail_unavailable", "invalid_address",
                    "address_not_allowed", "no_address", "already_sent", "mail_limit_address", "mail_limit_recipient",
                    "card_in_address", "nothing_to_send", "mail_limit_unverified",
                    "invalid_identity", "identity_expired", "identity_required", "not_identified", "archive_off", "search_timeout",
                    "archive_unavailable", "already_assigned", "conversation_closed", "empty_text",
                    "request_limit_address"}
REFUSAL_CODES = {"invalid_token", "forbidden", "forbidden_origin", "too_many_connections"}
NO_REPLY = "no reply"  # typing and read are passed on, never answered (unless malformed)

ANN, BOB, SUE, COLE = "fuzz-ann", "fuzz-bob", "fuzz-sue", "fuzz-cole"  # agent, agent, supervisor, content
AGENTS = {ANN, BOB}
ACCOUNTS = {ANN, BOB, SUE, COLE}


def usable_id(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and len(value) <= MAX_ID else None


def is_text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def text_refusal(value: Any, limit: int) -> Optional[str]:
    """How a text people will read is refused (handoff.connections.fields.text_of): not a string or too long
    is ``malformed``; one that shows nothing (spaces, zero-width characters), ``empty_text``; None: taken."""
    if not isinstance(value, str):
        return "malformed"
    if not has_visible(readable(value)):
        return "empty_text"
    return None if len(value) <= limit else "malformed"


def signal_answer(kind: str, data: Dict[str, Any]) -> str:
    """A ``typing`` with a boolean ``active`` or a ``read`` with a server message id (two numbers
    below 2^64, not both the largest) is passed on unanswered; anything else is malformed."""
    if kind == "typing":
        return NO_REPLY if isinstance(data.get("active"), bool) else "malformed"
    up_to = data.get("up_to")
    if not isinstance(up_to, str) or not re.fullmatch(r"[0-9]{1,20}-[0-9]{1,20}", up_to):
        return "malformed"
    parts = [int(part) for part in up_to.split("-")]
    return NO_REPLY if max(parts) < 2**64 and parts != [2**64 - 1] * 2 else "malformed"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


# ---- the bridge under test ------------------------------------------------------------------

T = TypeVar("T")


class Snapshot(NamedTuple):
    """A conversation as stored in Redis."""

    state: str
    agent: str
    rated: bool
    version: int


@dataclass
class World:
    """The bridge process under test, its Redis, and an event loop that outlives each example."""

    loop: asyncio.AbstractEventLoop
    server: BridgeServer
    redis: "redis_sync.Redis[bytes]"
    prefix: str
    model_id: str
    model_token: str
    tokens: Dict[str, str]

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def log(self) -> Path:
        assert self.server.log is not None
        return self.server.log

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def snapshot(self, conversation_id: Any) -> Optional[Snapshot]:
        if not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= 64:
            return None
        fields = self.redis.hgetall(f"{self.prefix}:conv:{conversation_id}")
        if not fields:
            return None
        text = {k.decode(): v.decode() for k, v in fields.items()}
        return Snapshot(text["state"], text.get("agent", ""), text.get("rated") == "1", int(text["version"]))

    def stored_keys(self, conversation_id: str) -> Counter:
        """How often each client key (``customer:{id}``, ``agent:{name}:{id}``) is in the transcript."""
        return Counter(fields[b"key"].decode()
                       for _, fields in self.redis.xrange(f"{self.prefix}:log:{conversation_id}"))

    def stored_ids(self, conversation_id: str) -> Dict[str, str]:
        """Client key -> the server id of the message stored under it."""
        return {fields[b"key"].decode(): entry.decode()
                for entry, fields in self.redis.xrange(f"{self.prefix}:log:{conversation_id}")}

    def transcript_ids(self, conversation_id: str) -> List[str]:
        return [entry.decode() for entry, _ in self.redis.xrange(f"{self.prefix}:log:{conversation_id}")]

    def online(self) -> Set[str]:
        return {member.decode().split("|", 1)[0] for member in self.redis.zrange(f"{self.prefix}:online", 0, -1)}

    def away(self, agent: str) -> bool:
        """The agent chose away (handoff.agentstatus): no transfers to them."""
        return (self.redis.hget(f"{self.prefix}:agent-status", agent) or b"").startswith(b"away|")

    async def socket(self, endpoint: str, account: str = "") -> Transport:
        client = (Agent(self.address, token=self.tokens[account], endpoint=endpoint, max_size=None) if account
                  else Transport(self.address, path=f"/ws/{endpoint}", max_size=None))
        await client.open()
        return client


@pytest.fixture(scope="module")
def world(redis_url: str, rasa_url: str, model_path: Path) -> Iterator[World]:
    prefix, teach_prefix = f"fuzz{uuid.uuid4().hex[:8]}", f"fuzzteach{uuid.uuid4().hex[:8]}"
    for name, options in ((ANN, ["--max-chats", "500"]), (BOB, ["--max-chats", "500"]),
                          (SUE, ["--roles", "supervisor"]), (COLE, ["--roles", "content"])):
        add_agent(redis_url, prefix, name, *options)
    publish_model(redis_url, teach_prefix, model_path)  # /api/models/current, deploy, model have one to serve
    model_token = uuid.uuid4().hex
    loop = asyncio.new_event_loop()
    client = redis_sync.Redis.from_url(redis_url)
    # Rate limits raised: the fuzzer sends as fast as the bridge answers, and guesses passwords all the
    # time (tests/handoff/test_guard.py holds logins to their throttle). The caps on what is kept
    # (docs/security.md "Limits") too: their refusals are tested with bridges of their own (tests/handoff/test_limits.py).
    with started_bridge(redis_url, rasa_url, "fuzz-bridge", prefix, HANDOFF_MESSAGES_PER_SECOND="1000",
                        HANDOFF_MESSAGE_BURST="1000", HANDOFF_MAX_CONNECTIONS_PER_IP="200",
                        HANDOFF_MAX_NEW_CONVERSATIONS="1000000", HANDOFF_MAX_QUEUE_ENTRIES="1000000",
                        HANDOFF_MAX_QUEUE_LENGTH="1000000", HANDOFF_CUSTOMER_GONE_SECONDS="86400",
                        HANDOFF_LOGIN_FREE_PER_ACCOUNT="1000000", HANDOFF_LOGIN_FREE_PER_ADDRESS="1000000",
                        HANDOFF_MAX_UPLOADS_PER_SENDER="1000000", HANDOFF_MAX_UPLOADS_PER_IP="1000000",
                        MODEL_SERVER_TOKEN=model_token, TEACH_KEY_PREFIX=teach_prefix) as server:
        tokens = {name: login(server.address, name).json()["token"] for name in ACCOUNTS}
        yield World(loop, server, client, prefix, model_id_of(model_path), model_token, tokens)
    loop.close()
    client.close()
    delete_prefixed_keys(redis_url, prefix, teach_prefix)


# ---- what each surface was sent, for the drills' report ---------------------------------------


@dataclass
class SurfaceCounts:
    sent: int = 0
    answered: int = 0  # got the documented reply or ack (or, with none due, no error)
    errors: Counter = field(default_factory=Counter)
    closed: int = 0  # sockets closed as documented (oversized frames, refused handshakes)
    statuses: Counter = field(default_factory=Counter)  # HTTP


TALLIES: Dict[str, SurfaceCounts] = {}


def tally(surface: str) -> SurfaceCounts:
    return TALLIES.setdefault(surface, SurfaceCounts())


def reported(request: pytest.FixtureRequest, drill_report: DrillReport,
             surfaces: Optional[Sequence[str]] = None) -> Iterator[None]:
    """A fuzz module's report fixture (``yield from`` it): after the module's tests, each of ``surfaces``
    (None: every surface tallied) goes into the drills' report once, never rosier than the assertions."""
    failed_before = request.session.testsfailed
    yield
    failed = request.session.testsfailed - failed_before
    outcome = f"{failed} fuzz tests failed (see above)" if failed else "0 crashes, 0 hangs"
    for surface in list(TALLIES) if surfaces is None else surfaces:
        counts = TALLIES.pop(surface, None)
        if counts is None:
            continue
        codes = ", ".join(f"{code} {n}" for code, n in counts.errors.most_common()) or "none"
        notes = f"{sum(counts.errors.values())} errors by code: {codes}; {outcome}"
        if counts.closed:
            notes += f"; {counts.closed} sockets closed as documented"
        if counts.statuses:
            notes += "; HTTP statuses: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.statuses.items()))
        drill_report.add(DrillResult(name=f"fuzz: {surface}", sent=counts.sent, acknowledged=counts.answered,
                                     notes=notes))


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report)


# ---- strategies -----------------------------------------------------------------------------

LONE_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
SAMPLE_TEXTS = st.sampled_from(["", " ", "\t\n ", "hello", "I want to talk to a person", "my card hasn't arrived",
                                "+44 20 7946 0000", "ünïcødé ✓ 🙂 ‮ bidi", "\x00", "<script>alert(1)</script>"])
LIMITS = [MAX_PAYLOAD, MAX_DETAIL, MAX_TEXT]
TEXT = st.one_of(
    st.text(max_size=40), st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40),  # no lone surrogates
    SAMPLE_TEXTS, SAMPLE_TEXTS,
    st.builds(lambda char, n: char * n, st.characters(max_codepoint=0x7FF) | st.characters(),
              st.sampled_from([n + d for n in LIMITS for d in (-1, 0, 1)])),  # at the limits (in characters)
    st.builds(lambda text, char: text + char, st.text(max_size=8), LONE_SURROGATES),  # sent as \udxxx escapes
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), TEXT)


def _containing(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


JSON = st.recursive(SCALARS, _containing, max_leaves=8)
UUIDS = st.uuids().map(lambda u: u.hex)
IDS = st.one_of(UUIDS, UUIDS, UUIDS, st.none(), st.text(max_size=20), st.just(""),
                st.integers(MAX_ID - 1, MAX_ID + 1).map(lambda n: "i" * n), JSON)


def either(*good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: usually a plausible one, else anything JSON can say."""
    return st.one_of(*good, *good, *good, JSON)


def fields(**optional: st.SearchStrategy[Any]) -> st.SearchStrategy[Dict[str, Any]]:
    """``data``: these fields (all, or any of them), now and then one nobody expects."""
    every = st.fixed_dictionaries(optional)
    known = st.one_of(every, every, st.fixed_dictionaries({}, optional=optional))
    return st.builds(lambda known, extra: {**extra, **known}, known,
                     st.just({}) | st.just({}) | st.dictionaries(st.text(max_size=10), JSON, max_size=1))


@st.composite
def envelopes(draw: st.DrawFn, types: Dict[str, st.SearchStrategy[Dict[str, Any]]]) -> Any:
    """``{type, id, data}`` for one of ``types``, or an unknown type; sometimes bent out of shape."""
    kinds = sorted(types)
    known = st.sampled_from(kinds)
    kind = draw(st.one_of(known, known, known, known, st.text(min_size=1, max_size=MAX_TYPE + 2)))
    data = draw(types[kind] if kind in types else fields(anything=JSON))
    envelope: Dict[str, Any] = {"type": kind, "id": draw(IDS), "data": data}
    shape = draw(st.sampled_from(["fine"] * 14 + ["no data", "no id", "extra field", "data not an object",
                                                 "type not a string", "only data"]))
    if shape == "no data":
        del envelope["data"]
    elif shape == "no id":
        del envelope["id"]
    elif shape == "extra field":
        envelope[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in envelope))] = draw(JSON)
    elif shape == "data not an object":
        envelope["data"] = draw(JSON.filter(lambda value: not isinstance(value, dict)))
    elif shape == "type not a string":
        envelope["type"] = draw(JSON.filter(lambda value: not isinstance(value, str)) | st.just(""))
    elif shape == "only data":
        envelope = data
    return envelope


def to_frame(value: Any, style: str) -> Union[str, bytes]:
    """JSON as a text frame (as is, or ASCII with escapes) or as a binary frame."""
    text = json.dumps(value, ensure_ascii=style == "ascii")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates travel as \\udxxx escapes
        text = json.dumps(value)
    return text.encode("utf-8") if style == "binary" else text


def framed(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Union[str, bytes]]:
    return st.builds(to_frame, values, st.sampled_from(["text", "text", "ascii", "binary"]))


def fuzzed(envelopes: st.SearchStrategy[Any]) -> st.SearchStrategy[Union[str, bytes]]:
    """Three envelopes for each garbage frame (one_of would count each kind of garbage as one choice)."""
    frames = framed(envelopes)
    return st.integers(0, 3).flatmap(lambda pick: GARBAGE if pick == 0 else frames)


GARBAGE = st.one_of(
    st.binary(max_size=300),  # a binary frame
    st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
    st.text(max_size=300),
    framed(JSON),  # JSON, mostly not an object
    st.builds(lambda text, cut: text[:cut], framed(JSON).filter(lambda f: isinstance(f, str)), st.integers(0, 40)),
    st.builds(lambda n, pair: pair[0] * n + pair[1] * n, st.integers(50, 4000),
              st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"type":"message","id":"deep","data":{"text":[', "]}}")])),
    st.sampled_from([
        '{"type": "message", "id": "nan", "data": {"text": NaN}}',
        '{"type": "rating", "id": "inf", "data": {"score": Infinity}}',
        '{"type": "rating", "id": "big", "data": {"score": ' + "9" * 5000 + "}}",
        '{"type": "message", "id": "dup", "id": 7, "data": {"text": "two ids"}}',
        '\ufeff{"type": "hello", "id": "bom", "data": {}}',
        '{"type": "message", "id": "x", "data": {"text": "hi"}} trailing',
        "null", "[]", '""', "0", "",
    ]),
)


def padded(size: int) -> str:
    """A customer ``message`` envelope of exactly ``size`` bytes (padded with a field the bridge ignores)."""
    head = json.dumps({"type": "message", "id": f"size-{size}", "data": {"text": "hello", "padding": ""}})
    return head[:-3] + "x" * (size - len(head)) + head[-3:]


# ---- one fuzzed frame and its answer -----------------------------------------------------------


@dataclass
class Expectation:
    """What a frame is to the bridge: refused as a frame, or an envelope for a handler."""

    reply_id: Optional[str]  # the id an error about it must carry
    code: Optional[str] = None  # "malformed" / "too_large" when refused before any handler
    envelope: Optional[Dict[str, Any]] = None  # type, id, data (defaults filled in)


def nesting(value: Any) -> int:
    """How many objects and lists deep ``value`` goes."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
    return 0 if children is None else 1 + max((nesting(child) for child in children), default=0)


def not_a_json_number(name: str) -> Any:
    """Python's json reads NaN and Infinity; JSON has no such numbers."""
    raise ValueError(f"{name} is not JSON")


def id_at_start(frame: Union[str, bytes]) -> Optional[str]:
    """The id an oversized frame is refused with: it is not parsed, so its id is the string that its
    first characters give as ``"id"`` (clients put the id near the start)."""
    start = frame[:ID_SEARCH_CHARACTERS]
    found = ID_AT_START.search(start.decode("utf-8", "ignore") if isinstance(start, bytes) else start)
    return found.group(1) if found else None


def classify(frame: Union[str, bytes]) -> Expectation:
    """What the bridge must make of ``frame``, worked out independently of handoff.protocol."""
    size = len(frame if isinstance(frame, bytes) else frame.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        return Expectation(id_at_start(frame), "too_large")
    try:
        value = json.loads(frame, parse_constant=not_a_json_number)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # no lone surrogates anywhere
        if nesting(value) > MAX_NESTING:
            raise RecursionError
    except Exception:  # noqa: BLE001 - anything json refuses (also RecursionError) is not JSON
        return Expectation(id_at_start(frame), "malformed")  # not parsed as a whole: the id from its start
    reply_id = usable_id(value.get("id")) if isinstance(value, dict) else None
    if not isinstance(value, dict) or set(value) - {"type", "id", "data"}:
        return Expectation(reply_id, "malformed")
    kind, data = value.get("type"), value.get("data", {})
    if (not isinstance(kind, str) or not 0 < len(kind) <= MAX_TYPE or not isinstance(data, dict)
            or (value.get("id") is not None and reply_id is None)):
        return Expectation(reply_id, "malformed")
    return Expectation(reply_id, envelope={"type": kind, "id": value.get("id"), "data": data})


@dataclass
class Surface:
    """A fuzzed socket, opened again when an input closed it, so that every example starts on an open one."""

    opener: Callable[[], Awaitable[Transport]]
    client: Optional[Transport] = None

    async def ready(self) -> Transport:
        if self.client is None or self.client.ws.closed:
            self.client = await self.opener()
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


async def exchange(client: Transport, frame: Union[str, bytes]) -> List[Dict[str, Any]]:
    """Sends ``frame`` then a probe; returns what arrived before the probe's reply.

    A socket's frames are handled one after another: the probe's ``unknown_type``
    error means the fuzzed frame was dealt with, and the socket is still open.
    """
    client.received.clear()
    probe = f"probe-{uuid.uuid4().hex}"
    try:
        await client.ws.send(frame)
        await client.send(PROBE, {}, id=probe)
        answer = await client.next_matching(lambda e: e["type"] == "error" and e["id"] == probe,
                                            "answer to the fuzzed frame and the probe", REPLY_TIMEOUT)
    except ConnectionClosed as closed:
        raise AssertionError(f"the bridge closed the socket ({closed}); got {client.received}") from None
    assert answer["data"]["code"] == "unknown_type", answer
    return list(client.received)


async def request(client: Transport, kind: str, data: Dict[str, Any], key: str = "") -> Dict[str, Any]:
    """Sends one request and returns its answer (an ack, an error or a reply: whatever carries its id)."""
    key = key or uuid.uuid4().hex
    client.received.clear()
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] != "message", f"the answer to {kind}",
                                      REPLY_TIMEOUT)


def outcome(frames: List[Dict[str, Any]], reply_id: Optional[str], reply_types: Set[str], expected: str) -> str:
    """The error code, or the reply type, that answered the request ``reply_id``; NO_REPLY if none.

    Every error on the socket must be about this request: pushes are never errors. A request
    without an id shares ``None`` with the pushes (a fresh queue, say): any of them will do.
    """
    errors = [frame for frame in frames if frame["type"] == "error"]
    assert all(error["id"] == reply_id for error in errors), f"an error with another id than {reply_id!r}: {errors}"
    assert len(errors) <= 1, f"more than one error for one request: {errors}"
    if errors:
        return str(errors[0]["data"]["code"])
    replies = [frame["type"] for frame in frames if frame["type"] in reply_types and frame["id"] == reply_id]
    if expected in replies or (reply_id is None and expected == NO_REPLY):
        return expected
    return replies[0] if replies else NO_REPLY


def check(surface: str, frames: List[Dict[str, Any]], expectation: Expectation, expected: str,
          reply_types: Set[str]) -> str:
    """Asserts the answer is ``expected`` (an error code, a reply type, or NO_REPLY) and tallies it."""
    counts = tally(surface)
    counts.sent += 1
    answers = reply_types | {"ack"}
    got = outcome(frames, expectation.reply_id, answers, expected)
    assert got != "internal_error", f"the bridge failed on {expectation}: {frames}"
    assert got in answers or got == NO_REPLY or got in DOCUMENTED_CODES, f"undocumented error code {got!r}"
    assert got == expected, f"expected {expected!r}, got {got!r} for {expectation}: {frames}"
    if got in answers or got == NO_REPLY:
        counts.answered += 1
    else:
        counts.errors[got] += 1
    return got


# ---- /ws/customer ------------------------------------------------------------------------------

CONTACTS = st.sampled_from(["+44 20 7946 0000", "07700 900123", "(555) 010-4477", "ann@example.com", "a.b+c@mail.example.org",
                            "call me", "12345", "1234567890123456", "ann@", "ann@example", "@example.com", "+",
                            " 07700 900123 ", "07700 900123 or ann@example.com"])
EMAIL_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@(?:[^@\s<>()\[\],;:\".]+\.)+[^@\s<>()\[\],;:\".]{2,}")
PHONE_NUMBER = re.compile(r"\+?[0-9(][0-9 ().\-/]*[0-9]")


def is_contact(value: str) -> bool:
    """A phone number (digits with spaces, dots, dashes, brackets, a leading +; 7 to 15 digits) or an email
    address (one @ and a dotted domain, at most 254 characters), around spaces: docs/bridge-protocol.md.
    Not all zeros nor "+0"; no empty domain label; after the disguising controls are taken out."""
    text = readable(value).strip()
    if "@" in text:
        return len(text) <= 254 and EMAIL_ADDRESS.fullmatch(text) is not None
    digits = [character for character in text if character in "0123456789"]
    return (PHONE_NUMBER.fullmatch(text) is not None and 7 <= len(digits) <= 15
            and set(digits) != {"0"} and not text.startswith("+0"))


CUSTOMER_TYPES: Dict[str, st.SearchStrategy[Dict[str, Any]]] = {
    "hello": fields(conversation_id=either(st.text(max_size=30)), token=either(st.text(max_size=30)),
                    last_seen=either(st.sampled_from(["0-0", "1-1", "99999999999999-0"]))),
    "message": fields(text=either(TEXT), payload=either(st.sampled_from(["/greet", "/affirm", "/deny", ""]),
                                                        st.text(max_size=MAX_PAYLOAD + 2))),
    "talk_to_person": fields(),
    "leave_queue": fields(),
    "details": fields(description=either(TEXT), contact=either(TEXT)),
    "leave": fields(kind=either(st.sampled_from(["callback", "message"])), contact=either(CONTACTS, TEXT),
                    description=either(TEXT), preferred_time=either(TEXT)),
    "rating": fields(score=either(st.integers(-1, 7)), comment=either(TEXT)),
    "typing": fields(active=either(st.booleans())),
    "read": fields(up_to=either(st.sampled_from(["0-0", "1-1"]), st.text(max_size=20))),
}


def leave_refusal(world: "World", conversation_id: str, key: Any) -> Optional[str]:
    """Why a valid ``leave`` with this id would be refused, from the conversation's requests in Redis
    (one open at a time, MAX_REQUESTS_PER_DAY a day; a resend of a stored one is fine): None if it is not."""
    if isinstance(key, str) and key and world.redis.hexists(f"{world.prefix}:idem:{conversation_id}", f"leave:{key}"):
        return None
    last = world.redis.hget(f"{world.prefix}:conv:{conversation_id}", "request")
    if last and not world.redis.exists(f"{world.prefix}:request-state:{last.decode()}") \
            and world.redis.xrange(f"{world.prefix}:requests", last, last):
        return "request_open"
    day = time.strftime("%Y-%m-%d", time.gmtime())
    if int(world.redis.get(f"{world.prefix}:request-count:{conversation_id}:{day}") or 0) >= MAX_REQUESTS_PER_DAY:
        return "too_many_requests"
    return None


def button_refusal(world: "World", conversation_id: str, envelope: Dict[str, Any]) -> Optional[str]:
    """``unknown_button`` for a message whose payload is none of the buttons of the bot's latest turn
    (its messages since the last customer or agent message) unless it is a resend; else None."""
    payload, key = envelope.get("data", {}).get("payload", ""), envelope.get("id")
    if not isinstance(payload, str) or not payload.strip():
        return None
    if isinstance(key, str) and world.redis.hexists(f"{world.prefix}:idem:{conversation_id}", f"customer:{key}"):
        return None
    offered = set()
    for _, fields in world.redis.xrevrange(f"{world.prefix}:log:{conversation_id}", count=20):
        kind = fields[b"kind"].decode()
        if kind in ("customer", "agent"):
            break
        if kind == "bot":
            offered |= {str(button.get("payload")) for button in json.loads(fields[b"data"]).get("buttons") or []}
    return None if payload.strip() in offered else "unknown_button"


def customer_oracle(envelope: Dict[str, Any], state: str, refusal: Optional[str] = None) -> str:
    """What a customer who has said hello gets for this envelope in this state (``refusal``: what
    leave_refusal says of a ``leave``, button_refusal of a ``message``)."""
    kind, data, key = envelope["type"], envelope["data"], envelope["id"]
    if kind not in CUSTOMER_TYPES:
        return "unknown_type"
    if kind == "hello":
        return "malformed"  # once per connection
    if kind == "message":
        text, payload = data.get("text"), data.get("payload", "")
        if not key:
            return "malformed"
        refused = text_refusal(text, MAX_TEXT) or (None if is_text(payload, MAX_PAYLOAD) else "malformed")
        return refused or refusal or "ack"
    if kind == "talk_to_person":
        return "ack"
    if kind == "leave_queue":  # back to the bot; nothing to do unless queued
        return "invalid_transition" if state == "agent" else "ack"
    if kind == "details":
        if state != "queued":
            return "invalid_transition"
        if not all(is_text(data.get(name, ""), MAX_DETAIL) for name in ("description", "contact")):
            return "malformed"
        contact = readable(data.get("contact", "")).strip()
        return "invalid_contact" if contact and not is_contact(contact) else "ack"
    if kind == "leave":
        details = [data.get(name, "") for name in ("contact", "description", "preferred_time")]
        if str(data.get("kind", "")) not in ("callback", "message") or not all(is_text(d, MAX_DETAIL) for d in details):
            return "malformed"
        if not is_contact(details[0]):
            return "invalid_contact"
        if refusal:
            return refusal
        return "invalid_transition" if state == "agent" else "ack"
    if kind == "rating":
        score, comment = data.get("score"), data.get("comment", "")
        if not isinstance(score, int) or isinstance(score, bool) or not isinstance(comment, str):
            return "malformed"
        return "invalid_transition"  # only after an agent closed the chat: the state machine test rates
    return signal_answer(kind, data)  # typing, read


@pytest.fixture
def customer(world: World) -> Iterator[Surface]:
    """A customer who has said hello (a new conversation whenever an input closed the socket)."""
    surface = Surface(lambda: Customer.connect(world.address))
    yield surface
    world.run(surface.close())


@budget(400)
# Found by this test: each was an internal_error (and a traceback), or an error without the request's id.
@example(frame='{"type": "message", "id": "m1", "data": {"text": "hi \\ud800"}}')
@example(frame=b'{"type": "leave", "id": "l1", "data": {"kind": "message", "contact": "\\udc00"}}')
@example(frame="[" * 3000 + "]" * 3000)
@example(frame='{"type": "", "id": "e1", "data": {}}')
@example(frame='{"type": "message", "id": "e2", "data": [], "extra": 1}')
@given(frame=fuzzed(envelopes(CUSTOMER_TYPES)))
def test_customer_socket_answers_every_frame_as_documented(world: World, customer: Surface, frame: Any) -> None:
    client = world.run(customer.ready())
    expectation = classify(frame)
    before = world.snapshot(client.conversation_id)
    assert before is not None
    envelope = expectation.envelope or {}
    refusal = (leave_refusal(world, client.conversation_id, envelope.get("id")) if envelope.get("type") == "leave"
               else button_refusal(world, client.conversation_id, envelope) if envelope.get("type") == "message"
               else None)
    expected = expectation.code or customer_oracle(envelope, before.state, refusal)
    frames = world.run(exchange(client, frame))
    got = check("/ws/customer", frames, expectation, expected, {"welcome"})
    after = world.snapshot(client.conversation_id)
    assert after is not None and after.state in STATES
    if got not in ("ack", NO_REPLY):
        assert after.version == before.version, f"an error changed the conversation: {before} -> {after}"
    if got == "ack" and expectation.envelope and expectation.envelope["type"] == "message":
        first = next(frame for frame in frames if frame["type"] == "ack")
        again = world.run(exchange(client, frame))  # a retry: stored once, acknowledged with the same id
        assert [f["data"] for f in again if f["type"] == "ack"] == [first["data"]], again
        assert world.stored_keys(client.conversation_id)[f"customer:{expectation.envelope['id']}"] == 1


HELLO = st.fixed_dictionaries({}, optional={
    "conversation_id": either(st.text(max_size=30), st.just("known")),
    "token": either(st.text(max_size=40), st.just("known")),
    "last_seen": either(st.sampled_from(["0-0", "1-0", "1-0\n", "99999999999999-0", "99999999999999999999-0",
                                         "18446744073709551615-18446744073709551615", "known"]),
                        st.text(max_size=25)),
    # The closed chat a new one follows (handoff.earlier): never a reason to refuse a hello; "known", the open one.
    "follows": either(st.fixed_dictionaries({"conversation_id": st.text(max_size=30), "token": st.text(max_size=40)}),
                      st.just("known")),
})


@budget(60)
@example(hello={"conversation_id": "known", "token": "known", "last_seen": "1-0\n"}, request_id="h1")
@example(hello={"conversation_id": "known", "token": "known", "last_seen": "99999999999999999999-0"},
         request_id="h2")
@given(hello=HELLO, request_id=IDS.filter(lambda value: value is None or usable_id(value) is not None))
def test_hello_starts_or_resumes_or_is_refused_and_the_socket_goes_on(world: World, customer: Surface,
                                                                      hello: Dict[str, Any], request_id: Any) -> None:
    """A fresh socket's ``hello``: a new conversation, a resumed one, or an error after which hello still works."""
    known_client = world.run(customer.ready())
    if not world.transcript_ids(known_client.conversation_id):  # something to replay (system notices; no bot turn)
        world.run(request(known_client, "talk_to_person", {}))
    known = {"conversation_id": known_client.conversation_id, "token": known_client.token,
             "last_seen": (world.transcript_ids(known_client.conversation_id) or ["0-0"])[0],
             "follows": {"conversation_id": known_client.conversation_id, "token": known_client.token}}
    data = {name: known[name] if value == "known" else value for name, value in hello.items()}
    frame = to_frame({"type": "hello", "id": request_id, "data": data}, "text")
    expectation = classify(frame)
    resumes = bool(data.get("conversation_id") or data.get("token"))
    genuine = data.get("conversation_id") == known["conversation_id"] and data.get("token") == known["token"]
    last_seen = data.get("last_seen")
    if expectation.code:
        expected = expectation.code
    elif last_seen is not None and not (isinstance(last_seen, str) and _server_id(last_seen)):
        expected = "malformed"  # checked first: nothing is created for a hello that is refused
    elif resumes and not genuine:
        expected = "invalid_token"
    else:
        expected = "welcome"
    client = world.run(world.socket("customer"))
    try:
        frames = world.run(exchange(client, frame))
        got = check("/ws/customer hello", frames, expectation, expected, {"welcome"})
        if got == "welcome" and genuine:  # every stored message after last_seen, in order, then the status
            stored = world.transcript_ids(known["conversation_id"])
            missed = [i for i in stored if last_seen is None or message_order(i) > message_order(last_seen)]
            assert [f["id"] for f in frames if f["type"] == "message"] == missed, frames
            assert frames[-1]["type"] == "status", frames
        if got != "welcome":  # the refused hello left the socket as it was: a plain hello works
            world.run(client.send("hello", {}, id="again"))
            world.run(client.expect("welcome"))
    finally:
        world.run(client.close())


def _server_id(value: str) -> bool:
    """A message id as Redis makes them: two 64-bit numbers (not the greatest, which no message can follow)."""
    parts = value.split("-")
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() and len(part) <= 20 for part in parts):
        return False
    numbers = [int(part) for part in parts]
    return max(numbers) < 2 ** 64 and numbers != [2 ** 64 - 1] * 2


@budget(14)
@given(size=st.sampled_from([MAX_MESSAGE_BYTES - 1, MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES + 1, 64 * 1024,
                             SOCKET_LIMIT, SOCKET_LIMIT + 1, 2 * SOCKET_LIMIT]),
       binary=st.booleans())
def test_frames_near_and_over_the_limits(world: World, size: int, binary: bool) -> None:
    """Up to 8 KiB handled, up to 1 MiB refused with ``too_large`` (socket open), over 1 MiB the socket closes."""
    client = world.run(Customer.connect(world.address))
    text = padded(size)
    frame: Union[str, bytes] = text.encode() if binary else text
    try:
        if size <= SOCKET_LIMIT:
            expected = "ack" if size <= MAX_MESSAGE_BYTES else "too_large"
            check("/ws/customer frame sizes", world.run(exchange(client, frame)), classify(frame), expected, set())
            return
        counts = tally("/ws/customer frame sizes")
        counts.sent += 1
        with pytest.raises(ConnectionClosed) as closed:
            world.run(asyncio.wait_for(_send_and_read_until_closed(client.ws, frame), REPLY_TIMEOUT))
        assert closed.value.code == 1009, closed.value  # "message too big"
        counts.closed += 1
    finally:
        world.run(client.close())


async def _send_and_read_until_closed(ws: Any, frame: Union[str, bytes, None] = None) -> None:
    if frame is not None:
        await ws.send(frame)
    while True:
        await ws.recv()


# ---- /ws/agent ---------------------------------------------------------------------------------

POOL_SIZE = 6
# Requests to fuzz with: always this many (hypothesis needs the same choices in every example), the newest.
REQUEST_SLOTS = 3


@dataclass
class AgentBench:
    """Ann's fuzzed socket, Bob online (a transfer target), queued conversations for them, and
    conversations (the bot's) whose customers leave callbacks and messages for them: one open request
    per conversation, so a new asker for each request."""

    ann: Surface
    bob: Agent
    pool: List[Customer]  # customers, for their conversation ids and tokens
    requests: List[str] = field(default_factory=list)  # the REQUEST_SLOTS newest requests the askers left


@pytest.fixture
def agents(world: World) -> Iterator[AgentBench]:
    pool = [world.run(Customer.connect(world.address)) for _ in range(POOL_SIZE)]
    for client in pool:
        world.run(client.close())
    bench = AgentBench(Surface(lambda: world.socket("agent", ANN)), world.run(world.socket("agent", BOB)), pool)
    yield bench
    world.run(bench.ann.close())
    world.run(bench.bob.close())


def conversation_ids(pool: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return either(pool, pool, st.text(max_size=30), st.integers(63, 66).map(lambda n: "c" * n))


def request_ids(pool: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return either(pool, pool, st.sampled_from(["0-0", "1-1", "99999999999999-0", "18446744073709551616-0", "1-", "x"]),
                  st.text(max_size=25))


# Notes naming colleagues: an agent, a supervisor who serves no chats, nobody, an address (no mention), too many.
NOTE_TEXTS = st.one_of(TEXT, st.sampled_from([
    f"@{BOB} can you look?", f"cc @{ANN} and @{BOB}", f"@{SUE} fyi", "@nobody there?", f"mail {BOB}@example.com",
    " ".join(f"@{BOB}" if n % 2 else f"@{ANN}" for n in range(12)), " ".join(f"@a{n}" for n in range(11)),
    "<img src=x onerror=alert(1)> @", "@\u202e" + BOB,
]))


def agent_types(pool: st.SearchStrategy[str],
                requests: st.SearchStrategy[str] = st.just("0-0")) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    ids = conversation_ids(pool)
    request = request_ids(requests)
    names = either(st.sampled_from([ANN, BOB, SUE, "nobody"]), st.integers(63, 66).map(lambda n: "n" * n))
    groups = either(st.sampled_from(["general", "cards", "all"]), st.text(max_size=10))
    return {
        "queue": fields(), "requests": fields(), "team": fields(),
        "claim": fields(conversation_id=ids),
        "message": fields(conversation_id=ids, text=either(TEXT)),
        "transfer": st.one_of(fields(conversation_id=ids, to_agent=names, to_group=groups),  # with a note or not
                              fields(conversation_id=ids, to_agent=names, to_group=groups, note=either(NOTE_TEXTS))),
        "note": fields(conversation_id=ids, text=either(NOTE_TEXTS)),
        "view": fields(conversation_id=ids), "unview": fields(conversation_id=ids),
        "mentions": fields(), "mention_seen": fields(conversation_id=ids),
        "hand_back": fields(conversation_id=ids), "close": fields(conversation_id=ids),
        "typing": fields(conversation_id=ids, active=either(st.booleans())),
        "read": fields(conversation_id=ids, up_to=either(st.text(max_size=20))),
        "open_request": fields(request_id=request), "request_done": fields(request_id=request),
        "answer_request": fields(request_id=request, text=either(TEXT)),
        "set_status": fields(status=either(st.sampled_from(["available", "away", "offline", "Away", ""]))),
    }


AGENT_KINDS = set(agent_types(st.nothing()))
AGENT_VIEWS = {"queue", "requests", "team", "mentions"}
AGENT_REPLIES = AGENT_VIEWS | {"request", "agent_status"}
REQUEST_KINDS = {"open_request", "request_done", "answer_request"}
NOTE_KINDS = {"note", "view", "unview", "mention_seen"}


def request_oracle(envelope: Dict[str, Any], me: str, world: World) -> str:
    """open_request, request_done and answer_request, from what became of the request (docs/bridge-protocol.md)."""
    kind, data = envelope["type"], envelope["data"]
    request_id = data.get("request_id")
    parts = request_id.split("-") if isinstance(request_id, str) else []
    if not (len(parts) == 2 and all(p.isascii() and p.isdigit() and 0 < len(p) <= 20 and int(p) < 2 ** 64
                                    for p in parts)):
        return "malformed"
    if kind == "answer_request":
        refused = text_refusal(data.get("text"), MAX_TEXT)
        if refused:
            return refused
    if not world.redis.xrange(f"{world.prefix}:requests", request_id, request_id):
        return "not_found"
    if kind == "open_request":
        return "request"
    handled = {k.decode(): v.decode() for k, v in world.redis.hgetall(f"{world.prefix}:request-state:{request_id}").items()}
    if not handled:
        return "ack"  # open: anyone may mark it done or answer it
    again = handled["by"] == me and handled["state"] == ("done" if kind == "request_done" else "answered")
    return "ack" if again else "invalid_transition"  # the same again is the same answer




def mention_refusal(text: str) -> Optional[str]:
    """A note's mentions (of its text as stored): at most 10, each an agent's login name (ANN and BOB)."""
    names = mentioned_names(readable(text).strip())
    if len(names) > 10:
        return "malformed"
    return "unknown_mention" if any(name not in AGENTS for name in names) else None


def note_oracle(kind: str, data: Dict[str, Any], me: str, world: World,
                snapshot: Optional[Snapshot]) -> str:
    """note, view, unview, mention_seen (docs/bridge-protocol.md "Notes and mentions"), after the id and the
    conversation id were checked: a note's text and mentions, then the conversation, then who may read it
    (the agent serving it or one a note in it mentioned: the fuzzed agents are no supervisors)."""
    if kind in ("unview", "mention_seen"):
        return "ack"
    if kind == "note":
        refused = text_refusal(data.get("text"), MAX_TEXT)
        if refused:
            return refused
        refusal = mention_refusal(data["text"])
        if refusal:
            return refusal
    if snapshot is None:
        return "not_found"
    serving = snapshot.state == "agent" and snapshot.agent == me
    mentioned = world.redis.hexists(f"{world.prefix}:mentions:{me}", data["conversation_id"])
    return "ack" if serving or mentioned else "forbidden"


def agent_oracle(envelope: Dict[str, Any], me: str, world: World, online: Set[str]) -> str:
    """What an agent gets for this envelope, given the conversation it names as stored now."""
    kind, data, key = envelope["type"], envelope["data"], envelope["id"]
    if kind not in AGENT_KINDS:
        return "unknown_type"
    if kind in AGENT_VIEWS:
        return kind
    if kind in REQUEST_KINDS:
        return request_oracle(envelope, me, world)
    if kind == "set_status":  # available or away; offline follows from having no console open
        return "agent_status" if data.get("status") in ("available", "away") else "malformed"
    if kind in ("message", "note") and not key:
        return "malformed"
    conversation_id = data.get("conversation_id")
    if not is_text(conversation_id, 64) or not conversation_id:
        return "malformed"
    snapshot = world.snapshot(conversation_id)
    if kind in NOTE_KINDS:
        return note_oracle(kind, data, me, world, snapshot)
    serving = snapshot is not None and snapshot.state == "agent" and snapshot.agent == me
    if kind == "claim":
        if snapshot is None:
            return "not_found"
        if serving:
            return "ack"
        if snapshot.state == "agent":
            return "already_claimed"
        return "ack" if snapshot.state == "queued" else "invalid_transition"
    if kind == "message":
        refused = text_refusal(data.get("text"), MAX_TEXT)
        if refused:
            return refused
        return "ack" if serving else "invalid_transition"
    if kind == "transfer":
        to_agent, to_group = data.get("to_agent"), data.get("to_group")
        if any(value is not None and not (is_text(value, 64) and value) for value in (to_agent, to_group)):
            return "malformed"
        if "note" in data:  # a note needs the transfer's id
            refused = text_refusal(data["note"], MAX_TEXT) if key else "malformed"
            if refused:
                return refused
        if bool(to_agent) == bool(to_group) or (to_agent and to_agent not in ACCOUNTS):
            return "malformed"
        if to_agent and (to_agent not in online or world.away(to_agent)):
            return "invalid_transition"
    if snapshot is None:
        return "not_found"
    if not serving or (kind == "transfer" and data.get("to_agent") == me):
        return "invalid_transition"
    if kind == "transfer" and "note" in data:
        return mention_refusal(data["note"]) or "ack"
    return signal_answer(kind, data) if kind in ("typing", "read") else "ack"


def _refill(world: World, bench: AgentBench) -> None:
    """Conversations Bob got, or the agents handed back to the bot, join the queue again; a closed one stays
    closed, and a new customer's conversation takes its place."""
    for index, pooled in enumerate(bench.pool):
        snapshot = world.snapshot(pooled.conversation_id)
        if snapshot is not None and snapshot.state == "agent" and snapshot.agent == BOB:
            world.run(request(bench.bob, "hand_back", {"conversation_id": pooled.conversation_id}))
            snapshot = world.snapshot(pooled.conversation_id)
        if snapshot is not None and snapshot.state in ("bot", "closed"):
            again = world.run(Customer.connect(world.address, conversation_id=pooled.conversation_id,
                                              token=pooled.token) if snapshot.state == "bot"
                              else Customer.connect(world.address))
            world.run(request(again, "talk_to_person", {}))
            world.run(again.close())
            bench.pool[index] = again
    open_requests = [i for i in bench.requests if not world.redis.exists(f"{world.prefix}:request-state:{i}")]
    if len(bench.requests) < REQUEST_SLOTS or len(open_requests) < 2:  # Ann deals with them: new askers leave more
        for _ in range(REQUEST_SLOTS if len(bench.requests) < REQUEST_SLOTS else 1):
            asker = world.run(Customer.connect(world.address))
            world.run(request(asker, "leave", {"kind": "message", "contact": "fuzz@example.com"}))
            world.run(asker.close())
            left = world.redis.hget(f"{world.prefix}:conv:{asker.conversation_id}", "request")
            assert left, "the asker's request was not stored"
            bench.requests[:] = [*bench.requests, left.decode()][-REQUEST_SLOTS:]
    world.run(request(bench.bob, PROBE, {}))  # reads what Bob was sent meanwhile


@budget(400)
@given(data=st.data())
def test_agent_socket_answers_every_frame_as_documented(world: World, agents: AgentBench, data: st.DataObject) -> None:
    _refill(world, agents)
    pool = st.sampled_from([client.conversation_id for client in agents.pool])
    frame = data.draw(fuzzed(envelopes(agent_types(pool, st.sampled_from(agents.requests)))), label="frame")
    ann = world.run(agents.ann.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    named = envelope.get("data", {}).get("conversation_id")
    before = world.snapshot(named)
    expected = expectation.code or agent_oracle(envelope, ANN, world, world.online())
    frames = world.run(exchange(ann, frame))
    got = check("/ws/agent", frames, expectation, expected, AGENT_REPLIES)
    after = world.snapshot(named)
    if before is not None and got not in ("ack", NO_REPLY):
        assert after == before, f"an error changed the conversation: {before} -> {after}"
    if got == "ack" and envelope["type"] in REQUEST_KINDS:
        state = world.redis.hget(f"{world.prefix}:request-state:{envelope['data']['request_id']}", "state")
        assert state == (b"done" if envelope["type"] == "request_done" else b"answered"), state
    elif got == "ack" and envelope["type"] in NOTE_KINDS:
        assert after == before, f"{envelope['type']} changed the conversation: {before} -> {after}"
        if envelope["type"] == "note":
            assert world.stored_keys(named)[f"note:{ANN}:{envelope['id']}"] == 1
    elif got == "ack" and before is not None:
        assert after is not None
        kind, sent = envelope["type"], envelope["data"]
        if kind == "transfer" and "note" in sent:
            assert world.stored_keys(named)[f"note:{ANN}:{envelope['id']}"] == 1
        becomes = {"claim": ("agent", ANN), "hand_back": ("bot", ""), "close": ("closed", ANN),
                   "transfer": ("agent", sent.get("to_agent")) if sent.get("to_agent") else ("queued", ""),
                   "message": ("agent", ANN)}[kind]
        assert (after.state, after.agent) == becomes, f"{kind} left {after}"
        if kind == "message":
            assert world.stored_keys(named)[f"agent:{ANN}:{envelope['id']}"] == 1


@budget(80)
@given(data=st.data())
def test_agent_requests_are_answered_as_documented(world: World, agents: AgentBench, data: st.DataObject) -> None:
    """open_request, request_done and answer_request only (among all agent types each is rare), by Ann and
    by Bob: open requests, requests one of them dealt with, others' and unknown ones."""
    _refill(world, agents)
    pool = st.sampled_from(agents.requests)
    fuzzed_fields = {kind: spec for kind, spec in agent_types(st.just("none"), pool).items() if kind in REQUEST_KINDS}
    plausible = st.builds(
        lambda kind, request_id, text, key: {"type": kind, "id": key, "data": {
            "request_id": request_id, **({"text": text} if kind == "answer_request" else {})}},
        st.sampled_from(sorted(REQUEST_KINDS)), st.one_of(pool, pool, pool, request_ids(pool)),
        st.one_of(st.sampled_from(["We called you back.", "Your card is on its way."]), TEXT), UUIDS)
    frame = data.draw(framed(st.one_of(plausible, plausible, plausible, envelopes(fuzzed_fields))), label="frame")
    me = data.draw(st.sampled_from([ANN, BOB]), label="agent")
    client = world.run(agents.ann.ready()) if me == ANN else agents.bob
    expectation = classify(frame)
    expected = expectation.code or agent_oracle(expectation.envelope or {}, me, world, world.online())
    got = check("/ws/agent requests", world.run(exchange(client, frame)), expectation, expected, AGENT_REPLIES)
    envelope = expectation.envelope or {}
    if got == "ack":
        handled = world.redis.hgetall(f"{world.prefix}:request-state:{envelope['data']['request_id']}")
        state = "done" if envelope["type"] == "request_done" else "answered"
        assert (handled[b"state"], handled[b"by"]) == (state.encode(), me.encode()), handled


@budget(120)
@given(data=st.data())
def test_agent_notes_and_mentions_are_answered_as_documented(world: World, agents: AgentBench,
                                                              data: st.DataObject) -> None:
    """note, view, unview, mention_seen and transfers with a note (rare among all agent types), by Ann and by
    Bob, with claims between them: chats one of them serves, chats a note of the other mentioned them in,
    and others (docs/bridge-protocol.md "Notes and mentions")."""
    _refill(world, agents)
    pool = st.sampled_from([client.conversation_id for client in agents.pool])
    fuzzed_fields = {kind: spec for kind, spec in agent_types(pool).items() if kind in NOTE_KINDS | {"transfer"}}
    texts = st.one_of(st.sampled_from([f"@{ANN} can you take a look?", f"@{BOB} fyi", "checked the card status"]),
                      NOTE_TEXTS)
    plausible = st.builds(
        lambda kind, conversation_id, text, other, key: {"type": kind, "id": key, "data": {
            "conversation_id": conversation_id, **({"text": text} if kind == "note" else {}),
            **({"to_agent": other, "note": text} if kind == "transfer" else {})}},
        st.sampled_from(sorted(NOTE_KINDS | {"claim", "transfer"})), st.one_of(pool, pool, pool, conversation_ids(pool)),
        texts, st.sampled_from([ANN, BOB]), UUIDS)
    frame = data.draw(framed(st.one_of(plausible, plausible, plausible, envelopes(fuzzed_fields))), label="frame")
    me = data.draw(st.sampled_from([ANN, BOB]), label="agent")
    client = world.run(agents.ann.ready()) if me == ANN else agents.bob
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    named = envelope.get("data", {}).get("conversation_id")
    before = world.snapshot(named)
    expected = expectation.code or agent_oracle(envelope, me, world, world.online())
    got = check("/ws/agent notes", world.run(exchange(client, frame)), expectation, expected, AGENT_REPLIES)
    if got != "ack":
        assert world.snapshot(named) == before, "an error changed the conversation"
    elif envelope["type"] == "note" or (envelope["type"] == "transfer" and "note" in envelope["data"]):
        text = envelope["data"]["text" if envelope["type"] == "note" else "note"]
        assert world.stored_keys(named)[f"note:{me}:{envelope['id']}"] == 1
        for name in mentioned_names(readable(text).strip()):
            if name != me:
                assert world.redis.hexists(f"{world.prefix}:mentions:{name}", named), f"{name} was not told"


# ---- /ws/supervisor and /ws/content ---------------------------------------------------------------


@pytest.fixture
def supervisor(world: World) -> Iterator[Surface]:
    surface = Surface(lambda: world.socket("supervisor", SUE))
    yield surface
    world.run(surface.close())


@budget(60)
@given(frame=fuzzed(envelopes({"dashboard": fields()})))
def test_supervisor_socket_answers_every_frame_as_documented(world: World, supervisor: Surface, frame: Any) -> None:
    client = world.run(supervisor.ready())
    expectation = classify(frame)
    kind = (expectation.envelope or {}).get("type")
    expected = expectation.code or ("dashboard" if kind == "dashboard" else "unknown_type")
    check("/ws/supervisor", world.run(exchange(client, frame)), expectation, expected, {"dashboard"})


def content_types(model_id: str, conversation: str) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    """Every request a content editor may make, with fields of the documented types (and others)."""
    item_ids = either(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4), st.just([]))
    text = either(st.text(min_size=1, max_size=30), TEXT)
    model_ids = either(st.sampled_from([model_id, "20250101-000000-no-model"]), st.text(max_size=MAX_ID + 2))
    return {
        "label": fields(item_ids=item_ids, intent=either(st.sampled_from(["faq/card_arrival", "greet"]), text)),
        "new_faq": fields(item_ids=item_ids, key=text, category=either(st.sampled_from(["cards"]), text), answer=text),
        "new_intent": fields(item_ids=item_ids, name=text, answer=text),
        "out_of_scope": fields(item_ids=item_ids), "skip": fields(item_ids=item_ids),
        "train": fields(deploy=either(st.booleans())),
        "deploy": fields(model_id=model_ids, override=either(st.booleans()), reason=text),
        "rollback": fields(), "audit": fields(),
        "model": fields(model_id=model_ids),
        "conversation": fields(conversation_id=conversation_ids(st.just(conversation))),
    }


CONTENT_REPLIES = {"model", "audit", "conversation"}


def content_oracle(envelope: Dict[str, Any], model_id: str) -> str:
    kind, data = envelope["type"], envelope["data"]
    if kind == "conversation":
        conversation_id = data.get("conversation_id")
        return "conversation" if is_text(conversation_id, 64) and conversation_id else "malformed"
    if kind not in teach_commands.REQUESTS:
        return "unknown_type"
    try:
        checked = teach_commands.check(kind, data)  # the documented field checks, shared with the worker
    except InvalidRequest:
        return "malformed"
    if kind in teach_commands.WORKER_COMMANDS:
        return "worker_unavailable"  # no teaching worker runs here
    if kind == "rollback":
        return "refused"  # one model deployed: nothing to go back to
    if kind == "audit":
        return "audit"
    found = checked["model_id"] == model_id
    if kind == "model":
        return "model" if found else "not_found"
    return "ack" if found else "not_found"  # deploy (of the model already deployed: nothing changes)


@pytest.fixture
def content(world: World) -> Iterator[Surface]:
    surface = Surface(lambda: world.socket("content", COLE))
    yield surface
    world.run(surface.close())


@budget(250)
@given(data=st.data())
def test_content_socket_answers_every_frame_as_documented(world: World, content: Surface, customer: Surface,
                                                          data: st.DataObject) -> None:
    conversation = world.run(customer.ready()).conversation_id
    frame = data.draw(fuzzed(envelopes(content_types(world.model_id, conversation))), label="frame")
    client = world.run(content.ready())
    expectation = classify(frame)
    expected = expectation.code or content_oracle(expectation.envelope or {}, world.model_id)
    check("/ws/content", world.run(exchange(client, frame)), expectation, expected, CONTENT_REPLIES)


# ---- refused handshakes -------------------------------------------------------------------------

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


# What a subprotocol name may hold (an HTTP token); the token travels as one (docs/bridge-protocol.md).
TCHARS = st.characters(whitelist_categories=(), whitelist_characters="!#$%&'*+-.^_`|~0123456789"
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
TOKENS = st.one_of(
    st.tuples(st.just("genuine"), st.sampled_from(sorted(ACCOUNTS))),
    st.tuples(st.just("mangled"), st.sampled_from(sorted(ACCOUNTS))),  # a character of the signature changed
    st.tuples(st.just("in_url"), st.sampled_from(sorted(ACCOUNTS))),  # a genuine token where proxies log it
    st.tuples(st.just("text"), st.text(TCHARS, max_size=60)),
    st.tuples(st.just("text"), st.builds(lambda a, b: f"{a}.{b}", st.text(TCHARS, max_size=20),
                                         st.text(TCHARS, max_size=20))),
)


@budget(60)
@given(endpoint=st.sampled_from(["agent", "supervisor", "content"]), token=TOKENS)
def test_tokens_are_checked_before_anything_else(world: World, endpoint: str, token: "tuple[str, str]") -> None:
    """A forged, mangled, foreign or empty token, or one in the URL, gets one error and the socket
    closes; a right one offered as a subprotocol is let in."""
    kind, value = token
    account = value if kind == "genuine" else ""
    if kind in ("genuine", "mangled", "in_url"):
        value = world.tokens[value]
        value = value[:-1] + ("A" if value[-1] != "A" else "B") if kind == "mangled" else value
    role = {"agent": {ANN, BOB}, "supervisor": {SUE}, "content": {COLE}}[endpoint]
    url = f"ws://{world.address}/ws/{endpoint}"
    if kind == "in_url":
        url, value = f"{url}?token={urllib.parse.quote(value, safe='')}", ""
    counts = tally("handshakes (token, origin)")
    counts.sent += 1
    # What each endpoint sends first once it has let the socket in (an agent: their own status, then the queue).
    first = {"agent": "agent_status", "supervisor": "dashboard", "content": "catalog"}[endpoint]
    code = world.run(_first_answer(url, {}, protocols=["handoff", f"token.{value}"]))
    if account in role:
        assert code == first, f"{account} was not let in to /ws/{endpoint}: {code}"
        counts.answered += 1
    else:
        assert code == ("forbidden" if account else "invalid_token"), f"{endpoint} {value!r}: {code}"
        counts.errors[code] += 1
        counts.closed += 1


@budget(40)
@given(origin=st.one_of(HEADER_TEXT, st.sampled_from(["null", "http://evil.example", "https://127.0.0.1"]),
                        st.builds(lambda scheme, suffix: f"{scheme}://{{host}}{suffix}", st.sampled_from(["http", "https"]),
                                  st.sampled_from(["", "/", ".evil.example"]))))
def test_origins_other_than_the_bridges_own_are_refused(world: World, origin: str) -> None:
    origin = origin.replace("{host}", world.address).strip()  # HTTP drops the spaces around a header's value
    # Its own pages on its configured hosts (127.0.0.1, localhost), directly or behind a TLS proxy.
    own = origin in {f"{scheme}://{host}{port}" for host in ("127.0.0.1", "localhost") for scheme in ("http", "https")
                     for port in (f":{world.server.port}", "")} or not origin
    counts = tally("handshakes (token, origin)")
    counts.sent += 1
    code = world.run(_first_answer(f"ws://{world.address}/ws/customer", {"Origin": origin} if origin else {},
                                   greet=True))
    if own:
        assert code == "welcome", f"{origin!r}: {code}"
        counts.answered += 1
    else:
        assert code == "forbidden_origin", f"{origin!r}: {code}"
        counts.errors[code] += 1
        counts.closed += 1


async def _first_answer(url: str, headers: Dict[str, str], greet: bool = False,
                        protocols: Optional[List[str]] = None) -> str:
    """The type of the first frame (the error code for an error, after which the socket must close)."""
    offered = [Subprotocol(protocol) for protocol in protocols] if protocols else None
    async with websockets.connect(url, extra_headers=headers, max_size=None, subprotocols=offered) as ws:
        if greet:
            with contextlib.suppress(ConnectionClosed):  # a refused socket may be closed by now; its error is kept
                await ws.send(json.dumps({"type": "hello", "id": "hi", "data": {}}))
        first = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
        if first["type"] != "error":
            return str(first["type"])
        assert first["data"]["code"] in REFUSAL_CODES, first
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(_send_and_read_until_closed(ws), REPLY_TIMEOUT)
        return str(first["data"]["code"])


# ---- HTTP ----------------------------------------------------------------------------------------


def http_request(world: World, method: str, target: str, body: Optional[bytes] = None,
                 headers: Optional[Dict[str, str]] = None) -> "tuple[int, Dict[str, str], bytes]":
    """One request with the target exactly as given (no client-side normalising of ``..``)."""
    connection = http.client.HTTPConnection(world.address, timeout=REPLY_TIMEOUT)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def json_error(body: bytes) -> str:
    """The code of a JSON ``{"error": {"code", "message"}}`` body."""
    error = json.loads(body)["error"]
    assert isinstance(error["message"], str)
    return str(error["code"])


def check_http(method: str, status: int, body: bytes, what: str) -> None:
    """Never a 5xx; every 4xx says why in JSON."""
    assert status < 500, f"{what}: {status} {body[:300]!r}"
    if 400 <= status and method != "HEAD":
        json_error(body)


def http_tally(surface: str, status: int, answered: bool) -> None:
    counts = tally(surface)
    counts.sent += 1
    counts.statuses[status] += 1
    counts.answered += answered


LOGIN_BODIES = st.one_of(
    fields(name=either(st.sampled_from([ANN, ANN, "nobody", "", "n" * 65])),
           password=either(st.sampled_from([AGENT_PASSWORD, AGENT_PASSWORD, "wrong", ""]), st.just("p" * 5000)),
           ).map(lambda body: to_frame(body, "binary")),
    JSON.map(lambda value: to_frame(value, "binary")),
    st.binary(max_size=200),
)


@budget(50)
@example(body=b'{"name": "\\ud800", "password": "x"}', content_type="application/json")  # was a 500
@example(body=b'{"name": "fuzz-ann", "password": "\\udfff"}', content_type="application/json")  # was a 500
@example(body=b"{not json", content_type="application/json")  # was a 400 in plain text
@example(body=b'{"name": "fuzz-ann", "password": "correct horse battery"}', content_type="text/plain")  # was a 200
@given(body=LOGIN_BODIES, content_type=st.sampled_from(["application/json", "text/plain", "",
                                                        "application/x-www-form-urlencoded"]))
def test_login_answers_400_or_401_with_a_json_error_for_anything_but_the_right_password(
        world: World, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, reply = http_request(world, "POST", "/api/agents/login", body, headers)
    if content_type != "application/json":  # what a page on another site can send without asking
        assert status == 415 and json_error(reply) == "unsupported_media_type", (status, reply)
        http_tally("POST /api/agents/login", status, False)
        return
    try:
        value = sanic_json_loads(body)  # as the bridge reads it
    except Exception:  # noqa: BLE001 - not JSON
        value = None
    sent = value if isinstance(value, dict) else {}
    name, password = sent.get("name"), sent.get("password")
    check_http("POST", status, reply, f"login with {body[:100]!r}")
    if (name, password) == (ANN, AGENT_PASSWORD):
        assert status == 200 and json.loads(reply)["agent"] == ANN, (status, reply)
    elif not isinstance(name, str) or not isinstance(password, str) or not _encodable(name + password):
        assert status == 400 and json_error(reply) == "malformed", (status, reply)
    else:
        assert status == 401 and json_error(reply) == "invalid_credentials", (status, reply)
    http_tally("POST /api/agents/login", status, status == 200)


@budget(30)
@given(authorization=st.one_of(
           HEADER_TEXT,
           HEADER_TEXT.map(lambda text: f"Bearer {text}"),
           st.sampled_from(sorted(ACCOUNTS)).map(lambda account: ("mangled", account)),
           st.sampled_from(sorted(ACCOUNTS)).map(lambda account: ("no scheme", account))),
       content_type=st.sampled_from(["application/json", "application/json", "text/plain", ""]))
def test_logout_without_a_genuine_current_token_changes_nothing(world: World, authorization: Any,
                                                                content_type: str) -> None:
    """Forged, mangled or scheme-less tokens are refused (401), and every account's login still works after."""
    if isinstance(authorization, tuple):
        kind, account = authorization
        token = world.tokens[account]
        authorization = (f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}" if kind == "mangled" else token)
    headers = {"Authorization": authorization, **({"Content-Type": content_type} if content_type else {})}
    status, _, reply = http_request(world, "POST", "/api/agents/logout", b"{}", headers)
    check_http("POST", status, reply, f"logout with {authorization!r}")
    expected = ("unsupported_media_type", 415) if content_type != "application/json" else ("invalid_token", 401)
    assert (json_error(reply), status) == expected, (status, reply)
    http_tally("POST /api/agents/logout", status, False)


@budget(40)
@example(token="é", if_none_match=None)  # was a 500
@given(token=st.one_of(st.just("right"), st.text(max_size=40), st.just("")),
       if_none_match=st.one_of(st.none(), HEADER_TEXT, st.sampled_from(["model", '"model"', 'W/"model"', "*"])))
def test_the_model_server_endpoint(world: World, token: str, if_none_match: Optional[str]) -> None:
    token = world.model_token if token == "right" else token
    headers = {}
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match.replace("model", world.model_id)
    target = f"/api/models/current?token={urllib.parse.quote(token, safe='')}"
    status, reply_headers, body = http_request(world, "GET", target, headers=headers)
    check_http("GET", status, body, target)
    if token != world.model_token:
        assert status == 401 and json_error(body) == "invalid_token", (status, body[:200])
    elif headers.get("If-None-Match", "").removeprefix("W/").strip('"') == world.model_id:
        assert status == 304 and reply_headers["etag"] == f'"{world.model_id}"'
    else:
        assert status == 200 and reply_headers["etag"] == f'"{world.model_id}"' and body[:2] == b"\x1f\x8b"
    http_tally("GET /api/models/current", status, status in (200, 304))


QUERY = st.one_of(st.just(""), st.text(max_size=30).map(lambda text: "?" + urllib.parse.quote(text, safe="=&")))


@budget(40)
@given(path=st.sampled_from(["/health", "/ready", "/metrics"]), query=QUERY,
       method=st.sampled_from(["GET", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
def test_health_ready_and_metrics_never_fail(world: World, path: str, query: str, method: str) -> None:
    """/health on the public port; /ready and /metrics only on the loopback admin port."""
    status, headers, body = http_request(world, method, path + query)
    check_http(method, status, body, f"{method} {path + query}")
    if method == "GET" and path == "/health":
        assert status == 200 and json.loads(body) == {"status": "ok"}
    elif path != "/health":
        assert status == 404 and (method == "HEAD" or json_error(body) == "not_found"), (method, path, status)
    elif method not in ("GET", "HEAD"):
        assert status == 405 and json_error(body) == "method_not_allowed", (method, path, status)
    if method == "GET" and path != "/health":
        admin = requests.get(f"http://{admin_address(world.address)}{path}{query}", timeout=REPLY_TIMEOUT)
        assert admin.status_code in (200, 503) and ("checks" in admin.json() if path == "/ready"
                                                    else b"handoff_queue_length" in admin.content)
    http_tally("GET /health, /ready, /metrics", status, status in (200, 404))


@budget(30)
@given(host=st.one_of(HEADER_TEXT, st.sampled_from(["evil.example", "127.0.0.1.evil.example", "localhost.", "[::1]",
                                                    "127.0.0.2", "", "localhost:8080 evil", "localhost:",
                                                    "127.0.0.1@evil", "localhost:99999", "localhost:80:80"])),
       path=st.sampled_from(["/", "/health", "/console", "/api/agents/login", "/ws/customer", "/widget/chat.js"]))
def test_other_host_names_are_refused_everywhere(world: World, host: str, path: str) -> None:
    """DNS rebinding: a hostile name pointed at the bridge reaches nothing (421), whatever the route."""
    # A configured name with any valid port, and nothing else: no junk after the port (an attacker's find).
    written = re.fullmatch(r"(127\.0\.0\.1|localhost)(?::([0-9]{1,5}))?", host.strip().lower())
    known = written is not None and (written[2] is None or 0 < int(written[2]) < 65536)
    status, _, body = http_request(world, "GET", path, headers={"Host": host})
    check_http("GET", status, body, f"GET {path} Host {host!r}")
    if known:
        assert status != 421
    elif status != 400:  # a Host no HTTP parser accepts
        assert status == 421 and json_error(body) == "unknown_host", (host, path, status)
    http_tally("any route with another Host", status, status in (400, 421))


WIDGET_DIR = ROOT / "widget"
WIDGET_FILES = {hashlib.sha256(path.read_bytes()).hexdigest(): path.read_bytes()
                for path in WIDGET_DIR.rglob("*") if path.is_file()}
TRAVERSALS = ["../", "..%2f", "%2e%2e/", "%2e%2e%2f", "%2E%2E%2F", "..%5c", "..\\", "%252e%252e%252f", "....//",
              ".%2e/", "%c0%ae%c0%ae/", "..;/", "/", "./", ""]
TARGETS = ["handoff/settings.py", "widget/chat.js", "chat.js", "README.md", ".env", "etc/passwd", ".git/config",
           "customer/widget.js", "console/index.html", "demo/index.html", "%00", "chat.js%00.html", "x" * 300]


@budget(200)
@example(prefix="/widget/", traversal="", target="%00", method="GET", headers={})  # was a 500
@example(prefix="/widget/", traversal="", target="chat.js%00.html", method="GET", headers={})  # was a 500
@given(prefix=st.sampled_from(["/widget/"] * 4 + ["/widget", "/", "/console/", "/widget/customer/", "//", "/ws/"]),
       traversal=st.one_of(st.just(""), st.lists(st.sampled_from(TRAVERSALS), max_size=4).map("".join)),
       target=st.one_of(st.sampled_from(TARGETS), st.text(max_size=20).map(lambda t: urllib.parse.quote(t, safe="/"))),
       method=st.sampled_from(["GET", "GET", "HEAD", "POST"]),
       headers=st.fixed_dictionaries({}, optional={"Range": HEADER_TEXT | st.sampled_from(["bytes=0-10", "bytes=-5",
                                                                                         "bytes=9999999-"]),
                                                   "If-Modified-Since": HEADER_TEXT}))
def test_browser_files_never_leak_anything_outside_widget(world: World, prefix: str, traversal: str, target: str,
                                                          method: str, headers: Dict[str, str]) -> None:
    path = prefix + traversal + target
    status, _, body = http_request(world, method, path, headers=headers)
    check_http(method, status, body, f"{method} {path} {headers}")
    if status in (200, 206) and method == "GET":
        whole = hashlib.sha256(body).hexdigest() in WIDGET_FILES
        part = status == 206 and any(body in content for content in WIDGET_FILES.values())
        assert whole or part, f"{path} served something that is not a widget file: {body[:200]!r}"
    http_tally("GET browser files (/, /console, /widget/...)", status, status in (200, 206, 304))


@budget(30)
@example(path="/ws/customer", method="GET")  # was a 500 (the websocket handshake failed)
@given(path=st.sampled_from(["/ws/customer", "/ws/agent", "/ws/content", "/api/agents/login", "/api/models/current",
                             "/api", "/nothing"]) | st.text(max_size=30).map(lambda t: "/" + urllib.parse.quote(t)),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]))
def test_any_other_request_gets_a_4xx(world: World, path: str, method: str) -> None:
    status, _, body = http_request(world, method, path)
    check_http(method, status, body, f"{method} {path}")
    if path.startswith("/ws/"):
        assert status == 426, f"{method} {path} without a websocket upgrade: {status}"
    http_tally("other HTTP requests", status, status < 400)


# ---- the state machine: one customer, two agents ---------------------------------------------------


class RecordingSocket:
    """The customer's websocket, noting every message id and status it receives, in order."""

    def __init__(self, ws: Any, note: Callable[[Dict[str, Any]], None]) -> None:
        self.ws, self.note = ws, note

    async def recv(self) -> Any:
        raw = await self.ws.recv()
        self.note(json.loads(raw))
        return raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)


CHAT = st.one_of(st.sampled_from(["hello", "my card hasn't arrived", "I want to talk to a person", "thanks",
                                  "what can you do?", "ok"]),
                 # Texts that show something once the disguising controls are out (their edge is fuzzed above).
                 st.text(min_size=1, max_size=30).filter(lambda text: has_visible(readable(text))))


class Conversation(RuleBasedStateMachine):
    """One customer and two agents, in any order, against a model of handoff/machine.py."""

    world: ClassVar[World]
    agents: ClassVar[Dict[str, Agent]]

    def __init__(self) -> None:
        super().__init__()
        self.delivered: List[str] = []  # message ids the customer got, over all its connections
        self.status = ""  # the state in the last status push
        self.asked = ""  # the type of the last request
        self.acked: Dict[str, str] = {}  # customer:{id} / agent:{name}:{id} -> the server message id acked
        self.customer = self._connect()
        self.conversation_id, self.token = self.customer.conversation_id, self.customer.token

    # ---- plumbing

    def _connect(self, **resume: Any) -> Transport:
        client = self.world.run(Customer.connect(self.world.address, **resume))
        client.ws = RecordingSocket(client.ws, self._note)
        return client

    def _note(self, envelope: Dict[str, Any]) -> None:
        if envelope["type"] == "message":
            assert envelope["id"] not in self.delivered, f"delivered twice: {envelope}"
            if self.delivered:
                assert message_order(envelope["id"]) > message_order(self.delivered[-1]), "delivered out of order"
            self.delivered.append(envelope["id"])
        elif envelope["type"] == "status":
            self.status = envelope["data"]["state"]

    def _snapshot(self) -> Snapshot:
        snapshot = self.world.snapshot(self.conversation_id)
        assert snapshot is not None and snapshot.state in STATES, snapshot
        return snapshot

    def _request(self, client: Transport, kind: str, data: Dict[str, Any], key: str = "") -> Dict[str, Any]:
        self.asked = kind
        return self.world.run(request(client, kind, data, key))

    def _expect(self, reply: Dict[str, Any], before: Snapshot, error: Optional[str],
                states: Set[str], agent: Optional[str] = None) -> Snapshot:
        """The reply is ``error`` (or an ack when None); an error changes nothing, an ack leads to ``states``."""
        after = self._snapshot()
        tally("state machine (customer + agents)").sent += 1
        if error is None:
            assert reply["type"] == "ack", (self.asked, reply, before)
            assert after.state in states, (self.asked, before, after)
            if agent is not None:
                assert after.agent == agent, (self.asked, before, after)
            tally("state machine (customer + agents)").answered += 1
        else:
            assert reply["type"] == "error" and reply["data"]["code"] == error, (self.asked, reply, before, error)
            assert after == before, f"an error to {self.asked} changed the conversation: {before} -> {after}"
            tally("state machine (customer + agents)").errors[error] += 1
        return after

    @initialize(start=st.sampled_from(["bot", "queued", "agent", "closed"]), agent=st.sampled_from(sorted(AGENTS)))
    def begin_in(self, start: str, agent: str) -> None:
        """Starts in any state (each step on the way checked like any other), not only where the bot has it."""
        if start != "bot":
            self.talk_to_person()
        if start in ("agent", "closed"):
            self.claim(agent)
        if start == "closed":
            self.let_go(agent, "close")

    # ---- the customer

    @rule(text=CHAT)
    def customer_says(self, text: str) -> None:
        before = self._snapshot()
        key = uuid.uuid4().hex
        reply = self._request(self.customer, "message", {"text": text}, key)
        if before.state == "closed":  # it stays as it ended: the message is for a new conversation, not stored
            self._expect(reply, before, "conversation_closed", {"closed"})
            assert f"customer:{key}" not in self.world.stored_keys(self.conversation_id)
            return
        # The bot answers, and may hand over to a person.
        self._expect(reply, before, None, {"bot", "queued"} if before.state == "bot" else {before.state})
        self.acked[f"customer:{key}"] = reply["data"]["message_id"]
        assert self.world.stored_keys(self.conversation_id)[f"customer:{key}"] == 1

    @precondition(lambda self: any(key.startswith("customer:") for key in self.acked))
    @rule(data=st.data())
    def customer_retries(self, data: st.DataObject) -> None:
        """The same id again (a retry after a network drop): stored once, acknowledged with the same message."""
        key = data.draw(st.sampled_from(sorted(k for k in self.acked if k.startswith("customer:"))), label="retried")
        before = self._snapshot()
        reply = self._request(self.customer, "message", {"text": "sent again"}, key.partition(":")[2])
        self._expect(reply, before, None, {before.state})
        assert reply["data"]["message_id"] == self.acked[key]
        assert self.world.stored_keys(self.conversation_id)[key] == 1

    @rule()
    def talk_to_person(self) -> None:
        before = self._snapshot()
        reply = self._request(self.customer, "talk_to_person", {})
        if before.state == "closed":
            self._expect(reply, before, "conversation_closed", {"closed"})
            return
        self._expect(reply, before, None, {before.state} if before.state in ("queued", "agent") else {"queued"})

    @rule(description=st.sampled_from(["", "card stuck in the ATM"]), contact=st.sampled_from(["", "ann@example.com"]))
    def details(self, description: str, contact: str) -> None:
        before = self._snapshot()
        reply = self._request(self.customer, "details", {"description": description, "contact": contact})
        self._expect(reply, before, None if before.state == "queued" else "invalid_transition", {"queued"})

    @rule(kind=st.sampled_from(["callback", "message"]))
    def leave(self, kind: str) -> None:
        before = self._snapshot()
        key = uuid.uuid4().hex
        refusal = leave_refusal(self.world, self.conversation_id, key)
        reply = self._request(self.customer, "leave", {"kind": kind, "contact": "+44 20 7946 0000"}, key)
        error = refusal or ("invalid_transition" if before.state == "agent" else None)
        self._expect(reply, before, error, {"bot"} if before.state == "queued" and not error else {before.state})

    @rule()
    def leave_queue(self) -> None:
        before = self._snapshot()
        reply = self._request(self.customer, "leave_queue", {})
        error = "invalid_transition" if before.state == "agent" else None
        self._expect(reply, before, error, {"bot"} if before.state == "queued" else {before.state})

    @rule(score=st.integers(0, 6))
    def rating(self, score: int) -> None:
        before = self._snapshot()
        reply = self._request(self.customer, "rating", {"score": score, "comment": "fuzzed"})
        fine = before.state == "closed" and not before.rated and 1 <= score <= 5
        after = self._expect(reply, before, None if fine else "invalid_transition", {"closed"})
        assert after.rated or not fine

    @rule()
    def reconnect(self) -> None:
        """The customer's network drops; it resumes from the last message it saw."""
        self.world.run(self.customer.close())
        resume = {"conversation_id": self.conversation_id, "token": self.token}
        if self.delivered:
            resume["last_seen"] = self.delivered[-1]
        self.customer = self._connect(**resume)

    # ---- the agents

    @rule(agent=st.sampled_from(sorted(AGENTS)))
    def claim(self, agent: str) -> None:
        before = self._snapshot()
        reply = self._request(self.agents[agent], "claim", {"conversation_id": self.conversation_id})
        if before.state == "agent":
            error = None if before.agent == agent else "already_claimed"
        else:
            error = None if before.state == "queued" else "invalid_transition"
        self._expect(reply, before, error, {"agent"}, agent)

    @rule(agent=st.sampled_from(sorted(AGENTS)), text=CHAT)
    def agent_says(self, agent: str, text: str) -> None:
        before = self._snapshot()
        key = uuid.uuid4().hex
        reply = self._request(self.agents[agent], "message", {"conversation_id": self.conversation_id, "text": text},
                              key)
        self._expect(reply, before, None if self._serves(before, agent) else "invalid_transition", {"agent"}, agent)
        if reply["type"] == "ack":
            self.acked[f"agent:{agent}:{key}"] = reply["data"]["message_id"]
            assert self.world.stored_keys(self.conversation_id)[f"agent:{agent}:{key}"] == 1

    @rule(agent=st.sampled_from(sorted(AGENTS)), to=st.sampled_from(sorted(AGENTS) + ["general"]))
    def transfer(self, agent: str, to: str) -> None:
        before = self._snapshot()
        target = {"to_agent": to} if to in AGENTS else {"to_group": to}
        reply = self._request(self.agents[agent], "transfer", {"conversation_id": self.conversation_id, **target})
        error = None if self._serves(before, agent) and to != agent else "invalid_transition"
        self._expect(reply, before, error, {"agent"} if to in AGENTS else {"queued"}, to if to in AGENTS else "")

    @rule(agent=st.sampled_from(sorted(AGENTS)), kind=st.sampled_from(["hand_back", "close"]))
    def let_go(self, agent: str, kind: str) -> None:
        before = self._snapshot()
        reply = self._request(self.agents[agent], kind, {"conversation_id": self.conversation_id})
        # A close resent by the agent who closed the chat is acknowledged and changes nothing (its ack may
        # have been lost; docs/bridge-protocol.md, "close").
        resent_close = kind == "close" and before.state == "closed" and before.agent == agent
        error = None if self._serves(before, agent) or resent_close else "invalid_transition"
        after = self._expect(reply, before, error, {"bot" if kind == "hand_back" else "closed"})
        if resent_close:
            assert after == before, f"a resent close changed the conversation: {before} -> {after}"

    @staticmethod
    def _serves(snapshot: Snapshot, agent: str) -> bool:
        return snapshot.state == "agent" and snapshot.agent == agent

    # ---- invariants

    @invariant()
    def the_last_status_push_catches_up_with_the_stored_state(self) -> None:
        state = self._snapshot().state
        self._settle(lambda: self.status == state, f"a status push saying {state!r} (last: {self.status!r})")

    def _settle(self, done: Callable[[], bool], description: str) -> None:
        async def read() -> None:
            while not done():
                self.customer.received.append(json.loads(await self.customer.ws.recv()))

        try:
            self.world.run(asyncio.wait_for(read(), REPLY_TIMEOUT))
        except asyncio.TimeoutError:
            raise AssertionError(f"no {description} within {REPLY_TIMEOUT} s") from None

    def teardown(self) -> None:
        """Every acknowledged message is stored under the id acked; every stored message reached
        the customer once, in order; then the conversation is let go."""
        assert self.world.stored_ids(self.conversation_id).items() >= self.acked.items()
        stored = self.world.transcript_ids(self.conversation_id)
        self._settle(lambda: len(self.delivered) >= len(stored), "delivery of the whole transcript")
        assert self.delivered[:len(stored)] == stored, (self.delivered, stored)
        snapshot = self._snapshot()
        if snapshot.state == "agent":
            self._request(self.agents[snapshot.agent], "close", {"conversation_id": self.conversation_id})
        elif snapshot.state == "queued":  # claimed and closed: a leave may be refused (one open request)
            agent = self.agents[sorted(AGENTS)[0]]
            self._request(agent, "claim", {"conversation_id": self.conversation_id})
            self._request(agent, "close", {"conversation_id": self.conversation_id})
        self.world.run(self.customer.close())


def test_conversations_keep_their_invariants_whatever_customers_and_agents_do(world: World) -> None:
    Conversation.world = world
    Conversation.agents = {name: world.run(world.socket("agent", name)) for name in sorted(AGENTS)}
    try:
        run_state_machine_as_test(Conversation, settings=budget(25, stateful_step_count=25))
    finally:
        for client in Conversation.agents.values():
            world.run(client.close())


# ---- afterwards ---------------------------------------------------------------------------------


def test_after_the_fuzzing_the_bridge_is_healthy_and_its_log_is_clean(world: World) -> None:
    assert requests.get(f"http://{world.address}/health", timeout=10).json() == {"status": "ok"}

    async def a_whole_conversation() -> None:
        customer = await Customer.connect(world.address)
        await customer.say("hello")
        await customer.expect("message", kind="bot")
        await customer.send("talk_to_person", id="person")
        await customer.acknowledged("person")
        agent = await world.socket("agent", BOB)
        await agent.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await agent.acknowledged("claim")
        await agent.say("how can I help?", conversation_id=customer.conversation_id)
        await customer.expect("message", kind="agent", text="how can I help?")
        await agent.send("close", {"conversation_id": customer.conversation_id}, id="close")
        await agent.acknowledged("close")
        await customer.expect("status", state="closed")
        await customer.send("rating", {"score": 5}, id="rate")
        await customer.acknowledged("rate")
        await customer.close()
        await agent.close()

    world.run(a_whole_conversation())
    metrics = requests.get(f"http://{admin_address(world.address)}/metrics", timeout=10).text
    assert 'event="errors_internal"' not in metrics
    log = world.log.read_text(errors="replace")
    assert "Traceback" not in log, f"the bridge logged a traceback (see {world.log}):\n{log[log.index('Traceback') - 300:][:4000]}"
