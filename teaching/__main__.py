"""The content staff's operations from a terminal, and the teaching worker.

    python -m teaching inbox                      groups of messages the bot did not handle well
    python -m teaching show ITEM                  one message, its conversation and agents' answers
    python -m teaching label ITEM... --intent faq/card_arrival   (or --group GROUP)
    python -m teaching new-faq ITEM... --key KEY --category cards --answer TEXT
    python -m teaching new-intent ITEM... --name NAME --answer TEXT
    python -m teaching out-of-scope ITEM...       python -m teaching skip ITEM...
    python -m teaching labels | undo LABEL        recent labels; undo one (its lines leave data/)
    python -m teaching train [--deploy]           validate, train, evaluate (and deploy unless worse)
    python -m teaching models | deploy MODEL [--override] | rollback | audit
    python -m teaching publish PATH               register a model trained outside the worker
    python -m teaching worker                     run the worker (make run starts one)

Every command works on the Redis in REDIS_URL (keys under TEACH_KEY_PREFIX) and
is audited under --as (default: $USER). Labelling and training are carried out
by the running worker; deploy, rollback and publish change Redis directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional

from redis.asyncio import Redis

from teaching.errors import NotFound, TeachError
from teaching.store import DEFAULT_PREFIX, TeachStore, model_id_of
from teaching.transcripts import DEFAULT_HANDOFF_PREFIX, RedisTranscripts, TranscriptReader

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _when(timestamp: Optional[float]) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


async def _item_ids(store: TeachStore, args: argparse.Namespace) -> List[str]:
    ids = list(args.items)
    if args.group:
        groups = {g["id"]: g for g in (await store.groups())["groups"]}
        if args.group not in groups:
            raise NotFound(f"no inbox group {args.group} (python -m teaching inbox lists them)")
        ids += [item["id"] for item in groups[args.group]["items"]]
    if not ids:
        raise TeachError("name at least one item, or --group")
    return ids


async def _inbox(store: TeachStore, args: argparse.Namespace) -> None:
    inbox = await store.groups()
    print(f"{inbox['open']} open messages in {len(inbox['groups'])} groups")
    for number, found in enumerate(inbox["groups"], start=1):
        suggestion = found["suggestion"]
        hint = f"  (mostly guessed {suggestion['intent']}, {suggestion['share']:.0%})" if suggestion else ""
        print(f"\n#{number} group {found['id']}: {found['size']} messages{hint}")
        for item in found["items"][: args.show]:
            reasons = ",".join(item["reasons"])
            print(f"  {item['id']}  [{reasons}]  {item['text']}")
        if found["size"] > args.show:
            print(f"  ... and {found['size'] - args.show} more")


async def _show(store: TeachStore, args: argparse.Namespace) -> None:
    item = (await store.items([args.item]))[0]
    print(json.dumps({k: v for k, v in item.items() if k != "decision" or v}, indent=2))
    transcripts: TranscriptReader = RedisTranscripts(
        store.redis, os.environ.get("HANDOFF_KEY_PREFIX", DEFAULT_HANDOFF_PREFIX))
    review = await transcripts.review(item["conversation_id"])
    if not review["messages"]:
        print("\n(the conversation did not go through the bridge, or has expired)")
    for message in review["messages"]:
        print(f"  {_when(message['ts'] / 1000)}  {message['kind']:>8}: {message['text']}")
    if review["answers"]:
        print("\nAgents' answers (a starting point for a FAQ answer):")
        for answer in review["answers"]:
            print(f"  {answer['agent']}: {answer['text']}")


async def _decide(store: TeachStore, args: argparse.Namespace) -> None:
    data: Dict[str, Any] = {"item_ids": await _item_ids(store, args)}
    kind = args.command.replace("-", "_")
    if kind == "label":
        data["intent"] = args.intent
    elif kind == "new_faq":
        data.update(key=args.key, category=args.category, answer=args.answer)
    elif kind == "new_intent":
        data.update(name=args.name, answer=args.answer)
    result = await store.command(kind, data, args.who)
    print(json.dumps(result))


async def _train(store: TeachStore, args: argparse.Namespace) -> None:
    job_id = (await store.command("train", {"deploy": args.deploy}, args.who))["job_id"]
    shown = ""
    while True:
        job = await store.job()
        if not job or job.get("id") != job_id:
            raise TeachError("the training job disappeared (another one replaced it)")
        line = f"{job['state']:>10}  {float(job.get('progress') or 0):4.0%}  {job.get('stage', '')}"
        if line != shown:
            print(line, flush=True)
            shown = line
        if job["state"] in ("done", "refused", "failed"):
            break
        await asyncio.sleep(0.5)
    if job.get("report"):
        _print_report(job["report"])
    if job["state"] == "failed":
        raise TeachError(f"training failed: {job.get('error')}")
    print(f"model {job.get('model_id')}: {job['stage']}")


def _print_report(report: Dict[str, Any]) -> None:
    current, candidate = report.get("current"), report["candidate"]
    was = f"{current['accuracy']:.1%} -> " if current else ""
    print(f"held-out accuracy {was}{candidate['accuracy']:.1%} on {report['heldout']} examples; "
          f"verdict {report['verdict']}")
    for reason in report.get("reasons", []):
        print(f"  - {reason}")
    for confusion in report.get("worse_confusions", [])[:10]:
        print(f"  more often {confusion['expected']} -> {confusion['predicted']}: "
              f"{confusion['current']} -> {confusion['candidate']}")
    regressions = report.get("regressions") or []
    if regressions:
        print("topics worse beyond the noise of their held-out questions (deploy only with --override):")
        for row in regressions:
            print(f"  {row['topic']}: {row['current_correct']} -> {row['candidate_correct']} of {row['support']} "
                  f"right ({row['newly_wrong']} newly wrong, {row['newly_right']} newly right, p = {row['p_value']})")
    corpus = report.get("stuck_corpus") or {}
    print(f"stuck-detection corpus: {'passed' if corpus.get('passed') else 'FAILED'} "
          f"(recall {corpus.get('recall')}, false handoffs {corpus.get('false_handoff_rate')})")
    _print_changes(report.get("changes"))


def _print_changes(changes: Optional[Dict[str, Any]]) -> None:
    if not changes:
        return
    source = "" if changes["source"] == "data" else " (added up from the labels: the live model's data is unknown)"
    print(f"changed since the live model {changes['since'] or '(none)'}{source}:")
    for label in changes["labels"]:
        undone = f" by {label['undone_by']}" if label["undone_by"] else ""
        print(f"  label {label['id']} {label['kind']} {label['intent'] or ''} ({label['examples']} examples) "
              f"by {label['by']}, {label['state']}{undone}")
    for row in changes["examples"]:
        print(f"  {row['topic']}: +{row['added']} -{row['removed']} examples")
    for topic in changes["new_topics"]:
        print(f"  new: {topic}")
    for topic in changes["removed_topics"]:
        print(f"  removed: {topic}")
    for response in changes["responses"]:
        print(f"  answer {response['name']}: {response['before']!r} -> {response['after']!r}")


async def _models(store: TeachStore, args: argparse.Namespace) -> None:
    current = await store.current()
    for model in await store.models():
        mark = "*" if model["id"] == current else " "
        accuracy = ((model["report"] or {}).get("candidate") or {}).get("accuracy")
        score = f"{accuracy:.1%}" if isinstance(accuracy, float) else "   -  "
        kept = "" if model["kept"] else "  (file no longer kept)"
        print(f"{mark} {model['id']}  {_when(model['created'])}  by {model['by']:<12} {model['verdict']:<6} "
              f"{score}{kept}")


async def _labels(store: TeachStore, args: argparse.Namespace) -> None:
    for label in (await store.labels())[-args.count:]:
        undone = f"  undone by {label['undone_by']}" if label["state"] == "undone" else ""
        print(f"{label['id']}  {_when(label['time'])}  by {label['by']:<12} {label['kind']:<12} "
              f"{label['intent'] or '-':<30} {len(label.get('added') or [])} examples{undone}")


async def _undo(store: TeachStore, args: argparse.Namespace) -> None:
    print(json.dumps(await store.command("undo_label", {"label_id": args.label}, args.who)))


async def _deploy(store: TeachStore, args: argparse.Namespace) -> None:
    changed = await store.deploy(args.model, args.who, override=args.override, reason=args.reason)
    print(f"{args.model} deployed" if changed else f"{args.model} is already deployed")


async def _rollback(store: TeachStore, args: argparse.Namespace) -> None:
    print(f"rolled back to {await store.rollback(args.who)}")


async def _audit(store: TeachStore, args: argparse.Namespace) -> None:
    for entry in reversed(await store.recent_audit(args.count)):
        print(f"{_when(entry['time'])}  {entry['who']:<12} {entry['action']:<13} {json.dumps(entry['detail'])}")


async def _publish(store: TeachStore, args: argparse.Namespace) -> None:
    path = Path(args.path)
    if path.is_dir():
        models = sorted(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not models:
            raise NotFound(f"no trained model in {path}")
        path = models[-1]
    model_id = model_id_of(path)
    try:
        await store.model(model_id)
        print(f"{model_id} is registered already; current: {await store.current()}")
        return
    except NotFound:
        pass
    await store.add_model(model_id, path.read_bytes(), args.who, None, "published", await store.current(),
                          args.keep)
    await store.deploy(model_id, args.who, reason=f"published from {path.name}")
    print(f"{model_id} registered and deployed")


async def _worker(store: TeachStore, args: argparse.Namespace) -> None:
    from teaching.worker.worker import Worker

    # Training is background work: on a shared machine the Rasa servers and the
    # bridge answering customers come first.
    os.nice(args.nice)
    # The stuck-corpus check plays 80 conversations per evaluation; their
    # "conversation is stuck" notes are expected, not news.
    logging.getLogger("bot.stuck").setLevel(logging.WARNING)

    worker = Worker(store, Path(args.project).resolve(), Path(args.models).resolve(),
                    os.environ.get("ACTION_SERVER_URL") or None, keep_models=args.keep,
                    max_accuracy_drop=args.max_accuracy_drop)
    task = asyncio.ensure_future(worker.run(ready=lambda: print("teaching worker ready", flush=True)))
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m teaching", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--as", dest="who", default=os.environ.get("USER") or "cli", help="your name, for the audit trail")
    commands = main.add_subparsers(dest="command", required=True)

    inbox = commands.add_parser("inbox", help="the open messages, grouped")
    inbox.add_argument("--show", type=int, default=5, help="messages shown per group")
    inbox.set_defaults(run=_inbox)
    show = commands.add_parser("show", help="one message with its conversation")
    show.add_argument("item")
    show.set_defaults(run=_show)

    def decision(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("items", nargs="*", help="inbox item ids")
        command.add_argument("--group", help="every item of this inbox group")
        command.set_defaults(run=_decide)
        return command

    decision("label", "add the messages as examples of an intent or FAQ topic").add_argument(
        "--intent", required=True, help="e.g. greet or faq/card_arrival")
    new_faq = decision("new-faq", "a new FAQ topic with its answer")
    new_faq.add_argument("--key", required=True)
    new_faq.add_argument("--category", required=True, help="cards, payments, account, or a new one")
    new_faq.add_argument("--answer", required=True)
    new_intent = decision("new-intent", "a new intent with its answer and rule")
    new_intent.add_argument("--name", required=True)
    new_intent.add_argument("--answer", required=True)
    decision("out-of-scope", "teach the bot these are not its business")
    decision("skip", "close the messages without teaching anything")

    labels = commands.add_parser("labels", help="recent labels, oldest first (ids for undo)")
    labels.add_argument("--count", type=int, default=30)
    labels.set_defaults(run=_labels)
    undo = commands.add_parser("undo", help="undo a label: its lines leave data/, its messages return to the inbox")
    undo.add_argument("label")
    undo.set_defaults(run=_undo)

    train = commands.add_parser("train", help="validate, train and evaluate a model")
    train.add_argument("--deploy", action="store_true", help="deploy it unless it is worse than the current one")
    train.set_defaults(run=_train)
    commands.add_parser("models", help="trained models; * marks the deployed one").set_defaults(run=_models)
    deploy = commands.add_parser("deploy", help="serve this model from now on")
    deploy.add_argument("model")
    deploy.add_argument("--override", action="store_true",
                        help="deploy even a model evaluated as worse (a topic that regressed, ...)")
    deploy.add_argument("--reason", default="", help="why (recorded in the audit trail)")
    deploy.set_defaults(run=_deploy)
    commands.add_parser("rollback", help="go back to the previously deployed model").set_defaults(run=_rollback)
    audit = commands.add_parser("audit", help="who labelled, trained and deployed what, when")
    audit.add_argument("--count", type=int, default=50)
    audit.set_defaults(run=_audit)
    publish = commands.add_parser("publish", help="register and deploy a model file (or a directory's newest)")
    publish.add_argument("path")
    publish.add_argument("--keep", type=int, default=10)
    publish.set_defaults(run=_publish)

    worker = commands.add_parser("worker", help="run the teaching worker")
    worker.add_argument("--project", default=str(PROJECT_ROOT), help="the Rasa project whose data/ it writes")
    worker.add_argument("--models", default=os.environ.get("MODELS_DIR", str(PROJECT_ROOT / "models")))
    worker.add_argument("--keep", type=int, default=10, help="model files kept in Redis")
    worker.add_argument("--nice", type=int, default=10, help="CPU priority below the servers' (0: the same)")
    worker.add_argument("--max-accuracy-drop", type=float, default=0.005,
                        help="a held-out accuracy drop beyond this makes a model worse")
    worker.set_defaults(run=_worker)
    return main


async def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command == "worker" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6380/0"))
    store = TeachStore(redis, os.environ.get("TEACH_KEY_PREFIX", DEFAULT_PREFIX),
                       int(float(os.environ.get("TEACH_INBOX_RETENTION_DAYS", "30")) * 86400))
    try:
        await args.run(store, args)
    except TeachError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await redis.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
