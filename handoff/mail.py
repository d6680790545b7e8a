"""Transcripts by email: asked for on the live path, sent off it (README "Transcripts by email").

A request (the customer's, or an agent's from the console) is checked (handoff.mail_rules), then one Lua
script takes the conversation's only transcript, counts it against the day's caps per client address, per
recipient and, for an address the customer typed (not the identified customer's own), the service's cap of
such mails (HANDOFF_MAIL_UNVERIFIED_PER_DAY), and puts it on the outbox stream: at most once per
conversation, whichever processes ask at once.
Every bridge process reads the outbox in one consumer group (:meth:`TranscriptMail.run`), so a mail waits for no
socket: the SMTP conversation runs in a thread. One worker (:meth:`TranscriptMail.deliver`) sends every kind of
mail on the outbox, a transcript or a request's answer (handoff.answer_mail), each described by a
:class:`MailKind`. A failure that may pass (the server away, a 4xx reply) is left pending and claimed again by
any process after HANDOFF_MAIL_RETRY_SECONDS, up to HANDOFF_MAIL_ATTEMPTS times; then, or at once on a 5xx
refusal, the mail has failed and may be asked for again. Either outcome is a system notice in the transcript, so
the customer and the agent see it.

Keys (beside handoff.store's):

    {p}:mail:{id}        hash    the conversation's transcript mail: state (queued, sent, failed), to, by
                                 ("customer" or the agent's login), requested_at, attempts, sent_at, error;
                                 kept as long as finished conversations
    {p}:mail-outbox      stream  conversation ids to send, read by the consumer group "mailers"; an entry with
                                 an "answer" field (a request id) is a request's answer (handoff.answer_mail)
    {p}:mail-lock:{id}   string  the process sending it now (a slow server is not sent to twice)
    {p}:mail-day:address:{address}:{day}, {p}:mail-day:recipient:{sha256}:{day}  strings  transcripts
                                 asked for that UTC day (day number) per client address and per recipient
                                 (its mailbox: handoff.mail_rules.mailbox_of, "+tags" and case aside)
    {p}:mail-day:unverified:{day}  string  transcripts to typed (unverified) addresses that UTC day, all told
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from redis.exceptions import RedisError, ResponseError

from handoff.exceptions import MailRefused
from handoff.trust import address_group
from handoff.mail_rules import addresses_in, recipient_digest, recipient_for, verified
from handoff.mail_settings import business_of, from_name_of, sender_of
from handoff.mail_text import lines_of, transcript_mail
from handoff.settings import Settings
from handoff.store import Store

__all__ = ["GROUP", "MailKind", "TranscriptMail", "send_by_smtp"]

logger = logging.getLogger(__name__)

GROUP = "mailers"
DAY_MS = 24 * 3600 * 1000
SMTP_TIMEOUT_SECONDS = 30.0
LOCK_MS = int(SMTP_TIMEOUT_SECONDS * 4 * 1000)  # longer than one SMTP conversation can take

# KEYS: mail hash, address counter, recipient counter, outbox, the day's unverified counter. ARGV: conversation
# id, to, by, now, retention (ms), cap per address, cap per recipient, counters' lifetime (ms), "1" when `to` is a
# typed (unverified) address, the day's cap of those. Returns {1} taken, {0, state, to} taken already, {-1} the
# address's cap, {-2} the recipient's, {-3} the service's for unverified addresses.
_TAKE = """
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'failed' then return {0, state, redis.call('HGET', KEYS[1], 'to')} end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[6]) then return {-1} end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[7]) then return {-2} end
local unverified = ARGV[9] == '1'
if unverified and tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[10]) then return {-3} end
for i = 2, 3 do redis.call('INCR', KEYS[i]); redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
if unverified then redis.call('INCR', KEYS[5]); redis.call('PEXPIRE', KEYS[5], ARGV[8]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'queued', 'to', ARGV[2], 'by', ARGV[3], 'requested_at', ARGV[4], 'attempts', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 100000, '*', 'conversation', ARGV[1])
return {1}
"""
# KEYS: the lock. ARGV: its owner. Lets go of it only if it is still theirs (it may have run out meanwhile).
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SendFailed(Exception):
    """An SMTP attempt's failure; ``final``: no use trying again (the server refused with 5xx)."""

    def __init__(self, message: str, final: bool) -> None:
        super().__init__(message)
        self.final = final


def send_by_smtp(settings: Settings, mail: EmailMessage) -> None:
    """One SMTP conversation (blocking: run it in a thread), with STARTTLS or TLS as configured."""
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if settings.smtp_security == "tls":
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS,
                                      context=context)
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=context)
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password)
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise SendFailed(f"recipient refused ({codes})", final=all(code >= 500 for code in codes)) from error
    except smtplib.SMTPResponseException as error:
        raise SendFailed(f"the server answered {error.smtp_code}", final=error.smtp_code >= 500) from error
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailed(f"no conversation with the server ({type(error).__name__})", final=False) from error


@dataclass(frozen=True)
class MailKind:
    """One kind of the outbox's mails, each named by an id (a conversation's, a request's): the hash of its state
    (state, to, attempts, requested_at, sent_at, error) and its lock, how its mail is made from that state, what
    follows its outcome ("sent" or "failed"), and how the log names it ("the transcript of %s")."""

    state_key: Callable[[str], str]
    lock_key: Callable[[str], str]
    compose: Callable[[str, Dict[str, str]], Awaitable[EmailMessage]]
    finished: Callable[[str, Dict[str, str], str], Awaitable[None]]
    named: str


class TranscriptMail:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.outbox = store.key("mail-outbox")
        self._take = store.redis.register_script(_TAKE)
        self._unlock = store.redis.register_script(_UNLOCK)
        self.transcripts = MailKind(lambda conversation_id: store.key("mail", conversation_id),
                                    lambda conversation_id: store.key("mail-lock", conversation_id),
                                    self._compose, self._noticed, "the transcript of %s")
        # The outbox's entries that carry an "answer" field: a request's answer (handoff.answer_mail).
        self.answers: Optional[MailKind] = None

    def require_enabled(self) -> None:
        if not self.settings.mail_enabled:
            raise MailRefused("transcripts by email are not set up here", "mail_unavailable")

    async def typed_addresses(self, conversation_id: str,
                              messages: Optional[List[Dict[str, Any]]] = None) -> List[str]:
        """The addresses the customer typed in the conversation: in their messages, and in their own request."""
        if messages is None:
            messages = await self.store.messages_after(conversation_id, None)
        typed = addresses_in(message["text"] for message in messages if message["kind"] == "customer")
        mail = await self.state(conversation_id)
        if mail and mail.get("by") == "customer" and mail.get("to") and mail["to"] not in typed:
            typed.append(mail["to"])
        return typed

    async def request(self, conversation_id: str, asked: object, by: str, client: str = "") -> Dict[str, str]:
        """Take the conversation's transcript mail for ``asked`` (None: an agent leaves it to the rules); ``by``:
        "customer" or the agent's login; ``client``: the customer's address, counted against the day's cap
        (an agent's request: the address that started the conversation). Returns {state: "queued", to}."""
        self.require_enabled()
        await self.store.load(conversation_id)  # ConversationNotFound
        contact, started_from = (value.decode() if value else "" for value in await self.store.redis.hmget(
            self.store.key("conv", conversation_id), ["contact_email", "client"]))
        client = client or started_from
        by_customer = by == "customer"
        taken = await self.state(conversation_id)  # said first, whatever else is wrong (the script decides)
        if taken and taken.get("state") != "failed":
            raise self._already(taken.get("state", ""), taken.get("to", ""))
        messages = await self.store.messages_after(conversation_id, None)
        typed = [] if by_customer else await self.typed_addresses(conversation_id, messages)
        try:
            to = recipient_for(asked, by_customer, contact, typed)
        except MailRefused as refusal:
            if refusal.code == "invalid_address" and asked is None:  # a contact_email we could never write to
                raise MailRefused("the customer's address cannot be written to", "no_address") from None
            raise
        if not lines_of(messages):
            raise MailRefused("this conversation has nothing to send yet: write first, then ask", "nothing_to_send")
        day = str(int(time.time() * 1000) // DAY_MS)
        recipient = recipient_digest(to)  # variants of one mailbox ("+tags", case) share its cap
        result = await self._take(
            keys=[self.store.key("mail", conversation_id),
                  self.store.key("mail-day", f"address:{address_group(client, self.settings.ipv6_prefix)}:{day}"),
                  self.store.key("mail-day", f"recipient:{recipient}:{day}"), self.outbox,
                  self.store.key("mail-day", f"unverified:{day}")],
            args=[conversation_id, to, by, str(int(time.time() * 1000)), str(self.store.ttl_ms),
                  str(self.settings.mail_per_address_per_day), str(self.settings.mail_per_recipient_per_day),
                  str(2 * DAY_MS), "0" if verified(to, contact) else "1",
                  str(self.settings.mail_unverified_per_day)])
        code = int(result[0])
        if code == 0:
            raise self._already(result[1].decode(), result[2].decode())
        if code == -1:
            raise MailRefused("as many transcripts as one address may ask for today were sent", "mail_limit_address")
        if code == -2:
            raise MailRefused("as many transcripts as one recipient may get today were sent", "mail_limit_recipient")
        if code == -3:
            raise MailRefused("as many transcripts to addresses typed in a chat as we send in a day were sent; "
                              "a signed-in customer's own address still works", "mail_limit_unverified")
        return {"state": "queued", "to": to}

    @staticmethod
    def _already(state: str, to: str) -> MailRefused:
        return MailRefused(f"this conversation's transcript was emailed already ({state}, to {to})", "already_sent")

    async def addresses(self, conversation_id: str) -> Dict[str, Any]:
        """What an agent may choose from: {verified: the identified customer's own address or None, typed: the
        addresses the customer typed in the conversation, oldest first, without the verified one}."""
        await self.store.load(conversation_id)  # ConversationNotFound
        stored = await self.store.redis.hget(self.store.key("conv", conversation_id), "contact_email")
        contact = stored.decode() if stored else ""
        typed = [address for address in await self.typed_addresses(conversation_id) if not verified(address, contact)]
        return {"verified": contact or None, "typed": typed}

    async def state(self, item_id: str, kind: Optional[MailKind] = None) -> Optional[Dict[str, str]]:
        """The state hash of a mail of ``kind`` (default: a conversation's transcript); None: none asked for."""
        fields = await self.store.redis.hgetall((kind or self.transcripts).state_key(item_id))
        return {key.decode(): value.decode() for key, value in fields.items()} or None

    # ---- the outbox, read by every process -------------------------------------------------------

    async def run(self, consumer: str) -> None:
        """Sends what the outbox holds, as one of the group's consumers, for as long as the server runs."""
        grouped = False
        while True:
            try:
                if not grouped:
                    await self._ensure_group()
                    grouped = True
                for entry_id, conversation_id, answer in await self._due(consumer):
                    if answer and self.answers is not None:
                        await self.deliver(self.answers, entry_id, answer, consumer)
                    else:
                        await self.deliver(self.transcripts, entry_id, conversation_id, consumer)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a Redis blip (or its data lost): the next round tries again
                logger.exception("a round of the transcript outbox failed")
                grouped = False
                await asyncio.sleep(1.0)

    async def _ensure_group(self) -> None:
        try:
            await self.store.redis.xgroup_create(self.outbox, GROUP, id="0", mkstream=True)
        except ResponseError:
            pass  # it exists (every process creates it; the first one does)

    async def _due(self, consumer: str) -> List[Tuple[str, str, str]]:
        """Entries left pending by a failed attempt or a process that died, then new ones (waiting a second)."""
        retry_ms = int(self.settings.mail_retry_seconds * 1000)
        reclaimed = await self.store.redis.xautoclaim(self.outbox, GROUP, consumer, retry_ms, "0-0", count=10)
        entries = list(reclaimed[1])
        if not entries:
            read = await self.store.redis.xreadgroup(GROUP, consumer, {self.outbox: ">"}, count=10, block=1000)
            entries = [entry for _, stream_entries in read for entry in stream_entries]
        return [(entry_id.decode(), fields.get(b"conversation", b"").decode(), fields.get(b"answer", b"").decode())
                for entry_id, fields in entries if fields is not None]

    async def deliver(self, kind: MailKind, entry_id: str, item_id: str, consumer: str) -> None:
        """One attempt at one mail of ``kind``; another process's attempt under way (its lock) is left to it."""
        redis = self.store.redis
        lock = kind.lock_key(item_id)
        if not await redis.set(lock, consumer, nx=True, px=LOCK_MS):
            return
        try:
            mail = await self.state(item_id, kind) or {}
            if mail.get("state") != "queued":
                await redis.xack(self.outbox, GROUP, entry_id)  # sent, failed, forgotten or expired meanwhile
                return
            async with redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(kind.state_key(item_id), "attempts", 1)
                pipe.pexpire(kind.state_key(item_id), self.store.ttl_ms)
                attempts = int((await pipe.execute())[0])
            if attempts > self.settings.mail_attempts:  # the earlier attempts never ended (a process died, a bug)
                await self._finish(kind, entry_id, item_id, mail, "failed", "no attempt finished")
                return
            try:
                await asyncio.to_thread(send_by_smtp, self.settings, await kind.compose(item_id, mail))
            except SendFailed as failure:
                logger.warning("emailing %s failed (attempt %d): %s", kind.named % item_id, attempts, failure)
                if failure.final or attempts >= self.settings.mail_attempts:
                    await self._finish(kind, entry_id, item_id, mail, "failed", str(failure))
                return  # pending: claimed again after mail_retry_seconds
            await self._finish(kind, entry_id, item_id, mail, "sent", "")
        finally:
            await self._unlock(keys=[lock], args=[consumer])

    async def _compose(self, conversation_id: str, mail: Dict[str, str]) -> EmailMessage:
        """The mail of the transcript as it is now, from the business (its name in the From and the subject),
        with the notice for a typed address unless ``to`` is the signed-in customer's own; a failure to read it
        (Redis away) is one that may pass."""
        settings = self.settings
        local, domain = sender_of(settings.mail_from)[1].rsplit("@", 1)
        try:
            messages = await self.store.messages_after(conversation_id, None)
            stored = await self.store.redis.hget(self.store.key("conv", conversation_id), "contact_email")
        except RedisError as error:
            raise SendFailed(f"the transcript could not be read ({type(error).__name__})", final=False) from error
        sender = Address(display_name=from_name_of(settings.business_name, settings.mail_from), username=local,
                         domain=domain)
        to = mail["to"]
        return transcript_mail(messages, sender, to, settings.timezone,
                               {"Date": formatdate(localtime=False), "Message-ID": make_msgid(domain=domain)},
                               business=business_of(settings.business_name, settings.mail_from),
                               typed=not verified(to, stored.decode() if stored else ""))

    async def _finish(self, kind: MailKind, entry_id: str, item_id: str, mail: Dict[str, str], state: str,
                      error: str) -> None:
        """The outcome stored (kept as long as finished conversations, from it), the entry done, then what follows."""
        key = kind.state_key(item_id)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"state": state, "error": error,
                                    **({"sent_at": str(int(time.time() * 1000))} if state == "sent" else {})})
            pipe.pexpire(key, self.store.ttl_ms)
            pipe.xack(self.outbox, GROUP, entry_id)
            await pipe.execute()
        await kind.finished(item_id, mail, state)

    async def _noticed(self, conversation_id: str, mail: Dict[str, str], state: str) -> None:
        """A transcript's outcome, as a notice in the transcript for the customer and the agent."""
        to = mail["to"]
        text = (f"We've emailed the transcript of this chat to {to}." if state == "sent" else
                f"We couldn't email the transcript to {to}. You can ask for it again.")
        data: Dict[str, Any] = {"notice": f"transcript_{state}", "to": to}
        try:
            await self.store.append(conversation_id, "system", f"mail:{mail['requested_at']}:{state}", text, data)
        except Exception:  # noqa: BLE001 - the outcome is stored; a transcript that expired or is full has no notice
            logger.exception("the notice of the transcript mail of %s was not stored", conversation_id)
