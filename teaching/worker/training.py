"""Train a model in-process, with progress, from a snapshot of the project.

The teach worker trains after content staff label examples. Starting
``rasa train`` as a subprocess would cost ~5 s of imports every time; training
in the worker's process keeps TensorFlow, the sentence encoder and its
embedding cache warm, so a retrain after one new example takes a few seconds.

* The project's ``data/``, ``domain.yml`` and ``config.yml`` are copied to a
  temporary directory first: labels written while the model trains belong to
  the next training, not half to this one.
* The data is validated as ``rasa data validate`` does (without
  ``--fail-on-warnings``); errors raise :class:`TrainingError` and train nothing.
* Training is Rasa's own graph training, ``rasa.model_training._train_graph``
  (the body of ``rasa.model_training.train``; reached through bot/rasa_compat.py),
  given the importer validation already loaded: ``train`` would read, merge and
  fingerprint every YAML file again (~1.5 s of a ~6 s retrain).
* The sentence encoder remembers embeddings by text (bot/nlu/sentence_encoder.py),
  so a retrain embeds only new examples (~0.2 s instead of ~4.5 s).
* Progress comes from Rasa's training hooks, which log each graph node that
  trains or is restored from Rasa's training cache (read by bot/rasa_compat.py);
  the number of such nodes in the training graph gives a real fraction.
* Rasa's training cache lives in ``<project>/.rasa/cache`` (where ``rasa train``
  run from the project keeps it) unless ``RASA_CACHE_DIRECTORY`` or the
  ``cache_dir`` argument says otherwise, so unchanged components (the dialogue
  policies, after a new NLU example) are restored instead of trained.
* Incremental training (``model_to_finetune``) is not used: in Rasa 3.6 only
  DIETClassifier, ResponseSelector and TEDPolicy can be fine-tuned, and this
  pipeline has none of them (docs/nlu-pipeline.md).

Calls are serialised by a lock (one training at a time per process); they are
meant to run in a worker thread (``asyncio.to_thread``), many times in one process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence, TextIO, Type, Union

from bot.rasa_compat import TRAINING_LOGGER, TrainingStepKind, train_graph, trains_and_logs, training_step
from teaching.errors import TrainingError

if TYPE_CHECKING:
    from rasa.shared.data import TrainingType
    from rasa.shared.importers.importer import TrainingDataImporter

__all__ = [
    "SNAPSHOT_ITEMS",
    "TrainedModel",
    "TrainingError",
    "quiet_structlog",
    "train_model",
    "validate_project",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

# What a model is trained from, relative to the project directory.
SNAPSHOT_ITEMS = ("data", "domain.yml", "config.yml")
# Source of the custom components: a change retrains, even with the same data.
_COMPONENT_PACKAGES = ("nlu", "stuck")
# Model archive name -> fingerprint of what it was trained from (in the output directory).
_FINGERPRINTS_FILE = ".teach-fingerprints.json"
_FEATURIZER_LOGGER = "bot.nlu.featurizers"

# Share of the progress bar before the first graph node finishes (copy + validation).
_PREPARED = 0.1
# Share reached when the last node finished; packaging the archive takes the rest.
_NODES_DONE = 0.95

_lock = threading.Lock()


@dataclass(frozen=True)
class TrainedModel:
    """The result of :func:`train_model`.

    ``nothing_changed``: data, domain, config and component code are identical
    to those of an earlier model still in the output directory; ``path`` is then
    that earlier model and nothing was trained. ``path`` is ``None`` only if no
    model was produced (not the case for a successful call today).
    """

    path: Optional[Path]
    nothing_changed: bool
    seconds: float


def train_model(
    project: Path,
    output: Path,
    progress: Optional[Progress] = None,
    *,
    force: bool = False,
    cache_dir: Optional[Path] = None,
    on_snapshot: Optional[Callable[[Path], None]] = None,
) -> TrainedModel:
    """Validate and train the project's model into ``output``; blocking (run it in a thread).

    ``progress(stage, fraction)`` is called from this thread with a human stage
    text and a non-decreasing fraction that ends at 1.0. ``force`` trains even
    when nothing changed. ``cache_dir`` overrides where Rasa's training cache is.
    ``on_snapshot(directory)`` is called with the copy the model is trained from
    (to record what it contains), before anything is trained.
    Raises :class:`TrainingError` for invalid data or a failed training.
    """
    quiet_structlog()
    report = _ProgressReporter(progress)
    with _lock:
        started = time.monotonic()
        project, output = Path(project), Path(output)
        report("Copying the training data", 0.0)
        with tempfile.TemporaryDirectory(prefix="teach-train-") as temporary:
            snapshot = _snapshot(project, Path(temporary))
            if on_snapshot is not None:
                on_snapshot(snapshot)
            fingerprint = _fingerprint(snapshot)
            previous = None if force else _model_with_fingerprint(output, fingerprint)
            if previous is not None:
                report("Nothing changed since this model", 1.0)
                return TrainedModel(previous, True, time.monotonic() - started)

            report("Validating the data", 0.0)
            importer = _importer(snapshot)
            problems = _validate(importer)
            if problems:
                raise TrainingError("The training data has errors, so nothing was trained:", problems)

            report("Preparing the training data", _PREPARED)
            model = _train(importer, snapshot, output, report, cache_dir, _default_cache_dir(project))
            _remember_fingerprint(output, model, fingerprint)
        seconds = time.monotonic() - started
        report("Trained", 1.0)
        logger.info("Trained %s in %.1f s.", model.name, seconds)
        return TrainedModel(model, False, seconds)


def validate_project(project: Path) -> List[str]:
    """The errors ``rasa data validate`` would report for ``project`` (empty: valid).

    Warnings that the command only prints (unused responses, duplicated
    examples, story conflicts) are logged here and do not count as errors.
    """
    return _validate(_importer(project))


def _importer(project: Path) -> "TrainingDataImporter":
    from rasa.shared.importers.importer import TrainingDataImporter

    domain, config, data = _paths(project)
    return TrainingDataImporter.load_from_config(config, domain, [data])


def _validate(importer: "TrainingDataImporter") -> List[str]:
    """Validate as ``rasa data validate`` does; the importer keeps what it loaded for training."""
    from rasa.model_training import get_unresolved_slots
    from rasa.validator import Validator

    problems: List[str] = []
    with _ThreadWarnings() as loading:
        try:
            validator = Validator.from_importer(importer)
        except Exception as error:  # unreadable YAML, bad domain, ...
            return [f"{type(error).__name__}: {error}"]
    benign = list(loading.messages)

    if validator.domain.is_empty():
        return ["The domain (domain.yml) is empty or missing."]

    checks: List[Callable[[], bool]] = [
        validator.verify_domain_validity,
        validator.verify_actions_in_stories_rules,
        validator.verify_forms_in_stories_rules,
        validator.verify_form_slots,
        validator.verify_slot_mappings,
        lambda: validator.verify_nlu(ignore_warnings=True),
        lambda: validator.verify_story_structure(ignore_warnings=True),
    ]
    for check in checks:
        with _ThreadWarnings() as caught:
            passed = check()
        if passed:
            benign += caught.messages
        else:
            problems.extend(caught.messages or [f"{getattr(check, '__name__', 'a check')} failed"])

    unresolved = get_unresolved_slots(validator.domain, validator.story_graph)
    if unresolved:
        problems.append(
            "Stories or rules set slots that the domain does not list: " + ", ".join(sorted(unresolved))
        )
    if validator.story_graph.is_empty() and validator.intents.contains_no_pure_nlu_data():
        problems.append("There is no training data: no NLU examples, stories or rules.")
    _log_warnings(benign)
    return list(dict.fromkeys(problems))


# ---- training ---------------------------------------------------------------


def _train(
    importer: "TrainingDataImporter",
    snapshot: Path,
    output: Path,
    report: "_ProgressReporter",
    cache_dir: Optional[Path],
    default_cache_dir: Path,
) -> Path:
    """``rasa.model_training.train`` on the importer that validation already loaded.

    ``train`` itself takes file paths and loads (and merges, and fingerprints)
    every YAML file again: ~1.5 s of a ~6 s retrain. This is its body, minus
    telemetry, for the one importer; the graph training is Rasa's own.
    """
    from rasa.shared.data import TrainingType

    stories, nlu_data = importer.get_stories(), importer.get_nlu_data()
    training_type = TrainingType.BOTH
    if nlu_data.has_e2e_examples():
        training_type = TrainingType.END_TO_END
    elif stories.is_empty():
        training_type = TrainingType.NLU
    elif nlu_data.contains_no_pure_nlu_data():
        training_type = TrainingType.CORE
    total = _training_node_count(snapshot, training_type)
    output.mkdir(parents=True, exist_ok=True)
    try:
        with _cache_directory(cache_dir, default_cache_dir), _ProgressFromLogs(report, total):
            result = train_graph(importer, training_type, str(output))
    except SystemExit as error:  # rasa.shared.utils.cli.print_error_and_exit
        raise TrainingError(f"Rasa stopped the training (exit status {error.code}); see the log.") from error
    except Exception as error:
        raise TrainingError(f"Training failed: {type(error).__name__}: {error}") from error
    if result.code != 0 or not result.model:
        raise TrainingError(f"Training failed (Rasa's result code {result.code}); see the log.")
    return Path(result.model)


def _training_node_count(snapshot: Path, training_type: "TrainingType") -> int:
    """How many nodes of the training graph train (or are restored) and so log progress."""
    import rasa.shared.utils.io
    from rasa.engine.recipes.recipe import Recipe

    _, config_path, _ = _paths(snapshot)
    try:
        config = rasa.shared.utils.io.read_model_configuration(config_path)
        recipe = Recipe.recipe_for_name(config.get("recipe"))
        config, _, _ = recipe.auto_configure(config_path, config, training_type)
        schema = recipe.graph_config_for_recipe(config, {}, training_type=training_type).train_schema
    except Exception:  # training itself will report a broken config
        logger.debug("Could not count the training graph's nodes.", exc_info=True)
        return 1
    return max(1, sum(1 for node in schema.nodes.values() if trains_and_logs(node)))


class _ProgressReporter:
    """Calls the caller's progress function with non-decreasing fractions; never raises."""

    def __init__(self, callback: Optional[Progress]) -> None:
        self._callback = callback
        self._fraction = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        self._fraction = min(1.0, max(self._fraction, fraction))
        if self._callback is None:
            return
        try:
            self._callback(stage, self._fraction)
        except Exception:
            logger.exception("The training progress callback failed.")


class _ProgressFromLogs(logging.Handler):
    """Turns Rasa's "Starting to train / Finished training / Restored" lines into progress.

    While installed, the hooks logger is set to INFO (so Rasa emits the lines)
    and stops propagating; records are passed on to the parent loggers only at
    the level the application had configured, so the log stays as it was.
    """

    def __init__(self, report: _ProgressReporter, total: int) -> None:
        super().__init__(logging.NOTSET)
        self._report = report
        self._total = total
        self._done = 0
        self._thread = threading.get_ident()
        self._saved: Dict[str, Any] = {}

    def __enter__(self) -> "_ProgressFromLogs":
        for name in (TRAINING_LOGGER, _FEATURIZER_LOGGER):
            target = logging.getLogger(name)
            self._saved[name] = (target.level, target.propagate, target.getEffectiveLevel())
            target.setLevel(min(target.getEffectiveLevel(), logging.INFO))
            target.propagate = False
            target.addHandler(self)
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        for name, (level, propagate, _) in self._saved.items():
            target = logging.getLogger(name)
            target.removeHandler(self)
            target.setLevel(level)
            target.propagate = propagate
        self.close()

    def emit(self, record: logging.LogRecord) -> None:
        saved = self._saved.get(record.name)
        if saved is not None and saved[1] and record.levelno >= saved[2]:
            parent = logging.getLogger(record.name).parent
            if parent is not None:
                parent.handle(record)  # what propagation would have done
        if record.thread != self._thread or record.levelno != logging.INFO:
            return
        message = record.getMessage()
        if record.name == _FEATURIZER_LOGGER:
            if message.startswith("Embedding"):
                self._report(message, self._fraction())
            return
        step = training_step(message)
        if step is None:
            return
        if step.kind is TrainingStepKind.STARTED:
            self._report(f"Training {step.component} ({self._done + 1} of {self._total})", self._fraction())
        else:
            self._done += 1
            verb = "Restored" if step.kind is TrainingStepKind.RESTORED else "Trained"
            stage = "Packaging the model" if self._done >= self._total else f"{verb} {step.component}"
            self._report(stage, self._fraction())

    def _fraction(self) -> float:
        share = min(1.0, self._done / self._total)
        return _PREPARED + (_NODES_DONE - _PREPARED) * share


@contextlib.contextmanager
def _cache_directory(chosen: Optional[Path], default: Path) -> Iterator[None]:
    """Point Rasa's training cache at ``chosen``, else RASA_CACHE_DIRECTORY, else ``default``.

    Rasa reads the variable when a training creates its cache; the lock
    around training makes the temporary change safe within this process.
    """
    from rasa.engine.caching import CACHE_LOCATION_ENV

    before = os.environ.get(CACHE_LOCATION_ENV)
    directory = chosen or (Path(before) if before else default)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[CACHE_LOCATION_ENV] = str(directory)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CACHE_LOCATION_ENV, None)
        else:
            os.environ[CACHE_LOCATION_ENV] = before


def _default_cache_dir(project: Path) -> Path:
    from rasa.engine.caching import DEFAULT_CACHE_LOCATION

    return project / DEFAULT_CACHE_LOCATION


# ---- snapshot and fingerprints ------------------------------------------------


def _paths(project: Path) -> "tuple[str, str, str]":
    return str(project / "domain.yml"), str(project / "config.yml"), str(project / "data")


def _snapshot(project: Path, directory: Path) -> Path:
    """Copy what training reads into ``directory`` (the project may change meanwhile)."""
    snapshot = directory / "project"
    snapshot.mkdir()
    for name in SNAPSHOT_ITEMS:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, snapshot / name)
        elif source.is_file():
            shutil.copy2(source, snapshot / name)
        else:
            raise TrainingError(f"The project has no {name} ({source}).")
    return snapshot


def _fingerprint(snapshot: Path) -> str:
    """A hash of the snapshot's files, the Rasa version and the components' source."""
    import rasa

    import bot

    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    sources = [(path.relative_to(snapshot).as_posix(), path) for path in sorted(snapshot.rglob("*"))]
    package = Path(bot.__file__).parent
    for name in _COMPONENT_PACKAGES:
        sources += [(f"bot/{path.relative_to(package / name).as_posix()}", path)
                    for path in sorted((package / name).rglob("*.py"))]
    for name, path in sources:
        if path.is_file():
            content = path.read_bytes()
            digest.update(f"{name}\n{len(content)}\n".encode())
            digest.update(content)
    return digest.hexdigest()


def _read_fingerprints(output: Path) -> Dict[str, str]:
    try:
        data = json.loads((output / _FINGERPRINTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(name): str(value) for name, value in data.items()} if isinstance(data, dict) else {}


def _model_with_fingerprint(output: Path, fingerprint: str) -> Optional[Path]:
    """The newest model in ``output`` trained from exactly this snapshot, if any."""
    matches = [
        output / name
        for name, value in _read_fingerprints(output).items()
        if value == fingerprint and (output / name).is_file()
    ]
    return max(matches, key=lambda path: path.stat().st_mtime) if matches else None


def _remember_fingerprint(output: Path, model: Path, fingerprint: str) -> None:
    known = {
        name: value for name, value in _read_fingerprints(output).items() if (output / name).is_file()
    }
    known[model.name] = fingerprint
    temporary = output / f"{_FINGERPRINTS_FILE}.tmp"
    temporary.write_text(json.dumps(known, indent=1, sort_keys=True))
    temporary.replace(output / _FINGERPRINTS_FILE)


def quiet_structlog() -> None:
    """Drop Rasa's structlog debug events unless the process configured structlog itself.

    Rasa 3.6 logs every prediction through structlog, whose default set-up
    prints everything (thousands of lines per training or corpus run) to stdout;
    ``rasa run`` configures it, a worker process importing Rasa does not.
    """
    import structlog

    if not structlog.is_configured():
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


# ---- warnings -----------------------------------------------------------------


class _ThreadWarnings:
    """Collects the warnings this thread raises (Rasa's validator reports through them).

    Unlike ``warnings.catch_warnings(record=True)`` alone, warnings of other
    threads meanwhile are shown as usual rather than swallowed, and repeated
    validations see every warning again (filter "always").
    """

    def __init__(self) -> None:
        self.messages: List[str] = []
        self._thread = threading.get_ident()
        self._context = warnings.catch_warnings()

    def __enter__(self) -> "_ThreadWarnings":
        self._context.__enter__()
        warnings.simplefilter("always", UserWarning)
        original = warnings.showwarning

        def show(
            message: Union[Warning, str],
            category: Type[Warning],
            filename: str,
            lineno: int,
            file: Optional[TextIO] = None,
            line: Optional[str] = None,
        ) -> None:
            if threading.get_ident() == self._thread and issubclass(category, UserWarning):
                self.messages.append(str(message).strip())
            else:
                original(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self._context.__exit__(kind, error, traceback)


def _log_warnings(messages: Sequence[str]) -> None:
    """One log entry for the warnings ``rasa data validate`` would print (each once)."""
    unique = list(dict.fromkeys(messages))
    if unique:
        logger.warning("The training data has %d warning(s):%s", len(unique),
                       "".join(f"\n- {message}" for message in unique))
