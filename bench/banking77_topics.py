"""Which of the bot's FAQ answers is right for each BANKING77 category.

BANKING77 holds real customers' questions to a bank; 64 of its 77 categories
ask about something one of our 25 FAQ topics answers. Its sentences are never
training data (shared/datasets/README.md): they measure how the bot copes with
real phrasings it has never seen.

``STRICT_TOPIC`` names each category's one best answer: the figure the bot is
judged by. ``ACCEPTED_TOPICS`` also accepts a second answer where a question
honestly fits two (a card top-up fee: ``fees`` or ``top_up``): the lenient
figure, reported beside it.
"""

from __future__ import annotations

from typing import Dict, FrozenSet

__all__ = ["ACCEPTED_TOPICS", "STRICT_TOPIC"]


def _topics(*keys: str) -> FrozenSet[str]:
    return frozenset(keys)


ACCEPTED_TOPICS: Dict[str, FrozenSet[str]] = {
    "card_arrival": _topics("card_arrival"),
    "card_delivery_estimate": _topics("card_arrival"),
    "activate_my_card": _topics("activate_card"),
    "lost_or_stolen_card": _topics("lost_or_stolen_card"),
    "compromised_card": _topics("lost_or_stolen_card", "unrecognised_transaction"),
    "card_not_working": _topics("card_not_working"),
    "declined_card_payment": _topics("card_not_working"),
    "contactless_not_working": _topics("card_not_working"),
    "virtual_card_not_working": _topics("card_not_working"),
    "card_swallowed": _topics("card_swallowed"),
    "change_pin": _topics("change_pin"),
    "pin_blocked": _topics("change_pin"),
    "passcode_forgotten": _topics("password_reset"),
    "transfer_not_received_by_recipient": _topics("transfer_not_received"),
    "pending_transfer": _topics("transfer_not_received"),
    "transfer_timing": _topics("transfer_not_received"),
    "balance_not_updated_after_bank_transfer": _topics("transfer_not_received", "top_up"),
    "cancel_transfer": _topics("cancel_transfer"),
    "Refund_not_showing_up": _topics("refund_not_showing"),
    "card_payment_not_recognised": _topics("unrecognised_transaction"),
    "cash_withdrawal_not_recognised": _topics("unrecognised_transaction"),
    "direct_debit_payment_not_recognised": _topics("unrecognised_transaction"),
    "transaction_charged_twice": _topics("charged_twice"),
    "card_payment_fee_charged": _topics("fees"),
    "cash_withdrawal_charge": _topics("fees"),
    "transfer_fee_charged": _topics("fees"),
    "extra_charge_on_statement": _topics("fees", "unrecognised_transaction"),
    "exchange_charge": _topics("fees", "exchange_rate"),
    "top_up_by_bank_transfer_charge": _topics("fees", "top_up"),
    "top_up_by_card_charge": _topics("fees", "top_up"),
    "exchange_rate": _topics("exchange_rate"),
    "card_payment_wrong_exchange_rate": _topics("exchange_rate"),
    "exchange_via_app": _topics("exchange_rate"),
    "top_up_failed": _topics("top_up"),
    "pending_top_up": _topics("top_up"),
    "top_up_reverted": _topics("top_up"),
    "top_up_limits": _topics("top_up"),
    "topping_up_by_card": _topics("top_up"),
    "top_up_by_cash_or_cheque": _topics("top_up"),
    "automatic_top_up": _topics("top_up"),
    "transfer_into_account": _topics("top_up", "receiving_money"),
    "balance_not_updated_after_cheque_or_cash_deposit": _topics("top_up"),
    "declined_cash_withdrawal": _topics("cash_withdrawal_problem"),
    "pending_cash_withdrawal": _topics("cash_withdrawal_problem"),
    "wrong_amount_of_cash_received": _topics("cash_withdrawal_problem"),
    "verify_my_identity": _topics("verify_identity"),
    "unable_to_verify_identity": _topics("verify_identity"),
    "why_verify_identity": _topics("verify_identity"),
    "verify_source_of_funds": _topics("verify_identity"),
    "edit_personal_details": _topics("update_personal_details"),
    "terminate_account": _topics("close_account"),
    "order_physical_card": _topics("order_card"),
    "getting_spare_card": _topics("order_card", "fees"),
    "getting_virtual_card": _topics("order_card"),
    "get_physical_card": _topics("change_pin", "card_arrival"),
    "get_disposable_virtual_card": _topics("order_card"),
    "country_support": _topics("supported_countries_currencies"),
    "fiat_currency_support": _topics("supported_countries_currencies", "exchange_rate"),
    "supported_cards_and_currencies": _topics("supported_countries_currencies", "top_up"),
    "visa_or_mastercard": _topics("supported_countries_currencies", "order_card"),
    "age_limit": _topics("supported_countries_currencies"),
    "apple_pay_or_google_pay": _topics("mobile_payments", "top_up"),
    "receiving_money": _topics("receiving_money"),
    "wrong_exchange_rate_for_cash_withdrawal": _topics("exchange_rate", "cash_withdrawal_problem"),
}

# The one best answer where ACCEPTED_TOPICS accepts two (every other category has one).
_BEST_OF_SEVERAL: Dict[str, str] = {
    "compromised_card": "lost_or_stolen_card",  # the answer covers "someone else knows your card details"
    "balance_not_updated_after_bank_transfer": "transfer_not_received",  # "money sent to you hasn't appeared"
    "extra_charge_on_statement": "fees",  # "why is there a 1 euro fee on my statement"
    "exchange_charge": "fees",  # the fee for exchanging, not the rate
    "top_up_by_bank_transfer_charge": "fees",
    "top_up_by_card_charge": "fees",
    "transfer_into_account": "top_up",  # adding money from one's own bank account
    "getting_spare_card": "order_card",
    "get_physical_card": "change_pin",  # its questions ask where the card's PIN is
    "fiat_currency_support": "supported_countries_currencies",
    "supported_cards_and_currencies": "supported_countries_currencies",  # which cards may top up
    "visa_or_mastercard": "supported_countries_currencies",  # "anywhere Mastercard is accepted"
    # Most of its questions ask whether or how to add money with a phone wallet: the top-up answer
    # lists the ways to add money, the mobile-payments answer only paying in shops with one (issue 13,
    # round seven; until then "mobile_payments").
    "apple_pay_or_google_pay": "top_up",
    "wrong_exchange_rate_for_cash_withdrawal": "exchange_rate",
}


def _strict_topics() -> Dict[str, str]:
    strict = {}
    for category, accepted in ACCEPTED_TOPICS.items():
        best = _BEST_OF_SEVERAL.get(category) or next(iter(accepted))
        if best not in accepted or (len(accepted) > 1 and category not in _BEST_OF_SEVERAL):
            raise ValueError(f"{category}: its best topic must be one of {sorted(accepted)}")
        strict[category] = best
    return strict


STRICT_TOPIC: Dict[str, str] = _strict_topics()
