"""Drill: connections drop (the network, not the servers) in the middle of conversations.

- An agent whose connection comes back within the grace period gets their
  chats back, with what the customers wrote meanwhile.
- An agent who stays away beyond it (HANDOFF_AGENT_GRACE_SECONDS, 5 s here)
  loses their chats: each goes back to the FRONT of the queue, ahead of
  everyone who was waiting, and its customer is told (``agent_lost``).
- Customers whose connection drops (one with an agent, one waiting) resume
  with last_seen: same state, same place in the queue, and what they missed
  delivered once, in order.
"""

from __future__ import annotations

import asyncio
import time
from typing import Dict, List

from redis.asyncio import Redis

from harness.servers import LOOPBACK_LIMITS, started_bridge
from handoff_client import Transport
from tests.drills.clients import DrillCustomer
from tests.drills.crowd import Crowd, add_agents
from tests.drills.ledger import places_lost, queue_order, recoveries, recovery_note, slowest_recovery
from tests.drills.report import DrillReport

AGENTS = ("ann", "bob", "cy")
# Ann's blip (0.5 s) plus her reconnect backoff (up to 0.6 s) and handshake stay well inside it on a busy machine.
GRACE_SECONDS = 5
OFFLINE_WITHIN_GRACE = 0.5
CUSTOMER_OFFLINE_SECONDS = 2.0


async def outage(client: Transport, seconds: float) -> float:
    """The client's network is gone for ``seconds``; returns when it came back."""
    client.go_offline()
    await asyncio.sleep(seconds)
    client.go_online()
    return time.monotonic()


async def drop_drill(redis_url: str, prefix: str, address: str, drill_report: DrillReport) -> None:
    redis = Redis.from_url(redis_url)
    crowd = Crowd([address], AGENTS, bot=3, waiting=4, served=6)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        await asyncio.sleep(2)
        ann, bob, cy = crowd.agents
        of: Dict[str, List[DrillCustomer]] = {a.name: [c for c in crowd.served if crowd.agent_of[c.name] is a]
                                              for a in crowd.agents}
        back: Dict[str, float] = {}

        # Ann's network blips: back within the grace period.
        back[ann.name] = await outage(ann, OFFLINE_WITHIN_GRACE)
        await ann.wait_for(lambda: all(ann.attachments[c.conversation_id] >= 2 for c in of["ann"]), "her chats back")

        # Bob is gone for good (for longer than the grace period): his chats go to the front of the queue.
        bob.go_offline()
        bob_lost_at = time.monotonic()
        for customer in of["bob"]:
            await customer.wait_for(lambda c=customer: "agent_lost" in c.notices()
                                    and c.status.get("state") == "queued", "agent_lost notice", 20)
        requeued_after = time.monotonic() - bob_lost_at
        queue_now = await queue_order(redis, prefix)

        # Customers' networks drop: one served by Cy (who keeps writing), one waiting in the queue.
        served_one, waiting_one = of["cy"][0], crowd.waiting[1]
        position_before = queue_now.index(waiting_one.conversation_id) + 1
        # Its status hears of the requeue on the queue's channel, maybe after the customers above did.
        await waiting_one.wait_for(lambda: waiting_one.status.get("position") == position_before, "its new place")
        customers_offline = time.monotonic()
        returns = await asyncio.gather(outage(served_one, CUSTOMER_OFFLINE_SECONDS),
                                       outage(waiting_one, CUSTOMER_OFFLINE_SECONDS))
        back[served_one.name], back[waiting_one.name] = returns
        await waiting_one.wait_for(lambda: waiting_one.connections >= 2 and waiting_one.resumed, "resume")
        position_after = waiting_one.status.get("position")
        bob.go_online()
        await asyncio.sleep(3)

        served_one_connections = served_one.connections  # before accounting makes every customer reconnect
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)
        waits = {name: wait for client in (ann, served_one, waiting_one)
                 for name, wait in recoveries(crowd.sends_by([client]), back[client.name]).items()}
        refused = [send for send in crowd.sends_by([bob]) if send.refused]
        result = tally.result(
            "connections dropped: agent within/beyond grace, customers", places_lost(crowd.queued_before, queued_after),
            slowest_recovery(waits),
            f"bob's {len(of['bob'])} chats requeued {requeued_after:.1f} s after he left (grace {GRACE_SECONDS} s); "
            f"{len(refused)} of his sends meanwhile refused ({sorted({s.refused for s in refused})}), not acked; "
            f"{recovery_note(waits)} (from each one's network coming back)")
        drill_report.add(result)

        crowd.check(tally, result, back[served_one.name])
        assert set(waits) == {ann.name, served_one.name, waiting_one.name}, f"acks again after coming back: {waits}"
        assert all(ann.attachments[c.conversation_id] >= 2 for c in of["ann"]), "ann got her chats back"
        assert not any("agent_lost" in c.notices() for c in [*of["ann"], *of["cy"]])
        lost_chats = {c.conversation_id for c in of["bob"]}
        assert set(queue_now[:len(lost_chats)]) == lost_chats, "bob's chats went to the front of the queue"
        assert queue_now[len(lost_chats):] == crowd.queued_before, "everyone else kept their place"
        for customer in of["bob"]:
            notice = next(m for m in customer.messages_by_id.values() if m["data"].get("notice") == "agent_lost")
            assert "front of the queue" in notice["text"]
            assert tally.told[customer.name].get("position", 99) <= len(lost_chats)
        assert not bob.serving, "bob got nothing back"
        assert served_one_connections >= 2 and tally.told[served_one.name].get("state") == "agent"
        assert waiting_one.status.get("state") == "queued" and position_after == position_before
        missed = [send for send in crowd.sends_by([cy]) if send.acked_at
                  and send.data["conversation_id"] == served_one.conversation_id
                  and customers_offline <= send.first_sent <= back[served_one.name]]
        assert missed, "cy wrote while the customer was away (delivered once, in order: checked above)"
    finally:
        await crowd.close()
        await redis.close()


def test_dropped_agents_and_customers_keep_or_lose_exactly_what_they_should(redis_url, rasa_url, drill_prefix,
                                                                           drill_report):
    add_agents(redis_url, drill_prefix, AGENTS)
    with started_bridge(redis_url, rasa_url, "drill-drops", drill_prefix,
                        HANDOFF_AGENT_GRACE_SECONDS=str(GRACE_SECONDS), **LOOPBACK_LIMITS) as bridge:
        asyncio.run(drop_drill(redis_url, drill_prefix, bridge.address, drill_report))
