"""Which questions each NLU benchmark trains on, chooses settings on, and is judged on.

Fixed before any tuning (seeded, deterministic), so that a figure reported as
"test" comes from questions that no training run and no choice ever saw:

  banking77  77 banking intents; a stratified 20 % of its training split
             (seed 42) is the test set, the pipeline trains on the other 80 %.
  clinc150   150 intents. ``clinc150_val`` (``val`` + ``oos_val``) is where the
             fallback threshold is chosen; ``clinc150`` (the test) is
             ``oos_train`` + a stratified 20 % of ``train`` (seed 42), and the
             pipeline trains on the other 80 % of ``train`` only (no
             out-of-scope examples: unanswerable questions must fall back).
  bot        the project's own data/. Tested on tests/nlu/unseen_*.yml and on
             real customer wording: BANKING77's training split (never our
             training data), the questions whose category one of our 25 FAQ
             answers covers, split per category into a dev half (its
             confusions may guide the examples we write) and a test half
             (looked at only to report). Each question counts for its
             category's one best topic (``STRICT_TOPIC``); the lenient figure
             also accepts a second fitting answer (``ACCEPTED_TOPICS``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bench.banking77_topics import ACCEPTED_TOPICS, STRICT_TOPIC

__all__ = [
    "BOT_HALVES",
    "Example",
    "OUT_OF_SCOPE",
    "banking77_real_questions",
    "banking77_split",
    "clinc150_split",
    "datasets_dir",
]

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
OUT_OF_SCOPE = frozenset({"nlu_fallback", "out_of_scope"})
BOT_HALVES = ("dev", "test")
SEED = 42
HALVES_SEED = 13

Example = Tuple[str, List[str]]  # text, accepted labels
Row = Tuple[str, str]  # text, label


def datasets_dir() -> Path:
    return Path(os.environ.get("DATASETS_DIR", DATASETS))


def _banking77_rows() -> List[Row]:
    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def _stratified(rows: Sequence[Row], test_size: float, seed: int) -> Tuple[List[Row], List[Row]]:
    from sklearn.model_selection import train_test_split

    kept, held_out = train_test_split(
        list(rows), test_size=test_size, stratify=[label for _, label in rows], random_state=seed
    )
    return kept, held_out


def banking77_split() -> Tuple[List[Row], Dict[str, List[Example]]]:
    """Training rows and ``{"banking77": test}``."""
    train, test = _stratified(_banking77_rows(), 0.2, SEED)
    return train, {"banking77": [(text, [label]) for text, label in test]}


def clinc150_split() -> Tuple[List[Row], Dict[str, List[Example]]]:
    """Training rows, ``clinc150_val`` (choose the threshold here) and ``clinc150`` (report only)."""
    data = json.loads((datasets_dir() / "clinc150" / "data_train_val.json").read_text())
    train, held_out = _stratified([(text, label) for text, label in data["train"]], 0.2, SEED)
    unanswerable = sorted(OUT_OF_SCOPE)
    val = [(text, [label]) for text, label in data["val"]]
    val += [(text, unanswerable) for text, _ in data["oos_val"]]
    test = [(text, [label]) for text, label in held_out]
    test += [(text, unanswerable) for text, _ in data["oos_train"]]
    return train, {"clinc150_val": val, "clinc150": test}


def banking77_real_questions(half: str, strict: bool = True) -> List[Example]:
    """One half of the BANKING77 questions our FAQ answers cover, labelled ``faq/<topic>``.

    ``strict``: only the category's one best topic is right; otherwise any
    topic of ``ACCEPTED_TOPICS`` is.
    """
    if half not in BOT_HALVES:
        raise ValueError(f"half must be one of {BOT_HALVES}, got {half!r}")
    covered = [(text, category) for text, category in _banking77_rows() if category in STRICT_TOPIC]
    dev, test = _stratified(covered, 0.5, HALVES_SEED)
    chosen = dev if half == "dev" else test
    if strict:
        return [(text, [f"faq/{STRICT_TOPIC[category]}"]) for text, category in chosen]
    return [(text, sorted(f"faq/{key}" for key in ACCEPTED_TOPICS[category])) for text, category in chosen]
