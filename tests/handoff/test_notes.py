"""Private notes, @mentions and transfer notes through real bridge processes (docs/bridge-protocol.md "Notes").

A note must never leave the agents' side: not to the customer's socket (live, or replayed on a
resume), not to Rasa, not to the content staff's review, and it is not an agent's reply (the
dashboard's first response). Each path a transcript leaves by has its test here.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, List

import pytest
import redis as redis_sync
import requests

from handoff_client import Agent, Customer
from harness.clients import claimed, dashboard_until, queued_customer, staff
from handoff.connections.open_chats import MAX_VIEWS
from harness.servers import RASA_API_TOKEN, add_agent

NOTE = "card status checked: blocked since Monday, fraud team has it"


@pytest.fixture(scope="module")
def note_accounts(redis_url, bridge_prefix, bridge):
    """Sue serves chats and supervises; Cole teaches the bot."""
    add_agent(redis_url, bridge_prefix, "sue", "--roles", "agent,supervisor", "--display-name", "Sue Park")
    add_agent(redis_url, bridge_prefix, "cole", "--roles", "content")


def notes_in(envelopes: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [e for e in envelopes if e["type"] == "message" and e["data"]["kind"] == "note"]


async def replayed(address: str, customer: Customer, last_seen: Any = None) -> List[Dict[str, Any]]:
    """What a customer's socket is sent when it resumes the conversation (from ``last_seen``)."""
    again = await Customer.connect(address, conversation_id=customer.conversation_id, token=customer.token,
                                   last_seen=last_seen)
    await again.expect("status")
    sent = list(again.received)
    await again.close()
    return sent


def test_a_note_reaches_agents_and_never_the_customer_live_or_on_resume(bridge, redis_url, bridge_prefix):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        joined = await ann.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "system"
                                         and e["data"]["data"].get("notice") == "agent_joined", "agent_joined")
        before = joined["id"]
        note = await ann.note(NOTE, cid)
        ack = await ann.acknowledged(note)
        assert ack["data"]["mentioned"] == []
        shown = await ann.expect("message", kind="note", conversation_id=cid)
        assert shown["id"] == ack["data"]["message_id"] and shown["data"]["text"] == NOTE
        assert shown["data"]["data"] == {"agent": "ann", "shown_as": "Ann", "mentions": []}
        await ann.say("Thanks for waiting, I'm on it.", conversation_id=cid)
        reply = await customer.expect("message", kind="agent")  # what follows the note arrives: the note did not
        assert reply["data"]["text"] == "Thanks for waiting, I'm on it."
        assert not notes_in(customer.received), customer.received
        for last_seen in (None, before):  # a whole replay, and one from before the note
            sent = await replayed(bridge, customer, last_seen)
            assert not notes_in(sent) and NOTE not in repr(sent), sent
            assert any(e["type"] == "message" and e["data"]["kind"] == "agent" for e in sent)
        # Stored in the transcript, as a note.
        client = redis_sync.Redis.from_url(redis_url)
        kinds = [fields[b"kind"] for _, fields in client.xrange(f"{bridge_prefix}:log:{cid}")]
        assert kinds.count(b"note") == 1
        client.close()
        await ann.acknowledged(await ann.close_conversation(cid))
        for each in (customer, ann):
            await each.close()

    asyncio.run(scenario())


def test_a_note_is_no_reply_never_reaches_rasa_nor_the_content_staffs_review(bridge, rasa_url, redis_url,
                                                                              bridge_prefix, note_accounts):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        await ann.acknowledged(await ann.note(NOTE, cid))
        client = redis_sync.Redis.from_url(redis_url)
        # Still awaiting the agent's first reply: a note is not one (the dashboard's first response).
        assert client.hget(f"{bridge_prefix}:conv:{cid}", "awaiting_reply") is not None
        client.close()
        await ann.acknowledged(await ann.request("hand_back", {"conversation_id": cid}))
        # With the bot again, a supervisor's note: the bot is not asked, the customer not told.
        sue = await staff(bridge, "sue")
        await sue.acknowledged(await sue.note("bot has it again; " + NOTE, cid))
        await customer.acknowledged(await customer.say("what are your opening hours?"))
        await customer.expect("message", kind="bot")
        tracker = requests.get(f"{rasa_url}/conversations/{cid}/tracker", params={"token": RASA_API_TOKEN},
                               timeout=30).json()
        assert "fraud team" not in repr(tracker["events"]), "a note reached Rasa"
        cole = await staff(bridge, "cole", "content")
        await cole.send("conversation", {"conversation_id": cid}, id="review")
        review = await cole.next_matching(lambda e: e["id"] == "review", "the review")
        assert review["data"]["messages"] and "fraud team" not in repr(review["data"])
        assert not notes_in(customer.received)
        for each in (customer, ann, sue, cole):
            await each.close()

    asyncio.run(scenario())


def test_a_mention_notifies_the_colleague_on_another_process_who_may_then_read_and_answer(
        bridge, second_bridge, note_accounts):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        bob = await staff(second_bridge, "bob")
        first = await bob.expect("mentions")
        assert all(item["conversation_id"] != cid for item in first["data"]["items"])
        # Before any mention Bob may neither read nor note the chat; Cara never may.
        cara = await staff(bridge, "cara")
        for who in (bob, cara):
            await who.send("view", {"conversation_id": cid}, id="peek")
            assert (await who.expect("error"))["data"]["code"] == "forbidden"
            await who.send("note", {"conversation_id": cid, "text": "sneaking in"}, id="sneak")
            assert (await who.expect("error"))["data"]["code"] == "forbidden"
        await cara.close()
        # An unknown name refuses the whole note, stored nowhere.
        await ann.send("note", {"conversation_id": cid, "text": "@nobody and @bob look"}, id="bad")
        refused = await ann.expect("error")
        assert (refused["id"], refused["data"]["code"]) == ("bad", "unknown_mention")
        assert "@nobody" in refused["data"]["message"]
        note = await ann.note("@bob can you check the card status? <b>urgent</b>", cid)
        assert (await ann.acknowledged(note))["data"]["mentioned"] == ["bob"]
        pushed = await bob.expect("mentions")
        item = next(item for item in pushed["data"]["items"] if item["conversation_id"] == cid)
        assert (item["by"], item["by_name"], item["seen"]) == ("ann", "Ann", False)
        assert item["excerpt"] == "@bob can you check the card status? <b>urgent</b>"
        assert pushed["data"]["unseen"] >= 1
        # Bob opens it read-only: the context, the whole transcript with the note, then what follows.
        await bob.send("view", {"conversation_id": cid}, id="open")
        await bob.acknowledged("open")
        opened = await bob.expect("conversation", conversation_id=cid)
        assert opened["data"]["view"] is True and opened["data"]["serving_agent"] == "ann"
        assert opened["data"]["customer_presence"]["state"] == "connected"  # whether the customer is there
        assert cid not in bob.serving
        await bob.expect("message", kind="note", conversation_id=cid)
        await bob.say("hello from bob", conversation_id=cid)  # read-only: no word to the customer
        assert (await bob.expect("error"))["data"]["code"] == "invalid_transition"
        answer = await bob.note("@ann done: it is blocked", cid)
        await bob.acknowledged(answer)
        assert (await ann.expect("message", kind="note", conversation_id=cid, text="@ann done: it is blocked"))["data"]["data"]["agent"] == "bob"
        # Bob only reads it: he may not pass the right to read it on (trial 16); Cara still may not look.
        await bob.send("note", {"conversation_id": cid, "text": "@cara have a look"}, id="pass-on")
        passed = await bob.next_matching(lambda e: e["type"] == "error" and e.get("id") == "pass-on", "refused")
        assert passed["data"]["code"] == "forbidden" and "@cara" in passed["data"]["message"]
        cara = await staff(bridge, "cara")
        await cara.send("view", {"conversation_id": cid}, id="peek-again")
        assert (await cara.expect("error"))["data"]["code"] == "forbidden"
        await cara.close()
        await asyncio.sleep(1)  # Bob's socket has sent a burst: its rate limit (5/s) refills
        await ann.next_matching(lambda e: e["type"] == "mentions"
                                and any(i["conversation_id"] == cid for i in e["data"]["items"]), "Ann's mention")
        await customer.acknowledged(await customer.say("any news?"))
        assert (await bob.expect("message", kind="customer", conversation_id=cid))["data"]["text"] == "any news?"  # live
        await customer.send("typing", {"active": True})
        await bob.next_matching(lambda e: e["type"] == "customer_presence" and e["data"]["conversation_id"] == cid
                                and e["data"]["state"] == "typing", "the customer typing, in the read-only view")
        # Seen in one tab: every tab of Bob's hears it (another socket, on the other process).
        other_tab = await staff(bridge, "bob")
        await other_tab.expect("mentions")
        # Seen only as the mention the console showed: an older note's id marks nothing.
        await bob.send("mention_seen", {"conversation_id": cid, "note_id": "1-0"}, id="stale")
        await bob.acknowledged("stale")
        await bob.send("mention_seen", {"conversation_id": cid, "note_id": "<b>"}, id="bad-id")
        assert (await bob.expect("error"))["data"]["code"] == "malformed"
        await bob.send("mentions", {}, id="list")
        listed = await bob.next_matching(lambda e: e["type"] == "mentions" and e["id"] == "list", "the mentions")
        assert not next(i for i in listed["data"]["items"] if i["conversation_id"] == cid)["seen"]
        await bob.send("mention_seen", {"conversation_id": cid, "note_id": item["note_id"]}, id="seen")
        await bob.acknowledged("seen")
        seen = await other_tab.next_matching(
            lambda e: e["type"] == "mentions" and any(i["conversation_id"] == cid and i["seen"]
                                                      for i in e["data"]["items"]), "the mention seen")
        assert seen["data"]["items"][0]["conversation_id"] == cid
        await bob.send("unview", {"conversation_id": cid}, id="shut")
        await bob.expect("released", conversation_id=cid)
        assert not notes_in(customer.received)
        await ann.acknowledged(await ann.close_conversation(cid))
        for each in (customer, ann, bob, other_tab):
            await each.close()

    asyncio.run(scenario())


def test_a_queued_conversation_a_colleague_was_mentioned_in_is_marked_in_their_queue(
        bridge, second_bridge, note_accounts):
    async def scenario() -> None:
        customer = await queued_customer(bridge)
        cid = customer.conversation_id
        bob = await staff(second_bridge, "bob")
        assert (await bob.queue_item(cid))["mentioned"] is False
        sue = await staff(bridge, "sue")  # a supervisor may note any chat, also one waiting
        await sue.acknowledged(await sue.note("@bob this one is for you, a card stuck in an ATM", cid))
        while not (await bob.queue_item(cid))["mentioned"]:
            pass
        mentioned = await bob.next_matching(lambda e: e["type"] == "mentions"
                                            and any(i["conversation_id"] == cid for i in e["data"]["items"]), "a mention")
        assert mentioned["data"]["items"][0]["by_name"] == "Sue Park"
        await bob.acknowledged(await bob.claim(cid))
        await customer.expect("status", state="agent")
        await bob.expect("message", kind="note", conversation_id=cid)  # the claimed chat's transcript has the note
        assert not notes_in(customer.received)
        await bob.acknowledged(await bob.close_conversation(cid))
        for each in (customer, bob, sue):
            await each.close()

    asyncio.run(scenario())


def test_a_transfer_note_is_shown_first_to_whoever_receives_the_chat(bridge, second_bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        bob = await staff(second_bridge, "bob")
        await bob.expect("queue")
        await ann.send("transfer", {"conversation_id": cid, "to_agent": "bob", "note": "   "}, id="blank")
        assert (await ann.expect("error"))["data"]["code"] == "empty_text"
        await ann.send("transfer", {"conversation_id": cid, "to_agent": "bob", "note": "no id"})
        assert (await ann.expect("error"))["data"]["code"] == "malformed"
        await ann.send("transfer", {"conversation_id": cid, "to_agent": "bob",
                                    "note": "already checked the card status"}, id=f"t-{uuid.uuid4().hex}")
        await ann.expect("released", conversation_id=cid)
        opened = await bob.expect("conversation", conversation_id=cid)
        pinned = opened["data"]["transfer_note"]
        assert (pinned["text"], pinned["by"], pinned["by_name"], pinned["to_agent"]) == (
            "already checked the card status", "ann", "Ann", "bob")
        note = await bob.expect("message", kind="note", conversation_id=cid)
        assert note["id"] == pinned["id"] and note["data"]["data"]["transfer"] == {"to_agent": "bob"}
        # Bob passes it on to a group with a note; whoever claims it sees Bob's, not Ann's.
        await bob.send("transfer", {"conversation_id": cid, "to_group": "general",
                                    "note": "@ann fyi: needs the fraud team"}, id=f"t-{uuid.uuid4().hex}")
        await bob.expect("released", conversation_id=cid)
        await customer.expect("status", state="queued")
        ann.received.clear()
        await ann.acknowledged(await ann.claim(cid))
        claimed_again = await ann.expect("conversation", conversation_id=cid)
        assert claimed_again["data"]["transfer_note"]["text"] == "@ann fyi: needs the fraud team"
        assert claimed_again["data"]["transfer_note"]["to_group"] == "general"
        # A transfer without a note shows no earlier one.
        await ann.send("transfer", {"conversation_id": cid, "to_agent": "bob"}, id="plain")
        assert (await bob.expect("conversation", conversation_id=cid))["data"]["transfer_note"] is None
        assert not notes_in(customer.received)
        await bob.acknowledged(await bob.close_conversation(cid))
        for each in (customer, ann, bob):
            await each.close()

    asyncio.run(scenario())


def test_a_refused_transfer_keeps_the_note_the_last_transfer_pinned(bridge, second_bridge, redis_url, bridge_prefix):
    """Refused in its commit (the colleague is at their limit), with or without a note of its own: the
    earlier transfer's note stays pinned, as if the refused one was never tried."""
    full = f"full{uuid.uuid4().hex[:6]}"
    add_agent(redis_url, bridge_prefix, full, "--max-chats", "1")

    async def scenario() -> None:
        other, ann = await claimed(bridge, "ann")
        colleague = await staff(second_bridge, full)
        await colleague.expect("queue")
        await ann.send("transfer", {"conversation_id": other.conversation_id, "to_agent": full}, id="fill")
        await colleague.expect("conversation", conversation_id=other.conversation_id)  # at their limit now
        customer, ann_again = await claimed(bridge, "ann")
        cid = customer.conversation_id
        bob = await staff(second_bridge, "bob")
        await bob.expect("queue")
        await ann_again.send("transfer", {"conversation_id": cid, "to_agent": "bob", "note": "pinned for bob"},
                             id=f"t-{uuid.uuid4().hex}")
        assert (await bob.expect("conversation", conversation_id=cid))["data"]["transfer_note"]["text"] == "pinned for bob"
        for note in ("refused with its note", None):
            data = {"conversation_id": cid, "to_agent": full, **({"note": note} if note else {})}
            await bob.send("transfer", data, id=f"t-{uuid.uuid4().hex}")
            assert (await bob.expect("error"))["data"]["code"] == "at_limit"
        bob_again = await staff(bridge, "bob")  # the chat as a console opening now shows it
        reopened = await bob_again.expect("conversation", conversation_id=cid)
        assert reopened["data"]["transfer_note"]["text"] == "pinned for bob"
        for each in (other, customer, ann, ann_again, colleague, bob, bob_again):
            await each.close()

    asyncio.run(scenario())


def test_read_only_views_are_capped_per_socket_and_one_closed_makes_room(bridge, note_accounts):
    async def scenario() -> None:
        customers = [await Customer.connect(bridge) for _ in range(MAX_VIEWS + 1)]
        sue = await staff(bridge, "sue")  # a supervisor may read any conversation
        for customer in customers[:MAX_VIEWS]:
            await asyncio.sleep(0.25)  # within the socket's 5 frames a second
            await sue.send("view", {"conversation_id": customer.conversation_id}, id=f"v-{customer.conversation_id}")
            await sue.expect("conversation", conversation_id=customer.conversation_id)
        last = customers[-1].conversation_id
        await asyncio.sleep(2)  # the frame budget back
        await sue.send("view", {"conversation_id": last}, id="one-too-many")
        refused = await sue.next_matching(lambda e: e["id"] == "one-too-many", "the refusal")
        assert (refused["type"], refused["data"]["code"]) == ("error", "too_many")
        await sue.send("view", {"conversation_id": customers[0].conversation_id}, id="again")  # open already: fine
        await sue.expect("conversation", conversation_id=customers[0].conversation_id)
        await sue.send("unview", {"conversation_id": customers[0].conversation_id}, id="shut")
        await sue.expect("released", conversation_id=customers[0].conversation_id)
        await sue.send("view", {"conversation_id": last}, id="now")
        assert (await sue.expect("conversation", conversation_id=last))["data"]["view"] is True
        for each in (*customers, sue):
            await each.close()

    asyncio.run(scenario())


def test_a_read_only_view_follows_the_chat_to_its_close_and_shows_how_it_ended(bridge, second_bridge, note_accounts):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        await ann.acknowledged(await ann.note("@bob please look at the delivery address", cid))
        bob = await staff(second_bridge, "bob")
        await bob.send("view", {"conversation_id": cid}, id="open")
        await bob.acknowledged("open")
        opened = await bob.expect("conversation", conversation_id=cid)
        assert (opened["data"]["serving_agent"], opened["data"]["closed"]) == ("ann", None)
        # Ann closes it while Bob reads: his view hears it ended, how and by whom.
        await ann.send("close", {"conversation_id": cid, "disposition": "follow-up needed",
                                 "closing_note": "Reordered card; check delivery in a week"}, id="shut")
        await ann.acknowledged("shut")
        ended = await bob.next_matching(lambda e: e["type"] == "conversation" and e["data"]["closed"], "the close")
        closed = ended["data"]["closed"]
        assert (ended["data"]["state"], ended["data"]["serving_agent"]) == ("closed", None)
        assert (closed["by"], closed["disposition"], closed["closing_note"], closed["rating"]) == (
            "ann", "follow-up needed", "Reordered card; check delivery in a week", None)
        assert isinstance(closed["closed_at"], int) and closed["closed_at"] > 0
        # The customer rates it: the view hears that too, and opening it again later says the same.
        await customer.expect("message", kind="system", data={"notice": "rate"})
        await customer.send("rating", {"score": 4, "comment": "quick <b>and</b> kind"}, id="rate")
        rated = await bob.next_matching(lambda e: e["type"] == "conversation" and (e["data"]["closed"] or {}).get("rating"),
                                        "the rating")
        assert rated["data"]["closed"]["rating"] == {"score": 4, "comment": "quick <b>and</b> kind"}
        await bob.send("unview", {"conversation_id": cid}, id="shut-view")
        await bob.expect("released", conversation_id=cid)
        await bob.send("view", {"conversation_id": cid}, id="again")
        await bob.acknowledged("again")
        again = await bob.next_matching(lambda e: e["type"] == "conversation" and e["data"]["conversation_id"] == cid
                                        and e is not opened and e is not ended and e is not rated, "the view again")
        assert again["data"]["closed"] == rated["data"]["closed"]
        for each in (customer, ann, bob):
            await each.close()

    asyncio.run(scenario())


def test_the_dashboard_lists_each_agents_chats_which_a_supervisor_may_open_read_only(bridge, second_bridge, note_accounts):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        sue_board = await staff(second_bridge, "sue", "supervisor")
        board = await dashboard_until(sue_board, lambda d: any(
            row["name"] == "ann" and cid in row["chats"] for row in d["agents"]))
        ann_row = next(row for row in board["agents"] if row["name"] == "ann")
        assert ann_row["serving"] == len(ann_row["chats"])
        sue = await staff(second_bridge, "sue")  # a supervisor who serves chats too: her agent socket opens it
        await sue.send("view", {"conversation_id": cid}, id="open")
        await sue.acknowledged("open")
        opened = await sue.expect("conversation", conversation_id=cid)
        assert (opened["data"]["view"], opened["data"]["serving_agent"]) == (True, "ann")
        await ann.acknowledged(await ann.close_conversation(cid))
        for each in (customer, ann, sue, sue_board):
            await each.close()

    asyncio.run(scenario())
