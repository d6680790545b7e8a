"""One topic markedly worse while overall accuracy holds: the deploy is blocked.

Through the real worker, Redis, training and bridge: content staff teach many
held-out questions the live model gets wrong (overall accuracy rises) and, by
mistake, label most of one topic's questions as another topic. That topic
regresses far beyond the noise of its held-out questions, so the job refuses
to deploy, names the topic, and deploying needs an override that the audit
trail records with who and which topics. Undoing the wrong label takes exactly
its lines out of data/ and returns the messages to the inbox; the next report
lists what changed since the live model.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

from bot.evaluation import NluModel, load_examples, predicted_label
from harness.servers import VENV_BIN, base_env
from harness.teach_stack import TeachStack
from tests.teach.conftest import CONTENT_EDITOR, content_editor, request
from tests.teach.test_teach_flow import job_finished

MISLABELLED = 8  # of the wrecked topic's held-out questions
MAX_GAINS = 40


def plan(project: Path, live_model: Path) -> Tuple[Dict[str, List[str]], str, str, List[str]]:
    """(questions the live model gets wrong, by their right topic), the topic to wreck,
    the topic it is mislabelled as, and the mislabelled questions."""
    examples = load_examples(project / "tests" / "nlu")
    predicted = [predicted_label(parse) for parse in NluModel(live_model).parse([text for text, _ in examples])]
    right: Dict[str, List[str]] = defaultdict(list)
    wrong: Dict[str, List[str]] = defaultdict(list)
    for (text, gold), guess in zip(examples, predicted):
        (right if guess == gold else wrong)[gold].append(text)
    faq_topics = sorted((topic for topic in right if topic.startswith("faq/")), key=lambda t: (-len(right[t]), t))
    wrecked = faq_topics[0]
    mislabelled_as = faq_topics[1]
    gains = {topic: texts for topic, texts in wrong.items()
             if topic not in (wrecked, mislabelled_as, "out_of_scope")}
    kept: Dict[str, List[str]] = {}
    for topic in sorted(gains):
        if sum(len(texts) for texts in kept.values()) < MAX_GAINS:
            kept[topic] = gains[topic]
    return kept, wrecked, mislabelled_as, right[wrecked][:MISLABELLED]


async def cli(stack: TeachStack, *args: str) -> "subprocess.CompletedProcess[str]":
    """``python -m teaching ARGS`` against the stack's teaching state."""
    env = {**base_env(), "REDIS_URL": stack.redis_url, "TEACH_KEY_PREFIX": stack.prefix}
    return await asyncio.to_thread(subprocess.run, [str(VENV_BIN / "python"), "-m", "teaching", *args],
                                   env=env, capture_output=True, text=True, timeout=120)


async def label(stack: TeachStack, editor, texts: List[str], intent: str) -> Dict[str, object]:
    ids = await stack.seed(texts, ["low_confidence"], confidence=0.4)
    await stack.wait_for_items(ids)
    return {"ids": ids, **await request(editor, "label", {"item_ids": ids, "intent": intent})}


def test_one_topic_markedly_worse_blocks_the_deploy(teach_stack: TeachStack, model_path: Path):
    asyncio.run(_scenario(teach_stack, model_path))


async def _scenario(stack: TeachStack, live_model: Path) -> None:
    gains, wrecked, mislabelled_as, mislabelled = plan(stack.project, live_model)
    assert sum(len(texts) for texts in gains.values()) >= MISLABELLED + 4, gains
    live = await stack.store_call(lambda store: store.current())
    editor = await content_editor(stack)
    for topic, texts in gains.items():
        await label(stack, editor, texts, topic)
    data_before = {path: path.read_bytes() for path in sorted((stack.project / "data").rglob("*.yml"))}
    wrong = await label(stack, editor, mislabelled, mislabelled_as)

    await request(editor, "train", {"deploy": True})
    job = await job_finished(editor)
    report = job["report"]
    # Overall, the candidate is no worse: only the one topic is.
    assert report["candidate"]["accuracy"] >= report["current"]["accuracy"], report
    assert job["state"] == "refused", (job["state"], job["stage"], report["reasons"])
    assert [row["topic"] for row in report["regressions"]] == [wrecked], report["regressions"]
    assert wrecked in job["stage"], job["stage"]
    # What changed since the live model (registered from outside: added up from the labels).
    changes = report["changes"]
    assert (changes["since"], changes["source"]) == (live, "labels")
    assert [(row["intent"], row["by"], row["state"]) for row in changes["labels"]] == [
        *((topic, CONTENT_EDITOR, "added") for topic in gains), (mislabelled_as, CONTENT_EDITOR, "added")]
    assert {"topic": mislabelled_as, "added": MISLABELLED, "removed": 0}.items() <= next(
        row for row in changes["examples"] if row["topic"] == mislabelled_as).items()
    assert any(reason.startswith(f"{wrecked}: ") for reason in report["reasons"]), report["reasons"]
    assert await stack.store_call(lambda store: store.current()) == live

    # Deploying anyway needs the override; the audit trail says who and which topics.
    refusal_id = uuid.uuid4().hex
    await editor.send("deploy", {"model_id": job["model_id"]}, id=refusal_id)
    refusal = await editor.next_matching(lambda e: e["id"] == refusal_id, "deploy refusal", 30)
    assert (refusal["type"], refusal["data"]["code"]) == ("error", "refused") and wrecked in refusal["data"]["message"]
    await request(editor, "deploy", {"model_id": job["model_id"], "override": True, "reason": "fixing it next"})
    entries = (await request(editor, "audit", {}))["entries"]
    override = next(e for e in entries if e["action"] == "deploy")
    assert (override["who"], override["detail"]) == (CONTENT_EDITOR, {
        "model_id": job["model_id"], "verdict": "worse", "override": True, "reason": "fixing it next",
        "regressed_topics": [wrecked]})

    # The wrong label is undone: exactly its lines leave data/, its messages are back in the inbox.
    undone = await request(editor, "undo_label", {"label_id": wrong["label_id"]})
    assert (undone["removed"], undone["items"], undone["topic_removed"]) == (MISLABELLED, MISLABELLED, False)
    assert {path: path.read_bytes() for path in sorted((stack.project / "data").rglob("*.yml"))} == data_before
    await stack.wait_for_items(wrong["ids"])
    await editor.send("undo_label", {"label_id": wrong["label_id"]}, id="again")
    refusal = await editor.next_matching(lambda e: e["id"] == "again", "second undo refused", 30)
    assert refusal["type"] == "error" and "already undone by carla" in refusal["data"]["message"]
    # The same from a terminal.
    listed = await cli(stack, "labels")
    assert listed.returncode == 0 and f"undone by {CONTENT_EDITOR}" in next(
        line for line in listed.stdout.splitlines() if line.startswith(wrong["label_id"]))
    again = await cli(stack, "--as", "dora", "undo", wrong["label_id"])
    assert again.returncode == 1 and "already undone by carla" in again.stderr

    # The next report says what changed since the (overridden) live model.
    await request(editor, "train", {})
    job = await job_finished(editor)
    changes = job["report"]["changes"]
    assert (changes["since"], changes["source"]) == (override["detail"]["model_id"], "data"), changes
    assert [(row["id"], row["by"], row["state"], row["undone_by"], row["examples"]) for row in changes["labels"]] == [
        (wrong["label_id"], CONTENT_EDITOR, "undone", CONTENT_EDITOR, MISLABELLED)]
    assert changes["examples"] == [{"topic": mislabelled_as, "added": 0, "removed": MISLABELLED, "samples_added": [],
                                    "samples_removed": sorted(mislabelled)[:3]}]
    assert (changes["new_topics"], changes["removed_topics"], changes["responses"]) == ([], [], [])
    assert job["report"]["regressions"] == [] and job["report"]["verdict"] == "better", job["report"]["reasons"]
    await editor.close()
