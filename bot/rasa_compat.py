"""The one place this project reaches into Rasa's private API; written for Rasa 3.6.21.

Rasa's public API lacks a few things the bot and the teach worker need: training
from training data already loaded and validated, the components of a loaded model,
parsing many messages in one graph run, decoding stored events without a class
lookup per event, reading a REST request as Rasa's own channel does, and knowing
how far a training has got. Each private symbol is reached by exactly one function
below; :data:`PRIVATE_SYMBOLS` says what this code relies on about each (parameter
names, texts in its source such as the attributes it sets and the lines it logs).
:func:`check` verifies them all against the installed Rasa and raises
:class:`RasaCompatibilityError` naming every symbol that changed;
tests/test_rasa_compat.py runs it, so a Rasa upgrade fails there, loudly, rather
than deep inside a training or a conversation.

Two entries are protected state that Rasa's base classes hand to our subclasses
(``Policy._resource`` in bot/stuck/policy.py, ``Featurizer._config`` in
bot/nlu/featurizers.py): those subclasses read them, this module only checks them.

Upgrading Rasa: run tests/test_rasa_compat.py; for each symbol it names, read the
new version's code, adapt the one function here and its entry, then PINNED_RASA.
The bridge (handoff/) and the teaching contract (teaching/*.py) never import this.
"""

from __future__ import annotations

import enum
import importlib
import inspect
from dataclasses import dataclass, replace
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Text, Tuple, Type

if TYPE_CHECKING:
    from rasa.core.channels.channel import UserMessage
    from rasa.core.channels.rest import RestInput
    from rasa.engine.graph import SchemaNode
    from rasa.model_training import TrainingResult
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.data import TrainingType
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.shared.nlu.training_data.message import Message
    from sanic.request import Request

__all__ = [
    "PINNED_RASA",
    "PRIVATE_SYMBOLS",
    "PrivateSymbol",
    "RasaCompatibilityError",
    "TRAINING_LOGGER",
    "TrainingStep",
    "TrainingStepKind",
    "check",
    "event_from_parameters",
    "graph_components",
    "parse_in_one_run",
    "rest_input_channel",
    "rest_message",
    "rest_sender",
    "train_graph",
    "trains_and_logs",
    "training_step",
]

PINNED_RASA = "3.6.21"


class RasaCompatibilityError(RuntimeError):
    """The installed Rasa lacks, or changed, a private symbol this project relies on."""

    def __init__(self, problems: Sequence[str]) -> None:
        try:
            installed = version("rasa")
        except Exception:  # noqa: BLE001 - the message matters more than the version
            installed = "unknown"
        super().__init__(
            f"Rasa's private API is not as bot/rasa_compat.py expects (written for Rasa {PINNED_RASA}, "
            f"installed {installed}):" + "".join(f"\n- {problem}" for problem in problems)
        )
        self.problems = list(problems)


@dataclass(frozen=True)
class PrivateSymbol:
    """A private part of Rasa and what this module relies on about it.

    ``attribute`` is a dotted path in ``module`` (empty: the module itself);
    ``parameters`` must appear in its signature in this order (others may come
    between); ``mentions`` are texts its source must contain; ``is_async``: it
    must be a coroutine function (checked only where ``parameters`` are given).
    ``set_by``: an instance attribute, which the owner's method of this name sets.
    """

    module: str
    attribute: str = ""
    parameters: Tuple[str, ...] = ()
    mentions: Tuple[str, ...] = ()
    is_async: bool = False
    set_by: str = ""

    @property
    def name(self) -> str:
        return f"{self.module}.{self.attribute}" if self.attribute else self.module


TRAIN_GRAPH = PrivateSymbol(
    "rasa.model_training", "_train_graph",
    parameters=("file_importer", "training_type", "output_path", "fixed_model_name", "kwargs"),
)
RUNNER_NODES = PrivateSymbol("rasa.engine.runner.dask", "DaskGraphRunner._instantiated_nodes", set_by="__init__")
NODE_COMPONENT = PrivateSymbol("rasa.engine.graph", "GraphNode._component", set_by="__init__")
RUNNER_RUN = PrivateSymbol("rasa.engine.runner.interface", "GraphRunner.run",
                           parameters=("self", "inputs", "targets"))
MESSAGE_INPUT = PrivateSymbol("rasa.engine.constants", "PLACEHOLDER_MESSAGE")
TRACKER_INPUT = PrivateSymbol("rasa.engine.constants", "PLACEHOLDER_TRACKER")
EVENT_FROM_PARAMETERS = PrivateSymbol("rasa.shared.core.events", "Event._from_parameters",
                                      parameters=("parameters",))
REST_SENDER = PrivateSymbol("rasa.core.channels.rest", "RestInput._extract_sender",
                            parameters=("self", "req"), is_async=True)
REST_MESSAGE = PrivateSymbol("rasa.core.channels.rest", "RestInput._extract_message", parameters=("self", "req"))
REST_INPUT_CHANNEL = PrivateSymbol("rasa.core.channels.rest", "RestInput._extract_input_channel",
                                   parameters=("self", "req"))
TRAINING_LOG = PrivateSymbol("rasa.engine.training.hooks", mentions=("logger = logging.getLogger(__name__)",))
NODE_TRAINS = PrivateSymbol("rasa.engine.training.hooks", "LoggingHook._does_node_train", parameters=("node",))
STARTED_LINE = PrivateSymbol("rasa.engine.training.hooks", "LoggingHook.on_before_node",
                             mentions=("Starting to train component '",))
FINISHED_LINES = PrivateSymbol("rasa.engine.training.hooks", "LoggingHook.on_after_node",
                               mentions=("Restored component '", "Finished training component '"))
POLICY_RESOURCE = PrivateSymbol("rasa.core.policies.policy", "Policy._resource", set_by="__init__")
FEATURIZER_CONFIG = PrivateSymbol("rasa.nlu.featurizers.featurizer", "Featurizer._config", set_by="__init__")

PRIVATE_SYMBOLS: Tuple[PrivateSymbol, ...] = (
    TRAIN_GRAPH, RUNNER_NODES, NODE_COMPONENT, RUNNER_RUN, MESSAGE_INPUT, TRACKER_INPUT,
    EVENT_FROM_PARAMETERS, REST_SENDER, REST_MESSAGE, REST_INPUT_CHANNEL,
    TRAINING_LOG, NODE_TRAINS, STARTED_LINE, FINISHED_LINES, POLICY_RESOURCE, FEATURIZER_CONFIG,
)


def check(symbols: Iterable[PrivateSymbol] = PRIVATE_SYMBOLS) -> None:
    """Raise :class:`RasaCompatibilityError` naming every symbol not as expected.

    Imports the Rasa modules concerned (training pulls in TensorFlow: seconds).
    """
    problems = [problem for symbol in symbols for problem in _problems(symbol)]
    if problems:
        raise RasaCompatibilityError(problems)


def _problems(symbol: PrivateSymbol) -> List[str]:
    if symbol.set_by:
        owner, _, attribute = symbol.attribute.rpartition(".")
        setter = replace(symbol, attribute=f"{owner}.{symbol.set_by}", set_by="",
                         mentions=symbol.mentions + (f"self.{attribute}",))
        return [f"{symbol.name} (an attribute): {problem}" for problem in _problems(setter)]
    try:
        found = _resolve(symbol)
    except RasaCompatibilityError as error:
        return error.problems
    problems: List[str] = []
    if symbol.parameters:
        try:
            names = list(inspect.signature(found).parameters)
        except (TypeError, ValueError):
            names = []
        if [name for name in names if name in symbol.parameters] != list(symbol.parameters):
            problems.append(f"{symbol.name}: expected the parameters ({', '.join(symbol.parameters)}), "
                            f"found ({', '.join(names)})")
        if inspect.iscoroutinefunction(found) != symbol.is_async:
            problems.append(f"{symbol.name}: expected {'a coroutine' if symbol.is_async else 'a plain'} function")
    if symbol.mentions:
        try:
            source = inspect.getsource(found)
        except (OSError, TypeError):
            source = ""
        problems += [f"{symbol.name}: its source no longer contains {text!r}"
                     for text in symbol.mentions if text not in source]
    return problems


def _resolve(symbol: PrivateSymbol) -> Any:
    """The module or attribute ``symbol`` names; RasaCompatibilityError if there is none."""
    try:
        found: Any = importlib.import_module(symbol.module)
    except ImportError as error:
        raise RasaCompatibilityError([f"{symbol.name}: the module cannot be imported ({error})"]) from error
    for part in filter(None, symbol.attribute.split(".")):
        if not hasattr(found, part):
            raise RasaCompatibilityError([f"{symbol.name}: missing"])
        found = getattr(found, part)
    return found


def _attribute(owner: Any, name: str, symbol: PrivateSymbol) -> Any:
    """``owner.<name>``, or RasaCompatibilityError naming ``symbol`` (found missing at run time)."""
    if not hasattr(owner, name):
        raise RasaCompatibilityError([f"{symbol.name}: missing on {type(owner).__name__}"])
    return getattr(owner, name)


# ---- training (teaching/worker/training.py) ---------------------------------------


def train_graph(
    importer: "TrainingDataImporter", training_type: "TrainingType", output_path: str
) -> "TrainingResult":
    """``rasa.model_training._train_graph`` (Rasa 3.6.21): the body of ``train`` after loading.

    The public ``train`` takes file paths and reads, merges and fingerprints every
    YAML file again (~1.5 s of a ~6 s retrain); the worker has the importer its
    validation loaded. Same arguments as ``train`` passes, without fine-tuning.
    """
    return _resolve(TRAIN_GRAPH)(
        importer,
        training_type=training_type,
        output_path=output_path,
        fixed_model_name=None,
        persist_nlu_training_data=False,
        finetuning_epoch_fraction=1.0,
    )


# Rasa's training hooks log through the logger of their module (Rasa 3.6.21).
TRAINING_LOGGER = TRAINING_LOG.module


class TrainingStepKind(enum.Enum):
    STARTED = "started"
    TRAINED = "trained"
    RESTORED = "restored"


class TrainingStep(NamedTuple):
    kind: TrainingStepKind
    component: str


def training_step(message: str) -> Optional[TrainingStep]:
    """What a line of Rasa's training hooks (logger :data:`TRAINING_LOGGER`, INFO) says, if anything.

    Rasa 3.6.21 reports training progress only as log text ("Starting to train
    component 'X'.", "Finished training component 'X'.", "Restored component 'X'
    from cache."); ``rasa.model_training._train_graph`` takes no hooks of ours.
    """
    component = message.split("'")[1] if message.count("'") >= 2 else "a component"
    if message.startswith("Starting to train component"):
        return TrainingStep(TrainingStepKind.STARTED, component)
    if message.startswith("Finished training component"):
        return TrainingStep(TrainingStepKind.TRAINED, component)
    if message.startswith("Restored component"):
        return TrainingStep(TrainingStepKind.RESTORED, component)
    return None


def trains_and_logs(node: "SchemaNode") -> bool:
    """Whether a node of the training graph logs a :func:`training_step` when it finishes.

    ``LoggingHook._does_node_train`` (Rasa 3.6.21) is the rule the hooks apply;
    counting these nodes turns the steps into a fraction.
    """
    return bool(_resolve(NODE_TRAINS)(node))


# ---- a loaded model (bot/evaluation.py) ------------------------------------------------


def graph_components(graph_runner: Any) -> List[Any]:
    """The components of a loaded model's prediction graph (``agent.processor.graph_runner``).

    Rasa 3.6.21 keeps them in ``DaskGraphRunner._instantiated_nodes`` (each a
    ``GraphNode`` holding ``_component``); nothing public lists them, and the
    evaluation reads the labels the intent classifier can predict from its component.
    """
    nodes = _attribute(graph_runner, "_instantiated_nodes", RUNNER_NODES)
    return [_attribute(node, "_component", NODE_COMPONENT) for node in nodes.values()]


def parse_in_one_run(
    graph_runner: Any, nlu_target: Text, messages: Sequence["UserMessage"], tracker: "DialogueStateTracker"
) -> List["Message"]:
    """Parse many messages in one run of the prediction graph, as ``MessageProcessor`` parses one.

    The graph's inputs are named by Rasa's placeholders (Rasa 3.6.21); one run
    lets the sentence encoder embed the messages as one batch.
    """
    inputs = {_resolve(MESSAGE_INPUT): list(messages), _resolve(TRACKER_INPUT): tracker}
    results: Dict[Text, Any] = _attribute(graph_runner, "run", RUNNER_RUN)(inputs=inputs, targets=[nlu_target])
    return list(results[nlu_target])


# ---- the tracker store (bot/tracker_store.py) --------------------------------------------


def event_from_parameters(event_class: Type["Event"], parameters: Dict[Text, Any]) -> Optional["Event"]:
    """``event_class._from_parameters`` (Rasa 3.6.21): what ``Event.from_parameters`` does
    after finding the class, which the store has already found in its own table.

    ``Event.from_parameters`` walks every Event subclass for each event it reads.
    """
    return _attribute(event_class, "_from_parameters", EVENT_FROM_PARAMETERS)(parameters)


# ---- the REST channel (bot/channels.py) ------------------------------------------------------


async def rest_sender(channel: "RestInput", request: "Request") -> Optional[Text]:
    """``RestInput._extract_sender`` (Rasa 3.6.21): the sender as Rasa's REST channel reads it.

    RetrySafeRestInput replaces the channel's webhook and must read a request as
    Rasa's does (and as any subclass overriding these methods does); the three
    readers are protected methods of RestInput with no public equivalent.
    """
    sender: Optional[Text] = await _attribute(channel, "_extract_sender", REST_SENDER)(request)
    return sender


def rest_message(channel: "RestInput", request: "Request") -> Optional[Text]:
    """``RestInput._extract_message`` (Rasa 3.6.21): the text; see :func:`rest_sender`."""
    message: Optional[Text] = _attribute(channel, "_extract_message", REST_MESSAGE)(request)
    return message


def rest_input_channel(channel: "RestInput", request: "Request") -> Text:
    """``RestInput._extract_input_channel`` (Rasa 3.6.21): the input channel's name; see :func:`rest_sender`."""
    name: Text = _attribute(channel, "_extract_input_channel", REST_INPUT_CHANNEL)(request)
    return name
