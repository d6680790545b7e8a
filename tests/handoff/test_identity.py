"""Signed-in customers through real bridge processes (docs/identity.md, docs/bridge-protocol.md "Contacts"):
a signed identity resumes the contact's open conversation on another device (and on another bridge
process), links their conversations, and shows agents who they are; nothing unsigned is believed; an
anonymous customer works as before."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, Optional, Tuple

import pytest
import redis as redis_sync
import requests

from handoff.identity import sign
from handoff_client import Customer, Transport
from harness.clients import staff
from harness.files import image
from harness.servers import IDENTITY_SECRET, add_agent


@pytest.fixture(scope="module")
def identity_accounts(redis_url, bridge_prefix, bridge):
    add_agent(redis_url, bridge_prefix, "ivy")  # an agent who serves nothing of these customers'
    for name in ("ida", "ike"):  # each serves one test's chats, none of them at their limit
        add_agent(redis_url, bridge_prefix, name, "--max-chats", "10")


def signed(contact_id: str, secret: str = IDENTITY_SECRET, **changes: Any) -> str:
    fields: Dict[str, Any] = {"id": contact_id, "name": "Ada Lovelace", "email": "ada@example.com",
                              "issued_at": int(time.time()), **changes}
    return sign(secret, fields)


def new_contact() -> str:
    return f"cust-{uuid.uuid4().hex[:10]}"


async def first_error(address: str, hello: Dict[str, Any]) -> Dict[str, Any]:
    customer = Transport(address, path="/ws/customer")
    await customer.open()
    try:
        await customer.send("hello", hello, id="hi")
        error = await customer.expect("error")
        assert error["id"] == "hi"
        await customer.send("hello", {}, id="again")  # nothing was created, and a plain hello still works
        await customer.expect("welcome")
        return error["data"]
    finally:
        await customer.close()


def test_a_second_device_resumes_the_contacts_open_conversation_live_on_both(bridge, second_bridge, redis_url,
                                                                             bridge_prefix):
    async def scenario() -> Tuple[str, str]:
        contact = new_contact()
        phone = await Customer.connect(bridge, identity=signed(contact))
        await phone.acknowledged(await phone.say("my card hasn't arrived"))
        # The laptop shares nothing with the phone, and reaches the other bridge process.
        laptop = await Customer.connect(second_bridge, identity=signed(contact))
        assert laptop.conversation_id == phone.conversation_id and laptop.token != phone.token
        await laptop.expect("status")  # after the replay
        replayed = [e["data"]["text"] for e in laptop.received if e["type"] == "message"]
        assert "my card hasn't arrived" in replayed
        await laptop.acknowledged(await laptop.say("I want to talk to a person"))
        await phone.next_matching(lambda e: e["type"] == "message" and e["data"]["kind"] == "customer"
                                  and e["data"]["text"] == "I want to talk to a person", "the laptop's message")
        await phone.expect("status", state="queued")
        await laptop.expect("status", state="queued")
        # The laptop's token resumes the conversation after a reload too (the attachments' HTTP auth uses it).
        again = await Customer.connect(bridge, conversation_id=laptop.conversation_id, token=laptop.token,
                                       identity=signed(contact))
        assert again.conversation_id == phone.conversation_id and again.token == laptop.token
        for each in (phone, laptop, again):
            await each.close()
        return contact, phone.conversation_id

    contact, conversation_id = asyncio.run(scenario())
    client = redis_sync.Redis.from_url(redis_url)
    try:  # one conversation, listed once, with the contact as signed
        assert client.zrange(f"{bridge_prefix}:contact-convs:{contact}", 0, -1) == [conversation_id.encode()]
        assert client.hget(f"{bridge_prefix}:contact:{contact}", "email") == b"ada@example.com"
        assert client.hget(f"{bridge_prefix}:conv:{conversation_id}", "contact_id") == contact.encode()
    finally:
        client.close()


def test_a_contacts_conversations_are_linked_and_the_agent_sees_who_they_are(bridge, identity_accounts):
    async def scenario() -> None:
        contact = new_contact()
        first = await Customer.connect(bridge, identity=signed(contact))
        await first.acknowledged(await first.talk_to_person())
        ann = await staff(bridge, "ann")
        await ann.acknowledged(await ann.claim(first.conversation_id))
        opened = await ann.expect("conversation", conversation_id=first.conversation_id)
        assert opened["data"]["contact"] == {"id": contact, "name": "Ada Lovelace", "email": "ada@example.com",
                                             "verified": True}
        await ann.send("close", {"conversation_id": first.conversation_id, "disposition": "resolved"}, id="close")
        await ann.expect("ack", conversation_id=first.conversation_id)
        await first.expect("status", state="closed")
        await first.send("rating", {"score": 4, "comment": "quick"}, id="rate")
        await first.expect("ack")
        # A new visit on a new device: the closed one is not resumed, a new one is linked to it.
        second = await Customer.connect(bridge, identity=signed(contact, name="Ada King"))
        assert second.conversation_id != first.conversation_id
        await second.acknowledged(await second.talk_to_person())
        await ann.acknowledged(await ann.claim(second.conversation_id))
        await ann.send("contact", {"conversation_id": second.conversation_id}, id="who")
        card = (await ann.expect("contact"))["data"]
        assert card["conversation_id"] == second.conversation_id
        panel = card["contact"]
        assert panel["id"] == contact and panel["verified"] and panel["name"] == "Ada King"  # as newly signed
        listed = {past["conversation_id"]: past for past in panel["conversations"]}
        assert list(listed) == [second.conversation_id, first.conversation_id]  # newest first
        assert listed[first.conversation_id]["state"] == "closed"
        assert listed[first.conversation_id]["disposition"] == "resolved"
        assert listed[first.conversation_id]["rating"] == {"score": 4, "comment": "quick"}
        assert panel["note"] is None
        # A note for colleagues, kept with the contact; markup is stored as text (the console escapes it).
        note = "Prefers email. <b>VIP</b>"
        await ann.send("contact_note", {"conversation_id": second.conversation_id, "text": note}, id="note")
        saved = (await ann.expect("contact"))["data"]["contact"]["note"]
        assert saved["text"] == note and saved["by"] == "ann" and saved["at"] > 0
        await ann.send("contact_note", {"conversation_id": second.conversation_id, "text": "x" * 1001}, id="long")
        assert (await ann.expect("error"))["data"]["code"] == "malformed"
        # The earlier conversation opens read-only through the one Ann serves.
        await ann.send("view", {"conversation_id": first.conversation_id}, id="bare")
        assert (await ann.expect("error"))["data"]["code"] == "forbidden"  # not hers, nobody mentioned her
        await ann.send("view", {"conversation_id": first.conversation_id, "via": second.conversation_id}, id="via")
        await ann.expect("ack", conversation_id=first.conversation_id)
        viewed = await ann.expect("conversation", conversation_id=first.conversation_id)
        assert viewed["data"]["view"] and viewed["data"]["closed"]["disposition"] == "resolved"
        # Another agent, who may read neither, gets nothing of the contact.
        ivy = await staff(bridge, "ivy")
        for kind, data in (("contact", {"conversation_id": second.conversation_id}),
                           ("contact_note", {"conversation_id": second.conversation_id, "text": "mine"}),
                           ("view", {"conversation_id": first.conversation_id, "via": second.conversation_id})):
            await ivy.send(kind, data, id=kind)
            assert (await ivy.next_matching(lambda e: e["type"] == "error" and e["id"] == kind, kind))["data"][
                "code"] == "forbidden"
        await ann.acknowledged(await ann.close_conversation(second.conversation_id))  # ann's slots are shared
        for each in (first, second, ann, ivy):
            await each.close()

    asyncio.run(scenario())


def test_a_view_via_a_conversation_of_another_customer_is_not_found(bridge, identity_accounts):
    async def scenario() -> None:
        mine = await Customer.connect(bridge, identity=signed(new_contact()))
        other = await Customer.connect(bridge, identity=signed(new_contact()))
        anonymous = await Customer.connect(bridge)
        await mine.acknowledged(await mine.talk_to_person())
        ida = await staff(bridge, "ida")
        await ida.acknowledged(await ida.claim(mine.conversation_id))
        for target in (other.conversation_id, anonymous.conversation_id):
            await ida.send("view", {"conversation_id": target, "via": mine.conversation_id}, id=f"v{target}")
            refused = (await ida.expect("error"))["data"]
            # As one that does not exist: a chat an agent may read does not tell which other ids exist.
            assert (refused["code"], refused["message"]) == ("not_found", f"no conversation {target}")
        await ida.send("view", {"conversation_id": other.conversation_id, "via": 7}, id="bad")
        assert (await ida.expect("error"))["data"]["code"] == "malformed"
        # An anonymous customer has no card, and no note about them can be kept.
        await anonymous.acknowledged(await anonymous.talk_to_person())
        await ida.acknowledged(await ida.claim(anonymous.conversation_id))
        await ida.send("contact", {"conversation_id": anonymous.conversation_id}, id="who")
        assert (await ida.expect("contact"))["data"]["contact"] is None
        await ida.send("contact_note", {"conversation_id": anonymous.conversation_id, "text": "hm"}, id="note")
        assert (await ida.expect("error"))["data"]["code"] == "not_identified"
        for each in (mine, other, anonymous, ida):
            await each.close()

    asyncio.run(scenario())


def test_nothing_unsigned_is_believed(bridge, identity_accounts):
    async def scenario() -> None:
        contact = new_contact()
        now = int(time.time())
        forged = signed(contact, secret="someone-else-" + "x" * 30)
        assert (await first_error(bridge, {"identity": forged}))["code"] == "invalid_identity"
        old = signed(contact, issued_at=now - 24 * 3600 - 60)
        assert (await first_error(bridge, {"identity": old}))["code"] == "identity_expired"
        ahead = signed(contact, issued_at=now + 3600)
        assert (await first_error(bridge, {"identity": ahead}))["code"] == "invalid_identity"
        for bad in ({"identity": 42}, {"identity": "a.b"}, {"identity": signed(contact, admin=True)},
                    {"identity": signed("a b")}):
            assert (await first_error(bridge, bad))["code"] == "invalid_identity", bad
        # Nothing was linked to the contact by any of them.
        customer = await Customer.connect(bridge, identity=signed(contact))
        ike = await staff(bridge, "ike")
        await customer.acknowledged(await customer.talk_to_person())
        await ike.acknowledged(await ike.claim(customer.conversation_id))
        await ike.send("contact", {"conversation_id": customer.conversation_id}, id="who")
        panel = (await ike.expect("contact"))["data"]["contact"]
        assert [past["conversation_id"] for past in panel["conversations"]] == [customer.conversation_id]
        await customer.close()
        await ike.close()

    asyncio.run(scenario())


def test_another_contact_never_takes_over_a_conversation(bridge):
    """A shared computer: Bob signs in where Ada's conversation is stored; he gets his own."""
    async def scenario() -> None:
        ada = await Customer.connect(bridge, identity=signed(new_contact()))
        await ada.acknowledged(await ada.say("hello"))
        bob = await Customer.connect(bridge, conversation_id=ada.conversation_id, token=ada.token,
                                     identity=signed(new_contact(), name="Bob"))
        assert bob.conversation_id != ada.conversation_id
        await bob.expect("status")  # after the replay
        assert not [e for e in bob.received if e["type"] == "message"]  # nothing of Ada's is replayed
        for each in (ada, bob):
            await each.close()

    asyncio.run(scenario())


def test_a_signed_hello_never_adopts_an_anonymous_conversation(bridge, redis_url, bridge_prefix):
    """A shared computer: an anonymous visitor's conversation is still stored when a customer signs in; the
    customer gets their own, and the visitor's stays anonymous, untouched, theirs alone."""
    async def scenario() -> Tuple[str, str, str]:
        visitor = await Customer.connect(bridge)
        await visitor.acknowledged(await visitor.say("my pin is 4321, is that safe?"))
        contact = new_contact()
        signed_in = await Customer.connect(bridge, conversation_id=visitor.conversation_id, token=visitor.token,
                                           identity=signed(contact))
        assert signed_in.conversation_id != visitor.conversation_id and signed_in.token != visitor.token
        await signed_in.expect("status")  # after the replay
        assert not [e for e in signed_in.received if e["type"] == "message" and e["data"]["kind"] == "customer"]
        elsewhere = await Customer.connect(bridge, identity=signed(contact))  # the contact's own, on any device
        assert elsewhere.conversation_id == signed_in.conversation_id
        again = await Customer.connect(bridge, conversation_id=visitor.conversation_id, token=visitor.token)
        assert again.conversation_id == visitor.conversation_id  # still the visitor's, anonymously
        for each in (visitor, signed_in, elsewhere, again):
            await each.close()
        return contact, visitor.conversation_id, signed_in.conversation_id

    contact, anonymous, own = asyncio.run(scenario())
    client = redis_sync.Redis.from_url(redis_url)
    try:
        assert client.hmget(f"{bridge_prefix}:conv:{anonymous}", ["contact_id", "contact_token"]) == [None, None]
        assert client.zrange(f"{bridge_prefix}:contact-convs:{contact}", 0, -1) == [own.encode()]
    finally:
        client.close()


def test_after_logout_a_signed_conversation_is_not_resumed_without_the_identity(bridge):
    """The signed customer logs out; the next person at the browser holds the conversation id and a token
    (the first device's, or another device's): refused with identity_required, nothing replayed."""
    async def scenario() -> None:
        contact = new_contact()
        phone = await Customer.connect(bridge, identity=signed(contact))
        await phone.acknowledged(await phone.say("my card number is in my profile"))
        laptop = await Customer.connect(bridge, identity=signed(contact))
        for token in (phone.token, laptop.token):
            hello = {"conversation_id": phone.conversation_id, "token": token}
            assert (await first_error(bridge, hello))["code"] == "identity_required"
            other = signed(new_contact(), name="Bob")  # another contact's identity: their own conversation
            bob = await Customer.connect(bridge, conversation_id=phone.conversation_id, token=token, identity=other)
            assert bob.conversation_id != phone.conversation_id
            await bob.close()
        back = await Customer.connect(bridge, conversation_id=phone.conversation_id, token=phone.token,
                                      identity=signed(contact))
        assert back.conversation_id == phone.conversation_id and back.token == phone.token
        for each in (phone, laptop, back):
            await each.close()

    asyncio.run(scenario())


def test_a_signed_customer_returning_after_a_close_gets_a_new_conversation(bridge, identity_accounts):
    """Each closed chat is its own entry of the contact's history: the browser's closed one is not reopened."""
    async def scenario() -> None:
        contact = new_contact()
        first = await Customer.connect(bridge, identity=signed(contact))
        await first.acknowledged(await first.talk_to_person())
        ida = await staff(bridge, "ida")
        await ida.acknowledged(await ida.claim(first.conversation_id))
        await ida.acknowledged(await ida.close_conversation(first.conversation_id))
        await first.expect("status", state="closed")
        # The page that had it open reconnects (its socket dropped, it says last_seen): still that chat, to rate.
        assert first.last_seen is not None
        reconnected = await Customer.connect(bridge, conversation_id=first.conversation_id, token=first.token,
                                             last_seen=first.last_seen, identity=signed(contact))
        assert reconnected.conversation_id == first.conversation_id
        await reconnected.expect("status", state="closed")
        await reconnected.send("rating", {"score": 5, "comment": "thanks"}, id="rate")
        await reconnected.expect("ack")
        # Returning later (a reload, another visit: no last_seen): a new conversation, not the closed one.
        back = await Customer.connect(bridge, conversation_id=first.conversation_id, token=first.token,
                                      identity=signed(contact))
        assert back.conversation_id != first.conversation_id
        status = await back.expect("status")
        assert status["data"]["state"] == "bot"
        await back.acknowledged(await back.talk_to_person())
        await ida.acknowledged(await ida.claim(back.conversation_id))
        await ida.send("contact", {"conversation_id": back.conversation_id}, id="who")
        panel = (await ida.expect("contact"))["data"]["contact"]
        listed = {past["conversation_id"]: past["state"] for past in panel["conversations"]}
        assert listed == {back.conversation_id: "agent", first.conversation_id: "closed"}
        assert panel["conversations"][1]["rating"] == {"score": 5, "comment": "thanks"}
        await ida.acknowledged(await ida.close_conversation(back.conversation_id))
        for each in (first, reconnected, back, ida):
            await each.close()

    asyncio.run(scenario())


def test_a_signed_conversations_files_need_the_customers_identity(bridge, identity_accounts):
    """Uploads and downloads by the customer of a signed conversation carry X-Identity: the same signed
    identity as hello's, for the same contact (an anonymous conversation's files need only the token)."""
    async def scenario() -> None:
        contact = new_contact()
        customer = await Customer.connect(bridge, identity=signed(contact))
        await customer.acknowledged(await customer.talk_to_person())
        ike = await staff(bridge, "ike")
        await ike.acknowledged(await ike.claim(customer.conversation_id))
        conversation_id, authorization = customer.conversation_id, f"Conversation {customer.token}"

        def upload(identity: Optional[str]) -> requests.Response:
            headers = {"Authorization": authorization, "X-File-Name": "card.png", "X-Client-Id": uuid.uuid4().hex,
                       "Content-Type": "image/png", **({"X-Identity": identity} if identity is not None else {})}
            return requests.post(f"http://{bridge}/api/conversations/{conversation_id}/attachments",
                                 data=image("PNG"), headers=headers, timeout=30)

        def download(file_id: str, identity: Optional[str]) -> requests.Response:
            headers = {"Authorization": authorization, **({"X-Identity": identity} if identity is not None else {})}
            return requests.get(f"http://{bridge}/api/conversations/{conversation_id}/attachments/{file_id}",
                                headers=headers, timeout=30)

        for identity in (None, "", signed(new_contact())):
            refused = await asyncio.to_thread(upload, identity)
            assert (refused.status_code, refused.json()["error"]["code"]) == (401, "identity_required"), identity
        forged = await asyncio.to_thread(upload, signed(contact, secret="someone-else-" + "x" * 30))
        assert (forged.status_code, forged.json()["error"]["code"]) == (401, "invalid_identity")
        stored = await asyncio.to_thread(upload, signed(contact))
        assert stored.status_code == 201, stored.text
        file_id = stored.json()["attachment"]["id"]
        for identity in (None, signed(new_contact())):
            refused = await asyncio.to_thread(download, file_id, identity)
            assert (refused.status_code, refused.json()["error"]["code"]) == (401, "identity_required"), identity
        served = await asyncio.to_thread(download, file_id, signed(contact))
        assert served.status_code == 200 and served.content == image("PNG")
        await ike.acknowledged(await ike.close_conversation(conversation_id))
        for each in (customer, ike):
            await each.close()

    asyncio.run(scenario())


def test_two_devices_starting_at_once_end_in_one_conversation(bridge, second_bridge):
    """Neither has a conversation yet: each hello would start one, and only one is kept for the contact."""
    async def scenario() -> None:
        for _ in range(3):
            contact_id = new_contact()
            first, second = await asyncio.gather(Customer.connect(bridge, identity=signed(contact_id)),
                                                 Customer.connect(second_bridge, identity=signed(contact_id)))
            assert first.conversation_id == second.conversation_id
            for each in (first, second):
                await each.close()

    asyncio.run(scenario())


def test_files_of_a_contacts_earlier_chat_open_via_the_chat_the_agent_serves(bridge, identity_accounts):
    """The contact panel's history opens an earlier chat read-only (``view`` with ``via``): its files open the
    same way (``?via=``), for whoever may read ``via``; never for another customer's chat (not_found)."""
    async def scenario() -> None:
        contact = new_contact()
        identity = signed(contact)
        first = await Customer.connect(bridge, identity=identity)
        reply = await asyncio.to_thread(requests.post, f"http://{bridge}/api/conversations/{first.conversation_id}/attachments",
                                        data=image("PNG"), timeout=30, headers={
                                            "Authorization": f"Conversation {first.token}", "X-Identity": identity,
                                            "X-File-Name": "receipt.png", "X-Client-Id": uuid.uuid4().hex,
                                            "Content-Type": "image/png"})
        assert reply.status_code == 201, reply.text
        file_id = reply.json()["attachment"]["id"]
        await first.acknowledged(await first.talk_to_person())
        ann = await staff(bridge, "ann")
        await ann.acknowledged(await ann.claim(first.conversation_id))
        await ann.send("close", {"conversation_id": first.conversation_id, "disposition": "resolved"}, id="close")
        await ann.expect("ack", conversation_id=first.conversation_id)
        later = await Customer.connect(bridge, identity=signed(contact))  # a new visit: a new conversation
        assert later.conversation_id != first.conversation_id
        await later.acknowledged(await later.talk_to_person())
        await ann.acknowledged(await ann.claim(later.conversation_id))
        stranger = await Customer.connect(bridge, identity=signed(new_contact()))
        ivy = await staff(bridge, "ivy")

        def download(agent: Any, via: Optional[str]) -> requests.Response:
            return requests.get(f"http://{bridge}/api/conversations/{first.conversation_id}/attachments/{file_id}",
                                params={"via": via} if via else None, timeout=30,
                                headers={"Authorization": f"Bearer {agent.token}"})

        assert (await asyncio.to_thread(download, ann, None)).status_code == 403  # not hers, nobody mentioned her
        through = await asyncio.to_thread(download, ann, later.conversation_id)
        assert through.status_code == 200 and through.content == image("PNG")
        assert (await asyncio.to_thread(download, ivy, later.conversation_id)).status_code == 403  # may not read via
        other = await asyncio.to_thread(download, ann, stranger.conversation_id)
        assert other.status_code == 403  # she may not read the stranger's chat either
        await stranger.acknowledged(await stranger.talk_to_person())
        await ann.acknowledged(await ann.claim(stranger.conversation_id))
        probe = await asyncio.to_thread(download, ann, stranger.conversation_id)  # hers, another customer's
        assert probe.status_code == 404 and probe.json()["error"]["code"] == "not_found"
        for chat in (later, stranger):
            await ann.acknowledged(await ann.close_conversation(chat.conversation_id))  # ann's slots are shared
        for each in (first, later, stranger, ann, ivy):
            await each.close()

    asyncio.run(scenario())
