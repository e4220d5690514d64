"""A Quechua and an Aymara household, by USSD and by SMS, in both TRANSLATIONS modes: the drafts
with `drafts`, Spanish (their texts not being reviewed) with `reviewed`."""

from __future__ import annotations

import pytest
import redis as redis_lib

from core.catalogs import DRAFT, LOCALES_DIR, entries, load_catalog
from core.settings import Settings
from dialogs.gsm import gsm_safe
from gateway.app import create_app
from models import Database
from tests.support import JUANA, STRANGER_PHONE, Phone, sms_reply

DRAFTS = load_catalog(drafts=True)
SPANISH = load_catalog()
# Juana reads Quechua (no payment this period: health check-ups); Carmen reads Aymara (paid).
TITULARES = {"qu": (JUANA["dni"], JUANA["dob"], "Juana"), "ay": ("55500001", "04031992", "Carmen")}
PARAMS = {"code": "*1880#", "helpline": "1880"}


def drafted(lang: str, key: str) -> bool:
    return entries(LOCALES_DIR / f"{lang}.po")[key].status == DRAFT


@pytest.mark.parametrize("lang", ["qu", "ay"])
@pytest.mark.parametrize("mode", ["drafts", "reviewed"])
def test_a_household_reads_its_language_by_ussd(
    lang: str, mode: str, settings: Settings, seeded: Database, redis: redis_lib.Redis
) -> None:
    assert drafted(lang, "main_menu") and drafted(lang, "pay_agencia"), "the drafts are in the catalog"
    dni, dob, name = TITULARES[lang]
    catalog = DRAFTS if mode == "drafts" else SPANISH
    app = create_app(settings.with_(translations=mode))
    try:
        phone = Phone(app.test_client(), STRANGER_PHONE, redis=redis)
        assert "Bienvenida a Mi Juntos" in phone.dial()  # before verification: Spanish
        phone.send(dni)
        menu = phone.send(dob)
        expected = gsm_safe(catalog.text(lang, "main_menu", name=name))
        assert menu == "CON " + expected, menu
        assert (expected != gsm_safe(SPANISH.text("es", "main_menu", name=name))) == (mode == "drafts")
        pay = phone.send("1")
        assert catalog.text(lang, "nav_full") in pay, pay
        if mode == "reviewed":
            assert catalog.text("es", "nav_full") in pay
    finally:
        app.extensions["mijuntos"].close()


@pytest.mark.parametrize("lang", ["qu", "ay"])
@pytest.mark.parametrize("mode", ["drafts", "reviewed"])
def test_a_household_reads_its_language_by_sms(
    lang: str, mode: str, settings: Settings, seeded: Database
) -> None:
    dni, dob, _ = TITULARES[lang]
    catalog = DRAFTS if mode == "drafts" else SPANISH
    app = create_app(settings.with_(translations=mode))
    try:
        reply = sms_reply(app.test_client(), seeded, STRANGER_PHONE, f"{dni} {dob}")
    finally:
        app.extensions["mijuntos"].close()
    if lang == "qu":  # no payment in 2026-6, for the check-ups: the category, never the detail
        category = catalog.text(lang, "category_corresponsabilidades")
        expected = gsm_safe(catalog.text(lang, "sms_no_pay", periodo="2026-6", category=category,
                                         **PARAMS))
        assert reply == expected, reply
    else:  # paid at the Llachon operation: the date, hours and place
        t = catalog.translator(lang)
        assert reply.startswith(gsm_safe(t("sms_pay_etv", periodo="2026-6", dates="x", open="x",
                                             close="x", place="x", **PARAMS)).split("2026-6")[0]), reply
        assert "09:00-15:00" in reply and "Llachon" in reply
    spanish = reply.startswith("Mi Juntos: en el periodo") or reply.startswith("Mi Juntos: pago")
    assert spanish == (mode == "reviewed"), reply


@pytest.mark.parametrize("mode", ["drafts", "reviewed"])
def test_the_language_notice_says_the_truth_in_each_mode(
    mode: str, settings: Settings, seeded: Database, redis: redis_lib.Redis
) -> None:
    """Choosing Runasimi: drafts shown are said to be drafts; hidden, that Spanish shows."""
    from tests.support import ROSA_PHONE

    app = create_app(settings.with_(translations=mode))
    try:
        phone = Phone(app.test_client(), ROSA_PHONE, redis=redis)
        phone.dial()
        phone.send("5")
        saved = phone.send("2")
    finally:
        app.extensions["mijuntos"].close()
    if mode == "drafts":
        assert saved.startswith("CON " + gsm_safe(DRAFTS.text("qu", "lang_saved_draft"))), saved
    else:
        assert saved.startswith("CON Idioma guardado; por ahora en espanol."), saved
