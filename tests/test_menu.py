"""The menu is data and is checked; every screen fits a basic phone in every language."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.catalogs import LOCALES_DIR, load_catalog
from dialogs import Catalog, Context
from dialogs.engine import SCREEN_MAX, _Step
from dialogs.facts import CoRespFacts, GestorFacts
from dialogs.gsm import gsm_safe, is_gsm7
from dialogs.screens import SCREENS, MenuError, _screen, check_menu
from dialogs.state import SessionState
from dialogs.texts import LANGUAGES
from dialogs.views import REASONS, STATES
from tests.dialog_facts import MemoryFacts, household, settlement

CATALOG = load_catalog()
# Both modes of TRANSLATIONS: what callers see in production, and with the drafts shown.
CATALOGS = {"reviewed": CATALOG, "drafts": load_catalog(drafts=True)}
# Today as the app tests pin it: settlement()'s operations lie ahead of it.
CTX = Context(phone="+51987654321", secret="s", helpline="1880", service_code="*1880#",
              today=dt.date(2026, 12, 2))
# Payment screens with data exported 62 days before "today": they carry "Datos al 01/10.".
STALE_CTX = CTX
STALE_EXPORT = dt.date(2026, 10, 1)


def test_the_menu_passes_its_own_check() -> None:
    check_menu()


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"main": _screen("main", {"1": "nowhere"}, nav="none")}, "unknown screen nowhere"),
        ({"orphan": _screen("orphan", {"1": "main"})}, "unreachable screens ['orphan']"),
        ({"bye": _screen("bye", {"1": "main"}, end=True, nav="none", resumable=False)},
         "END screen takes no input"),
        ({"pay": _screen("pay", nav="none")}, "needs a way out"),
        ({"lang": _screen("lang", {"1": "@nothing"})}, "unknown action"),
    ],
)
def test_a_broken_menu_is_rejected(broken: dict, message: str) -> None:
    with pytest.raises(MenuError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_menu({**SCREENS, **broken})


def po_entries(lang: str) -> dict[str, str]:
    with (LOCALES_DIR / f"{lang}.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def test_every_catalog_has_the_same_keys() -> None:
    spanish = po_entries("es")
    assert all(spanish.values()), "Spanish is the source: every text is complete"
    for lang in LANGUAGES:
        assert set(po_entries(lang)) == set(spanish), lang


def test_untranslated_texts_fall_back_to_spanish_and_are_listed() -> None:
    """Not reviewed: Spanish in production (a draft too); in drafts mode only a missing text."""
    from core.catalogs import MISSING, REVIEWED, entries

    for lang in ("qu", "ay"):
        found = entries(LOCALES_DIR / f"{lang}.po")
        empty = sorted(k for k, e in found.items() if e.status != REVIEWED)
        assert CATALOG.missing(lang) == empty
        assert CATALOGS["drafts"].missing(lang) == sorted(
            k for k, e in found.items() if e.status == MISSING)
        for key in empty:
            assert CATALOG.text(lang, key, **dict.fromkeys(
                CATALOG.placeholders("es", key), "x")) == CATALOG.text("es", key, **dict.fromkeys(
                    CATALOG.placeholders("es", key), "x"))


def test_translations_keep_the_placeholders_and_gsm7() -> None:
    for lang in LANGUAGES:
        for key, text in po_entries(lang).items():
            if not text:
                continue
            assert is_gsm7(text), f"{lang}/{key} has characters outside GSM-7"
            drafts = CATALOGS["drafts"]  # drafts too: a draft is shown in the simulator
            assert drafts.placeholders(lang, key) == drafts.placeholders("es", key), (lang, key)


def test_fallback_uses_a_real_translation_when_there_is_one() -> None:
    catalog = Catalog({"es": {"k": "hola {name}"}, "qu": {"k": "allillanchu {name}"}, "ay": {}})
    assert catalog.text("qu", "k", name="Rosa") == "allillanchu Rosa"
    assert catalog.text("ay", "k", name="Rosa") == "hola Rosa"
    assert catalog.missing("ay") == ["k"]


def test_gsm_safe_keeps_spanish_gsm_letters_and_plains_the_rest() -> None:
    assert gsm_safe("MARÍA Ñaupari Güemes José") == "MARIA Ñaupari Güemes José"
    assert gsm_safe("“ok” – 😀") == '"ok" - ?'
    assert is_gsm7(gsm_safe("ÁÍÓÚáíóúçâ"))


MEMBERS = [
    CoRespFacts(f"Maximiliano{i}", tipo, i % 2 == 0, "asistencia escolar secundaria completa")
    for i, tipo in zip(range(12), itertools.cycle(["salud", "educacion"]))
]
NOTICES = {
    "dni": [None, "dni_invalid", "dni_unknown"],
    "dob": [None, "dob_invalid", "dob_wrong"],
    "resume_dob": [None, "dob_invalid", "dob_wrong"],
    "choose": [None, "invalid_option", "dni_invalid", "dni_unknown"],
    "main": [None, "invalid_option", "lang_saved", "lang_saved_partial", "lang_saved_draft"],
}


def scenarios() -> list[MemoryFacts]:
    """Worst cases: long names and places, every state and reason, many members."""
    out = []
    for estado in STATES:
        for motivo in (REASONS + (None, "CODIGO_NUEVO")) if estado == "sin_abono" else (None,):
            for modalidad in ("etv", "agencia"):
                history = [settlement(estado, motivo, modalidad=modalidad)] + [
                    settlement(s) for s in STATES
                ]
                out.append(MemoryFacts(history=history, coresp=MEMBERS))
                out.append(MemoryFacts(history=history, coresp=MEMBERS, exported_on=STALE_EXPORT))
    out.append(MemoryFacts(history=[settlement(lugar=None)], coresp=[]))
    # Operations over before CTX.today: the last payment and what follows, every way to hear.
    start, end = dt.date(2026, 10, 28), dt.date(2026, 11, 2)
    ways: tuple[tuple[str, set[str]], ...] = (
        ("+51987654321", set()), ("+51900000000", set()), ("+51987654321", {"+51987654321"}))
    reasons: tuple[str | None, ...] = REASONS
    for estado, newest, (own, opted) in itertools.product(STATES, (None, "2027-1"), ways):
        for motivo in reasons if estado == "sin_abono" else (None,):
            history = [settlement(estado, motivo, fecha_inicio=start, fecha_fin=end)] + [
                settlement(s, fecha_inicio=start, fecha_fin=end) for s in STATES]
            out.append(MemoryFacts(households=[household(phone=own)], history=history,
                                   newest_periodo=newest, opted_out=opted))
    out.append(MemoryFacts(history=[], coresp=[]))
    for phone, enabled in (("+51987654321", True), ("+51987654321", False), ("+51900000000", True),
                           (None, True)):
        out.append(MemoryFacts(households=[household(phone=phone, reminders_enabled=enabled)]))
    return out


def every_rendering(catalog: Catalog) -> list[tuple[str, str, str]]:
    rendered = []
    for lang, facts in itertools.product(LANGUAGES, scenarios()):
        for screen_id, screen in SCREENS.items():
            for notice in NOTICES.get(screen_id, [None, "invalid_option"]):
                for page in range(6):
                    state = SessionState(screen=screen_id, lang=lang, hogar_id="H1",
                                         name="Maximilianaaaa", pending="H1", dni_key="k",
                                         page=page, notice=notice, saved={})
                    ctx = STALE_CTX if facts.exported_on else CTX
                    reply = _Step(state, ctx, facts, catalog).reply()
                    rendered.append((lang, f"{screen_id}/p{page}/{notice}", reply.text))
                    if state.page < page or not screen.paged:
                        break
    return rendered


# An assisted session (dialogs/assisted.py): the gestor's screens, and the household's menu and
# option 4 as a gestor sees them, with every notice they can carry.
GESTOR = GestorFacts("G000123", "Maximilianaaaa", "HUANCAVELICA", "Tambo Santa Rosa de Alto Yanajanca")
ASSIST_NOTICES = {
    "assist": [None, "invalid_option", "assist_locked", "dni_unknown"],
    "assist_dni": [None, "dni_invalid", "dni_unknown", "dni_check_wrong"],
    "assist_phone": [None, "assist_phone_invalid", "assist_phone_staff", "assist_phone_same",
                     "assist_phone_mismatch", "invalid_option"],
    "main": NOTICES["main"],
}
ASSIST_NOTICES["assist_phone_again"] = ASSIST_NOTICES["assist_phone"]


def every_assisted_rendering(catalog: Catalog) -> list[tuple[str, str, str]]:
    rendered = []
    screens = [s for s in SCREENS if s.startswith("assist") or s in ("main", "remind", "dob")]
    for lang, facts in itertools.product(LANGUAGES, scenarios()[-4:]):
        for screen_id in screens:
            for notice in ASSIST_NOTICES.get(screen_id, [None, "invalid_option"]):
                state = SessionState(screen=screen_id, lang=lang, hogar_id="H1", name="Maximilianaaaa",
                                     gestor=GESTOR.gestor_id, new_last3="999", notice=notice)
                step = _Step(state, CTX, facts, catalog)
                step.gestor = GESTOR
                rendered.append((lang, f"assisted {screen_id}/{notice}", step.reply().text))
    return rendered


@pytest.mark.parametrize("mode", list(CATALOGS))
def test_every_assisted_screen_fits_in_every_language(mode: str) -> None:
    renderings = every_assisted_rendering(CATALOGS[mode])
    assert len(renderings) > 100
    for lang, where, text in renderings:
        assert len(text) <= SCREEN_MAX - 4, f"{lang} {where}: {len(text)} chars\n{text}"
        assert is_gsm7(text), f"{lang} {where}: not GSM-7\n{text}"


@pytest.mark.parametrize("mode", list(CATALOGS))
def test_every_screen_fits_182_gsm7_characters_in_every_language(mode: str) -> None:
    renderings = every_rendering(CATALOGS[mode])
    assert len(renderings) > 500
    for lang, where, text in renderings:
        assert len(text) <= SCREEN_MAX - 4, f"{lang} {where}: {len(text)} chars\n{text}"
        assert is_gsm7(text), f"{lang} {where}: not GSM-7\n{text}"


def test_the_size_check_catches_a_translation_that_is_too_long() -> None:
    long_menu = CATALOG.text("es", "main_menu", name="{name}") + "\n6 Una opcion demasiado larga" * 3
    catalog = Catalog({**CATALOG.messages, "qu": {"main_menu": long_menu}})
    too_long = [r for r in every_rendering(catalog) if len(r[2]) > SCREEN_MAX - 4]
    assert too_long and all(lang == "qu" and where.startswith("main") for lang, where, _ in too_long)


def test_pages_split_on_lines_and_lose_nothing() -> None:
    facts = MemoryFacts(coresp=MEMBERS)
    pages = []
    for page in range(10):
        state = SessionState(screen="coresp", hogar_id="H1", page=page)
        text = _Step(state, CTX, facts, CATALOG).reply().text
        if state.page < page:
            break
        pages.append(text)
    assert len(pages) >= 3
    joined = "\n".join(pages)
    for member in MEMBERS:
        assert member.miembro in joined
    assert all("98 Mas" in p for p in pages[:-1]) and "98 Mas" not in pages[-1]


def test_locales_dir_is_inside_the_package() -> None:
    assert Path(LOCALES_DIR).parent.name == "dialogs"
    assert dataclasses.is_dataclass(SessionState)


def test_a_shared_phones_chooser_and_menu_fit_with_every_notice_in_every_language() -> None:
    # Five households, the longest labels (all alike but for one initial: the long form).
    households = [household(f"H{i}", initials=f"M{c} QH") for i, c in enumerate("ABCDE")]
    facts = MemoryFacts(households=households)
    ids = [h.hogar_id for h in households]
    notices = {"choose": [None, "invalid_option", "dni_invalid", "dni_unknown"],
               "main": NOTICES["main"]}
    for lang, (screen, options) in itertools.product(LANGUAGES, notices.items()):
        for notice in options:
            state = SessionState(screen=screen, lang=lang, hogar_id="H1" if screen == "main" else None,
                                 name="Maximilianaaaa", candidates=ids, notice=notice)
            text = _Step(state, CTX, facts, CATALOG).reply().text
            assert len(text) <= SCREEN_MAX - 4, f"{lang} {screen}/{notice}: {len(text)}\n{text}"
            assert is_gsm7(text), text
            if screen == "choose":
                assert text.count(" Hogar M.") == 4 and "Maximiliana" not in text, text
            else:
                assert "6 Otro hogar" in text or lang != "es", text
