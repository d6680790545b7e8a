"""The SMTP settings checked at start-up (README "Transcripts by email"): a mistake stops the bridge with
a clear message rather than failing each transcript later."""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
from typing import TYPE_CHECKING, Tuple

from handoff.exceptions import MailRefused
from handoff.mail_rules import checked_address

if TYPE_CHECKING:
    from handoff.settings import Settings

__all__ = ["SECURITY_MODES", "check_mail_settings", "sender_of"]

SECURITY_MODES = ("starttls", "tls", "none")


def sender_of(mail_from: str) -> Tuple[str, str]:
    """HANDOFF_MAIL_FROM as (display name, address): "Support <help@bank.example>" or "help@bank.example"."""
    if any(character in mail_from for character in "\r\n"):
        raise ValueError("HANDOFF_MAIL_FROM must be one line")
    name, address = parseaddr(mail_from)
    try:
        return name, checked_address(address)
    except MailRefused:
        raise ValueError("HANDOFF_MAIL_FROM must be an address such as 'Support <help@bank.example>'") from None


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
    if min(settings.mail_per_address_per_day, settings.mail_per_recipient_per_day, settings.mail_attempts) < 1:
        raise ValueError("HANDOFF_MAIL_PER_ADDRESS_PER_DAY, HANDOFF_MAIL_PER_RECIPIENT_PER_DAY and "
                         "HANDOFF_MAIL_ATTEMPTS must be at least 1")
    if not 0 <= settings.mail_unverified_per_day <= 1_000_000:
        raise ValueError("HANDOFF_MAIL_UNVERIFIED_PER_DAY must be from 0 (only signed-in customers' own addresses) "
                         "to 1000000")
    if not settings.mail_retry_seconds >= 1:  # also refuses nan
        raise ValueError("HANDOFF_MAIL_RETRY_SECONDS must be at least 1")
