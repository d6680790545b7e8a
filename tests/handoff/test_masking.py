"""Privacy by default, end to end (issue 17): what a customer must never send (a card number, its security
code, a password) is masked at the bridge's edge. Through the real bridge, Rasa, action server and Redis:
after a conversation that carries them in every way a customer can type (messages, the details form, a
file's name, a rating's comment, a request left), they are in no Redis key of any kind (transcripts,
hashes, streams, Rasa's trackers, the teaching inbox's records, which a message the bot did not
understand reaches masked), not in Rasa's tracker as its API reads it, and in no server's log; the
customer was told once. Passphrases and codes in words, as an attacker typed them, too."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any, Dict, Iterator, List

import redis as redis_sync
import requests

from handoff.privacy import luhn_valid
from handoff_client import Customer
from harness.clients import staff
from harness.files import image
from harness.servers import LOG_DIR, RASA_API_TOKEN

from tests.handoff.test_attachments import as_customer, upload


def fresh_card() -> str:
    """A Visa number no earlier run typed, so that any sighting of it is this test's leak."""
    while True:
        digits = "4" + "".join(random.choice("0123456789") for _ in range(15))
        if luhn_valid(digits):
            return digits


def grouped(digits: str) -> str:
    return " ".join(digits[index:index + 4] for index in range(0, len(digits), 4))


def everything_in_redis(url: str) -> Iterator[str]:
    """Every key and value of every type in the test Redis, decoded."""
    client = redis_sync.Redis.from_url(url)
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        values: Any = {
            "string": lambda: [client.get(key)],
            "hash": lambda: [item for pair in client.hgetall(key).items() for item in pair],
            "list": lambda: client.lrange(key, 0, -1),
            "set": lambda: list(client.smembers(key)),
            "zset": lambda: [member for member, _ in client.zrange(key, 0, -1, withscores=True)],
            "stream": lambda: [repr(fields) for _, fields in client.xrange(key)],
        }.get(kind, lambda: [])()
        yield key.decode(errors="replace")
        for value in values:
            yield value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def teaching_inbox(url: str) -> Iterator[str]:
    """What Rasa's event broker recorded for the teaching inbox (``{teach prefix}:incoming``), decoded."""
    client = redis_sync.Redis.from_url(url)
    for key in client.scan_iter(match="*:incoming", _type="stream"):
        for _, fields in client.xrange(key):
            yield repr({name.decode(): value.decode(errors="replace") for name, value in fields.items()})


def sightings(secrets: List[str], texts: Iterator[str]) -> List[str]:
    found = []
    for text in texts:
        found += [secret for secret in secrets if secret in text or secret in text.replace(" ", "").replace("-", "")]
    return found


async def the_conversation(bridge: str, card: str, code: str, password: str) -> Dict[str, Any]:
    """Says the secrets in every way a customer can; returns what the customer and the agent were shown."""
    customer = await Customer.connect(bridge)
    cid = customer.conversation_id
    said = await customer.say(f"my card is {grouped(card)} and it was declined")
    ack = await customer.acknowledged(said)
    echo = await customer.expect("message", kind="customer")
    notice = await customer.next_matching(
        lambda e: e["type"] == "message" and e["data"]["data"].get("notice") == "privacy", "the privacy notice")
    again = await customer.say(f"the cvv is {code} and my password is {password}")
    await customer.acknowledged(again)
    not_understood = await customer.say(f"zib zab {card} wub")  # for the teaching inbox
    await customer.acknowledged(not_understood)
    await customer.send("talk_to_person", id="talk")
    await customer.expect("status", state="queued")
    await customer.send("details", {"description": f"card {card.replace(' ', '-')}", "contact": ""}, id="details")
    await customer.acknowledged("details")
    stored = upload(bridge, cid, image("PNG"), as_customer(customer), f"{card}.png")
    assert stored.status_code == 201, stored.text
    ann = await staff(bridge, "ann")
    await ann.send("claim", {"conversation_id": cid}, id="claim")
    shown = (await ann.expect("conversation", conversation_id=cid))["data"]
    await ann.send("close", {"conversation_id": cid}, id="close")
    await ann.acknowledged("close")
    await customer.expect("status", state="closed")
    await customer.send("rating", {"score": 4, "comment": f"thanks, card {card} works now"}, id="rate")
    await customer.acknowledged("rate")
    await customer.send("leave", {"kind": "message", "contact": "me@example.com",
                                  "description": f"refund to {grouped(card)} please"}, id="left")
    await customer.acknowledged("left")
    for client in (customer, ann):
        await client.close()
    return {"cid": cid, "ack": ack["data"], "echo": echo["data"]["text"], "notice": notice["data"]["text"],
            "agent": shown, "attachment": stored.json()["attachment"]}


def test_a_card_number_code_and_password_reach_no_store_no_rasa_and_no_log(bridge, rasa_url, redis_url,
                                                                           bridge_prefix):
    card, code, password = fresh_card(), f"{random.randint(100, 999)}", f"Zq{random.randint(10**6, 10**7)}!x"
    seen = asyncio.run(the_conversation(bridge, card, code, password))
    # What the customer and the agent read.
    assert seen["ack"]["text"] == seen["echo"] == "my card is [card number] and it was declined"
    assert "never send" in seen["notice"]
    assert seen["attachment"]["name"] == "card number.png"  # the placeholder, as a file name keeps it
    assert "[security code]" in repr(seen["agent"]) and "[password]" in repr(seen["agent"])
    secrets = [card, grouped(card), code + " and", password]
    assert not sightings(secrets, iter([repr(seen)])), "shown unmasked"
    # Told once, though three of the customer's texts were masked.
    log = redis_sync.Redis.from_url(redis_url).xrange(f"{bridge_prefix}:log:{seen['cid']}")
    notices = [fields for _, fields in log if b'"notice": "privacy"' in fields.get(b"data", b"")
               or b'"notice":"privacy"' in fields.get(b"data", b"")]
    assert len(notices) == 1, log
    # Nowhere kept: Redis (every key), Rasa's tracker, the servers' logs.
    assert not sightings(secrets, everything_in_redis(redis_url)), "in Redis"
    assert any("zib zab [card number] wub" in text for text in teaching_inbox(redis_url)), "the inbox was not reached"
    tracker = requests.get(f"{rasa_url}/conversations/{seen['cid']}/tracker", params={"token": RASA_API_TOKEN},
                           timeout=30).json()
    texts = [event.get("text") or "" for event in tracker["events"]]
    assert "my card is [card number] and it was declined" in texts
    assert not sightings(secrets, iter([repr(tracker)])), "in Rasa's tracker"
    logs = [path.read_text(errors="replace") for path in Path(LOG_DIR).glob("*.log")]
    assert logs and not sightings(secrets, iter(logs)), "in a log"


def test_a_files_name_is_masked_as_it_is_kept_after_cleaning(bridge, redis_url):
    """Cleaning a file's name turns unusual characters into "_" (handoff.attachments.safe_name): a card
    whose groups are joined by one of them ("4111;1111;1111;1111") is no card as typed, but is one in
    the name kept. The name is masked after it is cleaned too, and the customer told."""

    async def upload_and_watch(name: str) -> Dict[str, Any]:
        customer = await Customer.connect(bridge)
        stored = upload(bridge, customer.conversation_id, image("PNG"), as_customer(customer), name)
        assert stored.status_code == 201, stored.text
        notice = await customer.next_matching(
            lambda e: e["type"] == "message" and e["data"]["data"].get("notice") == "privacy", "the privacy notice")
        await customer.close()
        return {"attachment": stored.json()["attachment"], "notice": notice["data"]["text"]}

    card = fresh_card()
    for joined_by in (";", "#", "~"):
        name = joined_by.join(card[index:index + 4] for index in range(0, 16, 4)) + ".png"
        seen = asyncio.run(upload_and_watch(f"receipt {name}"))
        assert seen["attachment"]["name"] == "receipt card number.png", seen
        assert "never send" in seen["notice"]
    assert not sightings([card, card[:8], card[8:]], everything_in_redis(redis_url)), "in Redis"


def test_secrets_typed_to_get_past_the_rules_are_masked_in_messages_and_requests(bridge, redis_url):
    """What the rules now read as people do (handoff.privacy): a card between zero-width spaces or split over
    lines, joined by slashes; a security code and a PIN typed a digit at a time or with dots; a password in
    other words. Through the real bridge, in a message, a callback request's description and preferred
    time: masked as the customer is acknowledged and as the agents would read them, and kept nowhere."""
    card = fresh_card()
    groups = [card[index:index + 4] for index in range(0, 16, 4)]
    invisible, over_lines, slashed = "\u200b".join(groups), f"{' '.join(groups[:2])}\n{' '.join(groups[2:])}", "/".join(groups)

    async def conversation() -> Dict[str, Any]:
        customer = await Customer.connect(bridge)
        first = await customer.say(f"card {invisible} and C.V.V. 4 0 7")
        ack = await customer.acknowledged(first)
        second = await customer.say(f"my card:\n{over_lines}\nthe password I use is Qx{card[-6:]}!")
        again = await customer.acknowledged(second)
        await customer.send("leave", {"kind": "callback", "contact": "+44 20 7946 0958",
                                      "description": f"refund to {slashed} please",
                                      "preferred_time": "after 5pm, P.I.N. 8 8 2 1"}, id="callback")
        await customer.acknowledged("callback")
        await customer.close()
        return {"first": ack["data"]["text"], "second": again["data"]["text"]}

    seen = asyncio.run(conversation())
    assert seen == {"first": "card [card number] and C.V.V. [security code]",
                    "second": "my card:\n[card number]\nthe password I use is [password]"}
    stored = list(everything_in_redis(redis_url))
    assert any("refund to [card number] please" in text and "after 5pm, P.I.N. [PIN]" in text for text in stored)
    secrets = [card, invisible, over_lines, slashed, "4 0 7", "8 8 2 1", f"Qx{card[-6:]}!"]
    assert not sightings(secrets, iter(stored)), "in Redis"


def test_a_passphrase_and_a_security_code_in_words_are_masked_in_messages_and_requests(bridge, redis_url):
    """What an attacker's trial got through (handoff.privacy): a password of several words, masked whole
    to the end of its clause, and a security code said in words. Through the real bridge, in a message
    and in a callback request's description and preferred time: masked as the customer is acknowledged,
    and kept nowhere in Redis."""
    passphrase = " ".join("".join(random.choice("bdfgklmnprstvz") + random.choice("aeiou") for _ in range(3))
                          for _ in range(3))
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    code = " ".join(names[random.randint(0, 9)] for _ in range(3))
    other_code = " ".join(names[random.randint(0, 9)] for _ in range(3))

    async def conversation() -> Dict[str, Any]:
        customer = await Customer.connect(bridge)
        first = await customer.say(f"my password is {passphrase}, and my CVV is {code}")
        ack = await customer.acknowledged(first)
        await customer.send("leave", {"kind": "callback", "contact": "+44 20 7946 0958",
                                      "description": f"password: {passphrase}",
                                      "preferred_time": f"after 5pm, cvc: {other_code}"}, id="callback")
        await customer.acknowledged("callback")
        await customer.close()
        return {"first": ack["data"]["text"]}

    seen = asyncio.run(conversation())
    assert seen == {"first": "my password is [password], and my CVV is [security code]"}
    stored = list(everything_in_redis(redis_url))
    assert any("password: [password]" in text and "after 5pm, cvc: [security code]" in text for text in stored)
    secrets = [passphrase, *passphrase.split(" "), code, other_code]
    assert not sightings(secrets, iter(stored)), "in Redis"
