"""The conversation state machine, sans I/O.

A conversation is in one of four states (:class:`State`) and moves so::

    bot    -> queued   the bot's reply carries ``custom.handoff``, the customer
                       presses "talk to a person" (with the bot's payload, asked
                       for first), or the bot does not answer
    queued -> agent    an agent claims it (one agent wins)
    queued -> bot      the customer leaves a callback request or a message instead,
                       leaves the queue (no longer needs a person), or has gone (no
                       connection) for longer than the bridge waits
    agent  -> agent    transferred to another agent
    agent  -> queued   transferred to a skill group, or the agent stayed away past
                       the grace period: back to the front of the queue
    agent  -> bot      the agent hands back to the bot
    agent  -> closed   the agent closes; the customer is asked for a rating

A closed conversation stays as it ended: its outcome, labels, rating and
mail are its own. The customer may still rate it, ask for its transcript or
leave a request in it, but what they write next is refused
(:class:`~handoff.exceptions.ConversationClosed`): it starts a new
conversation, which the client opens, as the widget does. "Talk to a person"
is refused here (:func:`apply`); a message or a file is refused by the one
step that would store it (handoff.store's append reads the state in that
step, so nothing slips in as the chat closes), and so never reaches
:func:`apply` as :class:`CustomerSaid`.

A callback booked with the bot, or a callback or message the customer leaves
instead of waiting, changes no more than that: it is stored for the agents
with the handoff payload it stands for (:class:`StoreRequest`).

:func:`apply` takes the conversation as it is and one event, and returns the
conversation as it becomes plus the effects to carry out (ask the bot, queue,
tell someone). It never touches a socket or Redis, so every rule here is
tested without them; :mod:`handoff.rules` says what follows (the notices, the
announcements, how the queue moves) and :mod:`handoff.service` stores the
result with all of that in one atomic step, then carries out the rest.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple, Union

from handoff.exceptions import AlreadyClaimed, ConversationClosed, InvalidTransition
from handoff.routing import DEFAULT_GROUP

__all__ = [
    "AgentClaimed", "AgentLost", "AskBot", "AskRating", "BotAnswered", "Closed", "Conversation",
    "CustomerAskedForPerson", "CustomerGone", "CustomerLeftQueue", "CustomerLeftRequest", "CustomerRated",
    "CustomerSaid", "DISTRESS",
    "Effect", "Enqueue", "Event", "HandedBack", "Notice", "Notify", "State", "StoreRating", "StoreRequest", "Transferred",
    "CLOSED_TO_CUSTOMER", "apply", "bridge_handoff", "handoff_in", "wants_out_of_queue", "would_queue",
]


class State(str, enum.Enum):
    BOT = "bot"
    QUEUED = "queued"
    AGENT = "agent"
    CLOSED = "closed"


@dataclass(frozen=True)
class Conversation:
    id: str
    state: State = State.BOT
    agent: Optional[str] = None
    reason: Optional[str] = None
    handoff: Dict[str, Any] = field(default_factory=dict)
    group: str = "general"
    # The customer rated the chat that was closed last: one rating per close.
    rated: bool = False
    # Incremented on every stored change: the store refuses a stale write.
    version: int = 0


# ---- events -----------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSaid:
    text: str
    # The state when the message was stored (bot, queued or agent: never closed, the store
    # refuses that): what was said to a person stays with people, even if the bot has the
    # conversation back by now.
    said_in: State


@dataclass(frozen=True)
class BotAnswered:
    messages: Tuple[Dict[str, Any], ...]
    # The skill group a handoff in these messages goes to (handoff.routing).
    group: str = "general"


@dataclass(frozen=True)
class CustomerAskedForPerson:
    """The "talk to a person" button. ``handoff`` is the bot's payload for it (the bridge asks the
    bot first, when :func:`would_queue`); None when the bot did not answer."""

    group: str = "general"
    handoff: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class CustomerLeftRequest:
    """Instead of waiting, the customer asked for a callback or left a message."""

    kind: str


@dataclass(frozen=True)
class CustomerGone:
    """A queued customer has had no connection for longer than the bridge keeps a place for."""


@dataclass(frozen=True)
class CustomerLeftQueue:
    """The customer no longer needs a person: out of the queue, back to the bot."""


@dataclass(frozen=True)
class Transferred:
    agent: str
    to_agent: Optional[str] = None
    to_group: Optional[str] = None
    # The bot's payload brought up to date with what the customer wrote to people since the handoff
    # (docs/handoff-payload.md); None keeps the one it was handed over with.
    handoff: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class AgentClaimed:
    agent: str


@dataclass(frozen=True)
class HandedBack:
    agent: str


@dataclass(frozen=True)
class Closed:
    agent: str


@dataclass(frozen=True)
class AgentLost:
    """The agent's connection did not come back within the grace period."""

    agent: str


@dataclass(frozen=True)
class CustomerRated:
    score: int
    comment: str = ""


Event = Union[
    CustomerSaid, BotAnswered, CustomerAskedForPerson, CustomerLeftRequest, CustomerLeftQueue, CustomerGone,
    AgentClaimed,
    Transferred, HandedBack, Closed, AgentLost, CustomerRated,
]

# ---- effects ----------------------------------------------------------------


@dataclass(frozen=True)
class AskBot:
    text: str


@dataclass(frozen=True)
class Enqueue:
    reason: str
    # Front of the queue: the customer already waited once (agent lost).
    front: bool = False
    # A new handoff for distress: ahead of the group's others, behind earlier distress handoffs (not a requeue).
    priority: bool = False


@dataclass(frozen=True)
class Notify:
    """A system notice for the customer (``kind`` is stable, ``text`` is shown)."""

    kind: str
    text: str


@dataclass(frozen=True)
class AskRating:
    pass


@dataclass(frozen=True)
class StoreRequest:
    """Keep the callback request or message for the agents, with the context of the handoff it
    stands for: the queued conversation's payload, or None when the bot had the conversation
    (then the bot is asked for its summary)."""

    kind: str
    handoff: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class StoreRating:
    score: int
    comment: str


Effect = Union[AskBot, Enqueue, Notify, AskRating, StoreRating, StoreRequest]


@dataclass(frozen=True)
class Notice:
    """A system message as stored for the customer (handoff.rules.notices makes them from the effects):
    ``key`` makes it stored once, ``data`` carries ``notice``. Those that follow a state change are
    stored by the same script as the change (handoff.store.Store.commit)."""

    key: str
    text: str
    data: Dict[str, Any] = field(default_factory=dict)

MAX_COMMENT = 1000
DISTRESS = "distress"  # the stuck detector's reason (docs/handoff-payload.md)
LEFT_QUEUE = "You've left the queue. The assistant is here if you need anything."
# Why a customer's next words to a closed chat are refused: "talk to a person" by apply, a message or file by the
# store's append, in the step that would store it (the module's docstring).
CLOSED_TO_CUSTOMER = "this chat is closed; start a new conversation to write again"
# What the customer did, for the bridge's one line (the bot's own words: actions/summary.py).
BRIDGE_SOURCES = {
    "button": 'pressed "Talk to a person"',
    "callback": "asked to be called back instead of waiting",
    "message": "left a message instead of waiting",
}


# A queued customer's words that clearly mean they no longer need a person: they are offered the way out
# (leave_queue), never taken out by a guess, and the words still go to the person (never to the bot).
# Phrases that may start a question for the person ("that's all I know about the charge", "forget it? no")
# count only as the whole message, with a polite lead ("no thanks, ...") and close (", bye") around them.
_LEAD = r"(?:(?:no|nope|ok|okay|oh|actually|well|thanks|thank you|no thanks|no thank you)\W+)*"
_CLOSING = r"(?:that'?s|that is) (?:all|it)|forget (?:it|about it)|nothing else"
_CLOSE = r"(?:\W+(?:thanks|thank you|then|for now|after all|bye|goodbye|cheers))*"
NEVER_MIND = re.compile(
    r"\bnever ?mind\b|\b(don'?t|do not|no longer) need (a |the |to talk to a |to speak to a )?"
    r"(person|human|agent|anyone|someone)\b|\bi (found|sorted|figured|worked) (it|that)( out)?\b|"
    r"\bback to the (bot|assistant)\b|\b(bye|goodbye)\W*$|"
    rf"^\W*{_LEAD}(?:{_CLOSING}){_CLOSE}\W*$|"
    r"^\W*cancel( (it|that|this|please|the request))*\W*$",
    re.IGNORECASE,
)
LEAVE_QUEUE_OFFER = ("If you don't need a person any more, press \"Back to the assistant\" below. "
                     "Until then you keep your place.")


def wants_out_of_queue(text: str) -> bool:
    """Whether a queued customer's message clearly means "never mind / cancel / bye"."""
    return NEVER_MIND.search(text.replace("\u2019", "'")) is not None  # a phone's curly apostrophe too


def would_queue(conversation: Conversation) -> bool:
    """Whether the customer asking for a person queues the conversation now (the bot has it): only then
    is the bot asked for its summary."""
    return conversation.state is State.BOT


def bridge_handoff(source: str) -> Dict[str, Any]:
    """The bridge's own payload when the bot did not answer: shaped like the bot's, with one line."""
    return {"reason": "requested", "source": source,
            "summary": f"The customer {BRIDGE_SOURCES.get(source, 'asked for a person')}. The assistant did not "
                       "answer, so there is no summary: read the transcript.",
            "topic": None, "topics": [], "turns": [], "slots": {}, "evidence": {}}


def handoff_in(messages: Tuple[Dict[str, Any], ...]) -> Optional[Dict[str, Any]]:
    """The bot's ``custom.handoff`` payload (docs/handoff-payload.md), if any."""
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            return custom["handoff"]
    return None


def _group_transfer_notice(specialists: bool) -> Notify:
    """What the customer reads when sent back to a queue: a specialist team only when it is one (not the
    general team, nor the team they were with)."""
    if specialists:
        return Notify("transferred_group", "You're being passed to a specialist team. You stay near the front of the queue.")
    return Notify("transferred_team", "You're being passed to someone else in our team. You stay near the front of the queue.")


def _enqueue(reason: str) -> Enqueue:
    """A new handoff: a customer in distress goes ahead of the group's others (never of earlier ones)."""
    return Enqueue(reason, priority=reason == DISTRESS)


def apply(conversation: Conversation, event: Event) -> Tuple[Conversation, List[Effect]]:
    """The conversation after ``event``, and what must happen because of it."""
    state = conversation.state

    if isinstance(event, CustomerSaid):
        if event.said_in in (State.QUEUED, State.AGENT):
            return conversation, []
        if state is State.BOT:
            return conversation, [AskBot(event.text)]
        return conversation, []  # queued or with an agent: kept for the person, never the bot

    if isinstance(event, BotAnswered):
        payload = handoff_in(event.messages)
        if state is not State.BOT or payload is None:
            return conversation, []
        reason = str(payload.get("reason") or "requested")
        if reason == "callback":  # the customer booked a call with the bot: nobody joins, a person phones
            return conversation, [StoreRequest("callback", payload)]
        queued = replace(conversation, state=State.QUEUED, reason=reason, handoff=payload, group=event.group)
        return queued, [_enqueue(reason)]

    if isinstance(event, CustomerAskedForPerson):
        if state is State.CLOSED:
            raise ConversationClosed(CLOSED_TO_CUSTOMER)
        if not would_queue(conversation):
            return conversation, []
        handoff = event.handoff or bridge_handoff("button")
        reason = str(handoff.get("reason") or "requested")
        queued = replace(conversation, state=State.QUEUED, agent=None, reason=reason, group=event.group,
                         handoff=handoff)
        return queued, [_enqueue(reason)]

    if isinstance(event, CustomerLeftRequest):
        if state is State.AGENT:
            raise InvalidTransition("a person is already serving this chat")
        stored = Notify("request_stored", "Thanks, we've got your details. Our team will get back to you.")
        if state is State.QUEUED:
            back = replace(conversation, state=State.BOT, reason=None, handoff={})
            return back, [stored, StoreRequest(event.kind, conversation.handoff)]
        return conversation, [stored, StoreRequest(event.kind, None)]

    if isinstance(event, CustomerGone):
        if state is not State.QUEUED:
            return conversation, []  # claimed or left meanwhile (or another process was first)
        back = replace(conversation, state=State.BOT, reason=None, handoff={})
        return back, [Notify("left_queue", "You were away for a while, so you have left the queue. "
                                           "Ask for a person again whenever you are ready.")]

    if isinstance(event, CustomerLeftQueue):
        if state is State.AGENT:
            raise InvalidTransition("a person is already serving this chat")
        if state is not State.QUEUED:
            return conversation, []  # out of the queue already (a resent request): nothing to do
        back = replace(conversation, state=State.BOT, reason=None, handoff={})
        return back, [Notify("left_queue", LEFT_QUEUE)]

    if isinstance(event, AgentClaimed):
        if state is State.AGENT:
            raise AlreadyClaimed(f"{conversation.agent} already has this conversation", agent=conversation.agent or "")
        if state is not State.QUEUED:
            raise InvalidTransition(f"only a queued conversation can be claimed (it is {state.value})")
        claimed = replace(conversation, state=State.AGENT, agent=event.agent)
        return claimed, [Notify("agent_joined", "A person from our support team has joined the chat.")]

    if isinstance(event, (Transferred, HandedBack, Closed, AgentLost)):
        if state is not State.AGENT or conversation.agent != event.agent:
            raise InvalidTransition(f"{event.agent} is not serving this conversation")
        if isinstance(event, Transferred):
            if event.to_agent == event.agent:
                raise InvalidTransition("that is you already")
            if event.handoff is not None:
                conversation = replace(conversation, handoff=event.handoff)
            if event.to_agent:
                moved = replace(conversation, agent=event.to_agent)
                # The colleague joins as a claim does: named by the bridge (rules.naming_agent).
                return moved, [Notify("transferred", "You're being passed to a colleague who can help with this."),
                               Notify("agent_joined", "A person from our support team has joined the chat.")]
            group = event.to_group or conversation.group
            requeued = replace(conversation, state=State.QUEUED, agent=None, group=group)
            return requeued, [Enqueue(conversation.reason or "requested", front=True), _group_transfer_notice(
                specialists=group not in (conversation.group, DEFAULT_GROUP))]
        if isinstance(event, HandedBack):
            back = replace(conversation, state=State.BOT, agent=None, reason=None, handoff={})
            return back, [Notify("back_to_bot", "You're back with the assistant. Ask me anything.")]
        if isinstance(event, AgentLost):
            requeued = replace(conversation, state=State.QUEUED, agent=None)
            notice = Notify("agent_lost", "Your agent was disconnected. You stay near the front of the queue.")
            return requeued, [Enqueue(conversation.reason or "requested", front=True), notice]
        closed = replace(conversation, state=State.CLOSED, rated=False)  # the agent stays: the rating is theirs
        return closed, [Notify("closed", "The agent has closed this chat."), AskRating()]

    if isinstance(event, CustomerRated):
        if state is not State.CLOSED:
            raise InvalidTransition("a chat can be rated once an agent has closed it")
        if not 1 <= event.score <= 5:
            raise InvalidTransition("a rating is a whole number from 1 to 5")
        if conversation.rated:
            raise InvalidTransition("this chat has been rated already")
        return replace(conversation, rated=True), [StoreRating(event.score, event.comment[:MAX_COMMENT])]

    raise InvalidTransition(f"unknown event {event!r}")
