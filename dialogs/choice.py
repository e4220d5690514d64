"""Choosing a household on a phone of record shared by several: labels that tell them apart.

A shared phone is read by relatives, so the chooser shows neither a full name, nor a DNI, nor an
amount: only the titular's initials. The short form is the first given name's initial and the
surnames' ("C.T.", "R.Q.H."). Sisters share their surnames, so two households with the same
short form get the long form (every given name's initial: "M.E.T."); households that still look
alike are not listed and are reached by typing the titular's DNI, which the chooser always
accepts. Guessing from a list is never worth showing more of a name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from dialogs.facts import HouseholdFacts
from dialogs.gsm import gsm_safe
from dialogs.screens import MAX_LISTED  # a fifth line would not fit with a notice above it


def initials(nombres: str, apellidos: str) -> str:
    """The titular's initials as facts carry them: given names, a space, surnames ("RM QH")."""
    given = "".join(word[0] for word in nombres.split()[:2])
    surnames = "".join(word[0] for word in apellidos.split()[:2])
    return f"{given} {surnames}".upper()


def short_label(raw: str) -> str:
    """"C.T." from "C T": the first given name's initial and the surnames'."""
    given, _, surnames = raw.partition(" ")
    return ".".join(given[:1] + surnames) + "."


def long_label(raw: str) -> str:
    """"M.E.T." from "ME T": every given name's initial and the surnames'."""
    given, _, surnames = raw.partition(" ")
    return ".".join(given + surnames) + "."


def distinct_labels(raw: Mapping[str, str]) -> dict[str, str]:
    """hogar_id -> its short label, or the long one where another household's short one is the same.

    Compared as a handset shows them (GSM-7: "Á.T." is "A.T."), so that sisters Ángela and
    Angélica are not both "A.T." on the screen. The chooser and the shared phone's SMS use this.
    """
    short = {hid: gsm_safe(short_label(r)) for hid, r in raw.items()}
    seen = Counter(short.values())
    return {hid: label if seen[label] == 1 else gsm_safe(long_label(raw[hid]))
            for hid, label in short.items()}


def labelled(households: Sequence[HouseholdFacts]) -> list[tuple[str, str]]:
    """(hogar_id, label) for each household the chooser can name apart, in the given order."""
    named = [h for h in households if h.initials.strip()]
    labels = distinct_labels({h.hogar_id: h.initials for h in named})
    counts = Counter(labels.values())
    return [(h.hogar_id, labels[h.hogar_id]) for h in named if counts[labels[h.hogar_id]] == 1][:MAX_LISTED]
