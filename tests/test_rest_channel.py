"""The assistant end to end: Rasa's REST channel, real action server, real Redis."""

from __future__ import annotations

import uuid
from typing import Any, Dict, List

import pytest
import redis
import requests

from harness.servers import RASA_API_TOKEN

BRAND_URL = "https://help.northwind-bank.example"


def say(rasa_url: str, sender: str, text: str) -> List[Dict[str, Any]]:
    response = requests.post(
        f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def texts(replies: List[Dict[str, Any]]) -> List[str]:
    return [reply["text"] for reply in replies if "text" in reply]


def handoffs(replies: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [reply["custom"]["handoff"] for reply in replies if "handoff" in reply.get("custom", {})]


@pytest.fixture
def sender() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_parse_reports_the_faq_answer_key(rasa_url):
    parse = requests.post(
        f"{rasa_url}/model/parse",
        params={"token": RASA_API_TOKEN},
        json={"text": "my new card still hasn't been delivered"},
        timeout=30,
    ).json()

    assert parse["intent"]["name"] == "faq"
    selected = parse["response_selector"]["faq"]["response"]
    assert selected["intent_response_key"] == "faq/card_arrival"
    assert selected["utter_action"] == "utter_faq/card_arrival"
    assert parse["response_selector"]["all_retrieval_intents"] == ["chitchat", "faq"]


def test_greets_with_the_bank_name(rasa_url, sender):
    reply = texts(say(rasa_url, sender, "hello there"))

    assert len(reply) == 1
    assert "Northwind Bank" in reply[0] and "talk to a person" in reply[0]


def test_answers_a_question_with_its_help_page_then_checks_it_helped(rasa_url, sender):
    replies = say(rasa_url, sender, "how can I add money to my account with a debit card?")

    answer, check = texts(replies)
    assert f"{BRAND_URL}/" in answer
    assert "{" not in answer, "every placeholder is filled from the brand slots"
    assert check == "Did that answer your question?"
    assert [button["payload"] for button in replies[1]["buttons"]] == ["/affirm", "/deny"]


def test_admits_an_out_of_scope_question_and_offers_a_person(rasa_url, sender):
    replies = say(rasa_url, sender, "who will win the football tonight?")

    assert texts(replies) == [
        "Sorry, that's not something I can help with. I can answer questions about cards, payments, "
        "transfers, top-ups and your Northwind Bank account, or I can get you a person."
    ]
    assert replies[0]["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]


def test_request_for_a_person_hands_off_with_the_payload(rasa_url, sender):
    say(rasa_url, sender, "my card was declined in a shop today")
    replies = say(rasa_url, sender, "can I talk to a real person please")

    assert texts(replies)[0].startswith("I've put you in the queue for our support team")
    [handoff] = handoffs(replies)
    assert handoff["reason"] == "requested"
    assert handoff["topics"] == ["card_not_working"]
    assert [turn["intent"] for turn in handoff["turns"]] == ["faq", "request_human"]
    assert "Topics asked about: card not working." in handoff["summary"]
    assert handoff["evidence"]["explanation"] == "the customer asked for a person"


def test_stuck_conversation_hands_off_kindly_with_the_evidence(rasa_url, sender):
    say(rasa_url, sender, "my refund from the shop isn't showing")
    replies = say(rasa_url, sender, "no")

    assert texts(replies)[0].startswith("I'm not getting this right, sorry. I've put you in the queue")
    [handoff] = handoffs(replies)
    assert handoff["reason"] == "unresolved"
    assert handoff["summary"].startswith('The customer asked "my refund from the shop isn\'t showing"')
    assert "Handed over because the customer " in handoff["summary"]
    assert [turn["turn"] for turn in handoff["evidence"]["turns"]] == [1, 2]


def test_after_a_handoff_the_bot_does_not_hand_off_again_for_old_reasons(rasa_url, sender):
    say(rasa_url, sender, "qwpoeiru")
    assert handoffs(say(rasa_url, sender, "zxmnbv"))[0]["reason"] == "repeated_fallback"

    assert handoffs(say(rasa_url, sender, "hello")) == []


def test_callback_form_finds_the_number_in_a_sentence_and_says_the_time_back(rasa_url, sender):
    say(rasa_url, sender, "could someone ring me back please")
    assert texts(say(rasa_url, sender, "sorry, it's 07700 900123"))[0].startswith("When is a good time to call?")
    assert texts(say(rasa_url, sender, "after 6 today please"))[0].startswith(
        "Thanks. We'll call you on 07700900123 (after 6 today).")


def test_callback_form_validates_and_books(rasa_url, sender):
    assert texts(say(rasa_url, sender, "could someone ring me back please"))[0].startswith(
        "Sure, someone from our team can call you back"
    )
    invalid = texts(say(rasa_url, sender, "07700"))
    assert invalid[0].startswith("That doesn't look like a phone number")
    assert texts(say(rasa_url, sender, "+44 7700 900123"))[0].startswith("When is a good time to call?")

    replies = say(rasa_url, sender, "tomorrow after 5pm")

    assert texts(replies)[0] == (
        "Thanks. We'll call you on +447700900123 (tomorrow after 5pm). The call will come from "
        "0800 123 4567; we'll never ask for your full PIN or passcode."
    )
    [handoff] = handoffs(replies)
    assert handoff["reason"] == "callback"
    assert handoff["callback"] == {"phone": "+447700900123", "preferred_time": "tomorrow after 5pm"}


def test_callback_form_can_be_cancelled(rasa_url, sender):
    say(rasa_url, sender, "can you phone me later")

    assert texts(say(rasa_url, sender, "no, forget it")) == [
        "OK, I've cancelled the callback request. If you need anything else, just ask."
    ]


def test_callback_form_can_be_left_for_a_person(rasa_url, sender):
    say(rasa_url, sender, "please call me back")

    replies = say(rasa_url, sender, "actually just get me a human agent")

    assert handoffs(replies)[0]["reason"] == "requested"


def test_the_http_api_needs_the_token(rasa_url):
    assert requests.get(f"{rasa_url}/status", timeout=10).status_code == 401
    assert requests.get(f"{rasa_url}/status", params={"token": RASA_API_TOKEN}, timeout=10).ok


def test_conversation_is_kept_in_the_redis_tracker_store(rasa_url, redis_url, sender):
    """Every event is kept (Rasa itself works on the last turns: bot/tracker_store.py) and expires."""
    messages = ["hi"] + [f"thanks {number}" for number in range(11)]
    for message in messages:
        say(rasa_url, sender, message)

    client = redis.Redis.from_url(redis_url)
    keys = [f"support:{{tracker:{sender}}}:events", f"support:{{tracker:{sender}}}:window"]
    try:
        assert client.exists(*keys) == 2
        assert min(client.ttl(key) for key in keys) > 0, "finished conversations expire"
        tracker = requests.get(f"{rasa_url}/conversations/{sender}/tracker", params={"token": RASA_API_TOKEN},
                               timeout=10).json()
        assert [event["text"] for event in tracker["events"] if event["event"] == "user"] == messages
    finally:
        client.delete(*keys)
        client.close()


@pytest.mark.parametrize(
    "messages, reasons",
    [
        (["can I talk to a person"], {"requested"}),
        (["my dad passed away and I can't pay his loan"], {"distress"}),
        (["asdfgh", "who won the football last night"], {"repeated_fallback"}),
        (["my refund isn't showing", "no"], {"unresolved"}),
        (["where is my refund", "I still can't see my refund"], {"customer_repeating", "unresolved"}),
        (["THIS IS RIDICULOUS"], {"frustration"}),
        (["I need help", "ok", "can you help me"], {"bot_repeating"}),
        (["fees?", "how do I top up", "and the fees again?"], {"ping_pong"}),
    ],
)
def test_the_readme_trigger_examples_hand_over_on_their_last_message(rasa_url, sender, messages, reasons):
    """The table in README.md "Talking to the bot" stays true."""
    for message in messages[:-1]:
        assert handoffs(say(rasa_url, sender, message)) == [], message

    [handoff] = handoffs(say(rasa_url, sender, messages[-1]))

    assert handoff["reason"] in reasons


def test_a_retried_message_is_answered_again_not_handled_twice(rasa_url, sender):
    """The bridge sends each message with its id; a retry (its process died mid-answer) gets the same answer."""
    def send(text: str, message_id: str, retry: bool = False) -> List[Dict[str, Any]]:
        metadata = {"message_id": message_id, **({"retry": True} if retry else {})}
        reply = requests.post(f"{rasa_url}/webhooks/rest/webhook", timeout=30,
                              json={"sender": sender, "message": text, "metadata": metadata})
        reply.raise_for_status()
        return reply.json()

    first = send("my card hasn't arrived yet", "m-1")
    assert len(first) == 2 and "Did that answer your question?" in texts(first)
    assert send("my card hasn't arrived yet", "m-1", retry=True) == first
    assert texts(send("thanks", "m-2"))
    assert send("my card hasn't arrived yet", "m-1", retry=True) == first, "an older message is answered as it was"
    assert texts(send("where is my money", "m-3", retry=True)), "a retry Rasa never saw is handled as new"
    tracker = requests.get(f"{rasa_url}/conversations/{sender}/tracker", params={"token": RASA_API_TOKEN},
                           timeout=10).json()
    said = [event["text"] for event in tracker["events"] if event["event"] == "user"]
    assert said == ["my card hasn't arrived yet", "thanks", "where is my money"], "each message handled once"


# The customer trial of issue 13: small talk, however often, is answered and never counts as stuck.
SMALL_TALK = [
    ["tell me a joke", "what's the weather"],
    ["who made you?", "are you still there?"],
    ["how are you", "what can you do", "tell me a joke"],
    ["how old are you", "are you married"],
]


@pytest.mark.parametrize("messages", SMALL_TALK)
def test_small_talk_is_answered_and_never_hands_over(rasa_url, sender, messages):
    for message in messages:
        replies = say(rasa_url, sender, message)

        assert handoffs(replies) == [], message
        assert texts(replies) and not any(text.startswith("Sorry") for text in texts(replies)), (message, replies)


def test_two_banking_questions_no_answer_covers_are_declined_then_handed_over(rasa_url, sender):
    declined = say(rasa_url, sender, "how do i set up a standing order")

    assert handoffs(declined) == []
    assert texts(declined)[0].startswith("Sorry, that's not something I can help with")
    [handoff] = handoffs(say(rasa_url, sender, "increase my daily transfer limit"))
    assert handoff["reason"] == "repeated_fallback"
