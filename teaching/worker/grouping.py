"""Groups inbox messages by meaning, so content staff label twenty alike messages in one go.

Pure functions: the teaching worker passes the open inbox items with their
all-MiniLM-L6-v2 embeddings and stores the result as ``{prefix}:groups``
(format: /work/teach-spec.md, "Group format"; the caller adds ``open`` and
``updated``).

Average-linkage agglomerative clustering on cosine distance needs no number
of groups up front and keeps an odd message on its own (a singleton) instead
of forcing it into the nearest topic. The distance threshold was chosen by
measurement on BANKING77 (``python -m bench.inbox_grouping``): at 0.55, 200
real messages from ten intents become about 16 groups, 97 % of the messages
in groups of three or more; 86-91 % of messages share their group's majority
intent, 91-94 % its majority FAQ topic (BANKING77 splits finer than the bot's
labels), and the agreement with the true intents (adjusted Rand index) is the
best of all thresholds. Lower thresholds split topics into many small groups
(0.5: 21 groups), higher ones mix topics (0.6: purity 78-86 %), and a label
given to a whole mixed group would put wrong examples into the training data.

At most ``MAX_ITEMS`` (the most recent) items are clustered: the distance
matrix grows with the square of the count, and older messages wait until the
newer ones are dealt with.
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

__all__ = ["DEFAULT_DISTANCE_THRESHOLD", "ITEM_FIELDS", "MAX_ITEMS", "REASONS", "group"]

# Average cosine distance below which two groups of messages merge (bench/inbox_grouping.py).
DEFAULT_DISTANCE_THRESHOLD = 0.55
# The most recent items clustered at once (2000 items: a 2000 x 2000 matrix, well under a second).
MAX_ITEMS = 2000
# The fields of an item in a group, as the console reads them (state, decision... are left out).
ITEM_FIELDS = ("id", "text", "conversation_id", "reasons", "intent", "confidence", "time", "handoff_reason")
REASONS = ("not_understood", "low_confidence", "handoff")

# scikit-learn renamed ``affinity`` to ``metric`` in 1.2 (and removed ``affinity`` in 1.4).
_METRIC_PARAMETER = (
    "metric" if "metric" in inspect.signature(AgglomerativeClustering.__init__).parameters else "affinity"
)


def _newest_first_key(item: Mapping[str, Any]) -> "tuple[float, str]":
    return (-float(item.get("time") or 0.0), str(item["id"]))


def _cluster(embeddings: np.ndarray, distance_threshold: float) -> np.ndarray:
    """A cluster label per row; rows are assumed in a deterministic order."""
    if len(embeddings) == 1:
        return np.zeros(1, dtype=int)
    vectors = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.maximum(norms, 1e-12)  # a zero vector is far from everything, not NaN
    distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=distance_threshold,
        linkage="average",
        **{_METRIC_PARAMETER: "precomputed"},
    )
    labels: np.ndarray = model.fit_predict(distances)
    return labels


def _suggestion(items: Sequence[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The most common guess of the classifier (ties: the name first alphabetically)."""
    counts = Counter(item["intent"] for item in items if item.get("intent"))
    if not counts:
        return None
    intent, count = min(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    return {"intent": intent, "share": round(count / len(items), 4)}


def group(
    items: Sequence[Mapping[str, Any]],
    embeddings: np.ndarray,
    distance_threshold: float = DEFAULT_DISTANCE_THRESHOLD,
    max_items: int = MAX_ITEMS,
) -> List[Dict[str, Any]]:
    """Groups of alike items, largest first, then the one with the newest message.

    ``embeddings[i]`` is the (L2-normalised) embedding of ``items[i]``. Only
    the ``max_items`` most recent items are grouped; the rest are left out of
    the result (they are still open and come back once newer ones are decided).
    Within a group, items are newest first; a group's id is its smallest item
    id, so it stays the same while the group grows.
    """
    vectors = np.asarray(embeddings)
    if vectors.ndim != 2 or len(vectors) != len(items):
        raise ValueError(f"need one embedding row per item: {len(items)} items, embeddings {vectors.shape}")
    if not items:
        return []
    order = sorted(range(len(items)), key=lambda index: _newest_first_key(items[index]))[:max_items]
    labels = _cluster(vectors[order], distance_threshold)
    members: Dict[int, List[Mapping[str, Any]]] = {}
    for index, label in zip(order, labels):
        members.setdefault(int(label), []).append(items[index])  # newest first, as ``order``

    groups: List[Dict[str, Any]] = []
    for group_items in members.values():
        groups.append(
            {
                "id": min(str(item["id"]) for item in group_items),
                "size": len(group_items),
                "suggestion": _suggestion(group_items),
                "reasons": {
                    reason: sum(reason in (item.get("reasons") or ()) for item in group_items)
                    for reason in REASONS
                },
                "items": [{name: item.get(name) for name in ITEM_FIELDS} for item in group_items],
            }
        )
    groups.sort(key=lambda entry: (-entry["size"], -float(entry["items"][0].get("time") or 0.0), entry["id"]))
    return groups
