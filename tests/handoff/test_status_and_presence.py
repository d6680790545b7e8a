"""Agents' status (available, away, offline) and customers' presence (connected, typing, gone), through
two real bridge processes sharing Redis (docs/bridge-protocol.md, "Agents' status and customers' presence").

The module's bridges have a key prefix of their own, so that who is online, available or away is
exactly what its tests make it; customers count as gone from the queue after 12 s away, so their
presence is refreshed every 4 s and the customers of a process that died are gone within 12 s.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import redis as redis_sync
import requests

from handoff_client import Agent, Customer, Envelope
from harness.clients import dashboard_until, queued_customer, staff
from harness.servers import add_agent, admin_address, delete_prefixed_keys, running_bridge, started_bridge

GONE_SECONDS = "12"
# Login names no text a customer reads could contain by chance ("erin" is in "offering").
MIA, LEO = "zqlogin-mia", "zqlogin-leo"
READINGS = 'handoff_process_events_total{event="queue_readings"}'


@pytest.fixture(scope="module")
def pair(redis_url: str, rasa_url: str) -> Iterator[Tuple[str, str, str]]:
    """Two bridge processes (addresses) and their key prefix; dana, erin, Mia and Leo take every group."""
    prefix = f"hbpresence{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, prefix, "dana", "--display-name", "Dana Reyes")
    add_agent(redis_url, prefix, "erin")
    add_agent(redis_url, prefix, MIA, "--display-name", "Mia Park")
    add_agent(redis_url, prefix, LEO, "--display-name", "Leo Chan")
    add_agent(redis_url, prefix, "sue", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-presence-a", prefix, HANDOFF_CUSTOMER_GONE_SECONDS=GONE_SECONDS) as a:
        with running_bridge(redis_url, rasa_url, "bridge-presence-b", prefix,
                            HANDOFF_CUSTOMER_GONE_SECONDS=GONE_SECONDS) as b:
            yield a, b, prefix
    delete_prefixed_keys(redis_url, prefix)


async def status_of(agent: Agent, status: str, request_id: Any = None) -> Envelope:
    return await agent.next_matching(lambda e: e["type"] == "agent_status" and e["data"]["status"] == status
                                     and (request_id is None or e["id"] == request_id), f"agent_status {status}", 15)


async def card(agent: Agent, conversation_id: str, presence: str) -> Dict[str, Any]:
    """The conversation's queue item once it shows the customer ``presence``."""
    while True:
        item = await agent.queue_item(conversation_id, timeout=15)
        if item["customer_presence"] == presence:
            return item


async def in_chat(agent: Agent, conversation_id: str, presence: str) -> Envelope:
    return await agent.next_matching(lambda e: e["type"] == "customer_presence" and e["data"]["state"] == presence
                                     and e["data"]["conversation_id"] == conversation_id,
                                     f"customer_presence {presence}", 30)


def readings(address: str, metric: str = READINGS) -> float:
    text = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(metric)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_an_agent_sets_away_and_back_seen_in_every_console_and_by_supervisors(pair):
    a, b, _ = pair

    async def scenario() -> None:
        tab = await staff(a, "dana")  # a login: available
        hello = await status_of(tab, "available")
        assert hello["data"]["display_name"] == "Dana Reyes" and hello["data"]["name"] == "dana"
        other_tab = await staff(b, "dana")
        await status_of(other_tab, "available")
        sue = await staff(b, "sue", "supervisor")
        await dashboard_until(sue, lambda d: any(row["name"] == "dana" and row["status"] == "available"
                                                 and row["connected"] for row in d["agents"]))

        await tab.send("set_status", {"status": "away"}, id="away-1")
        chosen = await status_of(tab, "away", "away-1")
        assert isinstance(chosen["data"]["since"], int)
        await status_of(other_tab, "away")  # the other process's console hears of it
        board = await dashboard_until(sue, lambda d: any(row["name"] == "dana" and row["status"] == "away"
                                                         for row in d["agents"]))
        assert board["now"]["agents_available"] == 0 and board["now"]["agents_online"] == 1
        assert {row["name"] for row in board["agents"]} == {"dana", "erin", MIA, LEO}, "agents only, not sue"

        await tab.send("set_status", {"status": "offline"}, id="wrong")
        refused = await tab.expect("error")
        assert refused["id"] == "wrong" and refused["data"]["code"] == "malformed"

        # A reload (a console connecting with the same login) keeps the agent's choice; a new login makes them available.
        reloaded = Agent(a, "dana", token=tab.token)
        await reloaded.open()
        assert (await reloaded.expect("agent_status"))["data"]["status"] == "away"
        again = await staff(a, "dana")
        await status_of(again, "available")
        await status_of(other_tab, "available")

        for console in (tab, other_tab, reloaded, again):
            await console.close()
        # No console for the grace period (2 s in tests): offline, as whichever process sweeps first says.
        board = await dashboard_until(sue, lambda d: any(row["name"] == "dana" and row["status"] == "offline"
                                                         for row in d["agents"]))
        dana = next(row for row in board["agents"] if row["name"] == "dana")
        assert dana["connected"] is False and dana["seconds"] >= 0
        await sue.close()

    asyncio.run(scenario())


def test_away_agents_get_no_new_work_but_keep_their_chats_and_an_all_away_team_is_nobody(pair, redis_url):
    a, b, prefix = pair

    async def scenario() -> None:
        dana, erin = await staff(a, "dana"), await staff(b, "erin")
        for agent, request_id in ((dana, "d-away"), (erin, "e-away")):
            await agent.send("set_status", {"status": "away"}, id=request_id)
            await status_of(agent, "away", request_id)

        customer = await queued_customer(b)
        await customer.next_matching(lambda e: e["type"] == "message" and e["data"]["data"].get("notice") == "no_agents",
                                     "the no_agents notice", 15)
        status = customer.status
        assert status["agents_available"] is False and status["wait_basis"] == "no_agents", status
        assert status["wait_minutes"] is None and status["offer"] == ["callback", "message"]
        assert (await dana.queue_item(customer.conversation_id))["conversation_id"], "away agents see the queue"

        await erin.send("set_status", {"status": "available"}, id="e-back")
        await status_of(erin, "available", "e-back")
        await customer.next_matching(lambda e: e["type"] == "status" and e["data"].get("agents_available") is True,
                                     "a status with someone available", 15)

        await erin.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await erin.expect("ack", conversation_id=customer.conversation_id)
        await erin.send("transfer", {"conversation_id": customer.conversation_id, "to_agent": "dana"}, id="to-away")
        refused = await erin.expect("error")
        assert refused["id"] == "to-away" and refused["data"]["code"] == "invalid_transition"
        assert refused["data"]["message"] == "Dana Reyes is away"  # as colleagues know her, not her login
        # With a note, refused the same way before the note is written (docs/bridge-protocol.md, transfer).
        await erin.send("transfer", {"conversation_id": customer.conversation_id, "to_agent": "dana",
                                     "note": "over to you"}, id="to-away-with-note")
        refused = await erin.expect("error")
        assert refused["id"] == "to-away-with-note" and refused["data"]["code"] == "invalid_transition"
        kinds = [fields[b"kind"] for _, fields in
                 redis_sync.Redis.from_url(redis_url).xrange(f"{prefix}:log:{customer.conversation_id}")]
        assert kinds and b"note" not in kinds, kinds
        team = await erin.request("team")
        listed = (await erin.next_matching(lambda e: e["type"] == "team" and e["id"] == team.id, "team", 10))["data"]
        assert {agent["name"]: agent["status"] for agent in listed["agents"]}["dana"] == "away"

        await dana.send("set_status", {"status": "available"}, id="d-back")
        await status_of(dana, "available", "d-back")
        await erin.send("transfer", {"conversation_id": customer.conversation_id, "to_agent": "dana"}, id="to-dana")
        await erin.expect("ack", conversation_id=customer.conversation_id)
        await dana.expect("conversation", conversation_id=customer.conversation_id)
        # Away, dana keeps the chat she serves and may still answer in it.
        await dana.send("set_status", {"status": "away"}, id="d-away-2")
        await status_of(dana, "away", "d-away-2")
        said = await dana.say("Still here for you.", customer.conversation_id)
        await dana.acknowledged(said)
        await customer.next_matching(lambda e: e["type"] == "message" and e["data"]["text"] == "Still here for you.",
                                     "dana's answer", 15)
        for client in (customer, dana, erin):
            await client.close()

    asyncio.run(scenario())


def test_the_queue_card_shows_the_customer_connected_typing_or_gone_live_with_one_reading_per_process(pair):
    a, b, _ = pair

    async def scenario() -> None:
        consoles = [await staff(a, name) for name in ("dana", "erin", "erin")]  # three sockets on one process
        first_tab = await queued_customer(b)
        conversation_id = first_tab.conversation_id
        for console in consoles:
            await card(console, conversation_id, "connected")
        await asyncio.sleep(0.5)  # the queue change of the handoff has been read

        before = readings(a)
        await first_tab.send("typing", {"active": True})
        for console in consoles:
            typing = await card(console, conversation_id, "typing")
            assert typing["customer_presence_seconds"] is not None and typing["customer_presence_seconds"] <= 2
        assert readings(a) - before == 1, "one reading of the queue for the three consoles of the process"
        await first_tab.send("typing", {"active": False})
        await card(consoles[0], conversation_id, "connected")

        # A second tab on the other process: closing the first one changes nothing the agents see.
        second_tab = await Customer.connect(a, conversation_id=conversation_id, token=first_tab.token)
        await first_tab.close()
        await second_tab.send("typing", {"active": True})
        seen: List[str] = []
        while not seen or seen[-1] != "typing":
            seen.append((await consoles[0].queue_item(conversation_id, timeout=15))["customer_presence"])
        assert "gone" not in seen, seen
        await second_tab.close()
        gone = await card(consoles[0], conversation_id, "gone")
        assert gone["customer_presence_seconds"] is not None
        for console in consoles:
            await console.close()

    asyncio.run(scenario())


def test_queued_customers_typing_at_once_cost_each_process_a_reading_or_two_not_one_per_change(pair):
    """Typing starts and stops all the time: the changes of a moment are one reading of the queue per
    process (handoff.connections.agent.PRESENCE_DELAY_SECONDS), and every card still ends as it is."""
    a, b, _ = pair

    async def scenario() -> None:
        consoles = [await staff(a, name) for name in ("dana", "erin")]
        customers = [await queued_customer(b) for _ in range(4)]
        for customer in customers:
            await card(consoles[0], customer.conversation_id, "connected")
        await asyncio.sleep(1.5)  # every change so far has been read
        before = readings(a)
        for customer, active in [(customer, True) for customer in customers] + [(customer, False)
                                                                                for customer in customers[:2]]:
            await customer.send("typing", {"active": active})
            await asyncio.sleep(0.2)  # customers type at moments of their own
        await asyncio.sleep(2.5)  # every change has been read
        read = readings(a) - before
        assert read <= 3, f"six changes in about a second read {read:g} times by the process of both consoles"
        for number, console in enumerate(consoles):
            await console.send("queue", {}, id=f"whole-{number}")
            whole = await console.next_matching(lambda e: e["type"] == "queue" and e["id"] == f"whole-{number}",
                                                "the whole queue")
            shown = {item["conversation_id"]: item["customer_presence"] for item in whole["data"]["items"]}
            assert [shown[customer.conversation_id] for customer in customers] == [
                "connected", "connected", "typing", "typing"]
        for each in (*consoles, *customers):
            await each.close()

    asyncio.run(scenario())


def test_supervisors_of_a_process_share_one_reading_of_the_dashboard_per_change(pair):
    a, b, _ = pair
    dashboards = 'handoff_process_events_total{event="dashboard_readings"}'

    async def scenario() -> None:
        boards = [await staff(a, "sue", "supervisor") for _ in range(3)]
        for board in boards:
            await board.expect("dashboard")
        await asyncio.sleep(1.5)  # what their starting caused has been pushed
        before = readings(a, dashboards)
        customer = await queued_customer(b)  # a change: a handoff and the queue
        waiting = lambda data: data["now"]["queue_length"] >= 1  # noqa: E731
        for board in boards:
            await board.next_matching(lambda e: e["type"] == "dashboard" and waiting(e["data"]), "the handoff", 15)
        await asyncio.sleep(1.5)
        read = readings(a, dashboards) - before
        assert 1 <= read <= 2, f"three supervisors' dashboards after one handoff: {read:g} readings"
        for each in (*boards, customer):
            await each.close()

    asyncio.run(scenario())


def test_the_serving_agent_sees_the_customer_presence_in_the_chat_across_processes(pair):
    a, b, _ = pair

    async def scenario() -> None:
        customer = await queued_customer(b)
        conversation_id = customer.conversation_id
        dana = await staff(a, "dana")
        await dana.send("claim", {"conversation_id": conversation_id}, id="claim")
        opened = await dana.expect("conversation", conversation_id=conversation_id)
        assert opened["data"]["customer_presence"]["state"] == "connected"
        await customer.send("typing", {"active": True})
        await in_chat(dana, conversation_id, "typing")
        await customer.close()
        gone = await in_chat(dana, conversation_id, "gone")
        assert gone["data"]["seconds"] == 0 or gone["data"]["seconds"] == 1
        back = await Customer.connect(a, conversation_id=conversation_id, token=customer.token)
        await in_chat(dana, conversation_id, "connected")
        await back.close()
        await dana.close()

    asyncio.run(scenario())


def test_the_customers_of_a_bridge_process_that_died_are_gone_since_they_were_last_seen(pair, redis_url, rasa_url):
    a, _, prefix = pair

    async def scenario(doomed: str) -> Tuple[Agent, Customer]:
        customer = await queued_customer(doomed)
        dana = await staff(a, "dana")
        await dana.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        opened = await dana.expect("conversation", conversation_id=customer.conversation_id)
        assert opened["data"]["customer_presence"]["state"] == "connected"
        return dana, customer

    async def after_the_kill(dana: Agent, customer: Customer) -> None:
        gone = await in_chat(dana, customer.conversation_id, "gone")
        assert gone["data"]["seconds"] >= 0
        await dana.close()

    with started_bridge(redis_url, rasa_url, "bridge-presence-doomed", prefix,
                        HANDOFF_CUSTOMER_GONE_SECONDS=GONE_SECONDS) as doomed:
        loop = asyncio.new_event_loop()
        try:
            dana, customer = loop.run_until_complete(scenario(doomed.address))
            doomed.kill()  # no goodbye: its customer's socket stays counted in Redis
            loop.run_until_complete(after_the_kill(dana, customer))
        finally:
            loop.close()


def test_a_customer_who_reconnects_elsewhere_after_a_process_died_is_gone_when_they_close(pair, redis_url, rasa_url):
    """The dead process's socket stops counting once it is not renewed, though the customer's other socket keeps
    them seen: closing the last live one is gone at once, since that moment (not "connected" until a sweep)."""
    a, _, prefix = pair

    async def scenario(doomed: str) -> Tuple[Agent, Customer]:
        customer = await queued_customer(doomed)
        dana = await staff(a, "dana")
        await dana.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
        await dana.expect("conversation", conversation_id=customer.conversation_id)
        return dana, customer

    async def after_the_kill(dana: Agent, customer: Customer) -> None:
        back = await Customer.connect(a, conversation_id=customer.conversation_id, token=customer.token)
        await asyncio.sleep(int(GONE_SECONDS) + 2)  # past three refreshes: the dead socket no longer counts
        await back.close()
        gone = await in_chat(dana, customer.conversation_id, "gone")
        assert gone["data"]["seconds"] <= 1, "gone when the last live socket closed"
        await dana.close()

    with started_bridge(redis_url, rasa_url, "bridge-presence-doomed-2", prefix,
                        HANDOFF_CUSTOMER_GONE_SECONDS=GONE_SECONDS) as doomed:
        loop = asyncio.new_event_loop()
        try:
            dana, customer = loop.run_until_complete(scenario(doomed.address))
            doomed.kill()
            loop.run_until_complete(after_the_kill(dana, customer))
        finally:
            loop.close()


def test_customers_never_see_an_agents_login_name_only_the_display_name(pair):
    a, b, _ = pair

    async def scenario() -> None:
        frames: List[str] = []
        customer = Customer(b)
        customer.listeners.append(lambda envelope: frames.append(json.dumps(envelope)))
        await customer.open()
        await customer.send("talk_to_person", id="talk")
        await customer.expect("status", state="queued")
        conversation_id = customer.conversation_id
        mia, leo = await staff(a, MIA), await staff(b, LEO)
        await mia.send("claim", {"conversation_id": conversation_id}, id="claim")
        await mia.expect("ack", conversation_id=conversation_id)
        await customer.expect("status", state="agent", agent="Mia Park")
        await mia.acknowledged(await mia.say("Hello, how can I help?", conversation_id))
        await mia.send("typing", {"conversation_id": conversation_id, "active": True})
        await customer.expect("typing")
        await mia.send("transfer", {"conversation_id": conversation_id, "to_agent": LEO}, id="to-leo")
        await mia.expect("ack", conversation_id=conversation_id)
        await customer.expect("status", state="agent", agent="Leo Chan")
        await leo.acknowledged(await leo.say("Leo here, I'll take it from here.", conversation_id))
        await leo.send("close", {"conversation_id": conversation_id}, id="close")
        await leo.expect("ack", conversation_id=conversation_id)
        await customer.expect("status", state="closed")
        await customer.close()
        # The whole transcript again, as after a reload.
        again = Customer(a, conversation_id=conversation_id, token=customer.token)
        again.listeners.append(lambda envelope: frames.append(json.dumps(envelope)))
        await again.open()
        await again.expect("status", state="closed")
        await again.close()

        seen = "\n".join(frames)
        assert "zqlogin" not in seen.lower(), [frame for frame in frames if "zqlogin" in frame.lower()]
        notices = [json.loads(frame)["data"] for frame in frames if '"notice": "agent_joined"' in frame]
        # Mia joins by claiming, Leo by the transfer to him: each by their display name.
        assert notices and {notice["data"]["agent"] for notice in notices} == {"Mia Park", "Leo Chan"}
        assert "Mia Park from our support team has joined the chat." in seen and "Leo Chan has closed this chat." in seen
        assert "Leo Chan from our support team has joined the chat." in seen
        for agent in (mia, leo):
            await agent.close()

    asyncio.run(scenario())
