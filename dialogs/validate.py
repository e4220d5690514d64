"""Parsing what a caller types, the same on USSD and SMS: DNI, date of birth, menu choices."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

_MARKS = re.compile(r"[\s.\-/]")
# The check character printed after the 8 digits on the card (RENIEC's "digito verificador"):
# the weighted sum modulo 11 picks a digit or, on cards issued before 2007, a letter.
_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_CHECK_DIGITS = "65432110987"
_CHECK_LETTERS = "KJIHGFEDCBA"
# A date with marks between its parts: 5/3/1990, 05-03-1990, 5.3.1990, 05 03 1990.
_DATE = re.compile(r"(\d{1,2})\s*[\s/.\-]\s*(\d{1,2})\s*[\s/.\-]\s*(\d{4})")
MIN_AGE = 12  # a titular younger than this cannot be real
MIN_YEAR = 1900


def clean_digits(raw: str) -> str:
    """The input without the spaces, dots, dashes and slashes people type between digits."""
    return _MARKS.sub("", raw)


def check_chars(dni: str) -> str:
    """The two check characters a card may print after the 8-digit `dni`: a digit and a letter."""
    c = sum(w * int(n) for w, n in zip(_WEIGHTS, dni, strict=True)) % 11
    return _CHECK_DIGITS[c] + _CHECK_LETTERS[c]


def _dni_and_check(raw: str) -> tuple[str, str] | None:
    value = clean_digits(raw).upper()
    if len(value) == 8 and value.isdigit():
        return value, ""
    if len(value) == 9 and value[:8].isdigit() and value[8].isascii() and value[8].isalnum():
        return value[:8], value[8]
    return None


def parse_dni(raw: str) -> str | None:
    """An 8-digit DNI (leading zeros kept), also typed with its right check character; else None."""
    found = _dni_and_check(raw)
    if found is None or (found[1] and found[1] not in check_chars(found[0])):
        return None
    return found[0]


def wrong_check_char(raw: str) -> bool:
    """True when `raw` is 8 digits and a check character that is not this DNI's."""
    found = _dni_and_check(raw)
    return found is not None and bool(found[1]) and found[1] not in check_chars(found[0])


def parse_dob(raw: str) -> dt.date | None:
    """A date typed as DDMMAAAA or with marks (5/3/1990, 05-03-1990, 5.3.1990, 05 03 1990)."""
    text = raw.strip()
    if m := _DATE.fullmatch(text):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    else:
        value = clean_digits(text)
        if len(value) != 8 or not value.isdigit():
            return None
        day, month, year = int(value[:2]), int(value[2:4]), int(value[4:])
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def possible_dob(born: dt.date, today: dt.date | None) -> bool:
    """False for a titular's date of birth that cannot be real: before 1900, or under 12 today."""
    if born.year < MIN_YEAR:
        return False
    if today is None:
        return True
    try:
        latest = today.replace(year=today.year - MIN_AGE)
    except ValueError:  # 29 February
        latest = today.replace(year=today.year - MIN_AGE, day=28)
    return born <= latest


def split_identity(tokens: list[str]) -> tuple[str, str | None]:
    """The DNI and the date of birth, as typed, from the number tokens of a message.

    The date comes last: one token (25081990, 25/08/1990), three (25 08 1990), or the last 8
    digits of a DNI and a date typed in groups; what is before it is the DNI.
    """
    if len(tokens) >= 2 and _DATE.fullmatch(tokens[-1]):
        return " ".join(tokens[:-1]), tokens[-1]
    if len(tokens) >= 4 and _DATE.fullmatch(" ".join(tokens[-3:])):
        return " ".join(tokens[:-3]), " ".join(tokens[-3:])
    compact = clean_digits("".join(tokens))
    if len(compact) in (8, 9):
        return compact, None
    if len(tokens) >= 2 and len(compact) in (16, 17):
        return compact[:-8], compact[-8:]
    if len(tokens) == 2:
        return tokens[0], tokens[1]
    return " ".join(tokens), None


def dni_key(secret: str, dni: str) -> str:
    """A keyed hash of a DNI: names its lockout counter without storing the DNI."""
    return hmac.new(secret.encode(), dni.encode(), hashlib.sha256).hexdigest()[:24]


def parse_mobile(raw: str) -> str | None:
    """A Peruvian mobile number as typed on a keypad, in E.164; None when it is not one.

    Nine digits starting with 9 (951234567), or with the country code before them (51951234567),
    with or without the spaces and dashes people type between groups. Any other shape is refused:
    a landline or a foreign number cannot receive the household's reminders.
    """
    digits = clean_digits(raw.strip().removeprefix("+"))
    if not digits.isdigit():
        return None
    if len(digits) == 11 and digits.startswith("51"):
        digits = digits[2:]
    if len(digits) != 9 or not digits.startswith("9"):
        return None
    return "+51" + digits


def mobile_key(secret: str, phone: str) -> str:
    """A keyed hash of a phone number typed in a session: compares two entries without keeping
    the number."""
    return hmac.new(secret.encode(), b"mobile:" + phone.encode(), hashlib.sha256).hexdigest()[:24]
