from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.callback import ActionSubmitCallback
from tests.actions.conftest import make_tracker, user_event


def booked_tracker():
    return make_tracker(
        [user_event("after 6pm", "request_callback", 0.9)],
        slots={"callback_phone": "07700900123", "callback_time": "after 6pm"},
    )


def test_a_failing_action_reports_the_error_and_sends_nothing(monkeypatch):
    monkeypatch.setenv("ACTIONS_FAIL", "action_other, action_submit_callback")
    dispatcher = CollectingDispatcher()

    events = ActionSubmitCallback().run(dispatcher, booked_tracker(), domain={})

    assert events == [SlotSet("action_error", {"action": "action_submit_callback", "error": "InjectedFailure"})]
    assert dispatcher.messages == []


def test_actions_not_listed_for_the_drill_run_normally(monkeypatch):
    monkeypatch.setenv("ACTIONS_FAIL", "action_other")
    dispatcher = CollectingDispatcher()

    events = ActionSubmitCallback().run(dispatcher, booked_tracker(), domain={})

    assert events == [SlotSet("callback_phone", None), SlotSet("callback_time", None)]
