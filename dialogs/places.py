"""Shorter spellings of a pay point's name, for texts that must fit one SMS."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Abbreviations people in Peru read at once on signs and in programme notices. They are data
# about place names (as imported), not texts of ours, so they are not translated.
_ABBREVIATIONS = [
    (re.compile(pattern, re.IGNORECASE), short)
    for pattern, short in (
        (r"\bBanco de la Naci[oó]n\b", "BN"),
        (r"\bComunidad Campesina\b", "C.C."),
        (r"\bComunidad Nativa\b", "C.N."),
        (r"\bCentro Poblado\b", "C.P."),
        (r"\bAsentamiento Humano\b", "A.H."),
        (r"\bInstituci[oó]n Educativa\b", "I.E."),
        (r"\bMunicipalidad\b", "Munic."),
        (r"\bAgencia\b", "Ag."),
        (r"\bJir[oó]n\b", "Jr."),
        (r"\bAvenida\b", "Av."),
    )
]
# Where an address starts inside a name: a comma, a bracket or a street word (Jr. Lima 123).
# What is before the first of these is the place itself. Not a dash: "Agencia BN - Chulucanas".
_ADDRESS = re.compile(
    r"\s*[,;(]|\s+(?=(?:Jr|Av|Calle|Psje|Pasaje|Mz|Lt|Km|Nro|Carretera|Frente)\b)",
    re.IGNORECASE,
)
# Words a name must not end in once its end is cut ("San Juan de").
# An abbreviated kind of place names nothing once what follows it is cut ("Ñuñoa C.C.").
_DANGLING = {"de", "del", "la", "las", "los", "el", "y", "e", "en", "a", "al",
             "c.c.", "c.n.", "c.p.", "a.h.", "i.e.", "ag.", "munic.", "san", "santa", "santo"}
# Words that start many names and tell none apart: the text already says how she is paid
# ("(operativo)", "con tarjeta"), so they go before any distinguishing word at the end does.
_GENERIC_LEAD = re.compile(r"^(?:(?:Operativo|ETV|Ag\.)\s+)+(?=\S)", re.IGNORECASE)
_TRIM = " ,;:-("


def abbreviate(place: str) -> str:
    """`place` with its common long words abbreviated (Comunidad Campesina -> C.C.)."""
    for pattern, short in _ABBREVIATIONS:
        place = pattern.sub(short, place)
    return place


def shorter_names(place: str) -> Iterator[str]:
    """Ever shorter spellings of `place`: without its address, abbreviated, then cut at words.

    The distinguishing words come after the generic ones (Agencia, Comunidad Campesina) and
    before the address, so the address goes first (its last part first), then the generic words
    are abbreviated, then the generic words that start it (Operativo ETV, Ag.) go, and only then
    the end of the name is cut; a word is never cut in two.
    """
    name = place
    starts = [m.start() for m in _ADDRESS.finditer(name) if m.start() > 0]
    for start in reversed(starts):
        if (shorter := name[:start].rstrip(_TRIM)) != name:
            name = shorter
            yield name
    if (short := abbreviate(name)) != name:
        name = short
        yield name
    if (short := _GENERIC_LEAD.sub("", name)) != name:
        name = short
        yield name
    words = name.split()
    while len(words) > 1:
        words.pop()
        while len(words) > 1 and words[-1].lower() in _DANGLING:
            words.pop()
        yield " ".join(words).rstrip(_TRIM)
