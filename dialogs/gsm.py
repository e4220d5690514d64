"""GSM-7: what a basic handset shows reliably, and how many SMS parts a text costs."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

from dialogs.places import shorter_names

CODEC = "gsm03.38"
_REPLACE = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "º": "o"}


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 alphabet (or its extension table)."""
    try:
        text.encode(CODEC)
    except UnicodeEncodeError:
        return False
    return True


def gsm_safe(text: str) -> str:
    """`text` with characters outside GSM-7 replaced by their plain letter (a for á...)."""
    if is_gsm7(text):
        return text
    out = []
    for ch in text:
        if is_gsm7(ch):
            out.append(ch)
            continue
        ch = _REPLACE.get(ch, ch)
        plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(plain if plain and is_gsm7(plain) else "?")
    return "".join(out)


def septets(text: str) -> int:
    """Length in GSM-7 septets: extension characters ([ ] { } ~ ^ | \\ and the euro) count two."""
    return len(text.encode(CODEC))


def sms_parts(text: str) -> tuple[str, int]:
    """The encoding ("gsm7" or "ucs2") and the number of SMS parts `text` costs."""
    if is_gsm7(text):
        length, single, multi, encoding = septets(text), 160, 153, "gsm7"
    else:
        # UCS-2 counts UTF-16 code units: an emoji takes two.
        length, single, multi, encoding = len(text.encode("utf-16-le")) // 2, 70, 67, "ucs2"
    if length <= single:
        return encoding, 1
    return encoding, -(-length // multi)


SINGLE_SMS = 160  # GSM-7 septets in one SMS part


def fit_place(render: Callable[[str], str], place: str) -> str:
    """`render(place)`, with the place name shortened so the text stays one GSM-7 SMS.

    The import contract allows place names of 120 characters; a reminder or reply that names
    one in full would cost two SMS parts. The name is abbreviated, then loses its address, then
    its last words (see `shorter_names`), never the date or the hours.
    """
    text = render(place)
    for name in shorter_names(place):
        if not is_gsm7(text) or septets(text) <= SINGLE_SMS:
            break
        text = render(name)
    return text
