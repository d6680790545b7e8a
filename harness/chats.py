"""Customer messages the shipped bot answers itself, and a long chat built from them that
stays with the bot: bench.turns plays it for hundreds of turns, the fault drills' bot
customers play it through their faults (a handoff there would be a failure, not traffic).

No stuck trigger fires on it (docs/stuck-detection.md): every fourth message is a
support question, each of the 25 FAQ topics twice in two wordings a hundred turns
apart (bot_repeating needs a third identical answer), plus greetings and "are you a
bot?" at most twice; the others are thanks and goodbyes, which reset no_resolution
and never count as the bot repeating itself.
"""

from __future__ import annotations

from itertools import cycle
from typing import Dict, List, Tuple

__all__ = ["CLOSINGS", "LONG_CHAT", "QUESTIONS"]

# Two wordings per FAQ topic (each classified as its topic by the shipped model).
QUESTIONS: Dict[str, Tuple[str, str]] = {
    "card_arrival": ("when will my new card arrive?", "how long does card delivery take?"),
    "verify_identity": ("why do you need to check my ID?", "which documents prove who I am?"),
    "update_personal_details": ("how can I change my home address?", "I got a new phone number, how do I update it?"),
    "close_account": ("how do I close my account?", "I want to shut down my account"),
    "supported_countries_currencies": ("which countries can I open an account in?",
                                       "which countries do you operate in?"),
    "payment_deferral": ("can I pause my loan repayments?", "is there a payment holiday for my loan?"),
    "contact_and_hours": ("when is customer support open?", "what are your opening hours?"),
    "activate_card": ("how do I activate my new card?", "my card arrived, how do I start using it?"),
    "lost_or_stolen_card": ("I lost my card", "how do I freeze my card?"),
    "card_not_working": ("my card was declined at the shop", "why doesn't my card work for online payments?"),
    "card_swallowed": ("the ATM kept my card", "the cash machine swallowed my card"),
    "change_pin": ("how can I change my PIN?", "I forgot my PIN"),
    "password_reset": ("I forgot my password", "I can't log in to the app"),
    "order_card": ("how do I order a new card?", "can I get a spare card?"),
    "mobile_payments": ("how do I add my card to Apple Pay?", "can I set up Google Pay?"),
    "transfer_not_received": ("my transfer hasn't arrived", "how long does a bank transfer take?"),
    "cancel_transfer": ("how do I cancel a transfer?", "I sent money to the wrong person"),
    "refund_not_showing": ("how long do refunds take?", "the shop refunded me but I can't see it"),
    "unrecognised_transaction": ("there's a payment I don't recognise", "I didn't make this card payment"),
    "charged_twice": ("I've been charged twice", "the same payment was taken two times"),
    "fees": ("what fees do you charge?", "is there a fee for bank transfers?"),
    "exchange_rate": ("what exchange rate do you use?", "how do I exchange currency in the app?"),
    "top_up": ("how do I top up my account?", "how can I add money to my account?"),
    "cash_withdrawal_problem": ("the ATM gave me the wrong amount", "I didn't get my money from the cash machine"),
    "receiving_money": ("where do I find my IBAN?", "how can I receive money from abroad?"),
}
# Polite closings never count as the bot repeating itself, and reset no_resolution.
CLOSINGS = ("thanks", "thank you", "cheers", "great, thanks", "many thanks", "thanks a lot", "thank you so much",
            "much appreciated", "perfect, thank you", "ok thanks", "bye", "see you later", "have a nice day")


def _long_chat() -> List[str]:
    """Every fourth message a question (greetings and "are you a bot?" at most twice, like each topic)."""
    wordings = list(zip(*QUESTIONS.values()))
    questions = ["hi", *wordings[0], "are you a bot?", "hello there", *wordings[1], "am I talking to a robot?"]
    closings = cycle(CLOSINGS)
    return [message for question in questions for message in (question, next(closings), next(closings),
                                                               next(closings))]


LONG_CHAT: List[str] = _long_chat()
