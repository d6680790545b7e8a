"""How well handoff.privacy masks what customers must never send: precision and recall per kind.

The cases are ours (tests/privacy/dev.txt and test.txt, split before the masking was written; fresh.txt,
written later to evade the rules; the format is in their headers). Tuned on dev; test and fresh are read
with ``--split test`` / ``--split fresh`` once, at the end of a change.
A masked part counts as found when the masking covers exactly the marked characters with the
marked kind; a message is right when its whole masked text is the expected one. Also what masking
costs per message (the bridge pays it on every text a customer sends): run it with the bridge's Python
(.venv-bridge/bin/python) for the figure that matters.

    python -m bench.privacy --split dev [--show]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

from bench.common import markdown_table, write_result
from handoff.privacy import PLACEHOLDER, Secret, mask

__all__ = ["Case", "load_cases", "score"]

CASES_DIR = Path(__file__).resolve().parent.parent / "tests" / "privacy"
_MARK = re.compile(r"\{(card|code|password|pin):([^{}]+)\}")


@dataclass(frozen=True)
class Case:
    text: str
    expected: str
    marked: Tuple[Tuple[Secret, int, int], ...]


def _case(line: str) -> Case:
    text, expected, marked, position = "", "", [], 0
    line = line.replace("\\n", "\n")
    for match in _MARK.finditer(line):
        before = line[position:match.start()]
        text, expected = text + before, expected + before
        kind = Secret(match.group(1))
        marked.append((kind, len(text), len(text) + len(match.group(2))))
        text, expected = text + match.group(2), expected + PLACEHOLDER[kind]
        position = match.end()
    return Case(text + line[position:], expected + line[position:], tuple(marked))


def load_cases(split: str) -> List[Case]:
    lines = (CASES_DIR / f"{split}.txt").read_text(encoding="utf-8").splitlines()
    return [_case(line) for line in lines if line.strip() and not line.startswith("#")]


def score(cases: List[Case], show: bool = False) -> Dict[str, Any]:
    hits, predicted, marked = Counter[Secret](), Counter[Secret](), Counter[Secret]()
    right = 0
    for case in cases:
        masking = mask(case.text)
        found = {(item.kind, item.start, item.end) for item in masking.found}
        expected = set(case.marked)
        for kind, _, _ in found:
            predicted[kind] += 1
        for kind, _, _ in expected:
            marked[kind] += 1
        for kind, _, _ in found & expected:
            hits[kind] += 1
        right += masking.text == case.expected
        if show and masking.text != case.expected:
            print(f"  got      {masking.text!r}\n  expected {case.expected!r}")
    rows = []
    for kind in [*Secret, None]:
        kinds = list(Secret) if kind is None else [kind]
        hit, guessed, wanted = (sum(counter[k] for k in kinds) for counter in (hits, predicted, marked))
        rows.append({"kind": "all" if kind is None else kind.value, "marked": wanted, "masked": guessed,
                     "precision": hit / guessed if guessed else 1.0, "recall": hit / wanted if wanted else 1.0})
    return {"messages": len(cases), "messages_right": right, "kinds": rows}


# Texts of 4,000 characters (twice the longest message a customer may send; a file's name or a form's
# field is shorter), built to make masking work hardest: a run of two thousand one-digit groups (each
# tried as a card's start), card after card, keywords without secrets, digits between invisible
# characters, groups between joining words, a card in words, spaced digits after "cvv".
WORST_CASES = {
    "one-digit groups": "4 " * 2000,
    "cards": "4111 1111 1111 1111 " * 200,
    "keywords": "cvv ab pin is password " * 174,
    "digits": "4" * 4000,
    "invisible": "4\u200b" * 2000,
    "joining words": "4111 and " * 445,
    "in words": "four one one one " * 235,
    "spaced after cvv": "cvv " + "1 " * 1998,
}
WORST_CASE_CHARACTERS = 4000


def worst_case_milliseconds(rounds: int = 20) -> Dict[str, float]:
    """Each worst case's fastest of ``rounds``: what it costs, without the other processes' noise."""
    timings = {}
    for name, text in WORST_CASES.items():
        each = []
        for _ in range(rounds):
            started = time.perf_counter()
            mask(text[:WORST_CASE_CHARACTERS])
            each.append((time.perf_counter() - started) * 1000)
        timings[name] = round(min(each), 2)
    return timings


def cost_microseconds(cases: List[Case], rounds: int = 200) -> float:
    """The median over ``rounds`` of the mean time to mask one of the messages."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for case in cases:
            mask(case.text)
        timings.append((time.perf_counter() - started) / len(cases) * 1e6)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("dev", "test", "fresh"), default="dev")
    parser.add_argument("--show", action="store_true", help="print every message masked otherwise than expected")
    arguments = parser.parse_args()
    cases = load_cases(arguments.split)
    result = {**score(cases, arguments.show), "microseconds_per_message": cost_microseconds(cases),
              "worst_case_milliseconds": worst_case_milliseconds()}
    print(f"{arguments.split}: {result['messages_right']}/{result['messages']} messages masked exactly as expected, "
          f"{result['microseconds_per_message']:.1f} µs per message")
    print(markdown_table(result["kinds"], ("kind", "marked", "masked", "precision", "recall")))
    print(f"worst cases ({WORST_CASE_CHARACTERS:,} characters), ms:", result["worst_case_milliseconds"])
    write_result(f"privacy_{arguments.split}", {"split": arguments.split, **result})


if __name__ == "__main__":
    main()
