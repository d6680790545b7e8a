"""A chat through a real bridge, archived by a real archiver process into a real PostgreSQL: what the
console and the customer did (messages, a label, a close with its disposition and note, the rating,
the handoff) is in the archive, and the bridge's /metrics shows the outbox. The archive is read with
PostgreSQL's own psql (harness.postgres: this environment has no psycopg 3)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable, Dict, List

import requests

from harness.clients import claimed, staff
from harness.postgres import running_archiver
from harness.servers import add_agent, admin_address, delete_prefixed_keys, running_bridge


async def answer(client: Any, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] in ("ack", "error"), f"the answer to {kind}")


def archived(query: Callable[[str], List[List[str]]], sql: str, expected: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (found := query(sql)) != expected:
        assert time.monotonic() < deadline, f"{sql}: {found}, not {expected}"
        time.sleep(0.1)


def test_a_chat_with_an_agent_is_archived_as_the_console_left_it(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)

    def query(sql: str) -> List[List[str]]:
        return postgres.query(archive_database, sql)

    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    add_agent(redis_url, prefix, "ann")
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")

    async def chat(address: str) -> str:
        sam = await staff(address, "sam", "supervisor")
        label_id = (await answer(sam, "label_save", {"name": "Card stuck", "colour": "#1f6feb"}))["data"]["label_id"]
        customer, ann = await claimed(address, "ann")
        conversation_id = customer.conversation_id
        await customer.send("message", {"text": "the cash machine kept my card"}, id="m1")
        await customer.acknowledged("m1")
        await ann.expect("message", conversation_id=conversation_id, text="the cash machine kept my card")
        assert (await answer(ann, "message", {"conversation_id": conversation_id, "text": "I have blocked it"}))["type"] == "ack"
        assert (await answer(ann, "label_conversation", {"conversation_id": conversation_id, "label_id": label_id,
                                                         "on": True}))["type"] == "ack"
        closed = await answer(ann, "close", {"conversation_id": conversation_id, "disposition": "resolved",
                                             "closing_note": "new card ordered"})
        assert closed["type"] == "ack", closed
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 4, "comment": "quick, thanks"}, id="r1")
        await customer.acknowledged("r1")
        for client in (sam, ann, customer):
            await client.close()
        return conversation_id

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-archive", prefix, DATABASE_URL=url) as address, \
                running_archiver(redis_url, url, prefix):
            conversation_id = asyncio.run(chat(address))
            archived(query, "SELECT state, agent, disposition, closing_note, rating, rating_comment FROM conversations",
                     [["closed", "ann", "resolved", "new card ordered", "4", "quick, thanks"]])
            metrics = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
        assert "handoff_outbox_length " in metrics and "handoff_outbox_max_length 1e+06" in metrics
        assert query("SELECT cardinality(c.label_ids), l.name FROM conversations c JOIN labels l ON l.id = ANY(c.label_ids)") \
            == [["1", "Card stuck"]]
        texts = [row[0] for row in query("SELECT text FROM messages ORDER BY position")]
        assert "the cash machine kept my card" in texts and "I have blocked it" in texts
        assert query("SELECT count(*) FROM handoffs") == [["1"]]
        assert query("SELECT score, agent FROM ratings") == [["4", "ann"]]
        assert query(f"SELECT count(*) FROM messages WHERE conversation_id = '{conversation_id}' "
                     "AND words @@ websearch_to_tsquery('simple', 'machine card')") == [["1"]]
    finally:
        delete_prefixed_keys(redis_url, prefix)

