from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.summary import handoff_payload
from tests.actions.conftest import make_tracker, user_event


def test_handoff_tells_the_customer_and_sends_the_payload(faq_then_human):
    dispatcher = CollectingDispatcher()

    events = ActionHandoff().run(dispatcher, faq_then_human, domain={})

    assert events == CLEARED
    assert dispatcher.messages[0]["response"] == "utter_handoff"
    handoff = dispatcher.messages[1]["custom"]["handoff"]
    assert handoff["reason"] == "requested"
    assert handoff["topic"] == "top_up"
    assert handoff["topics"] == ["card_arrival", "top_up"]
    assert handoff["slots"] == {}
    assert handoff["turns"] == [
        {"text": "my card still hasn't come", "intent": "faq", "confidence": 0.93, "topic": "card_arrival"},
        {"text": "how do I top up with cash", "intent": "faq", "confidence": 0.88, "topic": "top_up"},
        {"text": "let me talk to a real person", "intent": "request_human", "confidence": 0.99},
    ]
    assert handoff["summary"] == (
        "Handed over because the customer asked for a person. "
        "Topics asked about: card arrival, top up. 3 customer message(s). "
        'Last message: "let me talk to a real person".'
    )


CLEARED = [SlotSet("handoff_reason", None), SlotSet("handoff_evidence", None), SlotSet("action_error", None)]


def test_a_stuck_handoff_carries_the_policy_reason_and_evidence():
    evidence = {"explanation": "the bot could not help with 2 messages in a row", "in_a_row": 2}
    tracker = make_tracker(
        [user_event("asdf", "nlu_fallback", 0.2), user_event("qwer", "nlu_fallback", 0.1)],
        slots={"handoff_reason": "repeated_fallback", "handoff_evidence": evidence},
    )
    dispatcher = CollectingDispatcher()

    events = ActionHandoff().run(dispatcher, tracker, domain={})

    assert events == CLEARED
    assert dispatcher.messages[0]["response"] == "utter_handoff_stuck"
    handoff = dispatcher.messages[1]["custom"]["handoff"]
    assert handoff["reason"] == "repeated_fallback"
    assert handoff["evidence"] == evidence
    assert handoff["slots"] == {}
    assert handoff["summary"].startswith(
        "Handed over because the bot did not understand several messages in a row. "
        "(The bot could not help with 2 messages in a row.)"
    )


def test_handoff_words_follow_the_reason():
    for reason, response in [("frustration", "utter_handoff_frustrated"), ("action_error", "utter_handoff_error")]:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker([user_event("x", "complain", 0.9)], slots={"handoff_reason": reason})

        ActionHandoff().run(dispatcher, tracker, domain={})

        assert dispatcher.messages[0]["response"] == response


def test_handoff_leaves_an_active_form():
    tracker = make_tracker(
        [user_event("get me a person", "request_human", 0.97)], active_loop={"name": "callback_form"}
    )

    events = ActionHandoff().run(CollectingDispatcher(), tracker, domain={})

    assert events == CLEARED + [ActiveLoop(None)]


def test_summary_of_a_conversation_with_no_questions():
    tracker = make_tracker([user_event("human please", "request_human", 0.97)])

    handoff = handoff_payload(tracker, reason="requested")["handoff"]

    assert handoff["topic"] is None
    assert handoff["topics"] == []
    assert "No support topic was recognised." in handoff["summary"]


def test_the_topic_is_the_most_recent_one():
    events = [
        user_event("fees?", "faq", 0.9, "faq/fees"),
        user_event("top up?", "faq", 0.9, "faq/top_up"),
        user_event("and the fees again?", "faq", 0.9, "faq/fees"),
    ]

    handoff = handoff_payload(make_tracker(events), reason="ping_pong")["handoff"]

    assert handoff["topic"] == "fees"
    assert handoff["topics"] == ["top_up", "fees"]


def test_long_messages_are_cut_in_the_payload():
    tracker = make_tracker([user_event("x" * 5000, "nlu_fallback", 0.1)])

    [turn] = handoff_payload(tracker, reason="requested")["handoff"]["turns"]

    assert turn["text"] == "x" * 500


def test_turns_only_name_a_topic_when_the_intent_was_the_faq():
    # An FAQ ranking alongside another intent is not a topic the bot answered.
    tracker = make_tracker([user_event("hello", "greet", 0.9, "faq/fees")])

    turns = handoff_payload(tracker, reason="requested")["handoff"]["turns"]
    assert turns == [{"text": "hello", "intent": "greet", "confidence": 0.9}]


def test_payload_keeps_only_the_latest_turns():
    events = [user_event(f"message {number}", "out_of_scope", 0.5) for number in range(15)]

    turns = handoff_payload(make_tracker(events), reason="requested")["handoff"]["turns"]

    assert [turn["text"] for turn in turns] == [f"message {number}" for number in range(5, 15)]
