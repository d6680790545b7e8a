"""What changed between the live model and a candidate: the part of the report
that says *why* the numbers moved.

Two sources, one shape. The labels made or undone since the live model was
trained (with who) come from the label records. The examples and answers come
from what each model was trained from (:func:`teaching.worker.datafiles.contents`,
kept with every model the worker trains), so edits a developer made by hand
count too; a live model registered from outside (``make run``, ``publish``)
has no such record, and then the examples and topics are added up from the
labels alone (``source: "labels"``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = ["SAMPLES", "changes_since"]

SAMPLES = 3  # example texts shown per topic and direction


def changes_since(
    live_id: Optional[str],
    live_created: float,
    live_contents: Optional[Mapping[str, Any]],
    candidate_contents: Mapping[str, Any],
    labels: Sequence[Mapping[str, Any]],
) -> Dict[str, Any]:
    """``labels``: every label made or undone after ``live_created``, oldest first."""
    listed = [_label_row(label, live_created) for label in labels]
    if live_contents is not None:
        found = _from_contents(live_contents, candidate_contents)
    else:
        found = _from_labels(labels, live_created)
    return {"since": live_id, "source": "data" if live_contents is not None else "labels", "labels": listed,
            **found}


def _label_row(label: Mapping[str, Any], since: float) -> Dict[str, Any]:
    undone = label.get("state") == "undone"
    made_since = label["time"] > since
    state = ("added and undone" if made_since else "undone") if undone else "added"
    return {"id": label["id"], "kind": label["kind"], "intent": label.get("intent") or None, "by": label["by"],
            "time": label["time"], "examples": len(label.get("added") or []), "state": state,
            "undone_by": label.get("undone_by")}


def _from_contents(live: Mapping[str, Any], candidate: Mapping[str, Any]) -> Dict[str, Any]:
    before: Mapping[str, List[str]] = live.get("examples") or {}
    after: Mapping[str, List[str]] = candidate.get("examples") or {}
    rows = []
    for topic in sorted(set(before) | set(after)):
        old, new = set(before.get(topic, [])), set(after.get(topic, []))
        added, removed = sorted(new - old), sorted(old - new)
        if added or removed:
            rows.append({"topic": topic, "added": len(added), "removed": len(removed),
                         "samples_added": added[:SAMPLES], "samples_removed": removed[:SAMPLES]})
    old_responses: Mapping[str, str] = live.get("responses") or {}
    new_responses: Mapping[str, str] = candidate.get("responses") or {}
    responses = [
        {"name": name, "before": old_responses.get(name), "after": new_responses.get(name)}
        for name in sorted(set(old_responses) | set(new_responses))
        if old_responses.get(name) != new_responses.get(name)
    ]
    return {"examples": rows, "new_topics": sorted(set(after) - set(before)),
            "removed_topics": sorted(set(before) - set(after)), "responses": responses}


def _from_labels(labels: Sequence[Mapping[str, Any]], since: float) -> Dict[str, Any]:
    """Net examples per topic: labels made since and still in, minus older labels undone since."""
    counts: Dict[str, List[int]] = {}
    new_topics: List[str] = []
    responses: List[Dict[str, Any]] = []
    for label in labels:
        topic, added = label.get("intent") or "", list(label.get("added") or [])
        made_since, undone = label["time"] > since, label.get("state") == "undone"
        if not topic or not added or (made_since and undone):
            continue
        row = counts.setdefault(topic, [0, 0])
        row[1 if undone else 0] += len(added)
        created = label.get("created")
        if created and made_since and not undone:
            new_topics.append(topic)
            responses.append({"name": f"utter_{topic}", "before": None, "after": created.get("answer")})
    rows = [{"topic": topic, "added": added, "removed": removed, "samples_added": [], "samples_removed": []}
            for topic, (added, removed) in sorted(counts.items())]
    return {"examples": rows, "new_topics": sorted(new_topics), "removed_topics": [], "responses": responses}
