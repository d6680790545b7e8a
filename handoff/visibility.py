"""What a customer may see of a stored message: an explicit allow-list per kind.

Messages are stored once, for everybody; a bot reply's ``custom.handoff`` (why the customer was handed
over, the summary, intents and confidences) is for agents only. The customer's socket sends each
message through ``for_customer``, so a key the bot or bridge adds later stays private until it is
named here (docs/bridge-protocol.md "What a customer receives").
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Mapping

__all__ = ["CUSTOMER_VISIBLE", "for_customer"]

# What the widget (widget/customer) uses of each kind's data.
CUSTOMER_VISIBLE: Mapping[str, FrozenSet[str]] = {
    "bot": frozenset({"buttons", "image"}),
    "agent": frozenset({"agent", "request"}),  # who wrote; an answer to the customer's own request
    "system": frozenset({"notice", "offer", "agent"}),  # "agent": the display name a notice names
    "customer": frozenset({"payload"}),
}


def for_customer(kind: str, data: Mapping[str, Any]) -> Dict[str, Any]:
    """The part of a message's data a customer may receive (nothing of a kind not listed)."""
    allowed = CUSTOMER_VISIBLE.get(kind, frozenset())
    return {name: value for name, value in data.items() if name in allowed}
