"""NLU benchmark: train a pipeline on a public data set, test it on held-out data.

    python -m bench.nlu                      # config.yml and the candidates, all data sets
    python -m bench.nlu --pipelines config --datasets banking77

Data sets (shared/datasets, benchmark use only):
  banking77  77 banking intents; a stratified 20 % of the training split (seed 42)
             is held out for testing, the model trains on the other 80 %.
  clinc150   150 intents; trains on `train` + `oos_train` (as intent out_of_scope),
             tests on `val` + `oos_val`. Out-of-scope recall counts a question as
             caught when the bot says out_of_scope or falls back (nlu_fallback).
  bot        the project's own data/; tested on tests/nlu/unseen_*.yml and on the
             BANKING77 questions whose category one of the 25 FAQ answers covers
             (bench/banking77_topics.py).
The data sets are read from ../shared/datasets beside the repository, or from
DATASETS_DIR. Each (pipeline, data set) runs in its own process so that peak
memory is its own.
Results: a Markdown table on stdout and JSON in .run/bench/nlu.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.common import latency_summary, markdown_table, write_result

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
PIPELINES = {
    "config": ROOT / "config.yml",
    "minilm_only": ROOT / "bench" / "pipelines" / "minilm_only.yml",
    "tfidf_only": ROOT / "bench" / "pipelines" / "tfidf_only.yml",
    "stock_logreg": ROOT / "bench" / "pipelines" / "stock_logreg.yml",
    "stock_diet": ROOT / "bench" / "pipelines" / "stock_diet.yml",
}
DEFAULT_PIPELINES = ["config", "minilm_only", "tfidf_only", "stock_logreg"]
OUT_OF_SCOPE = {"out_of_scope", "nlu_fallback"}
LATENCY_SAMPLES = 200

Example = Tuple[str, List[str]]  # text, accepted labels


def datasets_dir() -> Path:
    return Path(os.environ.get("DATASETS_DIR", DATASETS))


def banking77_split() -> Tuple[List[Tuple[str, str]], List[Example]]:
    from sklearn.model_selection import train_test_split

    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    train, test = train_test_split(
        rows, test_size=0.2, stratify=[label for _, label in rows], random_state=42
    )
    return train, [(text, [label]) for text, label in test]


def clinc150_split() -> Tuple[List[Tuple[str, str]], List[Example]]:
    data = json.loads((datasets_dir() / "clinc150" / "data_train_val.json").read_text())
    train = [(text, label) for text, label in data["train"]]
    train += [(text, "out_of_scope") for text, _ in data["oos_train"]]
    test = [(text, [label]) for text, label in data["val"]]
    test += [(text, sorted(OUT_OF_SCOPE)) for text, _ in data["oos_val"]]
    return train, test


def write_nlu_yaml(rows: Sequence[Tuple[str, str]], path: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [Message(data={"text": text, "intent": label}) for text, label in rows]
    path.write_text(TrainingData(messages).nlu_as_yaml())


def bot_test_sets() -> Dict[str, List[Example]]:
    from rasa.shared.nlu.training_data.loading import load_data

    from bench.banking77_topics import ACCEPTED_TOPICS

    unseen = load_data(str(ROOT / "tests" / "nlu"))
    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        real = [
            (row["text"], sorted(f"faq/{key}" for key in ACCEPTED_TOPICS[row["category"]]))
            for row in csv.DictReader(handle)
            if row["category"] in ACCEPTED_TOPICS
        ]
    return {
        "unseen": [
            (m.get("text"), [m.get("intent_response_key") or m.get("intent")])
            for m in unseen.intent_examples
        ],
        "banking77_real": real,
    }


def train(config: Path, nlu_data: Path, out: Path) -> Tuple[Path, float]:
    from rasa.model_training import train_nlu

    started = time.perf_counter()
    model = train_nlu(str(config), str(nlu_data), str(out), fixed_model_name="bench")
    if model is None:
        raise RuntimeError(f"training {config} on {nlu_data} produced no model")
    return Path(model), time.perf_counter() - started


def accuracy_metrics(examples: Sequence[Example], labels: Sequence[str]) -> Dict[str, float]:
    from sklearn.metrics import f1_score

    gold = [accepted[0] if predicted not in accepted else predicted
            for (_, accepted), predicted in zip(examples, labels)]
    in_scope = [i for i, (_, accepted) in enumerate(examples) if not set(accepted) & OUT_OF_SCOPE]
    out_scope = [i for i, (_, accepted) in enumerate(examples) if set(accepted) & OUT_OF_SCOPE]
    if not labels:
        raise ValueError("no test examples")
    metrics: Dict[str, float] = {
        "accuracy": sum(g == p for g, p in zip(gold, labels)) / len(labels),
        "macro_f1": float(f1_score(gold, list(labels), average="macro", labels=sorted(set(gold)))),
        "fallback_rate": sum(label == "nlu_fallback" for label in labels) / len(labels),
    }
    if out_scope and in_scope:
        metrics["in_scope_accuracy"] = sum(gold[i] == labels[i] for i in in_scope) / len(in_scope)
        metrics["oos_recall"] = sum(labels[i] in OUT_OF_SCOPE for i in out_scope) / len(out_scope)
    return metrics


SWEEP = (0.2, 0.3, 0.4, 0.5, 0.6)


def threshold_sweep(
    examples: Sequence[Example], parses: Sequence[Dict[str, Any]], top1: Sequence[str]
) -> Dict[str, Dict[str, float]]:
    """In-scope accuracy and out-of-scope recall had the fallback threshold been t."""
    confidences = [
        next((e["confidence"] for e in parse.get("intent_ranking") or [] if e["name"] != "nlu_fallback"), 0.0)
        for parse in parses
    ]
    sweep = {}
    for threshold in SWEEP:
        labels = [label if confidence >= threshold else "nlu_fallback"
                  for label, confidence in zip(top1, confidences)]
        metrics = accuracy_metrics(examples, labels)
        sweep[str(threshold)] = {
            "in_scope_accuracy": metrics["in_scope_accuracy"], "oos_recall": metrics["oos_recall"]
        }
    return sweep


def latency_ms(model_path: Path, texts: Sequence[str]) -> Dict[str, float]:
    """Single-message parse time, as a Rasa server parses each incoming message."""
    import asyncio

    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))

    async def measure() -> List[float]:
        await agent.parse_message(texts[0])  # warm-up: first call traces the TF graph
        timings = []
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    summary = latency_summary(asyncio.run(measure()))
    return {"parse_p50_ms": summary["p50_ms"], "parse_p99_ms": summary["p99_ms"]}


def run_one(pipeline: str, dataset: str) -> Dict[str, Any]:
    from bot.evaluation import NluModel, predicted_label

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        if dataset == "bot":
            nlu_data = ROOT / "data"
            test_sets = bot_test_sets()
        else:
            train_rows, test = banking77_split() if dataset == "banking77" else clinc150_split()
            nlu_data = work / "train.yml"
            write_nlu_yaml(train_rows, nlu_data)
            test_sets = {dataset: test}
        model_path, train_seconds = train(PIPELINES[pipeline], nlu_data, work / "models")
        result: Dict[str, Any] = {
            "pipeline": pipeline,
            "dataset": dataset,
            "train_seconds": train_seconds,
            "model_mb": model_path.stat().st_size / 1e6,
        }
        model = NluModel(model_path)
        for name, examples in test_sets.items():
            parses = model.parse([text for text, _ in examples])
            labels = [predicted_label(parse) for parse in parses]
            metrics = accuracy_metrics(examples, labels)
            top1 = [predicted_label(parse, ignore_fallback=True) for parse in parses]
            metrics["top1_accuracy"] = accuracy_metrics(examples, top1)["accuracy"]
            prefix = "" if name == dataset else f"{name}_"
            result.update({f"{prefix}{key}": value for key, value in metrics.items()})
            if "oos_recall" in metrics:
                result[f"{prefix}threshold_sweep"] = threshold_sweep(examples, parses, top1)
            result[f"{prefix}test_examples"] = len(examples)
        first_test = next(iter(test_sets.values()))
        result.update(latency_ms(model_path, [text for text, _ in first_test[:LATENCY_SAMPLES]]))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", nargs="+", default=DEFAULT_PIPELINES, choices=sorted(PIPELINES))
    parser.add_argument("--datasets", nargs="+", default=["banking77", "clinc150", "bot"],
                        choices=["banking77", "clinc150", "bot"])
    parser.add_argument("--run-one", nargs=2, metavar=("PIPELINE", "DATASET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run_one:
        print(json.dumps(run_one(*args.run_one)))
        return 0

    results = []
    for dataset in args.datasets:
        for pipeline in args.pipelines:
            if dataset == "bot" and pipeline.startswith("stock"):
                continue  # stock pipelines have no answer selection for the bot's FAQ
            print(f"--> {pipeline} on {dataset}", file=sys.stderr, flush=True)
            child = subprocess.run(
                [sys.executable, "-m", "bench.nlu", "--run-one", pipeline, dataset],
                cwd=ROOT, capture_output=True, text=True,
            )
            if child.returncode != 0:
                print(child.stderr[-4000:], file=sys.stderr)
                return child.returncode
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    path = write_result("nlu", {"results": results})
    print(markdown(results))
    print(f"\n(written to {path})")
    return 0


def markdown(results: List[Dict[str, Any]]) -> str:
    columns = ["dataset", "pipeline", "top1_accuracy", "accuracy", "fallback_rate", "macro_f1", "in_scope_accuracy", "oos_recall",
               "unseen_top1_accuracy", "unseen_accuracy", "banking77_real_top1_accuracy",
               "banking77_real_accuracy", "train_seconds", "parse_p50_ms",
               "parse_p99_ms", "model_mb", "peak_rss_mb"]
    return markdown_table(results, [c for c in columns if any(c in row for row in results)])


if __name__ == "__main__":
    sys.exit(main())
