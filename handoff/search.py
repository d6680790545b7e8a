"""Search of the archive for agents and supervisors (docs/bridge-protocol.md "Search"), without I/O: a
request checked at the edge (:func:`search_request`), the SQL it becomes (:func:`search_sql`,
:func:`lines_sql`) and the matching lines cut and marked (:func:`marked`).

Words use PostgreSQL's full text with the ``simple`` configuration (no stemming, no stop words: every
language alike); a query in a script written without spaces (Thai, Lao, Khmer, Burmese, Chinese,
Japanese) or asked as ``part`` matches inside words (``ILIKE``, served by the trigram index).

Who may search what: a supervisor searches every conversation; an agent the conversations of their
skill groups (all of them with the group ``all``) and those they served at any time (the archive's
``state_changes``: a transferred conversation stays readable by each agent who had it), as desks that
restrict agents to their groups' tickets do. Agents' private notes are searched and shown to staff only: these
messages are on the staff sockets alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from handoff.exceptions import MalformedMessage
from handoff.protocol import readable

__all__ = ["HIT_CAP", "MAX_PAGE", "MAX_RESULTS", "OUTCOMES", "Scope", "SearchRequest", "among_hits", "hits_sql",
           "is_part_query", "lines_sql", "marked", "scope_sql", "search_request", "search_sql"]

PAGE_SIZE = 20
MAX_PAGE = 50  # results one page may ask for
MAX_RESULTS = 500  # how deep paging reaches (offset + size)
MAX_WORDS = 200  # characters of a query
MAX_FILTER = 200  # characters of a filter's value
LINES_PER_RESULT = 3
HIT_CAP = 5000  # matching messages up to which a search starts from them (hits_sql)
LINE_CONTEXT = 60  # characters kept on each side of a line's first match

# Outcomes a result may be filtered by, and what each means in the archive's columns.
OUTCOMES = {
    # The bot alone: never queued, and no callback or message left (people were needed: the dashboard's
    # containment counts those as escalated too).
    "contained": "c.first_queued_at IS NULL AND c.first_request_at IS NULL",
    "handed_off": "(c.first_queued_at IS NOT NULL OR c.first_request_at IS NOT NULL)",  # to people: a chat or a request
    "requested": "c.first_request_at IS NOT NULL",  # a callback or message left
    "served": "c.first_claimed_at IS NOT NULL",
    "abandoned": "c.first_queued_at IS NOT NULL AND c.first_claimed_at IS NULL AND c.state IN ('bot', 'closed')",
    "rated": "c.rating IS NOT NULL",
    "open": "c.state <> 'closed'",
    "closed": "c.state = 'closed'",
}

# Scripts written without spaces between words: a query in them matches inside words.
_UNSPACED = re.compile("[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff]")
_TERMS = re.compile(r'"([^"]+)"|(\S+)')


@dataclass(frozen=True)
class SearchRequest:
    words: str = ""
    part: bool = False  # match parts of words (ILIKE) rather than whole words
    customer: str = ""  # a contact's id, email, or part of their name
    label: str = ""
    disposition: str = ""
    agent: str = ""
    outcome: str = ""
    since_ms: Optional[int] = None
    until_ms: Optional[int] = None
    offset: int = 0
    size: int = PAGE_SIZE


@dataclass(frozen=True)
class Scope:
    """Whose conversations a searcher may read: ``everything`` (a supervisor), else ``groups``' and ``agent``'s."""

    agent: str
    groups: Tuple[str, ...]
    everything: bool


def _text(data: Dict[str, Any], name: str, cap: int) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > cap:
        raise MalformedMessage(f"'{name}' must be text of at most {cap} characters")
    return readable(value).strip()  # as messages are stored: no disguising controls (nor NUL)


def _whole(data: Dict[str, Any], name: str, default: Optional[int], low: int, high: int) -> Optional[int]:
    value = data.get(name, default)
    if value is None and default is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise MalformedMessage(f"'{name}' must be a whole number from {low} to {high}")
    return value


def search_request(data: Dict[str, Any]) -> SearchRequest:
    """A ``search`` message's fields, checked and capped (MalformedMessage says which is wrong)."""
    outcome = _text(data, "outcome", 20)
    if outcome and outcome not in OUTCOMES:
        raise MalformedMessage(f"'outcome' must be one of {', '.join(OUTCOMES)}")
    part = data.get("part", False)
    if not isinstance(part, bool):
        raise MalformedMessage("'part' must be true or false")
    latest_ms = 4102444800000  # 2100-01-01
    request = SearchRequest(
        words=_text(data, "words", MAX_WORDS), part=part, customer=_text(data, "customer", MAX_FILTER),
        label=_text(data, "label", MAX_FILTER), disposition=_text(data, "disposition", MAX_FILTER),
        agent=_text(data, "agent", MAX_FILTER), outcome=outcome,
        since_ms=_whole(data, "since", None, 0, latest_ms), until_ms=_whole(data, "until", None, 0, latest_ms),
        offset=_whole(data, "offset", 0, 0, MAX_RESULTS) or 0, size=_whole(data, "size", PAGE_SIZE, 1, MAX_PAGE) or 1)
    if request.offset + request.size > MAX_RESULTS:
        raise MalformedMessage(f"results go {MAX_RESULTS} deep: narrow the search instead of paging further")
    if request.words and len(request.words.replace('"', "").strip()) < (3 if is_part_query(request) else 1):
        raise MalformedMessage("'words' to find inside words need at least 3 characters")
    return request


def is_part_query(request: SearchRequest) -> bool:
    return request.part or bool(_UNSPACED.search(request.words))


def terms_of(words: str) -> List[str]:
    """The words and "quoted phrases" of a query, without websearch's operators (for marking lines)."""
    found = []
    for phrase, word in _TERMS.findall(words):
        term = phrase or word.lstrip("-")
        if term and term.lower() != "or" and not word.startswith("-"):
            found.append(term)
    return found


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _word_condition(request: SearchRequest, params: List[Any]) -> str:
    if is_part_query(request):
        conditions = []
        for term in terms_of(request.words) or [request.words]:
            params.append(_like(term))
            conditions.append("m.text ILIKE %s")
        return " AND ".join(conditions)
    params.append(request.words)
    return "m.words @@ websearch_to_tsquery('simple', %s)"


def served_by_sql(agent: str, params: List[Any]) -> str:
    """The condition on conversation ``c`` that ``agent`` served it: the last agent, ``c.agent``, or any earlier
    one (a claim, transfer or assignment in ``state_changes``)."""
    params += [agent, agent]
    return ("(c.agent = %s OR EXISTS (SELECT 1 FROM state_changes s"
            " WHERE s.conversation_id = c.id AND s.to_state = 'agent' AND s.agent = %s))")


def scope_sql(scope: Scope, params: List[Any]) -> str:
    """The condition on conversation ``c`` that the searcher may read it: of their groups, or served by them."""
    if scope.everything or "all" in scope.groups:
        return "TRUE"
    params.append(list(scope.groups))
    return f"(c.skill_group = ANY(%s) OR {served_by_sql(scope.agent, params)})"


def _conversation_conditions(request: SearchRequest, scope: Scope, params: List[Any]) -> List[str]:
    conditions = [scope_sql(scope, params)]
    if request.customer:
        conditions.append("(c.contact_id = %s OR c.contact_id IN (SELECT id FROM contacts WHERE lower(email) = lower(%s)"
                          " OR name ILIKE %s))")
        params += [request.customer, request.customer, _like(request.customer)]
    if request.label:
        conditions.append("c.label_ids @> ARRAY[%s]")
        params.append(request.label)
    if request.disposition:
        conditions.append("c.disposition = %s")
        params.append(request.disposition)
    if request.agent:  # every agent who served it finds it, not only the last
        conditions.append(served_by_sql(request.agent, params))
    if request.outcome:
        conditions.append(OUTCOMES[request.outcome])
    if request.since_ms is not None:
        conditions.append("c.started_at >= %s")
        params.append(_at(request.since_ms))
    if request.until_ms is not None:
        conditions.append("c.started_at < %s")
        params.append(_at(request.until_ms))
    return conditions


def hits_sql(request: SearchRequest) -> Tuple[str, List[Any]]:
    """The conversations of the messages matching the words, at most HIT_CAP + 1 messages' worth: fewer than
    that (a rare word) and the page is looked for among them; more (a common word) and the page walks the
    conversations newest first, checking each for a match, which soon fills it. Either plan alone is slow
    for the other kind of word (docs/benchmarks.md "Search")."""
    params: List[Any] = []
    words = _word_condition(request, params)
    return f"SELECT m.conversation_id FROM messages m WHERE {words} LIMIT {HIT_CAP + 1}", params


def search_sql(request: SearchRequest, scope: Scope, among: Optional[Sequence[str]] = None) -> Tuple[str, List[Any]]:
    """The page of conversations (newest first) with a message matching the words (``among``: every such
    conversation, from hits_sql), within the filters and the searcher's scope; one more row than asked tells
    whether another page follows."""
    params: List[Any] = []
    conditions = _conversation_conditions(request, scope, params)
    if among is not None:
        conditions.append("c.id = ANY(%s)")
        params.append(list(among))
    elif request.words:
        word_params: List[Any] = []
        words = _word_condition(request, word_params)
        conditions.append(f"EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND {words})")
        params += word_params
    where = " AND ".join(conditions) or "TRUE"
    params += [request.size + 1, request.offset]
    return (f"SELECT c.id, c.started_at, c.state, c.agent, c.skill_group, c.disposition, c.label_ids, c.rating,"
            f" c.handoff_reason, c.contact_id, ct.name AS contact_name, ct.email AS contact_email"
            f" FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id WHERE {where}"
            f" ORDER BY c.started_at DESC, c.id DESC LIMIT %s OFFSET %s", params)


def among_hits(conversation_ids: Sequence[str]) -> Optional[List[str]]:
    """hits_sql's answer as search_sql's ``among``: the distinct conversations, or None past the cap."""
    return list(dict.fromkeys(conversation_ids)) if len(conversation_ids) <= HIT_CAP else None


def lines_sql(request: SearchRequest, conversation_ids: Sequence[str]) -> Tuple[str, List[Any]]:
    """The first matching lines of each conversation found (LINES_PER_RESULT each, in order)."""
    params: List[Any] = [list(conversation_ids)]
    words = _word_condition(request, params)
    return (f"SELECT conversation_id, id, sent_at, sender, author, text FROM (SELECT m.*, row_number() OVER"
            f" (PARTITION BY m.conversation_id ORDER BY m.position) AS n FROM messages m"
            f" WHERE m.conversation_id = ANY(%s) AND {words}) found WHERE n <= {LINES_PER_RESULT}"
            f" ORDER BY conversation_id, position", params)


def marked(text: str, words: str) -> List[Dict[str, Any]]:
    """A line cut around its first match, as segments ``{"text", "match"}``: the console shows each as text
    (never HTML), the matches marked."""
    terms = sorted(terms_of(words), key=len, reverse=True)
    if not terms:
        return [{"text": text[: 2 * LINE_CONTEXT], "match": False}]
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    first = pattern.search(text)
    start = max(0, first.start() - LINE_CONTEXT) if first else 0
    end = min(len(text), (first.end() if first else 0) + LINE_CONTEXT)
    cut = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    segments: List[Dict[str, Any]] = []
    place = 0
    for found in pattern.finditer(cut):
        if found.start() > place:
            segments.append({"text": cut[place:found.start()], "match": False})
        segments.append({"text": found.group(), "match": True})
        place = found.end()
    if place < len(cut):
        segments.append({"text": cut[place:], "match": False})
    return segments
