"""Who may be sent a conversation's transcript by email, sans I/O (handoff.mail carries it out).

The bridge must never become an open relay: a transcript goes only to the identified customer's address
(the conversation's ``contact_email``, from a verified signature) or to an address the customer typed in
that conversation (in a message of theirs, or in the widget's own request for the transcript). Addresses
are checked strictly: plain ASCII ``local@domain`` with a dotted host name, nothing a header could be
smuggled in with (no spaces, quotes, commas, angle brackets, CR or LF), and no card number in it (13 to 19
digits passing the Luhn check, together or joined by dots, dashes, underscores or pluses, in the part before
the @: an "address" that would carry a card into the outbox, the notices and the mail server's logs).

An agent never picks an address by default but the identified customer's own: one the customer typed (it
could be anyone's) is sent to only when the agent names it (the console's picker).
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, List

from handoff.exceptions import MailRefused
from handoff.privacy import luhn_valid

__all__ = ["MAX_ADDRESS", "addresses_in", "card_in", "checked_address", "mailbox_of", "recipient_digest", "recipient_for",
           "verified"]

MAX_ADDRESS = 254  # RFC 5321's longest forward path, less its angle brackets
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")
# An address inside running text: not glued to more address characters on either side.
_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~@-])({_LOCAL}@{_DOMAIN})(?![A-Za-z0-9@-])")
# Digits joined by the separators a local part may have ("4111.1111.1111.1111", "4111-1111-...").
_DIGIT_RUN = re.compile(r"\d+(?:[._+-]\d+)*")
_CARD_DIGITS = range(13, 20)


def card_in(local: str) -> bool:
    """Whether the part before the @ holds a card number: 13 to 19 digits passing the Luhn check, together
    ("4111111111111111", "me4111111111111111") or in groups ("4111.1111.1111.1111", "4111-1111-1111-1111")."""
    for match in _DIGIT_RUN.finditer(local):
        runs = [match.group(), *match.group().replace("+", ".").replace("-", ".").replace("_", ".").split(".")]
        for run in runs:
            digits = re.sub(r"\D", "", run)
            if len(digits) in _CARD_DIGITS and luhn_valid(digits):
                return True
    return False


def checked_address(value: object) -> str:
    """The address, lower-cased in its domain, if it is one we may write to; else ``invalid_address``."""
    if not isinstance(value, str) or not 3 <= len(value) <= MAX_ADDRESS or not _ADDRESS.fullmatch(value):
        raise MailRefused("'to' must be one email address such as name@example.com", "invalid_address")
    local, domain = value.rsplit("@", 1)
    if len(local) > 64:
        raise MailRefused("an address's part before the @ may have at most 64 characters", "invalid_address")
    if card_in(local):
        raise MailRefused("that address holds a card number: never send one; please give an email address "
                          "without it", "card_in_address")
    return f"{local}@{domain.lower()}"


def addresses_in(texts: Iterable[str]) -> List[str]:
    """The valid addresses found in ``texts`` (a customer's messages), oldest first, each once."""
    found: List[str] = []
    for text in texts:
        for match in _IN_TEXT.finditer(text):
            try:
                address = checked_address(match.group(1))
            except MailRefused:
                continue
            if address not in found:
                found.append(address)
    return found


def _same(one: str, other: str) -> bool:
    """Addresses compared as mail systems do in practice: the domain always without case, the local part too."""
    return one.lower() == other.lower()


def recipient_for(asked: object, by_customer: bool, contact_email: str, typed: List[str]) -> str:
    """Where the transcript may go. The customer may name any valid address (typing it in their conversation's
    request is typing it in that conversation); an agent only the contact's address or one the customer typed,
    and without naming one gets only the contact's address: one the customer typed (anyone's, perhaps) goes
    only where an agent chose it explicitly."""
    contact = checked_address(contact_email) if contact_email else ""
    if asked is None:
        if contact:
            return contact
        if typed and not by_customer:
            raise MailRefused("the customer is not signed in: choose one of the addresses they typed in this "
                              "conversation", "no_address")
        raise MailRefused("the customer has given no email address in this conversation", "no_address")
    address = checked_address(asked)
    if by_customer or any(_same(address, allowed) for allowed in ([contact] if contact else []) + typed):
        return address
    raise MailRefused("a transcript goes only to the customer's own address or one they typed in this conversation",
                      "address_not_allowed")


def verified(address: str, contact_email: str) -> bool:
    """Whether the transcript goes to the identified customer's own address (not counted as a typed one)."""
    return bool(contact_email) and _same(address, contact_email)


# Providers known to ignore dots in the part before the @ (and the second name of one of them).
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_of(address: str) -> str:
    """The mailbox an address reaches, for the day's cap per recipient: without case, without a "+tag"
    ("ann+1@example.com" is ann@example.com's), and for providers that ignore them without dots, so that
    variants of one address cannot each have a day's cap."""
    local, domain = address.lower().rsplit("@", 1)
    local = local.split("+", 1)[0] or local
    if domain in _DOTLESS:
        local, domain = local.replace(".", "") or local, _DOTLESS[domain]
    return f"{local}@{domain}"


def recipient_digest(address: str) -> str:
    """The key part of the recipient's day counter ({p}:mail-day:recipient:{digest}:{day}): never the address."""
    return hashlib.sha256(mailbox_of(address).encode()).hexdigest()[:32]
