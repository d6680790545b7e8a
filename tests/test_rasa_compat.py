"""bot/rasa_compat.py: the installed Rasa still has every private symbol the project uses, as used;
a symbol that changed fails loudly, by name; and nothing else in the project reaches into them."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace
from typing import List, Set

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.graph import SchemaNode
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_compat
from bot.nlu.classifier import TopicClassifier
from bot.rasa_compat import (
    FEATURIZER_CONFIG, PINNED_RASA, POLICY_RESOURCE, PRIVATE_SYMBOLS, PrivateSymbol, RasaCompatibilityError,
    TrainingStep, TrainingStepKind, check, event_from_parameters, graph_components, parse_in_one_run, rest_message,
    trains_and_logs, training_step,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = __name__


class StandIn:
    """What a future Rasa might look like: renamed parameters, a sync reader, other attributes and log text."""

    def __init__(self) -> None:
        self._nodes = {}

    def _extract_message(self, request):  # was (self, req)
        return request

    def _extract_sender(self, req):  # was a coroutine function
        return req

    def on_after_node(self) -> str:
        return "Component trained."


def problems_of(symbol: PrivateSymbol) -> str:
    with pytest.raises(RasaCompatibilityError) as raised:
        check([symbol])
    message = str(raised.value)
    assert symbol.name in message and PINNED_RASA in message, message
    return message


def test_the_installed_rasa_has_every_private_symbol_as_this_project_uses_it():
    check()  # raises RasaCompatibilityError, naming each symbol that changed


def test_the_pinned_rasa_is_the_version_the_compatibility_module_was_written_for():
    """Bumping the pin means reading each private symbol's new code, then PINNED_RASA."""
    pins = re.findall(r"^rasa==(\S+)$", (ROOT / "requirements" / "base.txt").read_text(), re.MULTILINE)
    assert pins == [PINNED_RASA]


def test_a_missing_symbol_is_named():
    assert "missing" in problems_of(PrivateSymbol(HERE, "StandIn._extract_input_channel"))


def test_a_missing_module_is_named():
    assert "cannot be imported" in problems_of(PrivateSymbol("rasa.no_such_module", "_train_graph"))


def test_renamed_parameters_are_named_with_what_was_found():
    message = problems_of(PrivateSymbol(HERE, "StandIn._extract_message", parameters=("self", "req")))
    assert "expected the parameters (self, req), found (self, request)" in message


def test_a_reader_that_is_no_longer_a_coroutine_function_is_named():
    assert "coroutine" in problems_of(PrivateSymbol(HERE, "StandIn._extract_sender", parameters=("self", "req"),
                                                    is_async=True))


def test_an_attribute_no_longer_set_is_named():
    message = problems_of(PrivateSymbol(HERE, "StandIn._instantiated_nodes", set_by="__init__"))
    assert "self._instantiated_nodes" in message


def test_a_log_line_no_longer_logged_is_named():
    message = problems_of(PrivateSymbol(HERE, "StandIn.on_after_node", mentions=("Finished training component '",)))
    assert "Finished training component" in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(RasaCompatibilityError) as raised:
        check([PrivateSymbol(HERE, "StandIn._a"), PrivateSymbol(HERE, "StandIn._b")])
    assert len(raised.value.problems) == 2


def test_a_symbol_missing_at_run_time_is_named_too():
    with pytest.raises(RasaCompatibilityError, match=r"DaskGraphRunner\._instantiated_nodes"):
        graph_components(StandIn())
    with pytest.raises(RasaCompatibilityError, match=r"RestInput\._extract_message"):
        rest_message(SimpleNamespace(), None)
    with pytest.raises(RasaCompatibilityError, match=r"Event\._from_parameters"):
        event_from_parameters(StandIn, {})


def test_stored_events_are_read_as_rasa_reads_them():
    event = SlotSet("reason", "repeated", timestamp=1.0)
    assert event_from_parameters(SlotSet, event.as_dict()) == event


def test_a_loaded_models_components_are_listed_and_parse_many_messages_in_one_run(model_path):
    processor = Agent.load(str(model_path)).processor
    components = graph_components(processor.graph_runner)
    assert any(isinstance(component, TopicClassifier) and component.labels for component in components)
    texts = ["hello", "my card has not arrived yet"]
    target = processor.model_metadata.nlu_target
    parsed = parse_in_one_run(processor.graph_runner, target, [UserMessage(text) for text in texts],
                              DialogueStateTracker("compat", slots=[]))
    assert [message.get("text") for message in parsed] == texts
    assert all(message.get("intent", {}).get("name") for message in parsed)


def test_the_training_hooks_lines_become_steps():
    assert training_step("Starting to train component 'TopicClassifier'.") == TrainingStep(
        TrainingStepKind.STARTED, "TopicClassifier")
    assert training_step("Finished training component 'TfidfFeaturizer'.") == TrainingStep(
        TrainingStepKind.TRAINED, "TfidfFeaturizer")
    assert training_step("Restored component 'StuckDetectionPolicy' from cache.") == TrainingStep(
        TrainingStepKind.RESTORED, "StuckDetectionPolicy")
    assert training_step("Caching 'Resource' with fingerprint_key: 'abc'.") is None


def test_nodes_that_train_are_those_the_hooks_report():
    trains = SchemaNode(needs={}, uses=StandIn, constructor_name="create", fn="train", config={}, is_target=True)
    provides = SchemaNode(needs={}, uses=StandIn, constructor_name="create", fn="provide", config={},
                          is_target=True, is_input=True)
    assert trains_and_logs(trains) and not trains_and_logs(provides)


def reaching(path: Path, names: Set[str], texts: Set[str]) -> List[str]:
    """Where the code of a file names one of ``names`` (attribute, import, string) or holds one of
    ``texts`` in a string; docstrings and comments do not count."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            hit = node.attr in names
        elif isinstance(node, ast.alias):
            hit = node.name.split(".")[-1] in names
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            hit = node.value in names or any(text in node.value for text in texts)
        else:
            continue
        if hit:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_nothing_but_the_compatibility_module_reaches_a_private_symbol():
    """The protected state our subclasses inherit (``_resource``, ``_config``) is only checked there."""
    reached = [symbol for symbol in PRIVATE_SYMBOLS if symbol not in (POLICY_RESOURCE, FEATURIZER_CONFIG)]
    names = {symbol.attribute.split(".")[-1] for symbol in reached if symbol.attribute}
    names -= {"__init__", "on_before_node", "on_after_node", "run"}
    assert {"_train_graph", "_from_parameters", "_extract_sender", "_instantiated_nodes", "_component",
            "PLACEHOLDER_MESSAGE"} <= names
    texts = {"Starting to train component", "Finished training component", "Restored component",
             rasa_compat.TRAINING_LOGGER}
    compat = ROOT / "bot" / "rasa_compat.py"
    paths = [path for package in ("bot", "teaching", "actions", "bench", "scripts", "handoff")
             for path in sorted((ROOT / package).rglob("*.py")) if path != compat]
    assert [place for path in paths for place in reaching(path, names, texts)] == []
    assert reaching(compat, names, texts), "the check itself finds what it looks for"
