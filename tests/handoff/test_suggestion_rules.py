"""Which agents' replies may be suggested to other customers (handoff.suggestions, sans I/O)."""

from __future__ import annotations

from typing import Any, Dict

from handoff.suggestions import may_be_suggested, offered, reply_pairs


def said(kind: str, text: str, entry_id: str) -> Dict[str, Any]:
    return {"id": entry_id, "kind": kind, "text": text, "data": {}, "ts": 0}


def test_a_reply_pairs_with_what_the_customer_wrote_since_the_last_reply_notes_and_bot_left_out():
    messages = [
        said("customer", "hello", "1-0"), said("bot", "Hi, how can I help?", "2-0"),
        said("customer", "my card is late", "3-0"), said("customer", "it's been two weeks", "4-0"),
        said("note", "Checked the status: dispatched on Monday", "5-0"),
        said("agent", "Sorry about that, I will order a new one now.", "6-0"),
        said("agent", "It should arrive within a week.", "7-0"),  # no new customer words: no pair
        said("customer", "thanks!", "8-0"), said("system", "The agent closed the chat", "9-0"),
    ]
    assert reply_pairs("c1", messages, {}) == [{
        "id": "c1:6-0", "customer": "hello\nmy card is late\nit's been two weeks",
        "reply": "Sorry about that, I will order a new one now."}]


def test_replies_with_personal_data_are_never_kept():
    details = {"name": "Jo Bloggs", "language": "en"}
    for reply in ("Thanks Jo Bloggs, all sorted.", "Thanks Jo, all sorted.", "I've emailed jo@example.com the form.",
                  "Your account 12345678 is open again.", "Call us back on 07700 900123.",
                  "Sort code 12-34-56 is right.", "ok"):
        assert not may_be_suggested(reply, details.values()), reply
    for reply in ("I have ordered a new card; it arrives in 5 to 7 working days.",
                  "The fee is 2.5% of the amount, or £1,250.00 at most."):
        assert may_be_suggested(reply, details.values()), reply
    messages = [said("customer", "where is my card", "1-0"), said("agent", "Thanks Jo Bloggs, it is on its way.", "2-0")]
    assert reply_pairs("c2", messages, details) == []


def test_files_are_neither_asked_nor_replied_their_text_is_only_a_name():
    def file(kind: str, name: str, entry_id: str) -> Dict[str, Any]:
        return {**said(kind, name, entry_id), "data": {"attachment": {"id": entry_id, "name": name}}}
    messages = [said("customer", "my statement is wrong", "1-0"), file("customer", "Jane Doe passport.jpg", "2-0"),
                file("agent", "Jane Doe statement march.pdf", "3-0"),
                said("agent", "I have corrected the statement for you.", "4-0")]
    assert reply_pairs("c3", messages, {}) == [{"id": "c3:4-0", "customer": "my statement is wrong",
                                                "reply": "I have corrected the statement for you."}]


# Replies of the kind agents write to one person (trial 16: one customer's name, address and
# circumstances were offered in another customer's chat).
ABOUT_ONE_PERSON = (
    "Hi Margaret Okafor, I've re-sent your card to 10 Downing Street, London SW1A 2AA; it was stolen from your flat, sorry",
    "Hello Margaret, the replacement is on its way.", "Dear Mr Okafor, we have refunded the fee.",
    "Thanks Priya, all sorted now.", "Hi Jo, I've frozen it for you.", "I spoke to Mrs Patel in the branch about it.",
    "I have sent it to 42 Acacia Avenue as you asked.", "The letter went to 7b, Church Lane this morning.",
    "Your postcode EC1A 1BB is the one we hold.", "Your card ending in 4821 is frozen now.",
    "Call us back on +44 20 7946 0958 any time.", "The card 4111 1111 1111 1111 is blocked.",
)
GENERAL = (
    "Hi there, I have ordered a new card; it arrives in 5 to 7 working days.", "Hello again! Sorry for the wait.",
    "Hi, I can help with that. Freeze the card in the app first.", "Thanks for waiting, I will check that now.",
    "Thank you for your patience.", "You can open Settings > Cards and tap Freeze.",
    "Please allow 3 to 5 working days for the refund.", "Hello, how can I help you today?",
)


def test_names_after_greetings_or_titles_addresses_postcodes_phones_and_card_digits_are_never_kept():
    for reply in ABOUT_ONE_PERSON:
        assert not may_be_suggested(reply, ()), reply
    for reply in GENERAL:
        assert may_be_suggested(reply, ()), reply


def test_answers_already_sent_are_not_offered_again_nor_agents_replies_with_personal_data():
    faq = "You can track your card in the app under Cards > Delivery."
    items = [{"text": faq, "source": "faq", "score": 0.9, "topic": "card_arrival"},
             {"text": "Contact us any day from 8am to 8pm.", "source": "faq", "score": 0.2, "topic": "contact"},
             {"text": ABOUT_ONE_PERSON[0], "source": "agent", "score": 0.7, "topic": "lost_or_stolen_card"},
             {"text": GENERAL[0], "source": "agent", "score": 0.65, "topic": "card_arrival"}]
    conversation = [said("customer", "my card has not arrived", "1-0"),
                    said("bot", "You can track your card  in the app under Cards > Delivery", "2-0"),
                    said("agent", "Contact us any day from 8am to 8pm.", "3-0")]  # a trial: an agent sent it already
    assert [item["text"] for item in offered(items, conversation)] == [GENERAL[0]]
