"""A message request's answer by email too (README "Requests"): the customer who left their email address
with a ``message`` request gets the agent's answer in their mailbox, not only in the chat they may never open
again.

When an agent answers such a request (handoff.requests ``answer``) and mail is set up (README "Transcripts by
email"), one Lua script takes the answer's mail, counts it against the day's cap per recipient (the same
counter as transcripts: handoff.mail) and puts it on the transcripts' outbox stream, with the request's id in
its ``answer`` field: the same consumer group sends it off the live path, with the same retries, lock and
SMTP conversation (handoff.mail ``send_by_smtp``). Once per request, whoever resends the answer: a mail taken
is never taken again (a failed one neither: the answer is in the chat). It goes only to the address the
customer gave with the request (its ``contact``), never to another. The mail holds the business's words,
what the customer asked (their request as it was stored, masked), the agent's answer from their display name
(never the login), no ids, and where to reply (the chat). Without mail set up nothing changes: the answer is
in the chat only, and the agent is told so.

Keys (beside handoff.mail's):

    {p}:answer-mail:{request id}  hash  the answer's mail: state (queued, sent, failed, or not_sent: the
                                        recipient's day cap was reached), to, conversation, message_id (the
                                        answer), requested_at, attempts, sent_at, error; kept as long as
                                        finished conversations
    {p}:answer-mail-lock:{request id}  string  the process sending it now
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Dict, Optional

from redis.exceptions import RedisError

from handoff.exceptions import MailRefused
from handoff.mail import DAY_MS, GROUP, LOCK_MS, SendFailed, TranscriptMail, send_by_smtp
from handoff.mail_rules import checked_address, recipient_digest
from handoff.mail_settings import sender_of

__all__ = ["ANSWER_SUBJECT", "AnswerMail", "answer_mail"]

logger = logging.getLogger(__name__)

ANSWER_SUBJECT = "Your question to us: our answer"
_REPLY_NOTE = ("You can reply in the chat on our website: your conversation is there as you left it. "
               "Please don't reply to this email.")

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
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _plain(question: str, shown_as: str, answer: str) -> str:
    out = [ANSWER_SUBJECT, "", "Thank you for your message. Here is our answer.", ""]
    if question.strip():
        out += ["You asked:", question, ""]
    out += [f"{shown_as} answered:", answer, "", _REPLY_NOTE]
    return "\n".join(out) + "\n"


def _html(question: str, shown_as: str, answer: str) -> str:
    def block(text: str) -> str:
        return html.escape(text).replace("\n", "<br>")
    asked = (f'<p style="color:#555;margin-bottom:2px">You asked:</p>'
             f'<blockquote style="margin:0 0 12px 0;padding-left:8px;border-left:3px solid #ccc">{block(question)}'
             f"</blockquote>") if question.strip() else ""
    return (f'<!DOCTYPE html><html><body style="font-family:sans-serif">'
            f'<h1 style="font-size:1.2em">{html.escape(ANSWER_SUBJECT)}</h1>'
            f"<p>Thank you for your message. Here is our answer.</p>{asked}"
            f'<p style="color:#555;margin-bottom:2px"><strong>{html.escape(shown_as)}</strong> answered:</p>'
            f'<blockquote style="margin:0 0 12px 0;padding-left:8px;border-left:3px solid #2a6">{block(answer)}'
            f'</blockquote><p style="color:#555">{html.escape(_REPLY_NOTE)}</p></body></html>')


def answer_mail(question: str, shown_as: str, answer: str, sender: Address, to: str,
                headers: Dict[str, str]) -> EmailMessage:
    """The email of an agent's ``answer`` (from ``shown_as``, their display name) to the customer's ``question``
    (their request as stored, masked), from ``sender`` to ``to``; ``headers``: Date, Message-ID."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(addr_spec=to)
    mail["Subject"] = ANSWER_SUBJECT
    for name, value in headers.items():
        mail[name] = value
    mail.set_content(_plain(question, shown_as or "Support", answer))
    mail.add_alternative(_html(question, shown_as or "Support", answer), subtype="html")
    return mail


class AnswerMail:
    """Answers by email, through the transcripts' outbox and sender (one per process, beside TranscriptMail)."""

    def __init__(self, transcripts: TranscriptMail) -> None:
        self.transcripts = transcripts
        self.settings, self.store = transcripts.settings, transcripts.store
        self._take = self.store.redis.register_script(_TAKE_ANSWER)
        self._unlock = self.store.redis.register_script(_UNLOCK)
        transcripts.answers = self.deliver  # the outbox's entries with an "answer" field come here

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

    async def deliver(self, entry_id: str, request_id: str, consumer: str) -> None:
        """One attempt at one answer's mail (as TranscriptMail.deliver does for a transcript)."""
        redis, outbox = self.store.redis, self.transcripts.outbox
        lock = self.store.key("answer-mail-lock", request_id)
        if not await redis.set(lock, consumer, nx=True, px=LOCK_MS):
            return
        try:
            mail = await self.state(request_id)
            if not mail or mail.get("state") != "queued":
                await redis.xack(outbox, GROUP, entry_id)  # sent, failed or forgotten meanwhile
                return
            async with redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(self.key(request_id), "attempts", 1)
                pipe.pexpire(self.key(request_id), self.store.ttl_ms)
                attempts = int((await pipe.execute())[0])
            if attempts > self.settings.mail_attempts:
                await self._finish(entry_id, request_id, mail, "failed", "no attempt finished")
                return
            try:
                await asyncio.to_thread(send_by_smtp, self.settings, await self._compose(request_id, mail))
            except SendFailed as failure:
                logger.warning("emailing the answer to request %s failed (attempt %d): %s", request_id, attempts,
                               failure)
                if failure.final or attempts >= self.settings.mail_attempts:
                    await self._finish(entry_id, request_id, mail, "failed", str(failure))
                return  # pending: claimed again after mail_retry_seconds
            await self._finish(entry_id, request_id, mail, "sent", "")
        finally:
            await self._unlock(keys=[lock], args=[consumer])

    async def _compose(self, request_id: str, mail: Dict[str, str]) -> EmailMessage:
        """The mail from what is stored: the request's words and the answer's message; gone (forgotten, expired):
        a failure that will not pass."""
        name, address = sender_of(self.settings.mail_from)
        local, domain = address.rsplit("@", 1)
        try:
            entries = await self.store.redis.xrange(self.store.key("requests"), request_id, request_id)
            messages = await self.store.messages_after(mail["conversation"], None)
        except RedisError as error:
            raise SendFailed(f"the answer could not be read ({type(error).__name__})", final=False) from error
        answer = next((m for m in messages if m["id"] == mail.get("message_id")), None)
        if not entries or answer is None:
            raise SendFailed("the request or its answer is gone", final=True)
        fields = entries[0][1]
        question = "" if fields.get(b"booked_with") == b"bot" else (fields.get(b"description") or b"").decode()
        shown_as = str((answer.get("data") or {}).get("shown_as") or "Support")
        return answer_mail(question, shown_as, str(answer["text"]), Address(display_name=name, username=local,
                                                                           domain=domain),
                           mail["to"], {"Date": formatdate(localtime=False), "Message-ID": make_msgid(domain=domain)})

    async def _finish(self, entry_id: str, request_id: str, mail: Dict[str, str], state: str, error: str) -> None:
        key = self.key(request_id)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"state": state, "error": error,
                                    **({"sent_at": str(int(time.time() * 1000))} if state == "sent" else {})})
            pipe.pexpire(key, self.store.ttl_ms)
            pipe.xack(self.transcripts.outbox, GROUP, entry_id)
            await pipe.execute()
        await self._announce(mail["conversation"])
