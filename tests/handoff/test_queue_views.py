"""The agents' queue views after queue changes: each agent sees exactly the part of the queue their
skill groups allow, while a process reads the queue once per change for all its agents' sockets
(Bridge.queue_view, handoff.shared), with agents on two bridge processes."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any, Callable, Dict, List, Set, Tuple

import requests
from redis.asyncio import Redis

from handoff.queuediff import QueueItems, indexed
from handoff_client import Agent
from harness.clients import queued_customer, staff
from harness.servers import add_agent, admin_address, running_bridge

GROUPS = {"ann": {"all"}, "bob": {"all"}, "cara": {"cards"}, "gail": {"general"}}
READINGS = 'handoff_process_events_total{event="queue_readings"}'


def readings(address: str) -> float:
    text = requests.get(f"http://{admin_address(address)}/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(READINGS)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


class Console:
    """An agent's console socket and the queue as it has been told it: the whole queue, then changes."""

    def __init__(self, name: str, client: Agent, view: QueueItems) -> None:
        self.name, self.client, self.view = name, client, view

    @classmethod
    async def open(cls, address: str, name: str) -> "Console":
        client = await staff(address, name)
        return cls(name, client, indexed((await client.expect("queue"))["data"]["items"]))

    def visible(self, group: str) -> bool:
        return "all" in GROUPS[self.name] or group in GROUPS[self.name]

    async def until(self, shown: Callable[[QueueItems], bool], description: str) -> None:
        """Follows the queue's changes until ``shown`` accepts this console's view; never an item of a
        group the agent does not take."""
        while not shown(self.view):
            update = await self.client.next_matching(lambda e: e["type"] in ("queue", "queue_changed"),
                                                     f"{self.name}'s view: {description}", 30)
            if update["type"] == "queue":
                self.view = indexed(update["data"]["items"])
            else:
                for item in [*update["data"]["added"], *update["data"]["updated"]]:
                    self.view[item["conversation_id"]] = item
                for removed in update["data"]["removed"]:
                    self.view.pop(removed)
            invisible = [item for item in self.view.values() if not self.visible(item["group"])]
            assert not invisible, f"{self.name} ({GROUPS[self.name]}) was shown {invisible}"


async def everyone_sees(consoles: List[Console], ours: Set[str], queued: Dict[str, str]) -> None:
    """``queued``: which of ``ours`` are in the queue now, by group; each console shows those its agent takes."""
    for console in consoles:
        expected = {item_id: group for item_id, group in queued.items() if console.visible(group)}
        await console.until(lambda view: {i: item["group"] for i, item in view.items() if i in ours} == expected,
                            str(expected))


def test_every_agent_sees_exactly_their_groups_while_a_process_reads_the_queue_once_per_change(
        bridge, second_bridge, redis_url, bridge_prefix):
    add_agent(redis_url, bridge_prefix, "gail", "--groups", "general")

    async def scenario() -> Tuple[float, float, int]:
        # Four sockets on the first process (gail's console twice), three on the second.
        consoles = [await Console.open(bridge, name) for name in ("ann", "cara", "gail", "gail")]
        consoles += [await Console.open(second_bridge, name) for name in ("ann", "cara", "gail")]
        ann = consoles[0]
        cara = consoles[1]
        redis = Redis.from_url(redis_url)
        pubsub = redis.pubsub()
        # The queue's changes and its customers' presence (handoff.customer_presence): each may be a reading.
        await pubsub.subscribe(f"{bridge_prefix}:queue-events", f"{bridge_prefix}:presence-events")
        before = (readings(bridge), readings(second_bridge))

        first = await queued_customer(bridge)
        second = await queued_customer(second_bridge)
        ours = {first.conversation_id, second.conversation_id}
        await everyone_sees(consoles, ours, {first.conversation_id: "general", second.conversation_id: "general"})

        await first.send("details", {"description": "card stuck in the machine"}, id="details")
        await first.acknowledged("details")
        for console in consoles:  # an item's content changed: every console that shows it is told
            if console.visible("general"):
                await console.until(lambda view: view[first.conversation_id]["details"].get("description")
                                    == "card stuck in the machine", "the customer's details")

        # Moved to another group: out of the general agents' views, into the cards team's.
        await ann.client.send("claim", {"conversation_id": second.conversation_id}, id="claim")
        await ann.client.acknowledged("claim")
        await ann.client.send("transfer", {"conversation_id": second.conversation_id, "to_group": "cards"}, id="move")
        await ann.client.acknowledged("move")
        await everyone_sees(consoles, ours, {first.conversation_id: "general", second.conversation_id: "cards"})

        await first.send("leave_queue", id="leave")
        await first.acknowledged("leave")
        await everyone_sees(consoles, ours, {second.conversation_id: "cards"})
        await cara.client.send("claim", {"conversation_id": second.conversation_id}, id="take")
        await cara.client.acknowledged("take")
        await everyone_sees(consoles, ours, {})

        after = (readings(bridge), readings(second_bridge))
        changes = 0
        while message := await pubsub.get_message(timeout=0.5):  # the queue's notifications meanwhile
            changes += message["type"] == "message" and "presence" not in json.loads(message["data"])
        await pubsub.close()
        await redis.close()
        for console in consoles:
            await console.client.close()
        for customer in (first, second):
            await customer.close()
        return after[0] - before[0], after[1] - before[1], changes

    first_process, second_process, changes = asyncio.run(scenario())
    # One reading per process per change, however many of its agents' sockets show the queue
    # (each of the four sockets of the first process reading on its own would make four).
    assert 1 <= first_process <= changes and second_process <= changes, (first_process, second_process, changes)


def test_a_conversation_expired_in_the_queue_is_counted_once_however_many_processes_read_it(redis_url, rasa_url):
    prefix = f"hbviews{uuid.uuid4().hex[:6]}"
    for name in ("ann", "bob"):
        add_agent(redis_url, prefix, name)
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")
    with running_bridge(redis_url, rasa_url, "bridge-views-a", prefix, HANDOFF_RETENTION_SECONDS="2") as one, \
            running_bridge(redis_url, rasa_url, "bridge-views-b", prefix, HANDOFF_RETENTION_SECONDS="2") as other:
        async def scenario() -> Dict[str, Any]:
            consoles = [await Console.open(address, name) for address in (one, other) for name in ("ann", "bob")]
            gone = await queued_customer(one)
            await gone.close()
            await asyncio.sleep(3)  # its conversation expires while queued
            waiting = await queued_customer(other)  # a change: every console's process reads the queue
            for console in consoles:
                await console.until(lambda view: waiting.conversation_id in view and gone.conversation_id not in view,
                                    "the expired conversation gone, the new one there")
            supervisor = await staff(one, "sam", "supervisor")
            await supervisor.send("dashboard", id="now")
            data = (await supervisor.next_matching(lambda e: e["type"] == "dashboard" and e["id"] == "now",
                                                   "the dashboard", 10))["data"]
            for client in [supervisor, waiting, *(console.client for console in consoles)]:
                await client.close()
            return data

        abandoned = asyncio.run(scenario())["abandoned"]
        assert abandoned["count"] == 1 and abandoned["by_way"] == {"expired": 1}, abandoned
