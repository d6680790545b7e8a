"""The teaching inbox's source: a Rasa event broker that records messages worth teaching.

Rasa publishes every event of every conversation to the configured event
broker, on its own event loop, after each turn. This broker keeps only the
customer messages content staff should look at — the bot did not understand
them, was unsure, or handed the conversation to a person right after them —
and appends them to the Redis stream ``{prefix}:incoming`` that the teaching
worker consumes (format: /work/teach-spec.md, "Redis layout").

``publish`` is on the hot path of every conversation, so it decides from the
event alone plus a small per-conversation memory of the current turn's
customer message, and queues the Redis write for one background writer task
(records keep their order; a burst needs one connection): a slow or
unavailable Redis costs the conversations nothing; records are then dropped
and logged, never raised into Rasa.

The inbox holds what the bot really got wrong or was unsure of (docs/teaching.md
"What the inbox records"). A handoff is recorded only when the NLU was unsure of
the message, or the handoff's reason points to a misunderstanding
(``MISUNDERSTANDING_REASONS``), or the customer was handed over as asking for a
person while the NLU read something else: a request for a person understood
with confidence, a frustrated or distressed customer the NLU read surely, is the
bot doing its job. An answer to a form (an active loop asking for a slot, e.g.
the callback form's phone number and time) was handled by the form, not by the
NLU, and is never recorded (nor shown to content staff).

Optional settings: ``handoff_action``
(action_handoff), ``not_understood_intents`` (nlu_fallback; e.g.
"nlu_fallback,out_of_scope" to also collect what the bot declined),
``requested_intents`` (request_human: handed over as asked, not recorded),
``max_conversations`` (10000 open turns remembered), ``max_pending`` (1000
queued records).

endpoints.yml::

    event_broker:
      type: teaching.worker.inbox.InboxEventBroker
      url: ${REDIS_HOST}          # or a redis:// URL
      port: ${REDIS_PORT}
      db: ${REDIS_DB}
      password: ${REDIS_PASSWORD}
      key_prefix: ${TEACH_KEY_PREFIX}
      low_confidence: 0.6
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio import Redis

from bot.evaluation import FALLBACK_INTENT, predicted_label
from bot.redis_endpoint import as_float, as_int, redis_client
from teaching.store import DEFAULT_PREFIX, TeachStore

__all__ = [
    "HANDOFF",
    "InboxEventBroker",
    "LOW_CONFIDENCE",
    "MISUNDERSTANDING_REASONS",
    "NOT_UNDERSTOOD",
    "REASONS",
    "candidate_from_user_event",
    "decode_incoming",
]

logger = logging.getLogger(__name__)

NOT_UNDERSTOOD = "not_understood"
LOW_CONFIDENCE = "low_confidence"
HANDOFF = "handoff"
# Order in which reasons are written (the order they can arise within a turn).
REASONS: Tuple[str, ...] = (NOT_UNDERSTOOD, LOW_CONFIDENCE, HANDOFF)

ACTION_LISTEN = "action_listen"
DEFAULT_LOW_CONFIDENCE = 0.6
DEFAULT_HANDOFF_ACTION = "action_handoff"
DEFAULT_REQUESTED_INTENTS = ("request_human",)
# The handoff reason (actions/handoff.py) of a customer asking for a person.
REQUESTED = "requested"
# Handoff reasons (bot/stuck/detector.py) that say the bot misunderstood: a handoff for them is a teaching case.
MISUNDERSTANDING_REASONS = frozenset({
    "repeated_fallback", "unresolved", "customer_repeating", "bot_repeating", "ping_pong", "no_resolution",
})
# What Rasa publishes when a form refuses the message it was given (the NLU then decides).
ACTION_REJECTED = "action_execution_rejected"
# Conversations whose current turn is remembered; the oldest is finished early beyond this.
DEFAULT_MAX_CONVERSATIONS = 10_000
# Records waiting for Redis; beyond this (Redis down or slow) new ones are dropped.
DEFAULT_MAX_PENDING = 1_000
# A dead Redis must fail a write quickly rather than pile up tasks.
REDIS_TIMEOUT_SECONDS = 2.0
CLOSE_TIMEOUT_SECONDS = 5.0


@dataclass
class _Turn:
    """The current turn's customer message, until the turn ends (action_listen)."""

    candidate: Dict[str, Any]
    parse_data: Dict[str, Any]
    awaiting_handoff_payload: bool = False
    reasons: List[str] = field(default_factory=list)
    # The form active when the message came, and whether it took the message (ran and did not reject it).
    active_loop: Optional[str] = None
    taken_by_form: bool = False


def _as_names(value: Any, default: Iterable[str]) -> Set[str]:
    """A list of names, or one comma-separated string (as an env variable gives it)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return set(default)
    if isinstance(value, str):
        return {name.strip() for name in value.split(",") if name.strip()}
    return {str(name) for name in value}


def _best_guess(parse_data: Mapping[str, Any]) -> Tuple[Optional[str], float]:
    """The classifier's best answer other than nlu_fallback, and its intent's confidence.

    For an FAQ the label is ``faq/<key>`` but the confidence is that of the
    intent ``faq``: the number the fallback and low-confidence thresholds are
    compared with.
    """
    label = predicted_label(dict(parse_data), ignore_fallback=True)
    if not label or label == FALLBACK_INTENT:
        return None, 0.0
    intent = label.split("/", 1)[0]
    for entry in parse_data.get("intent_ranking") or []:
        if entry.get("name") == intent:
            return label, float(entry.get("confidence") or 0.0)
    top = parse_data.get("intent") or {}
    if top.get("name") == intent:
        return label, float(top.get("confidence") or 0.0)
    return label, 0.0


def candidate_from_user_event(
    event: Mapping[str, Any],
    low_confidence: float = DEFAULT_LOW_CONFIDENCE,
    not_understood_intents: Iterable[str] = (FALLBACK_INTENT,),
) -> Optional[Tuple[Dict[str, Any], List[str]]]:
    """The incoming record for a user event and its NLU reasons, or None for button payloads and empty text.

    The reasons may be empty: the message is still remembered in case the bot
    hands over right after it.
    """
    text = event.get("text")
    if not isinstance(text, str) or not text.strip() or text.lstrip().startswith("/"):
        return None
    parse_data = event.get("parse_data") or {}
    top = parse_data.get("intent") or {}
    reasons: List[str] = []
    if top.get("name") in set(not_understood_intents):
        reasons.append(NOT_UNDERSTOOD)
    elif float(top.get("confidence") or 0.0) < low_confidence:
        reasons.append(LOW_CONFIDENCE)
    sender = str(event.get("sender_id") or "")
    timestamp = float(event.get("timestamp") or 0.0)
    message_id = event.get("message_id") or parse_data.get("message_id") or f"{sender}:{timestamp:.6f}"
    candidate: Dict[str, Any] = {
        "text": text,
        "conversation_id": sender,
        "message_id": str(message_id),
        "reasons": [],
        "intent": None,
        "confidence": 0.0,
        "time": timestamp,
        "handoff_reason": None,
    }
    return candidate, reasons


def _handoff_reason(event: Mapping[str, Any]) -> Optional[str]:
    """``data.custom.handoff.reason`` of a bot event (actions/handoff.py sends it), if any."""
    custom = (event.get("data") or {}).get("custom")
    if not isinstance(custom, dict):
        return None
    handoff = custom.get("handoff")
    if not isinstance(handoff, dict):
        return None
    reason = handoff.get("reason")
    return reason if isinstance(reason, str) and reason else None


class InboxEventBroker(EventBroker):
    """Appends not-understood, unsure and handed-over customer messages to ``{prefix}:incoming``."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: str = DEFAULT_PREFIX,
        low_confidence: float = DEFAULT_LOW_CONFIDENCE,
        handoff_action: str = DEFAULT_HANDOFF_ACTION,
        not_understood_intents: Iterable[str] = (FALLBACK_INTENT,),
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        max_pending: int = DEFAULT_MAX_PENDING,
        requested_intents: Iterable[str] = DEFAULT_REQUESTED_INTENTS,
    ) -> None:
        self.redis = redis
        self.store = TeachStore(redis, key_prefix or DEFAULT_PREFIX)
        self.low_confidence = low_confidence
        self.handoff_action = handoff_action
        self.not_understood_intents = frozenset(not_understood_intents)
        self.requested_intents = frozenset(requested_intents)
        self.max_conversations = max_conversations
        self.max_pending = max_pending
        self._turns: "OrderedDict[str, _Turn]" = OrderedDict()
        # Each conversation's active form (active_loop events), bounded like the turns.
        self._loops: "OrderedDict[str, str]" = OrderedDict()
        # Records waiting for Redis; when it is down or slow, new ones are dropped beyond this.
        self._queue: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue(maxsize=max_pending)
        self._writer: Optional["asyncio.Task[None]"] = None
        self._closed = False
        self._failing = False  # log the first failure of an outage loudly, the rest quietly
        self.dropped = 0  # records lost to Redis errors, a full queue or a closed broker

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: EndpointConfig,
        event_loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> Optional["InboxEventBroker"]:
        """One Redis client for the process; Redis being down at start-up is logged, not fatal."""
        if broker_config is None:
            return None
        options = dict(broker_config.kwargs)
        redis = redis_client(
            broker_config.url, options.get("port"), options.get("db"), options.get("password"),
            socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        broker = cls(
            redis,
            key_prefix=str(options.get("key_prefix") or DEFAULT_PREFIX),
            low_confidence=as_float(options.get("low_confidence"), DEFAULT_LOW_CONFIDENCE),
            handoff_action=str(options.get("handoff_action") or DEFAULT_HANDOFF_ACTION),
            not_understood_intents=_as_names(options.get("not_understood_intents"), (FALLBACK_INTENT,)),
            max_conversations=as_int(options.get("max_conversations"), DEFAULT_MAX_CONVERSATIONS),
            max_pending=as_int(options.get("max_pending"), DEFAULT_MAX_PENDING),
            requested_intents=_as_names(options.get("requested_intents"), DEFAULT_REQUESTED_INTENTS),
        )
        try:
            await redis.ping()
            logger.info("Teaching inbox: recording to %s", broker.stream)
        except Exception as error:  # noqa: BLE001 - any failure: the bot must still start
            broker._failing = True
            logger.warning(
                "Teaching inbox: Redis is not reachable (%s); messages are dropped until it is", error
            )
        return broker

    @property
    def stream(self) -> str:
        return self.store.key("incoming")

    def publish(self, event: Dict[str, Any]) -> None:
        """Called by Rasa for every event; never raises and never waits."""
        try:
            self._observe(event)
        except Exception:  # noqa: BLE001 - a bug here must not break conversations
            logger.exception("Teaching inbox: could not handle event %r", event.get("event"))

    def is_ready(self) -> bool:
        """Ready until closed: Redis being down only drops records, it never blocks Rasa."""
        return not self._closed

    async def close(self) -> None:
        """Finishes remembered turns, waits (briefly) for queued writes, closes the client."""
        for sender in list(self._turns):
            self._finish(sender)
        self._closed = True
        await self.flush(CLOSE_TIMEOUT_SECONDS)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self.redis.close()

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until the records queued so far are written or dropped (tests; close)."""
        if self._writer is None or self._writer.done():
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except asyncio.TimeoutError:
            logger.warning("Teaching inbox: %d records not written in time", self._queue.qsize())

    # ---- deciding --------------------------------------------------------------

    def _observe(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        sender = str(event.get("sender_id") or "")
        if kind == "active_loop":
            self._remember_loop(sender, event.get("name"))
        if kind == "user":
            self._finish(sender)  # a turn that never reached action_listen
            self._start(sender, event)
            return
        turn = self._turns.get(sender)
        if turn is None:
            return
        if kind == ACTION_REJECTED and event.get("name") == turn.active_loop:
            turn.taken_by_form = False
        elif kind == "action":
            name = event.get("name")
            if turn.active_loop and name == turn.active_loop:
                turn.taken_by_form = True
            if name == self.handoff_action:
                if HANDOFF not in turn.reasons:
                    turn.reasons.append(HANDOFF)
                turn.awaiting_handoff_payload = True
            elif name == ACTION_LISTEN:
                self._finish(sender)
        elif kind == "bot" and turn.awaiting_handoff_payload:
            reason = _handoff_reason(event)
            if reason:
                turn.candidate["handoff_reason"] = reason
                turn.awaiting_handoff_payload = False
        elif kind in ("restart", "session_started"):
            self._finish(sender)
            self._loops.pop(sender, None)

    def _remember_loop(self, sender: str, name: Any) -> None:
        self._loops.pop(sender, None)
        if isinstance(name, str) and name:
            self._loops[sender] = name
            while len(self._loops) > self.max_conversations:
                self._loops.popitem(last=False)

    def _start(self, sender: str, event: Mapping[str, Any]) -> None:
        made = candidate_from_user_event(event, self.low_confidence, self.not_understood_intents)
        if made is None:
            return
        candidate, reasons = made
        self._turns[sender] = _Turn(candidate, event.get("parse_data") or {}, reasons=reasons,
                                    active_loop=self._loops.get(sender))
        while len(self._turns) > self.max_conversations:
            self._finish(next(iter(self._turns)))

    def _finish(self, sender: str) -> None:
        turn = self._turns.pop(sender, None)
        if turn is None or not turn.reasons or turn.taken_by_form:
            return  # a form's answer (a phone number, a time): the form handled it, not the NLU
        candidate = turn.candidate
        candidate["reasons"] = [reason for reason in REASONS if reason in turn.reasons]
        candidate["intent"], candidate["confidence"] = _best_guess(turn.parse_data)
        if candidate["reasons"] == [HANDOFF] and not self._handoff_to_teach(candidate):
            return
        self._schedule(candidate)

    def _handoff_to_teach(self, candidate: Mapping[str, Any]) -> bool:
        """A handoff after a message the NLU was sure of: a teaching case only when its reason says the
        bot misunderstood, or it was handed over as a request for a person the NLU read as something
        else. A handoff whose payload never came (its action failed) is kept: nobody knows why."""
        reason = candidate["handoff_reason"]
        if reason is None or reason in MISUNDERSTANDING_REASONS:
            return True
        return reason == REQUESTED and candidate["intent"] not in self.requested_intents

    # ---- writing ---------------------------------------------------------------

    def _schedule(self, candidate: Dict[str, Any]) -> None:
        """Queues the record for the one writer task (started on first use, on Rasa's loop)."""
        if self._closed:
            self._drop(candidate, "the broker is closed")
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._drop(candidate, "no running event loop")
            return
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_loop())
        try:
            self._queue.put_nowait(candidate)
        except asyncio.QueueFull:
            self._drop(candidate, f"{self._queue.qsize()} writes are waiting for Redis")

    def _drop(self, candidate: Dict[str, Any], why: str) -> None:
        self.dropped += 1
        log = logger.debug if self._failing else logger.warning
        log("Teaching inbox: dropped message %s: %s", candidate["message_id"], why)

    async def _write_loop(self) -> None:
        """One writer, so records keep their order and a burst uses one connection, not hundreds."""
        while True:
            candidate = await self._queue.get()
            try:
                await self._write(candidate)
            finally:
                self._queue.task_done()

    async def _write(self, candidate: Dict[str, Any]) -> None:
        try:
            await self.store.add_incoming(candidate)
        except Exception as error:  # noqa: BLE001 - logged; Rasa must never see it
            self.dropped += 1
            log = logger.debug if self._failing else logger.warning
            log("Teaching inbox: could not record message %s: %s", candidate["message_id"], error)
            self._failing = True
            return
        if self._failing:
            logger.info("Teaching inbox: Redis is reachable again")
            self._failing = False


# ---- reading (the worker) ----------------------------------------------------------


def _field(fields: Mapping[Any, Any], name: str) -> Any:
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        raise ValueError(f"incoming entry has no {name!r} field")
    return value


def decode_incoming(fields: Any) -> Dict[str, Any]:
    """The record of one ``{prefix}:incoming`` entry, checked and normalised.

    Takes the entry's fields as XREAD returns them (``{b"json": ...}``) or the
    already parsed JSON object (TeachStore.read_stream parses it). Raises
    ValueError for anything that does not follow the format, so the worker can
    acknowledge and skip a bad entry instead of crashing on it.
    """
    if isinstance(fields, Mapping) and ("json" in fields or b"json" in fields):
        raw = _field(fields, "json")
        try:
            value = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"incoming entry is not JSON: {error}") from None
    else:
        value = fields
    if not isinstance(value, dict):
        raise ValueError("incoming entry is not a JSON object")

    def text(name: str, optional: bool = False) -> Optional[str]:
        item = value.get(name)
        if item is None and optional:
            return None
        if not isinstance(item, str) or not item:
            raise ValueError(f"incoming entry: {name!r} must be a non-empty string")
        return item

    def number(name: str) -> float:
        item = value.get(name)
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise ValueError(f"incoming entry: {name!r} must be a number")
        return float(item)

    reasons = value.get("reasons")
    if (
        not isinstance(reasons, list)
        or not reasons
        or any(not isinstance(reason, str) or reason not in REASONS for reason in reasons)
    ):
        raise ValueError(f"incoming entry: 'reasons' must be a non-empty list of {', '.join(REASONS)}")
    confidence = number("confidence")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("incoming entry: 'confidence' must be between 0 and 1")
    return {
        "text": text("text"),
        "conversation_id": text("conversation_id"),
        "message_id": text("message_id"),
        "reasons": [reason for reason in REASONS if reason in reasons],
        "intent": text("intent", optional=True),
        "confidence": confidence,
        "time": number("time"),
        "handoff_reason": text("handoff_reason", optional=True),
    }
