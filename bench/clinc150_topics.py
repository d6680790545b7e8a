"""Which of the bot's FAQ answers is right for each CLINC150 banking or credit-card question (issue 13).

CLINC150's ``banking`` and ``credit_cards`` domains (15 intents each) are real
wording that no round of the demo bot has read: a second set of unseen
customer questions beside BANKING77 (bench/nlu_splits.py). Written before any
of their rows was scored or read, from the intent names and the bot's answers
(data/responses) alone.

``STRICT_TOPIC`` maps an intent to one answer only where that answer truly
covers what the intent asks; CLINC150's ``exchange_rate`` (its ``travel``
domain) joins them because the ``exchange_rate`` answer is about exactly that.

- ``pin_change`` -> ``change_pin``; ``report_lost_card`` -> ``lost_or_stolen_card``.
- ``report_fraud`` -> ``unrecognised_transaction``: the answer for a payment
  the customer did not make (freeze the card, report it).
- ``card_declined`` -> ``card_not_working``: its answer lists why payments are declined.
- ``replacement_card_duration`` -> ``card_arrival``: how long a card takes to arrive.
- ``damaged_card`` -> ``order_card``: its answer orders a replacement card.
- ``international_fees`` -> ``fees``: the fee list has payments in other currencies and abroad.
- ``routing`` -> ``receiving_money``: where the account details to share are.
- ``exchange_rate`` -> ``exchange_rate``.

``UNCOVERED``: intents of the two domains that none of our 25 answers covers
(a balance, a bill, a credit limit, rewards, making a transfer): the bot should
decline them (``out_of_scope``) or say it did not understand, never answer.

Left out of both, as neither truly covered nor clearly not: ``new_card`` (often
applying for a credit card, which the bank does not offer, sometimes ordering a
card), ``freeze_account`` (the lost-card answer freezes a card, not an
account), ``account_blocked`` (a blocked account may be a card blocked by its
PIN, or a verification hold).
"""

from __future__ import annotations

from typing import Dict, FrozenSet

__all__ = ["LEFT_OUT", "QUESTION_INTENTS", "STRICT_TOPIC", "UNCOVERED"]

STRICT_TOPIC: Dict[str, str] = {
    "pin_change": "change_pin",
    "report_lost_card": "lost_or_stolen_card",
    "report_fraud": "unrecognised_transaction",
    "card_declined": "card_not_working",
    "replacement_card_duration": "card_arrival",
    "damaged_card": "order_card",
    "international_fees": "fees",
    "routing": "receiving_money",
    "exchange_rate": "exchange_rate",
}

UNCOVERED: FrozenSet[str] = frozenset({
    # banking
    "transfer", "transactions", "balance", "pay_bill", "bill_balance", "bill_due", "interest_rate",
    "min_payment", "order_checks", "spending_history",
    # credit_cards
    "credit_score", "credit_limit", "rewards_balance", "application_status", "apr", "redeem_rewards",
    "credit_limit_change", "improve_credit_score", "expiration_date",
})

LEFT_OUT: FrozenSet[str] = frozenset({"new_card", "freeze_account", "account_blocked"})

# Every intent whose questions this split is about: none of their sentences may be an example of ours.
QUESTION_INTENTS: FrozenSet[str] = frozenset(STRICT_TOPIC) | UNCOVERED | LEFT_OUT
