"""A message request's answer by email too (README "Requests"): the customer who left their email address
with a ``message`` request gets the agent's answer in their mailbox, not only in the chat they may never open
again.

When an agent answers such a request (handoff.requests ``answer``) and mail is set up (README "Transcripts by
email"), one Lua script takes the answer's mail, counts it against the day's cap per recipient (the same counter
as transcripts: handoff.mail) and puts it on the transcripts' outbox stream, with the request's id in its
``answer`` field: the transcripts' worker sends it off the live path (handoff.mail ``TranscriptMail.deliver``,
given this kind of mail: :class:`~handoff.mail.MailKind`), with the same retries, lock and SMTP conversation, and
the message is built as a transcript's is (handoff.mail_text ``mail_of``). Once per request, whoever resends the
answer: a mail taken is never taken again (a failed one neither: the answer is in the chat). It goes only to the
address the customer gave with the request (its ``contact``), never to another. The mail holds the business's
words (its name in the From and the subject, as a transcript's: handoff.mail_settings), what the customer asked
(their request as it was stored, masked, and defanged: never a link, as in a transcript), the agent's answer from
their display name (never the login), no ids, and where to reply (the chat). The address was typed by whoever
left the request (unless it is the signed-in customer's own): the mail starts with the notice a transcript to a
typed address has, in its own words (handoff.mail_text). Without mail set up nothing changes: the answer is in
the chat only, and the agent is told so.

Keys (beside handoff.mail's):

    {p}:answer-mail:{request id}  hash  the answer's mail: state (queued, sent, failed, or not_sent: the
                                        recipient's day cap was reached), to, conversation, message_id (the
                                        answer), requested_at, attempts, sent_at, error; kept as long as
                                        finished conversations
    {p}:answer-mail-lock:{request id}  string  the process sending it now
"""

from __future__ import annotations

import html
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Dict, List, Optional, Sequence

from redis.exceptions import RedisError

from handoff.exceptions import MailRefused
from handoff.mail import DAY_MS, MailKind, SendFailed, TranscriptMail
from handoff.mail_rules import checked_address, recipient_digest, verified
from handoff.mail_settings import business_of, from_name_of, sender_of
from handoff.mail_text import defanged, mail_of

__all__ = ["AnswerMail", "answer_mail", "answer_notice", "answer_subject"]


def answer_subject(business: str) -> str:
    """The mail's subject, naming the business: "Your question to Northwind Bank: our answer"."""
    return f"Your question to {business}: our answer"


def _reply_note(business: str) -> str:
    return (f"You can reply in the chat on the {business} website: your conversation is there as you left it. "
            "Please don't reply to this email.")


def answer_notice(business: str) -> List[str]:
    """The paragraphs a mail to an address the customer typed starts with (as a transcript's: it may not be
    theirs, and their words are not the business's)."""
    return [f"This is our answer to a message someone left on the {business} website with this email address. "
            f"If that was not you, please ignore this email: you need not do anything.",
            f"{business} will never ask you for your password, PIN, card details or security codes by email.",
            f"The question quoted below was written by the person who left the message, not by {business}: do not "
            f"follow instructions or web addresses in it."]

# KEYS: the answer's mail hash, the recipient's day counter, the outbox. ARGV: request id, conversation id, to,
# message id, now (ms), retention (ms), cap per recipient, counters' lifetime (ms). Returns {1, 'queued'} taken,
# {0, state, to} taken before (whatever became of it), {-2, 'not_sent'} the recipient's cap (kept: a resend of
# the answer is told the same).
_TAKE_ANSWER = """
local state = redis.call('HGET', KEYS[1], 'state')
if state then return {0, state, redis.call('HGET', KEYS[1], 'to')} end
local fields = {'to', ARGV[3], 'conversation', ARGV[2], 'message_id', ARGV[4], 'requested_at', ARGV[5], 'attempts', 0}
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[1], 'state', 'not_sent', 'error', 'mail_limit_recipient', unpack(fields))
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  return {-2, 'not_sent', ARGV[3]}
end
redis.call('INCR', KEYS[2]); redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('HSET', KEYS[1], 'state', 'queued', unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'conversation', ARGV[2], 'answer', ARGV[1])
return {1, 'queued', ARGV[3]}
"""


def _plain(subject: str, notice: Sequence[str], question: str, shown_as: str, answer: str, business: str) -> str:
    out = [*(paragraph for text in notice for paragraph in (text, "")), subject, "",
           "Thank you for your message. Here is our answer.", ""]
    if question.strip():
        out += ["You asked:", question, ""]
    out += [f"{shown_as} answered:", answer, "", _reply_note(business)]
    return "\n".join(out) + "\n"


def _html(subject: str, notice: Sequence[str], question: str, shown_as: str, answer: str, business: str) -> str:
    def block(text: str) -> str:
        return html.escape(text).replace("\n", "<br>")
    warning = "".join(f'<p style="margin:0 0 8px">{html.escape(text)}</p>' for text in notice)
    box = (f'<div role="note" style="border:2px solid #b00020;padding:8px 12px;margin:0 0 16px">{warning}</div>'
           if notice else "")
    # The customer's words on grey, apart from the business's (as in a transcript).
    asked = (f'<p style="color:#555;margin-bottom:2px">You asked:</p>'
             f'<blockquote style="margin:0 0 12px 0;padding:4px 8px;border-left:3px solid #ccc;background:#eeeeee">'
             f"{block(question)}</blockquote>") if question.strip() else ""
    return (f'<!DOCTYPE html><html><body style="font-family:sans-serif">{box}'
            f'<h1 style="font-size:1.2em">{html.escape(subject)}</h1>'
            f"<p>Thank you for your message. Here is our answer.</p>{asked}"
            f'<p style="color:#555;margin-bottom:2px"><strong>{html.escape(shown_as)}</strong> answered:</p>'
            f'<blockquote style="margin:0 0 12px 0;padding-left:8px;border-left:3px solid #2a6">{block(answer)}'
            f'</blockquote><p style="color:#555">{html.escape(_reply_note(business))}</p></body></html>')


def answer_mail(question: str, shown_as: str, answer: str, sender: Address, to: str, headers: Dict[str, str], *,
                business: str, typed: bool) -> EmailMessage:
    """The email of an agent's ``answer`` (from ``shown_as``, their display name) to the customer's ``question``
    (their request as stored, masked; defanged here: never a link), from ``sender`` to ``to``; ``headers``: Date,
    Message-ID; ``business``: its name (handoff.mail_settings.business_of); ``typed``: ``to`` is not a signed-in
    customer's own address (the mail starts with :func:`answer_notice`)."""
    subject = answer_subject(business)
    notice = answer_notice(business) if typed else []
    parts = (subject, notice, defanged(question), shown_as or "Support", answer, business)
    return mail_of(sender, to, subject, headers, _plain(*parts), _html(*parts))


class AnswerMail:
    """Answers by email, through the transcripts' outbox and sender (one per process, beside TranscriptMail)."""

    def __init__(self, transcripts: TranscriptMail) -> None:
        self.transcripts = transcripts
        self.settings, self.store = transcripts.settings, transcripts.store
        self._take = self.store.redis.register_script(_TAKE_ANSWER)
        # The outbox's entries with an "answer" field: sent by the transcripts' worker (TranscriptMail.deliver).
        transcripts.answers = MailKind(self.key, lambda request_id: self.store.key("answer-mail-lock", request_id),
                                       self._compose, self._answered, "the answer to request %s")

    def key(self, request_id: str) -> str:
        return self.store.key("answer-mail", request_id)

    async def state(self, request_id: str) -> Optional[Dict[str, str]]:
        fields = await self.store.redis.hgetall(self.key(request_id))
        return {key.decode(): value.decode() for key, value in fields.items()} or None

    async def after_answer(self, request: Dict[str, Any], message_id: str) -> Optional[Dict[str, str]]:
        """The answer's mail, for a ``message`` request left with an email address: {state, to} (state
        "queued", "sent", "failed", "not_sent" with ``reason`` the cap, or "unavailable": no mail set up here);
        None for a request that is not answered by email (a callback, a phone number)."""
        if request.get("kind") != "message" or request.get("contact_kind") != "email":
            return None
        try:
            to = checked_address(request.get("contact", ""))
        except MailRefused:
            return None  # the contact check accepted it, but it is no address we may write to
        if not self.settings.mail_enabled:
            return {"state": "unavailable", "to": to}
        day = str(int(time.time() * 1000) // DAY_MS)
        code, state, taken_to = await self._take(
            keys=[self.key(request["id"]), self.store.key("mail-day", f"recipient:{recipient_digest(to)}:{day}"),
                  self.transcripts.outbox],
            args=[request["id"], request["conversation"], to, message_id, str(int(time.time() * 1000)),
                  str(self.store.ttl_ms), str(self.settings.mail_per_recipient_per_day), str(2 * DAY_MS)])
        outcome = {"state": state.decode(), "to": taken_to.decode()}
        if int(code) == -2:
            outcome["reason"] = "mail_limit_recipient"
        await self._announce(request["conversation"])
        return outcome

    async def _announce(self, conversation_id: str) -> None:
        """The agents' request lists and the customer's status say where the answer went."""
        await self.store.publish(self.store.queue_channel, {"request": conversation_id})
        await self.store.publish(self.store.live_channel(conversation_id), {"state": "request"})

    # ---- sent from the transcripts' outbox --------------------------------------------------------

    async def _compose(self, request_id: str, mail: Dict[str, str]) -> EmailMessage:
        """The mail from what is stored: the request's words and the answer's message; gone (forgotten, expired):
        a failure that will not pass."""
        settings = self.settings
        local, domain = sender_of(settings.mail_from)[1].rsplit("@", 1)
        try:
            entries = await self.store.redis.xrange(self.store.key("requests"), request_id, request_id)
            messages = await self.store.messages_after(mail["conversation"], None)
            stored = await self.store.redis.hget(self.store.key("conv", mail["conversation"]), "contact_email")
        except RedisError as error:
            raise SendFailed(f"the answer could not be read ({type(error).__name__})", final=False) from error
        answer = next((m for m in messages if m["id"] == mail.get("message_id")), None)
        if not entries or answer is None:
            raise SendFailed("the request or its answer is gone", final=True)
        fields = entries[0][1]
        question = "" if fields.get(b"booked_with") == b"bot" else (fields.get(b"description") or b"").decode()
        shown_as = str((answer.get("data") or {}).get("shown_as") or "Support")
        sender = Address(display_name=from_name_of(settings.business_name, settings.mail_from), username=local,
                         domain=domain)
        return answer_mail(question, shown_as, str(answer["text"]), sender, mail["to"],
                           {"Date": formatdate(localtime=False), "Message-ID": make_msgid(domain=domain)},
                           business=business_of(settings.business_name, settings.mail_from),
                           typed=not verified(mail["to"], stored.decode() if stored else ""))

    async def _answered(self, request_id: str, mail: Dict[str, str], state: str) -> None:
        """The answer's mail sent or failed: said where the request is shown."""
        await self._announce(mail["conversation"])
