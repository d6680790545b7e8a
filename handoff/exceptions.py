"""Every error the bridge raises, in one tree.

    HandoffError                 base class; ``code`` is what clients see
    ├── ProtocolError            a message from a client is not acceptable
    │   ├── MalformedMessage     not JSON, not an envelope, wrong field types
    │   │   ├── InvalidContact   neither a phone number nor an email address
    │   │   ├── EmptyText        a text of only spaces or invisible characters
    │   │   └── UnknownButton    a ``payload`` none of the bot's latest buttons
    │   ├── UnknownMessageType   a ``type`` this endpoint does not handle
    │   ├── MessageTooLarge      over the configured size
    │   └── RateLimited          too many messages per second
    ├── AuthError                who is asking is not allowed
    │   ├── InvalidCredentials   wrong agent name or password
    │   ├── InvalidToken         missing, forged or expired token
    │   ├── InvalidIdentity      a customer's signed identity that is forged, malformed or expired
    │   │                        (``identity_expired``), or sent to a bridge that accepts none
    │   ├── IdentityRequired     a signed-in customer's conversation named without their signed
    │   │                        identity (``identity_required``: after a logout, on a shared computer)
    │   └── Forbidden            a valid account without the role this needs
    ├── LimitReached             a cap of handoff.limits (``code`` says which), or of a
    │                            supervisors' set (labels, canned responses: ``too_many``)
    ├── AlreadyExists            a label's name or a canned response's shortcut is taken
    ├── UnknownItem              no such label or canned response (``not_found``)
    ├── SuggestionsUnavailable   the bot did not answer a request for suggested replies
    ├── FileRefused              an attachment that is not an accepted file (``code`` says why)
    ├── MailRefused              a transcript by email that may not be sent (``code`` says why:
    │                            handoff.mail_rules, handoff.mail: ``card_in_address``, an address with a
    │                            card number; ``nothing_to_send``, no message yet; ``mail_limit_unverified``,
    │                            the service's day of mails to typed addresses is full; and the others)
    ├── ArchiveUnavailable       the archive cannot answer: none configured (``archive_off``; reports:
    │                            ``archive_unavailable``), a search cut short (``search_timeout``), a report
    │                            too slow, PostgreSQL down (``archive_unavailable``)
    ├── TeachingFailed           the teaching loop refused a content editor's
    │                            request (``code`` from teaching.errors)
    └── StateError               the conversation cannot do that now
        ├── ConversationNotFound
        ├── InvalidTransition    e.g. an agent message to a bot conversation
        │   └── AgentAtLimit     the agent already serves as many chats as allowed
        ├── AlreadyClaimed       another agent was faster
        ├── TranscriptFull       the conversation has as many messages as it may keep
        └── ConversationClosed   a customer's message, file or "talk to a person" to a closed chat
                                 (``conversation_closed``): it stays as it ended; start a new one

Every error becomes a structured ``error`` reply on the connection that caused
it (``handoff.protocol.error_envelope``); none closes another conversation.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AgentAtLimit",
    "AlreadyClaimed",
    "AlreadyExists",
    "ArchiveUnavailable",
    "AuthError",
    "ConversationClosed",
    "ConversationNotFound",
    "EmptyText",
    "FileRefused",
    "Forbidden",
    "HandoffError",
    "IdentityRequired",
    "InvalidContact",
    "InvalidCredentials",
    "InvalidIdentity",
    "InvalidToken",
    "InvalidTransition",
    "LimitReached",
    "MailRefused",
    "MalformedMessage",
    "MessageTooLarge",
    "ProtocolError",
    "RateLimited",
    "StateError",
    "SuggestionsUnavailable",
    "TeachingFailed",
    "TranscriptFull",
    "UnknownItem",
    "UnknownMessageType",
]


class HandoffError(Exception):
    """Base class; ``code`` is the machine-readable name sent to clients (teaching.errors has the same shape)."""

    code = "internal_error"

    def __init__(self, message: str = "", code: str = "") -> None:
        super().__init__(message)
        if code:
            self.code = code


class ProtocolError(HandoffError):
    code = "bad_message"

    def __init__(self, message: str = "", in_reply_to: Optional[str] = None) -> None:
        super().__init__(message)
        # The id of the frame at fault, when it had a usable one, even if the
        # frame was refused before it became an envelope: the error carries it.
        self.in_reply_to = in_reply_to


class MalformedMessage(ProtocolError):
    code = "malformed"


class InvalidContact(MalformedMessage):
    """Contact details nobody could reply to (a callback or message request needs them)."""

    code = "invalid_contact"


class EmptyText(MalformedMessage):
    """A text with nothing to read: only spaces or invisible characters (zero-width spaces, joiners, BOM)."""

    code = "empty_text"


class UnknownButton(MalformedMessage):
    """A ``payload`` that is none of the buttons the bot offered in its latest turn."""

    code = "unknown_button"


class UnknownMessageType(ProtocolError):
    code = "unknown_type"


class MessageTooLarge(ProtocolError):
    code = "too_large"


class RateLimited(ProtocolError):
    code = "rate_limited"


class AuthError(HandoffError):
    code = "unauthorized"


class InvalidCredentials(AuthError):
    code = "invalid_credentials"


class InvalidToken(AuthError):
    code = "invalid_token"


class InvalidIdentity(AuthError):
    """A ``hello``'s signed identity that is not believed (handoff.identity): nothing is created, and the
    widget says hello again without it, as an anonymous customer."""

    code = "invalid_identity"


class IdentityRequired(AuthError):
    """A conversation linked to a signed-in customer (handoff.contacts), resumed with its token but without
    that customer's signed identity (a ``hello`` without one, a file without ``X-Identity``): refused, so that
    the next person at a shared computer never reads it; the widget forgets it and starts anew."""

    code = "identity_required"


class Forbidden(AuthError):
    code = "forbidden"


class StateError(HandoffError):
    code = "invalid_state"


class ConversationNotFound(StateError):
    code = "not_found"


class InvalidTransition(StateError):
    code = "invalid_transition"


class AgentAtLimit(InvalidTransition):
    code = "at_limit"


class TranscriptFull(StateError):
    code = "transcript_full"


class ConversationClosed(StateError):
    """A closed chat keeps its outcome, labels, rating and mail: what the customer writes next belongs to a new
    conversation (handoff.machine), which the client starts, as the widget does."""

    code = "conversation_closed"


class AlreadyClaimed(StateError):
    """``agent``: who has the conversation (the error's ``data.agent``, so the loser is told who won)."""

    code = "already_claimed"

    def __init__(self, message: str = "", agent: str = "") -> None:
        super().__init__(message)
        self.agent = agent


class LimitReached(HandoffError):
    """A client address (or everyone together) has used up one of the caps of handoff.limits;
    ``retry_at_ms``: when the cap's window ends, if it is one that ends (clients say when to try again)."""

    code = "limit_reached"

    def __init__(self, message: str = "", code: str = "", retry_at_ms: Optional[int] = None) -> None:
        super().__init__(message, code)
        self.retry_at_ms = retry_at_ms


class AlreadyExists(HandoffError):
    """A supervisor named a label, or gave a canned response a shortcut, that another one has."""

    code = "exists"


class UnknownItem(HandoffError):
    """A label or canned response that is not (or no longer) in its set."""

    code = "not_found"


class SuggestionsUnavailable(HandoffError):
    """The bot (Rasa) is down, too slow or refused: the console shows no suggestions."""

    code = "suggestions_unavailable"


class TeachingFailed(HandoffError):
    """Carries a teaching error (its own ``code``) to the content editor's socket."""

    code = "teach_error"


class MailRefused(HandoffError):
    """A transcript by email refused: ``mail_unavailable`` (no SMTP server configured), ``invalid_address``,
    ``address_not_allowed``, ``no_address``, ``already_sent`` (once per conversation), ``mail_limit_address`` or
    ``mail_limit_recipient`` (the caps per client address and per recipient per day)."""

    code = "mail_refused"


class ArchiveUnavailable(HandoffError):
    """The archive (PostgreSQL) cannot answer a search or a report; ``code`` says why."""

    code = "archive_unavailable"


class FileRefused(HandoffError):
    """An attachment refused for what it is: ``unsupported_type``, ``disguised_file``, ``malformed_file``,
    ``unsafe_file`` (handoff.filecheck) or ``too_large``."""

    code = "unsupported_type"

    @classmethod
    def malformed(cls, kind: str, why: str) -> "FileRefused":
        """A file that starts as ``kind`` (PNG, PDF...) but is damaged or not plain: ``malformed_file``."""
        return cls(f"this {kind} is damaged or not a plain {kind} ({why})", code="malformed_file")
