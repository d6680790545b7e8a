"""Notes and @mentions' rules (handoff.mentions) and who sees a note, with plain data: no Redis, no sockets."""

import pytest

from handoff.exceptions import Forbidden, MalformedMessage
from handoff.machine import Conversation, State
from handoff.mentions import (
    EXCERPT_CHARACTERS, MAX_MENTIONS, UnknownMention, excerpt, may_read_notes, mention_entry, mentioned_names,
    require_may_read, require_mentionable,
)
from handoff.visibility import customer_sees
from teaching.transcripts import review_of

PROFILES = {"ann": {"roles": ["agent"]}, "bob-lee": {"roles": ["agent", "supervisor"]},
            "sam": {"roles": ["supervisor"]}, "élise_2": {"roles": ["agent"]}}


def test_a_mention_is_an_at_sign_before_a_login_name_not_inside_a_word_or_an_address():
    assert mentioned_names("@ann can you check? cc @bob-lee, and @ann again") == ["ann", "bob-lee"]
    assert mentioned_names("(@élise_2) said: @ann.") == ["élise_2", "ann"]
    assert mentioned_names("write to ann@example.com or @@bob or x@ann") == []
    assert mentioned_names("@ nobody, @-dash, @bob- trails") == ["bob"]
    assert mentioned_names("no mentions at all") == []


def test_only_agents_can_be_mentioned_and_not_too_many_at_once():
    require_mentionable(["ann", "bob-lee", "élise_2"], PROFILES)
    with pytest.raises(UnknownMention) as unknown:
        require_mentionable(["ann", "sam", "nobody"], PROFILES)  # a supervisor only serves no chats
    assert unknown.value.code == "unknown_mention"
    assert "@sam" in str(unknown.value) and "@nobody" in str(unknown.value)
    with pytest.raises(MalformedMessage):
        require_mentionable(["ann"] * (MAX_MENTIONS + 1), PROFILES)


@pytest.mark.parametrize("state", list(State))
def test_the_serving_agent_a_mentioned_colleague_and_supervisors_read_notes(state):
    conversation = Conversation("c1", state=state, agent="ann" if state is State.AGENT else None)
    assert may_read_notes(conversation, "ann", ["agent"], False) is (state is State.AGENT)
    assert may_read_notes(conversation, "bob", ["agent"], True)
    assert may_read_notes(conversation, "sue", ["agent", "supervisor"], False)
    with pytest.raises(Forbidden):
        require_may_read(conversation, "bob", ["agent"], False)


def test_a_mention_notification_quotes_the_note_on_one_line_as_the_first_of_its_conversation():
    first = mention_entry("c1", "1-0", "ann", "Ann Lee", "please\n\ncheck   the card", 5)
    assert first == {"conversation_id": "c1", "note_id": "1-0", "by": "ann", "by_name": "Ann Lee",
                     "excerpt": "please check the card", "ts": 5, "seen": False, "count": 1}
    long = excerpt("word " * 100)
    assert len(long) == EXCERPT_CHARACTERS and long.endswith("…")


def test_customers_never_receive_a_note_and_content_staff_never_review_one():
    assert not customer_sees("note")
    assert all(customer_sees(kind) for kind in ("customer", "bot", "agent", "system"))
    messages = [{"kind": "customer", "text": "hi", "ts": 1, "data": {}},
                {"kind": "note", "text": "private: card blocked", "ts": 2, "data": {"agent": "ann"}},
                {"kind": "agent", "text": "hello", "ts": 3, "data": {"agent": "ann"}}]
    review = review_of("c1", messages)
    assert [m["kind"] for m in review["messages"]] == ["customer", "agent"]
    assert [a["text"] for a in review["answers"]] == ["hello"]
