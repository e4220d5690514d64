"""Parsing what a caller types: DNI, date of birth, menu choices."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

_DIGITS = re.compile(r"\d+")


def clean_digits(raw: str) -> str:
    """The input without the spaces, dots and dashes people type between digits."""
    return re.sub(r"[\s.\-/]", "", raw)


def parse_dni(raw: str) -> str | None:
    """An 8-digit DNI (leading zeros kept), or None when malformed."""
    value = clean_digits(raw)
    return value if len(value) == 8 and value.isdigit() else None


def parse_dob(raw: str) -> dt.date | None:
    """A date of birth typed as DDMMAAAA, or None when malformed or impossible."""
    value = clean_digits(raw)
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        born = dt.date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        return None
    return born if born.year >= 1900 else None


def dni_key(secret: str, dni: str) -> str:
    """A keyed hash of a DNI: names its lockout counter without storing the DNI."""
    return hmac.new(secret.encode(), dni.encode(), hashlib.sha256).hexdigest()[:24]
