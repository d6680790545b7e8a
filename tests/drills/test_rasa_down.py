"""Drill: the Rasa server stops while customers talk to the bot, then comes back.

Customers who write meanwhile are told (``bot_unavailable``) and queued for a
person, keeping what they said; the queue keeps everyone who waited before in
front, in order; /ready says what is wrong; once Rasa is back, new
conversations get the bot's answers again. The recovery time is from Rasa
answering its /status again to the first bot answer a new customer gets (acks
never stop here: the bridge stores and queues without the bot).
"""

from __future__ import annotations

import asyncio
import time
from typing import List

from redis.asyncio import Redis

from harness.servers import LOOPBACK_LIMITS, RasaServer, started_bridge
from tests.drills.clients import DrillCustomer
from tests.drills.crowd import Crowd, add_agents, readiness
from tests.drills.ledger import places_lost, queue_order
from tests.drills.report import DrillReport

AGENTS = ("ann", "bob")


def first_bot_answer(customer: DrillCustomer) -> float:
    return min((at for at, kind in customer.arrivals if kind == "bot"), default=float("inf"))


async def rasa_drill(redis_url: str, prefix: str, address: str, rasa: RasaServer,
                     drill_report: DrillReport) -> None:
    redis = Redis.from_url(redis_url)
    crowd = Crowd([address], AGENTS, bot=5, waiting=3, served=4)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        await asyncio.sleep(3)
        await asyncio.to_thread(rasa.stop)
        fault_started = time.monotonic()
        chatting = list(crowd.bot)
        during: List[DrillCustomer] = []
        for _ in range(3):  # new customers keep coming
            during.append(await crowd.arrive())
            await asyncio.sleep(1)
        ready = await readiness(address)
        await asyncio.to_thread(rasa.start)
        fault_ended = time.monotonic()
        after = [await crowd.arrive() for _ in range(3)]
        for customer in after:
            await customer.wait_for(lambda c=customer: first_bot_answer(c) < float("inf"), "bot answer", 60)
        await asyncio.sleep(2)
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)
        recovery = min(first_bot_answer(customer) for customer in after) - fault_ended
        told = [c for c in [*chatting, *during] if "bot_unavailable" in c.notices()]
        result = tally.result(
            "Rasa stopped and restarted", places_lost(crowd.queued_before, queued_after), recovery,
            f"down {fault_ended - fault_started:.1f} s; {len(told)} customers told bot_unavailable and queued; "
            f"recovery = Rasa up -> first bot answer to a new customer")
        drill_report.add(result)
        crowd.check(tally, result, fault_ended)
        assert len(told) == len(chatting) + len(during), "everyone who wrote to the bot meanwhile was told"
        notice = next(m for m in during[0].messages_by_id.values() if m["data"].get("notice") == "bot_unavailable")
        assert "isn't available" in notice["text"]
        assert all(tally.told[c.name].get("state") == "queued" for c in told), "and queued for a person"
        assert queued_after[:len(crowd.queued_before)] == crowd.queued_before, "who waited before stays in front"
        assert ready[0] == 503 and ready[1]["checks"]["rasa"] == "unavailable", ready
        assert all(tally.told[c.name].get("state") == "bot" for c in after), "new conversations are the bot's again"
    finally:
        await crowd.close()
        await redis.close()


def test_when_rasa_stops_customers_are_told_and_queued_and_the_bot_comes_back(
        redis_url, rasa_server, drill_prefix, drill_report):
    add_agents(redis_url, drill_prefix, AGENTS)
    try:
        with started_bridge(redis_url, rasa_server.url, "drill-rasa-bridge", drill_prefix,
                            **LOOPBACK_LIMITS) as bridge:
            asyncio.run(rasa_drill(redis_url, drill_prefix, bridge.address, rasa_server, drill_report))
    finally:
        if rasa_server.process is None or rasa_server.process.poll() is not None:
            rasa_server.start()  # the session's Rasa, for the tests after this one
