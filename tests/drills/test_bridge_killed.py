"""Drill: a bridge process killed (kill -9) in the middle of bot and agent conversations.

Alone, it is restarted on the same port and its clients reconnect to it; with
two processes behind a load balancer, its clients move to the survivor. The
kill lands while a customer's message to the bot is stored and not yet
answered: the retry must finish that turn once, with the bot.
"""

from __future__ import annotations

import asyncio
import time
from typing import List

import aiohttp
from redis.asyncio import Redis

from harness.servers import LOOPBACK_LIMITS, RASA_API_TOKEN, BridgeServer, started_bridge
from tests.drills.crowd import Crowd, add_agents
from tests.drills.ledger import places_lost, queue_order, recoveries, recovery_note, slowest_recovery
from tests.drills.report import DrillReport

AGENTS = ("ann", "bob", "cy")
TRAFFIC_BEFORE_SECONDS = 3.0
TRAFFIC_AFTER_SECONDS = 5.0


async def messages_rasa_saw(rasa_url: str, conversation_id: str) -> int:
    """How many customer messages Rasa's tracker of the conversation holds (its whole history)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rasa_url}/conversations/{conversation_id}/tracker",
                            params={"token": RASA_API_TOKEN, "include_events": "ALL"}) as reply:
            reply.raise_for_status()
            return sum(event.get("event") == "user" for event in (await reply.json())["events"])


async def kill_drill(name: str, redis_url: str, rasa_url: str, prefix: str, bridges: List[BridgeServer],
                     restart: bool, drill_report: DrillReport) -> None:
    """Bridges[0] is killed mid-traffic (and restarted when ``restart``); everyone must come through."""
    redis = Redis.from_url(redis_url)
    crowd = Crowd([bridge.address for bridge in bridges], AGENTS, bot=6, waiting=5, served=6)
    try:
        await crowd.start(redis, prefix)
        crowd.start_traffic()
        await asyncio.sleep(TRAFFIC_BEFORE_SECONDS)
        victim = bridges[0]
        cut, cut_message = await crowd.bot_in_the_middle_of_a_turn(redis, prefix, victim.address)
        on_victim = [client for client in crowd.clients if client.connected_to == victim.address]
        statuses_before = {customer.name: len(customer.statuses) for customer in crowd.customers}
        in_flight = crowd.in_flight()
        await asyncio.to_thread(victim.kill)
        if restart:
            await asyncio.to_thread(victim.start)
        fault_ended = time.monotonic()
        await asyncio.sleep(TRAFFIC_AFTER_SECONDS)
        # What the clients do on their own, before accounting makes every customer reconnect: the killed
        # process's clients reconnect (with a backoff that may outlast the sleep), and the waiting among
        # them are told their place again.
        assert on_victim, "clients were on the killed process"
        for client in on_victim:
            await client.wait_for(lambda c=client: c.connections >= 2, "reconnect", 60)
        for customer in (c for c in crowd.waiting if c in on_victim):
            await customer.wait_for(lambda c=customer: any(
                status.get("state") == "queued" and status.get("position")
                for status in c.statuses[statuses_before[c.name]:]), "place told again")
        queued_after = await queue_order(redis, prefix)
        tally = await crowd.account(redis, prefix)
        lost_places = places_lost(crowd.queued_before, queued_after)
        waits = recoveries(crowd.sends_by(on_victim), fault_ended)
        log = tally.transcripts[cut.conversation_id]
        cut_answer = log.answers_to(cut_message.message_id or "")
        rasa_saw = await messages_rasa_saw(rasa_url, cut.conversation_id)
        routed_to_rasa = sum(key.startswith("customer:") and bool(log.answers_to(server_id))
                             for server_id, key in zip(log.ids, log.keys))
        result = tally.result(name, lost_places, slowest_recovery(waits),
                              f"{len(on_victim)} clients were on the killed process, {in_flight} sends in flight, "
                              f"{cut.name}'s bot turn cut (finished by the retry; Rasa saw "
                              f"{rasa_saw} of its messages, {routed_to_rasa} answered); {recovery_note(waits)}; "
                              f"{sum(c.connections for c in crowd.clients)} connections in all")
        drill_report.add(result)
        # The turn cut by the kill is finished once, and the customer stays with the bot: the retry finds the
        # stored answer, or asks Rasa, which answers a message it has handled from its tracker (bot/channels.py).
        assert tally.told[cut.name].get("state") == "bot", (
            f"{cut.name}, whose turn was cut, is still with the bot (Rasa saw {rasa_saw} of its messages, the "
            f"bridge stored answers to {routed_to_rasa}): {tally.told[cut.name]}")
        one_answer = [f"bot:{cut_message.message_id}:{n}" for n in range(len(cut_answer))]
        assert cut_answer and cut_answer == one_answer, f"one bot answer to the cut turn: {cut_answer}"
        # The retry tells Rasa so: had it seen the cut message, it answers from its tracker, not again.
        assert rasa_saw == routed_to_rasa, f"Rasa handled each message once: saw {rasa_saw}, {routed_to_rasa} answered"
        crowd.check(tally, result, fault_ended)
        assert set(waits) == {client.name for client in on_victim}, f"acks again after the fault: {sorted(waits)}"
        assert all(not customer.hello_errors for customer in crowd.customers)
    finally:
        await crowd.close()
        await redis.close()


def test_a_killed_bridge_restarted_on_its_port_loses_nothing(redis_url, rasa_url, drill_prefix, drill_report):
    add_agents(redis_url, drill_prefix, AGENTS)
    with started_bridge(redis_url, rasa_url, "drill-killed", drill_prefix, **LOOPBACK_LIMITS) as bridge:
        asyncio.run(kill_drill("bridge kill -9, restarted", redis_url, rasa_url, drill_prefix, [bridge], True,
                               drill_report))


def test_clients_of_a_killed_bridge_move_to_the_other_process(redis_url, rasa_url, drill_prefix, drill_report):
    add_agents(redis_url, drill_prefix, AGENTS)
    with started_bridge(redis_url, rasa_url, "drill-doomed", drill_prefix, **LOOPBACK_LIMITS) as doomed, \
            started_bridge(redis_url, rasa_url, "drill-survivor", drill_prefix, **LOOPBACK_LIMITS) as survivor:
        asyncio.run(kill_drill("bridge kill -9, clients move to the other", redis_url, rasa_url, drill_prefix,
                               [doomed, survivor], False, drill_report))
