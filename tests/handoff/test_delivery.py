"""What a socket sends of messages just stored (handoff.connections.base.unsent), in-process: the rule that
keeps every socket's messages in transcript order (docs/bridge-protocol.md: the answer, then the ack)."""

from __future__ import annotations

from typing import Any, Dict

from handoff.connections.base import unsent
from handoff.store import NewMessages


def message(message_id: str) -> Dict[str, Any]:
    return {"id": message_id, "kind": "bot", "text": "hi", "data": {}, "ts": 1, "client_id": ""}


def test_news_that_follow_what_was_sent_are_sent_as_they_are():
    news = NewMessages("5-0", [message("6-0"), message("7-0")])
    assert unsent("5-0", news) == news.messages
    assert unsent("6-0", news) == [message("7-0")]
    assert unsent("7-0", news) == [], "sent already (heard through the hub after the socket sent them)"
    assert unsent("4-0", news) is None, "a gap: the transcript says what is missing"


def test_an_empty_answer_reads_the_transcript_so_the_customers_own_message_goes_before_the_ack():
    """The bot answered nothing: the customer's own message ("5-0") may not have reached this socket yet."""
    assert unsent("4-0", NewMessages("5-0", [])) is None
    assert unsent("5-0", NewMessages("5-0", [])) is None
