"""Outbox entries to rows (archive.facts): a pure function, tested with plain data."""

from __future__ import annotations

import json
from typing import Any, Dict

from archive.facts import outbox_position, rows_of


def state(conv: str, version: int, before: str, after: str, at: int = 1_700_000_000_000,
          **fields: Any) -> Dict[str, str]:
    snapshot = {"state": after, "group": "cards", "created": "1699999990000", **fields}
    return {"fact": "state", "conv": conv, "version": str(version), "at": str(at), "from": before,
            "handled_ms": str(fields.pop("handled", "")), "rated": "1" if fields.get("rating") else "",
            "conversation": json.dumps(snapshot)}


def message(conv: str, message_id: str, kind: str, text: str, **extra: str) -> Dict[str, str]:
    return {"fact": "message", "conv": conv, "id": message_id, "kind": kind, "text": text, "data": "{}",
            "key": extra.pop("key", ""), "ts": message_id.split("-")[0], **extra}


def test_stream_ids_become_numbers_in_the_same_order():
    ids = ["1700000000000-0", "1700000000000-7", "1700000000001-0", "1700000000001-12"]
    assert sorted(ids, key=outbox_position) == ids
    assert outbox_position("1700000000000-7") == 1_700_000_000_000_000_007


def test_a_handoff_is_a_move_from_the_bot_to_the_queue_not_a_transfer():
    batch = rows_of([
        ("1-0", state("c1", 1, "bot", "queued", reason="customer_asked", handoff='{"summary": "s"}',
                      waiting_since="1700000000000")),
        ("2-0", state("c1", 2, "queued", "agent", at=1_700_000_004_000, agent="ann", waiting_since="1700000000000",
                      queued_at="1700000000000", claimed_at="1700000004000")),
        ("3-0", state("c1", 3, "agent", "queued", at=1_700_000_009_000, handled=5000, waiting_since="1700000000000")),
    ])
    assert [(h.version, h.reason, h.payload) for h in batch.handoffs] == [(1, "customer_asked", {"summary": "s"})]
    assert [(c.version, c.wait_ms, c.handled_ms) for c in batch.state_changes] == [
        (1, None, None), (2, 4000, None), (3, None, 5000)]
    assert batch.states["c1"].version == 3, "the newest version of the batch"


def test_a_claims_wait_is_its_stay_in_the_queue_as_the_totals_count_it():
    """The agent trial (issue 13): a week's p90 wait was 364.9 s in all but 437.2 s for the only group: the group's
    counted a chat transferred to the group from when it was first queued, its first agent's time included."""
    batch = rows_of([
        ("1-0", state("c1", 4, "agent", "queued", at=1_700_000_060_000, waiting_since="1700000000000",
                      queued_at="1700000060000")),
        ("2-0", state("c1", 5, "queued", "agent", at=1_700_000_090_000, agent="olive", waiting_since="1700000000000",
                      queued_at="1700000060000", claimed_at="1700000090000")),
    ])
    assert [(c.version, c.wait_ms) for c in batch.state_changes] == [(4, None), (5, 30_000)]


def test_a_rating_row_only_for_the_change_that_stored_it():
    rating = json.dumps({"score": 4, "comment": "ok"})
    batch = rows_of([
        ("1-0", state("c1", 4, "closed", "closed", agent="ann", rating=rating)),
        ("2-0", {**state("c1", 5, "closed", "bot", rating=rating), "rated": ""}),  # later changes still carry it
    ])
    assert [(r.version, r.score, r.comment, r.agent) for r in batch.ratings] == [(4, 4, "ok", "ann")]


def test_contacts_keep_what_the_newest_fact_says_and_anonymous_customers_make_none():
    batch = rows_of([
        ("1-0", message("c1", "1700000000000-0", "customer", "hi", contact="")),
        ("2-0", message("c2", "1700000000100-0", "customer", "hi", contact="cust-9")),
        ("3-0", state("c2", 1, "bot", "queued", at=1_700_000_000_200, contact_id="cust-9", contact_name="Ada",
                      contact_email="ada@example.com")),
    ])
    assert list(batch.contacts) == ["cust-9"]
    assert (batch.contacts["cust-9"].name, batch.contacts["cust-9"].email) == ("Ada", "ada@example.com")
    assert batch.states["c2"].contact_id == "cust-9" and "c1" in batch.conversations


def test_a_state_fact_carries_the_closed_chat_its_conversation_follows():
    batch = rows_of([("1-0", state("c2", 1, "bot", "queued", follows="c1")), ("2-0", state("c3", 1, "bot", "queued"))])
    assert (batch.states["c2"].follows, batch.states["c3"].follows) == ("c1", None)


def test_agents_messages_and_notes_name_their_author_and_the_first_response_is_the_first_agent_message():
    batch = rows_of([
        ("1-0", message("c1", "1700000000000-0", "note", "check id", key="note:ann:n1")),
        ("2-0", message("c1", "1700000001000-0", "agent", "hello", key="agent:ann:a1")),
        ("3-0", message("c1", "1700000002000-0", "agent", "a photo", key="file:agent:ann:f1")),
        ("4-0", message("c1", "1700000003000-0", "bot", "hi", key="bot:1-0:0")),
    ])
    assert [(m.sender, m.author) for m in batch.messages.values()] == [
        ("note", "ann"), ("agent", "ann"), ("agent", "ann"), ("bot", None)]
    assert batch.first_responses["c1"].timestamp() == 1_700_000_001
    assert batch.conversations["c1"][1] is not None and batch.conversations["c1"][1].timestamp() == 1_700_000_003


def test_labels_take_the_newest_outbox_entry_whichever_fact_carried_them():
    names = json.dumps({"aaaa1111": {"name": "Fraud", "colour": "#d1242f"}})
    batch = rows_of([
        ("5-0", {"fact": "labels", "conv": "c1", "labels": "aaaa1111", "names": names}),
        ("4-0", state("c1", 2, "queued", "agent", labels="")),  # an older entry, read later
    ])
    assert batch.labels["c1"] == (["aaaa1111"], outbox_position("5-0"))
    assert batch.label_names == {"aaaa1111": ("Fraud", "#d1242f")}


def test_a_nul_character_a_client_sent_is_kept_as_a_replacement_character():
    batch = rows_of([("1-0", {**message("c1", "1700000000000-0", "customer", "a\x00b"), "data": '{"x": "\\u0000"}'})])
    [stored] = batch.messages.values()
    assert stored.text == "a\ufffdb" and stored.data == {"x": "\ufffd"}


def test_an_entry_the_archive_cannot_read_is_kept_aside_whole_and_adds_no_row():
    bad_rating = state("c2", 1, "closed", "closed", rating=json.dumps({"score": 9}))
    batch = rows_of([("1-0", {"fact": "message", "conv": "c1"}), ("2-0", {"fact": "nonsense"}),
                     ("3-0", bad_rating), ("4-0", message("c1", "5-0", "robot", "hi")),
                     ("5-0", message("c1", "1700000000000-0", "bot", "hi"))])
    assert [(r.outbox_id, r.error) for r in batch.rejected] == [
        ("1-0", "no id"), ("2-0", "unknown fact 'nonsense'"), ("3-0", "a rating's score is 1 to 5, not 9"),
        ("4-0", "unknown message kind 'robot'")]
    assert batch.rejected[2].fields == bad_rating
    [kept] = rows_of([("6-0", {"fact": "nonsense", "text": "a\x00b"})]).rejected
    assert kept.fields == {"fact": "nonsense", "text": "a\ufffdb"}, "kept whole, but for NUL characters"
    assert list(batch.messages) == [("c1", "1700000000000-0")] and "c2" not in batch.conversations


def test_a_link_fact_links_the_conversation_to_its_contact_whatever_the_state_facts_say():
    link = {"fact": "contact", "conv": "c1", "contact": "cust-9", "name": "Ada", "email": "ada@example.com",
            "at": "1700000000500", "started": "1700000000000"}
    batch = rows_of([
        ("1-0", message("c1", "1700000000100-0", "customer", "hi", contact="")),  # before the link
        ("2-0", link),
        ("3-0", state("c1", 1, "bot", "closed", at=1_700_000_009_000)),  # a snapshot without the contact
    ])
    assert batch.links == {"c1": "cust-9"}
    assert batch.contacts["cust-9"].name == "Ada" and batch.contacts["cust-9"].email == "ada@example.com"
    started = rows_of([("2-0", link)]).conversations["c1"][0]
    assert started.timestamp() == 1_700_000_000, "started when the conversation was created, not linked"
    assert not batch.rejected
    broken = rows_of([("4-0", {**link, "contact": ""}), ("5-0", {**link, "at": "soon"})])
    assert [r.outbox_id for r in broken.rejected] == ["4-0", "5-0"] and not broken.links


def test_a_request_fact_keeps_the_conversations_first_request_and_when_it_started():
    def request(request_id: str, left_at: int) -> Dict[str, str]:
        return {"fact": "request", "conv": "c1", "request": request_id, "at": str(left_at),
                "started": "1700000000000"}
    batch = rows_of([("2-0", request("9-1", 1_700_000_060_000)), ("3-0", request("8-1", 1_700_000_030_000))])
    assert batch.requests["c1"].timestamp() == 1_700_000_030, "the first left, whatever the order archived"
    assert batch.conversations["c1"][0].timestamp() == 1_700_000_000, "started when created, not when left"
    broken = rows_of([("4-0", {**request("9-1", 1), "request": ""}), ("5-0", {**request("9-1", 1), "at": "x"})])
    assert [r.outbox_id for r in broken.rejected] == ["4-0", "5-0"] and not broken.requests
