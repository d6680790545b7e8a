"""Accounting after a drill: the clients' ledgers against what Redis holds.

Read straight from Redis (handoff/store.py's layout), not through the bridge:
``{p}:log:{conversation}`` is the transcript stream (an entry's stream id is
the server message id; its ``key`` field is ``customer:{client id}``,
``agent:{name}:{client id}``, ``bot:{customer message id}:{n}``, ...),
``{p}:idem:{conversation}`` maps each client key to the stream id it was
stored as, and ``{p}:queue`` is the queue (a sorted set, front first).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from redis.asyncio import Redis

from handoff_client import Request
from tests.drills.clients import DrillAgent, DrillCustomer, Ledger
from tests.drills.report import DrillResult

__all__ = ["Tally", "Transcript", "account", "places_lost", "queue_order", "recoveries", "recovery_note",
           "slowest_recovery"]

# How long a connected client may take to receive what is stored once traffic has stopped; on a
# working bridge it has it already. A client reconnecting on its own (after its backoff) gets it then.
LIVE_PATIENCE_SECONDS = 20.0


@dataclass
class Transcript:
    ids: List[str]
    keys: List[str]

    def count(self, key: str) -> int:
        return self.keys.count(key)

    def answers_to(self, server_id: str) -> List[str]:
        """The keys of what the bot (or the bridge, for it) stored in answer to one customer message."""
        return [key for key in self.keys if key.startswith(f"bot:{server_id}:") or key == f"bot-down:{server_id}"]


async def transcript(redis: Redis, prefix: str, conversation_id: str) -> Transcript:
    entries = await redis.xrange(f"{prefix}:log:{conversation_id}")
    return Transcript([entry_id.decode() for entry_id, _ in entries],
                      [fields.get(b"key", b"").decode() for _, fields in entries])


async def queue_order(redis: Redis, prefix: str) -> List[str]:
    """The queued conversations, front first."""
    return [member.decode() for member in await redis.zrange(f"{prefix}:queue", 0, -1)]


def places_lost(before: Sequence[str], after: Sequence[str]) -> int:
    """Conversations queued before that are gone from the queue, or no longer in the same relative order.

    Those out of order are the fewest that would have to move: all but a
    longest run that kept its order.
    """
    rank = {conversation: index for index, conversation in enumerate(after)}
    positions = [rank[conversation] for conversation in before if conversation in rank]
    longest: List[int] = []  # patience sorting: the longest increasing subsequence
    for position in positions:
        index = bisect.bisect_left(longest, position)
        longest[index:index + 1] = [position]
    return (len(before) - len(positions)) + (len(positions) - len(longest))


def recoveries(sends: Iterable[Request], fault_ended: float) -> Dict[str, float]:
    """For each client that sent something, the wait from the end of the fault to its first ack after it."""
    first: Dict[str, float] = {}
    for send in sends:
        if send.acked_at is not None and send.acked_at >= fault_ended:
            first[send.sender] = min(first.get(send.sender, send.acked_at), send.acked_at)
    return {sender: at - fault_ended for sender, at in first.items()}


def slowest_recovery(waits: Dict[str, float]) -> Optional[float]:
    """The longest of ``recoveries``; None when nobody got an ack after the fault."""
    return max(waits.values(), default=None)


def recovery_note(waits: Dict[str, float]) -> str:
    if not waits:
        return "no ack after the fault"
    slowest = max(waits, key=lambda sender: waits[sender])
    return (f"recovery median {statistics.median(waits.values()):.2f} s over {len(waits)} clients, "
            f"slowest {slowest}")


@dataclass
class Tally:
    """What the ledgers and Redis say, in DrillResult's terms plus what the customers were told."""

    sent: int = 0
    acknowledged: int = 0
    lost: int = 0  # acknowledged but not stored, or stored but not delivered while the client was connected
    duplicated: int = 0
    unacknowledged: int = 0  # still waiting for an ack when the drill ended: a hang
    unanswered: int = 0  # a message to the bot with neither a bot answer nor a notice
    problems: List[str] = field(default_factory=list)
    transcripts: Dict[str, Transcript] = field(default_factory=dict)  # conversation id -> its transcript
    # Each customer's latest status before the drill made it reconnect: what it was told live.
    told: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def result(self, name: str, queue_places_lost: int = 0, recovery: Optional[float] = None,
               notes: str = "") -> DrillResult:
        told = f"unanswered {self.unanswered}, unacknowledged {self.unacknowledged}"
        return DrillResult(name, self.sent, self.acknowledged, self.lost, self.duplicated, queue_places_lost,
                           recovery, f"{told}; {notes}" if notes else told)


async def settle(clients: Sequence[DrillCustomer | DrillAgent], timeout: float = 60.0) -> int:
    """Waits until every client's outbox is empty; the number of sends still unacknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(client.outbox for client in clients):
            return 0
        await asyncio.sleep(0.1)
    return sum(len(client.outbox) for client in clients)


async def serving_in_redis(redis: Redis, prefix: str, conversations: Iterable[str]) -> Dict[str, Set[str]]:
    """Agent name -> the conversations Redis says the agent serves: what their console must show."""
    serving: Dict[str, Set[str]] = defaultdict(set)
    for conversation in conversations:
        state, agent = await redis.hmget(f"{prefix}:conv:{conversation}", "state", "agent")
        if state == b"agent" and agent:
            serving[agent.decode()].add(conversation)
    return serving


async def caught_up(client: DrillCustomer | DrillAgent, transcripts: Dict[str, Transcript],
                    serving: Set[str] = frozenset(), timeout: float = LIVE_PATIENCE_SECONDS) -> None:
    """Waits until ``client`` is connected and has received every stored message of its conversations
    (an agent: of ``serving``, all shown again after a reconnect; it may be reconnecting on its own: the
    widget and the console do); gives up after ``timeout``."""
    if isinstance(client, DrillCustomer):
        expected = set(transcripts[client.conversation_id].ids)

        def done() -> bool:
            return client.resumed and expected <= set(client.server_ids)
    else:
        def done() -> bool:
            return client.ready.is_set() and serving <= client.serving and all(
                set(transcripts[conversation].ids) <= client.seen.get(conversation, set())
                for conversation in serving)
    with contextlib.suppress(AssertionError):
        await client.wait_for(done, "every stored message", timeout)


async def account(redis: Redis, prefix: str, ledger: Ledger, customers: Sequence[DrillCustomer],
                  agents: Sequence[DrillAgent], bot_chatters: Sequence[DrillCustomer] = (),
                  failures: Sequence[str] = ()) -> Tally:
    """Every acknowledged message stored exactly once, and delivered exactly once and in order.

    Call it once traffic has stopped (``failures``: what went wrong in it). The
    transcripts are read first. Every message in them must have reached each
    customer while it was connected: on its live connection, or replayed when
    it reconnected on its own, as the widget does after a network drop. Only
    then does every customer resume once more (with last_seen), which must
    bring nothing twice and the same status it was told live. Agents get the
    whole transcript again on reconnecting (the protocol), so for them a
    duplicate is a message received twice within one attachment, and every
    conversation they still serve must have reached them in full. Of
    ``bot_chatters``, those whose conversation never left the bot must have an
    answer or a notice for each of their messages.
    """
    tally = Tally(problems=list(failures))
    tally.problems += [f"{client.name}'s client stopped: {client.crash!r}"
                       for client in [*customers, *agents] if client.crash]
    tally.unacknowledged = await settle([*customers, *agents])
    tally.transcripts = transcripts = {
        c.conversation_id: await transcript(redis, prefix, c.conversation_id) for c in customers}
    # Live delivery: what a connected client has not received by now, the live path lost (a resume would hide it).
    serving = await serving_in_redis(redis, prefix, transcripts)
    await asyncio.gather(*(caught_up(customer, transcripts) for customer in customers),
                         *(caught_up(agent, transcripts, serving[agent.name]) for agent in agents))
    received_live = {customer.name: set(customer.server_ids) for customer in customers}
    connected = {customer.name: customer.resumed for customer in customers}
    tally.told = {customer.name: dict(customer.status) for customer in customers}
    for customer in customers:
        await customer.resume()

    conversation_of = {customer.name: customer.conversation_id for customer in customers}
    for send in ledger.messages():
        tally.sent += 1
        if send.acked_at is None:
            continue
        tally.acknowledged += 1
        conversation = send.data.get("conversation_id") or conversation_of[send.sender]
        key = f"agent:{send.sender}:{send.id}" if "conversation_id" in send.data else f"customer:{send.id}"
        stored = transcripts[conversation].count(key)
        idem = await redis.hget(f"{prefix}:idem:{conversation}", key)
        if stored == 0 or idem is None or idem.decode() != send.message_id:
            tally.lost += 1
            tally.problems.append(f"{send.sender}'s acked {send.id} ({send.message_id}): stored {stored} times, "
                                  f"idempotency key -> {idem!r}")
        tally.duplicated += max(0, stored - 1)
    tally.duplicated += sum(client.conflicting_acks for client in [*customers, *agents])

    for customer in customers:
        expected = transcripts[customer.conversation_id].ids
        not_live = [server_id for server_id in expected if server_id not in received_live[customer.name]]
        got = Counter(customer.server_ids)
        tally.lost += len(not_live)
        tally.duplicated += sum(count - 1 for count in got.values() if count > 1)
        if not_live:
            never = [server_id for server_id in not_live if not got[server_id]]
            tally.problems.append(f"{customer.name} ({'connected' if connected[customer.name] else 'not connected'}) "
                                  f"had not received {not_live}; after resuming still not {never}")
        order = [server_id for server_id in dict.fromkeys(customer.server_ids) if server_id in set(expected)]
        if order != [server_id for server_id in expected if got[server_id]] or customer.out_of_order:
            tally.problems.append(f"{customer.name} received its messages out of order")
        live, resumed = tally.told[customer.name], customer.status
        if (live.get("state"), live.get("position")) != (resumed.get("state"), resumed.get("position")):
            tally.problems.append(f"{customer.name} was told {live} live but {resumed} on resuming")

    for agent in agents:
        tally.duplicated += agent.duplicates
        for conversation in serving[agent.name]:
            if conversation not in agent.serving:
                tally.problems.append(f"{agent.name}'s console does not show {conversation}, which they serve")
            missing = [server_id for server_id in transcripts[conversation].ids
                       if server_id not in agent.seen.get(conversation, set())]
            tally.lost += len(missing)
            if missing:
                tally.problems.append(f"{agent.name} never received {missing} of {conversation}")

    for customer in bot_chatters:
        if any(status.get("state") != "bot" for status in customer.statuses):
            continue
        log = transcripts[customer.conversation_id]
        for server_id, key in zip(log.ids, log.keys):
            if key.startswith("customer:") and not log.answers_to(server_id):
                tally.unanswered += 1
                tally.problems.append(f"{customer.name}'s {server_id} got no answer and no notice")
    if tally.unacknowledged:
        tally.problems.append(f"{tally.unacknowledged} sends never acknowledged")
    return tally
