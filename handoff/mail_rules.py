"""Who may be sent a conversation's transcript by email, sans I/O (handoff.mail carries it out).

The bridge must never become an open relay: a transcript goes only to the identified customer's address
(the conversation's ``contact_email``, from a verified signature) or to an address the customer typed in
that conversation (in a message of theirs, or in the widget's own request for the transcript). Addresses
are checked strictly: plain ASCII ``local@domain`` with a dotted host name, nothing a header could be
smuggled in with (no spaces, quotes, commas, angle brackets, CR or LF).
"""

from __future__ import annotations

import re
from typing import Iterable, List

from handoff.exceptions import MailRefused

__all__ = ["MAX_ADDRESS", "addresses_in", "checked_address", "recipient_for"]

MAX_ADDRESS = 254  # RFC 5321's longest forward path, less its angle brackets
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")
# An address inside running text: not glued to more address characters on either side.
_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~@-])({_LOCAL}@{_DOMAIN})(?![A-Za-z0-9@-])")


def checked_address(value: object) -> str:
    """The address, lower-cased in its domain, if it is one we may write to; else ``invalid_address``."""
    if not isinstance(value, str) or not 3 <= len(value) <= MAX_ADDRESS or not _ADDRESS.fullmatch(value):
        raise MailRefused("'to' must be one email address such as name@example.com", "invalid_address")
    local, domain = value.rsplit("@", 1)
    if len(local) > 64:
        raise MailRefused("an address's part before the @ may have at most 64 characters", "invalid_address")
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
    and without naming one gets the contact's address, else the latest the customer typed."""
    contact = checked_address(contact_email) if contact_email else ""
    if asked is None:
        chosen = contact or (typed[-1] if typed else "")
        if not chosen:
            raise MailRefused("the customer has given no email address in this conversation", "no_address")
        return chosen
    address = checked_address(asked)
    if by_customer or any(_same(address, allowed) for allowed in ([contact] if contact else []) + typed):
        return address
    raise MailRefused("a transcript goes only to the customer's own address or one they typed in this conversation",
                      "address_not_allowed")
