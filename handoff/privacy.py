"""What a customer must never send us, masked: card numbers, security codes, passwords and PINs (sans I/O).

``mask(text)`` is the one place these rules live. The bridge applies it at its edge to every text a
customer sends (handoff/connections/customer.py, handoff/endpoints/attachments.py), before anything is
stored, sent to Rasa, logged or announced, so everything downstream sees only the masked text.

The rules read the text as people see it: each character in its compatibility form (full-width,
superscript, circled and bold digits are digits; full-width letters letters; every kind of space a
space) and without the invisible ones (zero-width spaces and joiners, soft hyphens, bidi marks,
combining marks); what they find is masked in the text as typed, invisible characters within included.

- A card number is 13 to 19 digits (any script's), together or in groups joined by up to three spaces,
  dashes, dots or underscores, or, between groups as long as a card's (4 and 4, Amex's 4 and 6, 6 and 5),
  by line breaks, commas, colons, tildes, pluses, slashes, bars, bullets, brackets or stars or a
  joining word ("and then", "y", "und", "et") or a word in brackets ("4111 (one) 1111"), or said
  digit by digit in English words, that pass the Luhn check and start as a card network's numbers do
  (2221-2720, 30, 34-38, 4, 5, 6). An amount's cents ("47.63 10.84") end a number.
  A run of groups is searched for the longest such part, so an amount typed just before the card does
  not hide it. Its last digits may come a few words on, after a word that says so ("4111 1111 1111 111
  and the last digit is 1"): both parts are masked.
  Never a phone number (a run after ``+``) nor a part of an IBAN (its country, check digits and groups),
  nor digits right after ASCII letters (an identifier: TXN4111...) unless they name a card (card4111...).
- A security code is 3 or 4 digits (or the same one by one: "1 2 3") a few words after CVV, CVC, CID,
  "security code", "the code on the back" and their equivalents in the languages we serve, dotted or
  not ("C.V.V."); a PIN is 4 to 8 digits after "PIN" ("P.I.N.", "pin's", "the pin I use is"). Either
  may be said digit by digit in English words ("my CVV is seven two nine"), no digit word on either side.
- A password is the word (or the quoted words) after "password", "pw", "contraseña", ...: after "is",
  ":", "=" or an arrow ("the password I use is", "password is now"), with the words after it to the end
  of its clause (a passphrase: "purple monkey dishwasher", up to punctuation or a word that goes on the
  sentence, "and", "but", "thanks", at most 8 words), unless its first word says something about the
  password ("is wrong", "not working") and fewer than two words follow ("is correct horse battery
  staple" is one); with nothing between, "'s", a dash, "set to", "will be" or "to" after a word that
  changes it ("I changed my password to"), only a word that looks like one (a digit or a sign in it), so
  "password reset" stays; and a word that looks like one before "as my password".

Evaluated on our own messages (tests/privacy/, bench/privacy.py; figures in docs/benchmarks.md).
Linear in the text's length: every repetition in the patterns is bounded or unambiguous, and a card is
looked for only within 19 digits of each group that can start one.
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


# Masking reads a view of the text as people see it (_view): each character in its compatibility form
# (NFKC: full-width, superscript, circled and bold digits are digits, full-width letters letters, every
# space a space) and without invisible ones (format characters: zero-width spaces and joiners, soft
# hyphens, bidi marks; combining marks), each view character remembering the typed one it came from, so
# that what is found there is masked in the text as typed.
_INVISIBLE = frozenset(("Cf", "Mn", "Me"))
# Between groups, one to three separators ("4111  1111", "4111 - 1111", "4111/1111", "(4111) (1111)"):
# any space or line break (a number split over lines), a dash of any kind, a dot, comma, colon, tilde,
# plus, slash, bar, bullet, bracket, underscore (file names) or star; or a joining word between them
# ("4111 1111 and then 1111 1111").
_SEPARATOR = ("[\\s.,/\\\\|_*()\\[\\]<>:~+\\-\u2010-\u2015\u2212\u00b7\u2022\u2219\u22c5\u30fb\u3001\u3002\u060c"
              "\u066b\u066c]")
_JOINING_WORDS = r"(?:and then|and|then|next|y luego|y|luego|und dann|und|dann|et puis|et|puis|e depois|e)"
# Or a word in brackets put between them to hide the number ("4111 (one) 1111 1111 1111").
_GAP = (rf"(?:{_SEPARATOR}{{1,3}}{_JOINING_WORDS}{_SEPARATOR}{{1,3}}|[ \t]{{0,3}}\([^\W\d_]{{1,8}}\)[ \t]{{0,3}}|"
        rf"{_SEPARATOR}{{1,3}})")
# Spaces, dots, dashes and underscores join any groups ("4111 1111", "4 1 1 1 ..."); the other gaps (a
# line break, a comma, a colon, a plus, a slash, a bracket, a word, ...) join only groups as a card's are
# typed (their lengths: 4 and 4, Amex's 4 and 6 and 6 and 5, the last 3 of 19 digits): "4111/1111",
# "3782,822463", "4111:1111", not a list of amounts, dates or times ("51.19, 60.83", "23/04/2024,
# 03/10/2024", "22.39 and 11.15"), of order numbers ("62175, 62294"), times ("10:30"), sums ("2+2"),
# ranges ("1~2 days") nor phone numbers over lines ("0171 456789\n0172 345678").
_TIGHT_GAP = re.compile(r"[ \t.\-_\u2010-\u2015\u2212]{1,3}")
_CARD_GROUPS = frozenset(((4, 4), (4, 6), (6, 5), (4, 3)))
# Two digits after one dot or comma, not followed by another dot or comma and a digit: an amount's cents
# ("47.63 10.84 20.58 93.35", four amounts, not one number).
_CENTS = re.compile(r"[.,]\d\d(?![.,]?\d)")
# A run of digit groups; not inside a longer number, nor after ASCII letters (an identifier like TXN123...)
# unless they name a card ("card4111...", "visa4111...", "cc4111...").
_DIGIT_RUN = re.compile(rf"(?:(?<![\dA-Za-z])|(?<=card)|(?<=visa)|(?<=amex)|(?<=cc))\d+(?:{_GAP}\d+)*", re.IGNORECASE)
_GROUP = re.compile(r"\d+")
# A number in English words, digit by digit ("four one one one ...").
_DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9"}
_WORD = f"(?:{'|'.join(_DIGIT_WORDS)})"
_WORD_RUN = re.compile(rf"\b{_WORD}(?:[\s,\-]{{1,3}}{_WORD}){{12,}}\b", re.IGNORECASE)
# After a number, a few words that say its last digits come apart, and those digits ("... and the last
# digit is 1", ", the final digits 11").
_DIGITS_APART = re.compile(r"(?P<words>(?:[\s,;:\-]{1,3}[^\W\d_]{1,12}){1,8})[\s:=#\-]{1,3}"
                           r"(?P<digits>\d{1,4})(?!\d|[.,]\d)")
_SAYS_LAST = frozenset(("last", "final", "missing", "remaining", "rest", "ends", "ending"))
_IBAN_LIKE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])")
_CARD_DIGITS = range(13, 20)

# Words (in the languages we serve) and dotted abbreviations ("C.V.V."); "the code on the back".
_CODE_WORDS = (r"c\.?v\.?v\.? ?2(?!\d)|c\.?v\.?c\.? ?2(?!\d)|c\.?v\.?v\b\.?|c\.?v\.?c\b\.?|cvn|cid|csc|"
               r"sec(?:urity|\.)? ?(?:code|number|no\b\.?|digits)|card code|card verification (?:code|value|number)|"
               r"(?:code|number|numbers|digits) (?:on|at) the back(?: of (?:the|my|this|your) card)?|"
               r"c[oó]digo de seguridad|cryptogramme(?: visuel)?|kartenpr[uü]fnummer|pr[uü]fnummer|pr[uü]fziffer|"
               r"sicherheitscode|رمز الأمان|رمز التحقق|رمز الحماية")
# Three or four digits, together or one by one ("1 2 3"), or said digit by digit in English words
# ("seven two nine"), and no more digits (nor digit words) right after.
_SHORT_SECRET = (r"(?P<secret>\d(?:[ .\-]?\d){{{low},{high}}}(?![\d/]|[.,]\d|[ .\-]\d)|"
                 rf"\b{_WORD}(?:[\s,\-]{{{{1,3}}}}{_WORD}){{{{{{low}},{{high}}}}}}\b(?![\s,\-]{{{{1,3}}}}{_WORD}\b))")
# Up to four short words between the word and the code ("the cvv on the back is 275").
_SECURITY_CODE = re.compile(rf"(?<![^\W\d_])(?:{_CODE_WORDS})(?:[\s:=#\-]{{0,4}}[^\W\d_]{{1,6}}){{0,4}}?"
                            rf"[\s:=#\-]{{0,4}}{_SHORT_SECRET.format(low=2, high=3)}", re.IGNORECASE)
_PIN_WORDS = (r"(?:code |c[oó]digo )?p\.?i\.?n\b\.?(?:[ -]?(?:code|number|nummer|no\b\.?))?|geheimzahl|"
              r"رقم التعريف الشخصي|الرقم السري")
# Who typed it ("the pin I use is", "the password we set is").
_WHO = r"(?:\s+(?:i|we)\s+(?:use|used|have|had|set|chose|picked|typed|entered|tried|gave you))?"
_FOR_WHAT = r"(?:\s+(?:for|on|of)\s+(?:the|my|this|that)\s+(?:card|account|atm))?"
_PIN = re.compile(rf"(?<![^\W\d_])(?:{_PIN_WORDS}){_FOR_WHAT}{_WHO}(?:['’]s\b)?"
                  r"(?:\s{0,3}(?:is|es|est|ist|era|was|هو|:|=|#)){0,3}\s{0,3}"
                  rf"{_SHORT_SECRET.format(low=3, high=7)}", re.IGNORECASE)
_PASSWORD_WORDS = (r"password|pass word|passwort|passcode|passwd|pwd|pw|contrase[ñn]a|mot de passe|senha|"
                   r"كلمة المرور|كلمة السر|كلمه المرور")
_IS = r"(?:is|es|est|ist|era|é|was|هي|هو)"
# The password itself: quoted (then any words), or one word.
_VALUE = r"(?:\"(?P<quoted>[^\"\n]{1,64})\"|[“'‘](?P<curly>[^”’'\n]{1,64})[”’']|(?P<bare>[^\s\"“]{1,64}))"
_PASSWORD = re.compile(
    rf"\b(?:(?P<word>{_PASSWORD_WORDS})|(?P<weak>pass|clave))\b{_FOR_WHAT}{_WHO}"
    r"(?P<link>\s{1,3}(?:(?:is|was|got|been)\s{1,3})?(?:set|changed|reset|updated)\s{1,3}to\s{1,3}|['’]s\s+|"
    # "(I changed) my password to ...", "my new password will be ...".
    r"\s{1,3}to\s{1,3}|\s{1,3}(?:will|would|shall|should)\s{1,3}be\s{1,3}|"
    rf"\s{{0,3}}(?:{_IS}\b\s{{0,3}})?[:=]\s{{0,3}}|\s{{1,3}}{_IS}\s{{1,3}}|\s{{1,3}}(?:->|=>|→|-|–|—)\s{{1,3}}|\s{{1,3}})"
    # Words that only say when or how ("is now ...", "is just ...").
    r"(?:(?:now|just|simply|literally|currently|actually|still|basically|probably)\s{1,3})?"
    rf"{_VALUE}", re.IGNORECASE)
# "I chose Tulip!77 as my password": a word that looks like a password, before it.
_PASSWORD_BEFORE = re.compile(rf"(?<!\S){_VALUE}\s{{1,3}}as\s{{1,3}}(?:my|the|our)\s{{1,3}}(?:new\s{{1,3}})?"
                              rf"(?:{_PASSWORD_WORDS})\b", re.IGNORECASE)
# Words after "password is" that say something about the password, in the languages we serve.
_ABOUT_THE_PASSWORD = frozenset("""
    not no wrong incorrect invalid expired expire expires expiring locked blocked too correct right the my a an
    same still case weak strong changed reset working doesn't does didn't isn't wasn't was has had being ok okay
    fine forgotten lost stolen compromised required needed sensitive different new old empty short long saved
    and or for of to in on with that this it which when if but please been gone going getting also always never
    really like there here supposed meant what your his her their our one mine yours
    incorrecta incorrecto mal caducada bloqueada olvidada nueva vieja es la el muy
    faux fausse incorrecte expiré bloqué oublié nouveau pas trop le la
    falsch nicht abgelaufen gesperrt neu alt das zu
    خطأ خاطئة غير
""".split())
_PUNCTUATION_AFTER = ",;.)?"
# "... my password to ...": a password only after a word that changes it ("I changed my password to").
_CHANGED_BEFORE = re.compile(r"\b(?:changed|changing|change|set|reset|updated|update|switched)\s{1,3}"
                             r"(?:my|the|our|your)\s{1,3}(?:new\s{1,3})?$", re.IGNORECASE)
_CHANGED_REACH = 32  # its longest match: only so far back is it looked for, so the search stays linear
# A passphrase goes on, after the first word, word by word to the end of the clause: up to punctuation,
# a word in _ABOUT_THE_PASSWORD or one of these (what goes on a sentence, not a password; what names the
# next thing typed), a word ending in ":" or "=" ("username:"), at most
# _PHRASE_WORDS words. One that starts with a word about the password ("correct horse battery staple")
# is one only when at least _PHRASE_WORDS_AFTER_ABOUT words follow that say nothing about it.
_CLAUSE_GOES_ON = frozenset("""
    so because since as than then thanks thank thx pls plz can could would will should shall may might must
    i you we they he she is are am be do did does don't can't won't yesterday today tomorrow tonight now
    again anymore ago last week weeks month months year years day days hour hours minute minutes time times
    out up down off at from by into about after before since until while right sir madam how why where who
    password passwort passcode pwd pw pin cvv cvc card username user login email
""".split())
_PHRASE_WORDS = 8
_PHRASE_WORDS_AFTER_ABOUT = 2
_NEXT_WORD = re.compile(r"[ \t]{1,3}(?P<word>[^\s\"“]{1,64})")
# Between the word and a password, what may as well be a sentence going on ("password - it's gone").
_LOOSE_LINKS = frozenset(("", "'s", "’s", "-", "–", "—"))
_QUESTION_AFTER = "?!"


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


def _view(text: str) -> Tuple[str, List[int]]:
    """The text as masking reads it (see _INVISIBLE above), and for each of its characters the index of
    the typed character it comes from (a character may become several: "½" is "1⁄2")."""
    pieces: List[str] = []
    origin: List[int] = []
    for index, character in enumerate(text):
        if character.isascii():
            pieces.append(character)
            origin.append(index)
        elif unicodedata.category(character) not in _INVISIBLE:
            folded = unicodedata.normalize("NFKC", character)
            pieces.append(folded)
            origin += [index] * len(folded)
    return "".join(pieces), origin


# A group of digits: where it is in the view, its digits in ASCII, and its place in its run.
_Group = Tuple[int, int, str, int]


def _cards(text: str) -> Iterator[Tuple[int, int]]:
    """Where card numbers are in ``text`` (the view): in digit groups, or in English words."""
    ibans = _iban_spans(text)
    runs: List[List[_Group]] = []
    for run in _DIGIT_RUN.finditer(text):
        if run.start() and text[run.start() - 1] == "+":
            continue  # a phone number in international form
        groups: List[_Group] = []
        place = 0
        for group in _GROUP.finditer(run.group()):
            start, end = run.start() + group.start(), run.start() + group.end()
            if groups and (not _joined(text[groups[-1][1]:start], groups[-1][1] - groups[-1][0], end - start)
                           or _CENTS.match(text, start - 1)):
                place += 1  # not one number: the groups on either side are tried on their own
            groups.append((start, end, _ascii(group.group()), place))
            place += 1
        # An IBAN's groups are never part of a card: the groups around them are tried on their own.
        runs.append([group for group in groups
                     if not any(start < group[1] and group[0] < end for start, end in ibans)])
    digit_runs = len(runs)
    for run in _WORD_RUN.finditer(text):
        runs.append([(run.start() + word.start(), run.start() + word.end(), _DIGIT_WORDS[word.group().lower()], place)
                     for place, word in enumerate(re.finditer(_WORD, run.group(), re.IGNORECASE))])
    for number, groups in enumerate(runs):
        first, found = 0, False
        while first < len(groups):
            card = _longest_card(groups, first)
            if card is None:
                first += 1
                continue
            yield groups[first][0], groups[card][1]
            first, found = card + 1, True
        if not found and groups and number < digit_runs:
            yield from _last_digits_apart(text, groups)


def _last_digits_apart(text: str, groups: List[_Group]) -> Iterator[Tuple[int, int]]:
    """A card whose last digits are given apart, a few words on ("4111 1111 1111 111 and the last digit
    is 1"): the groups at the end of a run and those digits, when together they are a card's number."""
    after = _DIGITS_APART.match(text, groups[-1][1])
    if after is None or not _SAYS_LAST.intersection(after.group("words").lower().split()):
        return
    digits, best = "", None
    for index in range(len(groups) - 1, -1, -1):
        if index < len(groups) - 1 and groups[index][3] + 1 != groups[index + 1][3]:
            break  # not one number with the groups after it
        digits = groups[index][2] + digits
        whole = digits + _ascii(after.group("digits"))
        if len(whole) > _CARD_DIGITS[-1]:
            break
        if len(whole) in _CARD_DIGITS and _card_network(whole) and luhn_valid(whole):
            best = index
    if best is not None:
        yield groups[best][0], groups[-1][1]
        yield after.span("digits")


def _joined(gap: str, before: int, after: int) -> bool:
    """Whether a gap between groups of ``before`` and ``after`` digits joins them into one number."""
    return bool(_TIGHT_GAP.fullmatch(gap)) or (before, after) in _CARD_GROUPS


def _longest_card(groups: List[_Group], first: int) -> Optional[int]:
    """The last group of the longest card number that starts at group ``first``, if any. Only the groups
    within 19 digits of it are tried: a message of a thousand one-digit groups costs a thousand tries of
    a few groups each, not a million joins."""
    if groups[first][2][0] not in "23456":
        return None  # no card network's numbers start so
    found, digits = None, ""
    for last in range(first, len(groups)):
        if last > first and groups[last][3] != groups[last - 1][3] + 1:
            break  # a gap where an IBAN's groups were: not one number
        digits += groups[last][2]
        if len(digits) > _CARD_DIGITS[-1]:
            break
        if len(digits) in _CARD_DIGITS and _card_network(digits) and luhn_valid(digits):
            found = last
    return found


# A digit word just before a code in words: the code is part of a longer number ("one two three four five").
_WORD_BEFORE = re.compile(rf"\b{_WORD}[\s,\-]{{1,3}}$", re.IGNORECASE)


def _secrets(pattern: "re.Pattern[str]", text: str) -> Iterator[Tuple[int, int]]:
    for match in pattern.finditer(text):
        start = match.start("secret")
        if text[start].isalpha() and _WORD_BEFORE.search(text, max(0, start - 8), start):
            continue
        yield start, match.end("secret")


def _password_value(text: str, match: "re.Match[str]") -> Optional[Tuple[int, int, str]]:
    """The password a match holds (its span, which group), punctuation after a bare word left out; a
    bare word about the password (_ABOUT_THE_PASSWORD) is kept, for a passphrase may start with one."""
    group = next(name for name in ("quoted", "curly", "bare") if match.group(name) is not None)
    start, end = match.span(group)
    if group == "bare":
        while end > start and text[end - 1] in _PUNCTUATION_AFTER:
            end -= 1
    if end == start or (group != "bare" and text[start:end].lower() in _ABOUT_THE_PASSWORD):
        return None
    return start, end, group


def _about(word: str) -> bool:
    """A word that says something about the password ("wrong", "wrong!"), not one."""
    return word.rstrip(_QUESTION_AFTER).lower() in _ABOUT_THE_PASSWORD


def _phrase_end(text: str, start: int, end: int) -> int:
    """Where a passphrase whose first word is ``text[start:end]`` ends (see _CLAUSE_GOES_ON): ``end`` when
    it is one word, or when it starts with a word about the password and too few words follow."""
    last, words, after_about = end, 1, 0
    while words < _PHRASE_WORDS and (last == len(text) or text[last] not in _PUNCTUATION_AFTER):
        following = _NEXT_WORD.match(text, last)
        if following is None:
            break
        word = following.group("word")
        stripped = word.rstrip(_PUNCTUATION_AFTER + "!")
        if (not stripped or not stripped[0].isalnum() or stripped[-1] in ":=" or _about(stripped)
                or stripped.lower() in _CLAUSE_GOES_ON):
            break
        last, words = following.start("word") + len(stripped), words + 1
        after_about += 1
        if len(stripped) < len(word):
            break  # punctuation ends the clause
    if _about(text[start:end]) and after_about < _PHRASE_WORDS_AFTER_ABOUT:
        return end
    return last


def _looks_like_one(value: str) -> bool:
    """A word with a digit or a sign in it: not only a question's or an exclamation's mark at its end, nor
    an apostrophe ("it's", "don't")."""
    return any(not character.isalpha() and character not in "'’" for character in value.rstrip(_QUESTION_AFTER))


def _passwords(text: str) -> Iterator[Tuple[int, int]]:
    for match in _PASSWORD.finditer(text):
        value = _password_value(text, match)
        if value is None:
            continue
        start, end, group = value
        link = match.group("link").strip().lower()
        last_link_word = link.split()[-1] if link.split() else link
        if link == "to" and not _CHANGED_BEFORE.search(text, max(0, match.start() - _CHANGED_REACH), match.start()):
            continue  # "the password to the wifi", "I forgot my password to it"
        if group == "bare" and (link in _LOOSE_LINKS or last_link_word in ("to", "be") or match.group("weak")):
            # With nothing between, "'s", a dash, "set to" or "will be", only a word that looks like a
            # password: "password reset", "password policy?", "password's been changed", "password - it's
            # gone", "clave es importante", "will be reset" say none. After "pass" (a bus pass, a boarding
            # pass 24A) without ":", only a longer one with letters in it.
            typed = text[start:end]
            if _about(typed) or not _looks_like_one(typed) or (match.group("weak") and not link and (
                    len(typed) < 6 or not any(character.isalpha() for character in typed))):
                continue
        elif group == "bare":
            # After "is", ":", "=" or an arrow: the passphrase, to the end of its clause.
            phrase_end = _phrase_end(text, start, end)
            if phrase_end == end and _about(text[start:end]):
                continue
            end = phrase_end
        yield start, end
    for match in _PASSWORD_BEFORE.finditer(text):
        value = _password_value(text, match)
        if value is not None and not _about(text[value[0]:value[1]]) and (
                value[2] != "bare" or _looks_like_one(text[value[0]:value[1]])):
            yield value[0], value[1]


def _found(kind: Secret, spans: Iterable[Tuple[int, int]], origin: List[int]) -> Iterator[Found]:
    """What was found in the view, where it is in the text as typed."""
    for start, end in spans:
        yield Found(kind, origin[start], origin[end - 1] + 1)


def mask(text: str, placeholders: Mapping[Secret, str] = PLACEHOLDER) -> Masking:
    """``text`` with every card number, security code, password and PIN replaced by its placeholder."""
    view, origin = _view(text)
    found: List[Found] = []
    for candidates in (_found(Secret.CARD, _cards(view), origin),
                       _found(Secret.SECURITY_CODE, _secrets(_SECURITY_CODE, view), origin),
                       _found(Secret.PIN, _secrets(_PIN, view), origin), _found(Secret.PASSWORD, _passwords(view), origin)):
        for item in candidates:
            if not any(item.start < other.end and other.start < item.end for other in found):
                found.append(item)
    found.sort(key=lambda item: item.start)
    pieces, position = [], 0
    for item in found:
        pieces += [text[position:item.start], placeholders[item.kind]]
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
