"""Test helpers around :mod:`handoff_client`: the test accounts' password, the two usual
starting points (a queued customer; a customer an agent has claimed), and waiting for the
supervisors' dashboard to show a figure."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Dict, Tuple

import requests

from handoff_client import Agent, Customer
from harness.servers import AGENT_PASSWORD

__all__ = ["claimed", "dashboard_until", "login", "queued_customer", "staff"]


def login(address: str, name: str, password: str = AGENT_PASSWORD) -> requests.Response:
    """The login endpoint's whole answer (for tests of it); clients log in with :func:`handoff_client.log_in`."""
    return requests.post(f"http://{address}/api/agents/login", json={"name": name, "password": password}, timeout=10)


async def staff(address: str, name: str, endpoint: str = "agent") -> Agent:
    """A test account's staff socket (``endpoint`` agent, supervisor or content), read by pulling."""
    return await Agent.connect(address, name, AGENT_PASSWORD, endpoint)


async def queued_customer(address: str) -> Customer:
    customer = await Customer.connect(address)
    await customer.send("talk_to_person", id="talk")
    await customer.expect("status", state="queued")
    assert (await customer.expect("ack"))["id"] == "talk"
    return customer


async def claimed(address: str, agent_name: str = "ann") -> Tuple[Customer, Agent]:
    """A customer in the queue, and an agent who has just claimed them."""
    customer = await queued_customer(address)
    serving = await staff(address, agent_name)
    await serving.send("claim", {"conversation_id": customer.conversation_id}, id="claim")
    await serving.expect("ack", conversation_id=customer.conversation_id)
    await customer.expect("status", state="agent")
    return customer, serving


async def dashboard_until(supervisor: Agent, done: Callable[[Dict[str, Any]], bool]) -> Dict[str, Any]:
    """The dashboard, asked for again until ``done`` accepts it (its counters follow the events by a moment)."""
    deadline = time.monotonic() + 20
    while True:
        await supervisor.send("dashboard", id="now")
        data = (await supervisor.next_matching(lambda e: e["type"] == "dashboard" and e["id"] == "now",
                                               "a dashboard", 10))["data"]
        if done(data):
            return data
        assert time.monotonic() < deadline, f"the dashboard never got there: {data}"
        await asyncio.sleep(0.2)
