"""What changed in an agent's view of the queue, so that a change costs its size, not the queue's.

An agent's console gets the whole queue (``queue``) when it connects, when it
asks, and after a resync (notifications may have been lost); after that, each
change of the queue comes as ``queue_changed``: the items added, the items
whose content changed, and the ids removed (docs/bridge-protocol.md). An item's
``waiting_seconds`` and ``customer_presence_seconds`` grow by themselves and are not
a change: the console counts them on from the values it last got. Items carry ``queued_at`` (ms), the queue's order.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

__all__ = ["QueueItems", "changes", "indexed"]

QueueItems = Dict[str, Dict[str, Any]]
# Fields that change with time alone: not worth a message.
_CLOCK_FIELDS = ("waiting_seconds", "customer_presence_seconds")


def indexed(items: List[Dict[str, Any]]) -> QueueItems:
    return {item["conversation_id"]: item for item in items}


def _content(item: Dict[str, Any]) -> Dict[str, Any]:
    return {name: value for name, value in item.items() if name not in _CLOCK_FIELDS}


def changes(before: QueueItems, after: QueueItems) -> Optional[Dict[str, Any]]:
    """``queue_changed``'s data from the view last sent to the view now; None when nothing changed."""
    added = [item for conversation_id, item in after.items() if conversation_id not in before]
    updated = [item for conversation_id, item in after.items()
               if conversation_id in before and _content(item) != _content(before[conversation_id])]
    removed = [conversation_id for conversation_id in before if conversation_id not in after]
    if not (added or updated or removed):
        return None
    return {"added": added, "updated": updated, "removed": removed}
