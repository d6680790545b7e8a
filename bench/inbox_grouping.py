"""Inbox grouping benchmark: how many groups do 200 real customer messages become, and how pure are they?

    python -m bench.inbox_grouping                    # the default thresholds, 10 draws per scenario
    python -m bench.inbox_grouping --thresholds 0.5 0.6 --draws 10

Messages are real customer questions from BANKING77 (shared/datasets, benchmark
use only: never copied into the project). Each draw picks 10 random intents and
200 of their messages, embeds them with the bot's all-MiniLM-L6-v2 encoder and
groups them with teaching.worker.grouping at each distance threshold:

  balanced  20 messages from each of the 10 intents
  skewed    60/40/30/20/15/10/10/5/5/5 messages: a few hot topics, a long tail

Columns (averaged over the draws): groups, groups of 3+ messages, singletons;
purity (share of messages whose group's majority intent is their own); purity of
the 3+ groups alone (what staff label in bulk); topic purity, where BANKING77
intents that the same one of the bot's FAQ answers covers count as one
(bench/banking77_topics.py: card_arrival and card_delivery_estimate are one
label to content staff); the share of messages that sit in a 3+ group; the
adjusted Rand index against the true intents. Then the time to group
teaching.worker.grouping.MAX_ITEMS messages.
The data set is read from ../shared/datasets beside the repository, or from
DATASETS_DIR (as bench.nlu).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from bench.nlu_splits import datasets_dir
from bot.nlu.sentence_encoder import load_encoder
from teaching.worker.grouping import DEFAULT_DISTANCE_THRESHOLD, MAX_ITEMS, group

__all__ = ["main", "measure"]

THRESHOLDS = [0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8]
SCENARIOS: Dict[str, List[int]] = {
    "balanced": [20] * 10,
    "skewed": [60, 40, 30, 20, 15, 10, 10, 5, 5, 5],
}

Row = Tuple[str, str]  # text, intent


def load_banking77() -> Dict[str, List[str]]:
    by_intent: Dict[str, List[str]] = defaultdict(list)
    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"].strip())
    return by_intent


def draw(by_intent: Dict[str, List[str]], sizes: Sequence[int], seed: int) -> List[Row]:
    rng = random.Random(seed)
    intents = rng.sample(sorted(by_intent), len(sizes))
    return [(text, intent) for intent, size in zip(intents, sizes) for text in rng.sample(by_intent[intent], size)]


def measure(rows: Sequence[Row], embeddings: np.ndarray, threshold: float) -> Dict[str, float]:
    from sklearn.metrics import adjusted_rand_score

    from bench.banking77_topics import ACCEPTED_TOPICS

    items: List[Dict[str, Any]] = [
        {"id": f"{index:05d}", "time": float(index), "intent": None, "reasons": []} for index in range(len(rows))
    ]
    truth = {item["id"]: intent for item, (_, intent) in zip(items, rows)}
    topic = {intent: min(ACCEPTED_TOPICS.get(intent) or {intent}) for intent in set(truth.values())}
    groups = group(items, embeddings, distance_threshold=threshold)
    majority_hits = big_hits = big_members = topic_hits = 0
    predicted: Dict[str, int] = {}
    for number, entry in enumerate(groups):
        intents = Counter(truth[item["id"]] for item in entry["items"])
        top = intents.most_common(1)[0][1]
        majority_hits += top
        topic_hits += Counter(topic[truth[item["id"]]] for item in entry["items"]).most_common(1)[0][1]
        if entry["size"] >= 3:
            big_hits += top
            big_members += entry["size"]
        for item in entry["items"]:
            predicted[item["id"]] = number
    ids = sorted(truth)
    return {
        "groups": len(groups),
        "groups_3plus": sum(entry["size"] >= 3 for entry in groups),
        "singletons": sum(entry["size"] == 1 for entry in groups),
        "purity": majority_hits / len(rows),
        "purity_3plus": big_hits / big_members if big_members else 0.0,
        "topic_purity": topic_hits / len(rows),
        "in_3plus": big_members / len(rows),
        "ari": float(adjusted_rand_score([truth[i] for i in ids], [predicted[i] for i in ids])),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--thresholds", nargs="+", type=float, default=THRESHOLDS)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args(argv)

    by_intent = load_banking77()
    encoder = load_encoder()
    print(f"BANKING77 from {datasets_dir()}; 200 messages from 10 random intents per draw, "
          f"{args.draws} draws; default threshold {DEFAULT_DISTANCE_THRESHOLD}\n")
    columns = ["groups", "groups_3plus", "singletons", "purity", "purity_3plus", "topic_purity", "in_3plus", "ari"]
    print("| scenario | threshold | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for scenario, sizes in SCENARIOS.items():
        draws = [draw(by_intent, sizes, seed) for seed in range(args.draws)]
        vectors = [encoder.encode([text for text, _ in rows]) for rows in draws]
        for threshold in args.thresholds:
            results = [measure(rows, embedded, threshold) for rows, embedded in zip(draws, vectors)]
            means = {column: float(np.mean([result[column] for result in results])) for column in columns}
            cells = [f"{means[c]:.1f}" if c in ("groups", "groups_3plus", "singletons") else f"{means[c]:.3f}"
                     for c in columns]
            marker = " (default)" if threshold == DEFAULT_DISTANCE_THRESHOLD else ""
            print(f"| {scenario} | {threshold:.2f}{marker} | " + " | ".join(cells) + " |")

    rng = random.Random(0)
    everything = [text for texts in by_intent.values() for text in texts]
    texts = rng.sample(everything, MAX_ITEMS)
    embedded = encoder.encode(texts)
    items: List[Dict[str, Any]] = [
        {"id": f"{index:05d}", "time": float(index), "intent": None, "reasons": []} for index in range(len(texts))
    ]
    started = time.perf_counter()
    groups = group(items, embedded)
    seconds = time.perf_counter() - started
    print(f"\ngrouping {MAX_ITEMS} messages from all 77 intents (the cap): {seconds:.2f} s, "
          f"{len(groups)} groups, {sum(g['size'] >= 3 for g in groups)} of 3+")
    return 0


if __name__ == "__main__":
    sys.exit(main())
