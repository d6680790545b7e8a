"""The teaching loop reads the bridge's transcripts without importing the bridge (teaching.transcripts)."""

from __future__ import annotations

import asyncio
import subprocess

from handoff.store import Store
from harness.servers import ROOT, VENV_BIN, base_env
from teaching.store import TeachStore
from teaching.transcripts import RedisTranscripts, TranscriptReader
from tests.conftest import fresh_prefix


def test_the_teaching_reader_sees_what_the_bridge_stored_in_every_page(redis_url):
    async def scenario() -> None:
        async with fresh_prefix(redis_url, "transcripts") as (client, prefix):
            store = Store(client, prefix=prefix)
            await store.create("c1", "token")
            await store.append("c1", "customer", "k1", "my card has not arrived")
            await store.append("c1", "bot", "b1", "Cards arrive within 5 working days.", {"buttons": []})
            await store.append("c1", "agent", "a1", "I have ordered you a new one.", {"agent": "ann"})
            for number in range(3):
                await store.append("c1", "customer", f"more-{number}", f"thanks {number}")

            reader: TranscriptReader = RedisTranscripts(client, prefix)
            review = await reader.review("c1")
            assert review == await store.review("c1")
            assert [m["kind"] for m in review["messages"]] == ["customer", "bot", "agent"] + ["customer"] * 3
            assert review["messages"][1]["data"] == {"buttons": []}
            assert review["answers"] == [{"text": "I have ordered you a new one.", "agent": "ann",
                                          "ts": review["messages"][2]["ts"]}]

            assert await RedisTranscripts(client, prefix, page=2).review("c1") == review
            assert await reader.review("gone") == {"conversation_id": "gone", "messages": [], "answers": []}

    asyncio.run(scenario())


def test_agents_private_notes_are_in_the_transcript_but_never_in_the_content_staffs_review(redis_url):
    async def scenario() -> None:
        async with fresh_prefix(redis_url, "transcripts") as (client, prefix):
            store = Store(client, prefix=prefix)
            await store.create("c2", "token")
            await store.append("c2", "customer", "k1", "my card was eaten")
            await store.append("c2", "note", "note:ann:n1", "@bob the ATM log shows it", {"agent": "ann"})
            await store.append("c2", "agent", "a1", "A new card is on its way.", {"agent": "ann"})
            assert [m["kind"] for m in await store.messages_after("c2", None)] == ["customer", "note", "agent"]
            for review in (await store.review("c2"), await RedisTranscripts(client, prefix).review("c2")):
                assert [m["kind"] for m in review["messages"]] == ["customer", "agent"]
                assert "ATM log" not in repr(review)

    asyncio.run(scenario())


def test_the_cli_shows_an_inbox_item_with_its_conversation_and_the_agents_answer(redis_url):
    async def scenario() -> str:
        async with fresh_prefix(redis_url, "transcripts") as (client, prefix):
            bridge = Store(client, prefix=prefix)
            await bridge.create("c7", "token")
            await bridge.append("c7", "customer", "k1", "can I insure my dog")
            await bridge.append("c7", "agent", "a1", "Not yet, but pet insurance is coming.", {"agent": "ann"})
            teach = TeachStore(client, prefix=f"{prefix}:teach")
            await teach.upsert_item({"message_id": "m7", "text": "can I insure my dog", "conversation_id": "c7",
                                     "reasons": ["handoff"], "time": 1000.0}, b"")
            done = await asyncio.to_thread(
                subprocess.run, [str(VENV_BIN / "python"), "-m", "teaching", "show", "m7"], cwd=ROOT,
                env={**base_env(), "REDIS_URL": redis_url, "TEACH_KEY_PREFIX": f"{prefix}:teach",
                     "HANDOFF_KEY_PREFIX": prefix}, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout

    shown = asyncio.run(scenario())
    assert '"conversation_id": "c7"' in shown
    assert "customer: can I insure my dog" in shown
    assert "ann: Not yet, but pet insurance is coming." in shown
