"""Texts to a shared phone and cancellation notices: one GSM-7 SMS, initials only, every language."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from core.catalogs import load_catalog
from dialogs.gsm import sms_parts
from dialogs.reminders import Operation, cancel_text, household_label, initials, notice_text, reminder_text
from dialogs.texts import LANGUAGES
from tests.test_sms_texts import LONGEST_PLACE, PLACES

CATALOG = load_catalog()
PARAMS = {"code": "*1880#", "helpline": "1880"}
# The longest names one SMS carries: three households whose short initials clashed.
NAMES = [["C.T."], ["C.T.", "L.T."], ["C.M.T.H.", "C.R.T.H.", "L.A.Q.M."]]


def test_initials_are_those_the_ussd_chooser_shows() -> None:
    # The same initials the USSD chooser shows on that phone (dialogs/choice.py).
    assert initials("ROSA MARIA", "QUISPE HUAMAN") == "R.Q.H."
    assert initials("ROSA MARIA", "QUISPE HUAMAN", full=True) == "R.M.Q.H."
    assert initials("Ángela", "Ñaupari") == "A.Ñ."
    assert household_label(CATALOG, "es", ["C.T.", "L.T.", "A.Q."]) == "hogares de C.T., L.T. y A.Q."


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_to_a_shared_phone_fits_one_sms(lang: str) -> None:
    texts = []
    for place, modalidad, names in itertools.product([*PLACES, LONGEST_PLACE], ("agencia", "etv"), NAMES):
        op = Operation("2026-6", "P1", modalidad, place, dt.date(2026, 12, 28), dt.date(2027, 1, 2),
                       dt.time(8, 0), dt.time(17, 30))
        who = household_label(CATALOG, lang, names)
        for text in (reminder_text(CATALOG, lang, op, PARAMS, who=who),
                     reminder_text(CATALOG, lang, op, PARAMS, change=True, who=who)):
            assert "08:00-17:30" in text and "*1880#" in text, text
            texts.append((who, text))
        texts += [(who, cancel_text(CATALOG, lang, op, PARAMS, who=who)),
                  (who, notice_text(CATALOG, lang, "2026-6", PARAMS, who=who)),
                  ("Mi Juntos: el pago", cancel_text(CATALOG, lang, op, PARAMS))]
    for who, text in texts:
        assert sms_parts(text) == ("gsm7", 1), f"{len(text)}: {text}"
        assert who in text and "*1880#" in text, text
        assert text.split(":")[0].startswith("Mi Juntos"), text


@pytest.mark.parametrize("place, kept", [
    # The words that tell one pay point from another stay; the generic ones go first.
    ("Operativo ETV Comunidad Nativa Santa Rosa de Alto Yurinaki Perene, Jr. Los Pinos 123",
     "C.N. Santa Rosa"),
    ("Agencia Banco de la Nacion Huancabamba Centro Poblado San Miguel (frente a la plaza)",
     "BN Huancabamba"),
    ("Operativo ETV Asociacion Señor de los Milagros de Ñuñoa Alto Comunidad Campesina Ccollpa",
     "Asociacion"),
])
def test_a_shortened_place_keeps_its_distinguishing_words(place: str, kept: str) -> None:
    op = Operation("2026-6", "P1", "etv", place, dt.date(2026, 12, 3), dt.date(2026, 12, 13),
                   dt.time(7, 0), dt.time(15, 0))
    who = household_label(CATALOG, "es", NAMES[2])
    texts = [reminder_text(CATALOG, "es", op, PARAMS, who=who),
             reminder_text(CATALOG, "es", op, PARAMS, change=True, who=who),
             cancel_text(CATALOG, "es", op, PARAMS, who=who), cancel_text(CATALOG, "es", op, PARAMS)]
    for text in texts:
        assert sms_parts(text) == ("gsm7", 1), text
        assert kept in text, text
        # never a name cut to its generic words or to a dangling "C.C." / "San"
        assert not any(f" {end}." in text or f" {end} ya" in text
                       for end in ("ETV", "BN", "C.C.", "C.N.", "C.P.", "San", "Santa")), text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_text_naming_initials_two_households_share_fits_one_sms(lang: str) -> None:
    who = household_label(CATALOG, lang, ["M.E.T.Q."], unsure=2)
    assert "(hay 2: envie DNI PAGO)" in who
    for place, modalidad in itertools.product([*PLACES, LONGEST_PLACE], ("agencia", "etv")):
        op = Operation("2026-6", "P1", modalidad, place, dt.date(2026, 12, 28), dt.date(2027, 1, 2),
                       dt.time(8, 0), dt.time(17, 30))
        for text in (reminder_text(CATALOG, lang, op, PARAMS, who=who),
                     reminder_text(CATALOG, lang, op, PARAMS, change=True, who=who),
                     cancel_text(CATALOG, lang, op, PARAMS, who=who),
                     notice_text(CATALOG, lang, "2026-6", PARAMS, who=who)):
            assert sms_parts(text) == ("gsm7", 1), f"{len(text)}: {text}"
