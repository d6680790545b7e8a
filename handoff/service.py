"""The bridge's behaviour: carries out the state machine's effects with Redis and the bot.

Every change to a conversation goes through :meth:`Bridge.transition`: read,
apply the pure state machine (handoff.machine), ask the rules what follows
(handoff.rules: the notices, the announcements, how the queue moves), and
compare-and-set in Redis with all of it in one script (retrying when another
process changed it first); then the remaining effects (counters, ratings,
requests). Messages are appended to the transcript before anything else
happens, so a message the bridge has acknowledged is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import aiohttp
from redis.asyncio import Redis

from handoff import rules
from handoff.assignment import Assignment, Mode, may_claim
from handoff.agent_figures import agent_rows, per_agent_counters, split_samples
from handoff.agentstatus import AgentStatus, AgentStatuses, Status, available_only, team_statuses
from handoff.attachments import AttachmentDesk, attachment_of
from handoff.auth import AgentDirectory
from handoff.botclient import MAX_WRITTEN, PREVIOUS_HANDOFF, BotClient, BotUnavailable
from handoff.canned import CannedDesk
from handoff.closing import Closing
from handoff.contacts import ContactBook
from handoff.customer_presence import CustomerPresenceBoard, parse as parse_presence, shown as presence_shown
from handoff.dashboard import summarise
from handoff.earlier import EarlierChats
from handoff.experience import Experience
from handoff.sla import Sla
from handoff.sla_rules import breaches_today, due_times, parse_targets
from handoff.exceptions import ConversationNotFound, InvalidTransition, LimitReached, MalformedMessage, StateError
from handoff.archive_history import ArchiveHistory
from handoff.archive_reader import ArchiveReader
from handoff.archive_search import ArchiveSearch
from handoff.history import RedisHistory
from handoff.hub import Hub
from handoff.labels import LabelDesk, closing_figures, split, workspace_channel
from handoff.limits import Limits
from handoff.presence import CustomerPresence
from handoff.privacy import Secret
from handoff.notes import NoteDesk
from handoff.machine import (
    DISTRESS, AgentClaimed, AgentLost, AskBot, BotAnswered, Closed, Conversation, CustomerAskedForPerson,
    CustomerGone, CustomerLeftQueue, CustomerLeftRequest, CustomerRated, CustomerSaid, Effect, Enqueue, Event, HandedBack, Notice,
    State, StoreRating, StoreRequest, Transferred, apply, bridge_handoff, handoff_in, would_queue,
)
from handoff.estimate import estimate, snapshot, status_fields
from handoff.request_assignment import RequestAssignments
from handoff.requests import RequestDesk
from handoff.routing import ALL_GROUPS, DEFAULT_GROUP, BusinessHours, group_for, visible_to
from handoff.settings import Settings
from handoff.shared import SharedReading
from handoff.answer_mail import AnswerMail
from handoff.mail import TranscriptMail
from handoff.store import Appended, GroupFigures, NewMessages, Routing, Store, StoredMessage, last_message
from handoff.suggestions import Suggestions

__all__ = ["Bridge", "Said"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
BOT_UNAVAILABLE = "bot_unavailable"
PRESENCE_TTL_MS = 30_000
# A message's routing lease, renewed three times per period while its holder routes it: a process
# killed mid-turn leaves its message to the customer's retry this soon. A retry checks this often.
ROUTING_LEASE_SECONDS = 3.0
ROUTING_POLL_SECONDS = 0.1
# How many of the newest messages are read for the bot's latest turn (its buttons): a turn is a few.
OFFER_LOOKBACK = 20
# The time now, in seconds since the epoch (time.time; a fixed one in a test).
Clock = Callable[[], float]


class Said(NamedTuple):
    """A customer's message stored (``message_id``) and, when ``deliver_first``, what its socket sends before the
    ack: ``answer``, the bot's messages as stored, or (None) whatever the transcript holds that the socket has
    not sent (a notice instead of an answer, an answer stored by an earlier attempt); every other socket of the
    conversation hears of them through the hub (docs/bridge-protocol.md: the answer, then the ack)."""

    message_id: str
    deliver_first: bool
    answer: Optional[NewMessages] = None


class Turn(NamedTuple):
    """What asking the bot came to (Bridge._ask_bot): whether its step marked the message routed, and the
    answer it stored (None: none shown)."""

    routed: bool
    answer: Optional[NewMessages]


def stored_fields(event: Event, effects: Sequence[Effect], closing: Closing) -> List[str]:
    """What a change stores in the conversation's hash besides its state, by the same commit: a close's
    disposition and note, a rating's score and comment (a colleague's read-only view shows both)."""
    if isinstance(event, Closed):
        return closing.fields()
    rating = next((effect for effect in effects if isinstance(effect, StoreRating)), None)
    return ["rating", json.dumps({"score": rating.score, "comment": rating.comment})] if rating else []


class Bridge:
    """One per process: the store, the bot's client and the pub/sub hub. The clock and the bot's
    client are given (by default the real time and Rasa over ``http``)."""

    def __init__(self, settings: Settings, redis: Redis, http: aiohttp.ClientSession, clock: Clock = time.time,
                 bot: Optional[BotClient] = None) -> None:
        self.settings = settings
        self.clock = clock
        self.bot = bot or BotClient(http, settings.rasa_url, settings.rasa_timeout_seconds)
        self.store = Store(redis, settings.key_prefix, settings.finished_ttl_seconds,
                           settings.idle_conversation_seconds, settings.max_transcript_messages,
                           settings.max_queue_length, settings.outbox_max_length)
        self.limits = Limits(redis, settings.key_prefix, settings)
        # When each customer was last connected: the queue's gone-sweep (not what agents are shown: customer_presence).
        self.customers_seen = CustomerPresence(redis, settings.key_prefix, settings.customer_gone_seconds)
        self.agents = AgentDirectory(redis, settings.key_prefix)
        self.statuses = AgentStatuses(redis, settings.key_prefix)  # available, away, offline
        # Connected, typing, gone; a customer's socket counts while its process renews it (OpenSockets.refresh).
        self.customer_presence = CustomerPresenceBoard(self.store, self.customers_seen.refresh_seconds)
        self.hub = Hub(redis, settings.key_prefix)
        # Automatic assignment (handoff.assignment): a round runs when this process has cause to (assignment_due)
        # and every assign_round_seconds (handoff.lifecycle.assign).
        self.assignment = Assignment(self.store, settings.assign_accept_seconds)
        self.assign_due = asyncio.Event()
        # A group's figures, read once per queue change for all of this process's customers (shared_figures).
        self._figures: Dict[str, SharedReading[GroupFigures]] = {}
        # The queue as agents see it, read once per queue change for all of this process's agents.
        # What a queued customer wrote and their presence change it too: a change on any of the three channels
        # makes a reading out of date.
        self._queue_reading = SharedReading(self._queued, lambda: (self.hub.notified(self.store.queue_channel),
                                                                   self.hub.notified(self.store.said_channel),
                                                                   self.hub.notified(self.customer_presence.channel)))
        # The dashboard, read once per change for all of this process's supervisors: the day's counters, the
        # queue (agents' statuses too) and the label set change it.
        self._dashboard_reading = SharedReading(self._read_dashboard, lambda: (
            self.hub.notified(self.store.stats_channel), self.hub.notified(self.store.queue_channel),
            self.hub.notified(workspace_channel(settings.key_prefix))))
        self.requests = RequestDesk(self.store, self.agents)
        self.request_assignments = RequestAssignments(self.requests)  # who calls back or answers
        self.notes = NoteDesk(self.store, self.agents)  # private notes and @mentions (handoff.notes)
        self.labels = LabelDesk(self.store)
        self.canned = CannedDesk(redis, settings.key_prefix, workspace_channel(settings.key_prefix))
        self.experience = Experience(self.store)
        self.sla = Sla(self.store, parse_targets(settings.sla))  # response-time targets (handoff.sla)
        self.suggestions = Suggestions(redis, self.store, self.bot)  # suggested replies (handoff.suggestions)
        self.attachments = AttachmentDesk(self)  # customers' and agents' files (handoff.attachments)
        self.mail = TranscriptMail(settings, self.store)  # transcripts by email (handoff.mail)
        self.answer_mail = AnswerMail(self.mail)  # a message request's answer by email (handoff.answer_mail)
        # Customers known by a signed identity, their conversations and the agents' note (handoff.contacts).
        self.contacts = ContactBook(self.store, settings.secret, RedisHistory(self.store))
        self.earlier = EarlierChats(self.store, self.contacts)  # the closed chat a new one follows (handoff.earlier)
        self.archive: Optional[ArchiveSearch] = None  # search and older history (use_archive)
        self.archive_reader: Optional[ArchiveReader] = None  # the process's one pool: reports, forgets (use_archive)
        self.hours = BusinessHours.parse(settings.business_hours, settings.timezone)
        self.zone = ZoneInfo(settings.timezone)
        # This process's counters for /metrics (Prometheus adds up the processes).
        self.metrics: Counter = Counter()

    def use_archive(self, reader: ArchiveReader) -> None:
        """With DATABASE_URL: search, reports, and contacts' conversations and earlier chats Redis no longer
        keeps, from the archive; forgets reach it too."""
        self.archive_reader = reader
        self.archive = ArchiveSearch(reader, self.store)
        self.contacts.history = ArchiveHistory(RedisHistory(self.store), reader)
        self.earlier.reader = reader  # an earlier chat Redis no longer keeps (handoff.earlier)

    # ---- conversations ------------------------------------------------------

    async def start_conversation(self, client: str = "", follows: Optional[str] = None) -> Tuple[str, str]:
        """A new conversation for the client at address ``client`` (LimitReached past its cap); ``follows``: the
        closed conversation it follows, verified (handoff.earlier)."""
        await self.limits.new_conversation(client)
        conversation_id, token = secrets.token_urlsafe(18), secrets.token_urlsafe(24)
        await self.store.create(conversation_id, token, client, follows)
        return conversation_id, token

    async def _admit_to_queue(self, conversation_id: str, urgent: bool = False) -> None:
        """A new queue entry counts against its client's cap and everyone's (LimitReached past them; ``urgent``,
        distress, apart: handoff.limits); a refusal counts on the day's dashboard (``refused``) and in /metrics
        (``handoffs_refused``)."""
        try:
            await self.limits.new_queue_entry(await self.store.client(conversation_id), self.store.key("queue"),
                                              urgent)
        except LimitReached:
            self.metrics["handoffs_refused"] += 1
            await self.store.count(self.today()[0], {"refused": 1})
            await self.store.publish(self.store.stats_channel, {})
            raise

    async def _admitted(self, conversation_id: str, message_id: str, urgent: bool = False) -> bool:
        """Whether a handoff the customer did not ask for with the button may queue them. Asked before
        anything promising a person is stored: refused, the customer reads why and what they can do
        instead (rules.QUEUE_REFUSED, in the transcript) and their message is answered as usual."""
        try:
            await self._admit_to_queue(conversation_id, urgent)
        except LimitReached as cap:
            refused = rules.queue_refused(message_id, cap.retry_at_ms, self.now_ms())
            with contextlib.suppress(InvalidTransition):  # a person has them meanwhile: nothing to refuse
                await self.append(conversation_id, "system", refused.key, refused.text, refused.data,
                                  only_in=State.BOT)
            return False
        return True

    async def transition(
        self, conversation_id: str, event: Event, agent_limit: int = 1_000_000, closing: Closing = Closing(),
        pinned_note: Optional[str] = None,
    ) -> Tuple[Conversation, List[Effect]]:
        """``closing``: a close's disposition and note, stored and counted by the commit that closes;
        ``pinned_note``: the note a transfer carries ("": none), pinned by the commit that transfers."""
        for _ in range(MAX_ATTEMPTS):
            before = await self.store.load(conversation_id)
            after, effects = apply(before, event)
            if after == before:  # nothing to store: what the effects say is written on its own
                for notice in rules.notices(after.version, effects):
                    await self.append(after.id, "system", notice.key, notice.text, notice.data)
                await self._carry_out(after, effects)
                return after, effects
            enqueued = any(isinstance(effect, Enqueue) for effect in effects)
            staffed = not enqueued or await self.agents_available(after.group)
            notices = await self._naming_agent(  # the version the commit stores
                rules.notices(before.version + 1, effects, staffed), after.agent or before.agent)
            state, queue_changed = rules.announcements(before, after)
            stored = await self.store.commit(before, after, queue=rules.queue_operation(before, effects),
                                             agent_limit=agent_limit,
                                             transferred_by=event.agent if isinstance(event, Transferred) else "",
                                             notices=notices, state=state, queue_changed=queue_changed,
                                             extra_fields=stored_fields(event, effects, closing)
                                             + ([] if pinned_note is None else ["transfer_note", pinned_note]),
                                             day=self.today()[0], counters=closing.counters() + per_agent_counters(
                                                 before.state.value, before.agent, after.state.value, after.agent))
            if stored is not None:
                self.metrics["messages_system"] += len(notices)
                self.assign_due.set()  # queued, claimed or a chat ended: offers may follow
                if before.state is State.AGENT and stored.state is State.CLOSED and before.agent:
                    await self._count_handling(conversation_id, before.agent)
                await self._carry_out(stored, effects)
                return stored, effects
        raise StateError("the conversation is changing too fast; try again")

    async def _count_handling(self, conversation_id: str, agent: str) -> None:
        """The agent's handling time of the conversation they closed (only the close's commit winner gets here)."""
        taken_at = (await self.store.times(conversation_id)).get("claimed_at")
        if taken_at:
            await self.experience.handled(self.today()[0], agent, self.now_ms() - taken_at)

    async def _naming_agent(self, notices: List[Notice], agent: Optional[str]) -> List[Notice]:
        """"Ann has joined the chat": the agent's display name in the notices that name them."""
        if not agent or not any(notice.data.get("notice") in rules.AGENT_NOTICES for notice in notices):
            return notices
        return rules.naming_agent(notices, await self.agents.display_name(agent))

    async def _carry_out(self, after: Conversation, effects: List[Effect]) -> None:
        """The effects that are not part of the stored change: ratings, counters."""
        for effect in effects:
            if isinstance(effect, StoreRating):
                await self.store.store_rating(after.id, after.agent or "", effect.score, effect.comment)
                day, _ = self.today()
                per_agent = {f"agent:{after.agent}:ratings": 1, f"agent:{after.agent}:rating_sum": effect.score} \
                    if after.agent else {}
                await self.store.count(day, {"ratings": 1, "rating_sum": effect.score, f"score:{effect.score}": 1,
                                             **per_agent})
                await self.store.publish(self.store.stats_channel, {})
            elif isinstance(effect, Enqueue):
                if effect.front:  # back in the queue (transferred to a group, agent lost): not a new handoff
                    await self.experience.requeued(self.today()[0])
                else:
                    await self.store.redis.hincrby(self.store.key("stats", "handoffs"), effect.reason, 1)
                    await self._count_escalation(after.id, effect.reason)

    # ---- the day's counters (supervisors' dashboard) -------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _open_now(self) -> bool:
        return self.hours.is_open(datetime.fromtimestamp(self.clock(), timezone.utc))

    def today(self) -> Tuple[str, str]:
        """The date and hour now, in the business's time zone: the dashboard's day."""
        now = datetime.fromtimestamp(self.clock(), self.zone)
        return now.strftime("%Y-%m-%d"), now.strftime("%H")

    async def _count_conversation(self, conversation_id: str) -> None:
        """A conversation counts once a day, the first time that day its customer says or asks something."""
        if await self.store.count_once(conversation_id, *self._conversation_count()):
            await self.store.publish(self.store.stats_channel, {})

    def _conversation_count(self) -> Tuple[str, str, List[str]]:
        """How a conversation counts today (Store.count_once's marker, day and counters); a customer's
        message counts it in the step that stores it (Store.append's ``count_once``)."""
        day, hour = self.today()
        return f"counted:{day}", day, ["conversations", f"hour:{hour}:conversations"]

    async def _count_escalation(self, conversation_id: str, handoff_reason: Optional[str]) -> None:
        """The conversation reached people: once a day per conversation in ``escalated`` (not contained).

        A handoff also counts by reason, and the conversation once a day in ``handed_over`` (a
        conversation handed over twice is two handoffs in one conversation); a callback or message
        left instead is not a handoff. Every conversation counted here is counted that day.
        """
        await self._count_conversation(conversation_id)
        day, hour = self.today()
        if handoff_reason is not None:
            await self.store.count(day, {"handoffs": 1, f"reason:{handoff_reason}": 1, f"hour:{hour}:handoffs": 1})
            await self.store.count_once(conversation_id, f"handed:{day}", day, ["handed_over"])
        await self.store.count_once(conversation_id, f"escalated:{day}", day, ["escalated"])
        await self.store.publish(self.store.stats_channel, {})

    async def right_now(self) -> Dict[str, Any]:
        """The queue and the agents at this moment (the dashboard and /metrics)."""
        queue = await self.store.queue()
        now_ms = self.now_ms()
        online = await self.store.online_agents()
        serving = sum(len(chats) for chats in (await self.store.serving_chats()).values())
        return {
            "queue_length": len(queue),
            "oldest_wait_seconds": max((int(wait / 1000) for wait in await self._queue_waits(queue, now_ms)), default=0),
            "agents_online": len(online),
            "agents_available": len(await self.available_agents(online)),
            "conversations_with_agents": serving,
        }

    async def _queue_waits(self, queue: List[Tuple[str, float]], now_ms: int) -> List[int]:
        """Each queued customer's wait (ms) as their queue card counts it: since first queued in this handoff
        (a transfer or a lost agent keeps it), not since their place (a requeued customer's is at the front)."""
        since = await self.store.waiting_since([conversation_id for conversation_id, _ in queue])
        return [int(now_ms - since.get(conversation_id, queued_at)) for conversation_id, queued_at in queue]

    async def dashboard(self, shared: bool = False) -> Dict[str, Any]:
        """The supervisors' dashboard. ``shared``: after a change, which every supervisor's socket in this
        process hears: read once for all of them (``_dashboard_reading``)."""
        return await (self._dashboard_reading.get() if shared else self._read_dashboard())

    async def _read_dashboard(self) -> Dict[str, Any]:
        self.metrics["dashboard_readings"] += 1
        day, _ = self.today()
        counters, waits = await self.store.day(day)
        abandoned, first_responses = await self.experience.day(day)
        now_ms = self.now_ms()
        waiting = await self._queue_waits(await self.store.queue(), now_ms)
        summary = summarise(day, counters, waits, await self.right_now(), waiting_ms=waiting,
                            abandoned_ms=abandoned, first_response_ms=first_responses)
        summary.update(closing_figures(counters, await self.labels.items(), self.settings.dispositions))
        summary["agents"] = await self.agent_statuses()
        summary.update(await self._agent_view(day, counters))
        summary["assignment"] = {"modes": await self.assignment_modes(), "offers": len(await self.assignment.offers())}
        summary["sla"] = await self._sla_figures(counters, now_ms)
        return summary

    async def _agent_view(self, day: str, counters: Dict[str, int]) -> Dict[str, Any]:
        """The dashboard's ``per_agent`` rows (handoff.agent_figures) and ``waiting_list``: the conversations
        waiting now, which a supervisor may assign to an agent (``assign_to``)."""
        first, handling = await self.experience.agents_day(day)
        names = {name: profile["display_name"] for name, profile in (await self.agents.profiles()).items()
                 if "agent" in profile["roles"]}
        offers = {offer.conversation_id: offer.agent for offer in await self.assignment.offers()}
        queued = await self._queue_reading.get()  # shared with the agents' queues; the waits are read now
        since = await self.store.waiting_since([item["conversation_id"] for item in queued])
        now = self.now_ms()
        waiting = [{"conversation_id": item["conversation_id"], "group": item["group"],
                    "waiting_seconds": max(0, int((now - since.get(item["conversation_id"], item["queued_at"])) / 1000)),
                    "reason": item["reason"], "topic": item["topic"], "customer_name": item["customer_name"],
                    "assignment": item["assignment"], "offered_to": offers.get(item["conversation_id"])}
                   for item in queued]
        return {"per_agent": agent_rows(counters, split_samples(first), split_samples(handling), names),
                "waiting_list": sorted(waiting, key=lambda item: -item["waiting_seconds"])}

    async def _sla_figures(self, counters: Dict[str, int], now_ms: int) -> Dict[str, Any]:
        """Response-time breaches today and the chats at risk now, queued or served (handoff.sla)."""
        served = [conversation_id for ids in (await self.store.serving_chats()).values() for conversation_id in ids]
        queued = [conversation_id for conversation_id, _ in await self.store.queue()]
        return {"breaches": breaches_today(counters), "at_risk": await self.sla.at_risk([*queued, *served], now_ms)}

    async def agent_statuses(self) -> List[Dict[str, Any]]:
        """Who is available, away or offline, and since when (the dashboard's team list), with the chats each
        serves (``chats``: conversation ids, which a supervisor may open read-only)."""
        profiles = await self.agents.profiles()
        chats = await self.store.serving_chats()
        rows = team_statuses(profiles, set(await self.store.online_agents()), await self.statuses.all(),
                             {agent: len(ids) for agent, ids in chats.items()}, self.now_ms())
        return [{**row, "chats": chats.get(row["name"], [])} for row in rows]

    async def available_agents(self, online: Optional[List[str]] = None) -> List[str]:
        """The agents online who take new work (not away: handoff.agentstatus)."""
        present = await self.store.online_agents() if online is None else online
        return available_only(present, await self.statuses.all()) if present else []

    async def append(self, conversation_id: str, kind: str, key: str, text: str = "",
                     data: Optional[Dict[str, Any]] = None, only_in: Optional[State] = None,
                     only_agent: str = "", lease: Optional[Tuple[str, int]] = None,
                     count_once: Optional[Tuple[str, str, List[str]]] = None, told_once: str = "") -> Appended:
        appended = await self.store.append(conversation_id, kind, key, text, data, only_in, only_agent, lease,
                                           count_once, told_once)
        if appended.added:
            self.metrics[f"messages_{kind}"] += 1
        return appended

    # ---- customers ----------------------------------------------------------

    async def customer_said(self, conversation_id: str, text: str, key: str, payload: str = "",
                            masked: Sequence[Secret] = ()) -> Said:
        """Store the message (once per key) and route it (once); returns its server id and what the
        asking socket sends before its ack (``Said``). ``text`` is masked already (handoff.privacy);
        ``masked``: what was, so that the privacy notice follows the message, before the answer.

        ``payload`` is what a pressed button sends to the bot (e.g. ``/affirm``)
        while ``text`` (its title) is what people read. A retried message is
        routed again only if its first routing failed or never finished: a lease
        taken before asking the bot tells a retry that it is in hand, and the
        retry waits for it (its ack, like the first one, comes once the bot has
        answered). A process killed mid-routing stops renewing its lease; the
        next retry takes it over within ROUTING_LEASE_SECONDS and finishes the
        turn from the bot's answer if it was stored, or asks the bot if not
        (Rasa answers a message it has handled from its tracker: bot/channels.py).
        """
        if payload:
            await self._require_offered(conversation_id, payload, f"customer:{key}")
        data = {"payload": payload} if payload else None
        # A new message for the bot comes with its routing lease, taken by the step that stores it.
        # It counts the conversation for the day in that step too (Bridge._count_conversation).
        owner, lease_ms = secrets.token_hex(8), int(ROUTING_LEASE_SECONDS * 1000)
        message_id, added, said_in, leased, untold_stay, refused = await self.append(
            conversation_id, "customer", f"customer:{key}", text, data, lease=(owner, lease_ms),
            count_once=self._conversation_count(), told_once=rules.KEPT_KEY_PREFIX)
        if said_in is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        if added and masked:
            await self.customer_masked(conversation_id, masked)
        if added and said_in in (State.QUEUED, State.AGENT):
            offer = rules.leave_queue_offer(said_in, text, message_id)
            if offer:
                with contextlib.suppress(InvalidTransition):  # claimed meanwhile: a person reads it now
                    await self.append(conversation_id, "system", offer.key, offer.text, offer.data,
                                      only_in=State.QUEUED)
            elif untold_stay is not None:
                await self._kept_for_person(conversation_id, untold_stay)
            return Said(message_id, deliver_first=False)  # for the person: the append marked it routed (a retry finds it so)
        routing = Routing.TAKEN
        while not leased and (routing := await self.store.take_routing(conversation_id, message_id, owner,
                                                                       lease_ms)) is Routing.HELD:
            await asyncio.sleep(ROUTING_POLL_SECONDS)
        if routing is Routing.DONE:
            return Said(message_id, deliver_first=not added)  # a resent message: its answer is in the transcript
        renewing = asyncio.create_task(self._keep_lease(conversation_id, message_id, owner, lease_ms))
        turn = Turn(routed=False, answer=None)  # the bot's answer may mark it routed as it is stored (_ask_bot)
        try:
            retry = routing is Routing.RETAKEN
            if not retry or not await self._finish_stored_answer(conversation_id, message_id):
                for effect in await self._customer_said(conversation_id, text, said_in):
                    if isinstance(effect, AskBot):
                        if not leased:  # a resent or retaken message: the handoff kept is read now
                            refused = await self.store.refused_handoff(conversation_id)
                        turn = await self._ask_bot(conversation_id, message_id, payload or effect.text, refused, retry)
        except Exception:
            with contextlib.suppress(Exception):  # Redis may be what failed: then the lease runs out
                await self.store.keep_routing(conversation_id, message_id, owner, 0)
            raise
        finally:
            renewing.cancel()
        if not turn.routed:
            await self.store.routed(conversation_id, message_id)
        return Said(message_id, deliver_first=True, answer=turn.answer)

    async def _customer_said(self, conversation_id: str, text: str, said_in: State) -> List[Effect]:
        """What the customer's message calls for. Stored while the bot had the conversation (the
        append read the state in the same step, and refused one to a closed conversation: the rule
        handoff.machine states, enforced there), it is the bot's to answer, which changes nothing stored: the conversation is not read again
        for it."""
        _, effects = apply(Conversation(conversation_id, state=said_in), CustomerSaid(text, said_in))
        return effects

    async def _kept_for_person(self, conversation_id: str, queued_at: int) -> None:
        """Nobody answers a queued customer's messages until a person picks up: told once per stay in the
        queue (``queued_at``, which the append found untold) that they are kept, with the wait as it stands now
        (rules.kept_for_person)."""
        notice = rules.kept_for_person(queued_at, await self.customer_status(conversation_id))
        with contextlib.suppress(InvalidTransition):  # claimed meanwhile: a person reads it now
            await self.append(conversation_id, "system", notice.key, notice.text, notice.data, only_in=State.QUEUED)

    async def _require_offered(self, conversation_id: str, payload: str, client_key: str) -> None:
        """Only a button the bot offered in its latest turn (handoff.rules.require_offered); a resent
        message (its key stored) was checked when it was first sent. One pressed in a closed conversation
        is left to the append, which refuses it (``conversation_closed``): that is what the customer needs
        to hear, not which buttons are on offer. One round trip (Store.buttons_to_check)."""
        newest = await self.store.buttons_to_check(conversation_id, client_key, OFFER_LOOKBACK)
        if newest is not None:
            rules.require_offered(payload, newest)

    async def _keep_lease(self, conversation_id: str, message_id: str, owner: str, lease_ms: int) -> None:
        """Renews a routing lease until cancelled (the routing is over)."""
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                if not await self.store.keep_routing(conversation_id, message_id, owner, lease_ms):
                    logger.warning("lost the routing lease of %s in %s", message_id, conversation_id)
                    return
            except Exception:  # noqa: BLE001 - a Redis blip: try again at the next renewal
                logger.warning("could not renew the routing lease of %s in %s", message_id, conversation_id)

    async def _finish_stored_answer(self, conversation_id: str, message_id: str) -> bool:
        """A killed process may have stored the bot's answer before it died: finish the turn from
        it (a handoff in it still queues the customer: it was stored once admitted) instead of
        asking the bot again; a refused handoff's notice is the whole answer."""
        stored = await self.store.answers_to(conversation_id, message_id)
        if not stored:
            return False
        notices = {message["data"].get("notice") for message in stored if message["kind"] == "system"}
        if notices == {rules.QUEUE_REFUSED_NOTICE}:
            return True  # the handoff was refused: nothing follows
        if notices:  # the assistant was down: admitted before its notice was stored
            await self._queue_without_bot(conversation_id)
            return True
        replies = tuple({"text": message["text"], **message["data"]} for message in stored)
        payload = handoff_in(replies)
        if payload is not None:  # stored only once admitted (_ask_bot)
            await self._bot_handed_over(conversation_id, message_id, replies, payload)
        return True

    async def _ask_bot(self, conversation_id: str, message_id: str, text: str,
                       refused: Optional[Dict[str, Any]], retry: bool = False) -> Turn:
        """``refused``: a handoff the queue refused reached nobody (Store.keep_refused_handoff): should the bot
        hand over now, its turns come first. ``retry``: an earlier attempt may have reached Rasa (its process
        died meanwhile). Routed when the answer's step marked the message routed too (an answer without a
        handoff ends the turn)."""
        try:
            replies = await self.bot.reply(conversation_id, message_id, text, retry,
                                           extra={PREVIOUS_HANDOFF: refused} if refused else None)
        except BotUnavailable as error:
            logger.warning("Rasa did not answer for %s: %r", conversation_id, error)
            if not await self._admitted(conversation_id, message_id):
                return Turn(routed=False, answer=None)
            await self.append(
                conversation_id, "system", f"bot-down:{message_id}",
                "Sorry, the assistant isn't available right now, so I've put you in the queue for our support team.",
                {"notice": "bot_unavailable"},
            )
            await self._queue_without_bot(conversation_id)
            return Turn(routed=False, answer=None)
        payload = handoff_in(tuple(replies))
        if payload is not None and rules.queues(payload) and not await self._admitted(
                conversation_id, message_id, urgent=payload.get("reason") == DISTRESS):
            # What the bot said promises a person: not stored (the refusal notice is). Its payload is
            # the context of a request the customer may leave instead (customer_left_request).
            await self.store.keep_refused_handoff(conversation_id, payload)
            return Turn(routed=False, answer=None)
        try:
            # Without a handoff the answer changes nothing else (machine.apply): stored, announced
            # and the message marked routed in one step.
            answer = await self.store.answer(conversation_id, message_id, replies, routed=payload is None)
        except InvalidTransition:
            return Turn(routed=payload is None, answer=None)  # a person took over while the bot was thinking: not shown
        self.metrics["messages_bot"] += len(answer.messages)
        if payload is not None:
            await self._bot_handed_over(conversation_id, message_id, tuple(replies), payload)
        return Turn(routed=payload is None, answer=answer)

    async def _bot_handed_over(self, conversation_id: str, message_id: str, replies: Tuple[Dict[str, Any], ...],
                               payload: Dict[str, Any]) -> None:
        """Queued (admitted already: ``_admitted``) in the skill group of the payload's topic, or, for a
        callback booked with the bot, stored with the agents' requests."""
        group = group_for(payload.get("topic"), payload.get("reason"), self.settings.skill_groups)
        _, effects = await self.transition(conversation_id, BotAnswered(replies, group))
        for effect in effects:
            if isinstance(effect, StoreRequest) and effect.handoff is not None:
                await self._callback_booked_with_bot(conversation_id, message_id, effect.handoff)

    async def _queue_without_bot(self, conversation_id: str) -> None:
        """Admitted already (``_admitted``): the bot's stand-in handoff."""
        payload = {"custom": {"handoff": {"reason": BOT_UNAVAILABLE,
                                          "summary": "The assistant did not answer; the customer was queued."}}}
        group = group_for(None, BOT_UNAVAILABLE, self.settings.skill_groups)
        await self.transition(conversation_id, BotAnswered((payload,), group))

    async def customer_asked_for_person(self, conversation_id: str) -> None:
        """The "talk to a person" button. The bot owns the summary: it is asked for its handoff
        payload (what was asked and answered since the last handoff a person took up) as if the customer had
        asked it in words; the bridge's one line stands in only when the bot does not answer."""
        handoff: Optional[Dict[str, Any]] = None
        conversation = await self.store.load(conversation_id)
        if would_queue(conversation):
            await self._admit_to_queue(conversation_id)  # before the bot is asked: a refusal costs nothing
            # A handoff the queue refused reached nobody: its turns come first, or the agent would re-ask them.
            refused = await self.store.take_refused_handoff(conversation_id)
            handoff = await self._handoff_from_bot(conversation_id, "button", shown_in=conversation.state,
                                                   previous=refused)
        topic, reason = (handoff.get("topic"), handoff.get("reason")) if handoff else (None, "requested")
        group = group_for(topic, reason, self.settings.skill_groups)
        await self.transition(conversation_id, CustomerAskedForPerson(group, handoff))

    async def _handoff_from_bot(self, conversation_id: str, source: str, shown_in: Optional[State],
                                customer_wrote: Sequence[str] = (),
                                previous: Optional[Dict[str, Any]] = None) -> Optional[Dict[str, Any]]:
        """The bot's handoff payload, asked for as the customer asking for a person by ``source``,
        with what the customer wrote that the bot did not see and the payload it extends (BotClient).
        What the bot says with it is stored for the customer while the conversation is still
        ``shown_in`` (None: not at all). None when the bot does not answer with a payload."""
        key = f"{source}-{secrets.token_hex(8)}"
        try:
            replies = await self.bot.handoff_for(conversation_id, key, source, customer_wrote, previous)
        except BotUnavailable as error:
            logger.warning("Rasa did not summarise %s for a person: %r", conversation_id, error)
            return None
        payload = handoff_in(tuple(replies))
        if payload is None:
            logger.warning("Rasa answered %s for a person without a handoff payload", conversation_id)
            return None
        for index, reply in enumerate(replies if shown_in else []):
            data = {name: value for name, value in reply.items() if name not in ("text", "recipient_id")}
            try:
                await self.append(conversation_id, "bot", f"bot:{key}:{index}", str(reply.get("text", "")), data,
                                  only_in=shown_in)
            except InvalidTransition:
                break  # the conversation moved on meanwhile: what the bot said is no longer true
        return payload

    async def customer_masked(self, conversation_id: str, kinds: Sequence[Secret]) -> None:
        """Something the customer sent was masked at the edge (handoff.privacy): counted, and the customer
        told once per conversation. The notice's key in the idempotency hash is the flag that they were
        told, written by the same script as the notice (Store.append)."""
        for kind in kinds:
            self.metrics[f"masked_{kind.value}"] += 1
        notice = rules.privacy_notice()
        await self.append(conversation_id, "system", notice.key, notice.text, notice.data)

    async def customer_gave_details(self, conversation_id: str, details: Dict[str, Any]) -> None:
        """While waiting: a short description and contact details, shown in the agents' queue."""
        clean = rules.waiting_details(await self.store.load(conversation_id), details)
        await self.store.save_details(conversation_id, clean)
        await self.store.publish(self.store.queue_channel, {"conversation": conversation_id})

    async def customer_left_request(self, conversation_id: str, kind: str, details: Dict[str, Any], key: str) -> None:
        """A callback request or a message instead of waiting; stored for the agents once per ``key``
        (the client's id: a resent request is stored once). A queued customer leaving one has
        abandoned the queue (handoff.experience)."""
        clean = rules.request_details(kind, details)
        # One open request, a few a day (handoff.requests); a new one counts against its address's cap too.
        if await self.requests.may_leave(conversation_id, key):
            await self.limits.new_request(await self.store.client(conversation_id))
        queued_at = (await self.store.times(conversation_id)).get("queued_at")
        before = await self.store.load(conversation_id)
        was_queued = before.state is State.QUEUED
        _, effects = await self.transition(conversation_id, CustomerLeftRequest(kind))
        context = next(effect.handoff for effect in effects if isinstance(effect, StoreRequest))
        # The customer's own words count in the summary: what they wrote to people while queued, and the message.
        wrote = (await self._written_since_handoff(conversation_id) if context else []) + \
            ([clean["description"]] if clean.get("description") else [])
        # Not queued: the handoff the queue refused (if any) is what the request stands for.
        context = context or await self.store.take_refused_handoff(conversation_id)
        handoff = (await self._handoff_from_bot(conversation_id, kind, None, wrote, context)
                   or context or bridge_handoff(kind))
        group = before.group if was_queued else group_for(handoff.get("topic"), handoff.get("reason"),
                                                          self.settings.skill_groups)
        _, added = await self.requests.leave(conversation_id, kind, clean, key, handoff, group)
        if added:
            await self._count_escalation(conversation_id, handoff_reason=None)
            if was_queued and queued_at:
                await self.experience.abandoned(self.today()[0], self.now_ms() - queued_at, "left_request",
                                                conversation_id, before.group)
        await self.store.publish(self.store.queue_channel, {"request": conversation_id})
        await self.store.publish(self.store.live_channel(conversation_id), {"state": "request"})

    async def customer_left_queue(self, conversation_id: str) -> None:
        """The customer no longer needs a person: back to the bot, an abandoned stay (counted by
        the one request that took the conversation out of the queue; a resent one changes nothing)."""
        queued_at = (await self.store.times(conversation_id)).get("queued_at")
        conversation, effects = await self.transition(conversation_id, CustomerLeftQueue())
        if effects and queued_at:
            await self.experience.abandoned(self.today()[0], self.now_ms() - queued_at, "left_queue",
                                            conversation_id, conversation.group)

    async def _callback_booked_with_bot(self, conversation_id: str, message_id: str, payload: Dict[str, Any]) -> None:
        """The bot's callback form hands over no chat (machine.apply) but a request: agents find it
        with those left in the widget."""
        if payload.get("reason") != "callback":
            return
        group = group_for(payload.get("topic"), payload.get("reason"), self.settings.skill_groups)
        try:  # a new one counts against its address's requests, as one left in the widget (handoff.limits)
            if await self.requests.may_leave(conversation_id, f"bot:{message_id}"):
                await self.limits.new_request(await self.store.client(conversation_id))
            booked = await self.requests.booked_with_bot(conversation_id, message_id, payload, group)
        except LimitReached as refused:
            # The bot has just said the call is booked: the customer hears at once that it is not.
            logger.info("the callback the bot booked in %s is not stored: %s", conversation_id, refused)
            notice = rules.callback_not_booked(message_id, refused.code, refused.retry_at_ms)
            await self.append(conversation_id, "system", notice.key, notice.text, notice.data)
            return
        if booked and booked[1]:
            await self._count_escalation(conversation_id, handoff_reason=None)
        await self.store.publish(self.store.queue_channel, {"request": conversation_id})
        await self.store.publish(self.store.live_channel(conversation_id), {"state": "request"})

    async def agents_available(self, group: Optional[str] = None) -> bool:
        """Open, and someone available (who takes ``group``, when given): a team all away is nobody."""
        is_open = self._open_now()
        online = await self.available_agents() if is_open else []
        profiles = await self.agents.profiles() if group is not None and online else {}
        return rules.staffed(is_open, online, profiles, group)

    async def shared_figures(self, group: str) -> GroupFigures:
        """The group's figures as read since this process's last queue notification: one reading per
        group per change, however many of its customers' sockets this process holds."""
        reading = self._figures.get(group)
        if reading is None:  # one per skill group: as many as the configuration names
            reading = self._figures[group] = SharedReading(
                lambda: self.store.group_figures(group), lambda: self.hub.notified(self.store.queue_channel))
        return await reading.get()

    async def customer_rated(self, conversation_id: str, score: int, comment: str) -> None:
        await self.transition(conversation_id, CustomerRated(score, comment))
        await self.earlier.changed(conversation_id)  # a chat that follows it shows the rating (handoff.earlier)

    async def customer_status(self, conversation_id: str, shared: bool = False) -> Dict[str, Any]:
        """``shared``: the status follows a queue change, which every waiting customer's socket in this
        process hears: their group's figures are read once for all of them (``shared_figures``)."""
        waiting = await self.store.load_waiting(conversation_id, self.shared_figures if shared else None)
        conversation = waiting.conversation
        status: Dict[str, Any] = {"state": conversation.state.value}
        if conversation.state is State.QUEUED:
            # The wait from what the queue does (handoff.estimate); position None only when claimed
            # between the reads: the status that follows says so.
            state = snapshot(self.now_ms(), conversation.group, waiting.position, waiting.head_queued_ms,
                             waiting.waiting_since_ms, waiting.waiting, waiting.claims, waiting.handling_ms,
                             waiting.agents, self._open_now(), waiting.ready_ms, waiting.exits,
                             ahead_since_ms=waiting.ahead_since_ms, started_ms=waiting.started_ms,
                             ahead=waiting.ahead)
            status.update(status_fields(estimate(state), state.position))
        if conversation.state is State.AGENT:
            status["agent"] = await self.agents.display_name(conversation.agent or "")  # never the login name
        if conversation.state is State.CLOSED:
            status["rated"] = conversation.rated
        # Not worked out again at every queue change: a queued customer's open request comes with their own
        # statuses (after a hello, after what they did), which the widget keeps.
        if conversation.state in (State.BOT, State.CLOSED) or (conversation.state is State.QUEUED and not shared):
            request = await self.requests.customer_view(waiting.request_id) if waiting.request_id else None
            if request:
                status["request"] = request
        if conversation.state in (State.BOT, State.CLOSED):
            if waiting.left_queue:
                status["left_queue"] = "gone"
        return status

    # ---- agents -------------------------------------------------------------

    async def queue_view(self, agent: str, shared: bool = False) -> List[Dict[str, Any]]:
        """The queue as this agent sees it: their skill groups, oldest first. ``shared``: the view follows
        a queue change, which every agent's socket in this process hears: the queue is read once for
        all of them (``_queue_reading``), and each sees the part of it their groups allow."""
        groups = (await self.agents.profile(agent))["groups"]
        items = await (self._queue_reading.get() if shared else self._queued())
        return [item for item in items if visible_to(item["group"], groups)]

    async def _queued(self) -> List[Dict[str, Any]]:
        """Every queued conversation as agents see it, oldest first."""
        self.metrics["queue_readings"] += 1
        now = self.now_ms()
        items = []
        queue = await self.store.queue()
        loaded = await self.store.load_with_details([conversation_id for conversation_id, _ in queue])
        modes = await self.assignment.modes() if queue else {}
        for conversation_id, queued_at in queue:
            if conversation_id not in loaded:  # expired while waiting: out of the queue and its group's
                known = {*self.settings.skill_groups.values(), DEFAULT_GROUP}
                known.update(*(profile["groups"] for profile in (await self.agents.profiles()).values()))
                # Abandoned: counted by the one process that takes it out of the queue.
                if await self.store.forget_queued(conversation_id, known):
                    await self.experience.abandoned(self.today()[0], int(now - queued_at), "expired", conversation_id, None)
                continue
            conversation, details, times = loaded[conversation_id]
            if conversation.state is not State.QUEUED:
                continue
            handoff = conversation.handoff
            presence = presence_shown(parse_presence(times.get("presence")), now)
            items.append({
                "details": details,
                "group": conversation.group,
                "conversation_id": conversation_id,
                "queued_at": int(queued_at),  # the queue's order (a requeued customer's place is at the front)
                # Since first queued: a transfer keeps the customer's wait (not the place's score).
                "waiting_seconds": max(0, int((now - float(times.get("waiting_since") or queued_at)) / 1000)),
                "transferred_by": times.get("transferred_by") or None,
                # A signed-in customer's name as their site signed it (handoff.contacts); None: anonymous.
                "customer_name": times.get("contact_name") or None,
                # The closed chat this one follows (handoff.earlier): the customer wrote again after it.
                "follows": times.get("follows") or None,
                "reason": conversation.reason,
                "topic": handoff.get("topic"),
                "summary": handoff.get("summary", ""),
                "last_message": last_message(times.get("last_said")),
                "labels": split(times.get("labels")),
                # Connected, typing or gone, and for how long (handoff.customer_presence); the seconds grow by themselves.
                "customer_presence": presence["state"],
                "customer_presence_seconds": presence["seconds"],
                # Claimed by hand, or offered to agents in turn (handoff.assignment): the console says which.
                "assignment": modes.get(conversation.group, Mode.MANUAL).value,
                # When the first response is due (handoff.sla); the console counts down.
                "sla": due_times(self.sla.target(conversation.group), conversation.state, times),
            })
        return items

    async def claim(self, agent: str, conversation_id: str, accepted: bool = False) -> Conversation:
        """``accepted``: the agent has just accepted the conversation's offer (accept_offer)."""
        profile = await self.agents.profile(agent)
        waiting = await self.store.load(conversation_id)
        if rules.claim_is_resent(waiting, agent, profile["groups"]):
            return waiting
        if not accepted:  # an automatic group's chats go by offer (handoff.assignment)
            may_claim(await self.assignment.mode(waiting.group), await self.assignment.offered_to(conversation_id),
                      agent, profile["roles"])
        queued_at = (await self.store.times(conversation_id)).get("queued_at")
        ready = await self.store.ready_since(agent)  # read before the claim makes it now
        conversation, _ = await self.transition(conversation_id, AgentClaimed(agent), profile["max_chats"])
        await self.experience.claimed(conversation_id)
        if queued_at:
            now = self.now_ms()
            await self.store.record_claim(waiting.group, conversation_id, now, rules.pickup_ms(now, queued_at, ready),
                                          now - queued_at)
            await self.store.record_day_wait(self.today()[0], now - queued_at)
            await self.store.publish(self.store.stats_channel, {})
        return conversation

    async def agent_said(self, agent: str, conversation_id: str, text: str, key: str) -> str:
        """Stored only while this agent serves the conversation (checked atomically)."""
        shown_as = await self.agents.display_name(agent)  # what the customer sees (handoff.connections.customer)
        appended = await self.append(conversation_id, "agent", f"agent:{agent}:{key}", text,
                                     {"agent": agent, "shown_as": shown_as},
                                     only_in=State.AGENT, only_agent=agent)
        if appended.added:
            await self.agent_answered(agent, conversation_id)
        return appended.id

    async def agent_answered(self, agent: str, conversation_id: str) -> None:
        """An agent's message (text or file) was stored: the first response's clock and the SLA's stop."""
        day = self.today()[0]
        await self.experience.agent_replied(conversation_id, day, agent)
        await self.sla.agent_replied(conversation_id, agent, day, self.now_ms())

    async def check_transfer(self, agent: str, conversation_id: str, to_agent: Optional[str],
                             to_group: Optional[str]) -> int:
        """What a transfer needs before anything is written for it: a colleague who exists, is online and
        takes work (or a group), and the conversation served by ``agent``, checked right after the request's
        shape (someone not serving it learns nothing about colleagues). Returns the colleague's chat limit, which the
        transfer's commit checks."""
        rules.transfer_shape(to_agent, to_group)
        rules.require_serving(await self.store.load(conversation_id), agent)
        accounts, online = (await self.agents.names(), await self.store.online_agents()) if to_agent else ([], [])
        rules.transfer_target(to_agent, accounts, online)
        if to_agent:
            await self.statuses.require_takes_work(to_agent, await self.agents.display_name(to_agent))
        if to_agent == agent:
            raise InvalidTransition("that is you already")
        return (await self.agents.profile(to_agent))["max_chats"] if to_agent else 1_000_000

    async def transfer(self, agent: str, conversation_id: str, to_agent: Optional[str], to_group: Optional[str],
                       note: Optional[Tuple[str, str]] = None) -> None:
        """``note`` (its text and idempotency key) is written once the transfer's checks pass, then pinned
        for the receiver by the transfer's own commit; without one the commit unpins an earlier transfer's.
        A transfer refused in its commit (the colleague at their limit) changes no pin; its note stays in
        the transcript, as a note."""
        limit = await self.check_transfer(agent, conversation_id, to_agent, to_group)
        note_id = ""
        if note is not None:
            note_id = await self.notes.transfer_note_written(agent, conversation_id, note[0], note[1],
                                                             to_agent, to_group)
        handoff = await self._handoff_for_transfer(agent, conversation_id)
        await self.transition(conversation_id, Transferred(agent, to_agent, to_group, handoff), limit,
                              pinned_note=note_id)
        if to_agent:
            await self.store.publish(self.store.key("agent-events", to_agent), {"assigned": conversation_id})

    async def _handoff_for_transfer(self, agent: str, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The payload the next agent gets: the bot's, extended with what the customer wrote to people
        since the handoff. None (the payload stays as it was) when the agent does not serve the
        conversation (the transfer is refused) or the bot does not answer."""
        conversation = await self.store.load(conversation_id)
        if conversation.state is not State.AGENT or conversation.agent != agent:
            return None
        wrote = await self._written_since_handoff(conversation_id)
        if not wrote:
            return None
        return await self._handoff_from_bot(conversation_id, "transfer", None, wrote, conversation.handoff or None)

    async def _written_since_handoff(self, conversation_id: str) -> List[str]:
        """The customer's messages since the conversation was first queued in this stay with people
        (the bot saw none of them), the latest MAX_WRITTEN; files are left out (their text is their name)."""
        since = (await self.store.times(conversation_id)).get("waiting_since")
        if not since:
            return []
        said = [message["text"] for message in await self.store.messages_after(conversation_id, None)
                if message["kind"] == "customer" and message["ts"] >= since and attachment_of(message) is None]
        return said[-MAX_WRITTEN:]

    async def team(self) -> Dict[str, Any]:
        """Colleagues (online or not) and the skill groups, for the console's transfer choices."""
        online = set(await self.store.online_agents())
        profiles = await self.agents.profiles()
        statuses = {row["name"]: row["status"] for row in team_statuses(profiles, online, await self.statuses.all(),
                                                                        {}, self.now_ms())}
        groups = set(self.settings.skill_groups.values()) | {DEFAULT_GROUP}
        agents = []
        for name, profile in profiles.items():
            if "agent" not in profile["roles"]:
                continue
            groups.update(group for group in profile["groups"] if group != ALL_GROUPS)
            agents.append({"name": name, "display_name": profile["display_name"], "groups": profile["groups"],
                           "online": name in online,
                           "serving": len(await self.serving(name)), "max_chats": profile["max_chats"],
                           "status": statuses[name]})
        return {"agents": agents, "groups": sorted(groups)}

    async def choose_status(self, agent: str, status: Status) -> AgentStatus:
        """Available or away, as the agent chose in the console."""
        chosen, changed = await self.statuses.choose(agent, status, self.now_ms())
        if changed:
            await self._announce_status(agent, chosen)
        return chosen

    async def agent_arrived(self, agent: str, logged_in: bool = False) -> AgentStatus:
        """A console connected (available, unless they chose away and never went offline), or a login
        (available)."""
        now = self.now_ms()
        status, changed = await (self.statuses.logged_in(agent, now) if logged_in else self.statuses.arrived(agent, now))
        if changed:
            await self._announce_status(agent, status)
        self.assign_due.set()  # a free agent: offers may follow
        return status

    async def _announce_status(self, agent: str, status: AgentStatus) -> None:
        """Like an agent coming or going: waits, "is anyone available" and dashboards change; the agent's
        own consoles (other tabs) show it."""
        self.assign_due.set()  # away or back: offers are withdrawn or made
        await self.store.publish(self.store.queue_channel, {"presence": agent})
        await self.store.publish(self.store.key("agent-events", agent),
                                 {"status": {"status": status.status.value, "since": status.since_ms}})

    async def mark_offline_agents(self) -> None:
        """Agents with no console open for the grace period are offline (whichever process sweeps first)."""
        now = self.now_ms()
        for agent in await self.statuses.sweep(await self.store.online_agents(), now, self.settings.agent_grace_seconds):
            await self._announce_status(agent, await self.statuses.get(agent))

    async def requeue_lost_agents(self) -> None:
        """Chats of agents offline for longer than the grace period go back to the front."""
        now = self.now_ms()
        online = set(await self.store.online_agents())
        for agent in await self.store.agents_serving():
            if agent in online or agent in await self.store.online_agents():  # asked again: they may be back
                continue
            since = await self.store.offline_since(agent)
            if since is None:
                # Its process died without saying goodbye: start the grace period now.
                await self.statuses.missed_goodbye(agent, now)
                continue
            if not rules.agent_lost(now, since, self.settings.agent_grace_seconds):
                continue
            for conversation_id in await self.serving(agent):
                try:
                    await self.transition(conversation_id, AgentLost(agent))
                except (StateError, ConversationNotFound):
                    await self.forget_serving(agent, conversation_id)  # already moved on

    async def customers_gone(self) -> None:
        """Queued customers with no connection for HANDOFF_CUSTOMER_GONE_SECONDS leave the queue,
        counted as abandoned (way "gone") by the one process whose change is stored."""
        for conversation_id in await self.customers_seen.gone(await self.store.queue()):
            queued_at = (await self.store.times(conversation_id)).get("queued_at")
            try:
                conversation, effects = await self.transition(conversation_id, CustomerGone())
            except ConversationNotFound:
                continue  # expired: the queue view takes it out
            if effects:
                await self.store.mark_left_queue(conversation_id)
                waited = self.now_ms() - queued_at if queued_at else 0
                await self.experience.abandoned(self.today()[0], waited, "gone", conversation_id, conversation.group)

    async def customers_lost(self) -> None:
        """Queued and served customers shown as connected whose sockets' bridge process died are gone since
        their sockets were last renewed (handoff.customer_presence)."""
        watched = [conversation_id for conversation_id, _ in await self.store.queue()]
        for agent in await self.store.agents_serving():
            watched.extend(await self.serving(agent))
        await self.customer_presence.sweep(watched, self.now_ms())

    async def assign(self) -> None:
        """One assignment round (handoff.assignment): what ran out is withdrawn, what can be offered is."""
        made, withdrawn = await self.assignment.run_round()
        self.metrics["offers_made"] += len(made)
        self.metrics["offers_withdrawn"] += len(withdrawn)

    async def accept_offer(self, agent: str, conversation_id: str) -> Conversation:
        """The agent takes the conversation offered to them: then it is theirs exactly as after a claim."""
        await self.assignment.take(agent, conversation_id)
        try:
            conversation = await self.claim(agent, conversation_id, accepted=True)
        except BaseException:
            await self.assignment.release(conversation_id, agent, taken=False)
            self.assign_due.set()  # to the next agent
            raise
        await self.assignment.release(conversation_id, agent, taken=True)
        return conversation

    async def assign_to(self, agent: str, conversation_id: str, by: str) -> Conversation:
        """A supervisor hands a waiting conversation to ``agent``, as a transfer to them would: the agent must
        exist, be online, available and under their chat limit; the claim's commit decides against a claim or
        an accepted offer at the same moment (one wins). An open offer to another agent is withdrawn by the
        next round; the agent's consoles open the conversation and say who (``by``) assigned it."""
        profiles = await self.agents.profiles()
        if agent not in profiles or "agent" not in profiles[agent]["roles"]:
            raise MalformedMessage(f"no agent {agent!r}")
        rules.transfer_target(agent, list(profiles), await self.store.online_agents())
        await self.statuses.require_takes_work(agent, profiles[agent]["display_name"])
        waiting = await self.store.load(conversation_id)
        if waiting.state is not State.QUEUED:
            raise InvalidTransition("that conversation is no longer waiting", code="not_waiting")
        conversation = await self.claim(agent, conversation_id, accepted=True)
        await self.store.publish(self.store.key("agent-events", agent), {"assigned": conversation_id, "by": by})
        self.assign_due.set()  # an offer of it to someone else is withdrawn
        return conversation

    async def decline_offer(self, agent: str, conversation_id: str) -> None:
        await self.assignment.decline(agent, conversation_id)
        self.assign_due.set()  # to the next agent

    async def offers_view(self, agent: str) -> List[Dict[str, Any]]:
        """The conversations offered to the agent, as their queue cards, with when each offer runs out."""
        offers = {offer.conversation_id: offer for offer in await self.assignment.offers()
                  if offer.agent == agent and not offer.held}
        if not offers:
            return []
        now = self.now_ms()
        return [{**item, "offer_expires_at": offers[item["conversation_id"]].expires_ms,
                 "offer_seconds": max(0, round((offers[item["conversation_id"]].expires_ms - now) / 1000))}
                for item in await self.queue_view(agent) if item["conversation_id"] in offers]

    async def assignment_modes(self) -> Dict[str, str]:
        """Every skill group known (configured, the default, agents') and how its chats are assigned."""
        groups = set(self.settings.skill_groups.values()) | {DEFAULT_GROUP}
        for profile in (await self.agents.profiles()).values():
            groups.update(group for group in profile["groups"] if group != ALL_GROUPS)
        stored = await self.assignment.modes()
        return {group: stored.get(group, Mode.MANUAL).value for group in sorted(groups | set(stored))}

    async def hand_back(self, agent: str, conversation_id: str) -> None:
        await self.transition(conversation_id, HandedBack(agent))
        await self._remember_replies(conversation_id)

    async def close(self, agent: str, conversation_id: str, closing: Closing = Closing(),
                    request_done: bool = False) -> None:
        """Closes the chat, then (``request_done``) settles the customer's open request (handoff.requests).
        A close resent by the agent who closed it (its ack lost, or the bridge gone between the two
        steps) is not refused: the chat stays as it was closed and the request is settled if still open."""
        try:
            await self.transition(conversation_id, Closed(agent), closing=closing)
        except InvalidTransition:
            conversation = await self.store.load(conversation_id)
            if conversation.state is not State.CLOSED or conversation.agent != agent:
                raise
        else:
            await self._remember_replies(conversation_id)
        await self.requests.chat_closed(conversation_id, agent, closing.disposition, request_done)

    async def _remember_replies(self, conversation_id: str) -> None:
        """An agent's part ended: its replies wait for the bot's suggestion index. Only suggestions
        depend on it, so a failure is logged, never the agent's."""
        try:
            await self.suggestions.remember(conversation_id)
        except Exception:  # noqa: BLE001 - the close or hand back is done and stored
            logger.exception("queueing %s's replies for suggestions failed", conversation_id)

    async def forget_serving(self, agent: str, conversation_id: str) -> None:
        await self.store.forget_serving(agent, conversation_id)

    async def serving(self, agent: str) -> List[str]:
        members = await self.store.redis.smembers(self.store.key("serving", agent))
        return sorted(member.decode() for member in members)

    async def related(self, via: str, conversation_id: str) -> bool:
        """Whether an agent who may read ``via`` may read ``conversation_id`` through it: another conversation of
        the same signed-in customer (handoff.contacts), or the closed one ``via`` follows (handoff.earlier)."""
        return (await self.earlier.followed(via) == conversation_id
                or await self.contacts.same_contact(via, conversation_id))

    async def transcript(self, conversation_id: str, last_seen: Optional[str] = None) -> List[StoredMessage]:
        return await self.store.messages_after(conversation_id, last_seen)

    async def require_serving(self, agent: str, conversation_id: str) -> Conversation:
        conversation = await self.store.load(conversation_id)
        rules.require_serving(conversation, agent)
        return conversation
