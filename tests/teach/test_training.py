"""Training in-process with progress, validation, and the candidate-vs-deployed evaluation.

Real trainings on copies of the project (two models in all: a harmless
candidate and one taught wrong on purpose), compared with the repository's
current model on the held-out questions and the stuck-detection corpus.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from harness.servers import ROOT, copy_project
from teaching.worker.evaluation import _per_intent, _verdict, compare
from teaching.worker.training import TrainedModel, TrainingError, train_model

HARMLESS_EXAMPLE = "my replacement card still hasn't come in the post"
# Held-out card questions, taught as greetings: the candidate must be caught out.
WRONG_EXAMPLES = 10


def add_examples(project: Path, intent: str, examples: List[str]) -> None:
    """Adds examples at the top of ``intent`` in data/nlu/core.yml (where greet lives)."""
    path = project / "data" / "nlu" / "core.yml"
    text = path.read_text()
    anchor = f"- intent: {intent}\n  examples: |\n"
    assert anchor in text
    lines = "".join(f"    - {example}\n" for example in examples)
    path.write_text(text.replace(anchor, anchor + lines, 1))


def heldout_card_questions(count: int) -> List[Tuple[str, str]]:
    data = yaml.safe_load((ROOT / "tests" / "nlu" / "unseen_faq_cards.yml").read_text())
    pairs = [
        (line[2:].strip(), block["intent"])
        for block in data["nlu"]
        for line in block["examples"].splitlines()
        if line.startswith("- ")
    ]
    return pairs[:count]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """Rasa's training cache for this module's trainings (the first one is cold)."""
    return tmp_path_factory.mktemp("rasa-cache")


@pytest.fixture(scope="module")
def harmless(tmp_path_factory, cache_dir) -> Tuple[Path, TrainedModel, List[Tuple[str, float]]]:
    """The project plus one sensible example: its model and the progress reported."""
    project = copy_project(tmp_path_factory.mktemp("harmless"))
    faq = project / "data" / "nlu" / "faq_cards.yml"
    faq.write_text(faq.read_text().replace(
        "- intent: faq/card_arrival\n  examples: |\n",
        f"- intent: faq/card_arrival\n  examples: |\n    - {HARMLESS_EXAMPLE}\n", 1))
    progress: List[Tuple[str, float]] = []
    trained = train_model(project, project / "models", lambda stage, fraction: progress.append((stage, fraction)),
                          cache_dir=cache_dir)
    return project, trained, progress


@pytest.fixture(scope="module")
def wrong(tmp_path_factory, cache_dir, harmless) -> Tuple[Path, TrainedModel, List[Tuple[str, str]]]:
    """The project with held-out card questions labelled as greetings."""
    project = copy_project(tmp_path_factory.mktemp("wrong"))
    questions = heldout_card_questions(WRONG_EXAMPLES)
    add_examples(project, "greet", [text for text, _ in questions])
    return project, train_model(project, project / "models", None, cache_dir=cache_dir), questions


@pytest.fixture(scope="module")
def harmless_report(harmless, model_path, action_server_url) -> Dict[str, Any]:
    project, trained, _ = harmless
    assert trained.path is not None
    return compare(trained.path, model_path, project, action_server_url)


def test_training_reports_progress_up_to_one(harmless):
    _, trained, progress = harmless
    fractions = [fraction for _, fraction in progress]
    stages = [stage for stage, _ in progress]

    assert trained.path is not None and trained.path.is_file() and trained.path.name.endswith(".tar.gz")
    assert not trained.nothing_changed and trained.seconds > 0
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[-2] < 1.0
    assert "Validating the data" in stages
    assert any(stage.startswith("Embedding ") for stage in stages)
    assert any(stage.startswith("Training TopicClassifier") for stage in stages)
    assert any(stage.startswith(("Trained ", "Restored ")) for stage in stages)
    # Every trained or restored node moved the bar: five nodes, five distinct steps before packaging.
    assert len({fraction for fraction in fractions if 0.1 < fraction < 1.0}) >= 5


def test_training_leaves_logging_as_it_was(harmless):
    hooks = logging.getLogger("rasa.engine.training.hooks")

    assert hooks.handlers == [] and hooks.propagate and hooks.level == logging.NOTSET


def test_training_again_without_changes_reuses_the_model(harmless, cache_dir):
    project, trained, _ = harmless
    stages: List[str] = []

    again = train_model(project, project / "models", lambda stage, _: stages.append(stage), cache_dir=cache_dir)

    assert again.nothing_changed and again.path == trained.path and again.seconds < 1
    assert sorted(p.name for p in (project / "models").glob("*.tar.gz")) == [trained.path.name]


def test_invalid_data_is_refused_before_training(tmp_path, cache_dir):
    project = copy_project(tmp_path / "project")
    rules = project / "data" / "rules" / "core.yml"
    rules.write_text(rules.read_text() + (
        "\n- rule: Uses an action that does not exist\n"
        "  steps:\n  - intent: greet\n  - action: action_that_does_not_exist\n"))
    progress: List[Tuple[str, float]] = []

    with pytest.raises(TrainingError) as raised:
        train_model(project, project / "models", lambda stage, fraction: progress.append((stage, fraction)),
                    cache_dir=cache_dir)

    assert "action_that_does_not_exist" in str(raised.value)
    assert any("action_that_does_not_exist" in problem for problem in raised.value.problems)
    assert not list((project / "models").glob("*.tar.gz"))
    assert max(fraction for _, fraction in progress) < 0.1


def test_a_harmless_change_is_not_worse_and_passes_the_stuck_corpus(harmless_report):
    report = harmless_report

    assert report["verdict"] in ("same", "better"), report["reasons"]
    assert report["heldout"] >= 400
    assert report["current"]["model_id"] and 0.85 <= report["current"]["accuracy"] <= 1
    assert abs(report["candidate"]["accuracy"] - report["current"]["accuracy"]) <= 0.005
    corpus = report["stuck_corpus"]
    assert corpus["passed"] and corpus["recall"] >= 0.95 and corpus["false_handoff_rate"] <= 0.05
    assert corpus["conversations"] >= 50 and isinstance(corpus["missed"], list)
    assert set(report["timings"]) >= {"parse_heldout", "stuck_corpus", "total"}
    # One more example changes a few answers at most: no topic regresses.
    assert report["regressions"] == []
    assert len(report["per_topic"]) >= 25 + 10
    assert sum(row["newly_wrong"] + row["newly_right"] for row in report["per_topic"]) <= 5


def test_the_report_lists_every_label_with_its_support(harmless_report):
    rows = {row["intent"]: row for row in harmless_report["per_intent"]}
    deltas = [row["delta"] for row in harmless_report["per_intent"] if row["delta"] is not None]

    assert rows["faq/card_arrival"]["support"] > 0 and rows["greet"]["support"] > 0
    assert len(rows) >= 25 + 10
    assert all(set(row) == {"intent", "support", "current_f1", "candidate_f1", "delta"} for row in rows.values())
    assert deltas == sorted(deltas)


def test_labels_without_heldout_examples_have_support_zero_and_no_f1():
    expected = ["greet", "greet", "faq/fees", "faq/fees"]
    candidate = ["greet", "faq/fees", "faq/fees", "nlu_fallback"]
    current = ["greet", "greet", "faq/fees", "faq/fees"]

    rows = _per_intent(expected, candidate, current, ["greet", "faq/fees", "ask_branch_hours"])

    assert [row["intent"] for row in rows] == ["faq/fees", "greet", "ask_branch_hours"]  # worst change first
    assert rows[0] == {"intent": "faq/fees", "support": 2, "current_f1": 1.0, "candidate_f1": 0.5, "delta": -0.5}
    assert rows[1] == {"intent": "greet", "support": 2, "current_f1": 1.0, "candidate_f1": 0.6667, "delta": -0.3333}
    assert rows[2] == {"intent": "ask_branch_hours", "support": 0, "current_f1": None, "candidate_f1": None,
                       "delta": None}


def test_a_candidate_taught_wrong_labels_is_worse_with_its_confusions(wrong, model_path, action_server_url):
    project, trained, questions = wrong
    assert trained.path is not None

    report = compare(trained.path, model_path, project, action_server_url)

    assert report["verdict"] == "worse"
    assert any(reason.startswith("accuracy") for reason in report["reasons"]), report["reasons"]
    assert report["candidate"]["accuracy"] < report["current"]["accuracy"] - 0.005
    confusions = {(c["expected"], c["predicted"]): c for c in report["worse_confusions"]}
    taught = {label for _, label in questions}
    grown = [confusions[(label, "greet")] for label in taught if (label, "greet") in confusions]
    assert grown and sum(c["candidate"] - c["current"] for c in grown) >= WRONG_EXAMPLES // 2
    assert report["per_intent"][0]["delta"] < 0
    assert report["stuck_corpus"]["passed"]
    # The topics the wrong labels came from regressed, and are named among the reasons.
    regressed = {row["topic"] for row in report["regressions"]}
    assert regressed and regressed <= taught, report["regressions"]
    assert any(reason.startswith(f"{sorted(regressed)[0]}: ") for reason in report["reasons"])


def test_without_a_reachable_action_server_the_candidate_is_refused(harmless):
    project, trained, _ = harmless
    assert trained.path is not None

    report = compare(trained.path, None, project, "http://127.0.0.1:9/webhook")

    assert report["verdict"] == "worse"
    assert report["stuck_corpus"]["passed"] is False and "not reachable" in report["stuck_corpus"]["error"]
    assert report["current"] is None and report["worse_confusions"] == []
    assert any("stuck-detection corpus" in reason for reason in report["reasons"])


PASSED = {"passed": True, "recall": 1.0, "false_handoff_rate": 0.0, "conversations": 80,
          "missed": [], "false_handoffs": []}


@pytest.mark.parametrize(
    "candidate, current, corpus, verdict",
    [
        ({"accuracy": 0.90, "macro_f1": 0.90}, None, PASSED, "first"),
        ({"accuracy": 0.90, "macro_f1": 0.90}, None, {"passed": False, "error": "down"}, "worse"),
        ({"accuracy": 0.896, "macro_f1": 0.895}, {"accuracy": 0.90, "macro_f1": 0.90}, PASSED, "same"),
        ({"accuracy": 0.894, "macro_f1": 0.90}, {"accuracy": 0.90, "macro_f1": 0.90}, PASSED, "worse"),
        ({"accuracy": 0.90, "macro_f1": 0.889}, {"accuracy": 0.90, "macro_f1": 0.90}, PASSED, "worse"),
        ({"accuracy": 0.91, "macro_f1": 0.90}, {"accuracy": 0.90, "macro_f1": 0.90}, PASSED, "better"),
        ({"accuracy": 0.91, "macro_f1": 0.91}, {"accuracy": 0.90, "macro_f1": 0.90},
         {**PASSED, "passed": False, "recall": 0.9, "missed": [{"name": "x"}]}, "worse"),
        ({"accuracy": 0.91, "macro_f1": 0.91}, {"accuracy": 0.90, "macro_f1": 0.90},
         {**PASSED, "passed": False, "false_handoff_rate": 0.1}, "worse"),
    ],
)
def test_verdict_rules(candidate, current, corpus, verdict):
    result, reasons = _verdict(422, candidate, current, corpus, 0.005)

    assert result == verdict and reasons


def test_the_encoder_embeds_each_text_once_and_forgets_the_oldest():
    """Retraining is fast because known examples are not embedded again (bounded memory)."""
    from bot.nlu.sentence_encoder import SentenceEncoder, default_model_dir

    encoder = SentenceEncoder(default_model_dir(), cache_size=3)
    texts = ["my card has not arrived", "how do I top up", "my card has not arrived"]
    calls: List[List[str]] = []
    encode_all = encoder._encode_all

    def counting(batch, batch_size):
        calls.append(list(batch))
        return encode_all(batch, batch_size)

    encoder._encode_all = counting  # type: ignore[method-assign]
    first = encoder.encode(texts)
    again = encoder.encode(["how do I top up", "hello there", "my card has not arrived"])
    encoder.encode(["one more", "and another"])

    assert calls == [["my card has not arrived", "how do I top up"], ["hello there"], ["one more", "and another"]]
    assert (first[0] == first[2]).all() and (again[0] == first[1]).all() and (again[2] == first[0]).all()
    assert len(encoder._cache) == 3 and "how do I top up" not in encoder._cache
    encoder.clear_cache()
    fresh = encoder.encode(texts[:2])
    assert abs(fresh - first[:2]).max() < 1e-5
