"""Shared phones and borrowed sessions through POST /ussd: whose data a caller sees, and when."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from models import Database, Household, Query
from tests.support import JUANA, ROSA_PHONE, SHARED_PHONE, STRANGER_PHONE, Phone, sms_reply
from workers.usage import drain_usage

CARMEN, LUZ = "H00000003", "H00000004"
# Anything of a household: names, DNIs, amounts, payment words, the greeting.
PRIVATE = ("Carmen", "CARMEN", "Luz", "LUZ", "Ticona", "TICONA", "55500001", "55500002", "S/",
           "Pago", "pago", "tarjeta", "Operativo", "Hola", "Rosa", "Juana", "Agencia")


@pytest.fixture
def client(app: Flask, seeded: Database) -> FlaskClient:
    return app.test_client()


def records(db: Database, redis: redis_lib.Redis) -> list[tuple[str, str, str | None]]:
    drain_usage(db, redis)
    with db.session() as s:
        rows = s.scalars(select(Query).order_by(Query.id)).all()
        return [(q.kind, q.outcome, q.hogar_id) for q in rows]




def test_the_chooser_shows_nothing_of_either_household_and_records_each_choice(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, SHARED_PHONE, redis=redis)
    chooser = phone.dial()
    assert "1 Hogar C.T." in chooser and "2 Hogar L.T." in chooser
    assert not [word for word in PRIVATE if word in chooser], chooser
    assert records(seeded, redis) == []  # nobody is verified before she chooses
    assert "Hola Luz" in phone.send("2")
    assert "no tiene tarjeta" in phone.send("1")
    phone.send("00")
    again = phone.send("6")
    assert "1 Hogar C.T." in again and not [word for word in PRIVATE if word in again], again
    assert "Hola Carmen" in phone.send("1")
    assert records(seeded, redis) == [
        ("verify", "ok_phone", LUZ), ("next_payment", "sin_abono", LUZ),
        ("verify", "ok_phone", CARMEN),
    ]


def test_a_phone_of_one_household_has_no_other_household_option(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, ROSA_PHONE, redis=redis)
    assert "6 Otro hogar" not in phone.dial()
    assert "Opcion no valida." in phone.send("6")


@pytest.mark.parametrize("how", ["resent hop", "new hop"])
def test_a_session_id_from_another_phone_gets_a_fresh_session_and_no_data(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis,
    caplog: pytest.LogCaptureFixture, how: str,
) -> None:
    rosa = Phone(client, ROSA_PHONE, redis=redis)
    rosa.dial()
    shown = rosa.send("2")
    assert "Monto: S/ 200.00" in shown
    other = Phone(client, STRANGER_PHONE, session_id=rosa.session_id, inputs=list(rosa.inputs))
    with caplog.at_level(logging.WARNING, logger="mijuntos.ussd"):
        # The aggregator's resend (same sessionId and text) or a further hop, from another phone.
        reply = other.resend() if how == "resent hop" else other.send("1")
    assert reply != shown
    assert "Ingrese el DNI" in reply and not [word for word in PRIVATE if word in reply], reply
    stored = redis.get(f"mijuntos:ussd:{rosa.session_id}")
    assert isinstance(stored, bytes) and b"955555555" not in stored
    assert json.loads(stored)["s"].get("hogar_id") is None  # the stranger is not Rosa
    lines = [r.getMessage() for r in caplog.records if "reused by another phone" in r.getMessage()]
    assert lines and "955555555" not in lines[0] and "555" in lines[0]
    # Her own next hop does not continue the stranger's session either: her phone starts anew,
    # and is offered its own dropped screen back.
    assert "Tiene una consulta sin terminar" in rosa.send("1")
    assert "Monto: S/ 200.00" in rosa.send("1")


def test_wrong_dates_asked_on_resuming_count_toward_the_lock(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, STRANGER_PHONE, redis=redis)
    phone.dial(JUANA["dni"], JUANA["dob"])
    phone.send("1")
    assert "Tiene una consulta" in phone.dial()
    asked = phone.send("1")
    assert "Para seguir donde se quedo" in asked
    assert not [word for word in PRIVATE if word in asked], asked
    assert "quedan: 2" in phone.send("01011999")
    assert "quedan: 1" in phone.send("02011999")
    assert "END Por seguridad, este DNI esta bloqueado" in phone.send("03011999")
    # The lock is the DNI's, on every phone and channel: the right date by SMS is refused too.
    assert "bloqueado" in sms_reply(client, seeded, "+51944444444", f"{JUANA['dni']} {JUANA['dob']}")
    assert "Ingrese el DNI" in phone.dial()  # nothing left to resume
    assert records(seeded, redis)[-3:] == [
        ("verify", "dob_wrong", JUANA["hogar_id"]), ("verify", "dob_wrong", JUANA["hogar_id"]),
        ("verify", "locked", JUANA["hogar_id"]),
    ]


def test_resuming_a_locked_dni_on_a_phone_not_of_record_ends_locked(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, STRANGER_PHONE, redis=redis)
    phone.dial(JUANA["dni"], JUANA["dob"])
    phone.send("2")
    for wrong in ("01011999", "02011999", "03011999"):  # someone else, by SMS, meanwhile
        sms_reply(client, seeded, "+51944444444", f"{JUANA['dni']} {wrong}")
    assert "Tiene una consulta" in phone.dial()
    ended = phone.send("1")
    assert ended.startswith("END Por seguridad, este DNI esta bloqueado"), ended


def test_households_alike_by_initials_are_told_apart_or_left_to_the_dni(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone_number = "+51922222222"
    with seeded.session() as s:
        for hid, dni, nombres in [("H00000011", "66600001", "MARIA"), ("H00000012", "66600002", "MARTA"),
                                  ("H00000013", "66600003", "MARIA ELENA"),
                                  ("H00000014", "66600004", "ROSA")]:
            s.add(Household(hogar_id=hid, dni=dni, nombres=nombres, apellidos="TICONA QUISPE",
                            fecha_nacimiento=dt.date(1990, 1, 1), phone=phone_number, idioma="es",
                            ubigeo="210101", unidad_territorial="PUNO", estado="afiliado",
                            reminders_enabled=True))
    phone = Phone(client, phone_number, redis=redis)
    chooser = phone.dial()
    # Maria and Marta look alike even with every initial: only their DNI tells them apart.
    assert "Celular de 4 hogares:\n1 Hogar M.E.T.Q.\n2 Hogar R.T.Q.\nO escriba el DNI:" in chooser
    assert "Hola Maria" in phone.send("1")  # Maria Elena (first names are cut to one word)
    assert "Celular de 4 hogares" in phone.send("6")
    assert "Opcion no valida." in phone.send("3")
    assert "Hola Marta" in phone.send("66600002")  # this phone's household: no date needed


def test_sisters_whose_initials_differ_only_by_an_accent_are_told_apart(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    # "Á" is not GSM-7: a handset is shown "A". Angela's and Angelica's short initials differ
    # only by that accent, so the chooser must see them as the handset does and use the long ones.
    with seeded.session() as s:
        for hid, dni, nombres in (("H00000003", "55500001", "ÁNGELA ROSA"),
                                  ("H00000004", "55500002", "ANGÉLICA MARIA")):
            household = s.get(Household, hid)
            assert household is not None
            household.nombres, household.apellidos, household.dni = nombres, "TICONA", dni
    chooser = Phone(client, SHARED_PHONE, redis=redis).dial()
    assert "1 Hogar A.R.T." in chooser and "2 Hogar A.M.T." in chooser, chooser


def test_a_chooser_that_lists_nobody_answers_a_short_entry_with_the_dni_hint(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone_number = "+51933333333"  # sisters alike by every initial: the chooser lists neither
    with seeded.session() as s:
        for hid, dni, nombres in [("H00000021", "66600011", "MARIA ELENA"),
                                  ("H00000022", "66600012", "MARIA EVA")]:
            s.add(Household(hogar_id=hid, dni=dni, nombres=nombres, apellidos="TORRES QUISPE",
                            fecha_nacimiento=dt.date(1990, 1, 1), phone=phone_number, idioma="es",
                            ubigeo="210101", unidad_territorial="PUNO", estado="afiliado",
                            reminders_enabled=True))
    phone = Phone(client, phone_number, redis=redis)
    chooser = phone.dial()
    assert "Hogar" not in chooser and "Escriba el DNI" in chooser, chooser
    for typed in ("1", "0"):  # no option was offered: a DNI has 8 numbers
        shown = phone.send(typed)
        assert "El DNI tiene 8 numeros" in shown and "Opcion no valida" not in shown, shown
    assert "Hola Maria" in phone.send("66600012")


# --- retake: the ways back from the chooser reached by "6 Otro hogar", and from its date prompt.
def test_the_chooser_reached_from_a_menu_goes_back_to_it_by_0_or_00(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, SHARED_PHONE, redis=redis)
    first = phone.dial()
    assert "00 Menu" not in first  # a first chooser has no menu behind it
    assert "Opcion no valida." in phone.send("0")
    assert "Hola Luz" in phone.send("2")
    for key in ("0", "00"):
        chooser = phone.send("6")
        assert chooser.startswith("CON ") and chooser.endswith("\n0 Atras 00 Menu"), chooser
        assert len(chooser) - 4 <= 160 and not [w for w in PRIVATE if w in chooser], chooser
        back = phone.send(key)
        assert "Hola Luz" in back and "Opcion no valida" not in back, (key, back)
    assert records(seeded, redis) == [("verify", "ok_phone", LUZ)]  # going back verifies nothing new


def test_00_on_the_date_asked_for_a_dni_typed_on_the_chooser_returns_to_the_chooser(
    client: FlaskClient, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, SHARED_PHONE, redis=redis)
    phone.dial()
    assert "fecha de nacimiento" in phone.send(JUANA["dni"])  # not one of this phone's households
    chooser = phone.send("00")
    assert "1 Hogar C.T." in chooser and "Ingrese el DNI" not in chooser, chooser
    assert "fecha de nacimiento" in phone.send(JUANA["dni"])
    assert "1 Hogar C.T." in phone.send("0")  # "0" went back there already
    assert "Hola Luz" in phone.send("2")
