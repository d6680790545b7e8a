"""The bot's side of suggested replies (bot/suggestions/): the index of agents' earlier replies is shared
by every Rasa server through Redis, and the Rasa server's endpoint checks what it is sent."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import requests

from bot.suggestions.index import LearnedPair, NearestReplies, ReplyIndex, recurring
from tests.conftest import fresh_prefix


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def pair(number: int, reply: str = "") -> LearnedPair:
    return LearnedPair(f"c{number}:1-{number}", f"question {number}", reply or f"reply {number}")


def test_a_reply_one_server_indexes_is_found_by_another_and_the_oldest_go_past_the_cap(redis_url):
    async def scenario() -> None:
        async with fresh_prefix(redis_url, "suggest") as (redis, prefix):
            one, other = (ReplyIndex(redis, f"{prefix}:", max_replies=3, min_conversations=1) for _ in range(2))
            assert (await other.current()).nearest(unit(1, 0), 2, 0.5) == []
            assert await one.add([pair(1)], np.vstack([unit(1, 0)]), ["card_arrival"]) == 1
            found = (await other.current()).nearest(unit(1, 0.1), 2, 0.5)
            assert [(item["text"], item["source"], item["topic"]) for item in found] == [("reply 1", "agent", "card_arrival")]
            assert await one.unknown([pair(1), pair(2)]) == [pair(2)]
            assert await one.add([pair(1, "changed")], np.vstack([unit(0, 1)]), ["x"]) == 0  # an id is kept once
            await one.add([pair(n) for n in (2, 3, 4)], np.vstack([unit(1, 0.2 * n) for n in (2, 3, 4)]), ["t"] * 3)
            texts = [item["text"] for item in (await other.current()).nearest(unit(1, 0), 5, 0.0)]
            assert sorted(texts) == ["reply 2", "reply 3", "reply 4"]  # the first went: three at most
            assert await redis.hlen(f"{prefix}:{{suggest}}:replies") == 3

    asyncio.run(scenario())


def test_only_a_reply_the_team_gave_near_identical_in_three_conversations_is_offered(redis_url):
    """A reply written for one person's circumstances is not suggested to others; a recurring one is."""
    recurring_reply = "I've ordered a new card for you; it arrives in 5 to 7 working days."
    one_person = "Sorry, it was stolen from your flat while you were away; the new card goes to your sister's."
    assert recurring({"c1:1-0": recurring_reply, "c1:2-0": recurring_reply, "c2:1-0": recurring_reply}, 3) == []
    async def scenario() -> None:
        async with fresh_prefix(redis_url, "suggest") as (redis, prefix):
            index = ReplyIndex(redis, f"{prefix}:")
            given = [LearnedPair("c1:1-0", "card late", recurring_reply), LearnedPair("c1:5-0", "still late", recurring_reply),
                     LearnedPair("c2:1-0", "card stolen", one_person), LearnedPair("c3:1-0", "card late", recurring_reply)]
            await index.add(given, np.vstack([unit(1, 0.1 * n) for n in range(4)]), ["card_arrival"] * 4)
            assert (await index.current()).nearest(unit(1, 0), 3, 0.0) == []  # two conversations so far
            variant = "i've ordered a new card for you - it arrives in 5 to 7 working days"  # near-identical
            await index.add([LearnedPair("c4:2-0", "where is my card", variant)], np.vstack([unit(1, 0.5)]), ["card_arrival"])
            texts = [item["text"] for item in (await index.current()).nearest(unit(1, 0), 3, 0.0)]
            assert texts == [recurring_reply, variant] and one_person not in texts

    asyncio.run(scenario())


def test_nearest_replies_are_distinct_most_similar_first_and_similar_enough():
    copy = NearestReplies(np.vstack([unit(1, 0), unit(1, 0.05), unit(1, 0.5), unit(0, 1)]),
                          [("same", "a"), ("same", "a"), ("close", "b"), ("far", "c")])
    found = copy.nearest(unit(1, 0), 3, 0.6)
    assert [item["text"] for item in found] == ["same", "close"]
    assert found[0]["score"] >= found[1]["score"] >= 0.6


def test_the_endpoint_refuses_what_it_cannot_use_with_a_clear_error_and_learns_a_pair_once(rasa_url):
    url = f"{rasa_url}/webhooks/rest/suggest"
    for body, wanted in ((b"{not json", "JSON"), (b'"text"', "object"), (b'{"text": ""}', "'text'"),
                         (b'{"text": "hi", "faq_limit": 99}', "'faq_limit'"), (b'{"text": "hi", "learn": {}}', "'learn'"),
                         (b'{"text": "hi", "learn": [{"id": "", "customer": "a", "reply": "b"}]}', "'id'")):
        answer = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 400 and wanted in answer.json()["error"], (body, answer.text)
    reply = f"Express delivery takes 2 to 3 working days ({uuid.uuid4().hex[:6]})."
    learn = [{"id": f"endpoint-{uuid.uuid4().hex}:1-{n}", "customer": "how long does express card delivery take?",
              "reply": reply} for n in range(3)]  # three conversations gave it: it may be suggested
    first = requests.post(url, json={"text": "how fast is express delivery of a card?", "learn": learn}, timeout=30).json()
    assert first["learned"] == 3 and first["suggestions"][0] == {**first["suggestions"][0], "text": reply, "source": "agent"}
    again = requests.post(url, json={"text": "how fast is express delivery of a card?", "learn": learn, "agent_limit": 0,
                                     "faq_limit": 1}, timeout=30).json()
    assert again["learned"] == 0 and [item["source"] for item in again["suggestions"]] == ["faq"]
