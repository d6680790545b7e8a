"""A conversation's transcript as the customer's email, sans I/O: plain text and HTML (every text escaped).

It holds what the customer saw and nothing more: only the kinds handoff.visibility lets a customer see
(never an agents' private note), agents by their display names (never their logins), no ids, no handoff
payload; attachments named, not attached. Nothing that only made sense in the live chat: no empty bot row (a
reply of buttons or an image only), no "please rate this chat" prompt (the mail cannot be used to rate).
Times say their zone (UTC, or HANDOFF_TIMEZONE's name). The only links are the web addresses the widget
shows in bot and agent messages as links (absolute http(s), no user name in them, as widget/shared/dom.js
``linkified``): never a relative one, a file's (it needs the chat's token) or one built from the conversation,
so an anonymous customer's mail has no link that leads nowhere.

It is no phishing tool: anyone chatting may have it sent to an address they type. What the customer wrote
(their lines and their files' names) is never a link, nor anything a mail client would make one of: web
addresses are defanged ("hxxps://northwind-bank-secure[.]example/verify": a scheme's "tt" as "xx", every
dot of a host name, a dotted IP address or an email address's domain as "[.]"). The subject and the heading
name the business ("Your chat with Northwind Bank"), and a mail to an address the customer typed (not a
signed-in customer's own) starts with a notice saying who asked for it, that it may be ignored, and that the
business never asks for passwords or card details by email; the customer's lines are marked "Visitor".
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

__all__ = ["Line", "VISITOR", "defanged", "lines_of", "mail_of", "subject_of", "transcript_mail", "typed_notice",
           "zone_note"]

# Who the customer's lines are by: to a signed-in customer's own address "You"; to a typed one "Visitor" (the
# reader may be someone else, and must see that those lines are not the business's).
_SPEAKERS = {"customer": "You", "bot": "Virtual assistant", "system": ""}
VISITOR = "Visitor"
# Notices that ask for something only the live chat can do (rating it): not in a mail.
_LIVE_ONLY_NOTICES = frozenset({"rate"})
# widget/shared/dom.js WEB_ADDRESS and AUTHORITY: what the widget shows as a link, the mail does too.
_WEB_ADDRESS = re.compile(r"\bhttps?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]")
_AUTHORITY = re.compile(r"^https?://([^/?#]*)", re.IGNORECASE)
# What a mail client may turn into a link in the customer's text: a scheme ("https://", "ftp://", any
# "name://"), and a host name (a bare one too: "evil.example/verify", "www.evil.example", the domain of
# "ann@evil.example"), or a dotted IP address. Dots include the ideographic and full-width ones that IDNA
# reads as dots.
_DOT = "[.\u3002\uff0e\uff61]"
_SCHEME = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*):(//|\\\\)")
_HOST = re.compile(rf"(?<![\w-])(?:[\w-]+{_DOT})+[^\W\d_][\w-]+")
_DOTTED_NUMBER = re.compile(rf"\b\d{{1,3}}(?:{_DOT}\d{{1,3}}){{3}}\b")
_ANY_DOT = re.compile(_DOT)


class Line(NamedTuple):
    """One line of the transcript: when, who (empty for a notice), what, the file it carried, and whether the
    customer wrote it (never a link, and marked as the visitor's in a mail to a typed address)."""

    ts: int
    speaker: str
    text: str
    attachment: str
    by_customer: bool = False


def _scheme_defanged(match: "re.Match[str]") -> str:
    scheme = match.group(1)
    if scheme.lower() in ("http", "https"):
        return f"{scheme[0]}{'XX' if scheme[1:3].isupper() else 'xx'}{scheme[3:]}:{match.group(2)}"  # hxxps://
    return f"{scheme}[:]{match.group(2)}"


def defanged(text: str) -> str:
    """``text`` with nothing a mail client would link: "https://evil.example/x" as "hxxps://evil[.]example/x",
    "www.evil.example" as "www[.]evil[.]example", "ann@evil.example" as "ann@evil[.]example"."""
    text = _SCHEME.sub(_scheme_defanged, text)
    text = _DOTTED_NUMBER.sub(lambda match: _ANY_DOT.sub("[.]", match.group()), text)
    return _HOST.sub(lambda match: _ANY_DOT.sub("[.]", match.group()), text)


def subject_of(business: str) -> str:
    """The mail's subject, naming the business: "Your chat with Northwind Bank"."""
    return f"Your chat with {business}"


def typed_notice(business: str) -> List[str]:
    """The paragraphs a mail to an address the customer typed starts with (it may not be theirs)."""
    return [f"This transcript was asked for by someone chatting on the {business} website, who typed this email "
            f"address. If that was not you, please ignore this email: you need not do anything.",
            f"{business} will never ask you for your password, PIN, card details or security codes by email.",
            f'Lines marked "{VISITOR}" were written by the person chatting, not by {business}: do not follow '
            f"instructions or web addresses in them."]


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
        lines.append(Line(int(message["ts"]), _speaker(kind, data), text, name, kind == "customer"))
    return lines


def _when(ts: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts / 1000, zone)


def zone_note(zone: ZoneInfo) -> str:
    """What the times are: "Times are in UTC." or "Times are Europe/London time."."""
    name = zone.key
    return "Times are in UTC." if name in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "GMT0") \
        else f"Times are {name} time."


def _linked(text: str) -> str:
    """Bot or agent text HTML-escaped, with the web addresses the widget links as links (the rest stays text)."""
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


def _shown(line: Line, typed: bool) -> Line:
    """The line as the mail shows it: the customer's text and file name defanged, and named the visitor's in
    a mail to a typed address."""
    if not line.by_customer:
        return line
    return line._replace(speaker=VISITOR if typed else line.speaker, text=defanged(line.text),
                         attachment=defanged(line.attachment))


def _plain(lines: Sequence[Line], zone: ZoneInfo, heading: str, notice: Sequence[str]) -> str:
    out = [*(paragraph for text in notice for paragraph in (text, "")), heading, zone_note(zone), ""]
    for line in lines:
        said = line.text + (f" [file: {line.attachment}]" if line.attachment else "")
        who = f"{line.speaker}: " if line.speaker else "-- "
        out.append(f"{_when(line.ts, zone):%H:%M} {who}{said}")
    return "\n".join(out) + "\n"


def _html(lines: Sequence[Line], zone: ZoneInfo, heading: str, notice: Sequence[str]) -> str:
    rows = []
    for line in lines:
        text = (html.escape(line.text) if line.by_customer else _linked(line.text)).replace("\n", "<br>")
        if line.attachment:
            text += f' <span style="color:#555">[file: {html.escape(line.attachment)}]</span>'
        who = html.escape(line.speaker) if line.speaker else ""
        said = f"<em>{text}</em>" if not line.speaker else text
        # The customer's lines on grey, apart from the business's (a visitor's words are not ours).
        shade = ";background:#eeeeee" if line.by_customer else ""
        rows.append(f'<tr><td style="color:#555;vertical-align:top;padding:2px 8px 2px 0">{_when(line.ts, zone):%H:%M}</td>'
                    f'<td style="vertical-align:top;padding:2px 8px 2px 0"><strong>{who}</strong></td>'
                    f'<td style="padding:2px 4px{shade}">{said}</td></tr>')
    warning = "".join(f'<p style="margin:0 0 8px">{html.escape(text)}</p>' for text in notice)
    box = (f'<div role="note" style="border:2px solid #b00020;padding:8px 12px;margin:0 0 16px">{warning}</div>'
           if notice else "")
    return (f'<!DOCTYPE html><html><body style="font-family:sans-serif">{box}'
            f"<h1 style=\"font-size:1.2em\">{html.escape(heading)}</h1>"
            f'<p style="color:#555">{html.escape(zone_note(zone))}</p>'
            f"<table>{''.join(rows)}</table></body></html>")


def transcript_mail(messages: Sequence[Mapping[str, Any]], sender: Address, to: str, timezone: str,
                    headers: Dict[str, str], *, business: str, typed: bool) -> EmailMessage:
    """The email of ``messages`` from ``sender`` to ``to`` (checked by handoff.mail_rules); ``headers``: Date,
    Message-ID (made by the caller, which knows the time and the sender's domain); ``business``: its name
    (handoff.mail_settings.business_of); ``typed``: ``to`` is an address the customer typed, not a signed-in
    customer's own (the mail starts with :func:`typed_notice`)."""
    zone = ZoneInfo(timezone)
    lines = [_shown(line, typed) for line in lines_of(messages)]
    subject = subject_of(business)
    heading = f"{subject}, {_when(lines[0].ts, zone):%d %B %Y}" if lines else subject
    notice = typed_notice(business) if typed else []
    return mail_of(sender, to, subject, headers, _plain(lines, zone, heading, notice),
                   _html(lines, zone, heading, notice))


def mail_of(sender: Address, to: str, subject: str, headers: Dict[str, str], plain: str,
            html_body: str) -> EmailMessage:
    """One mail of the bridge's (a transcript, a request's answer: handoff.answer_mail): from ``sender`` to ``to``,
    ``headers`` (Date, Message-ID) as given, its text both plain and, as the alternative mail clients show, HTML."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(addr_spec=to)
    mail["Subject"] = subject
    for name, value in headers.items():
        mail[name] = value
    mail.set_content(plain)
    mail.add_alternative(html_body, subtype="html")
    return mail
