"""Compare a newly trained model with the deployed one before it goes live.

Content staff retrain the bot without a developer watching, so every
candidate model is checked on what the project already knows to be right:

* the held-out questions in ``tests/nlu/*.yml`` (never trained on): accuracy
  (a fallback counts as wrong, as a customer sees it), macro-F1 and per-label
  F1 for the candidate and the deployed model, and which confusions grew;
* the stuck-detection corpus ``tests/conversations/corpus.yml``, played against
  the candidate in-process (in-memory tracker and lock stores) with the real
  action server, so a model that stops handing over stuck customers (or
  starts handing over happy ones) is refused.

The verdict follows the teaching spec: *worse* when accuracy drops by more
than ``max_accuracy_drop``, macro-F1 by more than 0.01, the corpus fails, or
any one intent or FAQ topic regressed beyond the noise of its own held-out
questions (:mod:`teaching.worker.regressions`), however well the rest did.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlparse

from bot.evaluation import NluModel, label_scores, load_examples, macro_f1, predicted_label, score
from bot.stuck.corpus import MAX_FALSE_HANDOFF_RATE, MIN_RECALL, CorpusReport, load_corpus, play, summarise
from teaching.worker.regressions import TopicChange, regressed, topic_changes
from teaching.store import model_id_of
from teaching.worker.training import quiet_structlog

__all__ = ["MAX_MACRO_F1_DROP", "compare", "play_corpus"]

logger = logging.getLogger(__name__)

MAX_MACRO_F1_DROP = 0.01
HELDOUT_DIR = Path("tests") / "nlu"
CORPUS_FILE = Path("tests") / "conversations" / "corpus.yml"
# At most this many grown confusions are reported (the largest growth first).
MAX_CONFUSIONS = 20
_EXAMPLES_PER_CONFUSION = 3


def compare(
    candidate: Path,
    current: Optional[Path],
    project: Path,
    action_endpoint_url: Optional[str],
    max_accuracy_drop: float = 0.005,
) -> Dict[str, Any]:
    """The evaluation report of ``candidate`` against ``current`` (None: first model).

    Blocking, and it runs its own event loop for the corpus: call it from a
    worker thread (``asyncio.to_thread``), not from a running event loop.
    Besides the spec's keys the report has ``timings`` (seconds per part).
    """
    quiet_structlog()
    timings: Dict[str, float] = {}
    started = time.monotonic()
    project = Path(project)
    examples = load_examples(project / HELDOUT_DIR)
    texts = [text for text, _ in examples]
    expected = [label for _, label in examples]

    mark = time.monotonic()
    candidate_model = NluModel(candidate, agent=_load_agent(candidate, action_endpoint_url))
    current_model = NluModel(current) if current is not None else None
    timings["load_models"] = time.monotonic() - mark

    mark = time.monotonic()
    candidate_parses = candidate_model.parse(texts)
    current_parses = current_model.parse(texts) if current_model is not None else None
    timings["parse_heldout"] = time.monotonic() - mark

    candidate_predicted = [predicted_label(parse) for parse in candidate_parses]
    current_predicted = (
        [predicted_label(parse) for parse in current_parses] if current_parses is not None else None
    )
    candidate_summary = _summary(examples, candidate_parses, expected, candidate_predicted)
    current_summary = (
        {"model_id": model_id_of(current), **_summary(examples, current_parses, expected, current_predicted)}
        if current is not None and current_parses is not None and current_predicted is not None
        else None
    )

    changes = topic_changes(expected, current_predicted, candidate_predicted) if current_predicted is not None else None
    mark = time.monotonic()
    stuck_corpus = _stuck_corpus(candidate_model, project / CORPUS_FILE, action_endpoint_url)
    timings["stuck_corpus"] = time.monotonic() - mark

    verdict, reasons = _verdict(
        len(examples), candidate_summary, current_summary, stuck_corpus, max_accuracy_drop, regressed(changes)
    )
    timings["total"] = time.monotonic() - started
    report: Dict[str, Any] = {
        "heldout": len(examples),
        "current": current_summary,
        "candidate": candidate_summary,
        "per_intent": _per_intent(expected, candidate_predicted, current_predicted, candidate_model.labels()),
        "worse_confusions": (
            _worse_confusions(examples, candidate_parses, current_parses) if current_parses is not None else []
        ),
        "per_topic": [change.as_dict() for change in changes or []],
        "regressions": [change.as_dict() for change in regressed(changes)],
        "stuck_corpus": stuck_corpus,
        "verdict": verdict,
        "reasons": reasons,
        "timings": {name: round(value, 2) for name, value in timings.items()},
    }
    logger.info("Evaluated %s: %s (%s); timings %s", Path(candidate).name, verdict, "; ".join(reasons),
                report["timings"])
    return report


# ---- held-out questions -----------------------------------------------------------


def _summary(
    examples: Sequence[Tuple[str, str]],
    parses: Sequence[Dict[str, Any]],
    expected: Sequence[str],
    predicted: Sequence[str],
) -> Dict[str, Any]:
    result = score([(text, [label]) for text, label in examples], parses)
    return {"accuracy": round(result.accuracy, 4), "macro_f1": round(macro_f1(expected, predicted), 4)}


def _per_intent(
    expected: Sequence[str],
    candidate: Sequence[str],
    current: Optional[Sequence[str]],
    known: Sequence[str],
) -> List[Dict[str, Any]]:
    """F1 per label (held-out labels and every label the candidate knows); worst change first.

    Labels without held-out examples have support 0 and no F1 (it is undefined).
    """
    labels = set(expected) | set(known)
    candidate_scores = label_scores(expected, candidate, labels)
    current_scores = label_scores(expected, current, labels) if current is not None else {}
    rows: List[Dict[str, Any]] = []
    for label in sorted(labels):
        support = candidate_scores[label].support
        candidate_f1 = round(candidate_scores[label].f1, 4) if support else None
        current_f1 = round(current_scores[label].f1, 4) if support and label in current_scores else None
        delta = (
            round(candidate_f1 - current_f1, 4) if candidate_f1 is not None and current_f1 is not None else None
        )
        rows.append({"intent": label, "support": support, "current_f1": current_f1,
                     "candidate_f1": candidate_f1, "delta": delta})

    def order(row: Dict[str, Any]) -> Tuple[int, float, float, str]:
        if row["delta"] is not None:
            return (0, row["delta"], row["candidate_f1"], row["intent"])
        if row["candidate_f1"] is not None:
            return (1, row["candidate_f1"], 0.0, row["intent"])
        return (2, 0.0, 0.0, row["intent"])

    return sorted(rows, key=order)


def _worse_confusions(
    examples: Sequence[Tuple[str, str]],
    candidate_parses: Sequence[Dict[str, Any]],
    current_parses: Sequence[Dict[str, Any]],
) -> List[Dict[str, Any]]:
    """(expected, predicted) pairs the candidate gets wrong more often than the current model."""
    pairs = [(text, [label]) for text, label in examples]
    candidate_errors = score(pairs, candidate_parses).errors
    current_counts = Counter((gold, got) for gold, got, _, _ in score(pairs, current_parses).errors)
    candidate_counts = Counter((gold, got) for gold, got, _, _ in candidate_errors)
    grown = [pair for pair, count in candidate_counts.items() if count > current_counts.get(pair, 0)]
    grown.sort(key=lambda pair: (current_counts.get(pair, 0) - candidate_counts[pair], -candidate_counts[pair], pair))
    return [
        {
            "expected": gold,
            "predicted": got,
            "current": current_counts.get((gold, got), 0),
            "candidate": candidate_counts[(gold, got)],
            "examples": [text for g, p, text, _ in candidate_errors if (g, p) == (gold, got)][
                :_EXAMPLES_PER_CONFUSION
            ],
        }
        for gold, got in grown[:MAX_CONFUSIONS]
    ]


# ---- stuck corpus ---------------------------------------------------------------------


def _load_agent(model: Path, action_endpoint_url: Optional[str]) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig(action_endpoint_url) if action_endpoint_url else None
    return Agent.load(str(model), action_endpoint=endpoint)


def _stuck_corpus(model: NluModel, corpus: Path, action_endpoint_url: Optional[str]) -> Dict[str, Any]:
    problem = _action_server_problem(action_endpoint_url)
    if problem is None and not corpus.is_file():
        problem = f"there is no stuck-detection corpus at {corpus}"
    if problem is not None:
        return {"passed": False, "error": problem}
    try:
        report = asyncio.run(play_corpus(model.agent, load_corpus(corpus)))
    except Exception as error:  # a broken model or action server must refuse, not crash the job
        logger.exception("Playing the stuck corpus failed.")
        return {"passed": False, "error": f"playing the conversations failed: {type(error).__name__}: {error}"}
    full = report.as_dict()
    return {key: full[key] for key in
            ("passed", "recall", "false_handoff_rate", "conversations", "missed", "false_handoffs")}


async def play_corpus(agent: Any, conversations: Sequence[Dict[str, Any]]) -> CorpusReport:
    """Play ``conversations`` against a loaded ``rasa.core.agent.Agent`` and score them."""

    async def send(sender: str, text: str) -> List[Dict[str, Any]]:
        # Rasa's CollectingOutputChannel: the REST channel's reply dicts.
        return list(await agent.handle_text(text, sender_id=sender) or [])

    return summarise([await play(send, conversation) for conversation in conversations])


def _action_server_problem(url: Optional[str]) -> Optional[str]:
    """Why the action server cannot be used, or None (the corpus's handoffs are custom actions)."""
    if not url:
        return "no action server is configured (ACTION_SERVER_URL), so the stuck corpus was not played"
    parsed = urlparse(url)
    if not parsed.hostname:
        return f"the action server address {url!r} is not a URL"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=3).close()
    except OSError as error:
        return f"the action server at {url} is not reachable ({error}), so the stuck corpus was not played"
    return None


# ---- verdict ----------------------------------------------------------------------------


def _verdict(
    heldout: int,
    candidate: Dict[str, Any],
    current: Optional[Dict[str, Any]],
    stuck_corpus: Dict[str, Any],
    max_accuracy_drop: float,
    regressions: Sequence[TopicChange] = (),
) -> Tuple[str, List[str]]:
    """The spec's verdict and the reasons for it (the reasons for "worse" only, when worse)."""
    stuck_problems = _corpus_problems(stuck_corpus)
    stuck_note = (
        [] if stuck_problems else [
            f"stuck-detection corpus passed (recall {stuck_corpus['recall']:.0%}, "
            f"false handoffs {stuck_corpus['false_handoff_rate']:.0%})"
        ]
    )
    if current is None:
        if stuck_problems:
            return "worse", stuck_problems
        return "first", [f"first model: accuracy {candidate['accuracy']:.1%} on {heldout} held-out questions",
                         *stuck_note]
    if heldout == 0:
        if stuck_problems:
            return "worse", stuck_problems
        return "same", ["no held-out questions (tests/nlu) to compare the models on", *stuck_note]

    accuracy_change = candidate["accuracy"] - current["accuracy"]
    f1_change = candidate["macro_f1"] - current["macro_f1"]
    accuracy_text = (f"accuracy {current['accuracy']:.1%} → {candidate['accuracy']:.1%} "
                     f"on {heldout} held-out questions")
    f1_text = f"macro-F1 {current['macro_f1']:.3f} → {candidate['macro_f1']:.3f}"
    worse: List[str] = []
    if accuracy_change < -max_accuracy_drop:
        worse.append(f"{accuracy_text}: a drop of more than {max_accuracy_drop * 100:.1f} points")
    if f1_change < -MAX_MACRO_F1_DROP:
        worse.append(f"{f1_text}: a drop of more than {MAX_MACRO_F1_DROP}")
    worse += [f"{change.describe()}: worse beyond the noise of its questions" for change in regressions]
    worse += stuck_problems
    if worse:
        return "worse", worse
    better = accuracy_change > max_accuracy_drop or f1_change > MAX_MACRO_F1_DROP
    return ("better" if better else "same"), [accuracy_text, f1_text, *stuck_note]


def _corpus_problems(stuck_corpus: Dict[str, Any]) -> List[str]:
    if stuck_corpus.get("passed"):
        return []
    if "error" in stuck_corpus:
        return [f"stuck-detection corpus not checked: {stuck_corpus['error']}"]
    problems: List[str] = []
    if stuck_corpus["recall"] < MIN_RECALL:
        problems.append(
            f"stuck-detection recall {stuck_corpus['recall']:.0%} is below {MIN_RECALL:.0%} "
            f"({len(stuck_corpus['missed'])} stuck conversations not handed over in time)"
        )
    if stuck_corpus["false_handoff_rate"] > MAX_FALSE_HANDOFF_RATE:
        problems.append(
            f"{stuck_corpus['false_handoff_rate']:.0%} of normal conversations were handed over "
            f"(at most {MAX_FALSE_HANDOFF_RATE:.0%} allowed)"
        )
    return problems or ["the stuck-detection corpus did not pass"]

