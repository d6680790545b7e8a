"""Agents' status (handoff.agentstatus) and customers' presence (handoff.customer_presence): the rules
in-process, the scripts against a real redis-server (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, List

import pytest
from redis.asyncio import Redis

from handoff.agentstatus import (
    AgentStatus, AgentStatuses, Status, available_only, parse, requested_status, shown, team_statuses,
)
from handoff.customer_presence import CustomerPresenceBoard, CustomerState, Presence, parse as parse_presence
from handoff.customer_presence import shown as presence_shown
from handoff.exceptions import MalformedMessage
from handoff.queuediff import changes, indexed
from handoff.store import Store
from tests.conftest import fresh_prefix

NOW = 1_800_000_000_000


def run(redis_url: str, scenario: Callable[[Redis, str], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with fresh_prefix(redis_url, "status") as (client, prefix):
            return await scenario(client, prefix)

    return asyncio.run(main())


# ---- the rules, in-process ------------------------------------------------------------------------


def test_only_available_or_away_may_be_chosen():
    assert requested_status({"status": "away"}) is Status.AWAY
    assert requested_status({"status": "available"}) is Status.AVAILABLE
    for wrong in ({"status": "offline"}, {"status": "AWAY"}, {"status": None}, {}, {"status": ["away"]}):
        with pytest.raises(MalformedMessage):
            requested_status(wrong)


def test_a_stored_status_reads_back_and_garbage_is_never_connected():
    assert parse(b"away|123") == AgentStatus(Status.AWAY, 123)
    for unreadable in (None, b"", b"sleeping|1", b"away|soon", b"away"):
        assert parse(unreadable) == AgentStatus(Status.OFFLINE, None)


def test_away_agents_are_not_available_and_a_console_open_is_never_offline():
    statuses = {"ann": AgentStatus(Status.AWAY, 1), "bob": AgentStatus(Status.AVAILABLE, 1),
                "cara": AgentStatus(Status.OFFLINE, 5)}
    assert available_only(["ann", "bob", "cara", "dan"], statuses) == ["bob", "cara", "dan"]
    assert available_only(["ann"], statuses) == [], "a team all away is nobody"
    assert shown(statuses["cara"], connected=True) == AgentStatus(Status.AVAILABLE, 5)
    assert shown(statuses["cara"], connected=False) == statuses["cara"]


def test_the_dashboard_lists_every_agent_account_with_status_and_since_when():
    profiles = {"ann": {"roles": ["agent"], "display_name": "Ann Lee", "groups": ["cards"]},
                "sue": {"roles": ["supervisor"], "display_name": "Sue", "groups": ["all"]},
                "bob": {"roles": ["agent", "supervisor"], "display_name": "Bob", "groups": ["all"]}}
    rows = team_statuses(profiles, {"ann"}, {"ann": AgentStatus(Status.AWAY, NOW - 180_500)}, {"ann": 2}, NOW)
    assert rows == [
        {"name": "ann", "display_name": "Ann Lee", "status": "away", "since": NOW - 180_500, "seconds": 180,
         "connected": True, "serving": 2, "groups": ["cards"]},
        {"name": "bob", "display_name": "Bob", "status": "offline", "since": None, "seconds": None,
         "connected": False, "serving": 0, "groups": ["all"]},
    ]


def test_a_customer_presence_reads_back_with_its_age():
    assert parse_presence("gone|1000") == Presence(CustomerState.GONE, 1000)
    assert presence_shown(parse_presence("typing|1000"), 62_999) == {"state": "typing", "seconds": 61}
    assert presence_shown(parse_presence(None), NOW) == {"state": "gone", "seconds": None}
    assert parse_presence("away|x") == Presence(CustomerState.GONE, None)


def test_the_presence_s_age_alone_is_no_change_of_the_queue_but_its_state_is():
    item = {"conversation_id": "c1", "queued_at": 1, "customer_presence": "connected", "customer_presence_seconds": 3,
            "waiting_seconds": 3}
    older = {**item, "customer_presence_seconds": 40, "waiting_seconds": 40}
    assert changes(indexed([item]), indexed([older])) is None
    typing = {**older, "customer_presence": "typing", "customer_presence_seconds": 0}
    assert changes(indexed([item]), indexed([typing])) == {"added": [], "updated": [typing], "removed": []}


# ---- agents' status in Redis --------------------------------------------------------------------


def test_a_status_is_chosen_kept_on_reconnect_and_reset_by_a_login(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        statuses = AgentStatuses(redis, prefix)
        assert await statuses.arrived("ann", NOW) == (AgentStatus(Status.AVAILABLE, NOW), True)
        assert await redis.hget(f"{prefix}:agent-ready", "ann") == str(NOW).encode(), "a free slot from now"
        assert await statuses.choose("ann", Status.AWAY, NOW + 10) == (AgentStatus(Status.AWAY, NOW + 10), True)
        assert await statuses.choose("ann", Status.AWAY, NOW + 20) == (AgentStatus(Status.AWAY, NOW + 10), False)
        # Another tab connecting (or a reload) keeps the agent's choice.
        assert await statuses.arrived("ann", NOW + 30) == (AgentStatus(Status.AWAY, NOW + 10), False)
        assert await statuses.logged_in("ann", NOW + 40) == (AgentStatus(Status.AVAILABLE, NOW + 40), True)
        assert await statuses.get("bob") == AgentStatus(Status.OFFLINE, None)

    run(redis_url, scenario)


def test_an_agent_without_a_console_for_the_grace_period_is_offline_unless_they_came_back(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        statuses = AgentStatuses(redis, prefix)
        for agent in ("ann", "bob", "cara"):
            await statuses.arrived(agent, NOW)
        await statuses.choose("bob", Status.AWAY, NOW)
        await redis.hset(f"{prefix}:offline-since", mapping={"ann": NOW, "bob": NOW + 5_000})
        # cara's process died without a goodbye: her grace period starts at the first sweep.
        assert await statuses.sweep([], NOW + 10_000, 10) == ["ann"]
        assert await statuses.get("ann") == AgentStatus(Status.OFFLINE, NOW + 10_000)
        assert await redis.hget(f"{prefix}:offline-since", "cara") == str(NOW + 10_000).encode()
        assert await statuses.sweep(["bob"], NOW + 30_000, 10) == ["cara"], "bob is back: his away stays"
        assert await statuses.get("bob") == AgentStatus(Status.AWAY, NOW)
        assert await statuses.sweep([], NOW + 60_000, 10) == ["bob"]
        assert await statuses.sweep([], NOW + 90_000, 10) == [], "offline once"
        assert await statuses.arrived("bob", NOW + 95_000) == (AgentStatus(Status.AVAILABLE, NOW + 95_000), True)

    run(redis_url, scenario)


def test_the_wait_estimates_count_only_the_agents_online_and_not_away(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store, statuses = Store(redis, prefix), AgentStatuses(redis, prefix)
        for agent in ("ann", "bob"):
            await redis.hset(f"{prefix}:agents", agent, json.dumps({"groups": ["all"], "max_chats": 3,
                                                                    "roles": ["agent"]}))
            await store.mark_online(agent, f"{agent}-socket", 30_000, arriving=True)
            await statuses.arrived(agent, NOW)
        assert set((await store.group_figures("general")).agents) == {"ann", "bob"}
        await statuses.choose("ann", Status.AWAY, NOW)
        assert set((await store.group_figures("general")).agents) == {"bob"}
        await statuses.choose("bob", Status.AWAY, NOW)
        assert (await store.group_figures("general")).agents == {}, "everyone away: no number"

    run(redis_url, scenario)


# ---- customers' presence in Redis ----------------------------------------------------------------


async def _listening(redis: Redis, *channels: str) -> Any:
    pubsub = redis.pubsub()
    await pubsub.subscribe(*channels)
    await pubsub.get_message(timeout=1)  # the subscriptions' confirmations
    await pubsub.get_message(timeout=1)
    return pubsub


async def _heard(pubsub: Any) -> List[Any]:
    heard = []
    while message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2):
        heard.append((message["channel"].decode().rsplit(":", 1)[-1], json.loads(message["data"])))
    return heard


def test_a_customer_connects_types_opens_a_second_tab_and_goes_announced_once_per_change(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        board = CustomerPresenceBoard(Store(redis, prefix))
        await Store(redis, prefix).create("c1", "token")
        pubsub = await _listening(redis, f"{prefix}:live:c1", board.channel)
        assert await board.joined("c1", "tab1", NOW) == Presence(CustomerState.CONNECTED, NOW)
        assert await board.joined("c1", "tab2", NOW + 1) is None, "a second tab changes nothing"
        assert await board.typing("c1", True, NOW + 2) == Presence(CustomerState.TYPING, NOW + 2)
        assert await board.typing("c1", True, NOW + 3) is None
        assert await board.typing("c1", False, NOW + 4) == Presence(CustomerState.CONNECTED, NOW + 4)
        assert await board.left("c1", "tab1", NOW + 5) is None, "one tab still open"
        assert await board.left("c1", "tab1", NOW + 5) is None, "a socket goes once"
        assert await board.left("c1", "tab2", NOW + 6) == Presence(CustomerState.GONE, NOW + 6)
        assert await board.typing("c1", True, NOW + 7) is None, "nobody connected types"
        assert await board.get("c1") == Presence(CustomerState.GONE, NOW + 6)
        # Not queued: only the conversation's live channel hears of it (the serving agent).
        assert await _heard(pubsub) == [("c1", {"customer_presence": {"state": state, "since": NOW + at}})
                                        for state, at in (("connected", 0), ("typing", 2), ("connected", 4),
                                                          ("gone", 6))]
        await redis.hset(f"{prefix}:conv:c1", "state", "queued")
        await board.joined("c1", "tab3", NOW + 8)
        assert await _heard(pubsub) == [("c1", {"customer_presence": {"state": "connected", "since": NOW + 8}}),
                                        ("presence-events", {"customer_presence": "c1"})]
        await pubsub.reset()  # aclose() only from redis-py 5: this file runs in both environments

    run(redis_url, scenario)


def test_nothing_is_kept_for_a_conversation_that_has_expired(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        board = CustomerPresenceBoard(Store(redis, prefix))
        assert await board.joined("gone-conversation", "tab", NOW) is None
        assert not await redis.exists(f"{prefix}:conv:gone-conversation")
        assert not await redis.exists(f"{prefix}:customer-sockets:gone-conversation")

    run(redis_url, scenario)


def test_the_customers_of_a_process_that_died_are_gone_since_their_sockets_were_last_renewed(redis_url):
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        board = CustomerPresenceBoard(store, refresh_seconds=10)
        for conversation_id in ("dead", "alive", "left", "moved"):
            await store.create(conversation_id, "token")
            await board.joined(conversation_id, f"{conversation_id}-tab", NOW)
        await board.left("left", "left-tab", NOW)
        # "moved": its customer reconnected to a living process; its dead process's socket is still counted.
        await board.joined("moved", "moved-elsewhere", NOW + 20_000)
        # The living process renews its sockets; the dead one last renewed "dead" and "moved-tab" at NOW + 20 s.
        await board.renew([("dead-tab", "dead"), ("moved-tab", "moved")], NOW + 20_000)
        await board.renew([("alive-tab", "alive"), ("moved-elsewhere", "moved")], NOW + 40_000)
        assert await board.sweep(["dead", "alive", "left", "moved", "unknown"], NOW + 60_000) == ["dead"]
        assert await board.get("dead") == Presence(CustomerState.GONE, NOW + 20_000)
        assert await board.get("alive") == Presence(CustomerState.CONNECTED, NOW)
        assert await board.get("moved") == Presence(CustomerState.CONNECTED, NOW)
        assert await board.sweep(["dead"], NOW + 61_000) == [], "gone once"
        # The dead socket no longer counts: the customer's last live socket closing is gone at once.
        assert await board.left("moved", "moved-elsewhere", NOW + 62_000) == Presence(CustomerState.GONE, NOW + 62_000)
        assert await board.joined("dead", "dead-tab-2", NOW + 62_000) == Presence(CustomerState.CONNECTED, NOW + 62_000)
        # What a process counted before sockets were kept one by one ("sockets" in the hash) is swept too.
        await store.create("older", "token")
        await redis.hset(f"{prefix}:conv:older", mapping={"presence": f"connected|{NOW}", "sockets": 1})
        assert await board.sweep(["older"], NOW + 63_000) == ["older"]

    run(redis_url, scenario)


def test_a_renewal_read_before_a_socket_closed_never_counts_it_again(redis_url):
    """A process's refresh lists its sockets, then renews them: one closing in between is not brought back."""
    async def scenario(redis: Redis, prefix: str) -> None:
        store = Store(redis, prefix)
        board = CustomerPresenceBoard(store)
        await store.create("c1", "token")
        await board.joined("c1", "tab1", NOW)
        listed = [("tab1", "c1")]  # the refresh's list, read while tab1 was open
        assert await board.left("c1", "tab1", NOW + 1) == Presence(CustomerState.GONE, NOW + 1)
        await board.renew(listed, NOW + 2)
        assert not await redis.exists(f"{prefix}:customer-sockets:c1")
        assert await board.joined("c1", "tab2", NOW + 3) == Presence(CustomerState.CONNECTED, NOW + 3)
        assert await board.left("c1", "tab2", NOW + 4) == Presence(CustomerState.GONE, NOW + 4), "tab1 is not counted"

    run(redis_url, scenario)
