"""All teaching state in Redis: inbox, commands, training job, models, audit.

One instance per process around that process's one Redis client. The bridge,
the teaching worker and the CLI all go through this class, so several bridge
processes and Rasa replicas on several machines see the same inbox, the same
deployed model and the same audit trail. Changes that touch several keys
(deciding items, deploying, rolling back) are one transaction or one Lua
script, and write their audit entry in the same step.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from redis.asyncio import Redis

from teaching.errors import NotFound, Refused, TeachError, WorkerUnavailable

__all__ = ["DEFAULT_PREFIX", "ItemState", "LabelState", "TeachStore", "model_id_of"]

DEFAULT_PREFIX = "teach"
INCOMING_MAX = 10_000
AUDIT_MAX = 100_000
RESULT_TTL_SECONDS = 600
WORKER_GROUP = "worker"
COMMAND_TIMEOUT_SECONDS = 30.0
# How long the inbox keeps a customer's message (its item, and its candidate entry once taken in):
# TEACH_INBOX_RETENTION_DAYS (docs/data-model.md "Retention of each store").
INBOX_RETENTION_SECONDS = 30 * 86400


class LabelState:
    """Whether a label's lines are in ``data/`` (strings, as stored)."""

    ACTIVE = "active"
    UNDONE = "undone"


class ItemState:
    """What became of an inbox item (strings, as stored)."""

    OPEN = "open"
    LABELLED = "labelled"
    OUT_OF_SCOPE = "out_of_scope"
    SKIPPED = "skipped"


# KEYS: deployed list, model hash, audit stream, models zset
# ARGV: model id, who, override ('1'/'0'), time, reason, audit max length
_DEPLOY = """
if redis.call('HEXISTS', KEYS[2], 'blob') == 0 then return {err = 'not_found'} end
local verdict = redis.call('HGET', KEYS[2], 'verdict')
if verdict == 'worse' and ARGV[3] ~= '1' then return {err = 'worse'} end
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'deployed_at', ARGV[4])
local fields = {model_id = ARGV[1], verdict = verdict or '', override = ARGV[3] == '1', reason = ARGV[5]}
local regressions = redis.call('HGET', KEYS[2], 'regressions')
if regressions and regressions ~= '' and regressions ~= '[]' then
  fields['regressed_topics'] = cjson.decode(regressions)
end
local detail = cjson.encode(fields)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'time', ARGV[4], 'who', ARGV[2],
           'action', 'deploy', 'detail', detail)
return 1
"""

# KEYS: deployed list, audit stream; ARGV: who, time, audit max length, key prefix for model hashes
# Drops the current model from the head of the deployment history; the one
# deployed before it (if its file is still kept) becomes current again.
_ROLLBACK = """
if redis.call('LLEN', KEYS[1]) < 2 then return {err = 'nothing'} end
local previous = redis.call('LINDEX', KEYS[1], 1)
if redis.call('HEXISTS', ARGV[4] .. previous, 'blob') == 0 then return {err = 'gone'} end
local current = redis.call('LPOP', KEYS[1])
redis.call('HSET', ARGV[4] .. previous, 'deployed_at', ARGV[2])
local detail = cjson.encode({from_model = current, to_model = previous})
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'time', ARGV[2], 'who', ARGV[1],
           'action', 'rollback', 'detail', detail)
return previous
"""


def model_id_of(path: "Path | str") -> str:
    """A model's id is its archive's name without ``.tar.gz`` (Rasa names it by date and two words)."""
    return Path(path).name.removesuffix(".tar.gz")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode_hash(raw: Dict[bytes, bytes], skip: Sequence[str] = ()) -> Dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items() if _text(k) not in skip}


class TeachStore:
    """Keys under ``{prefix}:``; see docs/teaching.md for the layout."""

    def __init__(self, redis: Redis, prefix: str = DEFAULT_PREFIX,
                 inbox_retention_seconds: int = INBOX_RETENTION_SECONDS) -> None:
        self.redis = redis
        self.prefix = prefix
        self.inbox_retention_seconds = inbox_retention_seconds
        self._deploy = redis.register_script(_DEPLOY)
        self._rollback = redis.register_script(_ROLLBACK)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def events_channel(self) -> str:
        return self.key("events")

    async def publish(self, kind: str) -> None:
        """Tells every console that ``kind`` (inbox, catalog, job, models, audit) changed.

        The methods here that change models or the audit trail say so themselves;
        the worker says when the inbox, the catalogue or the job changed.
        """
        await self.redis.publish(self.events_channel, json.dumps({"type": kind}))

    # ---- incoming messages (written by the Rasa event broker) ----------------

    async def ensure_groups(self) -> None:
        """The worker's consumer groups on both streams (created once, from the start)."""
        for stream in (self.key("incoming"), self.key("commands")):
            try:
                await self.redis.xgroup_create(stream, WORKER_GROUP, id="0", mkstream=True)
            except Exception as error:  # noqa: BLE001 - BUSYGROUP: it exists already
                if "BUSYGROUP" not in str(error):
                    raise

    async def add_incoming(self, candidate: Dict[str, Any]) -> str:
        entry = await self.redis.xadd(
            self.key("incoming"), {"json": json.dumps(candidate)}, maxlen=INCOMING_MAX, approximate=True
        )
        return _text(entry)

    async def read_stream(self, stream: str, consumer: str, count: int, block_ms: int) -> List[Tuple[str, Dict[str, Any]]]:
        """New entries of ``incoming`` or ``commands`` for this worker, then those it never acknowledged.

        Entries a crashed worker read but did not finish are handed out again
        (pending ones first), so nothing written by Rasa or a console is lost.
        """
        pending = await self.redis.xreadgroup(WORKER_GROUP, consumer, {self.key(stream): "0"}, count=count)
        entries = pending[0][1] if pending and pending[0][1] else []
        if not entries:
            fresh = await self.redis.xreadgroup(
                WORKER_GROUP, consumer, {self.key(stream): ">"}, count=count, block=block_ms
            )
            entries = fresh[0][1] if fresh else []
        decoded = []
        for entry_id, fields in entries:
            try:
                value = json.loads(fields[b"json"])
            except (KeyError, ValueError):
                value = None
            decoded.append((_text(entry_id), value))
        return decoded

    async def acknowledge(self, stream: str, *entry_ids: str) -> None:
        """Acknowledges the entries; for ``incoming``, also trims the candidates older than the inbox's
        retention (those taken in are kept as items, for as long)."""
        if entry_ids:
            await self.redis.xack(self.key(stream), WORKER_GROUP, *entry_ids)
        if stream == "incoming":
            oldest = int((time.time() - self.inbox_retention_seconds) * 1000)
            await self.redis.xtrim(self.key(stream), minid=f"{max(oldest, 0)}-0")

    # ---- inbox items (written by the worker) ----------------------------------

    async def upsert_item(self, candidate: Dict[str, Any], embedding: bytes) -> None:
        """Stores a new inbox item, or adds the reasons of a repeat sighting of one.

        ``embedding`` is kept as the worker encoded it (teaching.worker.embeddings):
        the store, which the bridge imports, knows nothing of vectors.
        """
        key = self.key("item", candidate["message_id"])
        existing = await self.redis.hmget(key, "reasons", "handoff_reason")
        if existing[0] is not None:
            reasons = sorted(set(json.loads(existing[0])) | set(candidate["reasons"]))
            update = {"reasons": json.dumps(reasons)}
            if candidate.get("handoff_reason") and not existing[1]:
                update["handoff_reason"] = candidate["handoff_reason"]
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=update)
                pipe.expire(key, self.inbox_retention_seconds)  # kept the retention after it was last seen
                await pipe.execute()
            return
        fields = {
            "id": candidate["message_id"],
            "text": candidate["text"],
            "conversation_id": candidate["conversation_id"],
            "reasons": json.dumps(sorted(set(candidate["reasons"]))),
            "intent": candidate.get("intent") or "",
            "confidence": str(float(candidate.get("confidence") or 0.0)),
            "time": str(float(candidate["time"])),
            "handoff_reason": candidate.get("handoff_reason") or "",
            "state": ItemState.OPEN,
            "embedding": embedding,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self.inbox_retention_seconds)
            pipe.zadd(self.key("open"), {candidate["message_id"]: float(candidate["time"])})
            await pipe.execute()

    async def open_items(self, limit: int) -> List[Tuple[Dict[str, Any], bytes]]:
        """The newest ``limit`` open items, each with its embedding as stored by :meth:`upsert_item`."""
        ids = [_text(i) for i in await self.redis.zrevrange(self.key("open"), 0, limit - 1)]
        raws = await self._raw_items(ids)
        expired = [item_id for item_id, raw in zip(ids, raws) if not raw]  # past the inbox's retention
        if expired:
            await self.redis.zrem(self.key("open"), *expired)
        return [(self._item(raw), bytes(raw[b"embedding"])) for raw in raws if raw and b"embedding" in raw]

    async def open_count(self) -> int:
        return int(await self.redis.zcard(self.key("open")))

    async def items(self, item_ids: Iterable[str]) -> List[Dict[str, Any]]:
        """The items asked for, in that order; NotFound names any that do not exist."""
        ids = list(item_ids)
        raws = await self._raw_items(ids)
        missing = [item_id for item_id, raw in zip(ids, raws) if not raw]
        if missing:
            raise NotFound(f"no inbox item {', '.join(missing[:5])}")
        return [self._item(raw) for raw in raws]

    async def _raw_items(self, ids: Sequence[str]) -> List[Dict[bytes, bytes]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for item_id in ids:
                pipe.hgetall(self.key("item", item_id))
            return list(await pipe.execute())

    @staticmethod
    def _item(raw: Dict[bytes, bytes]) -> Dict[str, Any]:
        fields = _decode_hash(raw, skip=("embedding",))
        return {
            "id": fields["id"],
            "text": fields["text"],
            "conversation_id": fields["conversation_id"],
            "reasons": json.loads(fields.get("reasons", "[]")),
            "intent": fields.get("intent") or None,
            "confidence": float(fields.get("confidence", 0.0)),
            "time": float(fields.get("time", 0.0)),
            "handoff_reason": fields.get("handoff_reason") or None,
            "state": fields.get("state", ItemState.OPEN),
            "decision": json.loads(fields["decision"]) if fields.get("decision") else None,
            "by": fields.get("by") or None,
        }

    async def decide(self, item_ids: Sequence[str], state: str, decision: Dict[str, Any], who: str,
                     written: Optional[Dict[str, Any]] = None) -> str:
        """Closes the items with what was decided, records the label (what it wrote into
        ``data/``: ``written``, see :meth:`label`) and audits it, in one transaction.
        Returns the label's id, which undoes it."""
        now = time.time()
        label_id = uuid.uuid4().hex[:12]
        label = {"id": label_id, "kind": state, "intent": decision.get("intent") or "", "added": [],
                 "created": None, **(written or {}),
                 "items": list(item_ids), "by": who, "time": now, "state": LabelState.ACTIVE}
        async with self.redis.pipeline(transaction=True) as pipe:
            for item_id in item_ids:
                pipe.hset(self.key("item", item_id), mapping={
                    "state": state, "decision": json.dumps(decision), "by": who, "decided_at": str(now),
                    "label_id": label_id,
                })
                pipe.zrem(self.key("open"), item_id)
            pipe.set(self.key("label", label_id), json.dumps(label))
            pipe.zadd(self.key("labels"), {label_id: now})
            self._audit(pipe, who, state if state != ItemState.LABELLED else "label",
                        {**decision, "items": list(item_ids), "label_id": label_id}, now)
            await pipe.execute()
        await self.publish("audit")
        return label_id

    # ---- labels (what each decision wrote, so that it can be undone) --------------

    async def label(self, label_id: str) -> Dict[str, Any]:
        """A label: ``kind`` (the items' new state), ``intent``, ``added`` (the example
        lines it wrote), ``created`` (``{"kind": "faq"|"intent", ...}`` when it created
        the topic), ``items``, ``by``, ``time``, ``state`` and, once
        undone, ``undone_by``, ``undone_at``, ``removed``."""
        raw = await self.redis.get(self.key("label", label_id))
        if raw is None:
            raise NotFound(f"no label {label_id}")
        return dict(json.loads(raw))

    async def labels(self, since: float = 0.0, count: int = 500) -> List[Dict[str, Any]]:
        """The newest ``count`` labels made or undone after ``since``, oldest first."""
        ids = [_text(i) for i in await self.redis.zrevrange(self.key("labels"), 0, count - 1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for label_id in ids:
                pipe.get(self.key("label", label_id))
            raws = await pipe.execute()
        found = [json.loads(raw) for raw in raws if raw]
        return sorted((label for label in found if max(label["time"], label.get("undone_at") or 0.0) > since),
                      key=lambda label: label["time"])

    async def undo_label(self, label_id: str, who: str, removed: Dict[str, Any]) -> Dict[str, Any]:
        """Marks the label undone, puts its messages back in the inbox and audits it, in one transaction."""
        label = await self.label(label_id)
        now = time.time()
        label.update(state=LabelState.UNDONE, undone_by=who, undone_at=now, removed=removed)
        raws = await self._raw_items(label["items"])
        async with self.redis.pipeline(transaction=True) as pipe:
            for item_id, raw in zip(label["items"], raws):
                if not raw:
                    continue
                pipe.hset(self.key("item", item_id), "state", ItemState.OPEN)
                pipe.hdel(self.key("item", item_id), "decision", "by", "decided_at", "label_id")
                pipe.zadd(self.key("open"), {item_id: float(_text(raw.get(b"time", b"0")))})
            pipe.set(self.key("label", label_id), json.dumps(label))
            pipe.zadd(self.key("labels"), {label_id: now})
            self._audit(pipe, who, "undo_label", {"label_id": label_id, "label_by": label["by"],
                                                  "intent": label["intent"], **removed,
                                                  "items": label["items"]}, now)
            await pipe.execute()
        await self.publish("audit")
        return label

    async def save_groups(self, groups: List[Dict[str, Any]], open_items: int) -> None:
        payload = {"groups": groups, "open": open_items, "updated": time.time()}
        await self.redis.set(self.key("groups"), json.dumps(payload))

    async def groups(self) -> Dict[str, Any]:
        raw = await self.redis.get(self.key("groups"))
        return json.loads(raw) if raw else {"groups": [], "open": 0, "updated": None}

    async def save_catalog(self, catalog: Dict[str, Any]) -> None:
        await self.redis.set(self.key("catalog"), json.dumps(catalog))

    async def catalog(self) -> Dict[str, Any]:
        raw = await self.redis.get(self.key("catalog"))
        return json.loads(raw) if raw else {"intents": [], "categories": []}

    # ---- commands for the worker ------------------------------------------------

    async def submit(self, kind: str, data: Dict[str, Any], who: str) -> str:
        command_id = uuid.uuid4().hex
        command = {"id": command_id, "kind": kind, "by": who, "data": data}
        await self.redis.xadd(self.key("commands"), {"json": json.dumps(command)})
        return command_id

    async def command(self, kind: str, data: Dict[str, Any], who: str,
                      timeout_seconds: float = COMMAND_TIMEOUT_SECONDS) -> Dict[str, Any]:
        """Hands a command to the worker and waits for its result; its failure is raised here."""
        if not await self.worker():
            raise WorkerUnavailable("no teaching worker is running (make run starts one)")
        command_id = await self.submit(kind, data, who)
        result = await self.wait_for_reply(command_id, timeout_seconds)
        if result is None:
            raise WorkerUnavailable(f"the teaching worker did not answer within {timeout_seconds:.0f} s")
        if not result["ok"]:
            raise TeachError(result["error"]["message"], code=result["error"]["code"])
        return dict(result["data"] or {})

    async def reply(self, command_id: str, result: Dict[str, Any]) -> None:
        key = self.key("result", command_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(result))
            pipe.expire(key, RESULT_TTL_SECONDS)
            await pipe.execute()

    async def wait_for_reply(self, command_id: str, timeout_seconds: float) -> Optional[Dict[str, Any]]:
        popped = await self.redis.blpop([self.key("result", command_id)], timeout=timeout_seconds)
        return json.loads(popped[1]) if popped else None

    # ---- the worker's presence ----------------------------------------------------

    async def claim_worker(self, name: str, ttl_seconds: int) -> bool:
        """Only one worker writes the training data: the first to claim the key."""
        key = self.key("worker")
        if await self.redis.set(key, name, nx=True, ex=ttl_seconds):
            return True
        if _text(await self.redis.get(key) or b"") == name:
            await self.redis.expire(key, ttl_seconds)
            return True
        return False

    async def release_worker(self, name: str) -> None:
        key = self.key("worker")
        if _text(await self.redis.get(key) or b"") == name:
            await self.redis.delete(key)

    async def worker(self) -> Optional[str]:
        raw = await self.redis.get(self.key("worker"))
        return _text(raw) if raw else None

    # ---- training job ------------------------------------------------------------------

    async def save_job(self, fields: Dict[str, Any]) -> None:
        await self.redis.hset(self.key("job"), mapping={
            k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in fields.items()
        })

    async def start_job(self, fields: Dict[str, Any]) -> None:
        """A new job replaces the last one's record."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.key("job"))
            pipe.hset(self.key("job"), mapping={k: str(v) for k, v in fields.items()})
            await pipe.execute()

    async def job(self) -> Optional[Dict[str, Any]]:
        fields = _decode_hash(await self.redis.hgetall(self.key("job")))
        if not fields:
            return None
        job: Dict[str, Any] = dict(fields)
        for name in ("progress", "started", "finished"):
            if job.get(name):
                job[name] = float(job[name])
        job["deploy_requested"] = job.get("deploy_requested") in ("1", "True")
        job["report"] = json.loads(job["report"]) if job.get("report") else None
        return job

    # ---- models ----------------------------------------------------------------------

    async def add_model(self, model_id: str, blob: bytes, who: str, report: Optional[Dict[str, Any]],
                        verdict: str, base: Optional[str], keep: int) -> None:
        """Registers a trained model (audited); only the newest ``keep`` files are kept,
        and never one in the recent deployment history."""
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key("model", model_id), mapping={
                "id": model_id, "blob": blob, "created": str(now), "by": who, "verdict": verdict,
                "base": base or "", "report": json.dumps(report) if report else "", "size": str(len(blob)),
                "regressions": json.dumps([row["topic"] for row in (report or {}).get("regressions") or []]),
            })
            pipe.zadd(self.key("models"), {model_id: now})
            self._audit(pipe, who, "trained", {"model_id": model_id, "verdict": verdict, "base": base}, now)
            await pipe.execute()
        await self._prune(keep)
        await self.publish("models")
        await self.publish("audit")

    async def _prune(self, keep: int) -> None:
        ids = [_text(i) for i in await self.redis.zrevrange(self.key("models"), 0, -1)]
        protected = {_text(i) for i in await self.redis.lrange(self.key("deployed"), 0, keep - 1)}
        for model_id in ids[keep:]:
            if model_id not in protected:
                await self.redis.hdel(self.key("model", model_id), "blob")
                await self.redis.delete(self.key("contents", model_id))

    async def save_contents(self, model_id: str, contents: Dict[str, Any]) -> None:
        """What the model was trained from (teaching.worker.datafiles.contents), for the next report's changes."""
        await self.redis.set(self.key("contents", model_id), json.dumps(contents))

    async def contents(self, model_id: str) -> Optional[Dict[str, Any]]:
        """None for a model registered from outside the worker (or pruned)."""
        raw = await self.redis.get(self.key("contents", model_id))
        return dict(json.loads(raw)) if raw else None

    async def model_blob(self, model_id: str) -> Optional[bytes]:
        blob = await self.redis.hget(self.key("model", model_id), "blob")
        return bytes(blob) if blob is not None else None

    async def model(self, model_id: str) -> Dict[str, Any]:
        raw = await self.redis.hgetall(self.key("model", model_id))
        if not raw:
            raise NotFound(f"no model {model_id}")
        return self._model(raw)

    @staticmethod
    def _model(raw: Dict[bytes, bytes]) -> Dict[str, Any]:
        kept = b"blob" in raw
        fields = _decode_hash(raw, skip=("blob",))
        return {
            "id": fields["id"],
            "created": float(fields["created"]),
            "by": fields.get("by", ""),
            "verdict": fields.get("verdict", ""),
            "base": fields.get("base") or None,
            "report": json.loads(fields["report"]) if fields.get("report") else None,
            "regressions": json.loads(fields["regressions"]) if fields.get("regressions") else [],
            "deployed_at": float(fields["deployed_at"]) if fields.get("deployed_at") else None,
            "size": int(fields.get("size", 0)),
            "kept": kept,
        }

    async def models(self, count: int = 20) -> List[Dict[str, Any]]:
        ids = [_text(i) for i in await self.redis.zrevrange(self.key("models"), 0, count - 1)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for model_id in ids:
                pipe.hgetall(self.key("model", model_id))
            raws = await pipe.execute()
        return [self._model(raw) for raw in raws if raw]

    async def current(self) -> Optional[str]:
        raw = await self.redis.lindex(self.key("deployed"), 0)
        return _text(raw) if raw else None

    async def deployment_history(self, count: int = 20) -> List[str]:
        return [_text(i) for i in await self.redis.lrange(self.key("deployed"), 0, count - 1)]

    async def deploy(self, model_id: str, who: str, override: bool = False, reason: str = "") -> bool:
        """Makes the model current (False: it already was). Refuses a model
        evaluated as worse than the one it was compared with, unless overridden; the
        audit entry names the topics that regressed (``regressed_topics``), if any."""
        try:
            changed = await self._deploy(
                keys=[self.key("deployed"), self.key("model", model_id), self.key("audit"), self.key("models")],
                args=[model_id, who, "1" if override else "0", str(time.time()), reason, AUDIT_MAX],
            )
        except Exception as error:  # noqa: BLE001 - the script's refusals come back as errors
            message = str(error)
            if "not_found" in message:
                raise NotFound(f"no model {model_id} (or its file is no longer kept)") from None
            if "worse" in message:
                topics = await self.redis.hget(self.key("model", model_id), "regressions")
                named = ", ".join(json.loads(topics)) if topics else ""
                raise Refused(f"model {model_id} is worse than the model it was compared with"
                              + (f" (regressed: {named})" if named else "")
                              + "; deploy it with an explicit override if you are sure") from None
            raise
        if changed:
            await self.publish("models")
            await self.publish("audit")
        return bool(changed)

    async def rollback(self, who: str) -> str:
        """Goes back to the model deployed before the current one; returns its id."""
        try:
            previous = await self._rollback(
                keys=[self.key("deployed"), self.key("audit")],
                args=[who, str(time.time()), AUDIT_MAX, self.key("model", "")],
            )
        except Exception as error:  # noqa: BLE001 - the script's refusals come back as errors
            if "nothing" in str(error):
                raise Refused("there is no earlier deployment to roll back to") from None
            if "gone" in str(error):
                raise Refused("the previously deployed model's file is no longer kept") from None
            raise
        await self.publish("models")
        await self.publish("audit")
        return _text(previous)

    # ---- audit -----------------------------------------------------------------------

    def _audit(self, pipe: Any, who: str, action: str, detail: Dict[str, Any], now: float) -> None:
        pipe.xadd(self.key("audit"), {"time": str(now), "who": who, "action": action, "detail": json.dumps(detail)},
                  maxlen=AUDIT_MAX, approximate=True)

    async def audit(self, who: str, action: str, detail: Dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            self._audit(pipe, who, action, detail, time.time())
            await pipe.execute()
        await self.publish("audit")

    async def recent_audit(self, count: int = 100) -> List[Dict[str, Any]]:
        entries = await self.redis.xrevrange(self.key("audit"), count=count)
        return [
            {
                "id": _text(entry_id),
                "time": float(_text(fields[b"time"])),
                "who": _text(fields[b"who"]),
                "action": _text(fields[b"action"]),
                "detail": json.loads(fields[b"detail"]),
            }
            for entry_id, fields in entries
        ]
