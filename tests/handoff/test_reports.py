"""Reports from the archive match the live dashboard: a day of traffic through two real bridges (one
prefix), archived by a real archiver into a real PostgreSQL, then the supervisor's ``report`` for today
is compared with the dashboard, figure by figure (handoff.reports; docs/data-model.md, "Reports")."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict

from harness.clients import dashboard_until, queued_customer, staff
from harness.postgres import running_archiver
from harness.servers import add_agent, delete_prefixed_keys, running_bridge
from handoff_client import Agent, Customer

# Both response-time targets one second: a reply after a pause breaches, for the SLA figures to compare.
SETTINGS = {"HANDOFF_SLA": "default=first:1,reply:1", "HANDOFF_TIMEZONE": "Pacific/Auckland"}


async def ask(client: Agent, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] in (kind, "ack", "error"), f"the answer to {kind}")


async def served(address: str, agent: Agent, score: int, pause: float) -> None:
    """A customer queued, claimed, answered after ``pause`` s, the chat closed and rated ``score``."""
    customer = await queued_customer(address)
    conversation_id = customer.conversation_id
    assert (await ask(agent, "claim", {"conversation_id": conversation_id}))["type"] == "ack"
    await customer.expect("status", state="agent")
    await asyncio.sleep(pause)
    assert (await ask(agent, "message", {"conversation_id": conversation_id, "text": "I can help with that"}))["type"] == "ack"
    assert (await ask(agent, "close", {"conversation_id": conversation_id, "disposition": "resolved"}))["type"] == "ack"
    await customer.expect("message", kind="system", data={"notice": "rate"})
    await customer.send("rating", {"score": score, "comment": ""}, id="rated")
    await customer.acknowledged("rated")
    await customer.close()


async def passed_on(address: str, first: Agent, then: Agent, held: float) -> None:
    """A customer claimed by ``first``, who holds the chat ``held`` s and transfers it to the group, where ``then``
    claims it and closes it: two claims, two stays in the queue."""
    customer = await queued_customer(address)
    conversation_id = customer.conversation_id
    assert (await ask(first, "claim", {"conversation_id": conversation_id}))["type"] == "ack"
    await customer.expect("status", state="agent")
    await asyncio.sleep(held)
    assert (await ask(first, "transfer", {"conversation_id": conversation_id, "to_group": "general"}))["type"] == "ack"
    await customer.expect("status", state="queued")
    assert (await ask(then, "claim", {"conversation_id": conversation_id}))["type"] == "ack"
    await customer.expect("status", state="agent")
    assert (await ask(then, "close", {"conversation_id": conversation_id, "disposition": "resolved"}))["type"] == "ack"
    await customer.close()


async def a_day(first: str, second: str) -> None:
    """Five conversations: one the bot could not answer (these bridges have no Rasa: it goes to the queue and
    waits there), two served (on either bridge), one passed on to the group by its first agent, one that left
    the queue."""
    unanswered = await Customer.connect(first)
    await unanswered.send("message", {"text": "what are your opening hours?"}, id="m1")
    await unanswered.acknowledged("m1")
    ann, bob = await staff(first, "ann"), await staff(second, "bob")
    await served(first, ann, 5, pause=1.3)
    await served(second, bob, 2, pause=0.0)
    await passed_on(first, ann, bob, held=1.5)
    leaving = await queued_customer(second)
    await asyncio.sleep(0.3)
    await leaving.acknowledged(await leaving.leave_queue())
    for client in (unanswered, ann, bob, leaving):
        await client.close()


def same_figures(dashboard: Dict[str, Any], report: Dict[str, Any]) -> Dict[str, Any]:
    """What differs between the dashboard and a day's report (empty: the same)."""
    keys = ("conversations", "contained", "containment_rate", "handoffs", "handed_over", "handoffs_by_reason",
            "wait", "first_response", "csat")
    differences = {key: (dashboard[key], report[key]) for key in keys if dashboard[key] != report[key]}
    for key in ("count", "rate", "median_seconds", "by_way"):
        if dashboard["abandoned"][key] != report["abandoned"][key]:
            differences[f"abandoned.{key}"] = (dashboard["abandoned"][key], report["abandoned"][key])
    breaches = {kind: dashboard["sla"]["breaches"][kind]["count"] for kind in ("first", "reply")}
    if breaches != report["sla_breaches"]:
        differences["sla_breaches"] = (breaches, report["sla_breaches"])
    return differences


def agents_of(rows: Any) -> Dict[str, Any]:
    return {row["name"]: (row["taken"], row["closed"], row["csat"], row["first_response"]["count"],
                          row["first_response"]["median_seconds"], row["handling"]["count"],
                          row["handling"]["median_seconds"]) for row in rows if row["taken"] or row["csat"]["count"]}


async def report_until_archived(supervisor: Agent, dashboard: Dict[str, Any]) -> Dict[str, Any]:
    """Today's report, asked for until the archiver has caught up with the dashboard (or 30 s passed)."""
    deadline = time.monotonic() + 30
    while True:
        reply = await ask(supervisor, "report", {"from": dashboard["day"], "to": dashboard["day"]})
        assert reply["type"] == "report", reply
        report = reply["data"]
        if not same_figures(dashboard, report["totals"]) or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.3)


def test_todays_report_from_the_archive_shows_the_live_dashboards_figures(redis_url, postgres, archive_database):
    url = postgres.url(archive_database)
    prefix = f"rep{uuid.uuid4().hex[:8]}"
    for name in ("ann", "bob"):
        add_agent(redis_url, prefix, name)
    add_agent(redis_url, prefix, "sam", "--roles", "supervisor")

    async def check(first: str) -> None:
        sam = await staff(first, "sam", "supervisor")
        dashboard = await dashboard_until(sam, lambda d: d["csat"]["count"] == 2 and d["abandoned"]["count"] == 1)
        report = await report_until_archived(sam, dashboard)
        assert report["from"] == report["to"] == dashboard["day"] and report["timezone"] == "Pacific/Auckland"
        [today] = report["days"]
        assert same_figures(dashboard, report["totals"]) == {} and same_figures(dashboard, today) == {}
        assert agents_of(report["agents"]) == agents_of(dashboard["per_agent"])
        totals = report["totals"]
        assert (totals["conversations"], totals["contained"], totals["handoffs"]) == (5, 0, 5)
        assert totals["csat"]["average"] == 3.5 and totals["abandoned"]["by_way"] == {"left_queue": 1}
        assert totals["sla_breaches"]["first"] >= 1, "ann answered after the one-second target"
        assert {group["group"]: (group["handoffs"], group["served"], group["abandoned"]["count"])
                for group in report["groups"]} == {"general": (5, 4, 1)}
        # One group: its waits are the totals' (the agent trial: 437.2 s against 364.9 s, the group's counting a
        # chat passed on to the group from when it was first queued, its first agent's time included).
        [general] = report["groups"]
        assert general["wait"] == {key: totals["wait"][key] for key in ("median_seconds", "p90_seconds")}, report
        refused = await ask(sam, "report", {"from": "2020-01-01", "to": dashboard["day"]})
        assert refused["type"] == "error" and refused["data"]["code"] == "malformed", refused
        await sam.close()

    try:
        with running_bridge(redis_url, "http://127.0.0.1:9", "bridge-report-1", prefix, DATABASE_URL=url, **SETTINGS) as first, \
                running_bridge(redis_url, "http://127.0.0.1:9", "bridge-report-2", prefix, DATABASE_URL=url, **SETTINGS) as second, \
                running_archiver(redis_url, url, prefix):
            asyncio.run(a_day(first, second))
            asyncio.run(check(first))
    finally:
        delete_prefixed_keys(redis_url, prefix)
