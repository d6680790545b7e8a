"""The trained model on questions it was never trained on (tests/nlu/unseen_*.yml).

Those files were written separately from data/ with different wording and
situations; the thresholds below are the floor the bot must keep, not its
current score (docs/nlu-pipeline.md has that).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bot.evaluation import NluModel, predicted_label, score

ROOT = Path(__file__).resolve().parent.parent
OVERALL_FLOOR = 0.88
PER_TOPIC_FLOOR = 0.66


@pytest.fixture(scope="module")
def nlu(model_path) -> NluModel:
    return NluModel(model_path)


@pytest.fixture(scope="module")
def unseen() -> List[Tuple[str, str]]:
    data = load_data(str(ROOT / "tests" / "nlu"))
    return [
        (message.get("text"), message.get("intent_response_key") or message.get("intent"))
        for message in data.intent_examples
    ]


def accepted(label: str) -> List[str]:
    """An out-of-scope question is handled when the bot declines it or says it did not understand."""
    return [label, "nlu_fallback"] if label == "out_of_scope" else [label]


def test_unseen_questions_are_understood(nlu, unseen):
    parses = nlu.parse([text for text, _ in unseen])
    result = score([(text, accepted(label)) for text, label in unseen], parses)

    per_label = {label: hits / count for label, (hits, count) in result.per_label.items()}
    weak = {label: round(value, 2) for label, value in per_label.items() if value < PER_TOPIC_FLOOR}
    report = "\n".join(f"  {gold} -> {got} ({confidence:.2f}): {text}" for gold, got, text, confidence in result.errors)
    assert result.accuracy >= OVERALL_FLOOR, f"accuracy {result.accuracy:.3f}; misses:\n{report}"
    assert not weak, f"topics below {PER_TOPIC_FLOOR}: {weak}"


def test_every_answer_is_covered_by_training_and_test_data(unseen):
    """Every FAQ topic and every small talk key (``chitchat/...``) has examples, unseen questions and its answer."""
    trained = load_data(str(ROOT / "data" / "nlu"))
    answers = load_data(str(ROOT / "data" / "responses"))
    trained_keys = {m.get("intent_response_key") for m in trained.intent_examples} - {None}
    tested_keys = {label for _, label in unseen if "/" in label}

    assert len({key for key in trained_keys if key.startswith("faq/")}) == 25
    assert tested_keys == trained_keys
    assert set(answers.responses) == {f"utter_{key}" for key in trained_keys}


def test_low_confidence_falls_back_instead_of_guessing(nlu):
    [parse] = nlu.parse(["I want to ask about the letter"])

    assert parse["intent"]["name"] == "nlu_fallback"


# Made-up words and keyboard mash: nothing the bot was taught, so it must say it did not understand.
GIBBERISH = ["blorp the flanges", "snorkel wibble pance", "asdkjh qwpoe", "zxcvzxcv", "hjkhjk lklk", "gronk"]


def test_gibberish_falls_back_instead_of_being_answered(nlu):
    parses = nlu.parse(GIBBERISH)

    got = {text: (parse["intent"]["name"], round(parse["intent"]["confidence"], 2))
           for text, parse in zip(GIBBERISH, parses)}
    assert all(name == "nlu_fallback" for name, _ in got.values()), got


def test_faq_confidence_is_that_of_the_chosen_answer(nlu):
    [parse] = nlu.parse(["what is the fee for taking cash out of an ATM abroad"])

    selector = parse["response_selector"]["faq"]
    confidences = [entry["confidence"] for entry in selector["ranking"]]
    assert parse["intent"]["name"] == "faq"
    assert selector["response"]["intent_response_key"] == "faq/fees"
    assert selector["ranking"][0]["intent_response_key"] == "faq/fees"
    assert confidences == sorted(confidences, reverse=True)
    # The intent's confidence is the chosen answer's share of all labels, so it
    # can only be at most the answer's confidence among the FAQ answers alone.
    assert 0.4 <= parse["intent"]["confidence"] <= selector["response"]["confidence"] + 1e-9


def test_no_training_example_is_skipped_by_rasa():
    """Rasa skips, with only a warning, a line of an ``examples`` block that is not a ``- `` item
    (a blank line did so in data/nlu/core.yml): every line of every block must be one."""
    stray = []
    for path in sorted((ROOT / "data").rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text()) or {}).get("nlu") or []:
            lines = (item.get("examples") or "").rstrip("\n").split("\n")
            stray += [(path.name, item.get("intent"), line) for line in lines if item.get("examples")
                      and not line.startswith("- ")]
    assert stray == []


# The customer trial of issue 13, message by message: what the bot must understand each one as.
TRIAL = {
    "tell me a joke": "chitchat/joke",
    "what's the weather": "chitchat/weather",
    "who made you?": "chitchat/who_made_you",
    "are you still there?": "chitchat/are_you_there",
    "how are you": "chitchat/how_are_you",
    "what can you do": "chitchat/what_can_you_do",
    "how old are you": "chitchat/about_me",
    "are you married": "chitchat/about_me",
    "how do i set up a standing order": "out_of_scope",
    "increase my daily transfer limit": "out_of_scope",
    "why was my top up declined": "faq/top_up",
}

# The second customer trial of issue 13: questions the bot answered, sure of itself, with the wrong answer.
# Freezing and unfreezing a card is in the lost-or-stolen answer; the top-up answer lists the ways to add
# money; the charged-twice answer covers any payment taken twice. No answer covers overdrafts, transfer
# limits or deposit protection, so those are declined.
SECOND_TRIAL = {
    "unfreez my crad": "faq/lost_or_stolen_card",
    "can I get an overdraft": "out_of_scope",
    "how much does an overdraft cost": "out_of_scope",
    "what is the daily limit for transfers": "out_of_scope",
    "can I top up with Apple Pay": "faq/top_up",
    "is my money protected": "out_of_scope",
    "I was charged twice for a direct debit": "faq/charged_twice",
}

# Issue 13, round eight: messages of the stuck corpus's fourth dev and test halves the NLU filed wrongly,
# most of them because an amount in pounds pulled them towards the exchange rate. An amount is no currency
# question; money sent or loaded that does not show is a transfer or top-up problem, one payment taken two
# times is charged twice, and a payment that came back never reached its recipient.
STUCK_CORPUS = {
    "my friend sent me 50 pounds this morning but I can't see it": "faq/transfer_not_received",
    "I loaded 30 pounds an hour ago and my balance is the same as before": "faq/top_up",
    "when I check my balance the 500 pounds from my building society isn't there": "faq/transfer_not_received",
    "two lots of 60 pounds for the one fill up": "faq/charged_twice",
    "I paid the plumber twice by mistake": "faq/charged_twice",
    "my payment to the council bounced back": "faq/transfer_not_received",
}


def test_the_customer_trials_messages_are_understood(nlu):
    parses = nlu.parse(list(TRIAL))

    got = {text: predicted_label(parse) for text, parse in zip(TRIAL, parses)}
    assert got == TRIAL


def test_the_second_trials_confidently_wrong_answers_are_right(nlu):
    parses = nlu.parse(list(SECOND_TRIAL))

    got = {text: predicted_label(parse) for text, parse in zip(SECOND_TRIAL, parses)}
    assert got == SECOND_TRIAL


def test_the_stuck_corpus_messages_filed_wrongly_are_right(nlu):
    parses = nlu.parse(list(STUCK_CORPUS))

    got = {text: predicted_label(parse) for text, parse in zip(STUCK_CORPUS, parses)}
    assert got == STUCK_CORPUS
