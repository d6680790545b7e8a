"""The inbox event broker against a real redis-server, and inside a real Rasa server.

Event dicts have the shape Rasa 3.6 publishes (``{"sender_id": ...} | event.as_dict()``,
copied from a real tracker of this bot): what a turn looks like decides what is recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import pytest
import redis
import requests
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio import Redis

from teaching.worker.inbox import MISUNDERSTANDING_REASONS, InboxEventBroker, decode_incoming

ACTION_REJECTED_EVENT = "action_execution_rejected"
from harness.servers import (
    RASA_API_TOKEN, ROOT, VENV_BIN, base_env, free_port, start, stop, wait_until_up,
)

METADATA = {"model_id": "e73f4ae6a29e44d7ac79d6741f3d7190", "assistant_id": "support-assistant"}
NOW = 1_795_345_497.0


# ---- events as Rasa publishes them -------------------------------------------------


class Conversation:
    """Builds one conversation's events in the order the tracker store publishes them."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.clock = NOW

    def _event(self, kind: str, **fields: Any) -> Dict[str, Any]:
        self.clock += 0.01
        return {"sender_id": self.sender, "event": kind, "timestamp": self.clock, "metadata": dict(METADATA), **fields}

    def start(self) -> List[Dict[str, Any]]:
        return [
            self._event("action", name="action_session_start", policy=None, confidence=1.0,
                        action_text=None, hide_rule_turn=False),
            self._event("session_started"),
            self.action("action_listen", policy=None),
        ]

    def user(self, text: str, ranking: List[Tuple[str, float]], faq_key: str = "card_arrival",
             fallback: bool = False, message_id: Optional[str] = None) -> Dict[str, Any]:
        """A user event; ``ranking`` is the classifier's, FallbackClassifier puts nlu_fallback first."""
        message_id = message_id or uuid.uuid4().hex
        intent_ranking = [{"name": name, "confidence": confidence} for name, confidence in ranking]
        if fallback:
            intent_ranking.insert(0, {"name": "nlu_fallback", "confidence": 0.4})
        faq_confidence = next((c for name, c in ranking if name == "faq"), 0.0)
        parse_data = {
            "intent": dict(intent_ranking[0]),
            "entities": [],
            "text": text,
            "message_id": message_id,
            "metadata": {},
            "intent_ranking": intent_ranking,
            "response_selector": {
                "all_retrieval_intents": ["faq"],
                "faq": {
                    "response": {
                        "responses": [{"text": "An answer."}],
                        "confidence": faq_confidence,
                        "intent_response_key": f"faq/{faq_key}",
                        "utter_action": f"utter_faq/{faq_key}",
                    },
                    "ranking": [],
                },
            },
        }
        return self._event("user", text=text, parse_data=parse_data, input_channel="rest",
                           message_id=message_id)

    def action(self, name: str, policy: Optional[str] = "RulePolicy") -> Dict[str, Any]:
        return self._event("action", name=name, policy=policy, confidence=1.0, action_text=None,
                           hide_rule_turn=False)

    def bot(self, text: Optional[str], custom: Optional[Dict[str, Any]] = None,
            buttons: Optional[List[Dict[str, str]]] = None) -> Dict[str, Any]:
        return self._event("bot", text=text, data={"elements": None, "quick_replies": None, "buttons": buttons,
                                                   "attachment": None, "image": None, "custom": custom})

    def slot(self, name: str, value: Any) -> Dict[str, Any]:
        return self._event("slot", name=name, value=value)

    def featurization(self) -> Dict[str, Any]:
        return self._event("user_featurization", use_text_for_featurization=False)

    def answered(self, user: Dict[str, Any], response: str) -> List[Dict[str, Any]]:
        """A turn the bot answered with one response."""
        return [user, self.featurization(), self.action(response), self.bot("An answer."), self.action("action_listen")]

    def handed_over(self, user: Optional[Dict[str, Any]], reason: Optional[str]) -> List[Dict[str, Any]]:
        """A turn where StuckDetectionPolicy ran action_handoff (its payload as actions/handoff.py sends it)."""
        events = [user] if user else []
        events += [
            self.slot("handoff_reason", reason),
            self.slot("handoff_evidence", {"explanation": "the customer asked for a person"}),
            self.featurization(),
            self.action("action_handoff", policy="StuckDetectionPolicy"),
            self.bot("I'll get a person from our support team to help you."),
        ]
        if reason:
            events.append(self.bot(None, custom={"handoff": {"reason": reason, "summary": "Handed over.",
                                                             "topic": None, "topics": [], "turns": [],
                                                             "slots": {}, "evidence": {}}}))
        events += [self.slot("handoff_reason", None), self.slot("handoff_evidence", None),
                   self.slot("action_error", None), self.action("action_listen", policy="StuckDetectionPolicy")]
        return events


# ---- running a broker ----------------------------------------------------------------


def endpoint(redis_url: str, prefix: str, **extra: Any) -> EndpointConfig:
    """The endpoint config as endpoints.yml gives it: env-substituted values are strings."""
    url = urlparse(redis_url)
    settings: Dict[str, Any] = {"port": str(url.port), "db": "0", "password": url.password or "", "key_prefix": prefix,
                                "low_confidence": 0.6, **extra}
    return EndpointConfig(url=url.hostname, type="teaching.worker.inbox.InboxEventBroker", **settings)


def entries(redis_url: str, prefix: str) -> List[Dict[str, Any]]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [json.loads(fields[b"json"]) for _, fields in client.xrange(f"{prefix}:incoming")]
    finally:
        client.close()


def run_broker(redis_url: str, scenario: Callable[[InboxEventBroker], Awaitable[Any]],
               **extra: Any) -> Tuple[str, Any]:
    """Runs ``scenario`` with a broker under a fresh prefix, then closes it (awaiting its writes)."""
    prefix = f"inbox-{uuid.uuid4().hex[:8]}"

    async def main() -> Any:
        broker = await InboxEventBroker.from_endpoint_config(endpoint(redis_url, prefix, **extra))
        assert broker is not None
        try:
            return await scenario(broker)
        finally:
            await broker.close()

    return prefix, asyncio.run(main())


def publish_all(broker: InboxEventBroker, *turns: List[Dict[str, Any]]) -> None:
    for turn in turns:
        for event in turn:
            broker.publish(event)


def record(user: Dict[str, Any], reasons: List[str], intent: Optional[str], confidence: float,
           handoff_reason: Optional[str] = None) -> Dict[str, Any]:
    """The stream entry the spec asks for."""
    return {"text": user["text"], "conversation_id": user["sender_id"], "message_id": user["message_id"],
            "reasons": reasons, "intent": intent, "confidence": confidence, "time": user["timestamp"],
            "handoff_reason": handoff_reason}


# ---- what is recorded ----------------------------------------------------------------------


def test_conversations_that_went_fine_record_nothing(redis_url):
    chat = Conversation("fine")
    greet = chat.user("hello there", [("greet", 0.98), ("faq", 0.01)])
    question = chat.user("my card hasn't arrived", [("faq", 0.93), ("need_help", 0.04)], faq_key="card_arrival")
    yes = chat.user("yes thanks", [("affirm", 0.61), ("thank", 0.3)])  # 0.61: just above 0.6
    button = chat.user("/request_human", [("request_human", 1.0)])
    empty = chat.user("   ", [("nlu_fallback", 0.4)])

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker, chat.start(), chat.answered(greet, "utter_greet"),
                    chat.answered(question, "utter_faq/card_arrival"), chat.answered(yes, "utter_glad"),
                    # a button press that hands over, and an empty message: neither is teachable
                    chat.handed_over(button, "requested"), chat.answered(empty, "action_default_fallback"))
        await broker.flush()
        assert broker.dropped == 0

    prefix, _ = run_broker(redis_url, scenario)
    assert entries(redis_url, prefix) == []


def test_not_understood_and_low_confidence_messages_are_recorded_with_the_best_guess(redis_url):
    chat = Conversation("unsure")
    gibberish = chat.user("blorp", [("faq", 0.332), ("goodbye", 0.25)], faq_key="payment_deferral", fallback=True)
    vague_faq = chat.user("crypto", [("faq", 0.476), ("out_of_scope", 0.273)], faq_key="verify_identity")
    vague = chat.user("is it possible", [("affirm", 0.414), ("need_help", 0.296)])
    edge = chat.user("exactly at the bar", [("need_help", 0.6), ("faq", 0.3)])

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker, chat.start(), chat.answered(gibberish, "utter_default"),
                    chat.answered(vague_faq, "utter_faq/verify_identity"), chat.answered(vague, "utter_glad"),
                    chat.answered(edge, "utter_need_help"))

    prefix, _ = run_broker(redis_url, scenario)
    assert entries(redis_url, prefix) == [
        record(gibberish, ["not_understood"], "faq/payment_deferral", 0.332),
        record(vague_faq, ["low_confidence"], "faq/verify_identity", 0.476),
        record(vague, ["low_confidence"], "affirm", 0.414),
    ]


def test_a_handoff_is_recorded_only_when_the_bot_misunderstood_or_was_unsure(redis_url):
    chat = Conversation("handoff")
    angry = chat.user("this is going nowhere", [("complain", 1.0), ("faq", 0.0)])
    unsure = Conversation("unsure-frustration")
    muddled = unsure.user("this again??", [("complain", 0.45), ("faq", 0.3)])
    repeated = Conversation("repeating")
    again = repeated.user("my card still hasn't come", [("faq", 0.93)])
    other = Conversation("failing-action")
    useless = other.user("this is useless", [("complain", 0.97)])

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker,
                    # frustration read surely and handed over for it: the bot did its job
                    chat.start(), chat.handed_over(angry, "frustration"),
                    unsure.start(), unsure.handed_over(muddled, "frustration"),
                    repeated.start(), repeated.handed_over(again, "customer_repeating"),
                    # action_handoff itself failed: no payload, so no reason
                    other.start(), other.handed_over(useless, None))

    prefix, _ = run_broker(redis_url, scenario)
    assert entries(redis_url, prefix) == [
        record(muddled, ["low_confidence", "handoff"], "complain", 0.45, "frustration"),
        record(again, ["handoff"], "faq/card_arrival", 0.93, "customer_repeating"),
        record(useless, ["handoff"], "complain", 0.97, None),
    ]


def test_answers_to_a_form_are_never_recorded_but_a_question_it_refuses_is(redis_url):
    chat = Conversation("callback")
    ask = chat.user("call me back please", [("request_callback", 0.97)])
    phone = chat.user("07700 900123", [("faq", 0.2), ("inform", 0.1)], fallback=True)
    time_ = chat.user("after 5pm", [("inform", 0.41), ("faq", 0.2)])
    aside = chat.user("wait what", [("faq", 0.2)], fallback=True)

    def in_form(user: Dict[str, Any], slot: str, value: Any) -> List[Dict[str, Any]]:
        return [user, chat.action("action_extract_slots"), chat.slot(slot, value), chat.action("callback_form"),
                chat.bot("And when?"), chat.action("action_listen")]

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker, chat.start(),
                    [ask, chat.action("callback_form"), chat._event("active_loop", name="callback_form"),
                     chat.slot("requested_slot", "callback_phone"), chat.bot("Your number?"),
                     chat.action("action_listen")],
                    in_form(phone, "callback_phone", "07700900123"), in_form(time_, "callback_time", "after 5pm"),
                    # the form refuses what is no answer: the NLU decides, and its fallback is a teaching case
                    [aside, chat._event(ACTION_REJECTED_EVENT, name="callback_form"), chat.action("action_default_fallback"),
                     chat.bot("Sorry?"), chat.action("action_listen")],
                    [chat._event("active_loop", name=None)], chat.answered(chat.user("blorp", [("faq", 0.2)], fallback=True),
                                                                          "action_default_fallback"))

    prefix, _ = run_broker(redis_url, scenario)
    got = entries(redis_url, prefix)
    assert [entry["text"] for entry in got] == ["wait what", "blorp"]
    assert "07700" not in json.dumps(got), "a phone number never reaches content staff"


def test_a_request_for_a_person_understood_and_handed_over_is_not_recorded(redis_url):
    chat = Conversation("asked")
    human = chat.user("human", [("request_human", 0.92), ("bot_challenge", 0.01)])
    again = Conversation("asked-again")
    agent = again.user("agent please", [("request_human", 0.97)])
    unsure = Conversation("unsure-ask")
    vague = unsure.user("can someone else look at it", [("request_human", 0.52), ("need_help", 0.3)])
    misread = Conversation("misread")
    word = misread.user("human resources number", [("request_human", 0.8)])

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker, chat.start(), chat.handed_over(human, "requested"),
                    again.start(), again.handed_over(agent, "requested"),
                    # unsure: the bot guessed right, but a teacher should confirm it
                    unsure.start(), unsure.handed_over(vague, "requested"),
                    # handed over for another reason than the request: worth a look
                    misread.start(), misread.handed_over(word, "customer_repeating"))

    prefix, _ = run_broker(redis_url, scenario)
    assert entries(redis_url, prefix) == [
        record(vague, ["low_confidence", "handoff"], "request_human", 0.52, "requested"),
        record(word, ["handoff"], "request_human", 0.8, "customer_repeating"),
    ]


def test_a_second_fallback_that_leads_to_a_handoff_is_one_entry_with_both_reasons(redis_url):
    chat = Conversation("stuck")
    first = chat.user("lorem ipsum dolor", [("need_help", 0.229)], fallback=True)
    second = chat.user("qwop zlorf", [("faq", 0.31), ("greet", 0.2)], faq_key="fees", fallback=True)

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker, chat.start(), chat.answered(first, "utter_default"),
                    chat.handed_over(second, "repeated_fallback"))

    prefix, _ = run_broker(redis_url, scenario)
    assert entries(redis_url, prefix) == [
        record(first, ["not_understood"], "need_help", 0.229),
        record(second, ["not_understood", "handoff"], "faq/fees", 0.31, "repeated_fallback"),
    ]


def test_turns_of_several_conversations_are_kept_apart_and_an_unfinished_turn_still_counts(redis_url):
    alice, bob = Conversation("alice"), Conversation("bob")
    alice_unsure = alice.user("hmm cards?", [("faq", 0.5)], faq_key="order_card")
    bob_request = bob.user("not again", [("complain", 0.95)])
    alice_next = alice.user("thanks", [("thank", 0.99)])

    async def scenario(broker: InboxEventBroker) -> None:
        # Alice's turn is cut short (no action_listen): her next message finishes it.
        broker.publish(alice_unsure)
        publish_all(broker, bob.handed_over(bob_request, "unresolved"), alice.answered(alice_next, "utter_welcome"))

    prefix, _ = run_broker(redis_url, scenario)
    assert entries(redis_url, prefix) == [
        record(bob_request, ["handoff"], "complain", 0.95, "unresolved"),
        record(alice_unsure, ["low_confidence"], "faq/order_card", 0.5),
    ]


def test_the_memory_of_open_turns_is_bounded(redis_url):
    chats = [Conversation(f"c{n}") for n in range(5)]
    users = [chat.user(f"vague {n}", [("need_help", 0.3)]) for n, chat in enumerate(chats)]

    async def scenario(broker: InboxEventBroker) -> int:
        for user in users:  # five turns left open, room for three
            broker.publish(user)
        remembered = len(broker._turns)
        await broker.flush()
        return remembered

    prefix, remembered = run_broker(redis_url, scenario, max_conversations="3")
    assert remembered == 3
    # the two oldest were finished early, the rest on close; none is lost
    assert [entry["text"] for entry in entries(redis_url, prefix)] == [f"vague {n}" for n in range(5)]


def test_publishing_is_cheap_for_the_events_of_conversations_that_go_fine(redis_url):
    chat = Conversation("busy")
    turns = [chat.answered(chat.user(f"question {n}", [("faq", 0.9)]), "utter_faq/card_arrival")
             for n in range(2000)]

    async def scenario(broker: InboxEventBroker) -> float:
        started = time.perf_counter()
        publish_all(broker, *turns)
        return (time.perf_counter() - started) / (5 * len(turns))

    prefix, seconds_per_event = run_broker(redis_url, scenario)
    assert seconds_per_event < 50e-6, f"{seconds_per_event * 1e6:.1f} µs per event"
    assert entries(redis_url, prefix) == []


def test_settings_arrive_as_strings_from_endpoints_yml(redis_url):
    async def scenario(broker: InboxEventBroker) -> Tuple[float, str, Any]:
        return broker.low_confidence, broker.stream, broker.not_understood_intents

    prefix, (low, stream, not_understood) = run_broker(
        redis_url, scenario, low_confidence="0.45", not_understood_intents="nlu_fallback, out_of_scope"
    )
    assert low == 0.45 and stream == f"{prefix}:incoming"
    assert not_understood == {"nlu_fallback", "out_of_scope"}


def test_an_empty_key_prefix_means_the_default(redis_url):
    async def main() -> str:
        broker = await InboxEventBroker.from_endpoint_config(endpoint(redis_url, ""))
        assert broker is not None
        await broker.close()
        return broker.stream

    assert asyncio.run(main()) == "teach:incoming"


# ---- failures never reach Rasa -------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_a_redis_outage_is_logged_and_never_raised(caplog):
    chat = Conversation("outage")
    caplog.set_level(logging.WARNING, logger="teaching.worker.inbox")

    async def main() -> InboxEventBroker:
        broker = await InboxEventBroker.from_endpoint_config(
            endpoint(f"redis://127.0.0.1:{closed_port()}/0", "outage")
        )
        assert broker is not None and broker.is_ready()
        publish_all(broker, chat.answered(chat.user("blorp", [("faq", 0.3)], fallback=True), "utter_default"))
        await broker.flush()
        broker.publish({"sender_id": "x", "event": "user", "text": "hi", "parse_data": "garbage"})
        await broker.close()
        publish_all(broker, chat.answered(chat.user("after close", [("faq", 0.1)], fallback=True), "utter_default"))
        return broker

    broker = asyncio.run(main())
    assert broker.dropped == 2 and not broker.is_ready()
    assert "Redis is not reachable" in caplog.text
    assert "could not handle event 'user'" in caplog.text  # the malformed event, logged with its traceback


def test_a_failed_write_is_logged_once_per_outage(caplog):
    chat = Conversation("flaky")
    caplog.set_level(logging.DEBUG, logger="teaching.worker.inbox")

    async def main() -> int:
        # Redis was up at start-up and then went away: no start-up warning, so the first failure warns.
        broker = InboxEventBroker(Redis(port=closed_port(), socket_connect_timeout=1), key_prefix="flaky")
        for n in range(3):
            publish_all(broker, chat.answered(chat.user(f"blorp {n}", [("faq", 0.3)], fallback=True),
                                              "utter_default"))
        await broker.flush()
        await broker.close()
        return broker.dropped

    assert asyncio.run(main()) == 3
    failures = [r for r in caplog.records if "could not record" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING, logging.DEBUG, logging.DEBUG]


def test_writes_beyond_the_pending_limit_are_dropped_not_queued(redis_url):
    chat = Conversation("flood")
    users = [chat.user(f"blorp {n}", [("faq", 0.3)], fallback=True) for n in range(5)]

    async def scenario(broker: InboxEventBroker) -> int:
        for user in users:  # no await in between: nothing is written yet
            publish_all(broker, chat.answered(user, "utter_default"))
        return broker.dropped

    prefix, dropped = run_broker(redis_url, scenario, max_pending="2")
    assert dropped == 3
    assert [entry["text"] for entry in entries(redis_url, prefix)] == ["blorp 0", "blorp 1"]


# ---- the worker's side ---------------------------------------------------------------------


def test_decode_incoming_reads_what_the_broker_wrote(redis_url):
    chat = Conversation("decode")
    user = chat.user("blorp", [("faq", 0.3)], faq_key="fees", fallback=True)

    async def scenario(broker: InboxEventBroker) -> None:
        publish_all(broker, chat.answered(user, "utter_default"))

    prefix, _ = run_broker(redis_url, scenario)
    client = redis.Redis.from_url(redis_url)
    [(_, fields)] = client.xrange(f"{prefix}:incoming")
    client.close()
    expected = record(user, ["not_understood"], "faq/fees", 0.3)
    assert decode_incoming(fields) == expected
    assert decode_incoming({"json": fields[b"json"].decode()}) == expected
    assert decode_incoming(json.loads(fields[b"json"])) == expected  # as TeachStore.read_stream parses it


@pytest.mark.parametrize(
    "change, message",
    [
        ({"reasons": []}, "reasons"),
        ({"reasons": ["bored"]}, "reasons"),
        ({"text": ""}, "text"),
        ({"message_id": 7}, "message_id"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": "high"}, "confidence"),
        ({"time": None}, "time"),
        ({"intent": ""}, "intent"),
    ],
)
def test_decode_incoming_refuses_entries_that_break_the_format(change, message):
    good = {"text": "blorp", "conversation_id": "c", "message_id": "m", "reasons": ["handoff", "not_understood"],
            "intent": None, "confidence": 0.0, "time": NOW, "handoff_reason": "requested"}
    assert decode_incoming({b"json": json.dumps(good).encode()})["reasons"] == ["not_understood", "handoff"]
    with pytest.raises(ValueError, match=message):
        decode_incoming({b"json": json.dumps({**good, **change}).encode()})


@pytest.mark.parametrize("fields", [{b"json": b"{not json"}, {b"json": b"[1, 2]"}, {b"other": b"{}"}, None])
def test_decode_incoming_refuses_what_is_not_a_json_object(fields):
    with pytest.raises(ValueError):
        decode_incoming(fields)


# ---- end to end: inside a real Rasa server ----------------------------------------------------

# Messages this bot's model should not understand; the test uses the first one it really falls back on.
GIBBERISH = ["lorem ipsum dolor", "blorp", "flibber jabber wocky", "zorp quux", "asdf jkl"]


def parse(rasa_url: str, text: str) -> Dict[str, Any]:
    response = requests.post(f"{rasa_url}/model/parse", params={"token": RASA_API_TOKEN},
                             json={"text": text}, timeout=30)
    response.raise_for_status()
    return response.json()


def say(rasa_url: str, sender: str, text: str) -> List[Dict[str, Any]]:
    response = requests.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             timeout=60)
    response.raise_for_status()
    return response.json()


def nlu_reasons(parsed: Dict[str, Any]) -> List[str]:
    """The spec's rule, applied to the server's own parse of the message."""
    if parsed["intent"]["name"] == "nlu_fallback":
        return ["not_understood"]
    return ["low_confidence"] if parsed["intent"]["confidence"] < 0.6 else []


ENDPOINTS = """
action_endpoint:
  url: ${ACTION_SERVER_URL}
tracker_store:
  type: bot.tracker_store.WindowedRedisTrackerStore
  url: ${REDIS_HOST}
  port: ${REDIS_PORT}
  db: ${REDIS_DB}
  password: ${REDIS_PASSWORD}
  key_prefix: ${TEACH_KEY_PREFIX}
  record_exp: 3600
event_broker:
  type: teaching.worker.inbox.InboxEventBroker
  url: ${REDIS_HOST}
  port: ${REDIS_PORT}
  db: ${REDIS_DB}
  password: ${REDIS_PASSWORD}
  key_prefix: ${TEACH_KEY_PREFIX}
  low_confidence: 0.6
"""


def test_a_rasa_server_with_the_broker_records_its_conversations(tmp_path: Path, model_path, redis_url,
                                                                 action_server_url):
    prefix = f"inboxe2e{uuid.uuid4().hex[:6]}"  # the tracker store wants an alphanumeric prefix
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(ENDPOINTS)
    port = free_port()
    env = {**base_env(), "ACTION_SERVER_URL": action_server_url, "REDIS_HOST": "127.0.0.1",
           "REDIS_PORT": str(urlparse(redis_url).port), "REDIS_DB": "0",
           "REDIS_PASSWORD": urlparse(redis_url).password or "",  # the test Redis has one, as make run's
           "TEACH_KEY_PREFIX": prefix}
    process, log = start("rasa-inbox", [
        str(VENV_BIN / "rasa"), "run", "--enable-api", f"--auth-token={RASA_API_TOKEN}",
        "--interface", "127.0.0.1", "--port", str(port), "--model", str(model_path),
        "--endpoints", str(endpoints), "--credentials", str(ROOT / "credentials.yml"),
    ], env)
    try:
        rasa_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{rasa_url}/status?token={RASA_API_TOKEN}", process, log)
        gibberish = [text for text in GIBBERISH if parse(rasa_url, text)["intent"]["name"] == "nlu_fallback"]
        assert len(gibberish) >= 2, f"the model understands too much: {GIBBERISH} (pick other gibberish)"

        # "asdfgh qwerty" is typically out_of_scope with high confidence (the bot says it cannot help),
        # not nlu_fallback: then it is not recorded. What is expected follows the server's own parse.
        conversations = {
            "asker": ["asdfgh qwerty", "can I talk to a person"],
            "stuck": gibberish[:2],
            "fine": ["hello there", "my card has not arrived", "yes thanks"],
            # the callback form asks for these: answers to a form are never recorded
            "caller": ["I'd like a callback", "07700 900123", "after 5pm"],
        }
        form_answers = set(conversations["caller"][1:])
        expected = []
        handed_over = {}
        for name, texts in conversations.items():
            sender = f"{name}-{uuid.uuid4().hex[:6]}"
            for text in texts:
                handoffs = [reply["custom"]["handoff"] for reply in say(rasa_url, sender, text)
                            if "handoff" in (reply.get("custom") or {})]
                parsed = parse(rasa_url, text)
                handed_over[text] = [handoff["reason"] for handoff in handoffs]
                reasons = nlu_reasons(parsed) + (["handoff"] if handoffs else [])
                # A handoff alone is a teaching case only when its reason says the bot misunderstood.
                doing_its_job = (reasons == ["handoff"] and handoffs[0]["reason"] not in MISUNDERSTANDING_REASONS
                                 and not (handoffs[0]["reason"] == "requested"
                                          and parsed["intent"]["name"] != "request_human"))
                if reasons and not doing_its_job and text not in form_answers:
                    expected.append((sender, text, reasons, handoffs[0]["reason"] if handoffs else None))

        # The request is understood and handed over: the bot did its job, nothing to teach.
        assert conversations["asker"][1] not in [text for _, text, _, _ in expected]
        assert handed_over[conversations["asker"][1]] == ["requested"]
        deadline = time.monotonic() + 15
        while len(entries(redis_url, prefix)) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # anything extra would have arrived by now
        got = entries(redis_url, prefix)
        assert [(e["conversation_id"], e["text"], e["reasons"], e["handoff_reason"]) for e in got] == expected
        for entry in got:
            assert decode_incoming(entry) == entry and len(entry["message_id"]) == 32
        by_text = {entry["text"]: entry for entry in got}
        assert "can I talk to a person" not in by_text
        assert "not_understood" in by_text[gibberish[0]]["reasons"]
        assert not any(entry["conversation_id"].startswith(("fine-", "caller-")) for entry in got)
        assert nlu_reasons(parse(rasa_url, "07700 900123")), "the phone number alone is no intent the bot knows"
    finally:
        stop(process)
