"""Whether contact details are something someone can reply to, sans I/O (handoff.rules checks a
customer's request with it; handoff.requests a callback the bot's form booked)."""

from __future__ import annotations

import re

from handoff.exceptions import InvalidContact

__all__ = ["MAX_EMAIL", "MAX_PHONE_DIGITS", "MIN_PHONE_DIGITS", "contact_kind"]

MAX_EMAIL = 254
# E.164 numbers have at most 15 digits; national ones without a trunk prefix have at least 7.
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15
# The domain: labels, none empty ("a@b..co" is no address), and a top-level one of 2 or more characters.
_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]+@(?:[^@\s<>()\[\],;:\".]+\.)+[^@\s<>()\[\],;:\".]{2,}")
_PHONE = re.compile(r"\+?[0-9(][0-9 ().\-/]*[0-9]")


def contact_kind(contact: str) -> str:
    """"phone" or "email" for contact details someone can actually reply to; raises InvalidContact otherwise.

    A phone number: digits with the usual separators (spaces, dots, dashes, brackets,
    a leading +), 7 to 15 digits, not all zeros, no "+0". An email address: one @ and a
    dotted domain without empty labels.
    """
    text = contact.strip()
    if not text:
        raise InvalidContact("a phone number or an email address is needed so we can reply")
    if "@" in text:
        if len(text) <= MAX_EMAIL and _EMAIL.fullmatch(text):
            return "email"
        raise InvalidContact(f"{text!r} is not an email address (like name@example.com)")
    digits = [character for character in text if character.isdigit() and character.isascii()]
    # No number is all zeros, and no country code starts with 0 ("+0 0 0 0 0 0 0").
    plausible = any(digit != "0" for digit in digits) and not text.startswith("+0")
    if _PHONE.fullmatch(text) and MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS and plausible:
        return "phone"
    raise InvalidContact(f"{text!r} is neither a phone number (7 to 15 digits) nor an email address")
