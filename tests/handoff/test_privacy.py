"""handoff.privacy: the masking table (the evaluation set's figures: bench/privacy.py)."""

from __future__ import annotations

import pytest

from handoff.privacy import Secret, luhn_valid, mask, mask_fields, mask_typed
from handoff.rules import privacy_notice

MASKED = [
    ("card 4111 1111 1111 1111 please", "card [card number] please", [Secret.CARD]),
    ("4111-1111-1111-1111", "[card number]", [Secret.CARD]),
    ("paid 30 4111111111111111 today", "paid 30 [card number] today", [Secret.CARD]),
    ("amex 3782 822463 10005", "amex [card number]", [Secret.CARD]),
    ("٤١١١ ١١١١ ١١١١ ١١١١", "[card number]", [Secret.CARD]),
    ("４１１１１１１１１１１１１１１１", "[card number]", [Secret.CARD]),
    ("4111\u200b1111\u200b1111\u200b1111", "[card number]", [Secret.CARD]),  # invisible separators, as copied
    ("4111  1111 - 1111  1111", "[card number]", [Secret.CARD]),
    ("passwd: k9k9", "passwd: [password]", [Secret.PASSWORD]),
    ("card_4111_1111_1111_1111.png", "card_[card number].png", [Secret.CARD]),
    ("IBAN DE89 3704 0044 0532 0130 00 4111 1111 1111 1111", "IBAN DE89 3704 0044 0532 0130 00 [card number]",
     [Secret.CARD]),  # the IBAN ends where its check digits say
    ("cvv: 123", "cvv: [security code]", [Secret.SECURITY_CODE]),
    ("the CVC on the back is 9876", "the CVC on the back is [security code]", [Secret.SECURITY_CODE]),
    ("my pin is 0000", "my pin is [PIN]", [Secret.PIN]),
    ("my password is Tulip!77", "my password is [password]", [Secret.PASSWORD]),
    ('password: "two words"', 'password: "[password]"', [Secret.PASSWORD]),
    ("pw x7y8, thanks", "pw [password], thanks", [Secret.PASSWORD]),
    ("card 4111111111111111 cvv 321 pin 4321", "card [card number] cvv [security code] pin [PIN]",
     [Secret.CARD, Secret.SECURITY_CODE, Secret.PIN]),
    # What people see is what is read: invisible characters, other forms of digits and spaces, odd separators.
    ("4111\u00ad1111\u00ad1111\u00ad1111", "[card number]", [Secret.CARD]),  # soft hyphens
    ("4\u03321\u03321\u03321 1111 1111 1111", "[card number]", [Secret.CARD]),  # combining underlines
    ("\u2074\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9", "[card number]", [Secret.CARD]),  # superscript
    ("\u2463\u2460\u2460\u2460 1111 1111 1111", "[card number]", [Secret.CARD]),  # circled digits
    ("4111\u30001111\u30001111\u30001111", "[card number]", [Secret.CARD]),  # ideographic spaces
    ("4111 1111\n1111 1111", "[card number]", [Secret.CARD]),
    ("4111/1111/1111/1111", "[card number]", [Secret.CARD]),
    ("4111 • 1111 • 1111 • 1111", "[card number]", [Secret.CARD]),
    ("(4111)(1111)(1111)(1111)", "([card number])", [Secret.CARD]),
    ("4111 1111 and then 1111 1111", "[card number]", [Secret.CARD]),
    ("four one one one one one one one one one one one one one one one", "[card number]", [Secret.CARD]),
    ("card4111111111111111", "card[card number]", [Secret.CARD]),
    ("ｃｖｖ：１２３", "ｃｖｖ：[security code]", [Secret.SECURITY_CODE]),
    ("C.V.V. 1 2 3", "C.V.V. [security code]", [Secret.SECURITY_CODE]),
    ("the code on the back is 123", "the code on the back is [security code]", [Secret.SECURITY_CODE]),
    ("pin's 4321", "pin's [PIN]", [Secret.PIN]),
    ("P.I.N. 4 3 2 1", "P.I.N. [PIN]", [Secret.PIN]),
    ("the password I use is Tulip77", "the password I use is [password]", [Secret.PASSWORD]),
    ("my password is now Tulip", "my password is now [password]", [Secret.PASSWORD]),
    ("pw=Tulip!77", "pw=[password]", [Secret.PASSWORD]),
    ("I picked Tulip!77 as my password", "I picked [password] as my password", [Secret.PASSWORD]),
    # An attacker's trial: passphrases of several words, masked whole to the end of their clause.
    ("password: correct horse battery staple", "password: [password]", [Secret.PASSWORD]),
    ("my password is correct horse battery staple", "my password is [password]", [Secret.PASSWORD]),
    ("my password is purple monkey dishwasher, ok?", "my password is [password], ok?", [Secret.PASSWORD]),
    ("my password is Hunter2 I think", "my password is [password] I think", [Secret.PASSWORD]),
    ("I changed my password to Hunter2", "I changed my password to [password]", [Secret.PASSWORD]),
    ("my new password will be Hunter2", "my new password will be [password]", [Secret.PASSWORD]),
    # Codes and PINs said in words.
    ("my CVV is seven two nine", "my CVV is [security code]", [Secret.SECURITY_CODE]),
    ("cvc: one two three", "cvc: [security code]", [Secret.SECURITY_CODE]),
    ("pin is four three two one", "pin is [PIN]", [Secret.PIN]),
    ("PIN number: four three two one", "PIN number: [PIN]", [Secret.PIN]),
    # Cards joined by ':', '~' or '+' (between groups as long as a card's only).
    ("4111:1111:1111:1111", "[card number]", [Secret.CARD]),
    ("4111~1111~1111~1111", "[card number]", [Secret.CARD]),
    ("4111+1111+1111+1111", "[card number]", [Secret.CARD]),
    # A word in brackets between a card's groups; its last digit given apart.
    ("4111 (one) 1111 1111 1111", "[card number]", [Secret.CARD]),
    ("4111 1111 1111 111 and the last digit is 1", "[card number] and the last digit is [card number]",
     [Secret.CARD]),
]
KEPT = [
    "4111 1111 1111 1112",  # fails Luhn
    "order 9948468490084899",  # passes Luhn, but no card network starts with 9
    "+49 151 23456789",
    "IBAN DE89 3704 0044 0532 0130 00",
    "TXN4111111111111111",  # inside an identifier
    "$1,249.99 on 2024-03-15",
    "my password is wrong",
    "password reset please",
    "my cvv has 3 digits",
    "pin reset",
    "the code you sent is 482913",
    "25 m² and 3 m³",  # superscripts are digits, glued to a unit
    "+44 (0) 7700 900 461",
    "from 01/01/2024 to 31/12/2024",
    "between 2024 and 2025",
    "my password - it's not working",
    "my password's been changed",
    "what's the password policy?",
    "boarding pass 24A",
    "social security number 123-45-6789",
    "pin 4 digits or 6?",
    "cvv 2 times wrong",
    # Lists of numbers that the wider separators could have joined into a card (each would pass Luhn).
    "I was charged 51.19, 60.83, 16.09, 78.12 this week",
    "the app took 47.63 10.84 20.58 93.35 from me",
    "orders 62175, 62294, 61658 are missing",
    "payments on 23/04/2024, 03/10/2024",
    "it failed at 22.39 and 11.15 and 14.40 and 21.52",
    "call me on\n0953 602305\n0687 467956",
    # What the passphrases, the codes in words and the new separators must leave alone.
    "password policy?",
    "I forgot my password",
    "reset password link not working",
    "my password is correct but the site says no",
    "my password is expired last week",
    "my password is too short for the site",
    "my password will be reset by IT",
    "the password to the wifi is on the router",
    "my password is wrong!",
    "my pin arrived by post",
    "the code on the parcel is 4 digits",
    "pin is one of the things I forgot",
    "cvv is one two three four five",  # too many digits to be a code
    "the meeting is at 10:30",
    "2+2 is 4",
    "delivery in 1~2 days",
    "call me at 10:30 or 14:15, 2+1 items",
    "order 4111 1111 1111 112 and the last digit is 1",  # no card with it
    "I paid 12 and the last payment was 5",
    "ref 4111 1111 1111 111 and 2 more items",
]


@pytest.mark.parametrize("text, masked, kinds", MASKED)
def test_masks(text: str, masked: str, kinds: list) -> None:
    result = mask(text)
    assert (result.text, list(result.kinds)) == (masked, kinds)


@pytest.mark.parametrize("text", KEPT)
def test_keeps(text: str) -> None:
    result = mask(text)
    assert (result.text, result.found) == (text, ())


def test_found_says_where_not_what() -> None:
    text = "card 4111 1111 1111 1111!"
    (found,) = mask(text).found
    assert (found.kind, text[found.start:found.end]) == (Secret.CARD, "4111 1111 1111 1111")
    assert "4111" not in repr(found)


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert luhn_valid("٧٩٩٢٧٣٩٨٧١٣")


def test_fields_named_are_masked_and_anything_else_is_left_for_the_checks() -> None:
    data = {"description": "card 4111 1111 1111 1111", "contact": "pin 1234", "preferred_time": 5, "other": "pw: x1"}
    masked, kinds = mask_fields(data, ("description", "contact", "preferred_time"))
    assert masked == {"description": "card [card number]", "contact": "pin [PIN]", "preferred_time": 5,
                      "other": "pw: x1"}
    assert kinds == (Secret.CARD, Secret.PIN)


def test_the_notice_has_one_key_so_a_conversation_is_told_once() -> None:
    assert privacy_notice() == privacy_notice()
    assert privacy_notice().data == {"notice": "privacy"} and "never" in privacy_notice().text


@pytest.mark.parametrize("between", ["\u202a", "\u202e", "\u2066", "\x00", "\x1b", "\x7f"])
def test_a_forms_fields_are_cleaned_before_they_are_masked(between: str) -> None:
    """A control that cleaning (handoff.protocol.readable) takes out, left between a card's groups or a
    code's digits, must not hide them from the masking and then vanish, leaving them whole."""
    card, code = between.join(["4111", "1111", "1111", "1111"]), f"cvv{between} 1{between}23"
    masked, kinds = mask_fields({"description": card, "contact": code}, ("description", "contact"))
    assert masked == {"description": "[card number]", "contact": "cvv [security code]"}


def test_a_field_with_nothing_to_mask_is_left_as_typed_for_its_checks() -> None:
    typed = "\x00" * 501  # too long as typed (malformed), though nothing once cleaned
    assert mask_typed(typed).text == typed and mask_typed(typed).found == ()


# 4,000 characters each, built to make one rule work hardest (a regular expression that backtracks would
# take minutes on some of them): masking them must finish, with exactly this outcome.
ADVERSARIAL = [
    ("1 " * 2000, "1 " * 2000),  # two thousand groups, none can start a card
    ("١-" * 2000, "١-" * 2000),
    ("4\u200b" * 2000, "4\u200b" * 2000),  # one run of 2,000 digits once the invisible characters are out
    ("4111 and " * 500, "4111 and " * 500),
    ("cvv " + "abcdef " * 571, "cvv " + "abcdef " * 571),
    ("cvv " + "1 " * 2000, "cvv " + "1 " * 2000),  # too many digits to be a code
    ("code on the back is " * 200, "code on the back is " * 200),
    ("pin is " * 572, "pin is " * 572),
    ('"' * 4000, '"' * 4000),
    ("x1 as my " * 450, "x1 as my " * 450),
    ("4111 1111 1111 1111 " * 200, "[card number] " * 200),
    ("four one one one one one one one one one one one one one one one " * 63, "[card number] " * 63),
    ('password "' * 400, 'password "[password]"' * 200),
    # A passphrase is read at most eight words on; "to" is a password's link only after a word that changes it.
    ("password: correct horse battery staple " * 103, "password: [password] " * 103),
    ("password: " + "abc " * 998, "password: [password] " + "abc " * 990),
    ("password to " * 400, "password to " * 400),
    ("changed my password to x1 " * 154, "changed my password to [password] " * 154),
    ("cvv " + "one " * 999, "cvv " + "one " * 999),  # too many digit words to be a code
    ("pin is " + "nine two " * 500, "pin is " + "nine two " * 500),
    ("4111:" * 800, "4111:" * 800),
    ("4111 1111 1111 111 and the last digit is 1 " * 94,
     "[card number] and the last digit is [card number] " * 94),
    ("4111 (one) " * 364, "4111 (one) " * 364),
    ("4 last " * 572, "4 last " * 572),  # each digit looks a few words on for more
]


@pytest.mark.parametrize("text, masked", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_messages_are_masked_in_linear_time(text: str, masked: str) -> None:
    assert len(text) >= 4000
    assert mask(text).text == masked
