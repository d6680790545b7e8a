"""NLU benchmark: train a pipeline on a public data set, test it on held-out data.

    python -m bench.nlu                      # config.yml and the candidates, all data sets
    python -m bench.nlu --pipelines config --datasets banking77
    python -m bench.nlu --pipelines config --datasets bot --bot-halves dev test

What each data set trains on, chooses on and is tested on: bench/nlu_splits.py.
Out-of-scope recall counts a question as caught when the bot says out_of_scope
or falls back (nlu_fallback). The bot's real-wording halves report per-topic
accuracy and the confusions left; the test half only when asked for
(``--bot-halves dev test``), to report, never to tune; likewise the fresh
split (``fresh``: BANKING77's own test split, round four's untouched check). ``dev`` and
``test`` also score CLINC150's banking and credit-card questions (dev part: its train rows;
held-out part: its val rows; bench/clinc150_topics.py): those our answers cover, strictly, and
those none covers, which must be declined or not understood (``..._uncovered``). Gibberish
(bench/gibberish.py) must fall back. CLINC150 reports ``chosen_threshold``:
the fallback threshold its val split chooses (config.yml's must match it).
The data sets are read from ../shared/datasets beside the repository, or from
DATASETS_DIR. Each (pipeline, data set) runs in its own process so that peak
memory is its own.
Results: a Markdown table on stdout and JSON in .run/bench/nlu.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.common import latency_summary, markdown_table, write_result
from bench.gibberish import gibberish
from bench.nlu_splits import (
    BOT_HALVES, CLINC150_PARTS, OUT_OF_SCOPE, Example, banking77_real_questions, banking77_split,
    clinc150_bank_questions, clinc150_split,
)

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = {
    "config": ROOT / "config.yml",
    "minilm_only": ROOT / "bench" / "pipelines" / "minilm_only.yml",
    "tfidf_only": ROOT / "bench" / "pipelines" / "tfidf_only.yml",
    "stock_logreg": ROOT / "bench" / "pipelines" / "stock_logreg.yml",
    "stock_diet": ROOT / "bench" / "pipelines" / "stock_diet.yml",
}
DEFAULT_PIPELINES = ["config", "minilm_only", "tfidf_only", "stock_logreg"]
LATENCY_SAMPLES = 200
CONFUSIONS_SHOWN = 15


def write_nlu_yaml(rows: Sequence[Tuple[str, str]], path: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [Message(data={"text": text, "intent": label}) for text, label in rows]
    path.write_text(TrainingData(messages).nlu_as_yaml())


def bot_test_sets(halves: Sequence[str]) -> Dict[str, List[Example]]:
    from bot.evaluation import load_examples

    sets = {"unseen": [(text, [label]) for text, label in load_examples(ROOT / "tests" / "nlu")]}
    for half in halves:
        sets[f"banking77_{half}"] = banking77_real_questions(half, strict=True)
        sets[f"banking77_{half}_lenient"] = banking77_real_questions(half, strict=False)
        if half in CLINC150_PARTS:
            sets[f"clinc150_bank_{half}"] = clinc150_bank_questions(half)
            sets[f"clinc150_bank_{half}_uncovered"] = clinc150_bank_questions(half, covered=False)
    sets["gibberish"] = [(text, sorted(OUT_OF_SCOPE)) for text in gibberish()]
    return sets


def per_topic(examples: Sequence[Example], labels: Sequence[str]) -> Tuple[Dict[str, float], List[List[Any]]]:
    """Accuracy per expected label, and the most frequent (expected, predicted, count) confusions."""
    totals: Counter = Counter()
    hits: Counter = Counter()
    confusions: Counter = Counter()
    for (_, accepted), predicted in zip(examples, labels):
        totals[accepted[0]] += 1
        if predicted in accepted:
            hits[accepted[0]] += 1
        else:
            confusions[(accepted[0], predicted)] += 1
    accuracy = {label: hits[label] / count for label, count in sorted(totals.items())}
    return accuracy, [[gold, got, count] for (gold, got), count in confusions.most_common(CONFUSIONS_SHOWN)]


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


SWEEP = tuple(round(0.1 + 0.01 * step, 2) for step in range(81))  # 0.1 .. 0.9 by 0.01 (0.05 until round two)
# The rule that chooses the fallback threshold on CLINC150's val (never on its test):
# the highest threshold keeping in-scope accuracy at least this (the 95 % target + half a point).
CHOICE_MIN_IN_SCOPE = 0.955


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


def chosen_threshold(sweep: Dict[str, Dict[str, float]]) -> Optional[float]:
    """The highest swept threshold whose in-scope accuracy is at least ``CHOICE_MIN_IN_SCOPE``."""
    kept = [float(t) for t, figures in sweep.items() if figures["in_scope_accuracy"] >= CHOICE_MIN_IN_SCOPE]
    return max(kept) if kept else None


def latency_ms(model_path: Path, texts: Sequence[str]) -> Dict[str, float]:
    """Single-message parse time, as a Rasa server parses each incoming message."""
    import asyncio

    from rasa.core.agent import Agent

    from bot.nlu.sentence_encoder import load_encoder

    agent = Agent.load(str(model_path))

    async def measure() -> List[float]:
        await agent.parse_message(texts[0])  # warm-up: first call traces the TF graph
        # The texts were just scored: the encoder remembers their embeddings and would not run again.
        load_encoder().clear_cache()
        timings = []
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    summary = latency_summary(asyncio.run(measure()))
    return {"parse_p50_ms": summary["p50_ms"], "parse_p99_ms": summary["p99_ms"]}


def run_one(pipeline: str, dataset: str, halves: Sequence[str] = ("dev",)) -> Dict[str, Any]:
    from bot.evaluation import NluModel, predicted_label

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        if dataset == "bot":
            nlu_data = ROOT / "data"
            test_sets = bot_test_sets(halves)
        else:
            train_rows, test_sets = banking77_split() if dataset == "banking77" else clinc150_split()
            nlu_data = work / "train.yml"
            write_nlu_yaml(train_rows, nlu_data)
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
                if name == "clinc150_val":
                    result["chosen_threshold"] = chosen_threshold(result[f"{prefix}threshold_sweep"])
            if name.startswith(("banking77_", "clinc150_bank_")) and not name.endswith(("_lenient", "_uncovered")):
                result[f"{prefix}per_topic"], result[f"{prefix}confusions"] = per_topic(examples, labels)
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
    parser.add_argument("--bot-halves", nargs="+", default=["dev"], choices=BOT_HALVES,
                        help="splits of the real-wording questions to score the bot on (test, fresh: only to report)")
    parser.add_argument("--run-one", nargs=2, metavar=("PIPELINE", "DATASET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run_one:
        pipeline, dataset = args.run_one
        print(json.dumps(run_one(pipeline, dataset, halves=args.bot_halves)))
        return 0

    results = []
    for dataset in args.datasets:
        for pipeline in args.pipelines:
            if dataset == "bot" and pipeline.startswith("stock"):
                continue  # stock pipelines have no answer selection for the bot's FAQ
            print(f"--> {pipeline} on {dataset}", file=sys.stderr, flush=True)
            child = subprocess.run(
                [sys.executable, "-m", "bench.nlu", "--run-one", pipeline, dataset,
                 "--bot-halves", *args.bot_halves],
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
    columns = ["dataset", "pipeline", "top1_accuracy", "accuracy", "fallback_rate", "macro_f1",
               "clinc150_val_in_scope_accuracy", "clinc150_val_oos_recall", "chosen_threshold",
               "in_scope_accuracy", "oos_recall",
               "unseen_accuracy", "banking77_dev_accuracy", "banking77_dev_lenient_accuracy",
               "banking77_test_accuracy", "banking77_test_lenient_accuracy",
               "banking77_fresh_accuracy", "banking77_fresh_lenient_accuracy",
               "clinc150_bank_dev_accuracy", "clinc150_bank_dev_uncovered_accuracy",
               "clinc150_bank_test_accuracy", "clinc150_bank_test_uncovered_accuracy", "gibberish_fallback_rate",
               "train_seconds", "parse_p50_ms", "parse_p99_ms", "model_mb", "peak_rss_mb"]
    parts = [markdown_table(results, [c for c in columns if any(c in row for row in results)])]
    for row in results:
        for key, value in row.items():
            if key.endswith("threshold_sweep"):
                parts.append(f"\n{row['pipeline']} {key}:\n" + markdown_table(
                    [{"threshold": float(t), **figures} for t, figures in value.items()],
                    ["threshold", "in_scope_accuracy", "oos_recall"]))
            elif key.endswith("_per_topic"):
                parts.append(f"\n{row['pipeline']} {key}:\n" + markdown_table(
                    [{"topic": topic, "accuracy": share} for topic, share in value.items()], ["topic", "accuracy"]))
            elif key.endswith("_confusions"):
                parts.append(f"\n{row['pipeline']} {key}:\n" + markdown_table(
                    [{"expected": gold, "answered": got, "count": count} for gold, got, count in value],
                    ["expected", "answered", "count"]))
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
