"""Nothing a socket made stays in the bridge's memory after it closes (issue 15: RSS after churn).

A real bridge process, Redis and websockets (no Rasa: nothing here asks the bot). Customers
connect, queue, and signal (each signal a notification through the hub), then all leave; the
bridge's /metrics must then count no open socket, no pub/sub channel it listens on, no customer
it keeps present, and no socket object left in memory: the last needs the full garbage
collection handoff.collector runs once enough sockets have gone (here 5) and Sanic has let go
of them (shorter Sanic timeouts, so that this takes about 11 s, not 31).
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Dict

import requests

from handoff.collector import CollectionPolicy, held_seconds
from handoff_client import Customer
from harness.clients import queued_customer
from harness.servers import admin_address, running_bridge

CUSTOMERS = 12
KEPT = ("handoff_open_connections", "handoff_hub_channels", "handoff_customer_conversations",
        "handoff_connection_objects")


def kept(address: str) -> Dict[str, float]:
    """What the process holds for its sockets, and how many full collections it ran, from /metrics."""
    text = requests.get(f"http://{admin_address(address)}/metrics", timeout=10).text
    figures = {name: float(value) for name, value in
               (line.split(" ", 1) for line in text.splitlines() if line.startswith(KEPT))}
    collections = 'handoff_process_events_total{event="garbage_collections"}'
    figures["collections"] = next((float(line.split()[-1]) for line in text.splitlines()
                                   if line.startswith(collections)), 0.0)
    return figures


def test_a_full_collection_is_due_once_as_many_sockets_have_gone_as_are_open():
    policy = CollectionPolicy(min_ended=1000)
    assert not policy.due(ended=999, open_now=0) and policy.due(ended=1000, open_now=0)
    assert not policy.due(ended=5000, open_now=6000) and policy.due(ended=6000, open_now=6000)
    policy.collected(6000)  # counted again from there
    assert not policy.due(ended=6999, open_now=10) and policy.due(ended=7000, open_now=10)


def test_collections_wait_until_sanic_lets_go_of_closed_sockets():
    shipped = SimpleNamespace(KEEP_ALIVE_TIMEOUT=120, REQUEST_TIMEOUT=60, RESPONSE_TIMEOUT=60)  # Sanic's defaults
    assert held_seconds(shipped) == 31  # the upgrade's timeout check, 30 s after the connection opened
    short = SimpleNamespace(KEEP_ALIVE_TIMEOUT=120, REQUEST_TIMEOUT=4, RESPONSE_TIMEOUT=4)
    assert held_seconds(short) == 11  # the websocket's close timeout, a timer 10 s after the close


def test_what_customers_leave_behind_is_freed(redis_url):
    settings = {"HANDOFF_COLLECT_AFTER_SOCKETS": "5", "SANIC_REQUEST_TIMEOUT": "4", "SANIC_RESPONSE_TIMEOUT": "4"}
    with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-churn", "hbchurn", **settings) as address:
        async def visit() -> None:
            customers = [await Customer.connect(address) for _ in range(CUSTOMERS // 2)]
            customers += [await queued_customer(address) for _ in range(CUSTOMERS // 2)]
            for customer in customers:
                await customer.send("typing", {"active": True})
            await asyncio.sleep(0.5)  # the signals pass through the hub
            while_open = kept(address)
            assert while_open["handoff_open_connections"] == CUSTOMERS
            assert while_open["handoff_customer_conversations"] == CUSTOMERS
            assert while_open["handoff_hub_channels"] == CUSTOMERS + 1  # each conversation's, and the queue's
            assert while_open["handoff_connection_objects"] >= CUSTOMERS
            for customer in customers:
                await customer.close()

        for _ in range(2):  # a second visit finds the process as the first left it
            asyncio.run(visit())
            deadline = time.monotonic() + 60
            after = kept(address)
            while any(after[name] for name in KEPT) and time.monotonic() < deadline:
                time.sleep(1)
                after = kept(address)
            assert {name: after[name] for name in KEPT} == dict.fromkeys(KEPT, 0.0)
            assert after["collections"] >= 1
