"""The bridge's rules around the state machine, sans I/O: plain data in, a decision or a refusal out.

:mod:`handoff.machine` decides how a conversation's state moves. The rules here decide the rest:
what a customer may send (details only while queued, buttons only as offered), who may see and
claim what, which transfers are possible, which notices follow a change (the no-agents notice
among them) and when a queue changes. :class:`handoff.service.Bridge` reads what a rule needs
from Redis, asks here, and carries out the answer; the time is always given (``now_ms``), never
read, so every rule is tested in-process with plain data (tests/handoff/test_rules.py).
"""

from __future__ import annotations

from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from handoff.exceptions import InvalidTransition, MalformedMessage, UnknownButton
from handoff.machine import (
    LEAVE_QUEUE_OFFER, AskRating, Conversation, Effect, Enqueue, Notice, Notify, State, wants_out_of_queue,
)
from handoff.protocol import readable
from handoff.contact import contact_kind
from handoff.routing import visible_to

__all__ = [
    "AGENT_NOTICES", "KEPT_KEY_PREFIX", "KEPT_WAIT_FIGURES", "MAX_DETAIL", "NO_AGENTS", "QUEUE_REFUSED", "QUEUE_REFUSED_NOTICE", "QUEUE_REFUSED_UNTIL", "RATE", "agent_lost",
    "PRIVACY_NOTICE",
    "announcements", "callback_not_booked", "claim_is_resent", "kept_for_person", "kept_key", "leave_queue_offer", "naming_agent", "notices", "offered_buttons",
    "pickup_ms", "privacy_notice", "queue_operation", "queue_refused", "queues", "request_details", "require_offered",
    "require_serving", "staffed", "transfer_shape", "transfer_target", "waiting_details",
]

MAX_DETAIL = 500
KINDS = ("callback", "message")  # what a customer may leave instead of waiting (request_details)
NO_AGENTS = ("No one from our team is available right now. You can wait, ask us to call you back, "
             "or leave a message and we'll reply as soon as we can.")
RATE = "How did we do? Please rate this chat from 1 to 5."
QUEUE_REFUSED_NOTICE = "queue_refused"
QUEUE_REFUSED = ("Sorry, we can't add you to the queue for a person right now. Please try again later, "
                 "or ask us to call you back or leave a message and we'll get back to you.")
QUEUE_REFUSED_UNTIL = ("Sorry, we can't add you to the queue for a person right now. You can try again in "
                       "{minutes} {unit}, or ask us to call you back or leave a message and we'll get back to you.")
# Said once per stay in the queue, after the customer's first message there: nobody answers it until a person
# picks up, so they are told it is kept, and when a person may come (or that nobody can say).
KEPT_FOR_PERSON = ("We've kept your message for the person who picks up your chat: they'll read everything you "
                   "write here. We expect someone to pick up in {wait}.")
KEPT_FOR_NOBODY = ("We've kept your message for the person who picks up your chat, but no one from our team is "
                   "available right now, so we can't say when that will be. You can keep waiting, or ask us to "
                   "call you back or leave a message instead.")
# The key prefix of the kept_for_person notices, one per stay in the queue (kept_key).
KEPT_KEY_PREFIX = "kept:"
# The status's wait figures the kept_for_person notice carries (the widget words the wait from them).
KEPT_WAIT_FIGURES = ("wait_minutes", "wait_range", "wait_basis")
# Said after the bot's callback form, when the request it booked could not be stored (handoff.requests' caps): the
# bot has just said the call is booked, so the customer learns at once that it is not, and what is left.
CALLBACK_NOT_BOOKED = ("Sorry, we couldn't book that callback: {why}. You can ask to talk to a person instead, "
                       "or try again later.")
CALLBACK_REFUSALS = {
    "request_open": "you already have a request open, and our team will get back to you about it",
}
CALLBACK_REFUSED = "we can't take more requests from you right now"
# Said once per conversation, after the first thing of the customer's that was masked (handoff.privacy).
PRIVACY_NOTICE = ("To keep you safe, we've hidden what looked like a card number, a security code or a password. "
                  "Please never send these in this chat: we will never ask you for them.")
# Notices that name the agent (their display name, never the login name): the text, and ``data.agent``
# for a widget that says it in its own language.
AGENT_NOTICES = {
    "agent_joined": "{agent} from our support team has joined the chat.",
    "closed": "{agent} has closed this chat.",
}


# ---- what a customer may send -------------------------------------------------


def _clean(details: Mapping[str, Any], names: Sequence[str]) -> Dict[str, str]:
    clean: Dict[str, str] = {}
    for name in names:
        value = details.get(name, "")
        if not isinstance(value, str) or len(value) > MAX_DETAIL:
            raise MalformedMessage(f"'{name}' must be text of at most {MAX_DETAIL} characters")
        clean[name] = readable(value).strip()
    return clean


def waiting_details(conversation: Conversation, details: Mapping[str, Any]) -> Dict[str, str]:
    """What a waiting customer tells the agents (a description, contact details), cleaned: only while
    queued (InvalidTransition), text of MAX_DETAIL at most (MalformedMessage), a contact someone can
    reply to when given (InvalidContact, as a request's)."""
    if conversation.state is not State.QUEUED:
        raise InvalidTransition("details are for customers waiting in the queue")
    clean = _clean(details, ("description", "contact"))
    if clean["contact"]:
        contact_kind(clean["contact"])
    return clean


def request_details(kind: str, details: Mapping[str, Any]) -> Dict[str, str]:
    """A callback request's or message's details, cleaned, with the kind of its contact."""
    if kind not in KINDS:
        raise MalformedMessage("'kind' must be 'callback' or 'message'")
    clean = _clean(details, ("contact", "description", "preferred_time"))
    clean["contact_kind"] = contact_kind(clean["contact"])
    return clean


def offered_buttons(newest_first: Iterable[Mapping[str, Any]]) -> Set[str]:
    """The payloads of the buttons in the bot's latest turn: its messages after the last customer's
    or agent's (messages newest first, as the transcript's tail is read)."""
    offered: Set[str] = set()
    for message in newest_first:
        if message["kind"] in ("customer", "agent"):
            break
        if message["kind"] == "bot":
            buttons = message["data"].get("buttons")
            offered.update(str(button.get("payload")) for button in buttons or [] if isinstance(button, dict))
    return offered


def require_offered(payload: str, newest_first: Iterable[Mapping[str, Any]]) -> None:
    """A button's payload reaches the bot only if the bot offered that button in its latest turn:
    else a customer could make the bot act on words nobody reads (the text shows the button's
    title) or send it ``/restart``."""
    if payload not in offered_buttons(newest_first):
        raise UnknownButton("'payload' must be one of the buttons the bot offered last; "
                            "send the words as 'text' without a payload instead")


def leave_queue_offer(said_in: Optional[State], text: str, message_id: str) -> Optional[Notice]:
    """A queued customer's words that clearly mean "never mind" are answered with the way out of
    the queue (never taken out by a guess; the words still go to the person)."""
    if said_in is not State.QUEUED or not wants_out_of_queue(text):
        return None
    return Notice(f"leave-offer:{message_id}", LEAVE_QUEUE_OFFER,
                  {"notice": "leave_queue_offer", "offer": ["leave_queue"]})


def kept_key(queued_at_ms: int) -> str:
    """The key of the stay's one kept_for_person notice (the append that stores a queued customer's message
    looks for it: Store.append's ``told_once``, before the wait is read)."""
    return f"{KEPT_KEY_PREFIX}{queued_at_ms}"


def kept_for_person(queued_at_ms: int, status: Mapping[str, Any]) -> Notice:
    """What a queued customer reads after their first message of this stay in the queue (keyed by when
    they were queued: said once per stay): it is kept for the person, and the wait from their status
    (handoff.estimate), or that nobody is available to say when. The wait's figures go with it as the status
    has them (``wait_minutes``, ``wait_range``, ``wait_basis``), so that the widget says it in the customer's
    language; the text is English."""
    data: Dict[str, Any] = {"notice": "kept_for_person"}
    if status.get("agents_available"):
        figures = {name: status[name] for name in KEPT_WAIT_FIGURES if status.get(name) is not None}
        return Notice(kept_key(queued_at_ms), KEPT_FOR_PERSON.format(wait=status["wait"]), {**data, **figures})
    return Notice(kept_key(queued_at_ms), KEPT_FOR_NOBODY, {**data, "offer": ["callback", "message"]})


def callback_not_booked(message_id: str, code: str, retry_at_ms: Optional[int] = None) -> Notice:
    """What the customer reads when the callback the bot's form booked was refused by a cap: once per message
    that booked it, with a person offered instead (``code``, the refusal's, is for the agents' transcript:
    handoff.visibility does not send it to the customer)."""
    data: Dict[str, Any] = {"notice": "callback_not_booked", "code": code, "offer": ["talk_to_person"]}
    if retry_at_ms is not None:
        data["retry_at"] = retry_at_ms
    why = CALLBACK_REFUSALS.get(code, CALLBACK_REFUSED)
    return Notice(f"callback-refused:{message_id}", CALLBACK_NOT_BOOKED.format(why=why), data)


def privacy_notice() -> Notice:
    """The customer is told once per conversation (its one key) never to send card numbers, codes or passwords."""
    return Notice("privacy", PRIVACY_NOTICE, {"notice": "privacy"})


def queues(handoff: Mapping[str, Any]) -> bool:
    """Whether the bot's handoff payload queues the customer (a callback booked with the bot does not)."""
    return handoff.get("reason") != "callback"


def queue_refused(message_id: str, retry_at_ms: Optional[int] = None, now_ms: int = 0) -> Notice:
    """The answer to a customer's message whose handoff the queue's caps refused (handoff.limits): what
    the bot said, which promised a person, is not stored; this says why not, when to try again if the
    cap ends (``retry_at``: the widget says the time in the customer's own clock), and offers the other
    ways to reach us, once per message."""
    data: Dict[str, Any] = {"notice": QUEUE_REFUSED_NOTICE, "offer": ["callback", "message"]}
    if retry_at_ms is None:
        return Notice(f"refused:{message_id}", QUEUE_REFUSED, data)
    minutes = max(1, -(-(retry_at_ms - now_ms) // 60_000))
    text = QUEUE_REFUSED_UNTIL.format(minutes=minutes, unit="minute" if minutes == 1 else "minutes")
    return Notice(f"refused:{message_id}", text, {**data, "retry_at": retry_at_ms})


# ---- agents ---------------------------------------------------------------------


def claim_is_resent(conversation: Conversation, agent: str, agent_groups: Sequence[str]) -> bool:
    """True for a resent claim (e.g. after a reconnect) by the agent who has the conversation: nothing
    to do. A conversation of a skill group the agent does not take is not theirs to claim
    (InvalidTransition); whether it can be claimed now is the state machine's (AgentClaimed)."""
    if conversation.state is State.AGENT and conversation.agent == agent:
        return True
    if not visible_to(conversation.group, agent_groups):
        raise InvalidTransition(f"this chat is for the {conversation.group} team")
    return False


def require_serving(conversation: Conversation, agent: str) -> None:
    """What only the agent serving a conversation may do (write in it, see it, signal in it)."""
    if conversation.state is not State.AGENT or conversation.agent != agent:
        raise InvalidTransition(f"{agent} is not serving {conversation.id}")


def pickup_ms(claimed_ms: int, queued_ms: int, agent_ready_ms: Optional[int]) -> int:
    """How long a claimed customer waited for their agent to pick them up: from when they were
    queued, or from when the agent could take someone if that came later (handoff.estimate)."""
    return claimed_ms - max(queued_ms, agent_ready_ms or 0)


def transfer_shape(to_agent: Optional[str], to_group: Optional[str]) -> None:
    """A transfer names exactly one of a colleague or a skill group (checked before anything is looked up)."""
    if bool(to_agent) == bool(to_group):
        raise MalformedMessage("transfer to exactly one of 'to_agent' or 'to_group'")


def transfer_target(to_agent: Optional[str], accounts: Collection[str], online: Collection[str]) -> None:
    """A transfer to a colleague goes to one who exists and is online."""
    if to_agent and to_agent not in accounts:
        raise MalformedMessage(f"no agent {to_agent!r}")
    if to_agent and to_agent not in online:
        raise InvalidTransition(f"{to_agent} is not online")


def staffed(is_open: bool, online: Collection[str], profiles: Mapping[str, Mapping[str, Any]],
            group: Optional[str] = None) -> bool:
    """Open, and someone online (who takes ``group``, when given)."""
    if not is_open:
        return False
    if group is None or not online:
        return bool(online)
    return any(visible_to(group, profiles[name]["groups"]) for name in online if name in profiles)


def agent_lost(now_ms: int, offline_since_ms: int, grace_seconds: float) -> bool:
    """An agent away for longer than the grace period: their chats go back to the queue."""
    return now_ms - offline_since_ms >= grace_seconds * 1000


# ---- what follows a change ----------------------------------------------------------


def queue_operation(before: Conversation, effects: Sequence[Effect]) -> str:
    """How the change moves the queue (handoff.store.Store.commit): ``add``, ``front`` (back in the
    queue: transferred to a group, agent lost), ``priority`` (distress), ``remove`` or ''."""
    enqueue = next((effect for effect in effects if isinstance(effect, Enqueue)), None)
    if enqueue:
        return "front" if enqueue.front else "priority" if enqueue.priority else "add"
    return "remove" if before.state is State.QUEUED else ""


def notices(version: int, effects: Sequence[Effect], staffed_now: bool = True) -> List[Notice]:
    """The notices that follow a change stored as ``version``: each Notify, the rating request, and,
    when the customer is queued with nobody to take them (``staffed_now`` False), the no-agents notice
    with the other ways to reach us. Keyed by the version, so each is stored once."""
    written: List[Notice] = []
    for effect in effects:
        if isinstance(effect, Notify):
            written.append(Notice(f"system:{version}:{effect.kind}", effect.text, {"notice": effect.kind}))
        elif isinstance(effect, AskRating):
            written.append(Notice(f"system:{version}:rate", RATE, {"notice": "rate"}))
        elif isinstance(effect, Enqueue) and not staffed_now:
            written.append(Notice(f"system:{version}:no_agents", NO_AGENTS,
                                  {"notice": "no_agents", "offer": ["callback", "message"]}))
    return written


def naming_agent(notices: Sequence[Notice], display_name: str) -> List[Notice]:
    """The notices with the agent named where AGENT_NOTICES says; the others as they are."""
    return [Notice(notice.key, AGENT_NOTICES[kind].format(agent=display_name), {**notice.data, "agent": display_name})
            if (kind := notice.data.get("notice")) in AGENT_NOTICES else notice
            for notice in notices]


def announcements(before: Conversation, after: Conversation) -> Tuple[Optional[Dict[str, Any]], bool]:
    """What a change announces: the customer's new state (None when nothing their status shows, state,
    agent or rating, changed), and whether the queue changed (it was or is queued)."""
    changed = (after.state, after.agent, after.rated) != (before.state, before.agent, before.rated)
    queue = State.QUEUED in (before.state, after.state)
    return ({"state": after.state.value} if changed else None), queue
