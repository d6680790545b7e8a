"""Fuzzing the workspace's message types (labels, dispositions, canned responses) like the rest of the
protocol (tests/drills/test_fuzz.py, whose bridge, strategies and checks this module uses).

/ws/supervisor gets ``label_save``, ``label_delete``, ``label_conversation``, ``canned_save`` and
``canned_delete`` (and ``dashboard``); /ws/agent gets ``label_conversation`` and ``close`` with its
``disposition`` and ``closing_note`` (with ``claim``, so that Ann serves some of the conversations),
every field plausible or anything JSON can say, and garbage frames. The oracles below compute the
answer docs/bridge-protocol.md ("Labels and canned responses", the agents' table) gives for the
input in the state Redis holds: the ack, or one error with the right code, never ``internal_error``;
an ack's change is then checked in Redis, and an error changes nothing.

    make drills ARGS="-k fuzz_workspace"
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, Iterator, Optional

import pytest
from hypothesis import given, strategies as st

from handoff.protocol import readable
from tests.drills.report import DrillReport
from tests.drills.test_fuzz import (  # noqa: F401 - the fixtures world, agents and supervisor
    ANN, NO_REPLY, reported, TEXT, AgentBench, Surface, World, _refill, agent_oracle, agents, budget, check, classify,
    conversation_ids, either, envelopes, exchange, fields, framed, fuzzed, is_text, supervisor, world,
)

DISPOSITIONS = ["resolved", "not resolved", "follow-up needed", "spam"]  # HANDOFF_DISPOSITIONS (default)
LABEL_POOL = ["0a0a0a0a", "1b1b1b1b", "2c2c2c2c"]  # kept in the set before each example
MAX_LABELS, MAX_PER_CONVERSATION, MAX_NAME, MAX_NOTE = 50, 10, 32, 1000
MAX_CANNED, MAX_TITLE = 200, 60
COLOUR = re.compile(r"#[0-9a-f]{6}")
LABEL_ID = re.compile(r"[0-9a-f]{8}")
SHORTCUT = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")
SURFACES = ("/ws/supervisor workspace", "/ws/agent workspace")


@pytest.fixture(scope="module", autouse=True)
def workspace_report(request: pytest.FixtureRequest, drill_report: DrillReport) -> Iterator[None]:
    yield from reported(request, drill_report, SURFACES)  # here, not again by test_fuzz's report


# ---- Redis as the oracles read it ------------------------------------------------------------


def label_set(world: World) -> Dict[str, Dict[str, str]]:
    return {key.decode(): json.loads(value) for key, value in world.redis.hgetall(f"{world.prefix}:labels").items()}


def keep_label_pool(world: World) -> None:
    for number, label_id in enumerate(LABEL_POOL):
        world.redis.hsetnx(f"{world.prefix}:labels", label_id, json.dumps({"name": f"pool {number}", "colour": "#000000"}))


def conversation_labels(world: World, conversation_id: str) -> list:
    stored = world.redis.hget(f"{world.prefix}:conv:{conversation_id}", "labels")
    present = label_set(world)
    return [label_id for label_id in (stored or b"").decode().split(",") if label_id in present]


def canned(world: World) -> Dict[bytes, bytes]:
    return world.redis.hgetall(f"{world.prefix}:canned")


# ---- what the protocol document says -----------------------------------------------------------


def label_answer(world: World, data: Dict[str, Any], me: Optional[str]) -> str:
    """``label_conversation`` by ``me`` (an agent; None for a supervisor, who may label any conversation)."""
    conversation_id, label_id, on = data.get("conversation_id"), data.get("label_id"), data.get("on")
    if not (is_text(conversation_id, 64) and conversation_id) or not (isinstance(label_id, str) and LABEL_ID.fullmatch(label_id)):
        return "malformed"
    if not isinstance(on, bool):
        return "malformed"
    snapshot = world.snapshot(conversation_id)
    if snapshot is None:
        return "not_found"
    if me is not None and not (snapshot.state == "agent" and snapshot.agent == me):
        return "invalid_transition"
    if on and label_id not in label_set(world):
        return "not_found"
    present = conversation_labels(world, conversation_id)
    if on and label_id not in present and len(present) >= MAX_PER_CONVERSATION:
        return "too_many"
    return "ack"


def name_of(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not 0 < len(readable(value).strip()) <= MAX_NAME:
        return None
    return " ".join(readable(value).split())


def supervisor_oracle(world: World, envelope: Dict[str, Any]) -> str:
    kind, data = envelope["type"], envelope["data"]
    if kind == "dashboard":
        return "dashboard"
    if kind == "label_conversation":
        return label_answer(world, data, None)
    if kind in ("label_save", "label_delete"):
        label_id = data.get("label_id")
        if (kind == "label_delete" or label_id is not None) and not (isinstance(label_id, str) and LABEL_ID.fullmatch(label_id)):
            return "malformed"
        labels = label_set(world)
        if kind == "label_delete":
            return "ack" if label_id in labels else "not_found"
        name, colour = name_of(data.get("name")), data.get("colour")
        if name is None or not (isinstance(colour, str) and COLOUR.fullmatch(colour.lower())):
            return "malformed"
        if any(label["name"].casefold() == name.casefold() and other != label_id for other, label in labels.items()):
            return "exists"
        if label_id is None:
            return "too_many" if len(labels) >= MAX_LABELS else "ack"
        return "ack" if label_id in labels else "not_found"
    if kind not in ("canned_save", "canned_delete"):
        return "unknown_type"
    shortcut = data.get("shortcut")
    if not (isinstance(shortcut, str) and SHORTCUT.fullmatch(shortcut)):
        return "malformed"
    stored = canned(world)
    if kind == "canned_delete":
        return "ack" if shortcut.encode() in stored else "not_found"
    title, text, replaces = data.get("title"), data.get("text"), data.get("replaces")
    if not (isinstance(title, str) and 0 < len(readable(title).strip()) <= MAX_TITLE):
        return "malformed"
    if not (isinstance(text, str) and readable(text).strip() and len(text) <= 2000):
        return "malformed"
    if replaces is not None and not (isinstance(replaces, str) and SHORTCUT.fullmatch(replaces)):
        return "malformed"
    if replaces is None:
        if shortcut.encode() in stored:
            return "exists"
        return "too_many" if len(stored) >= MAX_CANNED else "ack"
    if replaces.encode() not in stored:
        return "not_found"
    return "exists" if replaces != shortcut and shortcut.encode() in stored else "ack"


def agent_workspace_oracle(world: World, envelope: Dict[str, Any], online: set) -> str:
    kind, data = envelope["type"], envelope["data"]
    if kind == "label_conversation":
        return label_answer(world, data, ANN)
    if kind == "close":
        conversation_id = data.get("conversation_id")
        if not (is_text(conversation_id, 64) and conversation_id):
            return "malformed"
        disposition, note = data.get("disposition"), data.get("closing_note")
        if disposition is not None and disposition not in DISPOSITIONS:
            return "malformed"
        if note is not None and not (isinstance(note, str) and len(note) <= MAX_NOTE):
            return "malformed"
    return agent_oracle(envelope, ANN, world, online)


# ---- strategies -----------------------------------------------------------------------------------

LABEL_IDS = either(st.sampled_from(LABEL_POOL), st.sampled_from(["0000abcd", "ABCDEF12", "1234567", ""]), st.text(max_size=10))
NAMES = either(st.sampled_from(["Card fraud", "card FRAUD", "  vip  ", "pool 0", "x" * MAX_NAME, "x" * (MAX_NAME + 1),
                                "<b>bold</b>", "\u202eevil", " "]), TEXT)
COLOURS = either(st.sampled_from(["#d1242f", "#D1242F", "#fff", "red", "#12345g", "#1234567"]))
SHORTCUTS = either(st.sampled_from(["hi", "bye", "refund", "refund-2", "/refund", "Refund", "a" * 25, "ok\n", ""]))
NOTES = either(TEXT, st.sampled_from(["x" * MAX_NOTE, "x" * (MAX_NOTE + 1)]))


def supervisor_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    return {
        "dashboard": fields(),
        "label_save": fields(name=NAMES, colour=COLOURS, label_id=st.none() | LABEL_IDS),
        "label_delete": fields(label_id=LABEL_IDS),
        "label_conversation": fields(conversation_id=conversation_ids(pool), label_id=LABEL_IDS, on=either(st.booleans())),
        "canned_save": fields(shortcut=SHORTCUTS, title=either(TEXT), text=either(TEXT), replaces=st.none() | SHORTCUTS),
        "canned_delete": fields(shortcut=SHORTCUTS),
    }


def agent_workspace_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    ids = conversation_ids(pool)
    return {
        "claim": fields(conversation_id=ids),
        "label_conversation": fields(conversation_id=ids, label_id=LABEL_IDS, on=either(st.booleans())),
        "close": fields(conversation_id=ids, disposition=either(st.sampled_from(DISPOSITIONS + ["Resolved", ""])),
                        closing_note=NOTES),
    }


def plausible(types: Dict[str, st.SearchStrategy[Dict[str, Any]]]) -> st.SearchStrategy[Dict[str, Any]]:
    """Well-formed requests of these types (most are acknowledged), with fresh ids."""
    return st.sampled_from(sorted(types)).flatmap(
        lambda kind: st.builds(lambda data, key: {"type": kind, "id": key, "data": data}, types[kind], st.uuids().map(str)))


def good_supervisor_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    label_ids = st.sampled_from(LABEL_POOL)
    shortcuts = st.sampled_from(["hi", "bye", "refund", "refund-2", "ok_3"])
    return {
        "label_save": st.fixed_dictionaries({"name": st.sampled_from(["Card fraud", "vip", "pool 1", "Angry"]),
                                             "colour": st.sampled_from(["#d1242f", "#1A7F37"])},
                                            optional={"label_id": label_ids}),
        "label_delete": st.fixed_dictionaries({"label_id": label_ids}),
        "label_conversation": st.fixed_dictionaries({"conversation_id": pool, "label_id": label_ids, "on": st.booleans()}),
        "canned_save": st.fixed_dictionaries({"shortcut": shortcuts, "title": st.sampled_from(["Refund", "Hi"]),
                                              "text": st.sampled_from(["Refunded, {agent}.", "Hello"])},
                                             optional={"replaces": shortcuts}),
        "canned_delete": st.fixed_dictionaries({"shortcut": shortcuts}),
    }


def good_agent_types(pool: st.SearchStrategy[str]) -> Dict[str, st.SearchStrategy[Dict[str, Any]]]:
    return {
        "claim": st.fixed_dictionaries({"conversation_id": pool}),
        "label_conversation": st.fixed_dictionaries({"conversation_id": pool, "label_id": st.sampled_from(LABEL_POOL),
                                                     "on": st.booleans()}),
        "close": st.fixed_dictionaries({"conversation_id": pool},
                                       optional={"disposition": st.sampled_from(DISPOSITIONS),
                                                 "closing_note": st.sampled_from(["", "call back friday", " \u202enote "])}),
    }


# ---- the tests --------------------------------------------------------------------------------------


def drawn_frame(world: World, agents: AgentBench, data: st.DataObject,
                good: Callable[[st.SearchStrategy[str]], Dict[str, st.SearchStrategy[Dict[str, Any]]]],
                every: Callable[[st.SearchStrategy[str]], Dict[str, st.SearchStrategy[Dict[str, Any]]]]) -> Any:
    """One example's frame: plausible requests twice as often as fuzzed ones, about the bench's conversations
    (refilled, with the label pool kept in the set)."""
    _refill(world, agents)
    keep_label_pool(world)
    pool = st.sampled_from([client.conversation_id for client in agents.pool])
    plausible_frame = framed(plausible(good(pool)))
    return data.draw(st.one_of(plausible_frame, plausible_frame, fuzzed(envelopes(every(pool)))), label="frame")


@budget(200)
@given(data=st.data())
def test_supervisors_workspace_messages_are_answered_as_documented(world: World, supervisor: Surface, agents: AgentBench,
                                                                   data: st.DataObject) -> None:
    frame = drawn_frame(world, agents, data, good_supervisor_types, supervisor_types)
    client = world.run(supervisor.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    expected = expectation.code or supervisor_oracle(world, envelope)
    labels_before, canned_before = label_set(world), canned(world)
    got = check("/ws/supervisor workspace", world.run(exchange(client, frame)), expectation, expected, {"dashboard"})
    sent = envelope.get("data", {})
    if got == "ack" and envelope["type"] == "label_save":
        assert {"name": name_of(sent["name"]), "colour": sent["colour"].lower()} in label_set(world).values()
    elif got == "ack" and envelope["type"] == "label_delete":
        assert sent["label_id"] not in label_set(world)
    elif got == "ack" and envelope["type"] == "canned_save":
        assert json.loads(canned(world)[sent["shortcut"].encode()])["title"] == " ".join(readable(sent["title"]).split())
    elif got == "ack" and envelope["type"] == "canned_delete":
        assert sent["shortcut"].encode() not in canned(world)
    elif got == "ack" and envelope["type"] == "label_conversation":
        assert (sent["label_id"] in conversation_labels(world, sent["conversation_id"])) == sent["on"]
    elif got not in ("ack", "dashboard", NO_REPLY):
        assert (label_set(world), canned(world)) == (labels_before, canned_before), "an error changed the sets"


@budget(200)
@given(data=st.data())
def test_agents_labels_and_dispositions_are_answered_as_documented(world: World, agents: AgentBench,
                                                                    data: st.DataObject) -> None:
    frame = drawn_frame(world, agents, data, good_agent_types, agent_workspace_types)
    ann = world.run(agents.ann.ready())
    expectation = classify(frame)
    envelope = expectation.envelope or {}
    named = envelope.get("data", {}).get("conversation_id")
    before = world.snapshot(named)
    labels_before = conversation_labels(world, named) if before is not None else None
    expected = expectation.code or (agent_workspace_oracle(world, envelope, world.online())
                                    if envelope.get("type") in agent_workspace_types(st.nothing()) else "unknown_type")
    got = check("/ws/agent workspace", world.run(exchange(ann, frame)), expectation, expected, set())
    after = world.snapshot(named)
    if got not in ("ack", NO_REPLY) and before is not None:
        assert after == before and conversation_labels(world, named) == labels_before, "an error changed the conversation"
    if got == "ack" and envelope["type"] == "close":
        stored = world.redis.hmget(f"{world.prefix}:conv:{named}", "disposition", "closing_note")
        sent = envelope["data"]
        assert after is not None and after.state == "closed"
        assert stored == [(sent.get("disposition") or "").encode(), readable(sent.get("closing_note") or "").strip().encode()]
    if got == "ack" and envelope["type"] == "label_conversation":
        assert (envelope["data"]["label_id"] in conversation_labels(world, named)) == envelope["data"]["on"]
