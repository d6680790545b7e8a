"""Every error of the teaching loop, in one tree.

    TeachError                 base class; ``code`` is what clients see (handoff.exceptions has the same shape)
    ├── InvalidRequest         a field is missing, of the wrong type or too long
    ├── NotFound               no such inbox item, model or intent
    ├── DataError              a label cannot be written to the training data
    │   ├── InvalidText        a customer message that cannot become an example
    │   ├── UnknownIntent      no such intent to teach
    │   ├── Conflict           the message already teaches another intent
    │   ├── AlreadyExists      a new intent or answer's name is taken
    │   ├── InvalidName        a new intent or category name breaks the pattern
    │   └── InvalidAnswer      an answer Rasa could not say as written
    ├── Busy                   a training job is already running
    ├── WorkerUnavailable      no teaching worker is running to carry it out
    ├── TrainingError          the data do not validate or training failed
    └── Refused                the model is worse than the deployed one and no
                               override was given, or there is nothing to roll back to

The bridge turns each into a structured ``error`` reply; the CLI prints the
message and exits with status 1.
"""

from __future__ import annotations

from typing import Sequence

__all__ = [
    "AlreadyExists",
    "Busy",
    "Conflict",
    "DataError",
    "InvalidAnswer",
    "InvalidName",
    "InvalidRequest",
    "InvalidText",
    "NotFound",
    "Refused",
    "TeachError",
    "TrainingError",
    "UnknownIntent",
    "WorkerUnavailable",
]


class TeachError(Exception):
    """Base class; ``code`` is the machine-readable name sent to clients."""

    code = "teach_error"

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        if code:
            self.code = code


class InvalidRequest(TeachError):
    code = "invalid_request"


class NotFound(TeachError):
    code = "not_found"


class DataError(TeachError):
    code = "invalid_data"


class InvalidText(DataError):
    """A customer message that cannot become a training example."""

    code = "invalid_text"


class UnknownIntent(DataError):
    code = "unknown_intent"


class Conflict(DataError):
    """The message already teaches another intent; ``text`` and ``intent`` say which."""

    code = "conflict"

    def __init__(self, message: str, text: str = "", intent: str = "") -> None:
        super().__init__(message)
        self.text = text
        self.intent = intent


class AlreadyExists(DataError):
    code = "exists"


class InvalidName(DataError):
    code = "invalid_name"


class InvalidAnswer(DataError):
    code = "invalid_answer"


class Busy(TeachError):
    code = "busy"


class WorkerUnavailable(TeachError):
    code = "worker_unavailable"


class TrainingError(TeachError):
    """``problems`` lists what to fix in the data, one line each."""

    code = "training_failed"

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message + "".join(f"\n- {problem}" for problem in self.problems))
        self.message = message


class Refused(TeachError):
    code = "refused"
