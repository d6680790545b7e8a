"""Every error of the teaching loop, in one tree.

    TeachError                 base class; ``code`` is what clients see
    ├── InvalidRequest         a field is missing, of the wrong type or too long
    ├── NotFound               no such inbox item, model or intent
    ├── DataError              a label cannot be written to the training data
    │                          (teaching.worker.datafiles: invalid text, conflict, ...)
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
    "Busy",
    "DataError",
    "InvalidRequest",
    "NotFound",
    "Refused",
    "TeachError",
    "TrainingError",
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
