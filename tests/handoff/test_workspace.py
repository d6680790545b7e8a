"""Labels, dispositions and canned responses through two real bridge processes on one Redis: what a
supervisor changes on one reaches agents and supervisors on the other at once."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any, Dict

import redis as redis_sync
import requests

from handoff_client import Agent
from harness.clients import claimed, dashboard_until, queued_customer, staff
from harness.servers import admin_address


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def answer(client: Agent, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """The ack or error that answers this request."""
    key = uuid.uuid4().hex
    await client.send(kind, data, id=key)
    return await client.next_matching(lambda e: e["id"] == key and e["type"] in ("ack", "error"), f"the answer to {kind}")


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


async def labels_push(client: Agent, wanted: Any) -> Dict[str, Any]:
    return await client.next_matching(lambda e: e["type"] == "labels" and wanted(e["data"]["items"]), "a labels push")


def test_supervisors_manage_labels_and_every_console_on_every_process_sees_them(bridge, second_bridge):
    async def scenario() -> None:
        sam = await staff(bridge, "sam", "supervisor")
        bob = await staff(second_bridge, "bob")
        await bob.expect("labels")
        name = unique("Card fraud")
        created = await answer(sam, "label_save", {"name": name, "colour": "#D1242F"})
        assert created["type"] == "ack", created
        label_id = created["data"]["label_id"]
        await labels_push(bob, lambda items: {"id": label_id, "name": name, "colour": "#d1242f"} in items)

        duplicate = await answer(sam, "label_save", {"name": name.upper(), "colour": "#000000"})
        assert duplicate["data"]["code"] == "exists"
        for bad in ({"name": name, "colour": "red"}, {"name": "", "colour": "#000000"},
                    {"name": "x", "colour": "#000000", "label_id": "nope"}):
            assert (await answer(sam, "label_save", bad))["data"]["code"] == "malformed"

        renamed = unique("Fraud")
        assert (await answer(sam, "label_save", {"label_id": label_id, "name": renamed, "colour": "#00aa00"}))["type"] == "ack"
        await labels_push(bob, lambda items: {"id": label_id, "name": renamed, "colour": "#00aa00"} in items)
        assert (await answer(bob, "label_save", {"name": "agents cannot", "colour": "#000000"}))["data"]["code"] == "unknown_type"

        assert (await answer(sam, "label_delete", {"label_id": label_id}))["type"] == "ack"
        await labels_push(bob, lambda items: all(item["id"] != label_id for item in items))
        assert (await answer(sam, "label_delete", {"label_id": label_id}))["data"]["code"] == "not_found"
        await sam.close()
        await bob.close()

    run(scenario())


def test_an_agent_labels_the_chat_they_serve_and_the_dashboard_counts_it(bridge, second_bridge):
    async def scenario() -> None:
        sam = await staff(second_bridge, "sam", "supervisor")
        name = unique("Refund")
        label_id = (await answer(sam, "label_save", {"name": name, "colour": "#1f6feb"}))["data"]["label_id"]
        customer, ann = await claimed(bridge, "ann")
        conversation_id = customer.conversation_id
        await ann.expect("conversation", conversation_id=conversation_id, labels=[])
        bob = await staff(second_bridge, "bob")
        refused = await answer(bob, "label_conversation", {"conversation_id": conversation_id, "label_id": label_id, "on": True})
        assert refused["data"]["code"] == "invalid_transition", "only the agent serving it"
        for bad in ({"conversation_id": conversation_id, "label_id": label_id, "on": "yes"},
                    {"conversation_id": conversation_id, "label_id": label_id},
                    {"conversation_id": conversation_id, "label_id": "../x", "on": True}):
            assert (await answer(ann, "label_conversation", bad))["data"]["code"] == "malformed"

        put = await answer(ann, "label_conversation", {"conversation_id": conversation_id, "label_id": label_id, "on": True})
        assert put["data"] == {"conversation_id": conversation_id, "labels": [label_id]}
        await ann.expect("conversation_labels", conversation_id=conversation_id, labels=[label_id])
        await customer.send("probe_labels", id="probe")  # answered after everything sent to the customer before
        await customer.next_matching(lambda e: e["type"] == "error" and e["id"] == "probe", "the probe's answer")
        assert not any(label_id in json.dumps(envelope) for envelope in customer.received), "labels are for staff only"
        await dashboard_until(sam, lambda d: any(item["id"] == label_id and item["count"] == 1 for item in d["labels"]))
        metrics = requests.get(f"http://{admin_address(second_bridge)}/metrics", timeout=5).text
        assert f'handoff_labels_applied_total{{label="{name}"}} 1.0' in metrics

        taken = await answer(sam, "label_conversation", {"conversation_id": conversation_id, "label_id": label_id, "on": False})
        assert taken["data"]["labels"] == [], "a supervisor may label any conversation"
        await ann.expect("conversation_labels", conversation_id=conversation_id, labels=[])
        await dashboard_until(sam, lambda d: any(item["id"] == label_id and item["count"] == 0 for item in d["labels"]))
        assert (await answer(sam, "label_conversation", {"conversation_id": "nope", "label_id": label_id, "on": True}
                             ))["data"]["code"] == "not_found"
        await answer(sam, "label_delete", {"label_id": label_id})
        for client in (sam, ann, bob, customer):
            await client.close()

    run(scenario())


def test_a_queued_conversations_labels_show_on_its_queue_card(bridge, second_bridge):
    async def scenario() -> None:
        sam = await staff(bridge, "sam", "supervisor")
        label_id = (await answer(sam, "label_save", {"name": unique("VIP"), "colour": "#8250df"}))["data"]["label_id"]
        bob = await staff(second_bridge, "bob")
        customer = await queued_customer(bridge)
        await answer(sam, "label_conversation", {"conversation_id": customer.conversation_id, "label_id": label_id, "on": True})
        await bob.next_matching(lambda e: e["type"] == "queue_changed" and any(
            item["conversation_id"] == customer.conversation_id and item["labels"] == [label_id]
            for item in e["data"].get("updated", []) + e["data"].get("added", [])), "the card with its label")
        await answer(sam, "label_delete", {"label_id": label_id})
        for client in (sam, bob, customer):
            await client.close()

    run(scenario())


def test_a_new_handoff_starts_without_the_last_chats_labels(bridge, second_bridge):
    """Trial 16: a chat's label ("Card delivery") stayed on the customer's next handoff, about fees. A transfer
    keeps them (the same chat goes on); handed back to the assistant, the next handoff is a new chat (a closed
    one takes none: a new conversation does)."""
    async def scenario() -> None:
        sam = await staff(bridge, "sam", "supervisor")
        label_id = (await answer(sam, "label_save", {"name": unique("Card delivery"), "colour": "#1f6feb"}))["data"]["label_id"]
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        assert (await answer(ann, "label_conversation", {"conversation_id": cid, "label_id": label_id, "on": True}))[
            "type"] == "ack"
        assert (await answer(ann, "transfer", {"conversation_id": cid, "to_group": "general"}))["type"] == "ack"
        bob = await staff(second_bridge, "bob")
        await bob.next_matching(lambda e: e["type"] in ("queue", "queue_changed") and any(
            item["conversation_id"] == cid and item["labels"] == [label_id]
            for key in ("items", "added", "updated") for item in e["data"].get(key, [])), "the transferred card, labelled")
        assert (await answer(bob, "claim", {"conversation_id": cid}))["type"] == "ack"
        assert (await answer(bob, "hand_back", {"conversation_id": cid}))["type"] == "ack"
        await customer.send("talk_to_person", id="again")
        await customer.expect("status", state="queued")
        await bob.next_matching(lambda e: e["type"] in ("queue", "queue_changed") and any(
            item["conversation_id"] == cid and item["labels"] == []
            for key in ("items", "added", "updated") for item in e["data"].get(key, [])), "the new handoff, unlabelled")
        await customer.send("leave_queue", id="bye")
        await answer(sam, "label_delete", {"label_id": label_id})
        for client in (sam, ann, bob, customer):
            await client.close()

    run(scenario())


def test_closing_asks_for_a_disposition_stored_with_the_close_and_counted(bridge, second_bridge, redis_url, bridge_prefix):
    async def scenario() -> None:
        sam = await staff(second_bridge, "sam", "supervisor")
        before = (await dashboard_until(sam, lambda d: True))["dispositions"]
        assert list(before)[:4] == ["resolved", "not resolved", "follow-up needed", "spam"]
        customer, ann = await claimed(bridge, "ann")
        await ann.expect("dispositions", items=["resolved", "not resolved", "follow-up needed", "spam"])
        conversation_id = customer.conversation_id
        wrong = await answer(ann, "close", {"conversation_id": conversation_id, "disposition": "fixed"})
        assert wrong["data"]["code"] == "malformed"
        assert (await answer(ann, "close", {"conversation_id": conversation_id, "closing_note": ["x"]}))["data"]["code"] == "malformed"
        closed = await answer(ann, "close", {"conversation_id": conversation_id, "disposition": "follow-up needed",
                                             "closing_note": "Promised a call on Friday <b>"})
        assert closed["type"] == "ack"
        await customer.expect("status", state="closed")
        stored = redis_sync.Redis.from_url(redis_url).hgetall(f"{bridge_prefix}:conv:{conversation_id}")
        assert (stored[b"state"], stored[b"disposition"], stored[b"closing_note"]) == (
            b"closed", b"follow-up needed", b"Promised a call on Friday <b>")
        await dashboard_until(sam, lambda d: d["dispositions"]["follow-up needed"] == before["follow-up needed"] + 1)
        metrics = requests.get(f"http://{admin_address(bridge)}/metrics", timeout=5).text
        assert re.search(r'^handoff_dispositions_total\{disposition="follow-up needed"\} [1-9]', metrics, re.MULTILINE)
        for client in (sam, ann, customer):
            await client.close()

    run(scenario())


def test_canned_responses_edited_by_a_supervisor_reach_agents_live(bridge, second_bridge):
    async def scenario() -> None:
        sam = await staff(bridge, "sam", "supervisor")
        first = await sam.expect("canned")
        assert "changed" not in first["data"]
        bob = await staff(second_bridge, "bob")
        await bob.expect("canned")  # connected: listening for changes
        shortcut = f"refund-{uuid.uuid4().hex[:6]}"
        saved = await answer(sam, "canned_save", {"shortcut": shortcut, "title": "Refund sent", "text": "Your refund is on its way, {agent}."})
        assert saved["data"] == {"shortcut": shortcut}
        pushed = await bob.expect("canned", changed=True)
        assert {"shortcut": shortcut, "title": "Refund sent", "text": "Your refund is on its way, {agent}."} in pushed["data"]["items"]

        assert (await answer(sam, "canned_save", {"shortcut": shortcut, "title": "t", "text": "x"}))["data"]["code"] == "exists"
        assert (await answer(sam, "canned_save", {"shortcut": "/bad", "title": "t", "text": "x"}))["data"]["code"] == "malformed"
        assert (await answer(bob, "canned_save", {"shortcut": "mine", "title": "t", "text": "x"}))["data"]["code"] == "unknown_type"

        edited = f"{shortcut}-v2"
        assert (await answer(sam, "canned_save", {"shortcut": edited, "title": "Refund", "text": "Done.", "replaces": shortcut}))["type"] == "ack"
        pushed = await bob.next_matching(lambda e: e["type"] == "canned" and any(i["shortcut"] == edited for i in e["data"]["items"]),
                                         "the edited response")
        assert all(item["shortcut"] != shortcut for item in pushed["data"]["items"])
        assert (await answer(sam, "canned_delete", {"shortcut": edited}))["type"] == "ack"
        pushed = await bob.next_matching(lambda e: e["type"] == "canned" and all(i["shortcut"] != edited for i in e["data"]["items"]),
                                         "the list without it")
        assert {"hi", "bye"} <= {item["shortcut"] for item in pushed["data"]["items"]}, "the file's set was loaded once"
        assert (await answer(sam, "canned_delete", {"shortcut": edited}))["data"]["code"] == "not_found"
        await sam.close()
        await bob.close()

    run(scenario())
