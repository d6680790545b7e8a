"""A Redis tracker store whose cost per message does not grow with the conversation.

Rasa's RedisTrackerStore keeps a conversation as one JSON document: every
message reads and parses it three times and writes it whole, and every policy
then replays and featurises the entire history, so a conversation's 200th
message took ten times as long as its 10th (bench/turns.py).

This store appends each message's new events to a Redis list, once, and
``retrieve`` (what Rasa handles a message with) returns a window: the current
session's customer turns before the new message, at most ``window_turns - 1``
of them (Rasa works on ``window_turns`` turns with the new one), preceded by
events that restore the state as it stood before them (slot values, the
active form, a paused conversation) and by the slot ``earlier_turns``: what
the stuck detector and the handoff summary still need from the turns cut off
(``Earlier`` in bot/stuck/conversation.py). ``retrieve_full_tracker`` (Rasa's
``GET /conversations/<id>/tracker``, ``/story?all_sessions=true``, exports)
returns every event of every session; Rasa's other endpoints that return a
tracker or a story get the window.

Under a model whose domain has no ``earlier_turns`` slot (a rollback to a model
older than this store) the window stops moving, so nothing it has cut off is
lost, and the stored state's slots that domain does not know, the brief among
them, are kept unchanged for the next model that knows them.

Redis keys, per conversation: ``{key_prefix}:{tracker:<sender>}:events`` (the
events as JSON) and ``{key_prefix}:{tracker:<sender>}:window`` (where the window
starts and the state before it); both expire ``record_exp`` seconds after the
last message, as with Rasa's store. Their shared hash tag (never empty, whatever
the sender id holds) puts them in one Redis Cluster slot, as the script and the
MULTI/EXEC that read and write them both need. A message's events are appended
in one MULTI/EXEC; Rasa's lock store serialises the messages of a conversation,
so several Rasa servers can share one Redis.

Rasa's own RedisTrackerStore keys (``{key_prefix}:tracker:<sender>``) are not
read: conversations in progress when this store is first deployed start afresh
(README "Configuration").

endpoints.yml::

    tracker_store:
      type: bot.tracker_store.WindowedRedisTrackerStore
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      db: ${REDIS_DB}
      password: ${REDIS_PASSWORD}
      key_prefix: support
      record_exp: ${TRACKER_EXPIRY_SECONDS}
      window_turns: 10
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Text, Tuple, Type

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, ConversationPaused, Event, LoopInterrupted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from redis.asyncio import Redis

from bot.rasa_compat import event_from_parameters
from bot.redis_endpoint import as_float, as_int, redis_client
from bot.stuck.conversation import EARLIER_SLOT, conversation_since_last_handoff

__all__ = ["DEFAULT_WINDOW_TURNS", "WindowedRedisTrackerStore"]

logger = logging.getLogger(__name__)

# Customer turns Rasa handles a message with, the message's own included: the
# stuck detector's longest look back (no_resolution: 10 turns) and the handoff
# payload's 10 latest turns fit in it.
DEFAULT_WINDOW_TURNS = 10

# Reads where the window starts and its events in one round trip.
_READ_WINDOW = """
local window = redis.call('GET', KEYS[1])
if not window then return false end
local start = cjson.decode(window)['start']
return {window, redis.call('LRANGE', KEYS[2], start, -1)}
"""


def _event_classes() -> Dict[str, Type[Event]]:
    """Event classes by type name, as Event.resolve_by_type finds them (first match wins)."""
    classes: Dict[str, Type[Event]] = {}
    for event_class in all_subclasses(Event):
        classes.setdefault(event_class.type_name, event_class)
    return classes


class _StoredTracker(DialogueStateTracker):
    """A tracker as the store handed it out: which of its events are stored, and where."""

    def __init__(self, sender_id: Text, slots: Iterable[Any], state_events: int = 0,
                 positions: Sequence[int] = (), end: int = 0,
                 carried_slots: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(sender_id, slots)
        self.state_events = state_events  # leading events that restore the state before the window
        # Where in the stored list each event after those is (an event Rasa cannot read, such
        # as an old TopicSet, is left out of the tracker but keeps its place in the list).
        self.positions = list(positions)
        self.end = end  # the stored list's length as this tracker knows it
        # Slots of the stored state that the domain does not know: kept as they are.
        self.carried_slots = carried_slots or {}

    @property
    def saved(self) -> int:
        """Leading events of this tracker that are stored (or restore the state)."""
        return self.state_events + len(self.positions)


def _turn_starts(events: Sequence[Event]) -> List[int]:
    """Indices at which customer turns begin: the action_listen before each user message."""
    starts = []
    for index, event in enumerate(events):
        if isinstance(event, UserUttered):
            before = events[index - 1] if index else None
            listening = isinstance(before, ActionExecuted) and before.action_name == ACTION_LISTEN_NAME
            starts.append(index - 1 if listening else index)
    return starts


def _is_session_start(event: Event) -> bool:
    """Rasa splits sessions before this event (rasa.shared.core.trackers.get_trackers_for_conversation_sessions)."""
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME


def _window_start(events: Sequence[Event], turns: Optional[int]) -> int:
    """Where the last ``turns`` turns (all with None) of the latest session begin in ``events``."""
    starts = _turn_starts(events)
    turns_start = 0 if turns is None or len(starts) < turns else starts[-turns]
    session_start = next((index for index in range(len(events) - 1, -1, -1) if _is_session_start(events[index])), 0)
    return max(turns_start, session_start)


class WindowedRedisTrackerStore(TrackerStore):
    """Appends events to Redis once; hands Rasa the last turns with the state before them."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        port: Any = None,
        db: Any = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        record_exp: Any = None,
        key_prefix: Optional[Text] = None,
        window_turns: Any = None,
        redis: Optional[Redis] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.redis = redis or redis_client(host, port, db, password)
        expiry = as_float(record_exp, 0.0)
        self.record_exp = int(expiry) if expiry > 0 else None
        self.key_prefix = f"{key_prefix or 'rasa'}:"
        self.window_turns = as_int(window_turns, DEFAULT_WINDOW_TURNS)
        if self.window_turns < 2:
            # With one, the window would hold no customer message before the new one, and Rasa
            # tells that a session expired from the time of the latest it has.
            raise ValueError("window_turns must be at least 2")
        self._classes = _event_classes()
        self._warned_about_domain = False
        self._read_window = self.redis.register_script(_READ_WINDOW)

    # ---- keys ------------------------------------------------------------------

    def _key(self, sender_id: Text, kind: str) -> str:
        """A conversation's key; the hash tag ``{tracker:<sender>}`` puts both in one Cluster slot."""
        return f"{self.key_prefix}{{tracker:{sender_id}}}:{kind}"

    def _events_key(self, sender_id: Text) -> str:
        return self._key(sender_id, "events")

    def _window_key(self, sender_id: Text) -> str:
        return self._key(sender_id, "window")

    async def keys(self) -> Iterable[Text]:
        """The conversations' ids."""
        before, after = self._window_key("*").split("*")
        return [key.decode()[len(before):-len(after)]
                async for key in self.redis.scan_iter(match=f"{before}*{after}")]

    async def exists(self, conversation_id: Text) -> bool:
        return bool(await self.redis.exists(self._window_key(conversation_id)))

    # ---- reading ---------------------------------------------------------------

    def init_tracker(self, sender_id: Text) -> DialogueStateTracker:
        return _StoredTracker(sender_id, self.domain.slots)

    def _event(self, serialised: bytes) -> Optional[Event]:
        parameters = json.loads(serialised)
        event_class = self._classes.get(parameters.get("event"))
        return event_from_parameters(event_class, parameters) if event_class else Event.from_parameters(parameters)

    def _events(self, serialised: Sequence[bytes], first: int) -> Tuple[List[Event], List[int]]:
        """The events Rasa can read of a part of the stored list that begins at index ``first``,
        and the index of each."""
        readable = [(index, event) for index, event in enumerate(map(self._event, serialised), start=first)
                    if event is not None]
        return [event for _, event in readable], [index for index, _ in readable]

    def _known_slots(self) -> Set[str]:
        return {slot.name for slot in self.domain.slots}

    def _state_events(self, state: Optional[Dict[str, Any]], timestamp: float) -> List[Event]:
        """Events that bring a fresh tracker to the state stored before the window."""
        if not state:
            return []
        known = self._known_slots()
        events: List[Event] = [SlotSet(name, value, timestamp=timestamp)
                               for name, value in state.get("slots", {}).items() if name in known]
        if state.get("active_loop"):
            events.append(ActiveLoop(state["active_loop"], timestamp=timestamp))
            if state.get("loop_interrupted"):
                events.append(LoopInterrupted(True, timestamp=timestamp))
        if state.get("paused"):
            events.append(ConversationPaused(timestamp=timestamp))
        return events

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The latest session's last ``window_turns - 1`` turns, after the state as it stood before them."""
        found = await self._read_window(keys=[self._window_key(sender_id), self._events_key(sender_id)])
        if not found:
            return None
        window_json, serialised = found
        window = json.loads(window_json)
        state = window.get("state") or {}
        events, positions = self._events(serialised, window["start"])
        state_events = self._state_events(state, events[0].timestamp if events else 0.0)
        known = self._known_slots()
        carried = {name: value for name, value in state.get("slots", {}).items() if name not in known}
        tracker = _StoredTracker(sender_id, self.domain.slots, len(state_events), positions,
                                 window["start"] + len(serialised), carried)
        return self._replayed(tracker, state_events + events)

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Every event of every session."""
        if not await self.exists(sender_id):
            return None
        serialised = await self.redis.lrange(self._events_key(sender_id), 0, -1)
        events, positions = self._events(serialised, 0)
        return self._replayed(_StoredTracker(sender_id, self.domain.slots, 0, positions, len(serialised)), events)

    @staticmethod
    def _replayed(tracker: _StoredTracker, events: List[Event]) -> _StoredTracker:
        tracker.recreate_from_dialogue(Dialogue(tracker.sender_id, events))
        return tracker

    # ---- writing ---------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the events added since the tracker was retrieved (or last saved); a tracker
        from elsewhere (Rasa's "replace events" API) replaces the stored conversation."""
        events = list(tracker.events)
        if isinstance(tracker, _StoredTracker):
            if len(events) < tracker.saved:
                raise ValueError(
                    f"Conversation {tracker.sender_id!r}: the tracker holds {len(events)} events, fewer than the "
                    f"{tracker.saved} it was retrieved or last saved with; events are only ever added")
            replace, state_events, carried = False, tracker.state_events, tracker.carried_slots
            new_events = events[tracker.saved:]
            end = tracker.end + len(new_events)
            positions = tracker.positions + list(range(tracker.end, end))
        else:
            replace, state_events, carried, new_events = True, 0, {}, events
            end = len(events)
            positions = list(range(end))

        # `events`: the state before the window, then the stored events from the window on, then the new ones.
        stored = events[state_events:]
        moved = _window_start(stored, self._window_turns())
        at_session_start = moved < len(stored) and _is_session_start(stored[moved])
        state = None if at_session_start else self._state_before(events[:state_events + moved], carried)
        window = {"start": positions[moved] if moved < len(positions) else end, "state": state}

        events_key, window_key = self._events_key(tracker.sender_id), self._window_key(tracker.sender_id)
        async with self.redis.pipeline(transaction=True) as pipeline:
            if replace:
                pipeline.delete(events_key)
            if new_events:
                pipeline.rpush(events_key, *(json.dumps(event.as_dict()) for event in new_events))
            pipeline.set(window_key, json.dumps(window), ex=self.record_exp)
            if self.record_exp:
                pipeline.expire(events_key, self.record_exp)
            await pipeline.execute()
        if isinstance(tracker, _StoredTracker):
            tracker.positions, tracker.end = positions, end
        self._stream(tracker.sender_id, new_events)

    def _window_turns(self) -> Optional[int]:
        """Turns kept in the window for the next message; with a model whose domain predates the
        ``earlier_turns`` slot, which carries what the detector needs from before, the window
        stays where it is (None: no turn is cut off)."""
        if EARLIER_SLOT in self._known_slots():
            return self.window_turns - 1
        if not self._warned_about_domain:
            logger.warning("The model's domain has no slot '%s': conversations keep every turn from where "
                           "their window starts until a model with it is deployed", EARLIER_SLOT)
            self._warned_about_domain = True
        return None

    def _stream(self, sender_id: Text, new_events: Sequence[Event]) -> None:
        """The new events, once stored, to the event broker (the teaching inbox). A failed write
        publishes nothing: Rasa's FailSafeTrackerStore then keeps the tracker in memory, and
        that store publishes all of it, as it would in front of Rasa's own stores."""
        if self.event_broker is None:
            return
        for event in new_events:
            self.event_broker.publish({"sender_id": sender_id, **event.as_dict()})

    def _state_before(self, events: Sequence[Event], carried: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """What a window after ``events`` needs restored: slot values (with the earlier turns in
        brief, and the ``carried`` slots the domain does not know), the active form (and whether
        it was interrupted) and a pause."""
        if not events and not carried:
            return None
        tracker = DialogueStateTracker("state", self.domain.slots)
        for event in events:
            tracker.update(event)
        slots = {name: slot.value for name, slot in tracker.slots.items() if slot.value != slot.initial_value}
        if EARLIER_SLOT in tracker.slots:
            earlier = conversation_since_last_handoff(event.as_dict() for event in events).as_earlier()
            if earlier.count:
                slots[EARLIER_SLOT] = earlier.as_dict()
            else:
                slots.pop(EARLIER_SLOT, None)
        interrupted = bool(tracker.active_loop and tracker.active_loop.is_interrupted)
        return {"slots": {**carried, **slots}, "active_loop": tracker.active_loop_name,
                "loop_interrupted": interrupted, "paused": tracker.is_paused()}
