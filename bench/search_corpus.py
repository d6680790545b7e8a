"""A generated archive for the search benchmark: conversations of a banking support desk with messages of
realistic lengths (customers' short questions, the bot's longer answers, agents' replies and notes), some
in Spanish, Arabic, Persian and Thai, loaded into PostgreSQL with COPY (psql, so any environment can run it).

The text is made from our own phrase lists (no public dataset's sentences). The messages' full-text and
trigram indexes are built after the COPY, as a bulk load should: about ten times faster than keeping them
up to date row by row.
"""

from __future__ import annotations

import io
import random
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from harness.postgres import PostgresServer

__all__ = ["RARE_WORD", "load_corpus"]

MIGRATIONS = Path(__file__).resolve().parent.parent / "archive" / "migrations"
RARE_WORD = "zephyrine"  # in 20 messages, whatever the size
GROUPS = ["general", "cards", "payments", "loans"]
AGENTS = [f"agent{n:02d}" for n in range(40)]
DISPOSITIONS = ["resolved", "not resolved", "follow-up needed", None]
CUSTOMER = ["my card was declined at the shop", "I was charged twice for the same payment", "where is my new card",
            "the transfer to my savings account has not arrived", "how do I change my PIN", "I lost my wallet",
            "can I get a refund for this fee", "the app says my account is locked", "I want to talk to a person",
            "why is there a pending transaction", "my salary did not come in today", "how long does a top up take",
            "thanks", "it still does not work", "I already tried that", "the ATM kept my card", "yes please",
            "I need a statement for last month", "someone used my card abroad", "what is the exchange rate"]
BOT = ["I can help with that. Cards are usually declined when the shop's terminal cannot reach us or when the "
       "daily limit is reached; you can see and change your limits under Cards, Limits in the app.",
       "A transfer between your own accounts arrives at once; a transfer to another bank can take up to two "
       "working days, and a payment made after 6 pm is sent the next working day.",
       "You can change your PIN at any of our cash machines: insert your card, choose PIN services and follow "
       "the steps. The new PIN works at once.",
       "I'm sorry to hear that. I have frozen the card for now; you can unfreeze it in the app if you find it.",
       "Pending transactions are payments the shop has asked for but not yet collected. Most are settled "
       "within three days; if a shop never collects, the money comes back by itself after seven days."]
AGENT = ["Thanks for waiting, I'm looking at your account now.", "I can see the two payments; I have refunded the second one.",
         "Your new card was posted on Monday and should arrive within five working days.",
         "I have unlocked your account; please log in again and set a new password.",
         "Is there anything else I can help you with today?", "I have raised this with our payments team."]
NOTES = ["customer verified by security questions", "second time this month, check the terminal id",
         "escalated to fraud team", "asked for a call back tomorrow morning"]
OTHER_LANGUAGES = ["mi tarjeta fue rechazada en la tienda", "no he recibido la transferencia",
                   "لا أستطيع تسجيل الدخول إلى حسابي", "بطاقتي لا تعمل في الصراف الآلي",
                   "رمز عبور من کار نمی کند", "کارت من مسدود شده است",
                   "บัตรเครดิตของฉันถูกระงับ", "ฉันโอนเงินแล้วแต่ยังไม่ได้รับ", "ขอเปลี่ยนรหัสผ่านบัตร"]


def _words(rng: random.Random, phrases: Sequence[str], low: int, high: int) -> str:
    """Phrases joined up to a length drawn between ``low`` and ``high`` characters."""
    target = rng.randint(low, high)
    text = rng.choice(phrases)
    while len(text) < target:
        text += " " + rng.choice(phrases)
    return text


def _message(rng: random.Random, sender: str) -> str:
    if sender == "customer":
        if rng.random() < 0.08:
            return rng.choice(OTHER_LANGUAGES)
        return _words(rng, CUSTOMER, 5, 90)
    if sender == "bot":
        return _words(rng, BOT, 80, 400)
    if sender == "agent":
        return _words(rng, AGENT, 20, 160)
    return _words(rng, NOTES, 15, 80)


def _escaped(value: object) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _rows(messages: int, days: int, seed: int) -> Iterator[Tuple[str, List[Optional[str]]]]:
    """("conversations" | "messages", the row's values), the conversations' spread over ``days`` up to now."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    made, number = 0, 0
    rare_every = max(1, messages // 20)
    while made < messages:
        number += 1
        conversation_id = f"bench-{number:08d}"
        started = now - timedelta(seconds=rng.uniform(0, days * 86400))
        served = rng.random() < 0.35
        agent = rng.choice(AGENTS) if served else None
        yield "conversations", [conversation_id, rng.choice(GROUPS), started.isoformat(), "closed" if served else "bot",
                                agent, rng.choice(DISPOSITIONS) if served else None,
                                started.isoformat() if served else None, started.isoformat() if served else None]
        senders = ["customer", "bot"] * rng.randint(1, 4) + (["customer", "agent"] * rng.randint(2, 6) + ["note"] if served else [])
        for turn, sender in enumerate(senders):
            if made >= messages:
                break
            made += 1
            sent = started + timedelta(seconds=turn * 20)
            ms = int(sent.timestamp() * 1000)
            text = _message(rng, sender)
            if made % rare_every == rare_every // 2:
                text += f" {RARE_WORD}"
            yield "messages", [conversation_id, f"{ms}-{turn}", str(ms * 1_000_000 + turn), sent.isoformat(), sender,
                               agent if sender in ("agent", "note") else None, text]


def _psql(server: PostgresServer, database: str, *arguments: str, stdin: bytes = b"") -> None:
    subprocess.run([str(server.bin / "psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-d", database,
                    "-X", "-q", "-v", "ON_ERROR_STOP=1", *arguments], input=stdin, env=server._client_env(), check=True,
                   capture_output=True)


def load_corpus(server: PostgresServer, database: str, messages: int, days: int = 90, seed: int = 17) -> Dict[str, int]:
    """The archive's schema (every migration), then ``messages`` generated messages with their conversations."""
    for migration in sorted(MIGRATIONS.glob("*.sql")):
        _psql(server, database, "-f", str(migration))
    _psql(server, database, "-c", "DROP INDEX messages_words; DROP INDEX messages_trigrams; DROP INDEX messages_order;"
                                  " DROP INDEX messages_sent")
    buffers = {"conversations": io.StringIO(), "messages": io.StringIO()}
    counts = {"conversations": 0, "messages": 0}
    for table, values in _rows(messages, days, seed):
        buffers[table].write("\t".join(_escaped(value) for value in values) + "\n")
        counts[table] += 1
    _psql(server, database, "-c", "COPY conversations (id, skill_group, started_at, state, agent, disposition,"
                                  " first_queued_at, first_claimed_at) FROM STDIN",
          stdin=buffers["conversations"].getvalue().encode())
    _psql(server, database, "-c", "COPY messages (conversation_id, id, position, sent_at, sender, author, text) FROM STDIN",
          stdin=buffers["messages"].getvalue().encode())
    _psql(server, database, "-c", "SET maintenance_work_mem = '256MB'; "
                                  "CREATE INDEX messages_order ON messages (conversation_id, position); "
                                  "CREATE INDEX messages_sent ON messages (sent_at); "
                                  "CREATE INDEX messages_words ON messages USING gin (words); "
                                  "CREATE INDEX messages_trigrams ON messages USING gin (text gin_trgm_ops); "
                                  "ANALYZE")
    return counts
