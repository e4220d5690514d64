"""Masking personal data before it reaches a log line, and keyed hashes for Redis keys."""

from __future__ import annotations

import functools
import hashlib
import hmac


def mask_phone(phone: str | None) -> str:
    """+51 9** *** 321 style: the country code, the leading 9 and the last three digits."""
    if not phone:
        return "-"
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 6:
        return "***"
    return f"+{digits[:-9] or '?'} {digits[-9]}** *** {digits[-3:]}"


def mask_dni(dni: str | None) -> str:
    """****5678 style."""
    return f"****{dni[-4:]}" if dni and len(dni) >= 4 else "****"


@functools.lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    # Copying a keyed HMAC is cheaper than keying a new one: a hop makes three or four.
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _hexdigest(secret: str, data: str) -> str:
    mac = _keyed(secret).copy()
    mac.update(data.encode())
    return mac.hexdigest()


def phone_key(secret: str, phone: str) -> str:
    """A keyed hash of a phone number, to name Redis keys without the number in clear."""
    return _hexdigest(secret, phone)[:24]


def text_digest(secret: str, text: str) -> str:
    """A keyed digest of a hop's input text: recognises a resent hop without keeping the text."""
    return _hexdigest(secret, text)[:20]
