"""Every SMS text is one GSM-7 part in all three languages, with realistic long place names."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from core.catalogs import load_catalog
from dialogs import Catalog, Context
from dialogs.gsm import septets, sms_parts
from dialogs.reminders import Operation, reminder_text
from dialogs.sms import SmsCommand, answer, parse_command
from dialogs.texts import LANGUAGES
from dialogs.views import REASONS, STATES
from tests.dialog_facts import MemoryFacts, household, settlement

CATALOG = load_catalog()
# Both modes of TRANSLATIONS: what callers see in production, and with the drafts shown.
CATALOGS = {"reviewed": CATALOG, "drafts": load_catalog(drafts=True)}
MODES = pytest.mark.parametrize("mode", list(CATALOGS))
# Long real-world style place names of pay points (agency and field operation).
PLACES = [
    "Agencia BN Santiago de Chuco",
    "Agente BN Huancabamba Jr. San Martin",
    "Operativo ETV Comunidad Campesina San Juan de Llachon",
    "Operativo ETV Comunidad Nativa Puerto Ocopa Rio Tambo",
]
CTX = Context(phone="+51987654321", secret="s", helpline="1880", service_code="*1880#")


def sms_keys(catalog: Catalog) -> list[str]:
    return sorted(k for k in catalog.keys if k.startswith("sms_"))


def test_sms_parts_counts_gsm7_and_ucs2() -> None:
    assert sms_parts("a" * 160) == ("gsm7", 1)
    assert sms_parts("a" * 161) == ("gsm7", 2)
    assert sms_parts("a" * 306) == ("gsm7", 2)
    assert sms_parts("a" * 307) == ("gsm7", 3)
    assert sms_parts("[" * 80) == ("gsm7", 1) and septets("[" * 81) == 162
    assert sms_parts("á" * 70) == ("ucs2", 1)
    assert sms_parts("á" * 71) == ("ucs2", 2)


def every_answer(catalog: Catalog) -> list[tuple[str, str, str]]:
    out = []
    for lang, place, modalidad in itertools.product(LANGUAGES, PLACES, ("agencia", "etv")):
        for estado in STATES:
            for motivo in REASONS if estado == "sin_abono" else (None,):
                facts = MemoryFacts(
                    households=[household(idioma=lang)],
                    history=[settlement(estado, motivo, lugar=place, modalidad=modalidad)],
                )
                for command in ("PAGO", "ESTADO", "ALTA", "BAJA", "AYUDA"):
                    reply = answer(parse_command(command), CTX, facts, catalog)
                    out.append((lang, f"{command}/{estado}/{motivo}/{place}", reply.text))
    # Nothing ahead: the last payment, what follows, and how she will hear (the longest parts).
    own, other = (Context(phone=phone, secret="s", today=dt.date(2027, 3, 1))
                  for phone in ("+51987654321", "+51900000000"))
    for lang, estado, motivo, missing, enabled, opted in itertools.product(
            LANGUAGES, STATES, REASONS, (None, "2027-1"), (True, False), (False, True)):
        for ctx, command in ((own, "PAGO"), (own, "ESTADO"), (other, "01234567 25081990"),
                             (other, "01234567 25081990 ESTADO")):
            facts = MemoryFacts(households=[household(idioma=lang, reminders_enabled=enabled)],
                                history=[settlement(estado, motivo)], newest_periodo=missing,
                                opted_out={ctx.phone} if opted else set())
            reply = answer(parse_command(command), ctx, facts, catalog)
            out.append((lang, f"{command}/over/{estado}/{motivo}/{missing}", reply.text))
    stranger = Context(phone="+51900000000", secret="s")
    facts = MemoryFacts(households=[household(phone=None)], failures={})
    for cmd in (SmsCommand(parse_command("PAGO").kind), SmsCommand(parse_command("x").kind),
                parse_command("1234 25081990"), parse_command("99999999 25081990"),
                parse_command("01234567 3113"), parse_command("01234567 01011999"),
                parse_command("ALTA")):
        out.append(("es", str(cmd), answer(cmd, stranger, facts, catalog).text))
    shared = MemoryFacts(households=[household("H1"), household("H2", dni="01234568")])
    for command in ("PAGO", "ESTADO"):  # a shared phone is asked for the DNI alone
        out.append(("es", f"shared {command}", answer(parse_command(command), CTX, shared,
                                                       catalog).text))
    return out


@MODES
def test_every_sms_reply_is_one_gsm7_part_in_every_language(mode: str) -> None:
    answers = every_answer(CATALOGS[mode])
    assert len(answers) > 500
    for lang, where, text in answers:
        assert sms_parts(text) == ("gsm7", 1), f"{lang} {where}: {len(text)} chars: {text}"


@MODES
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_sms_template_fits_with_the_longest_values(lang: str, mode: str) -> None:
    catalog = CATALOGS[mode]
    t = catalog.translator(lang)
    longest_category = max((t(k) for k in catalog.keys if k.startswith("category_")), key=len)
    for key in sms_keys(catalog):
        text = t(key, periodo="2026-6", dates="del 28/12/2026 al 02/01/2027", open="08:00",
                 close="17:30", place=max(PLACES, key=len), category=longest_category, left=2,
                 minutes=30, code="*1880#", helpline="1880", end="02/01/2027",
                 command="ESTADO", last3="123", hours=720,
                 who="hogar de A.B.C.D.")
        assert sms_parts(text) == ("gsm7", 1), f"{lang}/{key}: {len(text)}: {text}"


def test_the_check_catches_a_translation_that_is_too_long() -> None:
    long_help = CATALOG.text("es", "sms_help") + " Mas informacion en su municipalidad."
    catalog = Catalog({**CATALOG.messages, "ay": {"sms_help": long_help}})
    too_long = [a for a in every_answer(catalog) if sms_parts(a[2])[1] > 1]
    assert too_long and {lang for lang, _, _ in too_long} == {"ay"}


# As long as the import contract allows (120 characters): cut at a word, never the date or hours.
LONGEST_PLACE = ("Operativo ETV Comunidad Campesina San Pedro de Huancaire, local comunal frente a la plaza "
                 "de armas, distrito de Huancaire")[:120]


@MODES
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_place_name_as_long_as_the_contract_allows_keeps_one_sms(lang: str, mode: str) -> None:
    catalog = CATALOGS[mode]
    assert len(LONGEST_PLACE) == 120
    texts = []
    for modalidad in ("agencia", "etv"):
        facts = MemoryFacts(households=[household(idioma=lang)],
                            history=[settlement("programado", lugar=LONGEST_PLACE, modalidad=modalidad)])
        texts.append(answer(parse_command("PAGO"), CTX, facts, catalog).text)
        op = Operation("2026-6", "P1", modalidad, LONGEST_PLACE, dt.date(2026, 12, 28),
                       dt.date(2027, 1, 2), dt.time(8, 0), dt.time(17, 30))
        params = {"code": "*1880#", "helpline": "1880"}
        texts += [reminder_text(catalog, lang, op, params),
                  reminder_text(catalog, lang, op, params, change=True)]
    for text in texts:
        assert sms_parts(text) == ("gsm7", 1), f"{len(text)}: {text}"
        assert "Operativo ETV Comunidad Campesina San Pedro" in text, text
        assert "08:00-17:30" in text and "*1880#" in text, text
    short = answer(parse_command("PAGO"), CTX, MemoryFacts(
        households=[household(idioma=lang)], history=[settlement("programado", lugar=PLACES[0])]), catalog)
    assert PLACES[0] in short.text  # a name that fits is never cut


def test_a_one_day_operation_reads_as_one_day() -> None:
    op = Operation("2026-6", "P1", "agencia", "Agencia BN Ilave", dt.date(2026, 12, 4),
                   dt.date(2026, 12, 4), dt.time(8, 0), dt.time(17, 30))
    text = reminder_text(CATALOG, "es", op, {"code": "*1880#", "helpline": "1880"})
    assert "pago 2026-6 el 04/12/2026, 08:00-17:30" in text and " al " not in text
    longer = Operation("2026-6", "P1", "agencia", "Agencia BN Ilave", dt.date(2026, 12, 4),
                       dt.date(2026, 12, 6), dt.time(8, 0), dt.time(17, 30))
    assert "del 04/12 al 06/12/2026" in reminder_text(CATALOG, "es", longer, {"code": "c", "helpline": "h"})
