"""The whole teaching loop through the bridge's API, with real processes:
inbox → label → train → evaluate → deploy to a running Rasa server while a
customer keeps chatting (no message lost), a worse model refused, rollback."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List

import requests
import websockets

from handoff_client import Agent, Customer, login_protocols
from harness.clients import login
from harness.teach_stack import TeachStack
from tests.teach.conftest import CONTENT_EDITOR, content_editor, request

# A question the demo bot cannot answer yet, in the words customers used...
PET_QUESTIONS = [
    "do you offer pet insurance",
    "can I insure my dog with you",
    "is there cover for my cat's vet bills",
    "pet insurance, do you sell it?",
    "I want to insure my puppy",
    "does the bank do insurance for pets",
    "how do I get insurance for my dog",
    "vet bills cover for pets available?",
    "can I buy pet cover through the app",
    "is my rabbit insurable with your bank",
    "looking for pet insurance please",
    "do you have a policy for pets",
]
PET_ANSWER = "We don't sell pet insurance ourselves, but our partner PetCover does: {help_url}/pets"
# ... and one phrasing the model has never seen, asked after the deployment.
UNSEEN_PET_QUESTION = "does the bank have insurance for my dog"


async def job_finished(editor: Agent, timeout: float = 240.0) -> Dict[str, Any]:
    """The job push that ends the training job (done, refused or failed)."""
    envelope = await editor.next_matching(
        lambda e: e["type"] == "job" and e["data"]["job"] and e["data"]["job"]["state"] in ("done", "refused", "failed"),
        "the end of the training job", timeout)
    return envelope["data"]["job"]


class ChattingCustomers:
    """Customers asking the bot through the bridge, one after another, until stopped.

    Each has a short, happy conversation (so the bot never hands it over) and
    every message must be stored once and answered by the bot.
    """

    CONVERSATION = ["hi", "my card hasn't arrived", "thanks"]

    def __init__(self, address: str) -> None:
        self.address = address
        self.customers: List[Customer] = []
        self.sent: Dict[str, List[str]] = {}
        self.slowest = 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            customer = await Customer.connect(self.address)
            self.customers.append(customer)
            sent = self.sent.setdefault(customer.conversation_id, [])
            for text in self.CONVERSATION:
                started = time.monotonic()
                key = (await customer.say(text)).id
                sent.append(key)
                # The ack comes once the bot has answered: its reply is in the transcript.
                await customer.acknowledged(key, timeout=30)
                self.slowest = max(self.slowest, time.monotonic() - started)
                await asyncio.sleep(0.2)
            await customer.close()  # what it received stays for the checks

    async def stop(self) -> int:
        """Stops after the current message; returns how many messages were sent."""
        self._stop.set()
        return sum(len(keys) for keys in self.sent.values())

    def check_nothing_lost(self) -> None:
        for customer in self.customers:
            assert not [e for e in customer.received if e["type"] == "error"], customer.received
            said = [m["data"]["client_id"] for m in customer.messages("customer")]
            assert said == self.sent[customer.conversation_id], "a customer message was lost or duplicated"
            assert len(customer.messages("bot")) >= len(said), "a message went unanswered"


def test_label_train_deploy_while_chatting_then_refuse_worse_and_roll_back(teach_stack: TeachStack):
    asyncio.run(_scenario(teach_stack))


async def _scenario(stack: TeachStack) -> None:
    first_model = await stack.served_model()
    editor = await content_editor(stack)
    chatter = ChattingCustomers(stack.bridge)
    chatting = asyncio.create_task(chatter.run())
    try:
        # ---- the inbox: messages grouped, labelled as a new FAQ topic -----------------
        ids = await stack.seed(PET_QUESTIONS, ["not_understood"])
        await stack.wait_for_items(ids)
        result = await request(editor, "new_faq", {"item_ids": ids, "key": "pet_insurance", "category": "account",
                                                   "answer": PET_ANSWER})
        assert result["intent"] == "faq/pet_insurance"
        nlu = (stack.project / "data" / "nlu" / "faq_account.yml").read_text()
        assert "- intent: faq/pet_insurance" in nlu and "    - can I insure my dog with you\n" in nlu
        assert "utter_faq/pet_insurance" in (stack.project / "data" / "responses" / "faq_account.yml").read_text()

        # ---- train, evaluate and deploy in one action, while the customer chats -------
        labelled = time.monotonic()
        job_id = (await request(editor, "train", {"deploy": True}))["job_id"]
        job = await job_finished(editor)
        assert (job["id"], job["state"], job["stage"]) == (job_id, "done", "Deployed"), job
        report = job["report"]
        assert report["verdict"] in ("better", "same"), report
        assert report["stuck_corpus"]["passed"], report["stuck_corpus"]
        assert {"intent": "faq/pet_insurance", "support": 0}.items() <= next(
            row for row in report["per_intent"] if row["intent"] == "faq/pet_insurance").items()
        new_model = job["model_id"]
        seconds_to_served = await stack.wait_until_served(new_model)
        labelled_to_served = time.monotonic() - labelled
        print(f"\nlabelled -> deployed and served: {labelled_to_served:.1f} s "
              f"(Rasa loaded it {seconds_to_served:.1f} s after the job ended)")

        # The new answer is live for a phrasing nobody taught.
        asker = await Customer.connect(stack.bridge)
        await asker.acknowledged(await asker.say(UNSEEN_PET_QUESTION))
        # The answer comes before the ack (docs/bridge-protocol.md); it is kept, and found here.
        answer = await asker.expect("message", kind="bot")
        assert "PetCover" in answer["data"]["text"], answer
        await asker.close()
    finally:
        sent = await chatter.stop()
        await chatting
    # Nothing lost while the model changed under the conversations.
    chatter.check_nothing_lost()
    print(f"customer messages during training and deployment: {sent}, slowest answer {chatter.slowest:.2f} s")

    # ---- a worse model is refused, and only deployed with an explicit override -----
    cards = (stack.project / "tests" / "nlu" / "unseen_faq_cards.yml").read_text()
    held_out = [line.strip()[2:] for line in cards.splitlines() if line.startswith("    - ")][:12]
    wrong = await stack.seed(held_out, ["low_confidence"], intent="faq/card_arrival", confidence=0.5)
    await stack.wait_for_items(wrong)
    await request(editor, "label", {"item_ids": wrong, "intent": "greet"})
    await request(editor, "train", {"deploy": True})
    job = await job_finished(editor)
    assert job["state"] == "refused", job
    assert job["report"]["verdict"] == "worse" and job["report"]["worse_confusions"], job["report"]
    worse_model = job["model_id"]
    assert await stack.store_call(lambda store: store.current()) == new_model

    refusal_id = uuid.uuid4().hex
    await editor.send("deploy", {"model_id": worse_model, "override": False}, id=refusal_id)
    refusal = await editor.next_matching(lambda e: e["id"] == refusal_id, "deploy refusal", 30)
    assert (refusal["type"], refusal["data"]["code"]) == ("error", "refused")
    await request(editor, "deploy", {"model_id": worse_model, "override": True, "reason": "testing the override"})
    await stack.wait_until_served(worse_model)

    # ---- one action rolls back --------------------------------------------------------
    assert (await request(editor, "rollback", {}))["model_id"] == new_model
    await stack.wait_until_served(new_model)
    assert (await request(editor, "rollback", {}))["model_id"] == first_model
    await stack.wait_until_served(first_model)

    # ---- who did what, when -------------------------------------------------------------
    entries = (await request(editor, "audit", {}))["entries"]
    trail = [(e["who"], e["action"]) for e in reversed(entries) if e["who"] == CONTENT_EDITOR]
    assert [action for _, action in trail] == [
        "label", "train", "trained", "deploy",  # the new FAQ topic, deployed by the job
        "label", "train", "trained",  # the mislabelled examples: trained, refused
        "deploy", "rollback", "rollback",  # the override, then back twice
    ]
    override = next(e for e in entries if e["action"] == "deploy")["detail"]
    assert override == {"model_id": worse_model, "verdict": "worse", "override": True,
                        "reason": "testing the override", "regressed_topics": ["faq/card_arrival"]}
    await editor.close()


def test_content_socket_needs_the_content_role_and_checks_every_field(teach_stack: TeachStack):
    async def scenario() -> None:
        token = login(teach_stack.bridge, "ann").json()["token"]  # an agent, not a content editor
        async with websockets.connect(f"ws://{teach_stack.bridge}/ws/content", subprotocols=login_protocols(token)) as ws:
            refused = await asyncio.wait_for(ws.recv(), 10)
            assert '"forbidden"' in refused

        editor = await content_editor(teach_stack)
        for kind, data, code in [
            ("label", {"item_ids": "x", "intent": "greet"}, "malformed"),
            ("label", {"item_ids": ["x"], "intent": "greet", "extra": 1}, "malformed"),
            ("new_faq", {"item_ids": ["x"], "key": "k", "category": "c", "answer": "a" * 1001}, "malformed"),
            ("label", {"item_ids": ["no-such-item"], "intent": "greet"}, "not_found"),
            ("deploy", {"model_id": "no-such-model", "override": False}, "not_found"),
            ("frobnicate", {}, "unknown_type"),
        ]:
            request_id = uuid.uuid4().hex
            await editor.send(kind, data, id=request_id)
            reply = await editor.next_matching(lambda e: e["id"] == request_id, f"reply to {kind}", 30)
            assert (reply["type"], reply["data"]["code"]) == ("error", code), reply
        await editor.close()

    asyncio.run(scenario())


def test_the_model_server_speaks_rasas_protocol_and_needs_its_token(teach_stack: TeachStack):
    url = f"http://{teach_stack.bridge}/api/models/current"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": "guess"}, timeout=10).status_code == 401

    model = requests.get(url, params={"token": teach_stack.model_token}, timeout=10)
    current = asyncio.run(teach_stack.store_call(lambda store: store.current()))
    assert model.status_code == 200 and model.headers["ETag"] == f'"{current}"'
    assert model.headers["filename"] == f"{current}.tar.gz" and model.content[:2] == b"\x1f\x8b"  # gzip
    unchanged = requests.get(url, params={"token": teach_stack.model_token},
                             headers={"If-None-Match": model.headers["ETag"]}, timeout=10)
    assert unchanged.status_code == 304 and not unchanged.content
