"""The conversation state machine and the envelope, without sockets or Redis."""

from dataclasses import replace

import pytest

from handoff.auth import issue_token, verify_token
from handoff.exceptions import (
    AlreadyClaimed, ConversationClosed, InvalidToken, InvalidTransition, MalformedMessage, MessageTooLarge,
)
from handoff.machine import (
    AgentClaimed, AgentLost, AskBot, AskRating, BotAnswered, Closed, Conversation,
    CustomerAskedForPerson, CustomerGone, CustomerLeftQueue, CustomerLeftRequest, CustomerRated, CustomerSaid, Enqueue,
    HandedBack, Notify, State, StoreRating, StoreRequest, Transferred, apply, bridge_handoff, wants_out_of_queue,
    would_queue,
)
from handoff.protocol import Envelope, error_envelope, frame_id, parse_envelope
from handoff.queuediff import changes, indexed
from handoff.trust import client_address, parse_networks

HANDOFF = {"custom": {"handoff": {"reason": "repeated_fallback", "summary": "stuck"}}}


def at(state: State, agent=None) -> Conversation:
    return Conversation("c1", state=state, agent=agent, reason="requested" if state is not State.BOT else None)


def test_in_bot_state_customer_messages_go_to_the_bot():
    conversation, effects = apply(at(State.BOT), CustomerSaid("hello", State.BOT))

    assert conversation.state is State.BOT
    assert effects == [AskBot("hello")]


def test_a_handoff_payload_from_the_bot_queues_the_conversation():
    conversation, effects = apply(at(State.BOT), BotAnswered(({"text": "sorry"}, HANDOFF)))

    assert conversation.state is State.QUEUED
    assert conversation.reason == "repeated_fallback"
    assert conversation.handoff == HANDOFF["custom"]["handoff"]
    assert effects == [Enqueue("repeated_fallback")]


def test_a_callback_payload_does_not_queue_but_is_stored_for_the_agents():
    callback = {"custom": {"handoff": {"reason": "callback", "callback": {"phone": "0770"}}}}

    conversation, effects = apply(at(State.BOT), BotAnswered((callback,)))

    assert conversation.state is State.BOT and effects == [StoreRequest("callback", callback["custom"]["handoff"])]


def test_plain_bot_answers_and_late_answers_change_nothing():
    assert apply(at(State.BOT), BotAnswered(({"text": "hi"},))) == (at(State.BOT), [])
    queued = at(State.QUEUED)
    assert apply(queued, BotAnswered((HANDOFF,))) == (queued, [])


@pytest.mark.parametrize("state", [State.QUEUED, State.AGENT])
def test_once_handed_over_the_bot_never_answers(state):
    conversation = at(state, agent="ann" if state is State.AGENT else None)

    assert apply(conversation, CustomerSaid("hello?", state)) == (conversation, [])


@pytest.mark.parametrize("said_in", [State.QUEUED, State.AGENT])
def test_what_was_said_to_a_person_never_goes_to_the_bot_even_after_a_hand_back(said_in):
    # Stored while an agent served; the agent handed back before the message was routed.
    assert apply(at(State.BOT), CustomerSaid("thank you!", said_in)) == (at(State.BOT), [])


def test_talk_to_a_person_button_queues_from_the_bot():
    assert would_queue(at(State.BOT))
    conversation, effects = apply(at(State.BOT), CustomerAskedForPerson())
    assert conversation.state is State.QUEUED and effects == [Enqueue("requested")]
    for state in (State.QUEUED, State.AGENT):
        busy = at(state, agent="ann" if state is State.AGENT else None)
        assert not would_queue(busy), "the bot is not asked for a summary nobody needs"
        assert apply(busy, CustomerAskedForPerson()) == (busy, [])


BOT_SUMMARY = {"reason": "requested", "source": "button", "summary": "Handed over because ...", "topic": "fees",
               "topics": ["fees"], "turns": [{"text": "fees?", "intent": "faq", "confidence": 0.9}], "slots": {},
               "evidence": {}}


def test_the_button_queues_with_the_bots_payload_and_the_bridges_one_line_only_without_it():
    queued, effects = apply(at(State.BOT), CustomerAskedForPerson("payments", BOT_SUMMARY))

    assert (queued.handoff, queued.reason, queued.group) == (BOT_SUMMARY, "requested", "payments")
    assert effects == [Enqueue("requested")]
    fallback, _ = apply(at(State.BOT), CustomerAskedForPerson())
    assert fallback.handoff == bridge_handoff("button")
    assert fallback.handoff["summary"] == ('The customer pressed "Talk to a person". The assistant did not answer, '
                                           "so there is no summary: read the transcript.")
    assert set(fallback.handoff) == set(BOT_SUMMARY), "shaped like the bot's"


def test_a_request_left_while_queued_takes_the_queued_payload_and_from_the_bot_asks_for_one():
    queued = Conversation("c1", state=State.QUEUED, reason="requested", handoff=BOT_SUMMARY)

    back, effects = apply(queued, CustomerLeftRequest("message"))

    assert (back.state, back.reason, back.handoff) == (State.BOT, None, {}), "the next handoff starts clean"
    assert effects[1:] == [StoreRequest("message", BOT_SUMMARY)]
    assert apply(at(State.BOT), CustomerLeftRequest("callback"))[1][1:] == [StoreRequest("callback", None)]
    with pytest.raises(InvalidTransition):
        apply(at(State.AGENT, agent="ann"), CustomerLeftRequest("callback"))


@pytest.mark.parametrize("text", [
    "actually never mind, I found it, cancel please, I don't need a person", "back to the bot please",
    "no that's all, thanks", "bye", "Cancel please", "i no longer need anyone",
])
def test_words_that_mean_never_mind_while_queued_are_recognised(text):
    assert wants_out_of_queue(text)


@pytest.mark.parametrize("text", [
    "I need to cancel my card", "my card is still not here", "no, it still doesn't work", "I need a person",
    "bye the way my rent is due",
])
def test_questions_for_the_person_are_not_taken_for_never_mind(text):
    assert not wants_out_of_queue(text)


def test_a_distress_handoff_is_a_priority_not_a_requeue():
    distress = {"custom": {"handoff": {"reason": "distress", "summary": "bereaved"}}}
    _, effects = apply(at(State.BOT), BotAnswered((distress,)))
    assert effects == [Enqueue("distress", front=False, priority=True)]
    _, pressed = apply(at(State.BOT), CustomerAskedForPerson(handoff={"reason": "distress"}))
    assert pressed == [Enqueue("distress", priority=True)]
    assert apply(at(State.BOT), BotAnswered((HANDOFF,)))[1] == [Enqueue("repeated_fallback")]


def test_a_queued_customer_can_leave_the_queue_back_to_the_bot():
    queued = Conversation("c1", state=State.QUEUED, reason="requested", handoff=BOT_SUMMARY, group="cards")

    back, effects = apply(queued, CustomerLeftQueue())

    assert (back.state, back.reason, back.handoff) == (State.BOT, None, {}), "the next handoff starts clean"
    assert effects == [Notify("left_queue", "You've left the queue. The assistant is here if you need anything.")]
    for state in (State.BOT, State.CLOSED):  # out of the queue already: a resent request changes nothing
        assert apply(at(state), CustomerLeftQueue()) == (at(state), [])
    with pytest.raises(InvalidTransition):
        apply(at(State.AGENT, agent="ann"), CustomerLeftQueue())
    assert apply(back, CustomerSaid("hello again", said_in=State.BOT))[1] == [AskBot("hello again")]


def test_the_payload_survives_transfers_and_requeues():
    served = Conversation("c1", state=State.AGENT, agent="ann", reason="requested", handoff=BOT_SUMMARY)

    for event in (Transferred("ann", to_agent="bob"), Transferred("ann", to_group="cards"), AgentLost("ann")):
        moved, _ = apply(served, event)
        assert (moved.handoff, moved.reason) == (BOT_SUMMARY, "requested"), event


def test_claiming_needs_a_queued_conversation_and_only_one_agent_wins():
    conversation, effects = apply(at(State.QUEUED), AgentClaimed("ann"))

    assert conversation.state is State.AGENT and conversation.agent == "ann"
    assert effects[0].kind == "agent_joined"
    with pytest.raises(AlreadyClaimed):
        apply(conversation, AgentClaimed("bob"))
    with pytest.raises(InvalidTransition):
        apply(at(State.BOT), AgentClaimed("bob"))


def test_only_the_serving_agent_may_act():
    served = at(State.AGENT, agent="ann")

    for event in (HandedBack("bob"), Closed("bob"), AgentLost("bob")):
        with pytest.raises(InvalidTransition):
            apply(served, event)


def test_hand_back_returns_to_the_bot_and_tells_the_customer():
    conversation, effects = apply(at(State.AGENT, agent="ann"), HandedBack("ann"))

    assert conversation.state is State.BOT and conversation.agent is None
    assert [effect.kind for effect in effects if isinstance(effect, Notify)] == ["back_to_bot"]


def test_a_lost_agent_puts_the_customer_back_at_the_front():
    conversation, effects = apply(at(State.AGENT, agent="ann"), AgentLost("ann"))

    assert conversation.state is State.QUEUED
    assert effects[0] == Enqueue("requested", front=True)
    assert effects[1].kind == "agent_lost"


def test_closing_asks_for_a_rating_and_ratings_are_checked():
    closed, effects = apply(at(State.AGENT, agent="ann"), Closed("ann"))

    assert closed.state is State.CLOSED
    assert effects[-1] == AskRating()
    assert apply(closed, CustomerRated(5, "great"))[1] == [StoreRating(5, "great")]
    with pytest.raises(InvalidTransition):
        apply(closed, CustomerRated(6))
    with pytest.raises(InvalidTransition):
        apply(at(State.BOT), CustomerRated(4))


def test_a_closed_chat_stays_closed_the_customers_next_words_start_a_new_conversation():
    closed = replace(at(State.AGENT, agent="ann"), state=State.CLOSED, rated=True)

    # The button does not reopen it (its outcome, rating and mail stay its own): refused. A message or file is
    # refused by the store's append, in the step that would store it (tests/handoff/test_closed_chat.py).
    with pytest.raises(ConversationClosed, match="start a new conversation"):
        apply(closed, CustomerAskedForPerson())
    assert not would_queue(closed), "the bot is not asked for a summary of a chat that stays closed"
    # What may still come to it changes nothing of how it ended.
    assert apply(closed, CustomerLeftRequest("message"))[0] == closed
    with pytest.raises(InvalidTransition, match="rated already"):
        apply(closed, CustomerRated(4))


def test_envelopes_are_validated():
    assert parse_envelope('{"type": "message", "id": "k1", "data": {"text": "hi"}}', 1000) == Envelope(
        "message", "k1", {"text": "hi"}
    )
    for raw in ["not json", "[]", '{"type": 3}', '{"type": "x", "data": []}', '{"type": "x", "extra": 1}',
                '{"type": "x", "id": 5}']:
        with pytest.raises(MalformedMessage):
            parse_envelope(raw, 1000)
    with pytest.raises(MessageTooLarge):
        parse_envelope('{"type": "message", "data": {"text": "' + "x" * 2000 + '"}}', 1000)


def test_frames_that_json_accepts_but_no_envelope_can_carry_are_malformed():
    """Found by fuzzing (tests/drills/test_fuzz.py): these reached the handlers and failed there."""
    for raw in ['{"type": "message", "id": "k", "data": {"text": "\\ud800"}}',  # a lone surrogate
                b'{"type": "message", "id": "k", "data": {"text": "\\udfff"}}',
                "[" * 5000 + "]" * 5000,  # nested deeper than json's recursion limit
                '{"type": "x", "data": {"a": ' + "[" * 40 + "]" * 40 + "}}",  # deeper than MAX_NESTING
                '{"type": "typing", "data": {"active": NaN}}',  # Python's JSON extensions, which browsers refuse
                '{"type": "read", "data": {"up_to": -Infinity}}']:
        with pytest.raises(MalformedMessage):
            parse_envelope(raw, 100_000)
    assert parse_envelope('{"type": "x", "data": {"a": ' + "[" * 20 + "]" * 20 + "}}", 1000).data["a"]
    assert parse_envelope('{"type": "message", "id": "k", "data": {"text": "\\ud83d\\ude00"}}', 1000).data == {
        "text": "\U0001F600"}  # a pair is fine


def test_errors_about_a_refused_frame_carry_its_id():
    for raw in ['{"type": "message", "id": "k1", "data": []}', '{"type": "", "id": "k1"}',
                '{"type": "x", "id": "k1", "extra": 1}']:
        with pytest.raises(MalformedMessage) as refused:
            parse_envelope(raw, 1000)
        assert refused.value.in_reply_to == "k1"
    with pytest.raises(MessageTooLarge) as too_large:
        parse_envelope('{"type": "message", "id": "k2", "data": {"text": "' + "x" * 2000 + '"}}', 1000)
    assert too_large.value.in_reply_to == "k2"
    with pytest.raises(MalformedMessage) as unusable:
        parse_envelope('{"type": "x", "id": "' + "i" * 101 + '", "data": []}', 1000)
    assert unusable.value.in_reply_to is None


def test_a_frame_refused_unread_still_names_its_request(monkeypatch):
    """Too large (or over the rate limit): the id comes from the frame's start, and the rest is never parsed."""
    import handoff.protocol as protocol

    def must_not_parse(raw):
        raise AssertionError("an oversized frame was parsed")

    monkeypatch.setattr(protocol, "_decode", must_not_parse)
    nested = '{"type": "message", "id": "k3", "data": {"a": ' + "[[0]," * 200_000 + "]}}"
    with pytest.raises(MessageTooLarge) as too_large:
        parse_envelope(nested, 8192)
    assert too_large.value.in_reply_to == "k3"
    assert frame_id(b'{"id": "k4", "type": "x"}') == "k4"
    assert frame_id('{"type": "x", "data": {"text": "\\"id\\": \\"not-me\\""}}') is None
    assert frame_id("[" * 10_000) is None


def test_tokens_that_are_not_ascii_are_invalid_not_a_crash():
    for token in ["é.é", "abc.\u00e9", issue_token("s" * 16, "ann", 60) + "é"]:
        with pytest.raises(InvalidToken):
            verify_token("s" * 16, token)


def test_errors_become_structured_replies():
    reply = error_envelope(MalformedMessage("not JSON"), in_reply_to="k1")

    assert reply == Envelope("error", "k1", {"code": "malformed", "message": "not JSON"})


def test_a_closed_chat_is_rated_once_and_a_transfer_to_oneself_is_refused():
    from handoff.machine import Transferred

    closed, _ = apply(at(State.AGENT, agent="ann"), Closed("ann"))
    rated, effects = apply(closed, CustomerRated(4))

    assert rated.rated and effects == [StoreRating(4, "")]
    with pytest.raises(InvalidTransition, match="already"):
        apply(rated, CustomerRated(5))
    with pytest.raises(InvalidTransition):
        apply(at(State.AGENT, agent="ann"), Transferred("ann", to_agent="ann"))
    moved, _ = apply(at(State.AGENT, agent="ann"), Transferred("ann", to_group="cards"))
    assert moved.state is State.QUEUED and moved.group == "cards"


def test_a_customer_gone_from_the_queue_goes_back_to_the_bot_and_is_told():
    back, effects = apply(at(State.QUEUED), CustomerGone())
    assert back.state is State.BOT and back.reason is None and back.handoff == {}
    assert [effect.kind for effect in effects if isinstance(effect, Notify)] == ["left_queue"]
    for state in (State.BOT, State.AGENT, State.CLOSED):  # claimed or left meanwhile: nothing happens
        assert apply(at(state, "ann" if state is State.AGENT else None), CustomerGone())[1] == []


def test_the_client_address_comes_from_forwarded_headers_only_behind_trusted_proxies():
    proxies = parse_networks("10.0.0.0/8, 127.0.0.1")
    spoofed = {"x-forwarded-for": "6.6.6.6, 203.0.113.7"}
    assert client_address("198.51.100.1", spoofed, proxies) == "198.51.100.1"  # not a proxy: its own address
    assert client_address("127.0.0.1", spoofed, proxies) == "203.0.113.7"  # the proxy saw 203.0.113.7
    assert client_address("127.0.0.1", {"x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.1.2.3"}, proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", {"forwarded": 'for="[2001:db8::1]:4711";proto=https'}, proxies) == "2001:db8::1"
    assert client_address("127.0.0.1", {"x-forwarded-for": "garbage"}, proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", {}, ()) == "127.0.0.1"


def test_agents_get_the_queue_s_changes_not_the_whole_queue():
    first = {"conversation_id": "c1", "queued_at": 1, "waiting_seconds": 5, "details": {}}
    second = {"conversation_id": "c2", "queued_at": 2, "waiting_seconds": 1, "details": {}}
    before = indexed([first, second])
    assert changes(before, indexed([{**first, "waiting_seconds": 9}, second])) is None  # time alone is no change
    told = {**second, "details": {"description": "card stuck"}}
    third = {"conversation_id": "c3", "queued_at": 3, "waiting_seconds": 0, "details": {}}
    assert changes(before, indexed([told, third])) == {"added": [third], "updated": [told], "removed": ["c1"]}
