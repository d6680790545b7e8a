"""Grouping inbox messages by meaning, with the bot's real MiniLM embeddings.

The messages are written here for the test (five topics, eight phrasings
each), not taken from any data set.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Dict, List

import numpy as np
import pytest

from bot.nlu.sentence_encoder import load_encoder
from teaching.worker.grouping import DEFAULT_DISTANCE_THRESHOLD, ITEM_FIELDS, MAX_ITEMS, group

MESSAGES: Dict[str, List[str]] = {
    "lost_card": [
        "I lost my card",
        "my debit card is missing, I think I dropped it somewhere",
        "someone stole my wallet with my bank card in it",
        "can't find my card anywhere, what should I do",
        "how do I block a card I've lost",
        "my card got stolen yesterday",
        "I left my card at the bar and now it's gone",
        "need to freeze my card, it was taken from my bag",
    ],
    "refund": [
        "where is my refund",
        "the shop said they refunded me but I don't see the money",
        "still waiting for a refund from a merchant",
        "my refund hasn't shown up on my account yet",
        "how long does a refund take to arrive",
        "I returned an item two weeks ago and got no refund",
        "refund missing from my statement",
        "a store reimbursed my purchase but the money never came through",
    ],
    "opening_hours": [
        "what time do you open",
        "when are your branches open",
        "are you open on sundays",
        "opening hours please",
        "what time does customer service close today",
        "can I call you on a saturday",
        "is the phone line open in the evening",
        "what are your hours on bank holidays",
    ],
    "password_reset": [
        "I forgot my password",
        "how do I reset my password",
        "can't log in, password not working",
        "I need a new password for the app",
        "locked out of online banking after too many password attempts",
        "change my login password",
        "my password reset email never arrived",
        "the app says my password is wrong but I'm sure it's right",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how much is the euro to dollar rate today",
        "why was the currency conversion rate so bad",
        "do you charge extra for exchanging currency",
        "what rate will I get paying in yen abroad",
        "the exchange rate on my purchase in dollars looks wrong",
        "how are foreign currency rates calculated",
        "which conversion rate applies to my card abroad",
    ],
}


@pytest.fixture(scope="module")
def inbox() -> Dict[str, Any]:
    """The 40 messages as inbox items (one second apart, in topic order) with their embeddings."""
    rows = [(text, topic) for topic, texts in MESSAGES.items() for text in texts]
    items = [
        {"id": f"m{index:03d}", "text": text, "conversation_id": f"c{index}", "reasons": ["not_understood"],
         "intent": None, "confidence": 0.3, "time": 1_700_000_000.0 + index, "handoff_reason": None,
         "state": "open", "decision": None, "by": None}
        for index, (text, _) in enumerate(rows)
    ]
    topics = {item["id"]: topic for item, (_, topic) in zip(items, rows)}
    return {"items": items, "topics": topics, "embeddings": load_encoder().encode([text for text, _ in rows])}


def describe(groups: List[Dict[str, Any]], topics: Dict[str, str]) -> str:
    return "\n".join(
        f"  {g['size']:2d}: " + ", ".join(f"{t} x{n}" for t, n in Counter(topics[i["id"]] for i in g["items"]).items())
        for g in groups
    )


def test_paraphrases_group_by_topic(inbox):
    groups = group(inbox["items"], inbox["embeddings"])
    topics = inbox["topics"]
    shown = describe(groups, topics)

    assert sum(g["size"] for g in groups) == 40
    # Pure groups: at most 2 of the 40 messages sit in a group whose majority is another topic.
    strays = sum(g["size"] - Counter(topics[i["id"]] for i in g["items"]).most_common(1)[0][1] for g in groups)
    assert strays <= 2, f"groups mix topics:\n{shown}"
    # A handful of groups: each topic mostly in one group, not scattered.
    assert 5 <= len(groups) <= 10, f"expected 5-10 groups for 5 topics:\n{shown}"
    for topic in MESSAGES:
        largest = max(sum(topics[i["id"]] == topic for i in g["items"]) for g in groups)
        assert largest >= 4, f"{topic}: its largest group holds only {largest} of 8:\n{shown}"


def test_groups_follow_the_spec_format(inbox):
    items = [dict(item, intent="faq/lost_or_stolen_card" if n % 8 < 5 else "faq/card_not_working",
                  reasons=["handoff"] if n % 2 else ["low_confidence", "handoff"])
             for n, item in enumerate(inbox["items"][:8])]
    [only] = group(items, inbox["embeddings"][:8], distance_threshold=1.5)

    assert only["id"] == "m000" and only["size"] == 8
    assert only["suggestion"] == {"intent": "faq/lost_or_stolen_card", "share": 0.625}
    assert only["reasons"] == {"not_understood": 0, "low_confidence": 4, "handoff": 8}
    assert [item["id"] for item in only["items"]] == [f"m{n:03d}" for n in range(7, -1, -1)], "newest first"
    assert all(list(item) == list(ITEM_FIELDS) for item in only["items"]), "state, decision... are left out"
    assert only["items"][0] == {name: items[7][name] for name in ITEM_FIELDS}


def test_the_order_is_by_size_then_newest_and_does_not_depend_on_the_input_order(inbox):
    groups = group(inbox["items"], inbox["embeddings"])
    keys = [(-g["size"], -max(i["time"] for i in g["items"])) for g in groups]
    assert keys == sorted(keys)

    order = list(range(40))
    random.Random(7).shuffle(order)
    shuffled = group([inbox["items"][n] for n in order], inbox["embeddings"][order])
    assert shuffled == groups


def test_equal_sizes_put_the_group_with_the_newest_message_first():
    basis = np.eye(384, dtype=np.float32)
    vectors = np.stack([basis[0], basis[0], basis[1], basis[1], basis[2]])
    times = [10.0, 11.0, 30.0, 1.0, 20.0]  # group b has the newest message (30), c is alone
    items = [{"id": f"{name}", "time": t, "intent": None, "reasons": []} for name, t in zip("abcde", times)]

    groups = group(items, vectors)
    assert [[i["id"] for i in g["items"]] for g in groups] == [["c", "d"], ["b", "a"], ["e"]]
    assert [g["id"] for g in groups] == ["c", "a", "e"]


def test_an_odd_message_stays_on_its_own(inbox):
    odd = {"id": "z999", "text": "my parrot ate the remote control", "time": 1_800_000_000.0, "intent": "out_of_scope",
           "reasons": ["not_understood"], "conversation_id": "odd", "confidence": 0.2, "handoff_reason": None}
    items = inbox["items"] + [odd]
    vectors = np.vstack([inbox["embeddings"], load_encoder().encode([odd["text"]])])

    groups = group(items, vectors)
    [alone] = [g for g in groups if any(i["id"] == "z999" for i in g["items"])]
    assert alone["size"] == 1 and alone["id"] == "z999"
    assert alone["suggestion"] == {"intent": "out_of_scope", "share": 1.0}
    singletons = [g for g in groups if g["size"] == 1]
    assert groups[-len(singletons):] == singletons, "singletons come last"
    assert singletons[0] is alone, "the newest singleton first"


def test_small_inputs():
    assert group([], np.zeros((0, 384), dtype=np.float32)) == []
    [single] = group([{"id": "a", "time": 1.0, "intent": None, "reasons": []}], np.ones((1, 384), dtype=np.float32))
    assert single["size"] == 1 and single["suggestion"] is None
    with pytest.raises(ValueError):
        group([{"id": "a", "time": 1.0}], np.zeros((2, 384), dtype=np.float32))


def test_only_the_most_recent_items_are_grouped():
    rng = np.random.default_rng(0)
    count = MAX_ITEMS + 5
    vectors = rng.normal(size=(count, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [{"id": f"{n:05d}", "time": float(n), "intent": None, "reasons": []} for n in range(count)]

    grouped = {i["id"] for g in group(items, vectors) for i in g["items"]}
    assert MAX_ITEMS == 2000 and len(grouped) == MAX_ITEMS
    assert {f"{n:05d}" for n in range(5)}.isdisjoint(grouped), "the five oldest wait"

    few = {i["id"] for g in group(items[:20], vectors[:20], max_items=10) for i in g["items"]}
    assert few == {f"{n:05d}" for n in range(10, 20)}


def test_the_default_threshold_is_the_measured_one():
    assert DEFAULT_DISTANCE_THRESHOLD == 0.55  # bench/inbox_grouping.py
