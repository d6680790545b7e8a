"""WindowedRedisTrackerStore against a real redis-server, with the project's domain.yml and config.yml.

Conversations are played as Rasa's processor plays a message: retrieve the
tracker (or create it), add the turn's events, save it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import pytest
import redis
import yaml
from rasa.core.actions.action import ActionSessionStart
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import RuleStep
from rasa_sdk import Tracker
from redis.asyncio import Redis
from redis.crc import key_slot

from actions.summary import handoff_payload
from bot.stuck.conversation import EARLIER_SLOT, conversation_since_last_handoff
from bot.stuck.policy import StuckDetectionPolicy
from bot.tracker_store import WindowedRedisTrackerStore
from harness.servers import ROOT, RedisServer, running_redis
from tests.conftest import fresh_prefix
from tests.test_stuck_policy import configured

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
SENDER = "customer-1"


class Recorder(EventBroker):
    """Keeps what the store publishes (the real broker, the teaching inbox, has its own tests)."""

    def __init__(self) -> None:
        self.published: List[Dict[str, Any]] = []

    def publish(self, event: Dict[str, Any]) -> None:
        self.published.append(event)


def session_start() -> List[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def parse(text: str, intent: str, topic: Optional[str] = None) -> Dict[str, Any]:
    data: Dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": []}
    if topic:
        data["response_selector"] = {"faq": {"response": {"intent_response_key": f"faq/{topic}"}}}
    return data


def said(text: str, intent: str, response: str, *also: Event) -> List[Event]:
    """A customer message and the bot's one reply, as the processor logs them."""
    return [UserUttered(text, parse(text, intent)["intent"], parse_data=parse(text, intent)),
            ActionExecuted(response), BotUttered(text=f"({response})", metadata={"utter_action": response}),
            *also, ActionExecuted("action_listen")]


def asked(text: str, topic: str) -> List[Event]:
    """An FAQ question, its answer and "did that help?"."""
    data = parse(text, "faq", topic)
    return [UserUttered(text, data["intent"], parse_data=data),
            ActionExecuted("utter_faq"), BotUttered(text=f"({topic})", metadata={"utter_action": f"utter_faq/{topic}"}),
            ActionExecuted("utter_did_that_help"),
            BotUttered(text="Did that help?", metadata={"utter_action": "utter_did_that_help"}),
            ActionExecuted("action_listen")]


def thanks(number: int) -> List[Event]:
    return said(f"thanks {number}", "thank", "utter_you_are_welcome")


def store_of(client: Redis, prefix: str, **settings: Any) -> WindowedRedisTrackerStore:
    return WindowedRedisTrackerStore(DOMAIN, redis=client, key_prefix=prefix, **settings)


async def play(store: WindowedRedisTrackerStore, messages: List[List[Event]],
               sender: str = SENDER) -> List[Event]:
    """Each message as the processor handles it; returns every event played, in order."""
    played: List[Event] = []
    for events in messages:
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        for event in events:
            tracker.update(event, DOMAIN)
        played += events
        await store.save(tracker)
    return played


def with_prefix(redis_url: str, test: Any) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "trackers") as (client, prefix):
            return await test(client, prefix)
    return asyncio.run(main())


def dicts(events: List[Event]) -> List[Dict[str, Any]]:
    return [event.as_dict() for event in events]


def texts(events: List[Event]) -> List[str]:
    return [event.text or "" for event in events if isinstance(event, UserUttered)]


# ---- what is stored and what Rasa gets ------------------------------------------------------------------


def test_rasa_gets_the_last_turns_after_the_state_before_them_and_every_event_is_stored_once(redis_url):
    form = [ActiveLoop("callback_form"), SlotSet("requested_slot", "callback_phone")]
    messages = [session_start(), asked("my card is late", "card_arrival"), thanks(1),
                said("call me back", "request_callback", "callback_form", *form),
                said("0123 456", "nlu_fallback", "callback_form", SlotSet("callback_phone", "0123 456")),
                *[thanks(n) for n in range(2, 12)]]

    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        played = await play(store, messages)

        tracker = await store.retrieve(SENDER)
        full = await store.retrieve_full_tracker(SENDER)

        assert tracker is not None and full is not None
        # The window: from the action_listen before the 9th last message on (the next one makes 10).
        first = [index for index, event in enumerate(played) if isinstance(event, UserUttered)][-9] - 1
        window = played[first:]
        state = list(tracker.events)[: len(tracker.events) - len(window)]
        assert dicts(list(tracker.events)[len(state):]) == dicts(window)
        assert texts(list(tracker.events)) == [f"thanks {n}" for n in range(3, 12)]
        assert {(event.key, type(event.value).__name__) for event in state if isinstance(event, SlotSet)} == {
            ("callback_phone", "str"), ("requested_slot", "str"), (EARLIER_SLOT, "dict")}
        assert [event for event in state if not isinstance(event, SlotSet)] == [ActiveLoop("callback_form")]
        assert tracker.get_slot("callback_phone") == "0123 456"
        assert tracker.active_loop_name == "callback_form"
        assert tracker.get_slot(EARLIER_SLOT)["count"] == 5
        assert dicts(list(full.events)) == dicts(played)
        assert await client.llen(f"{prefix}:{{tracker:{SENDER}}}:events") == len(played)
        assert list(await store.keys()) == [SENDER]
        assert await store.exists(SENDER) and not await store.exists("someone-else")

    with_prefix(redis_url, test)


def test_the_event_broker_gets_each_new_event_once(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        recorder = Recorder()
        played = await play(store_of(client, prefix, event_broker=recorder),
                            [session_start(), *[thanks(n) for n in range(15)]])

        assert recorder.published == [{"sender_id": SENDER, **event.as_dict()} for event in played]

    with_prefix(redis_url, test)


def test_a_write_that_fails_publishes_nothing_and_its_retry_publishes_each_event_once(tmp_path):
    """Events reach the broker only once stored (Rasa's FailSafeTrackerStore publishes a tracker it
    could not store from its in-memory fallback: published before, they would reach it twice)."""
    async def test(server: RedisServer) -> None:
        client = Redis.from_url(server.url)
        recorder = Recorder()
        store = store_of(client, "down", event_broker=recorder)
        played = await play(store, [session_start(), thanks(1)])
        tracker = await store.get_or_create_tracker(SENDER, append_action_listen=False)
        message = thanks(2)
        for event in message:
            tracker.update(event, DOMAIN)

        server.stop()
        with pytest.raises(redis.ConnectionError):
            await store.save(tracker)
        assert recorder.published == [{"sender_id": SENDER, **event.as_dict()} for event in played]

        server.start()
        await store.save(tracker)
        played += message
        full = await store.retrieve_full_tracker(SENDER)
        assert recorder.published == [{"sender_id": SENDER, **event.as_dict()} for event in played]
        assert full is not None and dicts(list(full.events)) == dicts(played)
        await client.close()

    with running_redis("tracker-store-down", tmp_path) as server:
        asyncio.run(test(server))


def test_a_tracker_saved_again_stores_only_what_came_since(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        # As for a new conversation: Rasa saves the new tracker, then again after the message.
        tracker = await store.get_or_create_tracker(SENDER, append_action_listen=True)
        for event in thanks(1):
            tracker.update(event, DOMAIN)
        await store.save(tracker)
        await store.save(tracker)

        full = await store.retrieve_full_tracker(SENDER)
        assert full is not None and dicts(list(full.events)) == dicts(list(tracker.events))
        assert [event.type_name for event in full.events] == ["action", "user", "action", "bot", "action"]

    with_prefix(redis_url, test)


def test_a_tracker_with_fewer_events_than_it_was_retrieved_with_is_refused(redis_url):
    """Events are only ever added: such a tracker is a bug, and storing it would lose the conversation."""
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        played = await play(store, [session_start(), *[thanks(n) for n in range(12)]])
        tracker = await store.retrieve(SENDER)
        assert tracker is not None
        tracker.events.pop()

        with pytest.raises(ValueError, match="fewer than the"):
            await store.save(tracker)

        full = await store.retrieve_full_tracker(SENDER)
        assert full is not None and dicts(list(full.events)) == dicts(played)

    with_prefix(redis_url, test)


def test_events_rasa_cannot_read_keep_their_place_so_the_window_starts_where_it_should(redis_url):
    """Rasa drops an old TopicSet event when it reads one; the window's start must still point at
    the list index of the turn it begins with."""
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix, window_turns="3")
        played = await play(store, [session_start(), thanks(0), thanks(1)])
        events_key = f"{prefix}:{{tracker:{SENDER}}}:events"
        topic_set = json.dumps({"event": "topic", "topic": "cards", "timestamp": time.time()})
        await client.rpush(events_key, topic_set, topic_set)
        for number in range(2, 6):
            played += await play(store, [thanks(number)])

            tracker = await store.retrieve(SENDER)

            assert tracker is not None
            # The last 2 turns from the action_listen before the first of them, after the state alone.
            first = [index for index, event in enumerate(played) if isinstance(event, UserUttered)][-2] - 1
            events = list(tracker.events)
            assert dicts(events[len(events) - len(played[first:]):]) == dicts(played[first:])
            assert all(isinstance(event, SlotSet) for event in events[:len(events) - len(played[first:])])

        full = await store.retrieve_full_tracker(SENDER)
        assert full is not None and dicts(list(full.events)) == dicts(played)
        assert await client.llen(events_key) == len(played) + 2

    with_prefix(redis_url, test)


def test_a_conversations_keys_share_one_redis_cluster_hash_slot_whatever_its_id(redis_url):
    """The read script and the MULTI/EXEC use both keys, which Redis Cluster allows in one slot only."""
    senders = ["customer-1", "}starts-with-a-brace", "{tagged}", "a}b{c", ""]

    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        for sender in senders:
            await play(store, [session_start(), thanks(1)], sender=sender)

        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        assert sorted(await store.keys()) == sorted(senders)
        assert len(keys) == 2 * len(senders)
        for sender in senders:
            slots = {key_slot(key) for key in keys if key.decode().startswith(f"{prefix}:{{tracker:{sender}}}:")}
            assert len(slots) == 1, sender

    with_prefix(redis_url, test)


def test_replicas_sharing_redis_continue_each_others_conversations(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        other_client = Redis.from_url(redis_url)
        replicas = [store_of(client, prefix), store_of(other_client, prefix)]
        messages = [session_start(), *[asked(f"question {n}", f"topic_{n}") for n in range(13)]]
        played: List[Event] = []
        for number, message in enumerate(messages):
            played += await play(replicas[number % 2], [message])

        for replica in replicas:
            full = await replica.retrieve_full_tracker(SENDER)
            window = await replica.retrieve(SENDER)
            assert full is not None and window is not None
            assert dicts(list(full.events)) == dicts(played)
            assert texts(list(window.events)) == [f"question {n}" for n in range(4, 13)]
        await other_client.close()

    with_prefix(redis_url, test)


def test_conversations_expire_after_their_last_message_as_with_rasas_store(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix, record_exp="60")  # as endpoints.yml substitutes it
        keys = [f"{prefix}:{{tracker:{SENDER}}}:events", f"{prefix}:{{tracker:{SENDER}}}:window"]
        await play(store, [session_start(), thanks(1)])
        assert [0 < await client.ttl(key) <= 60 for key in keys] == [True, True]

        for key in keys:
            await client.expire(key, 5)
        await play(store, [thanks(2)])
        assert [55 < await client.ttl(key) <= 60 for key in keys] == [True, True]

        unexpiring = store_of(client, f"{prefix}-kept", record_exp="")
        await play(unexpiring, [session_start()])
        kept = [f"{prefix}-kept:{{tracker:{SENDER}}}:window", f"{prefix}-kept:{{tracker:{SENDER}}}:events"]
        assert await client.ttl(kept[0]) == -1
        await client.delete(*kept)

    with_prefix(redis_url, test)


def test_a_new_session_starts_the_window_without_the_old_sessions_turns(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        await play(store, [session_start(), asked("my card is late", "card_arrival"),
                           said("0123", "nlu_fallback", "utter_default", SlotSet("callback_phone", "0123")),
                           *[thanks(n) for n in range(12)]])
        tracker = await store.retrieve(SENDER)
        assert tracker is not None and tracker.get_slot(EARLIER_SLOT)["count"] == 5
        # What Rasa does when the session expired: slots are carried over, the earlier turns' brief too.
        restarted = [ActionExecuted("action_session_start"),
                     *await ActionSessionStart().run(None, None, tracker, DOMAIN)]  # type: ignore[arg-type]
        assert SlotSet(EARLIER_SLOT, tracker.get_slot(EARLIER_SLOT)) in restarted
        await play(store, [restarted, thanks(20)])

        tracker = await store.retrieve(SENDER)

        assert tracker is not None
        assert dicts(list(tracker.events))[0] == ActionExecuted("action_session_start").as_dict() | {
            "timestamp": tracker.events[0].timestamp}
        assert tracker.get_slot("callback_phone") == "0123"
        conversation = conversation_since_last_handoff(event.as_dict() for event in tracker.events)
        assert (conversation.earlier.count, texts(list(tracker.events))) == (0, ["thanks 20"])

    with_prefix(redis_url, test)


def test_a_replaced_tracker_replaces_the_stored_conversation(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        await play(store, [session_start(), *[thanks(n) for n in range(12)]])
        replacement = session_start() + thanks(99)

        # Rasa's PUT /conversations/<id>/tracker/events saves a tracker it built itself.
        await store.save(DialogueStateTracker.from_events(SENDER, replacement, slots=DOMAIN.slots))

        full = await store.retrieve_full_tracker(SENDER)
        window = await store.retrieve(SENDER)
        assert full is not None and window is not None
        assert dicts(list(full.events)) == dicts(replacement) == dicts(list(window.events))

    with_prefix(redis_url, test)


def domain_without(*slots: str) -> Domain:
    """The project's domain without these slots, as an older model's."""
    return Domain.from_dict({**DOMAIN.as_dict(), "slots": {
        name: slot for name, slot in DOMAIN.as_dict()["slots"].items() if name not in slots}})


def test_a_model_whose_domain_has_no_earlier_turns_slot_gets_whole_sessions(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        store.domain = domain_without(EARLIER_SLOT)
        played = await play(store, [session_start(), *[thanks(n) for n in range(12)]])

        tracker = await store.retrieve(SENDER)

        assert tracker is not None and dicts(list(tracker.events)) == dicts(played)

    with_prefix(redis_url, test)


def test_a_rollback_to_a_model_without_earlier_turns_and_forward_again_keeps_the_brief(redis_url):
    """Under the older model the window stops moving, and the slots its domain lacks (the brief, and
    here also callback_phone) are kept as they were for the next model that knows them."""
    messages = [session_start(), said("0123", "nlu_fallback", "utter_default", SlotSet("callback_phone", "0123")),
                *[thanks(n) for n in range(15)]]

    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        played = await play(store, messages)
        store.domain = domain_without(EARLIER_SLOT, "callback_phone")  # rolled back
        played += await play(store, [thanks(15)])
        under_older_model = await store.retrieve(SENDER)
        store.domain = DOMAIN  # rolled forward
        played += await play(store, [thanks(16)])

        tracker = await store.retrieve(SENDER)
        assert tracker is not None and under_older_model is not None
        assert texts(list(under_older_model.events)) == [f"thanks {n}" for n in range(6, 16)]
        assert texts(list(tracker.events)) == [f"thanks {n}" for n in range(8, 17)]
        assert tracker.get_slot("callback_phone") == "0123"
        window = conversation_since_last_handoff(event.as_dict() for event in tracker.events)
        whole = conversation_since_last_handoff(event.as_dict() for event in played)
        assert (window.earlier.count, window.count) == (9, 18)
        assert window.as_earlier().as_dict() == whole.as_earlier().as_dict()

    with_prefix(redis_url, test)


def test_nothing_is_stored_for_an_unknown_conversation(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix)
        assert (await store.retrieve("nobody"), await store.retrieve_full_tracker("nobody")) == (None, None)

    with_prefix(redis_url, test)


def test_settings_arrive_as_strings_from_endpoints_yml(redis_url):
    url = urlparse(redis_url)  # the test Redis has a password, as make run's
    host, port = url.hostname, str(url.port)
    store = WindowedRedisTrackerStore(DOMAIN, host=host, port=port, db="0", password=url.password, record_exp="3600",
                                      key_prefix="support", window_turns="12")

    assert (store.record_exp, store.window_turns, store.key_prefix) == (3600, 12, "support:")
    # One turn would leave no customer message before the new one: Rasa could not tell a session expired.
    for too_few in ("1", "0"):
        with pytest.raises(ValueError, match="window_turns must be at least 2"):
            WindowedRedisTrackerStore(DOMAIN, host=host, port=port, window_turns=too_few)
    assert WindowedRedisTrackerStore(DOMAIN, host=host, port=port, window_turns="2").window_turns == 2


def test_with_the_smallest_window_rasa_still_sees_the_latest_customer_message(redis_url):
    async def test(client: Redis, prefix: str) -> None:
        store = store_of(client, prefix, window_turns="2")
        await play(store, [session_start(), *[thanks(n) for n in range(4)]])

        tracker = await store.retrieve(SENDER)

        assert tracker is not None and texts(list(tracker.events)) == ["thanks 3"]
        assert tracker.get_last_event_for(UserUttered) is not None  # what _has_session_expired reads

    with_prefix(redis_url, test)


def test_memoization_never_takes_a_window_for_the_start_of_a_conversation():
    """MemoizationPolicy keeps Rasa's default max_history (none): it recalls a training story only
    from a conversation's start, and Rasa hands it a window of window_turns customer turns (the
    new message's included), so a story that long could match where the whole conversation would
    not. Setting max_history instead would change its predictions in short conversations too."""
    policies = yaml.safe_load((ROOT / "config.yml").read_text())["policies"]
    memoization = next(policy for policy in policies if policy["name"] == "MemoizationPolicy")
    window_turns = yaml.safe_load((ROOT / "endpoints.yml").read_text())["tracker_store"]["window_turns"]
    stories = [step for path in sorted((ROOT / "data").rglob("*.yml"))
               for step in YAMLStoryReader().read_from_file(path) if not isinstance(step, RuleStep)]

    longest = max(sum(isinstance(event, UserUttered) for event in story.events) for story in stories)

    assert "max_history" not in memoization
    assert longest < window_turns


# ---- the stuck detector and the handoff summary see the whole conversation -------------------------------


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> StuckDetectionPolicy:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    return StuckDetectionPolicy.create(configured(), LocalModelStorage(tmp_path_factory.mktemp("policy")),
                                       Resource("stuck"), ExecutionContext(GraphSchema({})))


def decided(policy: StuckDetectionPolicy, tracker: DialogueStateTracker) -> Tuple[List[float], List[Event]]:
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    return list(prediction.probabilities), list(prediction.optional_events)


def payload(tracker: DialogueStateTracker, reason: str, evidence: Dict[str, Any]) -> Dict[str, Any]:
    """The handoff payload as the action server builds it from the tracker Rasa sends."""
    return handoff_payload(Tracker.from_dict(tracker.current_state(EventVerbosity.ALL)), reason, evidence)


async def compare_with_whole(policy: StuckDetectionPolicy, store: WindowedRedisTrackerStore,
                             messages: List[List[Event]]) -> Dict[str, Any]:
    """Plays the messages; on each, the policy decides on the store's tracker and on the whole
    conversation alike. Returns the evidence of the handoff the last message leads to."""
    played: List[Event] = []
    evidence: Dict[str, Any] = {}
    for number, events in enumerate(messages, start=1):
        tracker = await store.get_or_create_tracker(SENDER, append_action_listen=False)
        message, reply = events[:1], events[1:]
        for event in message:
            tracker.update(event, DOMAIN)
        whole = DialogueStateTracker.from_events(SENDER, played + message, slots=DOMAIN.slots)
        decision = decided(policy, tracker)
        assert decision == decided(policy, whole), f"message {number}"
        if decision[1]:
            assert number == len(messages), f"handed over at message {number}"
            reason, evidence = decision[1][0].value, decision[1][1].value
            assert payload(tracker, reason, evidence) == payload(whole, reason, evidence)
        for event in reply:
            tracker.update(event, DOMAIN)
        played += events
        await store.save(tracker)
    return evidence


def test_the_third_same_answer_far_apart_is_caught_and_cited_as_in_the_whole_conversation(redis_url, policy):
    topics = ["top_up", "fees", "exchange_rate", "order_card", "change_pin", "charged_twice"]
    messages = [session_start(), said("hi", "greet", "utter_greet"), asked("my card is late", "card_arrival")]
    for round_number in range(2):
        for topic in topics:
            messages += [asked(f"{topic} {round_number}?", topic), thanks(len(messages))]
        if round_number == 0:
            messages += [asked("where is my card", "card_arrival"), thanks(len(messages))]
    messages.append(asked("has my card been posted", "card_arrival"))

    async def test(client: Redis, prefix: str) -> Dict[str, Any]:
        return await compare_with_whole(policy, store_of(client, prefix), messages)

    evidence = with_prefix(redis_url, test)

    assert evidence["times_sent"] == 2
    assert [turn["turn"] for turn in evidence["turns"]] == [2, 15, 29]


def test_no_after_an_answer_long_ago_is_caught_and_cited_as_in_the_whole_conversation(redis_url, policy):
    messages = [session_start(), asked("my card is late", "card_arrival")]
    messages += [said(f"bye {n}", "goodbye", "utter_goodbye") if n % 2 else thanks(n) for n in range(12)]
    messages.append(said("that still did not help", "not_helped", "action_handoff"))

    async def test(client: Redis, prefix: str) -> Dict[str, Any]:
        return await compare_with_whole(policy, store_of(client, prefix), messages)

    evidence = with_prefix(redis_url, test)

    assert [turn["turn"] for turn in evidence["turns"]] == [1, 14]
