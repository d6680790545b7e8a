import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.callback import ActionSubmitCallback, ValidateCallbackForm, find_phone, normalise_phone
from tests.actions.conftest import DOMAIN, make_tracker, user_event


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("07700 900123", "07700900123"),
        ("+44 (7700) 900-123", "+447700900123"),
        ("  020 7946 0958 ", "02079460958"),
    ],
)
def test_phone_numbers_are_normalised(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "call me tomorrow", "12345", "+44 7700 900123 4567 89", "0770090012a", "", "++447700900123",
        "\u0660\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663",  # Arabic-Indic digits
    ],
)
def test_things_that_are_not_phone_numbers_are_rejected(typed):
    assert normalise_phone(typed) == ""


@pytest.mark.parametrize(
    "said, found",
    [
        ("sorry, it's 07700 900123", "07700900123"),
        ("my number is +44 (7700) 900-123, thanks", "+447700900123"),
        ("call me on 020 7946 0958 after 6", "02079460958"),
        ("07700 900123", "07700900123"),
    ],
)
def test_a_phone_number_is_found_inside_a_sentence(said, found):
    assert find_phone(said) == found


@pytest.mark.parametrize("said", ["after 6 today please", "call me at 5", "my pin is 1234", "it's 123 45", ""])
def test_a_sentence_without_a_phone_number_has_none(said):
    assert find_phone(said) == ""


def test_a_number_given_in_a_sentence_is_accepted_by_the_form():
    dispatcher = CollectingDispatcher()
    said = "sorry, it's 07700 900123"

    slots = ValidateCallbackForm().validate_callback_phone(said, dispatcher, form_tracker(said), {})

    assert slots == {"callback_phone": "07700900123"}
    assert dispatcher.messages == []


def form_tracker(text: str):
    return make_tracker(
        [user_event(text, "request_callback", 0.6)],
        active_loop={"name": "callback_form"},
    )


def test_valid_phone_is_stored_normalised():
    dispatcher = CollectingDispatcher()

    slots = ValidateCallbackForm().validate_callback_phone(
        "+44 7700 900123", dispatcher, form_tracker("+44 7700 900123"), {}
    )

    assert slots == {"callback_phone": "+447700900123"}
    assert dispatcher.messages == []


def test_invalid_phone_is_asked_again_with_an_example():
    dispatcher = CollectingDispatcher()

    slots = ValidateCallbackForm().validate_callback_phone(
        "whenever", dispatcher, form_tracker("whenever"), {}
    )

    assert slots == {"callback_phone": None}
    assert [message["response"] for message in dispatcher.messages] == ["utter_invalid_phone"]


def test_call_time_is_tidied_and_capped():
    dispatcher = CollectingDispatcher()
    validate = ValidateCallbackForm().validate_callback_time

    assert validate("  tomorrow   after 5pm ", dispatcher, form_tracker("x"), {}) == {
        "callback_time": "tomorrow after 5pm"
    }
    assert validate("x" * 101, dispatcher, form_tracker("x"), {}) == {"callback_time": None}
    assert [message["response"] for message in dispatcher.messages] == ["utter_invalid_time"]


@pytest.mark.parametrize(
    "said, kept",
    [("tomorrow morning", "tomorrow morning"), ("after 6 today please", "after 6 today"),
     ("Please, any time after lunch. Thanks!", "any time after lunch")],
)
def test_the_time_asked_for_is_kept_in_the_customers_words_without_the_courtesies(said, kept):
    dispatcher = CollectingDispatcher()
    assert ValidateCallbackForm().validate_callback_time(said, dispatcher, form_tracker(said), {}) == {
        "callback_time": kept}


def test_submitting_the_form_confirms_and_hands_over_with_the_callback():
    tracker = make_tracker(
        [user_event("please call me back", "request_callback", 0.95)],
        slots={"callback_phone": "07700900123", "callback_time": "after 6pm"},
    )
    dispatcher = CollectingDispatcher()

    events = ActionSubmitCallback().run(dispatcher, tracker, domain=DOMAIN)

    assert events == [SlotSet("callback_phone", None), SlotSet("callback_time", None)]
    assert dispatcher.messages[0]["response"] == "utter_callback_booked"
    handoff = dispatcher.messages[1]["custom"]["handoff"]
    assert handoff["reason"] == "callback"
    assert handoff["callback"] == {"phone": "07700900123", "preferred_time": "after 6pm"}
    assert handoff["slots"] == {"callback_phone": "07700900123", "callback_time": "after 6pm"}
    assert handoff["summary"].startswith("Handed over because the customer asked to be called back.")
