"""Which agents' replies may be suggested to other customers (handoff.suggestions, sans I/O)."""

from __future__ import annotations

from typing import Any, Dict

from handoff.suggestions import may_be_suggested, reply_pairs


def said(kind: str, text: str, entry_id: str) -> Dict[str, Any]:
    return {"id": entry_id, "kind": kind, "text": text, "data": {}, "ts": 0}


def test_a_reply_pairs_with_what_the_customer_wrote_since_the_last_reply_notes_and_bot_left_out():
    messages = [
        said("customer", "hello", "1-0"), said("bot", "Hi, how can I help?", "2-0"),
        said("customer", "my card is late", "3-0"), said("customer", "it's been two weeks", "4-0"),
        said("note", "Checked the status: dispatched on Monday", "5-0"),
        said("agent", "Sorry about that, I will order a new one now.", "6-0"),
        said("agent", "It should arrive within a week.", "7-0"),  # no new customer words: no pair
        said("customer", "thanks!", "8-0"), said("system", "The agent closed the chat", "9-0"),
    ]
    assert reply_pairs("c1", messages, {}) == [{
        "id": "c1:6-0", "customer": "hello\nmy card is late\nit's been two weeks",
        "reply": "Sorry about that, I will order a new one now."}]


def test_replies_with_personal_data_are_never_kept():
    details = {"name": "Jo Bloggs", "language": "en"}
    for reply in ("Thanks Jo Bloggs, all sorted.", "Thanks Jo, all sorted.", "I've emailed jo@example.com the form.",
                  "Your account 12345678 is open again.", "Call us back on 07700 900123.",
                  "Sort code 12-34-56 is right.", "ok"):
        assert not may_be_suggested(reply, details.values()), reply
    for reply in ("I have ordered a new card; it arrives in 5 to 7 working days.",
                  "The fee is 2.5% of the amount, or £1,250.00 at most."):
        assert may_be_suggested(reply, details.values()), reply
    messages = [said("customer", "where is my card", "1-0"), said("agent", "Thanks Jo Bloggs, it is on its way.", "2-0")]
    assert reply_pairs("c2", messages, details) == []


def test_files_are_neither_asked_nor_replied_their_text_is_only_a_name():
    def file(kind: str, name: str, entry_id: str) -> Dict[str, Any]:
        return {**said(kind, name, entry_id), "data": {"attachment": {"id": entry_id, "name": name}}}
    messages = [said("customer", "my statement is wrong", "1-0"), file("customer", "Jane Doe passport.jpg", "2-0"),
                file("agent", "Jane Doe statement march.pdf", "3-0"),
                said("agent", "I have corrected the statement for you.", "4-0")]
    assert reply_pairs("c3", messages, {}) == [{"id": "c3:4-0", "customer": "my statement is wrong",
                                                "reply": "I have corrected the statement for you."}]
