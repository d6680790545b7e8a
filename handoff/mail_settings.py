"""The SMTP settings checked at start-up (README "Transcripts by email"): a mistake stops the bridge with
a clear message rather than failing each transcript later."""

from __future__ import annotations

import ipaddress
import unicodedata
from email.utils import parseaddr
from typing import TYPE_CHECKING, Tuple

from handoff.exceptions import MailRefused
from handoff.mail_rules import checked_address

if TYPE_CHECKING:
    from handoff.settings import Settings

__all__ = ["MAX_BUSINESS_NAME", "SECURITY_MODES", "business_of", "check_mail_settings", "from_name_of", "sender_of"]

SECURITY_MODES = ("starttls", "tls", "none")
MAX_BUSINESS_NAME = 60
# Not in a business's name: what would make it an address, a link or a header's syntax in a From name.
_NOT_IN_NAME = set('<>"@\\/:;,()[]{}')


def sender_of(mail_from: str) -> Tuple[str, str]:
    """HANDOFF_MAIL_FROM as (display name, address): "Support <help@bank.example>" or "help@bank.example"."""
    if any(character in mail_from for character in "\r\n"):
        raise ValueError("HANDOFF_MAIL_FROM must be one line")
    name, address = parseaddr(mail_from)
    try:
        return name, checked_address(address)
    except MailRefused:
        raise ValueError("HANDOFF_MAIL_FROM must be an address such as 'Support <help@bank.example>'") from None


def business_of(business_name: str, mail_from: str) -> str:
    """The business's name as mails give it (HANDOFF_BUSINESS_NAME): one line of at most 60 letters, digits,
    spaces and plain punctuation (no control or invisible character, nothing of an address, link or header:
    ``<>"@\\/:;,()[]{}``); empty: the domain of HANDOFF_MAIL_FROM's address ("bank.example")."""
    if not business_name:
        return sender_of(mail_from)[1].rsplit("@", 1)[1]
    if (len(business_name) > MAX_BUSINESS_NAME or business_name != business_name.strip()
            or any(character in _NOT_IN_NAME or unicodedata.category(character)[0] in "CZ" and character != " "
                   for character in business_name)):
        raise ValueError(f"HANDOFF_BUSINESS_NAME must be the business's name, such as 'Northwind Bank': at most "
                         f"{MAX_BUSINESS_NAME} characters on one line, without control characters or any of "
                         f"<>\"@\\/:;,()[]{{}}")
    return business_name


def from_name_of(business_name: str, mail_from: str) -> str:
    """The From display name: HANDOFF_MAIL_FROM's, led by the business's name unless it names it already
    ("Support" -> "Northwind Bank Support"; "Northwind Bank Help" stays); without one, the business's name."""
    business = business_of(business_name, mail_from)
    name = sender_of(mail_from)[0]
    if not name:
        return business
    return name if business.lower() in name.lower() else f"{business} {name}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_mail_settings(settings: "Settings") -> None:
    """Refuses settings that could not send, or would send a password in the clear over a network."""
    if not settings.smtp_host:
        return
    if settings.smtp_security not in SECURITY_MODES:
        raise ValueError(f"HANDOFF_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
    if settings.smtp_security == "none" and not _is_loopback(settings.smtp_host):
        raise ValueError("HANDOFF_SMTP_SECURITY=none is only for a mail server on loopback (a development sink); "
                         "use starttls or tls")
    if not 0 < settings.smtp_port < 65536:
        raise ValueError("HANDOFF_SMTP_PORT must be a port number")
    if bool(settings.smtp_user) != bool(settings.smtp_password):
        raise ValueError("HANDOFF_SMTP_USER and HANDOFF_SMTP_PASSWORD go together")
    sender_of(settings.mail_from)
    business_of(settings.business_name, settings.mail_from)
    if min(settings.mail_per_address_per_day, settings.mail_per_recipient_per_day, settings.mail_attempts) < 1:
        raise ValueError("HANDOFF_MAIL_PER_ADDRESS_PER_DAY, HANDOFF_MAIL_PER_RECIPIENT_PER_DAY and "
                         "HANDOFF_MAIL_ATTEMPTS must be at least 1")
    if not 0 <= settings.mail_unverified_per_day <= 1_000_000:
        raise ValueError("HANDOFF_MAIL_UNVERIFIED_PER_DAY must be from 0 (only signed-in customers' own addresses) "
                         "to 1000000")
    if not settings.mail_retry_seconds >= 1:  # also refuses nan
        raise ValueError("HANDOFF_MAIL_RETRY_SECONDS must be at least 1")
