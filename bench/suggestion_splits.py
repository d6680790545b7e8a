"""Which real customer questions the suggested-replies benchmark tunes on (dev) and reports on (test).

Fixed and committed before any tuning of the suggestions (bench/suggestions.py), so that the
test figure comes from questions no choice of the suggestions ever saw:

  dev   the dev half of BANKING77's training-split questions whose category one of our 25 FAQ
        answers covers (bench.nlu_splits, seed 13, stratified per category): 4,153 questions.
        Earlier NLU rounds read its confusions to write examples, so it is the half to tune on.
  test  the other half (4,153): no example was written from it; looked at once, at the end.

Each question is right only with its category's one best answer (``STRICT_TOPIC``, the strict
map of bench/nlu.py). Both halves are pinned by the SHA-256 of their (text, label) list: a
changed data set or split code fails loudly instead of giving another figure under the same name.
The questions are read from the shared data sets, never copied into data/.
"""

from __future__ import annotations

import hashlib
import json
from typing import Dict, List

from bench.nlu_splits import Example, banking77_real_questions

__all__ = ["SPLITS", "suggestion_split"]

SPLITS: Dict[str, str] = {
    "dev": "2f65f9cfab6a86c0d27d78ed3a981647bad34c35796887391e006dec00273dd0",
    "test": "0ae5a8a0f82d0965c30aa99292807169084db00eb541e6d947198019cbed91b8",
}


def suggestion_split(name: str) -> List[Example]:
    """The ``dev`` or ``test`` questions, each with its one right FAQ label (``faq/<topic>``)."""
    if name not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {name!r}")
    examples = banking77_real_questions(name, strict=True)
    digest = hashlib.sha256(json.dumps(examples).encode()).hexdigest()
    if digest != SPLITS[name]:
        raise ValueError(f"the {name} split has sha256 {digest}, not the pinned {SPLITS[name]}: "
                         "the data set or bench/nlu_splits.py changed")
    return examples
