"""The teaching worker: the one process that writes the training data and trains.

Consoles and the CLI never touch ``data/`` themselves: they put commands on a
Redis stream, and this worker carries them out one at a time, so two people
labelling at once can never interleave half-written files, whichever machine
they are on. It also turns the messages the Rasa event broker collects into
inbox items (embedded, grouped by meaning) and runs training jobs: validate,
train, evaluate against the deployed model, register, deploy when asked and
not worse. Exactly one worker runs per deployment (a Redis key with a
heartbeat); a second one waits until the first is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from teaching import commands
from teaching.worker import datafiles, embeddings
from teaching.errors import Busy, InvalidRequest, TeachError
from teaching.worker.grouping import group
from teaching.worker.inbox import decode_incoming
from teaching.store import ItemState, LabelState, TeachStore, model_id_of

__all__ = ["Worker"]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
WORKER_TTL_SECONDS = 20
MAX_GROUPED_ITEMS = 2000
JOB_RUNNING_STATES = ("queued", "validating", "training", "evaluating", "deploying")


class Worker:
    def __init__(
        self,
        store: TeachStore,
        project: Path,
        models_dir: Path,
        action_endpoint: Optional[str],
        keep_models: int = 10,
        max_accuracy_drop: float = 0.005,
        name: str = "",
    ) -> None:
        self.store = store
        self.project = project
        self.models_dir = models_dir
        self.action_endpoint = action_endpoint
        self.keep_models = keep_models
        self.max_accuracy_drop = max_accuracy_drop
        self.name = name or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._data_lock = asyncio.Lock()
        self._training: Optional["asyncio.Task[None]"] = None
        self._handlers: Dict[str, Callable[[Dict[str, Any], str], Awaitable[Dict[str, Any]]]] = {
            "label": self._label,
            "new_faq": self._new_faq,
            "new_intent": self._new_intent,
            "out_of_scope": self._out_of_scope,
            "skip": self._skip,
            "undo_label": self._undo_label,
            "train": self._train,
        }

    # ---- running --------------------------------------------------------------

    async def run(self, ready: Optional[Callable[[], None]] = None) -> None:
        """Claims the worker role, then serves until cancelled."""
        waited = False
        while not await self.store.claim_worker(self.name, WORKER_TTL_SECONDS):
            if not waited:
                logger.info("another teaching worker (%s) is running; waiting for it to stop",
                            await self.store.worker())
                waited = True
            await asyncio.sleep(HEARTBEAT_SECONDS)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self.store.ensure_groups()
            await self._recover_job()
            await self._refresh_catalog()
            await self._regroup()
            logger.info("teaching worker %s serving %s", self.name, self.project)
            if ready:
                ready()
            await asyncio.gather(self._incoming_loop(), self._commands_loop())
        finally:
            heartbeat.cancel()
            if self._training:
                self._training.cancel()
            with contextlib.suppress(Exception):
                await self.store.release_worker(self.name)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                if not await self.store.claim_worker(self.name, WORKER_TTL_SECONDS):
                    logger.error("another worker took over; stopping")
                    raise SystemExit(1)
            except SystemExit:
                raise
            except Exception:  # noqa: BLE001 - a Redis blip: the TTL leaves room for the next beat
                logger.exception("worker heartbeat failed")

    async def _recover_job(self) -> None:
        """A job that was running when a worker died is marked failed, not left spinning."""
        job = await self.store.job()
        if job and job.get("state") in JOB_RUNNING_STATES:
            await self.store.save_job({"state": "failed", "finished": time.time(),
                                       "error": "the teaching worker stopped during this job; train again"})
            await self.store.publish("job")

    # ---- the inbox ---------------------------------------------------------------

    async def _incoming_loop(self) -> None:
        while True:
            try:
                entries = await self.store.read_stream("incoming", self.name, count=200, block_ms=1000)
                if entries:
                    await self._take_in(entries)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - entries stay pending and are read again
                logger.exception("taking in new inbox messages failed; retrying")
                await asyncio.sleep(1.0)

    async def _take_in(self, entries: List[Tuple[str, Any]]) -> None:
        candidates = []
        for entry_id, value in entries:
            try:
                candidates.append(decode_incoming(value))
            except ValueError as error:
                logger.warning("dropping malformed inbox entry %s: %s", entry_id, error)
        if candidates:
            vectors = await asyncio.to_thread(_embed, [candidate["text"] for candidate in candidates])
            for candidate, vector in zip(candidates, vectors):
                await embeddings.add_item(self.store, candidate, vector)
        await self.store.acknowledge("incoming", *(entry_id for entry_id, _ in entries))
        if candidates:
            await self._regroup()

    async def _regroup(self) -> None:
        items, vectors = await embeddings.open_items(self.store, MAX_GROUPED_ITEMS)
        groups = await asyncio.to_thread(group, items, vectors) if items else []
        await self.store.save_groups(groups, await self.store.open_count())
        await self.store.publish("inbox")

    async def _refresh_catalog(self) -> None:
        await self.store.save_catalog(await asyncio.to_thread(datafiles.catalog, self.project))
        await self.store.publish("catalog")

    # ---- commands ----------------------------------------------------------------

    async def _commands_loop(self) -> None:
        while True:
            try:
                entries = await self.store.read_stream("commands", self.name, count=10, block_ms=1000)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a Redis blip: read again
                logger.exception("reading commands failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for entry_id, command in entries:
                await self._carry_out(command)
                await self.store.acknowledge("commands", entry_id)

    async def _carry_out(self, command: Any) -> None:
        if not isinstance(command, dict) or not isinstance(command.get("id"), str):
            logger.warning("dropping a malformed command: %r", command)
            return
        try:
            kind, data = command.get("kind"), command.get("data")
            if kind not in self._handlers or not isinstance(data, dict):
                raise InvalidRequest(f"not a worker command: {kind!r} with {type(data).__name__} data")
            checked = commands.check(kind, data)
            result: Dict[str, Any] = {"ok": True, "error": None,
                                      "data": await self._handlers[kind](checked, str(command.get("by", "")))}
        except TeachError as error:
            result = {"ok": False, "error": {"code": error.code, "message": str(error)}, "data": None}
        except Exception:  # noqa: BLE001 - report it; the next command must still run
            logger.exception("command %s failed", command.get("kind"))
            result = {"ok": False, "error": {"code": "internal_error",
                                             "message": "the teaching worker failed; see its log"}, "data": None}
        await self.store.reply(command["id"], result)

    async def _open_items(self, data: Dict[str, Any]) -> List[Dict[str, Any]]:
        items = await self.store.items(list(dict.fromkeys(data["item_ids"])))
        decided = [item for item in items if item["state"] != ItemState.OPEN]
        if decided:
            item = decided[0]
            raise InvalidRequest(f"{item['text']!r} was already {item['state'].replace('_', ' ')} by {item['by']}")
        return items

    async def _write(self, change: Callable[..., Any], *args: Any) -> Any:
        """One change to the data files at a time, off the event loop."""
        async with self._data_lock:
            result = await asyncio.to_thread(change, self.project, *args)
        await self._refresh_catalog()
        return result

    async def _close(self, items: List[Dict[str, Any]], state: str, decision: Dict[str, Any], who: str,
                     added: Optional[datafiles.AddResult] = None, created: Optional[Dict[str, str]] = None
                     ) -> Dict[str, Any]:
        written = {"added": added.added, "created": created} if added else None
        label_id = await self.store.decide([item["id"] for item in items], state, decision, who, written)
        await self._regroup()
        return {"items": len(items), "label_id": label_id, **decision}

    @staticmethod
    def _texts(items: List[Dict[str, Any]]) -> List[str]:
        return list(dict.fromkeys(datafiles.normalise_example(item["text"]) for item in items))

    async def _label(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        items = await self._open_items(data)
        intent = data["intent"]
        added = await self._write(datafiles.add_examples, intent, self._texts(items))
        return await self._close(items, ItemState.LABELLED, {
            "intent": intent, "added": len(added.added), "already_there": len(added.already_there)}, who, added)

    async def _out_of_scope(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        items = await self._open_items(data)
        added = await self._write(datafiles.add_examples, "out_of_scope", self._texts(items))
        return await self._close(items, ItemState.OUT_OF_SCOPE, {
            "intent": "out_of_scope", "added": len(added.added), "already_there": len(added.already_there)}, who,
            added)

    async def _skip(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        items = await self._open_items(data)
        return await self._close(items, ItemState.SKIPPED, {}, who)

    async def _new_faq(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        items = await self._open_items(data)
        key, category, answer = data["key"], data["category"], data["answer"]
        added = await self._write(datafiles.create_faq, key, category, answer, self._texts(items))
        return await self._close(items, ItemState.LABELLED, {
            "intent": f"faq/{key}", "new": "faq", "category": category, "answer": answer,
            "added": len(added.added)}, who, added, {"kind": "faq", "key": key, "category": category,
                                                                "answer": answer})

    async def _new_intent(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        items = await self._open_items(data)
        name, answer = data["name"], data["answer"]
        added = await self._write(datafiles.create_intent, name, answer, self._texts(items))
        return await self._close(items, ItemState.LABELLED, {
            "intent": name, "new": "intent", "answer": answer, "added": len(added.added)}, who, added,
            {"kind": "intent", "name": name, "answer": answer})

    async def _undo_label(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        """Takes the label's lines out of data/ and puts its messages back in the inbox."""
        from teaching.worker.undo import undo_label

        label = await self.store.label(data["label_id"])
        if label["state"] != LabelState.ACTIVE:
            raise InvalidRequest(f"that label was already undone by {label.get('undone_by')}")
        labels = await self.store.labels()
        others = [other for other in labels
                  if other["id"] != label["id"] and other["intent"] == label["intent"]
                  and other["state"] == LabelState.ACTIVE and other["added"]]
        created = label.get("created") or next(  # the topic may have come with an earlier label
            (other["created"] for other in labels if other["intent"] == label["intent"] and other.get("created")),
            None)
        undone = await self._write(undo_label, label["intent"], label["added"], created, bool(others))
        removed = {"removed": len(undone.removed), "files": undone.files,
                   "topic_removed": undone.definition_removed}
        await self.store.undo_label(label["id"], who, removed)
        await self._regroup()
        return {"label_id": label["id"], "intent": label["intent"], "items": len(label["items"]), **removed}

    # ---- training ------------------------------------------------------------------

    async def _train(self, data: Dict[str, Any], who: str) -> Dict[str, Any]:
        if self._training is not None and not self._training.done():
            raise Busy("a model is being trained already; wait for it to finish")
        deploy = data.get("deploy", False)
        job_id = uuid.uuid4().hex[:12]
        await self.store.start_job({"id": job_id, "by": who, "state": "queued", "stage": "Waiting to start",
                                    "progress": 0.0, "started": time.time(), "deploy_requested": int(deploy)})
        await self.store.audit(who, "train", {"job_id": job_id, "deploy": deploy})
        await self.store.publish("job")
        self._training = asyncio.create_task(self._run_job(job_id, who, deploy))
        return {"job_id": job_id}

    async def _run_job(self, job_id: str, who: str, deploy: bool) -> None:
        reporter = _ProgressReporter(self.store)
        try:
            await reporter.update("validating", "Checking the training data", 0.0)
            trained, contents = await asyncio.to_thread(self._train_now,
                                                        reporter.from_thread(asyncio.get_running_loop()))
            await reporter.update("evaluating", "Comparing with the deployed model", 0.9)
            current = await self.store.current()
            report = await self._evaluate(trained, current)
            model_id = model_id_of(trained)
            await self.store.save_contents(model_id, contents)
            report["changes"] = await self._changes(current, contents)
            verdict = str(report["verdict"])
            if model_id not in {model["id"] for model in await self.store.models(self.keep_models)}:
                await self.store.add_model(model_id, trained.read_bytes(), who, report, verdict, current,
                                           self.keep_models)
            # else: nothing changed since that model; it is compared and deployed as it is
            fields: Dict[str, Any] = {"model_id": model_id, "report": report, "progress": 1.0,
                                      "finished": time.time()}
            if verdict == "worse":
                topics = [row["topic"] for row in report.get("regressions") or []]
                what = f"{', '.join(topics)} got worse" if topics else "worse than the deployed model"
                fields.update(state="refused", stage=f"Not deployed: {what} "
                                                     "(deploy it with an override if you are sure)")
            elif deploy:
                await reporter.update("deploying", "Deploying", 0.97)
                await self.store.deploy(model_id, who, reason=f"job {job_id}")
                fields.update(state="done", stage="Deployed")
            else:
                fields.update(state="done", stage="Ready to deploy")
            await self.store.save_job(fields)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure is reported on the job
            if not isinstance(error, TeachError):
                logger.exception("training job %s failed", job_id)
            await self.store.save_job({"state": "failed", "finished": time.time(), "error": str(error)})
            await self.store.audit(who, "train_failed", {"job_id": job_id, "error": str(error)})
        finally:
            await reporter.close()
            await self.store.publish("job")

    def _train_now(self, progress: Callable[[str, float], None]) -> Tuple[Path, Dict[str, Any]]:
        """The trained model, and what it was trained from (:func:`datafiles.contents` of the snapshot)."""
        from teaching.worker.training import train_model

        taught: List[Dict[str, Any]] = []
        result = train_model(self.project, self.models_dir, progress,
                             on_snapshot=lambda snapshot: taught.append(datafiles.contents(snapshot)))
        if result.path is None or not taught:
            raise TeachError("training produced no model")
        return result.path, taught[0]

    async def _changes(self, live: Optional[str], contents: Dict[str, Any]) -> Dict[str, Any]:
        """The report's list of what changed since the live model (teaching.worker.changes)."""
        from teaching.worker.changes import changes_since

        created = (await self.store.model(live))["created"] if live else 0.0
        live_contents = await self.store.contents(live) if live else None
        return changes_since(live, created, live_contents, contents, await self.store.labels(since=created))

    async def _evaluate(self, candidate: Path, current: Optional[str]) -> Dict[str, Any]:
        from teaching.worker.evaluation import compare

        with tempfile.TemporaryDirectory(prefix="teach-current-") as directory:
            current_path: Optional[Path] = None
            blob = await self.store.model_blob(current) if current else None
            if blob is not None:
                current_path = Path(directory) / f"{current}.tar.gz"
                current_path.write_bytes(blob)
            return await asyncio.to_thread(compare, candidate, current_path, self.project, self.action_endpoint,
                                           self.max_accuracy_drop)


def _embed(texts: List[str]) -> Any:
    from bot.nlu.sentence_encoder import load_encoder

    return load_encoder().encode(texts)


class _ProgressReporter:
    """Training reports progress from its thread; this writes it to Redis at most twice a second."""

    INTERVAL_SECONDS = 0.5

    def __init__(self, store: TeachStore) -> None:
        self.store = store
        self._latest: Optional[Tuple[str, float]] = None
        self._task: Optional["asyncio.Task[None]"] = None

    async def update(self, state: str, stage: str, progress: float) -> None:
        await self.store.save_job({"state": state, "stage": stage, "progress": round(progress, 3)})
        await self.store.publish("job")

    def from_thread(self, loop: asyncio.AbstractEventLoop) -> Callable[[str, float], None]:
        self._task = loop.create_task(self._flush())

        def report(stage: str, fraction: float) -> None:
            self._latest = (stage, fraction)

        return report

    async def _flush(self) -> None:
        sent: Optional[Tuple[str, float]] = None
        while True:
            await asyncio.sleep(self.INTERVAL_SECONDS)
            latest = self._latest
            if latest and latest != sent:
                stage, fraction = latest
                # Training is the first 90 % of a job; evaluation and deployment the rest.
                state = "validating" if fraction <= 0.0 else "training"
                await self.update(state, stage, 0.9 * min(max(fraction, 0.0), 1.0))
                sent = latest

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
