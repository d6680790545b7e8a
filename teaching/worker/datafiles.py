"""The catalogue of intents and FAQ topics, and writing labels into the training data.

Content staff label real customer messages; their labels become lines in
``data/nlu/*.yml``, ``data/responses/*.yml``, ``data/rules/taught.yml`` and
``domain.yml``. Those files are also read and edited by people, so every change
here is a text edit: the new lines are inserted where a person would put them,
in the file's own style, and every other byte (comments, blank lines, order,
quoting) stays as it was. YAML is never re-dumped.

Each change is checked with Rasa's own readers after it is written (the new
examples must read back under the right intent, the answers under the right
response, and nothing else may change or start to warn); if anything is off
the files get their previous contents back and a :class:`DataError` says why,
in words a non-programmer understands.

The functions take the project directory (with ``data/`` and ``domain.yml``)
and do no locking: the one teaching worker calls them one at a time.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from teaching.errors import AlreadyExists, Conflict, DataError, InvalidAnswer, InvalidName, InvalidText, UnknownIntent

__all__ = [
    "AddResult",
    "MAX_ANSWER_LENGTH",
    "MAX_EXAMPLE_LENGTH",
    "NAME_PATTERN",
    "add_examples",
    "catalog",
    "contents",
    "create_faq",
    "create_intent",
    "normalise_answer",
    "normalise_example",
]

MAX_EXAMPLE_LENGTH = 300
MAX_ANSWER_LENGTH = 1000
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
RETRIEVAL_INTENT = "faq"
TAUGHT_NLU = "data/nlu/taught.yml"
TAUGHT_RULES = "data/rules/taught.yml"
DOMAIN = "domain.yml"
TRAINING_DATA_VERSION = '"3.1"'

# Rasa's response interpolation (rasa.core.nlg.interpolator): every {name}
# without a newline or braces inside is a slot placeholder, filled with str.format.
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")
# What rasa.shared.nlu.training_data.entities_parser.ENTITY_REGEX needs to see an
# annotation: a "]" immediately followed by "(", "{" or "[".
_ANNOTATION_JOIN = re.compile(r"\]([(\[{])")
_LINE_BREAKS = re.compile(r"\r\n|[\r\x85\u2028\u2029]")
_NONCHARACTERS = {"\ufffe", "\uffff"}


@dataclass
class AddResult:
    """What a labelling call did: the examples written, those that were there already.

    Texts are as stored (normalised); ``files`` are the changed files, relative
    to the project directory.
    """

    added: List[str] = field(default_factory=list)
    already_there: List[str] = field(default_factory=list)
    files: List[str] = field(default_factory=list)


# ---- texts -------------------------------------------------------------------------


def _quote(text: str, limit: int = 60) -> str:
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit - 1]}…"'


def _has_forbidden_characters(text: str, allowed: str = "") -> bool:
    return any(
        (unicodedata.category(char) in ("Cc", "Cs") and char not in allowed) or char in _NONCHARACTERS
        for char in text
    )


def normalise_example(text: str) -> str:
    """The training example a customer message becomes, or :class:`InvalidText`.

    Whitespace of any kind (newlines, tabs, Unicode line separators) collapses
    to single spaces, so one message is always one line of the ``examples: |``
    block. Control characters are refused: YAML cannot hold most of them.

    Entity markup is **made safe, not refused**: Rasa's reader
    (``entities_parser.ENTITY_REGEX``) reads ``[text](entity)``,
    ``[text]{"entity": ...}`` and ``[text][{...}]`` as annotations and would
    drop the brackets and invent an entity, so a space goes between a "]" and a
    following "(", "{" or "[" (``[x](y)`` is stored as ``[x] (y)``), which the
    regex never matches. Likewise every backslash becomes "/": when a file is
    pure ASCII, Rasa's ``read_yaml`` decodes ``\\uXXXX`` escapes in the raw
    text, so ``C:\\users`` would break the whole file. Both keep the words the
    classifier learns from; content staff cannot edit a customer's message,
    so refusing it would only lose it. The result is idempotent.
    """
    if not isinstance(text, str):
        raise InvalidText("The message must be text.")
    collapsed = " ".join(text.replace("\ufeff", " ").split())
    if not collapsed:
        raise InvalidText("The message is empty.")
    if _has_forbidden_characters(collapsed):
        raise InvalidText(
            f"The message {_quote(collapsed)} contains invisible control characters, "
            "which the training files cannot hold."
        )
    safe = _ANNOTATION_JOIN.sub(r"] \1", collapsed.replace("\\", "/"))
    if len(safe) > MAX_EXAMPLE_LENGTH:
        raise InvalidText(
            f"The message {_quote(safe)} is {len(safe)} characters long; "
            f"a training example can have at most {MAX_EXAMPLE_LENGTH}."
        )
    return safe


def _key(text: str) -> str:
    """What two examples must share to count as the same: case and spacing ignored."""
    return " ".join(text.split()).casefold()


def normalise_answer(text: str, slots: Iterable[str]) -> str:
    """The answer as stored, or :class:`InvalidAnswer`.

    Line breaks are kept (as "\\n"); placeholders like ``{bank_name}`` must
    name a slot in ``slots``, and no other curly brackets are allowed, because
    Rasa fills answers with ``str.format`` and a stray bracket would break it.
    """
    if not isinstance(text, str):
        raise InvalidAnswer("The answer must be text.")
    answer = _LINE_BREAKS.sub("\n", text.replace("\ufeff", "")).strip()
    if not answer:
        raise InvalidAnswer("The answer is empty.")
    if len(answer) > MAX_ANSWER_LENGTH:
        raise InvalidAnswer(f"The answer is {len(answer)} characters long; at most {MAX_ANSWER_LENGTH} are allowed.")
    if _has_forbidden_characters(answer, allowed="\n\t"):
        raise InvalidAnswer("The answer contains invisible control characters; please retype it.")
    known = sorted(set(slots))
    for name in _PLACEHOLDER.findall(answer):
        if name not in known:
            raise InvalidAnswer(
                f"The answer uses {{{name}}}, but the bot has no such value. "
                f"You can use: {', '.join('{' + slot + '}' for slot in known)}."
            )
    if "{" in _PLACEHOLDER.sub("", answer) or "}" in _PLACEHOLDER.sub("", answer):
        raise InvalidAnswer(
            "Curly brackets { } can only be used around a placeholder such as {bank_name}; "
            "please remove the others."
        )
    return answer


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar for any text: JSON's escapes are YAML's too.

    Non-ASCII characters are written as themselves (YAML would read "\\ud83d"
    escapes of an emoji as two broken halves); the line-break characters YAML
    would fold are never in a normalised answer.
    """
    return json.dumps(text, ensure_ascii=False)


def _valid_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidName(
            f"{_quote(str(name))} cannot be used as {what}: use 2 to 40 lowercase letters, digits "
            "and underscores, starting with a letter (for example card_fees)."
        )
    return name


def _examples(texts: Sequence[str]) -> List[str]:
    if isinstance(texts, str) or not texts:
        raise InvalidText("Give at least one customer message.")
    return [normalise_example(text) for text in texts]


# ---- reading the project -------------------------------------------------------------


def _read_yaml(text: str, rel: str) -> Any:
    import rasa.shared.utils.io

    try:
        return rasa.shared.utils.io.read_yaml(text)
    except Exception as error:  # noqa: BLE001 - ruamel's and Rasa's errors alike
        raise DataError(f"{rel} cannot be read, so nothing was saved. A developer needs to fix it first "
                        f"({_reason(error)}).") from error


def _files(root: Path, folder: str) -> List[str]:
    """The YAML files under ``folder`` as relative paths, in sorted order."""
    base = root / folder
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()]
    return sorted(p.relative_to(root).as_posix() for p in found)


def _read_text(root: Path, rel: str) -> Optional[str]:
    path = root / rel
    return path.read_bytes().decode("utf-8") if path.exists() else None


def _nlu_examples(content: Any) -> List[Tuple[str, str]]:
    """(intent as written, example text) pairs, exactly as RasaYAMLReader reads them."""
    from rasa.shared.nlu.training_data.entities_parser import replace_entities

    pairs: List[Tuple[str, str]] = []
    items = content.get("nlu") if isinstance(content, dict) else None
    for item in items or []:
        if not isinstance(item, dict) or not item.get("intent"):
            continue
        intent, examples = str(item["intent"]), item.get("examples", "")
        if isinstance(examples, str):
            texts = [line[1:].strip("\n\r ") for line in examples.splitlines() if line.startswith("-")]
        elif isinstance(examples, list):
            texts = [str(e.get("text", "")).strip("\n\r ") for e in examples if isinstance(e, dict)]
        else:
            texts = []
        pairs.extend((intent, replace_entities(text)) for text in texts)
    return pairs


def _response_text(variations: Any) -> Optional[str]:
    if isinstance(variations, list):
        for variation in variations:
            if isinstance(variation, dict) and isinstance(variation.get("text"), str):
                return str(variation["text"])
    return None


@dataclass
class _Project:
    """Everything the checks need, read once per call (plain YAML, no schema checks)."""

    intents: List[str]  # domain.yml's intents, in order
    slots: List[str]
    actions: Set[str]
    domain_responses: Dict[str, Any]
    file_responses: Dict[str, Any]  # data/responses/*.yml, merged
    examples: Dict[str, List[Tuple[str, str]]]  # data/nlu file → (intent, text) pairs
    blocks: Dict[str, List[str]]  # intent as written → data/nlu files with a block, sorted

    @classmethod
    def read(cls, root: Path) -> "_Project":
        text = _read_text(root, DOMAIN)
        if text is None:
            raise DataError(f"There is no {DOMAIN} in {root}.")
        domain = _read_yaml(text, DOMAIN)
        if not isinstance(domain, dict):
            raise DataError(f"{DOMAIN} is not a valid domain file.")
        intents = [next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or []]
        file_responses: Dict[str, Any] = {}
        for rel in _files(root, "data/responses"):
            content = _read_yaml(_read_text(root, rel) or "", rel)
            if isinstance(content, dict) and isinstance(content.get("responses"), dict):
                for name, value in content["responses"].items():
                    file_responses.setdefault(str(name), value)
        examples: Dict[str, List[Tuple[str, str]]] = {}
        blocks: Dict[str, List[str]] = {}
        for rel in _files(root, "data/nlu"):
            content = _read_yaml(_read_text(root, rel) or "", rel)
            examples[rel] = _nlu_examples(content)
            for item in (content.get("nlu") if isinstance(content, dict) else None) or []:
                if isinstance(item, dict) and item.get("intent"):
                    blocks.setdefault(str(item["intent"]), []).append(rel)
        return cls(
            intents=intents,
            slots=[str(s) for s in (domain.get("slots") or {})],
            actions={str(a) if not isinstance(a, dict) else next(iter(a)) for a in domain.get("actions") or []},
            domain_responses={str(k): v for k, v in (domain.get("responses") or {}).items()},
            file_responses=file_responses,
            examples=examples,
            blocks=blocks,
        )

    def response(self, name: str) -> Optional[str]:
        for responses in (self.domain_responses, self.file_responses):
            if name in responses:
                return _response_text(responses[name])
        return None

    def has_response(self, name: str) -> bool:
        return name in self.domain_responses or name in self.file_responses

    def retrieval_intents(self) -> Set[str]:
        """Intents answered per key (``faq/<key>``, small talk's ``chitchat/<key>``): labelled with a key, never alone."""
        return {name.split("/", 1)[0] for name in self.blocks if "/" in name}

    def owners(self) -> Dict[str, List[str]]:
        """Each example (by :func:`_key`) → the intents that have it, in file order."""
        owners: Dict[str, List[str]] = {}
        for rel in sorted(self.examples):
            for intent, text in self.examples[rel]:
                intents = owners.setdefault(_key(text), [])
                if intent not in intents:
                    intents.append(intent)
        return owners


def catalog(root: Path) -> Dict[str, Any]:
    """The intents and FAQ topics content staff can label with (the ``{p}:catalog`` value).

    Every intent of domain.yml with its number of examples and its answer
    (``utter_<intent>``, if there is one), except the retrieval intents: ``faq``
    is listed as its topics ``faq/<key>`` with the answer ``utter_faq/<key>``,
    small talk as its keys ``chitchat/<key>`` (kind ``intent``: content staff add
    examples to them, not new ones); ``categories`` are the X of ``data/nlu/faq_X.yml``.
    """
    project = _Project.read(root)
    counts: Counter[str] = Counter(intent for pairs in project.examples.values() for intent, _ in pairs)
    retrieval = project.retrieval_intents() | {RETRIEVAL_INTENT}
    entries: List[Dict[str, Any]] = []
    for intent in dict.fromkeys(project.intents):
        if intent in retrieval:
            continue
        entries.append({"name": intent, "examples": counts[intent], "answer": project.response(f"utter_{intent}"),
                        "kind": "intent"})
    for name in sorted(name for name in project.blocks if "/" in name):
        entries.append({"name": name, "examples": counts[name], "answer": project.response(f"utter_{name}"),
                        "kind": "faq" if name.startswith(RETRIEVAL_INTENT + "/") else "intent"})
    categories = sorted(
        Path(rel).stem[len("faq_"):] for rel in _files(root, "data/nlu")
        if Path(rel).parent.as_posix() == "data/nlu" and Path(rel).stem.startswith("faq_")
    )
    return {"intents": sorted(entries, key=lambda entry: entry["name"]), "categories": categories}


def contents(root: Path) -> Dict[str, Any]:
    """What a model is taught: ``examples`` (intent → example texts) and ``responses``
    (name → first text), to list what changed between two models."""
    project = _Project.read(root)
    examples: Dict[str, List[str]] = {}
    for rel in sorted(project.examples):
        for intent, text in project.examples[rel]:
            examples.setdefault(intent, []).append(text)
    names = sorted(set(project.domain_responses) | set(project.file_responses))
    return {"examples": examples, "responses": {name: project.response(name) or "" for name in names}}


# ---- editing text ------------------------------------------------------------------------


class _Lines:
    """A file's lines without their endings, to insert into and join back byte for byte."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")  # a final newline leaves a last ""
        self.cr = "\r\n" in text  # CRLF files get CRLF lines

    def plain(self, index: int) -> str:
        line = self.lines[index]
        return line[:-1] if self.cr and line.endswith("\r") else line

    def insert(self, after: int, new: Sequence[str]) -> None:
        """Put ``new`` lines after line ``after`` (-1: at the very start)."""
        if after == len(self.lines) - 1 and self.lines[after] != "":
            # the file does not end with a newline: the last line needs one first
            self.lines[after] += "\r" if self.cr else ""
            self.lines.append("")
        ending = "\r" if self.cr else ""
        self.lines[after + 1:after + 1] = [line + ending for line in new]

    def text(self) -> str:
        return "\n".join(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_top_comment(line: str) -> bool:
    return line.startswith("#")


@dataclass
class _Section:
    """A top-level key's block: its line, the lines up to the next key, the last content line."""

    start: int
    end: int  # exclusive
    last: int  # last non-blank line that is not a top-level comment (start if none)


def _section(lines: _Lines, key: str, rel: str) -> _Section:
    header = re.compile(rf"^{re.escape(key)}:\s*(#.*)?$")
    for start in range(len(lines)):
        if header.match(lines.plain(start)):
            break
    else:
        raise DataError(f"{rel} has no '{key}:' section that can be added to.")
    end, last = len(lines), start
    for index in range(start + 1, len(lines)):
        line = lines.plain(index)
        if _is_blank(line) or _is_top_comment(line):
            continue
        if not line.startswith((" ", "-")):
            end = index
            break
        last = index
    return _Section(start, end, last)


def _items(lines: _Lines, section: _Section, pattern: "re.Pattern[str]") -> List[int]:
    return [i for i in range(section.start + 1, section.end) if pattern.match(lines.plain(i))]


def _separated(lines: _Lines, items: List[int]) -> Optional[bool]:
    """Whether the file puts a blank line between its items (None: cannot tell)."""
    if len(items) < 2:
        return None
    return any(_is_blank(lines.plain(i - 1)) for i in items[1:])


def _append_item(lines: _Lines, section: _Section, item_indent: int, separated: bool, block: List[str]) -> None:
    pad = " " * item_indent
    new = ([""] if separated and section.last > section.start else []) + [pad + line for line in block]
    lines.insert(section.last, new)


_INTENT_ITEM = re.compile(r"^(?P<indent> *)- +intent: *(?P<name>[^#]*?) *(#.*)?$")


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def _insert_examples(text: str, rel: str, intent: str, examples: Sequence[str]) -> str:
    """The file with ``examples`` appended to the end of ``intent``'s ``examples: |`` block."""
    lines = _Lines(text)
    found = [
        (index, len(match.group("indent")))
        for index, match in ((i, _INTENT_ITEM.match(lines.plain(i))) for i in range(len(lines)))
        if match and _unquote(match.group("name")) == intent
    ]
    if not found:
        raise DataError(f"Could not find the examples of {intent} in {rel}.")
    start, item_indent = found[0]
    key_pattern = re.compile(rf"^ {{{item_indent + 2}}}examples: *\|[-+]? *(#.*)?$")
    examples_line = None
    for index in range(start + 1, len(lines)):
        line = lines.plain(index)
        if not _is_blank(line) and _indent(line) <= item_indent:
            break
        if key_pattern.match(line):
            examples_line = index
            break
    if examples_line is None:
        raise DataError(
            f"The examples of {intent} in {rel} are not written as a simple list ('examples: |'), "
            "so they cannot be added to automatically."
        )
    last, content_indent = examples_line, item_indent + 4
    for index in range(examples_line + 1, len(lines)):
        line = lines.plain(index)
        if _is_blank(line):
            continue
        if _indent(line) <= item_indent + 2:
            break
        if last == examples_line:
            content_indent = _indent(line)
        last = index
    lines.insert(last, [" " * content_indent + _example_line(example) for example in examples])
    return lines.text()


def _example_line(example: str) -> str:
    return f"- {example}"


def _header(comment: str, key: str) -> List[str]:
    return [f"version: {TRAINING_DATA_VERSION}", f"# {comment}", f"{key}:"]


def _intent_block(intent: str, examples: Sequence[str]) -> List[str]:
    return [f"- intent: {intent}", "  examples: |"] + [f"    {_example_line(e)}" for e in examples]


def _append_intent_block(text: Optional[str], rel: str, comment: str, intent: str, examples: Sequence[str]) -> str:
    """A new ``- intent:`` block at the end of the file's ``nlu:`` list (the file is created if needed)."""
    return _append_list_item(text, rel, comment, "nlu", re.compile(r"^ *- "), _INTENT_ITEM,
                             _intent_block(intent, examples))


def _append_list_item(text: Optional[str], rel: str, comment: str, key: str, item: "re.Pattern[str]",
                      spaced_item: "re.Pattern[str]", block: List[str]) -> str:
    """``block`` as the last item of the file's ``key:`` list, indented like the items there (``item``)
    and separated by a blank line when the items matching ``spaced_item`` are; the file is created if needed."""
    if text is None:
        return "\n".join(_header(comment, key) + block) + "\n"
    lines = _Lines(text)
    section = _section(lines, key, rel)
    items = _items(lines, section, item)
    indent = _indent(lines.plain(items[0])) if items else 0
    separated = _separated(lines, _items(lines, section, spaced_item))
    _append_item(lines, section, indent, True if separated is None else separated, block)
    return lines.text()


_KEY_LINE = re.compile(r"^(?P<indent> +)[^\s#-][^:]*: *(#.*)?$")
_LIST_LINE = re.compile(r"^(?P<indent> *)- ")


def _append_response(text: Optional[str], rel: str, comment: str, name: str, answer: str,
                     default_list_indent: int) -> str:
    """``name: - text: "answer"`` at the end of the ``responses:`` section (the file is created if needed).

    The response's indentation and the blank lines between responses follow
    the responses already in the file.
    """
    def block(key_indent: int, list_indent: int) -> List[str]:
        return [" " * key_indent + f"{name}:", " " * list_indent + f"- text: {_yaml_string(answer)}"]

    if text is None:
        return "\n".join(_header(comment, "responses") + block(2, default_list_indent)) + "\n"
    lines = _Lines(text)
    section = _section(lines, "responses", rel)
    content = [i for i in range(section.start + 1, section.end)
               if not _is_blank(lines.plain(i)) and not _is_top_comment(lines.plain(i))]
    outermost = min((_indent(lines.plain(i)) for i in content), default=0)
    keys = [i for i in content if _indent(lines.plain(i)) == outermost and _KEY_LINE.match(lines.plain(i))]
    key_indent, list_indent = 2, default_list_indent
    if keys:
        key_indent = _indent(lines.plain(keys[0]))
        following = lines.plain(keys[0] + 1) if keys[0] + 1 < section.end else ""
        list_match = _LIST_LINE.match(following)
        list_indent = len(list_match.group("indent")) if list_match else key_indent + 2
    separated = _separated(lines, keys)
    new = block(key_indent, list_indent)
    lines.insert(section.last, ([""] if separated and section.last > section.start else []) + new)
    return lines.text()


def _append_domain_intent(text: str, name: str) -> str:
    lines = _Lines(text)
    section = _section(lines, "intents", DOMAIN)
    items = _items(lines, section, _LIST_LINE)
    indent = _indent(lines.plain(items[0])) if items else 2
    lines.insert(section.last, [" " * indent + f"- {name}"])
    return lines.text()


def _append_rule(text: Optional[str], rel: str, comment: str, name: str) -> str:
    rule_or_story = re.compile(r"^ *- +(rule|story):")
    return _append_list_item(text, rel, comment, "rules", rule_or_story, rule_or_story,
                             [f"- rule: answer {name}", "  steps:", f"  - intent: {name}", f"  - action: utter_{name}"])


# ---- checking with Rasa's readers and writing -------------------------------------------


@dataclass
class _Expected:
    """What the change must add or remove, and nothing else, as Rasa reads it."""

    examples: Dict[str, List[Tuple[str, str]]] = field(default_factory=dict)  # nlu file → (intent, text)
    responses: Dict[str, Dict[str, str]] = field(default_factory=dict)  # responses file → name → text
    domain_intent: Optional[str] = None
    domain_response: Optional[Tuple[str, str]] = None
    rule: Optional[str] = None  # the intent a new rule in data/rules answers
    removed_examples: Dict[str, List[Tuple[str, str]]] = field(default_factory=dict)
    removed_responses: Dict[str, List[str]] = field(default_factory=dict)
    removed_domain_intent: Optional[str] = None
    removed_domain_response: Optional[str] = None
    removed_rule: Optional[str] = None


class _Mismatch(Exception):
    """A changed file did not read back as the change meant it to (always raised, unlike ``assert``)."""


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise _Mismatch(problem)


def _kind(rel: str) -> str:
    if rel == DOMAIN:
        return "domain"
    for kind in ("nlu", "responses", "rules"):
        if rel.startswith(f"data/{kind}/"):
            return kind
    raise ValueError(rel)


def _recorded(read: Callable[[], Any], names: Sequence[str]) -> Tuple[Any, Set[str]]:
    """Rasa's result and the warnings it gave about the file (digits dropped: line numbers move).

    Only warnings that name the file count: the worker may be training in
    another thread meanwhile, and ``catch_warnings`` would collect its warnings too.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read()
    messages = {
        re.sub(r"\d+", "#", str(w.message)) for w in caught
        if issubclass(w.category, UserWarning) and any(name in str(w.message) for name in names)
    }
    return result, messages


def _read_with_rasa(root: Path, rel: str, text: Optional[str], domain_text: Optional[str]) -> Tuple[Any, Set[str]]:
    """Parses ``text`` (or, when None, the file on disk) with the reader Rasa uses for it."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    path = root / rel
    names = [str(path), os.path.abspath(path), rel]
    kind = _kind(rel)
    if kind == "domain":
        if text is None:
            return _recorded(lambda: Domain.from_path(path), names)
        return _recorded(lambda: Domain.from_yaml(text or "", os.path.abspath(path)), names)
    if kind in ("nlu", "responses"):
        reader = RasaYAMLReader()
        if text is None:
            return _recorded(lambda: reader.read(path), names)
        reader.filename = str(path)
        return _recorded(lambda: reader.reads(text or ""), names)
    domain = Domain.from_path(root / DOMAIN) if domain_text is None else Domain.from_yaml(domain_text)
    story_reader = YAMLStoryReader(domain, str(path))
    if text is None:
        return _recorded(lambda: story_reader.read_from_file(path), names)
    return _recorded(lambda: story_reader.read_from_string(text or ""), names)


def _nlu_pairs(training_data: Any) -> Counter[Tuple[str, str, bool]]:
    return Counter(
        (str(m.get_full_intent()), str(m.get("text")), bool(m.get("entities")))
        for m in training_data.training_examples
    )


def _check(rel: str, before: Any, after: Any, expected: _Expected) -> None:
    """Raises :class:`_Mismatch` unless ``after`` is ``before`` with exactly the expected changes.

    ``after`` is None when the change deleted the file.
    """
    kind = _kind(rel)
    if kind in ("nlu", "responses"):
        _check_nlu(rel, before, after, expected)
    elif kind == "domain":
        _check_domain(before, after, expected)
    else:
        _check_rules(before, after, expected)


def _check_nlu(rel: str, before: Any, after: Any, expected: _Expected) -> None:
    old_pairs = _nlu_pairs(before) if before is not None else Counter()
    removed = Counter((intent, text, False) for intent, text in expected.removed_examples.get(rel, []))
    _require(all(old_pairs[pair] >= count for pair, count in removed.items()),
             "the examples to remove were not in the file")
    wanted = old_pairs + Counter((intent, text, False) for intent, text in expected.examples.get(rel, []))
    wanted.subtract(removed)
    after_pairs = _nlu_pairs(after) if after is not None else Counter()
    _require(after_pairs == +wanted, "the examples did not read back as written")
    old_responses = dict(before.responses) if before is not None else {}
    for name in expected.removed_responses.get(rel, []):
        _require(name in old_responses, f"the answer {name} to remove was not in the file")
        del old_responses[name]
    new = {name: [{"text": text}] for name, text in expected.responses.get(rel, {}).items()}
    after_responses = dict(after.responses) if after is not None else {}
    _require(after_responses == {**old_responses, **new}, "the answers did not read back as written")


def _check_domain(before: Any, after: Any, expected: _Expected) -> None:
    _require(after is not None, "the domain cannot be deleted")
    old_intents = [intent for intent in before.intents if intent != expected.removed_domain_intent]
    if expected.domain_intent:
        old_intents = sorted(old_intents + [expected.domain_intent])
    _require(list(after.intents) == old_intents, "the domain's intents did not read back as written")
    old_responses = dict(before.responses)
    if expected.removed_domain_response:
        _require(old_responses.pop(expected.removed_domain_response, None) is not None,
                 f"the answer {expected.removed_domain_response} to remove was not in the domain")
    if expected.domain_response:
        name, text = expected.domain_response
        old_responses[name] = [{"text": text}]
    _require(dict(after.responses) == old_responses, "the domain's answers did not read back as written")
    rest = ("intents", "responses")
    _require({k: v for k, v in before.as_dict().items() if k not in rest}
             == {k: v for k, v in after.as_dict().items() if k not in rest}, "the domain changed elsewhere")


def _check_rules(before: Any, after: Any, expected: _Expected) -> None:
    from rasa.shared.core.events import ActionExecuted, UserUttered

    old_steps = [s.as_story_string() for s in before] if before is not None else []
    new_steps = [s.as_story_string() for s in after] if after is not None else []
    if expected.removed_rule is not None:
        names = [step.block_name for step in before or []]
        name = f"answer {expected.removed_rule}"
        _require(names.count(name) == 1, f"the rule {name!r} to remove was not in the file once")
        index = names.index(name)
        _require(new_steps == old_steps[:index] + old_steps[index + 1:], "the rules did not read back as written")
        return
    _require(new_steps[:len(old_steps)] == old_steps and len(new_steps) == len(old_steps) + 1,
             "the rules did not read back as written")
    rule = after[-1]
    intents = [e.intent_name for e in rule.events if isinstance(e, UserUttered)]
    actions = [e.action_name for e in rule.events if isinstance(e, ActionExecuted)]
    _require(rule.block_name == f"answer {expected.rule}" and intents == [expected.rule]
             and f"utter_{expected.rule}" in actions, "the new rule did not read back as written")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _commit(root: Path, changes: Mapping[str, Optional[str]], expected: _Expected) -> List[str]:
    """Writes the changed files (None: delete it), checks them with Rasa's readers,
    restores them on any failure."""
    previous = {rel: _read_text(root, rel) for rel in changes}
    old_domain = previous.get(DOMAIN) if DOMAIN in changes else _read_text(root, DOMAIN)
    before: Dict[str, Tuple[Any, Set[str]]] = {}
    for rel, text in previous.items():
        if text is None:
            before[rel] = (None, set())
            continue
        try:
            before[rel] = _read_with_rasa(root, rel, text, old_domain)
        except Exception as error:  # noqa: BLE001 - any reader failure means the same to staff
            raise DataError(
                f"{rel} is not valid training data even before this change, so nothing was saved. "
                f"A developer needs to fix it first ({_reason(error)})."
            ) from error
    written: List[str] = []
    try:
        for rel in sorted(changes, key=lambda r: (r != DOMAIN, r)):  # the domain first: rules read it
            written.append(rel)
            content = changes[rel]
            if content is None:
                (root / rel).unlink(missing_ok=True)
            else:
                _write_atomically(root / rel, content.encode("utf-8"))
        for rel in changes:
            after, messages = (None, set()) if changes[rel] is None else _read_with_rasa(root, rel, None, None)
            _check(rel, before[rel][0], after, expected)
            new_warnings = messages - before[rel][1]
            _require(not new_warnings, "; ".join(sorted(new_warnings)))
    except Exception as error:  # noqa: BLE001 - whatever went wrong, put the files back
        for rel in reversed(written):
            if previous[rel] is None:
                (root / rel).unlink(missing_ok=True)
            else:
                _write_atomically(root / rel, (previous[rel] or "").encode("utf-8"))
        raise DataError(
            f"The change was not saved: the training data would not have been valid afterwards "
            f"({_reason(error)}). The files are as they were."
        ) from error
    return sorted(changes)


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"


# ---- the operations ------------------------------------------------------------------------


def _split_new(project: _Project, intent: str, examples: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(new, already there) for ``intent``; :class:`Conflict` if one is another intent's example."""
    owners = project.owners()
    new: List[str] = []
    already: List[str] = []
    seen: Set[str] = set()
    for example in examples:
        key = _key(example)
        others = [other for other in owners.get(key, []) if other != intent]
        if others and intent not in owners.get(key, []):
            owner = others[0]
            raise Conflict(
                f"{_quote(example)} is already an example of {owner}. A message can teach only one "
                f"thing, so nothing was saved; label it {owner}, or leave it out.",
                text=example, intent=owner,
            )
        if intent in owners.get(key, []) or key in seen:
            already.append(example)
        else:
            new.append(example)
            seen.add(key)
    return new, already


def add_examples(root: Path, intent: str, texts: Sequence[str]) -> AddResult:
    """Teaches ``intent`` (a plain intent or ``faq/<key>``) the customer messages ``texts``.

    Each new example goes at the end of the intent's ``examples: |`` block (the
    first file in sorted order that has one). Nothing at all is written when any
    text is invalid or already another intent's example.
    """
    examples = _examples(texts)
    project = _Project.read(root)
    if not isinstance(intent, str) or not _is_known(project, intent):
        raise UnknownIntent(
            f"There is no intent or FAQ topic called {_quote(str(intent))}."
            + (f" Choose one of its keys ({intent}/...)." if intent in project.retrieval_intents() else "")
        )
    new, already = _split_new(project, intent, examples)
    if not new:
        return AddResult([], already, [])
    files = project.blocks.get(intent)
    if files:
        rel = files[0]
        changes = {rel: _insert_examples(_read_text(root, rel) or "", rel, intent, new)}
    else:  # an intent of the domain without examples yet
        rel = TAUGHT_NLU
        changes = {rel: _append_intent_block(_read_text(root, rel), rel, _TAUGHT_NLU_COMMENT, intent, new)}
    written = _commit(root, changes, _Expected(examples={rel: [(intent, e) for e in new]}))
    return AddResult(new, already, written)


def _is_known(project: _Project, intent: str) -> bool:
    if "/" in intent:
        return intent in project.blocks
    return intent in project.intents and intent not in project.retrieval_intents() | {RETRIEVAL_INTENT}


_TAUGHT_NLU_COMMENT = (
    "Intents that content staff added in the teach console (teaching/); "
    "their answers are in domain.yml, their rules in data/rules/taught.yml."
)
_TAUGHT_RULES_COMMENT = (
    "Rules for the intents that content staff added in the teach console (teaching/): "
    "each intent is answered with its response."
)


def create_faq(root: Path, key: str, category: str, answer: str, texts: Sequence[str]) -> AddResult:
    """A new FAQ topic ``faq/<key>`` in ``category``: its examples and its answer.

    They go to ``data/nlu/faq_<category>.yml`` and
    ``data/responses/faq_<category>.yml``, created (in the style of the
    others) for a new category. Answers may use placeholders for the domain's
    slots, such as ``{help_url}``.
    """
    _valid_name(key, "the name of a question")
    _valid_name(category, "a category")
    examples = _examples(texts)
    project = _Project.read(root)
    name = f"{RETRIEVAL_INTENT}/{key}"
    if name in project.blocks or project.has_response(f"utter_{name}"):
        raise AlreadyExists(f"There is already a question called {key}; choose another name or label it {name}.")
    stored_answer = normalise_answer(answer, project.slots)
    new, already = _split_new(project, name, examples)
    nlu_rel, responses_rel = f"data/nlu/faq_{category}.yml", f"data/responses/faq_{category}.yml"
    nlu_text, responses_text = _read_text(root, nlu_rel), _read_text(root, responses_rel)
    title = category.replace("_", " ")
    changes = {
        nlu_rel: _append_intent_block(nlu_text, nlu_rel, f"Questions about {title}, added by content staff "
                                      "in the teach console (teaching/).", name, new),
        responses_rel: _append_response(responses_text, responses_rel, f"Answers to the questions about {title}, "
                                        "added by content staff in the teach console (teaching/).",
                                        f"utter_{name}", stored_answer, default_list_indent=2),
    }
    expected = _Expected(examples={nlu_rel: [(name, e) for e in new]},
                         responses={responses_rel: {f"utter_{name}": stored_answer}})
    return AddResult(new, already, _commit(root, changes, expected))


def create_intent(root: Path, name: str, answer: str, texts: Sequence[str]) -> AddResult:
    """A new intent with its examples, its answer ``utter_<name>`` and a rule that gives it.

    The intent and the answer go to domain.yml, the examples to
    ``data/nlu/taught.yml``, the rule to ``data/rules/taught.yml``.
    """
    from rasa.shared.core.constants import DEFAULT_INTENTS

    _valid_name(name, "the name of an intent")
    examples = _examples(texts)
    project = _Project.read(root)
    response = f"utter_{name}"
    if name in project.intents or name in project.blocks or name in DEFAULT_INTENTS:
        raise AlreadyExists(f"There is already an intent called {name}; choose another name or label it {name}.")
    if project.has_response(response) or response in project.actions:
        raise AlreadyExists(f"There is already an answer called {response}; choose another name for the intent.")
    stored_answer = normalise_answer(answer, project.slots)
    new, already = _split_new(project, name, examples)
    domain = _read_text(root, DOMAIN) or ""
    domain = _append_response(_append_domain_intent(domain, name), DOMAIN, "", response, stored_answer,
                              default_list_indent=4)
    changes = {
        DOMAIN: domain,
        TAUGHT_NLU: _append_intent_block(_read_text(root, TAUGHT_NLU), TAUGHT_NLU, _TAUGHT_NLU_COMMENT, name, new),
        TAUGHT_RULES: _append_rule(_read_text(root, TAUGHT_RULES), TAUGHT_RULES, _TAUGHT_RULES_COMMENT, name),
    }
    expected = _Expected(examples={TAUGHT_NLU: [(name, e) for e in new]}, domain_intent=name,
                         domain_response=(response, stored_answer), rule=name)
    return AddResult(new, already, _commit(root, changes, expected))
