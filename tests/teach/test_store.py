"""The teaching state in a real Redis: inbox items, commands, models, deployments, audit."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import numpy as np
import pytest

from teaching.errors import NotFound, Refused, TeachError, WorkerUnavailable
from teaching.store import ItemState, TeachStore
from teaching.worker.embeddings import add_item, open_items
from tests.conftest import fresh_prefix


def run(redis_url: str, scenario: Callable[[TeachStore], Awaitable[Any]]) -> Any:
    """Run ``scenario`` with a store under a fresh prefix, whose keys are deleted after."""

    async def main() -> Any:
        async with fresh_prefix(redis_url, "teach-test") as (client, prefix):
            return await scenario(TeachStore(client, prefix=prefix))

    return asyncio.run(main())


def candidate(message_id: str, text: str, reasons: list, time: float = 1000.0, **extra: Any) -> dict:
    return {"text": text, "conversation_id": "conv-" + message_id, "message_id": message_id, "reasons": reasons,
            "intent": "faq/card_arrival", "confidence": 0.45, "time": time, "handoff_reason": None, **extra}


def vector(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return values / np.linalg.norm(values)


def test_items_merge_repeat_sightings_and_close_with_an_audit_entry(redis_url):
    async def scenario(store: TeachStore) -> None:
        await add_item(store, candidate("m1", "where is my card", ["low_confidence"]), vector(1))
        await add_item(store, candidate("m1", "where is my card", ["handoff"], handoff_reason="requested"),
                       vector(1))
        await add_item(store, candidate("m2", "asdf", ["not_understood"], time=2000.0), vector(2))

        items, vectors = await open_items(store, 10)
        assert [item["id"] for item in items] == ["m2", "m1"]  # newest first
        assert items[1]["reasons"] == ["handoff", "low_confidence"]
        assert items[1]["handoff_reason"] == "requested"
        assert np.allclose(vectors[1], vector(1))

        label_id = await store.decide(["m1"], ItemState.LABELLED, {"intent": "faq/card_arrival"}, "carla",
                                      {"added": ["where is my card"]})
        assert await store.open_count() == 1
        [item] = await store.items(["m1"])
        assert (item["state"], item["decision"], item["by"]) == ("labelled", {"intent": "faq/card_arrival"}, "carla")
        [entry] = await store.recent_audit()
        assert (entry["who"], entry["action"]) == ("carla", "label")
        assert entry["detail"] == {"intent": "faq/card_arrival", "items": ["m1"], "label_id": label_id}
        with pytest.raises(NotFound):
            await store.items(["m1", "nope"])

        # Undone: the message is open again, the label says who undid it, the trail too.
        await store.undo_label(label_id, "dora", {"removed": 1})
        [item] = await store.items(["m1"])
        assert (item["state"], item["decision"], item["by"]) == ("open", None, None)
        assert [i["id"] for i in (await open_items(store, 10))[0]] == ["m2", "m1"]
        label = await store.label(label_id)
        assert (label["state"], label["by"], label["undone_by"], label["added"]) == (
            "undone", "carla", "dora", ["where is my card"])
        undo = (await store.recent_audit())[0]
        assert (undo["who"], undo["action"], undo["detail"]) == ("dora", "undo_label", {
            "label_id": label_id, "label_by": "carla", "intent": "faq/card_arrival", "removed": 1, "items": ["m1"]})
        with pytest.raises(NotFound):
            await store.label("nope")

    run(redis_url, scenario)


def test_commands_reach_a_worker_and_its_reply_or_error_comes_back(redis_url):
    async def scenario(store: TeachStore) -> None:
        with pytest.raises(WorkerUnavailable):
            await store.command("skip", {"item_ids": ["m1"]}, "carla")
        await store.ensure_groups()
        assert await store.claim_worker("w1", 10)
        assert not await store.claim_worker("w2", 10)  # one worker at a time

        async def worker() -> None:
            for reply in ({"ok": True, "error": None, "data": {"items": 1}},
                          {"ok": False, "error": {"code": "conflict", "message": "already greet"}, "data": None}):
                entries = []
                while not entries:
                    entries = await store.read_stream("commands", "w1", count=1, block_ms=100)
                [(entry_id, command)] = entries
                await store.reply(command["id"], reply)
                await store.acknowledge("commands", entry_id)

        serving = asyncio.create_task(worker())
        assert await store.command("skip", {"item_ids": ["m1"]}, "carla") == {"items": 1}
        with pytest.raises(TeachError) as refused:
            await store.command("label", {"item_ids": ["m1"], "intent": "greet"}, "carla")
        assert (refused.value.code, str(refused.value)) == ("conflict", "already greet")
        await serving
        await store.release_worker("w1")
        assert await store.worker() is None

    run(redis_url, scenario)


def test_unacknowledged_entries_are_read_again_by_the_next_worker(redis_url):
    async def scenario(store: TeachStore) -> None:
        await store.ensure_groups()
        await store.add_incoming(candidate("m1", "hello?", ["not_understood"]))
        [(entry_id, value)] = await store.read_stream("incoming", "crashed", count=10, block_ms=100)
        # The first worker died before acknowledging; its successor gets the entry again.
        assert await store.read_stream("incoming", "crashed", count=10, block_ms=100) == [(entry_id, value)]
        await store.acknowledge("incoming", entry_id)
        assert await store.read_stream("incoming", "crashed", count=10, block_ms=100) == []

    run(redis_url, scenario)


def test_deploy_refuses_a_worse_model_without_override_and_rollback_undoes(redis_url):
    async def scenario(store: TeachStore) -> None:
        await store.add_model("m-first", b"first", "tests", None, "published", None, keep=10)
        await store.add_model("m-better", b"better", "carla", {"verdict": "better"}, "better", "m-first", keep=10)
        await store.add_model("m-worse", b"worse", "carla", {"verdict": "worse"}, "worse", "m-better", keep=10)
        with pytest.raises(Refused):
            await store.rollback("carla")  # nothing deployed yet

        assert await store.deploy("m-first", "tests")
        assert not await store.deploy("m-first", "tests")  # already current
        assert await store.deploy("m-better", "carla")
        with pytest.raises(Refused):
            await store.deploy("m-worse", "carla")
        assert await store.current() == "m-better"
        assert await store.deploy("m-worse", "dana", override=True, reason="the new intent matters more")
        assert await store.current() == "m-worse"

        assert await store.rollback("dana") == "m-better"
        assert await store.rollback("dana") == "m-first"
        with pytest.raises(Refused):
            await store.rollback("dana")
        with pytest.raises(NotFound):
            await store.deploy("m-missing", "dana")

        actions = [(e["who"], e["action"], e["detail"].get("model_id") or e["detail"].get("to_model"))
                   for e in reversed(await store.recent_audit())]
        assert actions == [
            ("tests", "trained", "m-first"), ("carla", "trained", "m-better"), ("carla", "trained", "m-worse"),
            ("tests", "deploy", "m-first"), ("carla", "deploy", "m-better"), ("dana", "deploy", "m-worse"),
            ("dana", "rollback", "m-better"), ("dana", "rollback", "m-first"),
        ]
        override = [e for e in await store.recent_audit() if e["action"] == "deploy"][0]["detail"]
        assert override == {"model_id": "m-worse", "verdict": "worse", "override": True,
                            "reason": "the new intent matters more"}

    run(redis_url, scenario)


def test_old_model_files_are_pruned_but_never_recent_deployments(redis_url):
    async def scenario(store: TeachStore) -> None:
        await store.add_model("m0", b"zero", "tests", None, "published", None, keep=2)
        await store.deploy("m0", "tests")
        for number in range(1, 4):
            await store.add_model(f"m{number}", b"x", "tests", None, "better", None, keep=2)
        kept = {model["id"]: model["kept"] for model in await store.models()}
        assert kept == {"m3": True, "m2": True, "m1": False, "m0": True}
        assert await store.model_blob("m0") == b"zero"
        assert await store.model_blob("m1") is None

    run(redis_url, scenario)


def test_the_inbox_keeps_a_message_for_its_retention_only(redis_url):
    async def main() -> None:
        async with fresh_prefix(redis_url, "teach-retention") as (client, prefix):
            store = TeachStore(client, prefix=prefix, inbox_retention_seconds=1)
            await store.ensure_groups()
            await store.add_incoming(candidate("m1", "where is my card", ["low_confidence"]))
            [(entry_id, value)] = await store.read_stream("incoming", "w", count=10, block_ms=10)
            await add_item(store, value, vector(1))
            await store.acknowledge("incoming", entry_id)
            assert await client.ttl(store.key("item", "m1")) == 1
            assert [item["id"] for item in (await open_items(store, 10))[0]] == ["m1"]
            await asyncio.sleep(2.1)
            await store.acknowledge("incoming")  # the next batch taken in trims what is older
            assert await client.exists(store.key("item", "m1")) == 0
            assert (await open_items(store, 10))[0] == [] and await store.open_count() == 0
            assert await client.xlen(store.key("incoming")) == 0

    asyncio.run(main())
