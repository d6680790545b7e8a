"""The stuck triggers on hand-made turns: no Rasa, no sockets."""

from __future__ import annotations

import dataclasses
import json
from typing import List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stuck import DetectorConfig, Earlier, StuckDetector, Turn, conversation_since_last_handoff
from bot.stuck.detector import TRIGGERS


def faq(text: str, topic: str, answered: bool = True) -> Turn:
    if not answered:
        return Turn(text, "faq", 0.9, topic=topic)
    return Turn(
        text, "faq", 0.9, topic=topic,
        responses=[f"utter_faq/{topic}", "utter_did_that_help"],
        actions=["utter_faq", "utter_did_that_help", "action_listen"],
    )


def said(text: str, intent: str, response: Optional[str] = None, confidence: float = 0.95) -> Turn:
    if not response:
        return Turn(text, intent, confidence)
    return Turn(text, intent, confidence, responses=[response], actions=[response, "action_listen"])


def check(turns: List[Turn], **config) -> Optional[str]:
    verdict = StuckDetector(DetectorConfig(**config)).check(turns)
    return verdict.reason if verdict else None


def test_nothing_fires_on_a_normal_conversation():
    turns = [
        said("hi", "greet", "utter_greet"),
        faq("my card hasn't arrived", "card_arrival"),
        said("yes", "affirm", "utter_glad"),
        faq("how do I top up", "top_up"),
        said("no thanks", "deny", "utter_no_problem"),
        said("thanks, bye", "goodbye"),
    ]

    assert check(turns) is None


def test_requested_by_intent_or_by_phrase_inside_another_question():
    assert check([said("agent please", "request_human")]) == "requested"
    assert check([faq("my card was stolen, I need to speak to someone now", "lost_or_stolen_card", False)]) == (
        "requested"
    )
    assert check([said("agent?", "request_human", confidence=0.3)]) is None


def test_repeated_fallback_needs_n_in_a_row():
    turns = [said("asdf", "nlu_fallback", "utter_default"), said("the weather?", "out_of_scope")]

    assert check(turns) == "repeated_fallback"
    assert check(turns[1:]) is None
    assert check(turns, fallback_limit=3) is None
    recovered = [said("asdf", "nlu_fallback", "utter_default"), faq("top up?", "top_up", False)]
    assert check(recovered) is None


def test_bot_repeating_blocks_the_third_identical_reply():
    turns = [said("ok", "affirm", "utter_how_can_i_help"), said("ok", "affirm", "utter_how_can_i_help")]

    assert check(turns + [said("okay", "affirm")]) == "bot_repeating"
    assert check(turns[:1] + [said("okay", "affirm")]) is None
    assert check(turns + [said("okay", "affirm")], same_response_limit=3) is None


def test_thanking_again_is_not_a_loop():
    thanks = [said("thanks", "thank", "utter_you_are_welcome") for _ in range(2)]

    assert check(thanks + [said("thank you", "thank")]) is None


def test_customer_repeating_the_same_topic_within_the_window():
    first = faq("where is my refund", "refund_not_showing")
    again = faq("I still can't see the refund", "refund_not_showing", answered=False)

    assert check([first, again]) in ("customer_repeating", "unresolved")
    assert check([first, again], triggers=("customer_repeating",)) == "customer_repeating"
    spaced = [first] + [faq(f"question {n}", f"topic_{n}") for n in range(3)] + [again]
    assert check(spaced, triggers=("customer_repeating",)) is None


def test_customer_repeating_a_near_identical_message_uses_the_similarity():
    first = faq("how do I reset my passcode", "password_reset")
    misread = Turn("how do I reset my passcode?", "nlu_fallback", 0.3)

    detector = StuckDetector(DetectorConfig(triggers=("customer_repeating",)))
    verdict = detector.check([first, misread])

    assert verdict is not None and verdict.evidence["similarity"] == 1.0
    assert [entry["turn"] for entry in verdict.evidence["turns"]] == [1, 2]


def test_unresolved_by_intent_by_answering_no_to_the_check_and_by_phrase():
    answered = faq("my transfer hasn't arrived", "transfer_not_received")

    assert check([answered, said("that didn't help", "not_helped")]) == "unresolved"
    assert check([answered, said("no", "deny")]) == "unresolved"
    assert check([answered, said("it still isn't there", "greet")]) == "unresolved"


def test_no_after_anything_else_and_still_in_a_first_question_are_not_unresolved():
    assert check([said("thanks", "thank", "utter_you_are_welcome"), said("no thanks", "deny")]) is None
    assert check([faq("my card still hasn't arrived", "card_arrival", answered=False)]) is None
    other_topic = [faq("ATM fees?", "fees"), faq("my transfer still hasn't arrived", "transfer_not_received", False)]
    assert check(other_topic) is None


@pytest.mark.parametrize(
    "text, signal",
    [
        ("WHERE IS MY MONEY", "shouting"),
        ("why does this take so long!!!", "repeated punctuation"),
        ("this is ridiculous", "frustrated words"),
    ],
)
def test_frustration_signals(text, signal):
    verdict = StuckDetector(DetectorConfig()).check([said(text, "faq")])

    assert verdict is not None and verdict.reason == "frustration"
    assert signal in verdict.evidence["signals"]


def test_no_false_frustration_on_short_capitals_or_a_plain_no():
    assert check([said("OK THANKS VERY MUCH", "thank")]) is None
    assert check([said("CARD LOST", "faq")]) is None
    assert check([said("no thanks", "deny")]) is None
    assert check([said("really??", "out_of_scope")]) is None


def test_ping_pong_between_two_topics():
    turns = [faq("fees?", "fees"), faq("top up?", "top_up"), faq("and the fee again?", "fees", False)]

    assert check(turns) == "ping_pong"


def test_no_resolution_after_many_turns_without_thanks():
    topics = [faq(f"question {n}", f"topic_{n}") for n in range(9)]

    assert check(topics + [faq("one more", "topic_x", False)]) == "no_resolution"
    assert check(topics[:8] + [said("thanks", "thank", "utter_you_are_welcome"), faq("more", "t", False)]) is None


def test_action_error_comes_first():
    failed = said("07700 900123", "nlu_fallback")
    failed.action_error = {"action": "action_submit_callback", "error": "TimeoutError"}

    verdict = StuckDetector(DetectorConfig()).check([failed])

    assert verdict is not None and verdict.reason == "action_error"
    assert verdict.evidence["error"]["action"] == "action_submit_callback"


def test_switched_off_triggers_never_fire():
    assert check([said("agent please", "request_human")], triggers=tuple(t for t in TRIGGERS if t != "requested")) is None


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="Unknown stuck triggers"):
        DetectorConfig(triggers=("requested", "bored"))
    with pytest.raises(ValueError, match="fallback_limit"):
        DetectorConfig(fallback_limit=0)


def user(text: str, intent: str, confidence: float = 0.9, answer: Optional[str] = None) -> dict:
    parse = {"intent": {"name": intent, "confidence": confidence}}
    if answer:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": answer}}}
    return {"event": "user", "text": text, "parse_data": parse}


def test_turns_are_built_from_events_and_restart_after_a_handoff():
    events = [
        {"event": "action", "name": "action_session_start"},
        user("agent", "request_human"),
        {"event": "action", "name": "action_handoff"},
        {"event": "bot", "text": "A person is coming", "metadata": {"utter_action": "utter_handoff"}},
        {"event": "action", "name": "action_listen"},
        user("my card is late", "faq", 0.8, "faq/card_arrival"),
        {"event": "action", "name": "utter_faq"},
        {"event": "bot", "text": "Cards take...", "metadata": {"utter_action": "utter_faq/card_arrival"}},
        {"event": "action", "name": "action_listen"},
        user("call me", "request_callback"),
    ]

    turns = conversation_since_last_handoff(events).turns

    assert [dataclasses.astuple(turn)[:4] for turn in turns] == [
        ("my card is late", "faq", 0.8, "card_arrival"),
        ("call me", "request_callback", 0.9, None),
    ]
    assert turns[0].responses == ["utter_faq/card_arrival"]
    assert turns[0].actions == ["utter_faq", "action_listen"]


def test_a_custom_action_that_produced_nothing_counts_as_failed():
    events = [user("call me back", "request_callback"), {"event": "action", "name": "action_submit_callback"}]

    [turn] = conversation_since_last_handoff(events).turns

    assert turn.action_error == {"action": "action_submit_callback", "error": "no response"}


def test_an_action_error_slot_is_reported():
    error = {"action": "action_submit_callback", "error": "InjectedFailure"}
    events = [
        user("tomorrow", "nlu_fallback"),
        {"event": "action", "name": "action_submit_callback"},
        {"event": "slot", "name": "action_error", "value": error},
    ]

    assert conversation_since_last_handoff(events).turns[0].action_error == error


def test_no_resolution_counts_from_the_last_thanks():
    early_thanks = [said("thanks", "thank", "utter_you_are_welcome")]
    questions = [faq(f"question {n}", f"topic_{n}") for n in range(9)]

    verdict = StuckDetector(DetectorConfig()).check(early_thanks + questions + [faq("more", "topic_x", False)])

    assert verdict is not None and verdict.reason == "no_resolution"
    assert verdict.evidence["turn_count"] == 10
    assert verdict.evidence["turns"][0]["turn"] == 2


def test_ping_pong_ends_once_the_customer_says_it_helped():
    turns = [faq("fees?", "fees"), faq("top up?", "top_up"), said("yes", "affirm", "utter_glad")]

    assert check(turns + [faq("and fees for cards?", "fees", False)], triggers=("ping_pong",)) is None


# ---- the turns before a tracker's window, in brief (bot/tracker_store.py) -----------------------------

# What a customer may say, and what the bot answers (as the rules in data/rules/ do).
TOPICS = ("fees", "top_up", "card_arrival", "change_pin", "exchange_rate", "order_card", "close_account",
          "cancel_transfer")
MESSAGES = {
    "greet": lambda n: said(f"hello {n}", "greet", "utter_greet"),
    "goodbye": lambda n: said(f"bye {n}", "goodbye", "utter_goodbye"),
    "yes": lambda n: said("yes", "affirm", "utter_glad"),
    "no": lambda n: said("no", "deny", "utter_no_problem"),
    "fallback": lambda n: said(f"blorp {n}", "nlu_fallback", "utter_default"),
    "bot_challenge": lambda n: said(f"are you a bot {n}", "bot_challenge", "utter_iamabot"),
    **{f"faq_{topic}": (lambda topic: lambda n: faq(f"{topic} question {n}", topic))(topic) for topic in TOPICS},
}


def thanks(number: int) -> Turn:
    return said(f"thanks {number}", "thank", "utter_you_are_welcome")


# What a conversation is mostly made of: messages that set off no trigger alone, drawn more often
# (five times as often as the rest), so that most conversations outlast the window before anything hands over.
EVERYDAY = ("greet", "yes", *(f"faq_{topic}" for topic in TOPICS))
KINDS = sorted(MESSAGES) + [kind for kind in EVERYDAY for _ in range(4)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.booleans()), min_size=15, max_size=50),
       st.integers(10, 14))
def test_the_latest_turns_and_the_earlier_ones_in_brief_decide_as_the_whole_conversation(messages, window):
    """On every message until one hands over, as the policy checks it: the latest ``window`` turns
    with the ones before in brief (through JSON, as the slot keeps them) give the same verdict."""
    detector = StuckDetector(DetectorConfig())
    turns = [turn for number, (kind, thanked) in enumerate(messages)
             for turn in [MESSAGES[kind](number), *([thanks(number)] if thanked else [])]]
    for end in range(1, len(turns) + 1):
        whole = detector.check(turns[:end])
        cut = max(0, end - window)
        earlier = Earlier.from_dict(json.loads(json.dumps(Earlier().absorb(turns[:cut]).as_dict())))
        assert detector.check(turns[cut:end], earlier) == whole
        if whole:
            break


def test_earlier_turns_are_folded_in_order():
    turns = [faq("fees?", "fees"), said("thanks", "thank", "utter_you_are_welcome"), faq("top up?", "top_up"),
             said("ok", "affirm", "utter_glad"), faq("fees again", "fees", answered=False)]

    earlier = Earlier().absorb(turns[:2]).absorb(turns[2:])

    assert earlier == Earlier().absorb(turns)
    assert earlier.as_dict() == {
        "count": 5,
        "topics": ["top_up", "fees"],
        "last_topic_turn": {"turn": 5, "text": "fees again", "intent": "faq", "confidence": 0.9, "topic": "fees"},
        "last_answered_topic": "top_up",
        "last_resolved_turn": 4,
        "first_responses": {"faq/fees": "utter_faq/fees", "thank": "utter_you_are_welcome",
                            "faq/top_up": "utter_faq/top_up", "affirm": "utter_glad"},
        "responses_sent": {"utter_faq/fees": 1, "utter_did_that_help": 2, "utter_you_are_welcome": 1,
                           "utter_faq/top_up": 1, "utter_glad": 1},
        "cited": {
            "utter_faq/fees": [{"turn": 1, "text": "fees?", "intent": "faq", "confidence": 0.9, "topic": "fees"}],
            "utter_did_that_help": [
                {"turn": 1, "text": "fees?", "intent": "faq", "confidence": 0.9, "topic": "fees"},
                {"turn": 3, "text": "top up?", "intent": "faq", "confidence": 0.9, "topic": "top_up"}],
            "utter_you_are_welcome": [{"turn": 2, "text": "thanks", "intent": "thank", "confidence": 0.95}],
            "utter_faq/top_up": [{"turn": 3, "text": "top up?", "intent": "faq", "confidence": 0.9, "topic": "top_up"}],
            "utter_glad": [{"turn": 4, "text": "ok", "intent": "affirm", "confidence": 0.95}],
        },
    }
    assert Earlier.from_dict(earlier.as_dict()) == earlier
    assert (Earlier.from_dict("garbage"), Earlier.from_dict({"count": 3, "bogus": 1})) == (Earlier(), Earlier(count=3))


def test_the_earlier_turns_slot_counts_only_ahead_of_the_turns_and_not_in_a_new_session():
    brief = {"event": "slot", "name": "earlier_turns", "value": {"count": 12, "topics": ["fees"]}}
    message = user("hi", "greet")

    assert conversation_since_last_handoff([brief, message]).earlier.count == 12
    assert conversation_since_last_handoff([brief, message]).count == 13
    carried_over = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}, brief, message]
    assert conversation_since_last_handoff(carried_over).earlier == Earlier()
    handed_over = [brief, message, {"event": "action", "name": "action_handoff"}, user("back", "greet")]
    assert conversation_since_last_handoff(handed_over).count == 1
