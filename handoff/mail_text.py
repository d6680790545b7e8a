"""A conversation's transcript as the customer's email, sans I/O: plain text and HTML (every text escaped).

It holds what the customer saw and nothing more: only the kinds handoff.visibility lets a customer see
(never an agents' private note), agents by their display names (never their logins), no ids, no handoff
payload; attachments named, not attached. Nothing that only made sense in the live chat: no empty bot row (a
reply of buttons or an image only), no "please rate this chat" prompt (the mail cannot be used to rate).
Times say their zone (UTC, or HANDOFF_TIMEZONE's name). The only links are the web addresses the widget
shows as links (absolute http(s), no user name in them, as widget/shared/dom.js ``linkified``): never a
relative one, a file's (it needs the chat's token) or one built from the conversation, so an anonymous
customer's mail has no link that leads nowhere.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Dict, List, Mapping, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from handoff.visibility import customer_sees

__all__ = ["Line", "SUBJECT", "lines_of", "transcript_mail", "zone_note"]

SUBJECT = "Your chat transcript"
_SPEAKERS = {"customer": "You", "bot": "Virtual assistant", "system": ""}
# Notices that ask for something only the live chat can do (rating it): not in a mail.
_LIVE_ONLY_NOTICES = frozenset({"rate"})
# widget/shared/dom.js WEB_ADDRESS and AUTHORITY: what the widget shows as a link, the mail does too.
_WEB_ADDRESS = re.compile(r"\bhttps?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]")
_AUTHORITY = re.compile(r"^https?://([^/?#]*)", re.IGNORECASE)


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
        if not customer_sees(kind) or (kind == "system" and data.get("notice") in _LIVE_ONLY_NOTICES):
            continue
        attachment = data.get("attachment") or {}
        name = str(attachment.get("name", "")) if isinstance(attachment, dict) else ""
        text = str(message.get("text", ""))
        if not text.strip() and not name:
            continue  # buttons or an image alone: nothing to read in a mail
        lines.append(Line(int(message["ts"]), _speaker(kind, data), text, name))
    return lines


def _when(ts: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts / 1000, zone)


def zone_note(zone: ZoneInfo) -> str:
    """What the times are: "Times are in UTC." or "Times are Europe/London time."."""
    name = zone.key
    return "Times are in UTC." if name in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "GMT0") \
        else f"Times are {name} time."


def _linked(text: str) -> str:
    """The text HTML-escaped, with the web addresses the widget links as links (the rest stays text)."""
    out, last = [], 0
    for match in _WEB_ADDRESS.finditer(text):
        found = _AUTHORITY.match(match.group())
        if found is None or "@" in found.group(1):
            continue
        url = match.group()
        out += [html.escape(text[last:match.start()]), f'<a href="{html.escape(url)}">{html.escape(url)}</a>']
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _plain(lines: Sequence[Line], zone: ZoneInfo, started: str) -> str:
    out = [f"{SUBJECT}, {started}", zone_note(zone), ""]
    for line in lines:
        said = line.text + (f" [file: {line.attachment}]" if line.attachment else "")
        who = f"{line.speaker}: " if line.speaker else "-- "
        out.append(f"{_when(line.ts, zone):%H:%M} {who}{said}")
    return "\n".join(out) + "\n"


def _html(lines: Sequence[Line], zone: ZoneInfo, started: str) -> str:
    rows = []
    for line in lines:
        text = _linked(line.text).replace("\n", "<br>")
        if line.attachment:
            text += f' <span style="color:#555">[file: {html.escape(line.attachment)}]</span>'
        who = html.escape(line.speaker) if line.speaker else ""
        said = f"<em>{text}</em>" if not line.speaker else text
        rows.append(f'<tr><td style="color:#555;vertical-align:top;padding:2px 8px 2px 0">{_when(line.ts, zone):%H:%M}</td>'
                    f'<td style="vertical-align:top;padding:2px 8px 2px 0"><strong>{who}</strong></td>'
                    f'<td style="padding:2px 0">{said}</td></tr>')
    return (f'<!DOCTYPE html><html><body style="font-family:sans-serif">'
            f"<h1 style=\"font-size:1.2em\">{html.escape(SUBJECT)}, {html.escape(started)}</h1>"
            f'<p style="color:#555">{html.escape(zone_note(zone))}</p>'
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
