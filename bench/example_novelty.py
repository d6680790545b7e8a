"""Are our training examples our own? Each is checked against the data sets' questions the bot is tested on.

BANKING77's training split and its test split (the fresh split), and CLINC150's
banking and credit-card questions (bench/clinc150_topics.py), are the bot's
unseen tests of real customer wording (bench/nlu_splits.py), so none of their
sentences may become training data, not even slightly reworded. An example of
data/nlu is flagged when it is

- the same as such a sentence once lower-cased, with punctuation and
  repeated spaces removed (``same_words``), or
- very close in meaning: MiniLM cosine at least ``--max-cosine`` (0.95) to one
  (``near``).

    python -m bench.example_novelty                 # every example of data/nlu
    python -m bench.example_novelty --max-cosine 0.9

Prints the flagged examples with their nearest data-set sentence, writes
.run/bench/example_novelty.json, and exits 1 when any is flagged.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from bench.clinc150_topics import QUESTION_INTENTS
from bench.nlu_splits import banking77_test_rows, datasets_dir

__all__ = ["banking77_sentences", "clinc150_sentences", "flagged", "normalised"]

ROOT = Path(__file__).resolve().parent.parent
MAX_COSINE = 0.95
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalised(text: str) -> str:
    """Lower case, letters and digits only, single spaces: "Where's my card?!" -> "where s my card"."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def banking77_sentences() -> List[str]:
    """Both splits: training (dev and test halves) and test (fresh)."""
    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        train = [row["text"] for row in csv.DictReader(handle)]
    return train + [text for text, _ in banking77_test_rows()]


def clinc150_sentences() -> List[str]:
    """CLINC150's banking and credit-card questions (and exchange rates), train and val rows."""
    data = json.loads((datasets_dir() / "clinc150" / "data_train_val.json").read_text())
    return [text for part in ("train", "val") for text, label in data[part] if label in QUESTION_INTENTS]


def flagged(ours: Sequence[str], theirs: Sequence[str], max_cosine: float) -> List[Dict[str, Any]]:
    """Our examples that copy or nearly copy one of theirs, each with its nearest sentence."""
    from bot.nlu.sentence_encoder import load_encoder

    encoder = load_encoder()
    their_vectors = encoder.encode(list(theirs))
    their_words = {normalised(text): text for text in theirs}
    found = []
    for start in range(0, len(ours), 512):
        batch = list(ours[start:start + 512])
        similarity = encoder.encode(batch) @ their_vectors.T
        for text, row in zip(batch, similarity):
            nearest = int(np.argmax(row))
            same = their_words.get(normalised(text))
            if same is not None or row[nearest] >= max_cosine:
                found.append({"example": text, "sentence": same or theirs[nearest],
                              "cosine": round(float(row[nearest]), 3),
                              "reason": "same_words" if same is not None else "near"})
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    from bench.common import write_result
    from bot.evaluation import load_examples

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-cosine", type=float, default=MAX_COSINE,
                        help="flag an example at least this close (MiniLM cosine) to a data-set sentence")
    args = parser.parse_args(argv)

    ours = sorted({text for text, _ in load_examples(ROOT / "data" / "nlu")})
    theirs = banking77_sentences() + clinc150_sentences()
    found = flagged(ours, theirs, args.max_cosine)
    for entry in found:
        print(f"{entry['reason']:10s} {entry['cosine']:.3f}  {entry['example']!r}  ~  {entry['sentence']!r}")
    print(f"{len(found)} of {len(ours)} examples flagged against {len(theirs)} BANKING77 and CLINC150 sentences "
          f"(same words, or MiniLM cosine >= {args.max_cosine})")
    path = write_result("example_novelty", {"examples": len(ours), "data_set_sentences": len(theirs),
                                            "max_cosine": args.max_cosine, "flagged": found})
    print(f"(written to {path})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
