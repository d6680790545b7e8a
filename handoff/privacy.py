"""What a customer must never send us, masked: card numbers, security codes, passwords and PINs (sans I/O).

``mask(text)`` is the one place these rules live. The bridge applies it at its edge to every text a
customer sends (handoff/connections/customer.py, handoff/endpoints/attachments.py), before anything is
stored, sent to Rasa, logged or announced, so everything downstream sees only the masked text.

- A card number is 13 to 19 digits (any script's digits: Arabic-Indic, full-width, ...), together or in
  groups joined by up to three spaces, dashes, dots or underscores, that pass the Luhn check and start
  as a card network's numbers do (2221-2720, 30, 34-38, 4, 5, 6). A run of groups is searched for the
  longest such part, so an amount typed just before the card does not hide it. Never a phone number (a
  run after ``+``) nor a part of an IBAN (its country, check digits and groups).
- A security code is 3 or 4 digits a few words after CVV, CVC, CID, "security code" and their
  equivalents in the languages we serve; a PIN is 4 to 8 digits right after "PIN" (and equivalents).
- A password is the word (or the quoted words) after "password", "pw", "contraseña", ...: after "is"
  or ":" unless that word says something about the password ("is wrong", "not working"); with nothing
  between, only a word that looks like one (a digit or a sign in it), so "password reset" stays.

Evaluated on our own messages (tests/privacy/, bench/privacy.py; figures in docs/benchmarks.md).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from handoff.protocol import readable

__all__ = ["Found", "Masking", "PLACEHOLDER", "Secret", "luhn_valid", "mask", "mask_fields", "mask_typed"]


class Secret(enum.Enum):
    CARD = "card"
    SECURITY_CODE = "code"
    PASSWORD = "password"
    PIN = "pin"


PLACEHOLDER = {Secret.CARD: "[card number]", Secret.SECURITY_CODE: "[security code]", Secret.PASSWORD: "[password]",
               Secret.PIN: "[PIN]"}


@dataclass(frozen=True)
class Found:
    """Where something was masked in the original text (never the secret itself, so it may be logged)."""

    kind: Secret
    start: int
    end: int


@dataclass(frozen=True)
class Masking:
    text: str
    found: Tuple[Found, ...]

    @property
    def kinds(self) -> Tuple[Secret, ...]:
        return tuple(dict.fromkeys(item.kind for item in self.found))


# Between groups, one to three separators ("4111  1111", "4111 - 1111"): a space or tab (any width, as
# locales and copied text have them), a dash, a dot, an underscore (file names), or an invisible character
# that a copy from a web page can leave.
_SEPARATOR = "[ \t.\\-_\u00a0\u2007\u2009\u202f\u2010-\u2013\u200b-\u200f\u2060]"
# A run of digit groups; not inside a word or a longer number (ASCII letters: an identifier like TXN123...).
_DIGIT_RUN = re.compile(rf"(?<![\dA-Za-z])\d+(?:{_SEPARATOR}{{1,3}}\d+)*(?![\dA-Za-z])")
_GROUP = re.compile(r"\d+")
_IBAN_LIKE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])")
_CARD_DIGITS = range(13, 20)

_CODE_WORDS = (r"cvv ?2|cvc ?2|cvv|cvc|cvn|cid|csc|security code|card code|c[oó]digo de seguridad|"
               r"cryptogramme(?: visuel)?|kartenpr[uü]fnummer|pr[uü]fnummer|pr[uü]fziffer|sicherheitscode|"
               r"رمز الأمان|رمز التحقق|رمز الحماية")
# Up to four short words between the word and the code ("the cvv on the back is 275").
_SECURITY_CODE = re.compile(rf"\b(?:{_CODE_WORDS})(?:[\s:=#\-]*[^\W\d_]{{1,6}}){{0,4}}?[\s:=#\-]*"
                            rf"(?P<secret>\d{{3,4}})(?![\d/]|[.,]\d)", re.IGNORECASE)
_PIN_WORDS = (r"(?:code |c[oó]digo )?pin(?:[ -]?(?:code|number|nummer))?|geheimzahl|"
              r"رقم التعريف الشخصي|الرقم السري")
_PIN = re.compile(rf"\b(?:{_PIN_WORDS})(?:\s*(?:is|es|est|ist|era|هو|:|=|#))*\s*"
                  rf"(?P<secret>\d{{4,8}})(?![\d/]|[.,]\d)", re.IGNORECASE)
_PASSWORD_WORDS = (r"password|pass word|passwort|passcode|passwd|pwd|pw|contrase[ñn]a|mot de passe|senha|"
                   r"كلمة المرور|كلمة السر|كلمه المرور")
_PASSWORD = re.compile(
    rf"\b(?:(?P<word>{_PASSWORD_WORDS})|(?P<weak>pass|clave))\b"
    r"(?P<link>\s*(?:(?:is|es|est|ist|era|هي|هو)\b\s*)?[:=]\s*|\s+(?:is|es|est|ist|era|هي|هو)\s+|\s+)"
    r"(?:\"(?P<quoted>[^\"\n]{1,64})\"|[“'‘](?P<curly>[^”’'\n]{1,64})[”’']|(?P<bare>[^\s\"“]{1,64}))",
    re.IGNORECASE)
# Words after "password is" that say something about the password, in the languages we serve.
_ABOUT_THE_PASSWORD = frozenset("""
    not no wrong incorrect invalid expired locked blocked too correct right the my a an same still case weak strong
    changed reset working doesn't does didn't isn't wasn't was has had being ok okay fine forgotten lost stolen
    compromised required needed sensitive different new old empty short long saved and or for of to in on with
    that this it which when if but please
    incorrecta incorrecto mal caducada bloqueada olvidada nueva vieja es la el muy
    faux fausse incorrecte expiré bloqué oublié nouveau pas trop le la
    falsch nicht abgelaufen gesperrt neu alt das zu
    خطأ خاطئة غير
""".split())
_PUNCTUATION_AFTER = ",;.)"


def luhn_valid(digits: str) -> bool:
    """The Luhn check every card number passes (digits of any script)."""
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = unicodedata.digit(character)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _ascii(digits: str) -> str:
    return "".join(str(unicodedata.digit(character)) for character in digits)


def _card_network(digits: str) -> bool:
    """Starts as a card network's numbers do: Mastercard's 2-series, Amex, Diners, JCB, Visa, 5 and 6."""
    first, two, four = int(digits[0]), int(digits[:2]), int(digits[:4])
    return first in (4, 5, 6) or (first == 3 and two in (30, 34, 35, 36, 37, 38)) or 2221 <= four <= 2720


def _iban_valid(characters: str) -> bool:
    """ISO 13616's check: the country and check digits moved to the end, letters as numbers, mod 97 is 1."""
    moved = characters[4:] + characters[:4]
    return int("".join(str(int(character, 36)) for character in moved)) % 97 == 1


def _iban_spans(text: str) -> List[Tuple[int, int]]:
    """Where IBANs are: each IBAN-like run up to where its check digits say it ends (a card may follow
    it), or all of it when no length checks (a mistyped IBAN is still no card)."""
    spans = []
    for match in _IBAN_LIKE.finditer(text):
        ends = [match.start() + 4 + part.end() for part in re.finditer(r" ?[A-Z0-9]{1,4}", match.group()[4:])]
        valid = [end for end in ends if 15 <= len(text[match.start():end].replace(" ", "")) <= 34
                 and _iban_valid(text[match.start():end].replace(" ", ""))]
        spans.append((match.start(), valid[-1] if valid else match.end()))
    return spans


def _cards(text: str) -> Iterator[Found]:
    ibans = _iban_spans(text)
    for run in _DIGIT_RUN.finditer(text):
        if run.start() and text[run.start() - 1] == "+":
            continue  # a phone number in international form
        groups = [(run.start() + group.start(), run.start() + group.end(), _ascii(group.group()))
                  for group in _GROUP.finditer(run.group())]
        # An IBAN's groups are never part of a card: the groups around them are tried on their own.
        outside = [group for group in groups if not any(start < group[1] and group[0] < end for start, end in ibans)]
        first = 0
        while first < len(outside):
            card = _longest_card(outside, first)
            if card is None:
                first += 1
                continue
            yield Found(Secret.CARD, outside[first][0], outside[card][1])
            first = card + 1


def _longest_card(groups: List[Tuple[int, int, str]], first: int) -> Optional[int]:
    """The last group of the longest card number that starts at group ``first``, if any. Only the groups
    within 19 digits of it are tried: a message of a thousand one-digit groups costs a thousand tries of
    a few groups each, not a million joins."""
    if groups[first][2][0] not in "23456":
        return None  # no card network's numbers start so
    found, digits = None, ""
    for last in range(first, len(groups)):
        if last > first and groups[last - 1][1] < groups[last][0] - 3:
            break  # a gap where an IBAN's groups were: not one number
        digits += groups[last][2]
        if len(digits) > _CARD_DIGITS[-1]:
            break
        if len(digits) in _CARD_DIGITS and _card_network(digits) and luhn_valid(digits):
            found = last
    return found


def _secrets(pattern: "re.Pattern[str]", kind: Secret, text: str) -> Iterator[Found]:
    for match in pattern.finditer(text):
        yield Found(kind, match.start("secret"), match.end("secret"))


def _passwords(text: str) -> Iterator[Found]:
    for match in _PASSWORD.finditer(text):
        group = next(name for name in ("quoted", "curly", "bare") if match.group(name) is not None)
        start, end = match.span(group)
        if group == "bare":
            while end > start and text[end - 1] in _PUNCTUATION_AFTER:
                end -= 1
        value, link = text[start:end], match.group("link").strip()
        if not value or value.lower() in _ABOUT_THE_PASSWORD:
            continue
        looks_like_one = any(not character.isalpha() for character in value)
        if group == "bare" and (not link or match.group("weak")) and not (looks_like_one or ":" in link or "=" in link):
            continue  # "password reset", "clave es importante": no password typed
        yield Found(Secret.PASSWORD, start, end)


def mask(text: str) -> Masking:
    """``text`` with every card number, security code, password and PIN replaced by its placeholder."""
    found: List[Found] = []
    for candidates in (_cards(text), _secrets(_SECURITY_CODE, Secret.SECURITY_CODE, text),
                       _secrets(_PIN, Secret.PIN, text), _passwords(text)):
        for item in candidates:
            if not any(item.start < other.end and other.start < item.end for other in found):
                found.append(item)
    found.sort(key=lambda item: item.start)
    pieces, position = [], 0
    for item in found:
        pieces += [text[position:item.start], PLACEHOLDER[item.kind]]
        position = item.end
    return Masking("".join(pieces) + text[position:], tuple(found))


def mask_typed(value: str) -> Masking:
    """A form's field as typed, or, when there is something to mask in it as people will read it
    (handoff.protocol.readable, which the field's checks apply later), cleaned and masked: a control
    between a card's groups, taken out after masking, would join its digits unmasked. Nothing to mask,
    nothing changes: the checks see what was typed."""
    masking = mask(readable(value))
    return masking if masking.found else Masking(value, ())


def mask_fields(data: Mapping[str, Any], names: Iterable[str]) -> Tuple[Dict[str, Any], Tuple[Secret, ...]]:
    """``data`` with its named text fields masked (mask_typed; anything else as it was, for the checks
    that follow to refuse), and the kinds masked in them."""
    masked: Dict[str, Any] = dict(data)
    kinds: List[Secret] = []
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            masking = mask_typed(value)
            masked[name] = masking.text
            kinds += masking.kinds
    return masked, tuple(dict.fromkeys(kinds))
