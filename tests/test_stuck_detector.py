"""The stuck triggers on hand-made turns: no Rasa, no sockets."""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stuck import DetectorConfig, Earlier, StuckDetector, Turn, conversation_since_last_handoff
from bot.stuck.conversation import parsed_turn
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
    turns = [said("I need help", "need_help", "utter_how_can_i_help"), said("ok", "affirm", "utter_how_can_i_help")]
    again = said("can you help me with something", "need_help")

    assert check(turns + [again], triggers=("bot_repeating",)) == "bot_repeating"
    assert check(turns[:1] + [again], triggers=("bot_repeating",)) is None
    assert check(turns + [again], triggers=("bot_repeating",), same_response_limit=3) is None


@pytest.mark.parametrize("text, intent", [("okay", "affirm"), ("hello again", "greet"), ("nope", "deny"),
                                          ("are you a bot?", "bot_challenge"), ("no that's all, thanks", "faq"),
                                          ("tell me a joke", "chitchat")])
def test_small_talk_answered_the_same_way_again_is_not_the_bot_looping(text, intent):
    chatty = [said("hi", "greet", "utter_greet"), said("ok", "affirm", "utter_how_can_i_help"),
              said("ok", "affirm", "utter_how_can_i_help")]

    assert check(chatty + [said(text, intent)]) is None


def test_small_talk_in_a_row_is_answered_not_misunderstood():
    jokes = [said("tell me a joke", "chitchat", "utter_chitchat/joke") for _ in range(2)]
    weather = said("what's the weather", "chitchat", "utter_chitchat/weather")

    assert check(jokes + [weather, said("another joke", "chitchat")]) is None
    assert check([weather, said("who won the match", "out_of_scope", "utter_out_of_scope"),
                  said("asdf", "nlu_fallback")]) == "repeated_fallback"


def test_thanking_again_is_not_a_loop():
    thanks = [said("thanks", "thank", "utter_you_are_welcome") for _ in range(2)]

    assert check(thanks + [said("thank you", "thank")]) is None


def similar(pairs: dict) -> Callable[[str, str], float]:
    """A similarity that knows the given pairs (either way round) and calls everything else unrelated."""
    return lambda first, second: pairs.get((first, second), pairs.get((second, first), 0.0))


def repeating(turns: List[Turn], pairs: dict) -> Optional[str]:
    verdict = StuckDetector(DetectorConfig(triggers=("customer_repeating",)), similar(pairs)).check(turns)
    return verdict.reason if verdict else None


def test_customer_repeating_the_same_topic_in_close_words_within_the_window():
    first = faq("where is my refund", "refund_not_showing")
    again = faq("I still can't see the refund", "refund_not_showing", answered=False)
    pairs = {(first.text, again.text): 0.7}

    assert StuckDetector(DetectorConfig(), similar(pairs)).check([first, again]).reason in (
        "customer_repeating", "unresolved")
    assert repeating([first, again], pairs) == "customer_repeating"
    spaced = [first] + [faq(f"question {n}", f"topic_{n}") for n in range(3)] + [again]
    assert repeating(spaced, pairs) is None


@pytest.mark.parametrize("first, topic, follow_up, similarity", [
    ("how can I contact you by phone", "contact_and_hours", "and what are your opening hours on saturday?", 0.1),
    ("I'm going to the US next month", "supported_countries_currencies", "will my card work over there", 0.22),
    ("how do I update my address", "update_personal_details", "and my phone number, can I change that too?", 0.6),
])
def test_a_different_question_on_the_topic_just_answered_is_a_follow_up(first, topic, follow_up, similarity):
    """Issue 13's trial: one FAQ answer covers the topic, so the second question gets the same answer; the
    customer asked something new, in other words or following on from the answer ("and ..."), and is not
    repeating."""
    turns = [faq(first, topic), faq(follow_up, topic, answered=False)]

    assert StuckDetector(DetectorConfig(), similar({(first, follow_up): similarity})).check(turns) is None


def test_the_same_need_insisted_on_in_other_words_is_repeating():
    first = faq("how do I top up", "top_up")
    insisting = faq("ok and how do I actually add money, there's no card option in my app", "top_up", answered=False)

    assert repeating([first, insisting], {(first.text, insisting.text): 0.14}) == "customer_repeating"
    plain = faq("and can I add money by bank transfer", "top_up", answered=False)
    assert repeating([first, plain], {(first.text, plain.text): 0.14}) is None
    until_then = faq("and will my old card keep working until then?", "top_up", answered=False)
    assert repeating([first, until_then], {(first.text, until_then.text): 0.66}) is None


@pytest.mark.parametrize("correction", [
    "no, the second charge isn't pending, it's already gone through",
    "not really, I meant a standing order, not a one-off transfer",
])
def test_a_correction_on_the_topic_just_answered_is_the_same_need_again(correction):
    first = faq("how do I cancel a payment I set up", "cancel_transfer")
    again = faq(correction, "cancel_transfer", answered=False)

    assert repeating([first, again], {(first.text, again.text): 0.15}) == "customer_repeating"


@pytest.mark.parametrize("first, topic, between, again", [
    ("my salary hasn't come in", "receiving_money", ["ok"],
     "the money from my employer isn't in my account, where is it"),
    ("when will my card get here", "card_arrival", ["ok", "right"], "where is it"),
    ("my card isn't working in shops", "card_not_working", [], "every time I pay at the till it gets declined"),
    ("I got charged two times for one coffee", "charged_twice", ["ok"],
     "there are two identical payments to the same cafe on my statement"),
])
def test_a_problem_stated_again_in_other_words_is_the_same_need(first, topic, between, again):
    """Issue 13's held-out miss: the answer did not help, so the customer says the problem again, in words
    unlike the first ones (similarity 0.1 here): not a question that asks something new."""
    turns = [faq(first, topic)] + [said(text, "affirm", "utter_ok") for text in between]
    turns.append(faq(again, topic, answered=False))

    assert repeating(turns, {(first, again): 0.1}) == "customer_repeating"


@pytest.mark.parametrize("first, topic, between, then, similarity", [
    ("my transfer to my brother hasn't arrived", "transfer_not_received", ["thanks"],
     "what if it still isn't there tomorrow?", 0.55),
    ("I'd like to defer my loan payment", "payment_deferral", [], "how long can I defer it for", 0.6),
    ("can I use google pay", "mobile_payments", ["thanks"], "I tried to pay with google pay but it isn't working", 0.3),
    ("can I use google pay", "mobile_payments", ["thanks"], "I tried to pay with google pay but it isn't working", 0.76),
    ("my card hasn't arrived yet", "card_arrival", [], "can I still use my old card until it comes", 0.3),
])
def test_a_question_on_the_problem_or_a_problem_after_thanks_is_no_repeat(first, topic, between, then, similarity):
    """A question that asks something new keeps a problem word ("what if it still isn't there") free, and
    thanks after the answer say it helped: what comes next is a new turn of events."""
    turns = [faq(first, topic)] + [said(text, "thank", "utter_welcome") for text in between]
    turns.append(faq(then, topic, answered=False))

    assert StuckDetector(DetectorConfig(), similar({(first, then): similarity})).check(turns) is None


@pytest.mark.parametrize("first, topic, again", [
    ("my apple pay isn't working", "mobile_payments", "when I tap my phone at the checkout nothing happens"),
    ("my card gets rejected on websites", "card_not_working", "if I type my card number in at any online checkout it fails"),
    ("my card is declined in shops", "card_not_working", "whenever I pay contactless the reader beeps and fails"),
])
def test_a_problem_told_as_when_or_if_this_happens_is_the_same_need(first, topic, again):
    """Issue 13's third test half: "when I tap ... nothing happens" tells what goes wrong; it asks nothing."""
    turns = [faq(first, topic), said("ok", "affirm", "utter_ok"), faq(again, topic, answered=False)]

    assert repeating(turns, {(first, again): 0.3}) == "customer_repeating"


@pytest.mark.parametrize("then", [
    "if I send it again, when does it arrive",
    "whenever I travel which currencies can I hold",
    "when will it get here?",
])
def test_a_question_opening_with_when_or_if_still_asks_something_new(then):
    first = faq("my card isn't working abroad", "card_not_working")
    turns = [first, said("ok", "affirm", "utter_ok"), faq(then, "card_not_working", answered=False)]

    assert repeating(turns, {(first.text, then): 0.3}) is None


def test_a_problem_said_again_under_a_neighbouring_topic_is_the_same_need():
    """Issue 13's third test half: the NLU files wages not arriving and "nothing from my company in my balance"
    under two topics of one family (money that did not arrive, a payment not recognised)."""
    first = faq("my wages haven't arrived this month", "transfer_not_received")
    again = faq("payday was on friday and there's nothing from my company in my balance", "unrecognised_transaction",
                answered=False)
    pairs = {(first.text, again.text): 0.52}

    assert repeating([first, said("ok", "affirm", "utter_ok"), again], pairs) == "customer_repeating"
    assert repeating([first, said("thanks", "thank", "utter_welcome"), again], pairs) is None
    unrelated = faq("my card still hasn't arrived", "card_arrival", answered=False)
    assert repeating([first, said("ok", "affirm", "utter_ok"), unrelated], {(first.text, unrelated.text): 0.52}) is None
    config = DetectorConfig(triggers=("customer_repeating",), related_topics=())
    assert StuckDetector(config, similar(pairs)).check([first, said("ok", "affirm", "utter_ok"), again]) is None


@pytest.mark.parametrize("first, first_topic, again, again_topic, similarity", [
    # close in meaning, under topics of no one family (the NLU read the first as a card problem, or as fees)
    ("my payment to the council bounced back", "card_not_working",
     "the council never got the money I sent them", "transfer_not_received", 0.73),
    ("I sent my tuition fee to the college last week", "fees",
     "the college says my fee hasn't reached them", "transfer_not_received", 0.76),
    # an NLU that filed the first as hardship (another model's reading of issue 13's fifth dev half)
    ("also my wages were due yesterday and they're not in", "payment_deferral",
     "payday was yesterday, my work says they paid it and my account shows nothing", "transfer_not_received", 0.59),
    # the same payee named again, in words less alike
    ("a refund from the airline was promised two weeks ago", "refund_not_showing",
     "I'm waiting on 200 pounds from the airline and my balance shows nothing", "transfer_not_received", 0.43),
    # the same amount named again
    ("I sent £250 to my landlord on monday", "receiving_money",
     "the 250 pounds still hasn't arrived", "card_arrival", 0.3),
])
def test_a_need_said_again_under_an_unrelated_topic_is_the_same_need(first, first_topic, again, again_topic,
                                                                      similarity):
    """Issue 13's fourth test half: the NLU files one need under topics of no one family; a problem stated again
    in words close in meaning, or naming the same payee or amount, after an answer the customer did not thank
    for is the need again, whatever the topics."""
    turns = [faq(first, first_topic), said("ok", "affirm", "utter_ok"), faq(again, again_topic, answered=False)]
    pairs = {(first, again): similarity}

    assert repeating(turns, pairs) == "customer_repeating"
    verdict = StuckDetector(DetectorConfig(triggers=("customer_repeating",)), similar(pairs)).check(turns)
    assert verdict is not None and "stated the same problem again" in verdict.explanation
    thanked = turns[:1] + [said("thanks", "thank", "utter_welcome")] + turns[2:]
    assert repeating(thanked, pairs) is None


@pytest.mark.parametrize("first, first_topic, then, then_topic, similarity", [
    # a new problem: not alike, and nothing named again ("the shop" and "the app" name nothing in particular)
    ("I think I've lost my card somewhere in town", "lost_or_stolen_card",
     "there's a payment from a shop I've never been to", "unrecognised_transaction", 0.32),
    ("my card was declined at the shop", "card_not_working",
     "the app won't open on my phone", "password_reset", 0.2),
    ("I sent money to the wrong person", "cancel_transfer",
     "I typed the wrong pin three times and now my card doesn't work", "change_pin", 0.25),
    # close, but a question that asks something new or follows on
    ("my transfer to the council hasn't arrived", "transfer_not_received",
     "can I cancel the council payment and send it again?", "cancel_transfer", 0.7),
    ("my payment to the gym failed", "card_not_working",
     "and the gym also charged me a fee, is that right?", "fees", 0.65),
])
def test_a_new_problem_or_a_question_under_another_topic_is_no_repeat(first, first_topic, then, then_topic,
                                                                     similarity):
    turns = [faq(first, first_topic), said("ok", "affirm", "utter_ok"), faq(then, then_topic, answered=False)]

    assert repeating(turns, {(first, then): similarity}) is None


def test_the_payee_or_amount_named_again_is_in_the_evidence():
    first = faq("a refund from the airline was promised two weeks ago", "refund_not_showing")
    again = faq("I'm waiting on £200 from the airline and my balance shows nothing, 200 pounds!", "transfer_not_received",
                answered=False)
    verdict = StuckDetector(DetectorConfig(triggers=("customer_repeating",)), similar({})).check(
        [first, said("ok", "affirm", "utter_ok"), again])

    assert verdict is not None and verdict.evidence["referents"] == ["airline"]


def test_a_problem_the_nlu_cannot_read_after_an_answered_problem_is_the_same_need():
    """Issue 13's fourth dev half: "two lots of 60 pounds for the one fill up" is not understood; it states
    the double charge again. Not understood words that state no problem are no repeat (repeated_fallback
    counts them)."""
    first = faq("I got charged twice at a petrol station", "charged_twice")
    acks = [said("ok", "affirm", "utter_ok"), said("right", "affirm", "utter_ok")]
    again = Turn("two lots of 60 pounds for the one fill up", "nlu_fallback", 0.3)

    assert repeating([first] + acks + [again], {}) == "customer_repeating"
    assert repeating([first] + acks + [Turn("what about my other card", "nlu_fallback", 0.3)], {}) is None
    question = faq("what is the exchange rate for euros", "exchange_rate")
    assert repeating([question] + acks + [again], {}) is None


def test_a_topic_the_nlu_also_considered_joins_a_problem_to_the_family():
    """Issue 13's fourth dev half: an amount in pounds makes the NLU file "my friend sent me 50 pounds but I can't
    see it" as exchange_rate, with transfer_not_received its second reading; "her money still isn't showing"
    (transfer_not_received) is the problem again."""
    first = dataclasses.replace(faq("my friend sent me 50 pounds this morning but I can't see it", "exchange_rate"),
                                alternatives=["transfer_not_received"])
    again = faq("her money still isn't showing in my balance", "transfer_not_received", answered=False)
    turns = [first, said("ok", "affirm", "utter_ok"), again]

    assert repeating(turns, {(first.text, again.text): 0.4}) == "customer_repeating"
    assert repeating([dataclasses.replace(first, alternatives=[])] + turns[1:], {(first.text, again.text): 0.4}) is None
    question = dataclasses.replace(faq("what rate do I get for 50 pounds in euros", "exchange_rate"),
                                   alternatives=["transfer_not_received"])
    assert repeating([question] + turns[1:], {(question.text, again.text): 0.4}) is None


def test_the_topics_the_nlu_also_considered_are_kept_from_its_ranking():
    parse = {"intent": {"name": "faq", "confidence": 0.9}, "response_selector": {"faq": {
        "response": {"intent_response_key": "faq/exchange_rate"},
        "ranking": [{"intent_response_key": "faq/exchange_rate", "confidence": 0.82},
                    {"intent_response_key": "faq/transfer_not_received", "confidence": 0.17},
                    {"intent_response_key": "faq/receiving_money", "confidence": 0.01}]}}}

    turn = parsed_turn("my friend sent me 50 pounds but I can't see it", parse)

    assert (turn.topic, turn.alternatives) == ("exchange_rate", ["transfer_not_received"])


def test_a_top_up_that_did_not_land_is_money_that_did_not_arrive():
    """Issue 13's fourth dev half: a balance "the same as before" after a top-up tells the top-up is missing."""
    first = faq("my top up from google pay is missing", "top_up")
    again = dataclasses.replace(
        faq("I loaded 30 pounds an hour ago and my balance is the same as before", "exchange_rate", answered=False),
        alternatives=["transfer_not_received"])

    assert repeating([first, said("ok", "affirm", "utter_ok"), again], {(first.text, again.text): 0.28}) == (
        "customer_repeating")
    question = faq("is the fee the same as before?", "fees", answered=False)
    assert repeating([first, said("ok", "affirm", "utter_ok"), question], {}) is None


def test_money_sent_twice_by_mistake_and_a_double_charge_are_one_family():
    first = faq("I paid the plumber twice by mistake", "cancel_transfer")
    again = faq("the same bank transfer went out two times yesterday", "charged_twice", answered=False)

    assert repeating([first, said("ok", "affirm", "utter_ok"), again], {(first.text, again.text): 0.34}) == (
        "customer_repeating")


def test_a_case_asked_about_is_no_failed_answer_even_when_the_nlu_says_so():
    """The NLU reads "what if it's still not there next week" as not_helped; it asks about a case."""
    turns = [faq("my refund isn't showing yet", "refund_not_showing"), said("thanks", "thank", "utter_welcome"),
             said("what if it's still not there next week", "not_helped")]

    assert check(turns) is None
    assert check(turns[:2] + [said("it's still not there", "not_helped")]) == "unresolved"


@pytest.mark.parametrize("praise", ["brilliant", "perfect!", "lovely, cheers", "great stuff"])
def test_a_word_of_praise_the_nlu_reads_as_a_complaint_is_no_anger(praise):
    """Issue 13's fifth dev half: "brilliant" after an answer was read as a complaint; sarcasm says more."""
    turns = [faq("how do i change my pin", "change_pin"), said("ok", "affirm", "utter_ok")]

    assert check(turns + [said(praise, "complain", confidence=0.8)]) is None
    assert check(turns + [said("brilliant, another useless answer", "complain", confidence=0.8)]) == "frustration"


def test_a_cool_after_an_answer_is_no_thanks_that_excuses_the_need_said_again():
    """Issue 13's fifth dev half: "ok", "cool", then the refund that still has not come is the need again."""
    first = faq("deliveroo said they refunded my order 5 days ago, but nothing yet", "refund_not_showing")
    acks = [said("ok", "affirm", "utter_ok"), said("cool", "nlu_fallback", "utter_default")]
    again = faq("still no sign of the deliveroo money on my balance tho", "transfer_not_received", answered=False)

    assert repeating([first] + acks + [again], {(first.text, again.text): 0.58}) == "customer_repeating"


def test_sorry_for_the_bother_is_a_closing_remark_not_a_complaint():
    turns = [faq("I don't recognise a payment on my card", "unrecognised_transaction"),
             said("thanks, it was my husband after all", "thank", "utter_welcome"),
             said("sorry for the bother", "complain", confidence=0.9)]

    assert check(turns) is None


def test_an_answer_to_a_returning_customer_s_greeting_is_no_question_asked_before():
    """ "I was here yesterday about my refund" gets the refund answer as a guess; the customer saying what is
    wrong next is not asking again. Saying it again after that is."""
    returning = faq("hi, I was here yesterday about my refund", "refund_not_showing")
    problem = faq("the refund from the shop is not showing", "refund_not_showing")
    again = faq("why is my refund not showing", "refund_not_showing", answered=False)
    pairs = {(returning.text, problem.text): 0.65, (problem.text, again.text): 0.87}

    assert repeating([returning, faq(problem.text, problem.topic, answered=False)], pairs) is None
    assert repeating([returning, problem, again], pairs) == "customer_repeating"


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


@pytest.mark.parametrize("text, intent", [
    ("no that's all, thanks", "deny"), ("nope, that's everything cheers", "not_helped"),
    ("no, all good now", "deny"), ("no worries, I'll wait a few more days", "not_helped"),
    ("no thanks, I'm all set", "deny"), ("no need, thank you", "deny"),
])
def test_a_closing_remark_that_starts_with_no_is_not_unresolved(text, intent):
    answered = faq("when will my refund show up", "refund_not_showing")

    assert check([answered, said(text, intent, confidence=0.6)]) is None


def test_a_no_with_thanks_is_still_unresolved_when_it_says_the_answer_failed():
    answered = faq("my transfer hasn't arrived", "transfer_not_received")

    assert check([answered, said("no it didn't, thanks", "deny")]) == "unresolved"
    assert check([answered, said("that didn't help, thanks anyway", "thank")]) == "unresolved"


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


def test_a_new_question_in_capitals_is_not_shouting_but_the_same_one_again_is():
    question = faq("HOW DO I ORDER A SPARE CARD FOR MY WIFE", "order_card", answered=False)
    again = faq("IT'S STILL NOT HERE AND I ORDERED IT A MONTH AGO", "order_card", answered=False)

    assert check([question]) is None
    assert check([said("hello", "greet", "utter_greet"), question]) is None
    assert check([said("ARE YOU A REAL PERSON OR A BOT", "bot_challenge")]) is None
    assert check([faq("how do I order a card", "order_card"), again], triggers=("frustration",)) == "frustration"
    assert check([said("WHERE IS MY MONEY", "faq")]) == "frustration"


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
        parse["response_selector"] = {answer.split("/")[0]: {"response": {"intent_response_key": answer}}}
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
        user("tell me a joke", "chitchat", 0.9, "chitchat/joke"),
    ]

    turns = conversation_since_last_handoff(events).turns

    # Small talk has no topic: it is nothing a customer asks about again or switches between.
    assert [dataclasses.astuple(turn)[:4] for turn in turns] == [
        ("my card is late", "faq", 0.8, "card_arrival"),
        ("call me", "request_callback", 0.9, None),
        ("tell me a joke", "chitchat", 0.9, None),
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


@pytest.mark.parametrize("text", [
    "my husband passed away and the loan was in both our names",
    "my mum died on Sunday, what happens to her account",
    "someone from your fraud team is on the phone asking me to move my savings to a safe account",
    "a man on the phone says he's from your bank and wants the code you texted me",
    "I think I've been scammed, I sent money to a stranger",
    "I've fallen behind on my rent and the bailiffs are coming",
    "I can't afford my loan this month and I'm panicking",
    "I'm really struggling, I just need someone to help me",
    "please can somebody help me",
    "i dont know who else to ask",
    # issue 13's fifth dev half: money taken from someone cared for, and money controlled by a partner
    "i'm my mum's carer, she has dementia and i think someone has been taking money out of her account",
    "my son has been stealing money from my savings",
    "my ex keeps my card and takes my wages out the day they land, i'm not allowed any money of my own",
    "my husband controls all the money and won't let me have any",
])
def test_distress_hands_over_whatever_the_nlu_made_of_it(text):
    verdict = StuckDetector(DetectorConfig()).check([faq(text, "payment_deferral", answered=False)])

    assert verdict is not None and verdict.reason == "distress" and verdict.evidence["phrases"]


@pytest.mark.parametrize("text", [
    "my phone died halfway through a transfer, did it go through",
    "I need someone's account details to pay them, what do I need",
    "I can't pay with my card online, it keeps saying declined",
    "what happens if I can't pay my loan one month",
    "money's a bit tight, can I move my loan payment to later",
    "just checking, what should I do if I ever spot a payment I didn't make",
    "my partner takes my card to the shop sometimes, can she have her own",
    "am I allowed to take money out abroad",
])
def test_words_near_distress_are_not_distress(text):
    assert check([faq(text, "payment_deferral", answered=False)]) is None


def test_distress_comes_before_a_request_for_a_person():
    assert check([said("my dad passed away, can I talk to someone", "request_human")]) == "distress"


@pytest.mark.parametrize("text", [
    "can I talk to Kim again?",
    "can I speak with kim again please",
    "I'd like to carry on with Tom from this morning",
    "we got cut off, can I get him back?",
    "could you put me back through to the lady I spoke to before?",
    "can I have Kim back",
    "is Priya in today?",
])
def test_asking_for_the_person_who_served_them_before_is_a_request(text):
    """Issue 13's trial: "can I talk to Kim again?" after an answer was read as the customer repeating."""
    earlier = faq("how do I change my pin", "change_pin")
    verdict = StuckDetector(DetectorConfig()).check([earlier, faq(text, "change_pin", answered=False)])

    assert verdict is not None and verdict.reason == "requested" and verdict.evidence["phrases"]


@pytest.mark.parametrize("text", [
    "can I get my money back", "Can I Get It Back", "talk to you again soon", "is Apple Pay available in Spain",
    "is Revolut available in my country", "I need to talk to my husband again first",
    "the agent I chatted with last week was lovely. anyway, how do I top up by bank transfer",
])
def test_again_or_back_without_a_person_is_no_request(text):
    assert check([faq(text, "refund_not_showing", answered=False)]) is None


@pytest.mark.parametrize("text", [
    "is there anyone at the bank who could look at my account for me?",
    "can you pass this on to someone who can actually see my account?",
    "I'd rather not do this with a machine, is one of your colleagues around?",
    "I'd feel better going through this with someone who works there",
    "is this a human or a bot? because I need a human for this",
    "could a member of staff have a look at my account please, its about a payment from last week",
    "would one of your advisers be able to check this for me",
])
def test_indirect_requests_for_a_person(text):
    assert check([faq(text, "receiving_money", answered=False)]) == "requested"


@pytest.mark.parametrize("text, intent", [
    ("is this a human or a bot?", "bot_challenge"),
    ("are you a real person?", "bot_challenge"),
    ("my agent at the branch said my card would come in a week", "faq"),
    ("I spoke to an agent yesterday, how long do refunds take", "faq"),
    ("I don't need to talk to a person, just tell me your opening hours", "request_human"),
    ("no human needed, how do I top up", "faq"),
])
def test_agent_and_human_that_are_not_a_request(text, intent):
    assert check([said(text, intent)]) is None


def test_a_pattern_that_is_not_a_regular_expression_is_refused():
    with pytest.raises(ValueError, match="distress_patterns"):
        DetectorConfig(distress_patterns=("(unclosed",))
