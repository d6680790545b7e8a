"""Fuzzing search (``search``, ``search_open``) like the rest of the protocol (tests/drills/test_fuzz.py, whose
strategies and checks this module uses), on a bridge of its own with an archive (DATABASE_URL; an archiver
process applies the schema) holding conversations of two skill groups.

/ws/agent (Ann: every group; Bob: the group "sales") and /ws/supervisor (Sue) get both types, every field
plausible or anything JSON can say, and garbage frames. The oracle computes the answer
docs/bridge-protocol.md ("Search") gives: ``search_results`` whose results are all in the reader's scope,
newest first, with lines as text segments; ``search_conversation``; or one error with the right code,
never ``internal_error``.

    make drills ARGS="-k fuzz_search"
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, Iterator, Optional

import pytest
import redis as redis_sync
from hypothesis import given, strategies as st

from handoff.protocol import readable
from harness.clients import login
from harness.postgres import PostgresServer, running_archiver
from harness.servers import add_agent, delete_prefixed_keys, started_bridge
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (
    ANN, BOB, SUE, TEXT, Surface, World, budget, check, classify, conversation_ids, either, envelopes, exchange,
    fields, framed, fuzzed, is_text, reported,
)
from tests.drills.test_fuzz_workspace import plausible

SURFACES = ("/ws/agent search", "/ws/supervisor search")
# (id, group, agent, started): ids sort like their start, newest last
ARCHIVED = [("fz-1", "general", ANN, "2026-11-01"), ("fz-2", "sales", BOB, "2026-11-02"),
            ("fz-3", "sales", None, "2026-11-03"), ("fz-4", "general", BOB, "2026-11-04")]
SCOPES = {ANN: None, BOB: ("sales", BOB), SUE: None}  # None: every conversation
OUTCOMES = {"contained", "handed_off", "requested", "served", "abandoned", "rated", "open", "closed"}
LATEST_MS = 4102444800000
UNSPACED = [(0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x3400, 0x9FFF)]
WORDS = st.sampled_from(["card", "CARD refund", '"kept my card"', "-card", "or", "บัตร", "ระงับ", "ab", "تسجيل",
                         "tarjeta", "%", "_", "\\", "x" * 200, "x" * 201, "ca\x00rd", " "])


@pytest.fixture(scope="module", autouse=True)
def search_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, SURFACES)


@pytest.fixture(scope="module")
def search_world(redis_url: str, postgres: PostgresServer) -> Iterator[World]:
    database = f"fuzz_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(database)
    prefix = f"fuzzsearch{uuid.uuid4().hex[:8]}"
    for name, options in ((ANN, []), (BOB, ["--groups", "sales"]), (SUE, ["--roles", "supervisor"])):
        add_agent(redis_url, prefix, name, *options)
    loop = asyncio.new_event_loop()
    client = redis_sync.Redis.from_url(redis_url)
    try:
        with running_archiver(redis_url, url, prefix):  # applies the schema
            pass
        for conversation_id, group, agent, day in ARCHIVED:
            postgres.query(database, (
                f"INSERT INTO conversations (id, skill_group, started_at, state, agent) VALUES ('{conversation_id}',"
                f" '{group}', '{day}', 'closed', {repr(agent) if agent else 'NULL'});"
                f" INSERT INTO messages (conversation_id, id, position, sent_at, sender, text) VALUES"
                f" ('{conversation_id}', '1-0', 1000000, '{day}', 'customer', 'the machine kept my card บัตรเครดิต')"))
        with started_bridge(redis_url, "http://127.0.0.1:9", "fuzz-search-bridge", prefix, DATABASE_URL=url,
                            HANDOFF_MESSAGES_PER_SECOND="1000", HANDOFF_MESSAGE_BURST="1000",
                            HANDOFF_SEARCH_PER_SECOND="1000", HANDOFF_SEARCH_BURST="1000",
                            HANDOFF_MAX_CONNECTIONS_PER_IP="200") as server:
            tokens = {name: login(server.address, name).json()["token"] for name in SCOPES}
            yield World(loop, server, client, prefix, "", "", tokens)
    finally:
        loop.close()
        client.close()
        delete_prefixed_keys(redis_url, prefix)
        postgres.drop_database(database)


def unspaced(text: str) -> bool:
    return any(low <= ord(character) <= high for character in text for low, high in UNSPACED)


def whole(data: Dict[str, Any], name: str, low: int, high: int, default: Optional[int]) -> Optional[int]:
    """The number, or None when the field is absent and may be; raises ValueError when it is wrong."""
    if name not in data and default is not None:
        return default
    value = data.get(name)
    if value is None and default is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(name)
    return value


def search_answer(data: Dict[str, Any]) -> str:
    for name, cap in (("words", 200), ("customer", 200), ("label", 200), ("disposition", 200), ("agent", 200),
                      ("outcome", 20)):
        if name in data and not is_text(data[name], cap):
            return "malformed"
    outcome = readable(data.get("outcome", "")).strip()
    if outcome and outcome not in OUTCOMES:
        return "malformed"
    if not isinstance(data.get("part", False), bool):
        return "malformed"
    try:
        for name in ("since", "until"):
            whole(data, name, 0, LATEST_MS, None)
        offset, size = whole(data, "offset", 0, 500, 0), whole(data, "size", 1, 50, 20)
    except ValueError:
        return "malformed"
    assert offset is not None and size is not None
    if offset + size > 500:
        return "malformed"
    words = readable(data.get("words", "")).strip()
    if words and len(words.replace('"', "").strip()) < (3 if data.get("part") or unspaced(words) else 1):
        return "malformed"
    return "search_results"


def open_answer(world: World, reader: str, data: Dict[str, Any]) -> str:
    conversation_id = data.get("conversation_id")
    if not (is_text(conversation_id, 64) and conversation_id):
        return "malformed"
    archived = {row[0]: row for row in ARCHIVED}
    via = data.get("via")
    if via is not None:
        if not (is_text(via, 64) and via):
            return "malformed"
        if reader != SUE and world.snapshot(via) is None:
            return "not_found"  # the conversation beside which the panel is shown: in Redis, or nothing
        return "not_found"  # archived ones have no contact: answered as if not archived (no probing)
    if conversation_id not in archived:
        return "not_found"
    scope = SCOPES[reader]
    _, group, agent, _ = archived[conversation_id]
    return "search_conversation" if scope is None or group == scope[0] or agent == scope[1] else "not_found"


def types(good: bool) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    pool = st.sampled_from([row[0] for row in ARCHIVED] + ["fz-none"])
    texts = st.sampled_from(["fz", "sales", "resolved", BOB, ""])
    numbers = st.sampled_from([0, 1, 19, 20, 50, 51, 499, 500, 501, -1, LATEST_MS, LATEST_MS + 1])
    outcomes = st.sampled_from(sorted(OUTCOMES) + ["lost", ""])
    if good:
        return {"search": st.fixed_dictionaries({}, optional={
                    "words": WORDS, "part": st.booleans(), "customer": texts, "agent": texts, "outcome": outcomes,
                    "since": numbers, "until": numbers, "offset": st.sampled_from([0, 1, 2]),
                    "size": st.sampled_from([1, 2, 20])}),
                "search_open": st.fixed_dictionaries({"conversation_id": pool}, optional={"via": pool})}
    return {"search": fields(words=either(WORDS, TEXT), part=either(st.booleans()), customer=either(texts, TEXT),
                             label=either(texts), disposition=either(texts), agent=either(texts),
                             outcome=either(outcomes), since=either(numbers), until=either(numbers),
                             offset=either(numbers), size=either(numbers)),
            "search_open": fields(conversation_id=conversation_ids(pool), via=either(pool, st.text(max_size=10)))}


@pytest.mark.parametrize("reader", [ANN, BOB, SUE])
@budget(60)
@given(data=st.data())
def test_search_is_answered_as_documented(search_world: World, reader: str, data: st.DataObject) -> None:
    world = search_world
    endpoint = "supervisor" if reader == SUE else "agent"
    surface_name = SURFACES[1] if reader == SUE else SURFACES[0]
    plausible_frame = framed(plausible(types(good=True)))
    frame = data.draw(st.one_of(plausible_frame, plausible_frame, fuzzed(envelopes(types(good=False)))), label="frame")
    surface = Surface(lambda: world.socket(endpoint, reader))
    client = world.run(surface.ready())
    try:
        expectation = classify(frame)
        envelope = expectation.envelope or {}
        kind, body = envelope.get("type"), envelope.get("data", {})
        if expectation.code:
            expected = expectation.code
        elif kind == "search":
            expected = search_answer(body)
        elif kind == "search_open":
            expected = open_answer(world, reader, body)
        else:
            expected = "unknown_type"
        frames = world.run(exchange(client, frame))
        got = check(surface_name, frames, expectation, expected, {"search_results", "search_conversation"})
        if got == "search_results":
            results = next(f for f in frames if f["type"] == "search_results")["data"]["results"]
            scope = SCOPES[reader]
            allowed = {row[0] for row in ARCHIVED if scope is None or row[1] == scope[0] or row[2] == scope[1]}
            found = [result["conversation_id"] for result in results]
            assert set(found) <= allowed and found == sorted(found, reverse=True), found
            for result in results:
                for line in result["lines"]:
                    assert all(set(segment) == {"text", "match"} and isinstance(segment["text"], str)
                               for segment in line["segments"])
    finally:
        world.run(surface.close())
