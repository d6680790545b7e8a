"""What content editors may ask, and the checks every request passes first.

One definition for both edges: the bridge's ``/ws/content`` checks a request
before it goes anywhere, and the worker checks each command it reads from
Redis again (the CLI writes commands directly). The meaning (does the intent
exist, is the text safe for Rasa's format) is checked where the data is, in
:mod:`teaching.worker.datafiles`.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Tuple

from teaching.errors import InvalidRequest

__all__ = ["BRAND_PLACEHOLDERS", "MAX_ITEMS", "REQUESTS", "WORKER_COMMANDS", "check"]

MAX_ITEMS = 500  # messages labelled in one request
MAX_TEXT = 1000  # characters of an answer, a name or a reason
MAX_ID = 100  # characters of an item or model id

# request type -> field -> (type, required)
REQUESTS: Dict[str, Dict[str, Tuple[type, bool]]] = {
    "label": {"item_ids": (list, True), "intent": (str, True)},
    "new_faq": {"item_ids": (list, True), "key": (str, True), "category": (str, True), "answer": (str, True)},
    "new_intent": {"item_ids": (list, True), "name": (str, True), "answer": (str, True)},
    "out_of_scope": {"item_ids": (list, True)},
    "skip": {"item_ids": (list, True)},
    "undo_label": {"label_id": (str, True)},
    "train": {"deploy": (bool, False)},
    "deploy": {"model_id": (str, True), "override": (bool, False), "reason": (str, False)},
    "model": {"model_id": (str, True)},
    "rollback": {},
    "audit": {},
}
# Those the teaching worker carries out (they write data/ or train).
WORKER_COMMANDS = ("label", "new_faq", "new_intent", "out_of_scope", "skip", "undo_label", "train")
# The only values an editor's answer may name: the brand's. Other slots hold what one customer
# said or the bot's internals (a handoff's evidence, a callback number) and must never reach
# every customer's answer.
BRAND_PLACEHOLDERS = ("bank_name", "help_url", "support_phone", "support_email")
_NAMED = re.compile(r"\{\s*([^{}]*?)\s*\}")


def check(kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """The request's fields, with strings stripped; InvalidRequest says what is wrong."""
    fields = REQUESTS.get(kind)
    if fields is None:
        raise InvalidRequest(f"unknown request {kind!r}")
    unknown = set(data) - set(fields)
    if unknown:
        raise InvalidRequest(f"unknown fields for {kind}: {sorted(unknown)}")
    checked: Dict[str, Any] = {}
    for name, (kind_of, required) in fields.items():
        if name not in data:
            if required:
                raise InvalidRequest(f"{kind} needs {name!r}")
            continue
        value = data[name]
        if not isinstance(value, kind_of):
            raise InvalidRequest(f"{kind} needs {name!r} as a {kind_of.__name__}")
        if isinstance(value, str):
            value = value.strip()
            limit = MAX_ID if name.endswith("_id") else MAX_TEXT
            if len(value) > limit or (required and not value):
                raise InvalidRequest(f"{name!r} must have {'1' if required else '0'} to {limit} characters")
        if isinstance(value, list) and not (
            0 < len(value) <= MAX_ITEMS and all(isinstance(i, str) and 0 < len(i) <= MAX_ID for i in value)
        ):
            raise InvalidRequest(f"{name!r} must list 1 to {MAX_ITEMS} item ids")
        if name == "answer":
            _only_brand_placeholders(value)
        checked[name] = value
    return checked


def _only_brand_placeholders(answer: str) -> None:
    for placeholder in _NAMED.findall(answer):
        if placeholder and placeholder not in BRAND_PLACEHOLDERS:
            allowed = ", ".join("{" + name + "}" for name in BRAND_PLACEHOLDERS)
            raise InvalidRequest(f"answers may only use the placeholders {allowed}; "
                                 f"{{{placeholder}}} is not one of them")
