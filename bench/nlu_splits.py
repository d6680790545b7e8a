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
             A third split, ``fresh`` (issue 13, round four), is BANKING77's own
             ``test`` split (``banking77/test.csv``, 3,080 questions, not in
             shared/datasets: see ``FRESH_SOURCE``), never used by any round
             before: its questions of our topics, less the few that are also
             in the training split, scored under the same maps, once, at the end.
             A fourth (issue 13, round six): CLINC150's banking and credit-card
             questions (``clinc150_bank_questions``, the map and its reasons in
             bench/clinc150_topics.py). Its ``train`` rows are a dev part (read
             to write examples, scored with ``dev``), its ``val`` rows the
             held-out part (scored with ``test``, once, at the end). Those val
             rows chose the fallback threshold of a pipeline trained on
             CLINC150 itself (above), never the demo bot's data or examples.
             The intents no answer covers are scored apart: they must be
             declined (``out_of_scope``) or not understood.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bench import clinc150_topics
from bench.banking77_topics import ACCEPTED_TOPICS, STRICT_TOPIC

__all__ = [
    "BOT_HALVES",
    "Example",
    "OUT_OF_SCOPE",
    "banking77_real_questions",
    "banking77_split",
    "banking77_test_rows",
    "clinc150_bank_questions",
    "clinc150_split",
    "datasets_dir",
]

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
OUT_OF_SCOPE = frozenset({"nlu_fallback", "out_of_scope"})
BOT_HALVES = ("dev", "test", "fresh")
# The parts of CLINC150's banking and credit-card questions: dev (its train rows), test (its val rows).
CLINC150_PARTS = {"dev": "train", "test": "val"}
SEED = 42
HALVES_SEED = 13
# BANKING77's test split, pinned to the exact file (the same commit's train.csv is shared/datasets').
FRESH_FILE = Path("banking77") / "test.csv"
FRESH_SHA256 = "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d"
FRESH_SOURCE = "PolyAI-LDN/task-specific-datasets on GitHub, banking_data/test.csv (commit 57ec275)"
_NOT_WORD = re.compile(r"[^a-z0-9]+")

Example = Tuple[str, List[str]]  # text, accepted labels
Row = Tuple[str, str]  # text, label


def datasets_dir() -> Path:
    return Path(os.environ.get("DATASETS_DIR", DATASETS))


def _banking77_rows() -> List[Row]:
    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def banking77_test_rows() -> List[Row]:
    """BANKING77's own test split, checked to be the pinned file."""
    path = datasets_dir() / FRESH_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the fresh split is BANKING77's test split, "
                                f"from {FRESH_SOURCE} (sha256 {FRESH_SHA256})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != FRESH_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, not BANKING77's test split ({FRESH_SHA256})")
    with open(path, newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def _words(text: str) -> str:
    return _NOT_WORD.sub(" ", text.lower()).strip()


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
    """The dev or test half, or the fresh split, of the BANKING77 questions our FAQ answers cover.

    Labelled ``faq/<topic>``.

    ``strict``: only the category's one best topic is right; otherwise any
    topic of ``ACCEPTED_TOPICS`` is.
    """
    if half not in BOT_HALVES:
        raise ValueError(f"half must be one of {BOT_HALVES}, got {half!r}")
    train_rows = _banking77_rows()
    if half == "fresh":
        seen = {_words(text) for text, _ in train_rows}
        chosen = [(text, category) for text, category in banking77_test_rows()
                  if category in STRICT_TOPIC and _words(text) not in seen]
    else:
        covered = [(text, category) for text, category in train_rows if category in STRICT_TOPIC]
        dev, test = _stratified(covered, 0.5, HALVES_SEED)
        chosen = dev if half == "dev" else test
    if strict:
        return [(text, [f"faq/{STRICT_TOPIC[category]}"]) for text, category in chosen]
    return [(text, sorted(f"faq/{key}" for key in ACCEPTED_TOPICS[category])) for text, category in chosen]


def clinc150_bank_questions(part: str, covered: bool = True) -> List[Example]:
    """CLINC150's banking and credit-card questions: ``part`` ``dev`` (its train rows) or ``test`` (val).

    ``covered``: the intents one of our answers covers, labelled ``faq/<topic>``
    (bench/clinc150_topics.py ``STRICT_TOPIC``); otherwise the intents none
    covers (``UNCOVERED``), where declining or not understanding is right.
    """
    if part not in CLINC150_PARTS:
        raise ValueError(f"part must be one of {sorted(CLINC150_PARTS)}, got {part!r}")
    data = json.loads((datasets_dir() / "clinc150" / "data_train_val.json").read_text())
    rows = [(text, label) for text, label in data[CLINC150_PARTS[part]]]
    if covered:
        return [(text, [f"faq/{clinc150_topics.STRICT_TOPIC[label]}"]) for text, label in rows
                if label in clinc150_topics.STRICT_TOPIC]
    return [(text, sorted(OUT_OF_SCOPE)) for text, label in rows if label in clinc150_topics.UNCOVERED]
