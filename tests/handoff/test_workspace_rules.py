"""Labels, dispositions and canned responses: the edge's checks and the dashboard's figures without
I/O, and their Redis side (handoff.labels, handoff.canned, the close's commit) against a real redis-server."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from handoff.canned import MAX_CANNED, CannedDesk, canned_of, shortcut_of
from handoff.closing import Closing, closing_of
from handoff.exceptions import AlreadyExists, ConversationNotFound, InvalidTransition, LimitReached, MalformedMessage, UnknownItem
from handoff.labels import (
    MAX_LABELS, MAX_LABELS_PER_CONVERSATION, LabelDesk, closing_figures, closing_totals, colour_of, label_id_of, name_of,
)
from handoff.machine import AgentClaimed, Closed, Conversation, CustomerAskedForPerson, State, apply
from handoff.settings import Settings
from handoff.store import Store
from tests.conftest import fresh_prefix

DISPOSITIONS = ("resolved", "not resolved", "follow-up needed", "spam")
SECRET = {"HANDOFF_SECRET": "s" * 16}


# ---- at the edge, without I/O -----------------------------------------------------------------


def test_a_close_gives_one_of_the_dispositions_and_an_optional_note():
    assert closing_of({}, DISPOSITIONS) == Closing()
    assert closing_of({"disposition": "spam", "closing_note": " \u202echecked \n"}, DISPOSITIONS) == Closing("spam", "checked")
    for bad in ({"disposition": "Resolved"}, {"disposition": ""}, {"disposition": ["spam"]}, {"disposition": 1},
                {"closing_note": 5}, {"closing_note": "x" * 1001}):
        with pytest.raises(MalformedMessage):
            closing_of(bad, DISPOSITIONS)


def test_a_close_writes_its_disposition_and_counts_it_only_when_given():
    assert Closing("spam", "n").fields() == ["disposition", "spam", "closing_note", "n"]
    assert Closing("spam").counters() == ["disposition:spam"]
    assert Closing().counters() == [] and Closing().fields() == ["disposition", "", "closing_note", ""]


def test_label_names_colours_and_ids_are_checked():
    assert name_of({"name": "  Card \u202e  fraud "}) == "Card fraud"
    assert colour_of({"colour": "#A1B2C3"}) == "#a1b2c3"
    assert label_id_of({"label_id": "0a1b2c3d"}) == "0a1b2c3d"
    for bad in ({}, {"name": ""}, {"name": " \u202e "}, {"name": "x" * 33}, {"name": 3}):
        with pytest.raises(MalformedMessage):
            name_of(bad)
    for bad in ({"colour": "red"}, {"colour": "#fff"}, {"colour": "#12345g"}, {"colour": "#123456;x"}, {}):
        with pytest.raises(MalformedMessage):
            colour_of(bad)
    for bad in ({"label_id": "0A1B2C3D"}, {"label_id": "1234567"}, {"label_id": None}):
        with pytest.raises(MalformedMessage):
            label_id_of(bad)


def test_canned_responses_from_supervisors_are_checked_as_the_files_are():
    assert canned_of({"shortcut": "refund", "title": " Refund  sent ", "text": " It is on its way. "}, 2000) == {
        "shortcut": "refund", "title": "Refund sent", "text": "It is on its way."}
    for bad in ({"shortcut": "/refund"}, {"shortcut": "Refund"}, {"shortcut": "x" * 25}, {"shortcut": ""}):
        with pytest.raises(MalformedMessage):
            shortcut_of(bad)
    for bad in ({"shortcut": "a", "title": "", "text": "t"}, {"shortcut": "a", "title": "t" * 61, "text": "t"},
                {"shortcut": "a", "title": "t", "text": "x" * 2001}, {"shortcut": "a", "title": "t", "text": "\x00"}):
        with pytest.raises(MalformedMessage):
            canned_of(bad, 2000)


def test_the_dashboard_counts_every_label_and_the_configured_dispositions_first():
    labels = [{"id": "aaaaaaaa", "name": "billing", "colour": "#000000"},
              {"id": "bbbbbbbb", "name": "Angry", "colour": "#ffffff"}]
    counters = {"label:aaaaaaaa": 3, "label:cccccccc": 9, "disposition:spam": 2, "disposition:escalated": 1}
    figures = closing_figures(counters, labels, DISPOSITIONS)
    assert [(label["name"], label["count"]) for label in figures["labels"]] == [("billing", 3), ("Angry", 0)]
    assert figures["dispositions"] == {"resolved": 0, "not resolved": 0, "follow-up needed": 0, "spam": 2,
                                       "escalated": 1}


def test_metrics_count_dispositions_and_labels_by_name():
    """What /metrics shows (its text: tests/handoff/test_workspace.py, through the bridge)."""
    totals = closing_totals({b"disposition:spam": b"4", b"label:aaaaaaaa": b"2", b"label:gone0000": b"7"},
                            [{"id": "aaaaaaaa", "name": "billing", "colour": "#000000"}])
    assert totals == {"dispositions": {"spam": 4}, "labels": {"billing": 2}}


def test_dispositions_are_configured_in_the_environment():
    assert Settings.from_env(SECRET).dispositions == DISPOSITIONS
    assert Settings.from_env({**SECRET, "HANDOFF_DISPOSITIONS": "fixed, no  reply ,"}).dispositions == ("fixed", "no reply")
    for bad in (",", "a,a", "x" * 41):
        with pytest.raises(ValueError, match="HANDOFF_DISPOSITIONS"):
            Settings.from_env({**SECRET, "HANDOFF_DISPOSITIONS": bad})


# ---- in Redis ---------------------------------------------------------------------------------


def run(redis_url: str, scenario: Callable[[Redis, str], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "workspace") as (client, prefix):
            return await scenario(client, prefix)

    return asyncio.run(main())


async def served(store: Store, conversation_id: str, agent: str = "ann") -> Conversation:
    await store.create(conversation_id, "token")
    conversation = await store.load(conversation_id)
    for event in (CustomerAskedForPerson(), AgentClaimed(agent)):
        after, _ = apply(conversation, event)
        stored = await store.commit(conversation, after, queue="add" if after.state is State.QUEUED else "remove")
        assert stored is not None
        conversation = stored
    return conversation


def test_the_label_set_names_are_unique_and_capped(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        desk = LabelDesk(Store(redis, prefix))
        first = await desk.save(None, "Billing", "#112233")
        with pytest.raises(AlreadyExists):
            await desk.save(None, "billing", "#000000")
        assert await desk.save(first, "BILLING", "#445566") == first  # its own name, in another case
        assert await desk.items() == [{"id": first, "name": "BILLING", "colour": "#445566"}]
        await desk.delete(first)
        with pytest.raises(UnknownItem):
            await desk.save(first, "Billing", "#112233")  # renaming a deleted label does not bring it back
        with pytest.raises(UnknownItem):
            await desk.delete(first)
        for number in range(MAX_LABELS):
            await desk.save(None, f"label {number}", "#000000")
        with pytest.raises(LimitReached) as refused:
            await desk.save(None, "one more", "#000000")
        assert refused.value.code == "too_many"

    run(redis_url, scenario)


def test_supervisors_saving_at_the_same_time_never_make_two_labels_of_one_name_nor_pass_the_cap(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        desk = LabelDesk(Store(redis, prefix))
        tried = await asyncio.gather(*(desk.save(None, name, "#000000") for name in ("Fraud", "fraud", "FRAUD")),
                                     return_exceptions=True)
        assert sum(isinstance(result, str) for result in tried) == 1, tried
        assert all(isinstance(result, (str, AlreadyExists)) for result in tried), tried
        for number in range(MAX_LABELS - 2):
            await desk.save(None, f"label {number}", "#000000")
        tried = await asyncio.gather(*(desk.save(None, f"late {n}", "#000000") for n in range(3)),
                                     return_exceptions=True)
        assert sum(isinstance(result, str) for result in tried) == 1, tried
        assert len(await desk.items()) == MAX_LABELS

    run(redis_url, scenario)


def test_only_the_serving_agent_labels_and_a_label_counts_once_a_day(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        desk = LabelDesk(store)
        await served(store, "c1")
        fraud, vip = await desk.save(None, "fraud", "#ff0000"), await desk.save(None, "vip", "#00ff00")
        with pytest.raises(InvalidTransition):
            await desk.set_on("c1", fraud, True, "2026-12-06", agent="bob")
        with pytest.raises(ConversationNotFound):
            await desk.set_on("nope", fraud, True, "2026-12-06")
        with pytest.raises(UnknownItem):
            await desk.set_on("c1", "0000abcd", True, "2026-12-06", agent="ann")
        assert await desk.set_on("c1", fraud, True, "2026-12-06", agent="ann") == [fraud]
        assert await desk.set_on("c1", fraud, True, "2026-12-06", agent="ann") == [fraud]  # again: nothing new
        assert await desk.set_on("c1", vip, True, "2026-12-06") == [fraud, vip]  # a supervisor
        day = f"{prefix}:day:2026-12-06"
        assert await redis.hget(day, f"label:{fraud}") == b"1"
        assert await desk.set_on("c1", fraud, False, "2026-12-06", agent="ann") == [vip]
        assert await redis.hget(day, f"label:{fraud}") == b"0", "taken off the same day: no longer counted"
        assert await redis.hget(f"{prefix}:stats:closing", f"label:{fraud}") == b"1", "all days: put on once"
        await desk.delete(vip)
        assert await desk.set_on("c1", fraud, True, "2026-12-06", agent="ann") == [fraud], "a deleted label drops off"
        assert await desk.of("c1") == [fraud]

    run(redis_url, scenario)


def test_a_conversation_has_at_most_so_many_labels(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        desk = LabelDesk(store)
        await served(store, "c1")
        ids = [await desk.save(None, f"l{n}", "#000000") for n in range(MAX_LABELS_PER_CONVERSATION + 1)]
        for label_id in ids[:-1]:
            await desk.set_on("c1", label_id, True, "2026-12-06")
        with pytest.raises(LimitReached):
            await desk.set_on("c1", ids[-1], True, "2026-12-06")

    run(redis_url, scenario)


def test_the_close_stores_and_counts_its_disposition_in_its_own_commit(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        before = await served(store, "c1")
        after, _ = apply(before, Closed("ann"))
        closing = Closing("follow-up needed", "call back friday")
        closed = await store.commit(before, after, extra_fields=closing.fields(), day="2026-12-06",
                                    counters=closing.counters())
        assert closed is not None
        again = await store.commit(before, after, extra_fields=closing.fields(), day="2026-12-06",
                                   counters=closing.counters())
        assert again is None, "a stale close is refused"
        stored = {k.decode(): v.decode() for k, v in (await redis.hgetall(f"{prefix}:conv:c1")).items()}
        assert (stored["state"], stored["disposition"], stored["closing_note"]) == (
            "closed", "follow-up needed", "call back friday")
        assert await redis.hget(f"{prefix}:day:2026-12-06", "disposition:follow-up needed") == b"1", "counted once"
        assert await redis.hget(f"{prefix}:stats:closing", "disposition:follow-up needed") == b"1"
        assert await redis.pttl(f"{prefix}:day:2026-12-06") > 0

    run(redis_url, scenario)


def test_the_file_seeds_the_canned_responses_once_and_edits_keep_shortcuts_unique(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        desk = CannedDesk(redis, prefix, f"{prefix}:workspace-events")
        seed = [{"shortcut": "hi", "title": "Hello", "text": "Hello, I'm {agent}."}]
        assert await desk.seed(seed)
        await desk.delete("hi")
        assert not await desk.seed(seed), "deleted stays deleted: the file is the initial set only"
        assert await desk.items() == []
        await desk.save({"shortcut": "refund", "title": "Refund", "text": "Refunded."}, None)
        await desk.save({"shortcut": "bye", "title": "Bye", "text": "Bye."}, None)
        with pytest.raises(AlreadyExists):
            await desk.save({"shortcut": "refund", "title": "Again", "text": "x"}, None)
        with pytest.raises(AlreadyExists):
            await desk.save({"shortcut": "bye", "title": "Bye", "text": "x"}, "refund")
        with pytest.raises(UnknownItem):
            await desk.save({"shortcut": "new", "title": "t", "text": "x"}, "gone")
        await desk.save({"shortcut": "refunded", "title": "Refund sent", "text": "Sent."}, "refund")
        assert [item["shortcut"] for item in await desk.items()] == ["bye", "refunded"]
        for number in range(MAX_CANNED - 2):
            await redis.hset(f"{prefix}:canned", f"n{number}", json.dumps({"title": "t", "text": "x"}))
        with pytest.raises(LimitReached):
            await desk.save({"shortcut": "full", "title": "t", "text": "x"}, None)

    run(redis_url, scenario)
