"""Inbox items' embeddings: the worker's vectors, and the bytes the store keeps of them.

The teaching store is imported by the bridge, which has no numpy; it keeps each
item's embedding as opaque bytes. Here, on the worker's side, a vector becomes
those bytes (float32) and the open items' bytes become one matrix for grouping.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from teaching.store import TeachStore

__all__ = ["EMBEDDING_DIMENSION", "add_item", "open_items"]

EMBEDDING_DIMENSION = 384


async def add_item(store: TeachStore, candidate: Dict[str, Any], embedding: np.ndarray) -> None:
    """Stores a new inbox item with its embedding, or adds the reasons of a repeat sighting of one."""
    await store.upsert_item(candidate, np.asarray(embedding, dtype=np.float32).tobytes())


async def open_items(store: TeachStore, limit: int) -> Tuple[List[Dict[str, Any]], np.ndarray]:
    """The newest ``limit`` open items with their embeddings (rows in the same order)."""
    found = await store.open_items(limit)
    items = [item for item, _ in found]
    if not found:
        return items, np.zeros((0, EMBEDDING_DIMENSION), dtype=np.float32)
    return items, np.vstack([np.frombuffer(blob, dtype=np.float32) for _, blob in found])
