"""The bridge's rules around the state machine (handoff.rules), with plain data: no Redis, no sockets."""

import pytest

from handoff.exceptions import InvalidContact, InvalidTransition, MalformedMessage, UnknownButton
from handoff.machine import (
    AgentClaimed, AgentLost, BotAnswered, Closed, Conversation, CustomerAskedForPerson, CustomerLeftQueue, Notice,
    State, Transferred, apply,
)
from handoff.rules import (
    MAX_DETAIL, NO_AGENTS, QUEUE_REFUSED, RATE, agent_lost, announcements, callback_not_booked, claim_is_resent, kept_for_person, kept_key,
    leave_queue_offer, naming_agent, notices, offered_buttons, pickup_ms, queue_operation, queue_refused, queues, request_details,
    require_offered, require_serving, staffed,
    transfer_shape, transfer_target, waiting_details,
)

NOW_MS = 1_765_000_000_000  # a fixed clock
HANDOFF = {"custom": {"handoff": {"reason": "repeated_fallback", "summary": "stuck"}}}
DISTRESS = {"custom": {"handoff": {"reason": "distress", "summary": "upset"}}}


def at(state: State, agent=None, group="general") -> Conversation:
    return Conversation("c1", state=state, agent=agent, group=group, version=7,
                        reason="requested" if state is not State.BOT else None)


# ---- details only while queued ----------------------------------------------------


def test_details_are_only_for_a_customer_waiting_in_the_queue():
    details = {"description": "  my card\x00 was eaten ", "contact": "ann@example.com"}

    assert waiting_details(at(State.QUEUED), details) == {"description": "my card was eaten",
                                                          "contact": "ann@example.com"}
    for state in (State.BOT, State.AGENT, State.CLOSED):
        with pytest.raises(InvalidTransition):
            waiting_details(at(state, agent="ann" if state is State.AGENT else None), details)


def test_details_are_short_text_and_a_contact_someone_can_reply_to():
    assert waiting_details(at(State.QUEUED), {}) == {"description": "", "contact": ""}, "both may be left out"
    for bad in ({"description": 5}, {"description": "x" * (MAX_DETAIL + 1)}, {"contact": ["ann"]}):
        with pytest.raises(MalformedMessage):
            waiting_details(at(State.QUEUED), bad)
    with pytest.raises(InvalidContact):
        waiting_details(at(State.QUEUED), {"contact": "call me maybe"})


def test_a_request_needs_a_known_kind_and_a_contact():
    assert request_details("callback", {"contact": "+44 20 7946 0958", "preferred_time": "after 5"}) == {
        "contact": "+44 20 7946 0958", "description": "", "preferred_time": "after 5", "contact_kind": "phone"}
    with pytest.raises(MalformedMessage):
        request_details("fax", {"contact": "ann@example.com"})
    with pytest.raises(InvalidContact):
        request_details("message", {"description": "help"})


# ---- buttons as offered, the way out of the queue ------------------------------------


def test_only_a_button_of_the_bot_s_latest_turn_may_be_pressed():
    newest_first = [
        {"kind": "bot", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}},
        {"kind": "system", "data": {"notice": "rate"}},
        {"kind": "bot", "data": {"buttons": [{"title": "No", "payload": "/deny"}, "not a button"]}},
        {"kind": "customer", "data": {}},
        {"kind": "bot", "data": {"buttons": [{"title": "Old", "payload": "/restart"}]}},
    ]

    assert offered_buttons(newest_first) == {"/affirm", "/deny"}
    require_offered("/deny", newest_first)
    for payload in ("/restart", "/anything"):
        with pytest.raises(UnknownButton):
            require_offered(payload, newest_first)
    with pytest.raises(UnknownButton):
        require_offered("/affirm", [{"kind": "agent", "data": {}}, *newest_first])


def test_never_mind_while_queued_is_offered_the_way_out_and_nothing_else_is():
    offer = leave_queue_offer(State.QUEUED, "never mind, I found it", "1-0")

    assert offer == Notice("leave-offer:1-0", offer.text, {"notice": "leave_queue_offer", "offer": ["leave_queue"]})
    assert leave_queue_offer(State.QUEUED, "how long will it be?", "1-0") is None
    assert leave_queue_offer(State.AGENT, "never mind", "1-0") is None, "a person reads it: they answer"


def test_a_queued_customer_s_words_are_kept_for_the_person_with_the_wait_or_that_nobody_can_say():
    staffed = kept_for_person(1000, {"agents_available": True, "wait": "about 3 minutes, at most 5", "wait_range": [1, 5],
                                     "wait_minutes": 3, "wait_basis": "queue", "position": 2})
    nobody = kept_for_person(1000, {"agents_available": False, "wait": "No one from our team is available right now."})

    assert staffed.key == nobody.key == kept_key(1000) != kept_key(2000), "once per stay in the queue"
    assert staffed.text.endswith("We expect someone to pick up in about 3 minutes, at most 5.")
    # The wait's figures, as the status has them, so that the widget says it in the customer's language.
    assert staffed.data == {"notice": "kept_for_person", "wait_minutes": 3, "wait_range": [1, 5], "wait_basis": "queue"}
    assert "no one from our team is available right now, so we can't say when" in nobody.text
    assert nobody.data == {"notice": "kept_for_person", "offer": ["callback", "message"]}


@pytest.mark.parametrize("text", [
    "that is all", "That's all.", "no thanks, that's all", "no thanks, that’s all", "ok that's it, thanks",
    "forget it, bye", "Forget it", "oh forget about it", "nothing else, thanks", "no thank you, that is all for now",
    "never mind", "I don't need a person any more", "cancel", "thanks, bye!", "I sorted it out",
])
def test_ways_of_saying_never_mind_while_queued_are_offered_the_way_out(text):
    assert leave_queue_offer(State.QUEUED, text, "1-0") is not None, text


@pytest.mark.parametrize("text", [
    "that is all I know about the charge", "no, I still need help", "that's all the money I had",
    "I can't forget it", "forget it? no, I want my money back", "nothing else works", "no thanks to your app",
    "is that all?", "that's it, the card was stolen", "I need to cancel my card", "hello?", "still waiting",
])
def test_words_for_the_person_are_not_offered_the_way_out(text):
    assert leave_queue_offer(State.QUEUED, text, "1-0") is None, text


# ---- who may see and claim what, transfers ------------------------------------------


def test_a_claim_is_for_agents_of_the_group_and_a_resent_one_changes_nothing():
    cards = at(State.QUEUED, group="cards")

    assert claim_is_resent(cards, "cara", ["cards"]) is False
    assert claim_is_resent(cards, "ann", ["all"]) is False
    with pytest.raises(InvalidTransition, match="cards team"):
        claim_is_resent(cards, "bob", ["general"])
    assert claim_is_resent(at(State.AGENT, agent="cara", group="cards"), "cara", ["cards"]) is True


def test_only_the_agent_serving_a_chat_may_act_in_it():
    require_serving(at(State.AGENT, agent="ann"), "ann")
    for conversation in (at(State.AGENT, agent="bob"), at(State.QUEUED), at(State.CLOSED, agent="ann")):
        with pytest.raises(InvalidTransition, match="ann is not serving c1"):
            require_serving(conversation, "ann")


def test_a_pickup_counts_from_the_later_of_queued_and_the_agent_being_free():
    assert pickup_ms(NOW_MS, NOW_MS - 9_000, None) == 9_000
    assert pickup_ms(NOW_MS, NOW_MS - 9_000, NOW_MS - 4_000) == 4_000, "busy until 4 s ago"
    assert pickup_ms(NOW_MS, NOW_MS - 9_000, NOW_MS - 60_000) == 9_000


def test_a_transfer_goes_to_exactly_one_colleague_online_or_one_group():
    transfer_shape("bob", None)
    transfer_shape(None, "cards")
    transfer_target("bob", ["ann", "bob"], ["bob"])
    transfer_target(None, [], [])
    for to_agent, to_group in ((None, None), ("bob", "cards")):
        with pytest.raises(MalformedMessage, match="exactly one"):
            transfer_shape(to_agent, to_group)
    with pytest.raises(MalformedMessage, match="no agent"):
        transfer_target("zed", ["ann", "bob"], ["ann", "bob"])
    with pytest.raises(InvalidTransition, match="not online"):
        transfer_target("bob", ["ann", "bob"], ["ann"])


def test_agents_are_available_when_open_and_someone_online_takes_the_group():
    profiles = {"ann": {"groups": ["general"]}, "cara": {"groups": ["cards"]}, "root": {"groups": ["all"]}}

    assert staffed(True, ["ann"], profiles) and staffed(True, ["ann"], profiles, "general")
    assert not staffed(True, ["ann"], profiles, "cards")
    assert staffed(True, ["root"], profiles, "cards"), "'all' takes every group"
    assert not staffed(True, ["ghost"], profiles, "general"), "an account removed while online takes nothing"
    assert not staffed(True, [], profiles) and not staffed(False, ["ann"], profiles, "general")


def test_an_agent_is_lost_once_the_grace_period_is_over():
    assert not agent_lost(NOW_MS, NOW_MS - 29_999, 30)
    assert agent_lost(NOW_MS, NOW_MS - 30_000, 30)


# ---- what follows a change: the queue, the notices, the announcement --------------------


def test_how_each_change_moves_the_queue():
    def operation(conversation, event):
        return queue_operation(conversation, apply(conversation, event)[1])

    assert operation(at(State.BOT), BotAnswered((HANDOFF,))) == "add"
    assert operation(at(State.BOT), BotAnswered((DISTRESS,))) == "priority"
    assert operation(at(State.AGENT, agent="ann"), AgentLost("ann")) == "front"
    assert operation(at(State.AGENT, agent="ann"), Transferred("ann", to_group="cards")) == "front"
    assert operation(at(State.QUEUED), AgentClaimed("ann")) == "remove"
    assert operation(at(State.QUEUED), CustomerLeftQueue()) == "remove"
    assert operation(at(State.AGENT, agent="ann"), Closed("ann")) == ""


def test_a_claim_is_followed_by_agent_joined_and_a_close_by_the_rating_request_keyed_by_the_version():
    _, claimed = apply(at(State.QUEUED), AgentClaimed("ann"))
    _, closed = apply(at(State.AGENT, agent="ann"), Closed("ann"))

    assert [(n.key, n.data) for n in notices(8, claimed)] == [("system:8:agent_joined", {"notice": "agent_joined"})]
    assert [(n.key, n.text, n.data) for n in notices(8, closed)] == [
        ("system:8:closed", "The agent has closed this chat.", {"notice": "closed"}),
        ("system:8:rate", RATE, {"notice": "rate"}),
    ]


def test_the_joined_and_closed_notices_name_the_agent_and_the_others_stay_as_they_are():
    _, claimed = apply(at(State.QUEUED), AgentClaimed("ann2x"))
    _, closed = apply(at(State.AGENT, agent="ann2x"), Closed("ann2x"))

    assert [(n.text, n.data) for n in naming_agent(notices(8, claimed + closed), "Ann")] == [
        ("Ann from our support team has joined the chat.", {"notice": "agent_joined", "agent": "Ann"}),
        ("Ann has closed this chat.", {"notice": "closed", "agent": "Ann"}),
        (RATE, {"notice": "rate"}),
    ]


def test_nobody_to_take_a_new_place_in_the_queue_adds_the_no_agents_notice_with_other_ways():
    _, queued = apply(at(State.BOT), CustomerAskedForPerson())
    _, lost = apply(at(State.AGENT, agent="ann"), AgentLost("ann"))

    assert notices(8, queued, staffed_now=True) == []
    assert notices(8, queued, staffed_now=False) == [
        Notice("system:8:no_agents", NO_AGENTS, {"notice": "no_agents", "offer": ["callback", "message"]})]
    assert [n.data["notice"] for n in notices(8, lost, staffed_now=False)] == ["no_agents", "agent_lost"]
    _, claimed = apply(at(State.QUEUED), AgentClaimed("ann"))
    assert [n.data["notice"] for n in notices(8, claimed, staffed_now=False)] == ["agent_joined"], \
        "only a change that queues says nobody is there"


def test_a_change_announces_what_the_customer_s_status_shows_and_whether_the_queue_moved():
    queued = at(State.QUEUED)
    claimed, _ = apply(queued, AgentClaimed("ann"))
    moved, _ = apply(claimed, Transferred("ann", to_agent="bob"))
    closed, _ = apply(moved, Closed("bob"))

    assert announcements(queued, claimed) == ({"state": "agent"}, True)
    assert announcements(claimed, moved) == ({"state": "agent"}, False), "the agent's name shows"
    assert announcements(moved, closed) == ({"state": "closed"}, False)
    assert announcements(closed, closed) == (None, False)


def test_a_refused_handoff_is_answered_once_per_message_with_the_other_ways_to_reach_us():
    assert queue_refused("17-0") == Notice("refused:17-0", QUEUE_REFUSED,
                                           {"notice": "queue_refused", "offer": ["callback", "message"]})
    assert QUEUE_REFUSED[0].isupper() and QUEUE_REFUSED.endswith(".")
    assert queues({"reason": "repeated_fallback"}) and queues({"reason": "requested"})
    assert not queues({"reason": "callback"})  # booked with the bot: a request, never a queue place


def test_a_callback_the_bot_booked_and_a_cap_refused_is_said_at_once_with_a_person_offered():
    open_one = callback_not_booked("1-0", "request_open")
    assert open_one.key == "callback-refused:1-0"
    assert open_one.data == {"notice": "callback_not_booked", "code": "request_open", "offer": ["talk_to_person"]}
    assert "you already have a request open" in open_one.text
    capped = callback_not_booked("2-0", "request_limit_address", retry_at_ms=1_000)
    assert capped.data["retry_at"] == 1_000 and "can't take more requests" in capped.text
