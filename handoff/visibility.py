"""What a customer may see of a stored message: an explicit allow-list per kind.

Messages are stored once, for everybody; a bot reply's ``custom.handoff`` (why the customer was handed
over, the summary, intents and confidences) is for agents only, and so are whole kinds not listed
(agents' private notes). The customer's socket sends each
message through ``for_customer``, so a key the bot or bridge adds later stays private until it is
named here (docs/bridge-protocol.md "What a customer receives").
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Mapping

__all__ = ["CUSTOMER_VISIBLE", "customer_sees", "for_customer"]

# What the widget (widget/customer) uses of each kind's data.
CUSTOMER_VISIBLE: Mapping[str, FrozenSet[str]] = {
    "bot": frozenset({"buttons", "image"}),
    "agent": frozenset({"agent", "request", "attachment"}),  # who wrote; an answer to the customer's own request; a file
    # "agent": the display name a notice names; "retry_at": when a queue that refused them may take them; "to":
    # the address a transcript was emailed to (their own, or one they typed: handoff.mail); "wait_minutes",
    # "wait_range", "wait_basis": the wait a notice states, as their status has it (rules.kept_for_person)
    "system": frozenset({"notice", "offer", "agent", "retry_at", "to", "wait_minutes", "wait_range", "wait_basis"}),
    "customer": frozenset({"payload", "attachment"}),
}


def customer_sees(kind: str) -> bool:
    """Whether a customer receives messages of ``kind`` at all: only the kinds listed above, never an
    agents' private ``note`` (handoff.mentions) nor a kind added later until it is listed here."""
    return kind in CUSTOMER_VISIBLE


def for_customer(kind: str, data: Mapping[str, Any]) -> Dict[str, Any]:
    """The part of a message's data a customer may receive (nothing of a kind not listed)."""
    allowed = CUSTOMER_VISIBLE.get(kind, frozenset())
    return {name: value for name, value in data.items() if name in allowed}
