"""A conversation's transcript as the customer's email, sans I/O: plain text and HTML (every text escaped).

It holds what the customer saw and nothing more: only the kinds handoff.visibility lets a customer see
(never an agents' private note), agents by their display names (never their logins), no ids, no handoff
payload; attachments named, not attached.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Dict, List, Mapping, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from handoff.visibility import customer_sees

__all__ = ["Line", "SUBJECT", "lines_of", "transcript_mail"]

SUBJECT = "Your chat transcript"
_SPEAKERS = {"customer": "You", "bot": "Virtual assistant", "system": ""}


class Line(NamedTuple):
    """One line of the transcript: when, who (empty for a notice), what, and the file it carried."""

    ts: int
    speaker: str
    text: str
    attachment: str


def _speaker(kind: str, data: Mapping[str, Any]) -> str:
    if kind == "agent":
        return str(data.get("shown_as") or "Support")
    return _SPEAKERS.get(kind, "")


def lines_of(messages: Sequence[Mapping[str, Any]]) -> List[Line]:
    """The customer's view of the transcript."""
    lines = []
    for message in messages:
        kind, data = message["kind"], message.get("data") or {}
        if not customer_sees(kind):
            continue
        attachment = data.get("attachment") or {}
        name = str(attachment.get("name", "")) if isinstance(attachment, dict) else ""
        lines.append(Line(int(message["ts"]), _speaker(kind, data), str(message.get("text", "")), name))
    return lines


def _when(ts: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts / 1000, zone)


def _plain(lines: Sequence[Line], zone: ZoneInfo, started: str) -> str:
    out = [f"{SUBJECT}, {started}", ""]
    for line in lines:
        said = line.text + (f" [file: {line.attachment}]" if line.attachment else "")
        who = f"{line.speaker}: " if line.speaker else "-- "
        out.append(f"{_when(line.ts, zone):%H:%M} {who}{said}")
    return "\n".join(out) + "\n"


def _html(lines: Sequence[Line], zone: ZoneInfo, started: str) -> str:
    rows = []
    for line in lines:
        text = html.escape(line.text).replace("\n", "<br>")
        if line.attachment:
            text += f' <span style="color:#555">[file: {html.escape(line.attachment)}]</span>'
        who = html.escape(line.speaker) if line.speaker else ""
        said = f"<em>{text}</em>" if not line.speaker else text
        rows.append(f'<tr><td style="color:#555;vertical-align:top;padding:2px 8px 2px 0">{_when(line.ts, zone):%H:%M}</td>'
                    f'<td style="vertical-align:top;padding:2px 8px 2px 0"><strong>{who}</strong></td>'
                    f'<td style="padding:2px 0">{said}</td></tr>')
    return (f'<!DOCTYPE html><html><body style="font-family:sans-serif">'
            f"<h1 style=\"font-size:1.2em\">{html.escape(SUBJECT)}, {html.escape(started)}</h1>"
            f"<table>{''.join(rows)}</table></body></html>")


def transcript_mail(messages: Sequence[Mapping[str, Any]], sender: Address, to: str, timezone: str,
                    headers: Dict[str, str]) -> EmailMessage:
    """The email of ``messages`` from ``sender`` to ``to`` (checked by handoff.mail_rules); ``headers``: Date,
    Message-ID (made by the caller, which knows the time and the sender's domain)."""
    zone = ZoneInfo(timezone)
    lines = lines_of(messages)
    started = f"{_when(lines[0].ts, zone):%d %B %Y}" if lines else ""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(addr_spec=to)
    mail["Subject"] = SUBJECT
    for name, value in headers.items():
        mail[name] = value
    mail.set_content(_plain(lines, zone, started))
    mail.add_alternative(_html(lines, zone, started), subtype="html")
    return mail
