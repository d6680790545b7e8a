import re

from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.summary import handoff_payload
from tests.actions.conftest import DOMAIN, make_tracker, user_event

CARD_ANSWER = "New and replacement cards usually arrive in 5 days. Track it in the app."
TOP_UP_ANSWER = "You can add money at any Post Office counter."


def test_handoff_tells_the_customer_and_sends_what_was_asked_and_answered(faq_then_human):
    dispatcher = CollectingDispatcher()

    events = ActionHandoff().run(dispatcher, faq_then_human, domain=DOMAIN)

    assert events == CLEARED
    assert dispatcher.messages[0]["response"] == "utter_handoff"
    handoff = dispatcher.messages[1]["custom"]["handoff"]
    assert handoff["reason"] == "requested"
    assert handoff["source"] == "conversation"
    assert handoff["topic"] == "top_up"
    assert handoff["topics"] == ["card_arrival", "top_up"]
    assert handoff["slots"] == {}
    assert handoff["turns"] == [
        {"text": "my card still hasn't come", "intent": "faq", "confidence": 0.93, "topic": "card_arrival",
         "bot_reply": CARD_ANSWER},
        {"text": "how do I top up with cash", "intent": "faq", "confidence": 0.88, "topic": "top_up",
         "bot_reply": TOP_UP_ANSWER},
        {"text": "let me talk to a real person", "intent": "request_human", "confidence": 0.99},
    ]
    assert handoff["summary"] == (  # what the customer asked first: the card shows the reason beside it
        'The customer asked "my card still hasn\'t come" and the bot answered '
        '"New and replacement cards usually arrive in 5 days."; '
        'asked "how do I top up with cash" and the bot answered "You can add money at any Post Office counter.". '
        "Handed over because the customer asked for a person. "
        "Topics asked about: card arrival, top up. "
        "3 customer messages. "
        'Last message before the handoff: "let me talk to a real person".'
    )


def button_press(source: str = "button"):
    return user_event("/request_human", "request_human", 1.0, metadata={"message_id": "1-0", "handoff_source": source})


def test_the_button_asked_through_the_bot_is_named_as_such(faq_then_human):
    events = [*faq_then_human.events[:-1], button_press()]
    evidence = {"explanation": "the customer asked for a person",
                "turns": [{"turn": 3, "text": "/request_human", "intent": "request_human", "confidence": 1.0}]}
    tracker = make_tracker(events, slots={"handoff_reason": "requested", "handoff_evidence": evidence})
    dispatcher = CollectingDispatcher()

    ActionHandoff().run(dispatcher, tracker, domain=DOMAIN)

    assert dispatcher.messages[0]["response"] == "utter_handoff", "the customer is told a person is coming"
    handoff = dispatcher.messages[1]["custom"]["handoff"]
    assert handoff["source"] == "button"
    assert handoff["summary"].startswith('The customer asked "my card still hasn\'t come"')
    assert ('Handed over because the customer asked for a person (they pressed "Talk to a person"). '
            "Topics asked about: card arrival, top up. ") in handoff["summary"]
    assert handoff["summary"].endswith("2 customer messages."), "the press is said once, not as a message"
    assert handoff["turns"][-1] == {"text": 'Pressed "Talk to a person"', "intent": "request_human", "confidence": 1.0}
    assert handoff["evidence"]["turns"][0]["text"] == 'Pressed "Talk to a person"'
    assert "message_id" not in str(handoff)


def test_a_request_left_instead_of_waiting_gets_the_payload_without_telling_the_customer_a_person_comes(
        faq_then_human):
    # The bot is asked only for a customer who was not queued: nothing was "instead of waiting".
    for source, how in [("callback", "they left a request to be called back"),
                        ("message", "they left a message for the team")]:
        tracker = make_tracker([*faq_then_human.events[:-1], button_press(source)])
        dispatcher = CollectingDispatcher()

        ActionHandoff().run(dispatcher, tracker, domain=DOMAIN)

        [message] = dispatcher.messages
        assert message["custom"]["handoff"]["source"] == source
        summary = message["custom"]["handoff"]["summary"]
        assert f"Handed over because the customer asked for a person ({how})." in summary
        assert "instead of waiting" not in summary


def test_an_unknown_source_in_the_metadata_counts_as_the_conversation():
    tracker = make_tracker([button_press("<script>")])

    handoff = handoff_payload(tracker, "requested", domain=DOMAIN)["handoff"]

    assert handoff["source"] == "conversation"
    assert handoff["summary"].startswith("Handed over because the customer asked for a person. ")


def test_only_slots_the_customer_filled_are_listed():
    tracker = make_tracker(
        [user_event("0770 900123", "nlu_fallback", 0.3)],
        slots={"callback_phone": "0770900123", "callback_time": None, "requested_slot": "callback_time",
               "session_started_metadata": {"message_id": "1796-0", "retry": True},
               "earlier_turns": {"count": 3}, "handoff_reason": "requested", "action_error": {"action": "x"}},
    )

    handoff = handoff_payload(tracker, "requested", domain=DOMAIN)["handoff"]

    assert handoff["slots"] == {"callback_phone": "0770900123"}


def test_the_summary_quotes_the_latest_exchanges_and_each_turn_the_start_of_the_reply():
    events = []
    for number in range(6):
        events += [user_event(f"question {number}", "faq", 0.9, "faq/fees"), {"event": "action", "name": "utter_faq"},
                   {"event": "bot", "text": f"Answer {number}. " + "More detail. " * 40}]
    events += [user_event("hi", "greet", 0.95), {"event": "action", "name": "utter_greet"},
               {"event": "bot", "text": "Hi! " + "x" * 200}]

    handoff = handoff_payload(make_tracker(events), "no_resolution", domain=DOMAIN)["handoff"]

    assert [len(turn["bot_reply"]) for turn in handoff["turns"]] == [300] * 6 + [204]
    assert handoff["turns"][0]["bot_reply"].endswith("…"), "a cut is marked"
    assert handoff["summary"].count("the bot answered") == 3 and 'answered "Answer 5."' in handoff["summary"]
    assert 'said "hi" and the bot replied "Hi!"' in handoff["summary"]
    assert "(after 3 earlier exchanges)" in handoff["summary"]


def test_a_reply_that_introduces_a_list_is_quoted_up_to_the_list():
    events = [user_event("how do I top up", "faq", 0.9, "faq/top_up"), {"event": "action", "name": "utter_faq"},
              {"event": "bot", "text": "You can add money in several ways:\n1. By card. Instant.\n2. By transfer."}]

    handoff = handoff_payload(make_tracker(events), "requested", domain=DOMAIN)["handoff"]

    assert 'the bot answered "You can add money in several ways: …"' in handoff["summary"]


CLEARED = [SlotSet("handoff_reason", None), SlotSet("handoff_evidence", None), SlotSet("action_error", None)]


def test_a_stuck_handoff_carries_the_policy_reason_and_evidence():
    evidence = {"explanation": "the bot could not help with 2 messages in a row", "in_a_row": 2}
    tracker = make_tracker(
        [user_event("asdf", "nlu_fallback", 0.2), user_event("qwer", "nlu_fallback", 0.1)],
        slots={"handoff_reason": "repeated_fallback", "handoff_evidence": evidence},
    )
    dispatcher = CollectingDispatcher()

    events = ActionHandoff().run(dispatcher, tracker, domain=DOMAIN)

    assert events == CLEARED
    assert dispatcher.messages[0]["response"] == "utter_handoff_stuck"
    handoff = dispatcher.messages[1]["custom"]["handoff"]
    assert handoff["reason"] == "repeated_fallback"
    assert handoff["evidence"] == evidence
    assert handoff["slots"] == {}
    assert handoff["summary"].startswith(  # why, once: the detector's own words
        "Handed over because the bot could not help with 2 messages in a row. No support topic")
    assert "did not understand" not in handoff["summary"]


def test_handoff_words_follow_the_reason():
    for reason, response in [("frustration", "utter_handoff_frustrated"), ("action_error", "utter_handoff_error")]:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker([user_event("x", "complain", 0.9)], slots={"handoff_reason": reason})

        ActionHandoff().run(dispatcher, tracker, domain=DOMAIN)

        assert dispatcher.messages[0]["response"] == response


def test_handoff_leaves_an_active_form():
    tracker = make_tracker(
        [user_event("get me a person", "request_human", 0.97)], active_loop={"name": "callback_form"}
    )

    events = ActionHandoff().run(CollectingDispatcher(), tracker, domain=DOMAIN)

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


def test_a_message_not_understood_carries_the_classifiers_real_best_guess():
    unsure = user_event("my plastic thing never turned up", "nlu_fallback", 0.65, answer="faq/card_arrival")
    unsure["parse_data"]["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.65},
                                              {"name": "faq", "confidence": 0.4142}, {"name": "greet", "confidence": 0.1}]
    sure = user_event("hello", "greet", 0.97)
    sure["parse_data"]["intent_ranking"] = [{"name": "greet", "confidence": 0.97}]

    handoff = handoff_payload(make_tracker([unsure, sure]), "repeated_fallback", domain=DOMAIN)["handoff"]

    # 0.65 is only the fallback threshold FallbackClassifier writes as its confidence; the guess is what agents read.
    assert handoff["turns"][0]["best_guess"] == {"intent": "faq", "confidence": 0.414, "topic": "card_arrival"}
    assert "topic" not in handoff["turns"][0], "not understood: no topic was answered"
    assert "best_guess" not in handoff["turns"][1]


def test_distress_is_told_gently_with_the_phone_and_only_fraud_gets_the_fraud_warning(faq_then_human):
    def told(phrases):
        evidence = {"explanation": "the customer is in distress and needs a person", "phrases": phrases}
        tracker = make_tracker(faq_then_human.events, slots={"handoff_reason": "distress", "handoff_evidence": evidence})
        dispatcher = CollectingDispatcher()
        ActionHandoff().run(dispatcher, tracker, domain=DOMAIN)
        return dispatcher.messages[0]["response"]

    assert told(["passed away", "behind on my loan"]) == "utter_handoff_distress"
    assert told(["on the phone says he's from your bank and wants me to read out the code"]) == \
        "utter_handoff_distress_fraud"
    assert told(["safe account"]) == "utter_handoff_distress_fraud"
    # The second customer trial: a phishing text, and money taken by someone else, get the warning too.
    assert told(["text saying my account is locked and to click a link"]) == "utter_handoff_distress_fraud"
    assert told(["someone just took £900 out of my account"]) == "utter_handoff_distress_fraud"
    assert told(["feel really low", "don't have anyone to talk to"]) == "utter_handoff_distress"
    gentle = DOMAIN["responses"]["utter_handoff_distress"][0]["text"]
    fraud = DOMAIN["responses"]["utter_handoff_distress_fraud"][0]["text"]
    assert "{support_phone}" in gentle and "{support_phone}" in fraud
    assert "money" not in gentle and "code" not in gentle, "no unrelated fraud warning for the bereaved"
    for name in ("utter_handoff", "utter_handoff_distress", "utter_handoff_distress_fraud", "utter_handoff_frustrated",
                 "utter_handoff_stuck"):
        for variant in DOMAIN["responses"][name]:
            assert not re.search(r"\bnow\b", variant["text"]), \
                f"{name} promises a person now before anyone is known to be online"


def _exchange(text: str, intent: str, answer: str, reply: str):
    return [user_event(text, intent, 0.9, answer), {"event": "action", "name": "utter_faq"},
            {"event": "bot", "text": reply}]


def test_the_summary_leads_with_the_most_urgent_question_when_small_talk_came_first():
    events = [user_event("nice weather today", "chitchat", 0.9), {"event": "action", "name": "utter_chitchat"},
              {"event": "bot", "text": "It is! How can I help?"},
              *_exchange("there's a payment to AMZN I never made", "faq", "faq/unrecognised_transaction",
                         "If you don't recognise a payment, freeze your card in the app."),
              *_exchange("how much is a card abroad", "faq", "faq/fees", "Card payments abroad are free."),
              user_event("actually never mind", "deny", 0.9), {"event": "action", "name": "utter_ok"},
              {"event": "bot", "text": "No problem."}]

    summary = handoff_payload(make_tracker(events), "requested", domain=DOMAIN)["handoff"]["summary"]

    assert summary.startswith(
        'Most urgent: "there\'s a payment to AMZN I never made" (unrecognised transaction). The customer said "nice')
    assert summary.count("there's a payment to AMZN") == 2, "the exchange is still quoted in order"


def test_the_latest_of_the_most_urgent_topics_leads_and_a_more_urgent_one_wins():
    events = [*_exchange("my card was stolen", "faq", "faq/lost_or_stolen_card", "Freeze it in the app."),
              *_exchange("I was charged twice for coffee", "faq", "faq/charged_twice", "Pending charges drop off."),
              *_exchange("I was charged twice for tea", "faq", "faq/charged_twice", "Pending charges drop off."),
              *_exchange("someone stole my card yesterday", "faq", "faq/lost_or_stolen_card", "Freeze it in the app."),
              *_exchange("and the fees?", "faq", "faq/fees", "See our fees page.")]

    summary = handoff_payload(make_tracker(events), "requested", domain=DOMAIN)["handoff"]["summary"]

    assert summary.startswith('Most urgent: "someone stole my card yesterday" (lost or stolen card).')


def test_no_lead_when_the_urgent_question_already_comes_first_or_nothing_is_urgent(faq_then_human):
    events = [*_exchange("my card was stolen", "faq", "faq/lost_or_stolen_card", "Freeze it in the app."),
              user_event("let me talk to a real person", "request_human", 0.99)]

    assert handoff_payload(make_tracker(events), "requested", domain=DOMAIN)["handoff"]["summary"].startswith(
        'The customer asked "my card was stolen"')
    assert "Most urgent" not in handoff_payload(faq_then_human, "requested", domain=DOMAIN)["handoff"]["summary"]


DISTRESS_WORDS = "my husband died last week and I don't know what to do about his account"


def test_a_transfer_of_a_customer_in_distress_still_leads_with_their_words():
    """The agent trial: after a transfer, what the widow later wrote to the team pushed her words out of the card."""
    said = user_event(DISTRESS_WORDS, "faq", 0.87, "faq/close_account")
    evidence = {"explanation": "the customer is in distress and needs a person", "phrases": ["husband died"],
                "turns": [{"turn": 1, "text": DISTRESS_WORDS, "intent": "faq", "confidence": 0.87}]}
    first = handoff_payload(make_tracker([said]), "distress", evidence, domain=DOMAIN)["handoff"]
    assert first["summary"].count(DISTRESS_WORDS) == 1, "the last message is quoted once, not led with again"
    assert first["summary"].endswith(f'Last message before the handoff: "{DISTRESS_WORDS}".')

    wrote = [{"text": "thank you. I'm Mary Jones, he was Peter Jones", "intent": "thank", "confidence": 0.9}]
    transfer = user_event("/request_human", "request_human", 1.0, metadata={
        "message_id": "1-0", "handoff_source": "transfer", "previous_handoff": first, "customer_wrote": wrote})
    summary = handoff_payload(make_tracker([said, transfer]), "requested", domain=DOMAIN)["handoff"]["summary"]

    assert summary.startswith(f'In distress: "{DISTRESS_WORDS}". The customer wrote to the team: "thank you.')
    assert "Handed over because the customer is in distress and needs a person" in summary


def test_a_customer_in_distress_gets_no_routine_topic_on_the_card():
    """The second customer trial: a widow asking to close her late husband's account was headed "Close account";
    the card (and the routing) go by the distress, and the topics asked about stay listed."""
    said = user_event(DISTRESS_WORDS, "faq", 0.87, "faq/close_account")
    evidence = {"explanation": "the customer is in distress and needs a person", "phrases": ["husband died"],
                "turns": [{"turn": 1, "text": DISTRESS_WORDS, "intent": "faq", "confidence": 0.87}]}

    distress = handoff_payload(make_tracker([said]), "distress", evidence, domain=DOMAIN)["handoff"]
    routine = handoff_payload(make_tracker([said]), "requested", domain=DOMAIN)["handoff"]

    assert (distress["topic"], distress["topics"]) == (None, ["close_account"])
    assert (routine["topic"], routine["topics"]) == ("close_account", ["close_account"])


DISPUTE = "I want to dispute a payment to an online shop that never delivered"


def test_a_live_chat_asked_for_after_a_request_still_tells_what_the_customer_asked_before_it():
    """The agent trial (issue 13): a customer who left a callback and then asked for someone now reached the agent
    as "No support topic was recognised": nobody had talked to them, so the request is no boundary."""
    asked = user_event(DISPUTE, "faq", 0.9, "faq/dispute_payment")
    callback = button_press("callback")
    first = handoff_payload(make_tracker([asked, callback]), "requested", domain=DOMAIN)["handoff"]
    events = [
        asked, {"event": "action", "name": "utter_faq"}, {"event": "bot", "text": "You can dispute it in the app."},
        callback, {"event": "action", "name": "action_handoff"}, {"event": "bot", "data": {"custom": first}},
        {"event": "action", "name": "action_listen"},
        user_event("actually can I talk to someone now?", "request_human", 0.97),
    ]

    handoff = handoff_payload(make_tracker(events), "requested", domain=DOMAIN)["handoff"]

    assert handoff["summary"] == (
        f'The customer asked "{DISPUTE}" and the bot answered "You can dispute it in the app.". '
        "Handed over because the customer asked for a person. Topics asked about: dispute payment. "
        '2 customer messages. Last message before the handoff: "actually can I talk to someone now?".')
    assert [turn["text"] for turn in handoff["turns"]] == [DISPUTE, "actually can I talk to someone now?"]
    assert handoff["topic"] == "dispute_payment"


def test_a_handoff_after_one_a_person_took_up_starts_afresh():
    """The boundary the request is not: a handoff that reached a person (the agent handed back) starts the next."""
    events = [
        user_event(DISPUTE, "faq", 0.9, "faq/dispute_payment"), {"event": "action", "name": "utter_faq"},
        {"event": "bot", "text": "You can dispute it in the app."}, button_press(),
        {"event": "action", "name": "action_handoff"}, {"event": "action", "name": "action_listen"},
        user_event("can I talk to someone again", "request_human", 0.97),
    ]

    handoff = handoff_payload(make_tracker(events), "requested", domain=DOMAIN)["handoff"]

    assert [turn["text"] for turn in handoff["turns"]] == ["can I talk to someone again"]
    assert handoff["topics"] == []


def test_a_pressed_button_is_told_by_the_title_the_customer_saw_never_its_payload():
    """The agent trial (issue 13): "Last message before the handoff: "/deny"" and evidence "/deny"."""
    events = [
        user_event("how do I top up with cash", "faq", 0.88, "faq/top_up"), {"event": "action", "name": "utter_faq"},
        {"event": "bot", "text": TOP_UP_ANSWER},
        {"event": "bot", "text": "Did that answer your question?",
         "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]}},
        user_event("/deny", "deny", 1.0),
    ]
    evidence = {"explanation": "the customer said the answer did not help",
                "turns": [{"turn": 2, "text": "/deny", "intent": "deny", "confidence": 1.0}]}

    handoff = handoff_payload(make_tracker(events), "unresolved", evidence, domain=DOMAIN)["handoff"]

    assert handoff["turns"][-1]["text"] == 'Pressed "No"'
    assert handoff["evidence"]["turns"][0]["text"] == 'Pressed "No"'
    assert handoff["summary"].endswith('1 customer message. Last before the handoff: they pressed "No".')
    assert "/deny" not in str(handoff)

    replied = [*events, {"event": "bot", "text": "Sorry about that. Could you put it another way?"},
               user_event("it still doesn't work", "nlu_fallback", 0.3)]
    summary = handoff_payload(make_tracker(replied), "unresolved", domain=DOMAIN)["handoff"]["summary"]
    assert 'pressed "No" and the bot replied "Sorry about that."' in summary


def test_the_summary_names_the_topic_the_detector_explains_with_as_agents_read_topics():
    """The agent trial (issue 13): "… after it was answered (charged_twice)" on the card."""
    said = "I've been charged twice for the same thing"
    events = [user_event(said, "faq", 0.9, "faq/charged_twice"), {"event": "action", "name": "utter_faq"},
              {"event": "bot", "text": "A second identical payment is usually a pending one."},
              user_event("the payment went out twice", "faq", 0.9, "faq/charged_twice")]
    evidence = {"explanation": "the customer asked the same question again after it was answered (charged_twice)",
                "topic": "charged_twice", "similarity": 0.31}

    handoff = handoff_payload(make_tracker(events), "customer_repeating", evidence, domain=DOMAIN)["handoff"]

    assert "Handed over because the customer asked the same question again after it was answered (charged twice)." \
        in handoff["summary"]
    assert "charged_twice" not in handoff["summary"]
    assert handoff["evidence"]["topic"] == "charged_twice", "the evidence keeps the detector's own key"
