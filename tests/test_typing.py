"""What people type, as they type it: the same spellings on USSD and SMS, through the endpoints."""

from __future__ import annotations

import datetime as dt

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from dialogs.validate import check_chars, parse_dni, parse_dob, wrong_check_char
from models import Database, PayPoint
from tests.support import JUANA, ROSA_PHONE, STRANGER_PHONE, TEST_TODAY, Phone, sms_reply

# Juana's DNI 40123456 has the check characters "5" and "J" (RENIEC's modulo 11).
DNI_SPELLINGS = ["40123456", "4012 3456", "40.123.456", "40-123-456", " 40123456 ", "401234565",
                 "40123456-5", "40123456 5", "40123456J", "40123456-j"]
# Juana was born on 2 January 1985.
DOB_SPELLINGS = ["02011985", "2/1/1985", "02/01/1985", "02-01-1985", "2.1.1985", "02 01 1985",
                 "2 1 1985"]
WRONG_CHECK = ["401234560", "40123456-K", "40123456 4"]
# Before 1900, in the future, and a day short of 12 years old on the tests' today (2026-12-02).
IMPOSSIBLE_DATES = ["31121899", "01012030", "03122014"]
NOT_THE_CARD = "no coincide con su DNI"
NOT_POSSIBLE = "no puede ser la de la titular"


@pytest.fixture
def phone_for(app: Flask, seeded: Database, redis: redis_lib.Redis):
    def make(number: str) -> Phone:
        return Phone(app.test_client(), number, redis=redis)

    return make


@pytest.fixture
def client(app: Flask, seeded: Database) -> FlaskClient:
    return app.test_client()




# --- the parser: known check characters, and any DNI or date in any spelling -----------------

def test_check_characters_are_renieces() -> None:
    # Pairs printed on cards and in RENIEC's RUC rule (RUC 10 + DNI + the same digit).
    assert check_chars("10117410") == "2G"
    assert check_chars("78654321") == "1E"
    assert check_chars("01234567") == "0D"
    assert check_chars("40123456") == "5J"


SPELL_DNI = [lambda d: d, lambda d: f"{d[:4]} {d[4:]}", lambda d: f"{d[:2]}.{d[2:5]}.{d[5:]}",
             lambda d: f"{d[:2]}-{d[2:5]}-{d[5:]}"]


@given(st.from_regex(r"\A[0-9]{8}\Z"), st.sampled_from(SPELL_DNI), st.sampled_from(["", "-", " "]),
       st.booleans())
def test_any_dni_in_any_spelling_parses_back_to_itself(dni: str, spell, mark: str, letter: bool) -> None:
    typed = spell(dni)
    assert parse_dni(typed) == dni and not wrong_check_char(typed)
    right = check_chars(dni)[1 if letter else 0]
    assert parse_dni(typed + mark + right) == dni
    wrong = next(c for c in ("0123456789" if not letter else "ABCDEFGHIJK") if c not in check_chars(dni))
    assert parse_dni(typed + mark + wrong) is None and wrong_check_char(typed + mark + wrong)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
       st.sampled_from(["{d:02d}{m:02d}{y}", "{d}/{m}/{y}", "{d:02d}-{m:02d}-{y}", "{d}.{m}.{y}",
                        "{d:02d} {m:02d} {y}"]))
def test_any_date_in_any_spelling_parses_back_to_itself(day: dt.date, spelling: str) -> None:
    assert parse_dob(spelling.format(d=day.day, m=day.month, y=day.year)) == day


# --- USSD -------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", DNI_SPELLINGS)
def test_ussd_takes_the_dni_as_printed_on_the_card(phone_for, typed: str) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    assert "fecha de nacimiento" in phone.send(typed)
    assert "Hola Juana" in phone.send(JUANA["dob"])


@pytest.mark.parametrize("typed", DOB_SPELLINGS)
def test_ussd_takes_the_date_of_birth_in_every_spelling(phone_for, typed: str) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    assert "Hola Juana" in phone.send(typed)


def test_ussd_a_wrong_check_character_gets_its_own_hint_and_costs_no_dni_try(phone_for) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    # More wrong check characters, of more DNIs, than the phone's daily limit of 3 DNIs.
    for typed in ["401234560", "012345671", "555000019", "999999990"]:
        screen = phone.send(typed)
        assert screen.startswith("CON ") and NOT_THE_CARD in screen and "8 numeros" in screen
        assert "Opcion no valida" not in screen
    assert "fecha de nacimiento" in phone.send(JUANA["dni"])  # the limit was not touched


def test_ussd_impossible_dates_are_hints_and_do_not_lock(phone_for) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    for typed in IMPOSSIBLE_DATES:  # three, as many as would lock the DNI if they were wrong
        screen = phone.send(typed)
        assert screen.startswith("CON ") and NOT_POSSIBLE in screen and "fecha de nacimiento" in screen
        assert "le quedan" not in screen.lower()
    assert "Hola Juana" in phone.send(JUANA["dob"])


def test_ussd_twelve_years_old_today_is_a_possible_date_and_a_wrong_one_counts(phone_for) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    twelve = TEST_TODAY.replace(year=TEST_TODAY.year - 12).strftime("%d%m%Y")
    screen = phone.send(twelve)
    assert NOT_POSSIBLE not in screen and "no coincide" in screen  # a real wrong date


def test_ussd_00_on_the_main_menu_shows_it_again_and_0_says_goodbye(phone_for) -> None:
    phone = phone_for(ROSA_PHONE)
    assert "Hola Rosa" in phone.dial()
    screen = phone.send("00")
    assert screen.startswith("CON Hola Rosa") and "Opcion no valida" not in screen
    assert "Agencia BN Chulucanas" in phone.send("1")
    assert phone.send("00").startswith("CON Hola Rosa")
    assert phone.send("0").startswith("END Gracias por usar Mi Juntos")


LONG_LUGAR = ("Agencia Banco de la Nacion Comunidad Campesina San Juan de Llachon Capachica, "
              "local comunal, Jr. Los Incas 456 frente a la plaza de armas")[:120]
LONG_DIRECCION = ("Jiron Los Incas 456, segundo piso, frente a la plaza de armas de Llachon, al costado de "
                  "la posta de salud y de la Institucion Educativa 70125, distrito de Capachica, provincia "
                  "y departamento de Puno, Peru")[:200]


def long_pay_point(db: Database) -> None:
    with db.session() as s:
        s.execute(update(PayPoint).where(PayPoint.punto_id == "P001")
                  .values(lugar=LONG_LUGAR, direccion=LONG_DIRECCION))


def test_ussd_a_long_place_and_address_page_with_98_and_keep_the_place_name(phone_for, seeded) -> None:
    assert (len(LONG_LUGAR), len(LONG_DIRECCION)) == (120, 200)
    long_pay_point(seeded)
    phone = phone_for(ROSA_PHONE)
    phone.dial()
    pages = [phone.send("1")]
    while "98 Mas" in pages[-1]:
        pages.append(phone.send("98"))
        assert len(pages) < 6
    assert len(pages) >= 2 and all(len(p) - 4 <= 182 for p in pages)
    shown = " ".join(" ".join(p.split("\n")[:-1]) for p in pages).split()
    # Every word of the name and the address is shown, in order, on one page or the next.
    words = (LONG_LUGAR + " " + LONG_DIRECCION).split()
    it = iter(shown)
    assert all(any(word == seen or word in seen for seen in it) for word in words), pages
    assert "con tarjeta en Agencia Banco de la Nacion Comunidad Campesina San Juan" in pages[0]


# --- SMS --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dni", DNI_SPELLINGS)
def test_sms_takes_the_dni_as_printed_on_the_card(client, seeded: Database, dni: str) -> None:
    reply = sms_reply(client, seeded, STRANGER_PHONE, f"PAGO {dni} {JUANA['dob']}")
    assert "no hay pago por corresponsabilidades" in reply


@pytest.mark.parametrize("dob", DOB_SPELLINGS)
def test_sms_takes_the_date_of_birth_in_every_spelling(client, seeded: Database, dob: str) -> None:
    assert "no hay pago por corresponsabilidades" in sms_reply(client, seeded, STRANGER_PHONE,
                                                          f"{JUANA['dni']} {dob}")
    assert "corresponsabilidades" in sms_reply(client, seeded, STRANGER_PHONE,
                                         f"4012 3456 {dob} estado")


def test_sms_a_wrong_check_character_gets_its_own_hint_and_costs_no_dni_try(client, seeded) -> None:
    for typed in [*WRONG_CHECK, "012345671", "555000019"]:
        reply = sms_reply(client, seeded, STRANGER_PHONE, f"{typed} {JUANA['dob']}")
        assert NOT_THE_CARD in reply and "8 numeros" in reply
    assert "no hay pago" in sms_reply(client, seeded, STRANGER_PHONE, f"{JUANA['dni']}-5 {JUANA['dob']}")


def test_sms_impossible_dates_are_hints_and_do_not_lock(client, seeded: Database) -> None:
    for typed in [*IMPOSSIBLE_DATES, "3/12/2014"]:
        reply = sms_reply(client, seeded, STRANGER_PHONE, f"{JUANA['dni']} {typed}")
        assert NOT_POSSIBLE in reply and "quedan" not in reply and "bloqueado" not in reply
    assert "no hay pago por corresponsabilidades" in sms_reply(client, seeded, STRANGER_PHONE,
                                                          f"{JUANA['dni']} {JUANA['dob']}")


@pytest.mark.parametrize("text", ["PAGO 👍", "pago!", "¿pago?", "Pago.", "pago 🙏🙏", "PAGO :)",
                                  "¡¡Pago!!", "juntos, pago?"])
def test_sms_commands_with_emoji_or_punctuation(client, seeded: Database, text: str) -> None:
    assert "Agencia BN Chulucanas" in sms_reply(client, seeded, ROSA_PHONE, text)


@pytest.mark.parametrize("text", ["👍", "hola!", "pago estado?", "pagos y mas 👍"])
def test_sms_anything_not_understood_is_still_help(client, seeded: Database, text: str) -> None:
    reply = sms_reply(client, seeded, ROSA_PHONE, text)
    assert "envie PAGO" in reply and "Agencia" not in reply


def test_sms_a_long_place_name_keeps_its_distinguishing_words_in_one_sms(client, seeded) -> None:
    long_pay_point(seeded)
    reply = sms_reply(client, seeded, ROSA_PHONE, "PAGO")
    assert "San Juan de Llachon Capachica" in reply and "12/12 al 16/12/2026" in reply, reply
    assert "Jr." not in reply and "plaza" not in reply  # the address goes first
    assert "08:00-17:30" in reply and "*1880#" in reply
