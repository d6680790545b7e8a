"""How often a queued customer's words are offered the way out of the queue (handoff.machine.wants_out_of_queue),
on public sentences the rule was never tuned on (shared/datasets: benchmark data, read here, never copied).

- offered: CLINC150's validation sentences of its ``cancel`` and ``goodbye`` intents ("never mind", "bye"),
  which should be offered the way out;
- false offers: the other CLINC150 validation sentences (``thank_you`` aside: thanks may end a chat) and every
  BANKING77 training sentence, questions a person should answer, which should not.

An offer never takes anyone out of the queue (the customer presses the button), so a false offer costs a
line of text; a missed one leaves the customer to find "Back to the assistant" themselves.

    python -m bench.leave_offer
"""

from __future__ import annotations

import csv
import json
from typing import Any, Dict, List

from bench.common import markdown_table, write_result
from bench.nlu_splits import datasets_dir
from handoff.machine import wants_out_of_queue

__all__ = ["main", "measure"]

WANT_OUT = ("cancel", "goodbye")
EITHER = ("thank_you",)


def measure() -> List[Dict[str, Any]]:
    clinc = json.loads((datasets_dir() / "clinc150" / "data_train_val.json").read_text())["val"]
    with open(datasets_dir() / "banking77" / "train.csv", newline="") as handle:
        banking = [row["text"] for row in csv.DictReader(handle)]
    sets = {
        "CLINC150 val cancel/goodbye (should be offered)": [text for text, intent in clinc if intent in WANT_OUT],
        "CLINC150 val other intents (should not)": [text for text, intent in clinc if intent not in WANT_OUT + EITHER],
        "BANKING77 train (should not)": banking,
    }
    return [{"sentences": name, "offered": sum(map(wants_out_of_queue, texts)), "of": len(texts)}
            for name, texts in sets.items()]


def main() -> None:
    rows = measure()
    print(markdown_table(rows, ["sentences", "offered", "of"]))
    print(write_result("leave_offer", {"rows": rows}))


if __name__ == "__main__":
    main()
