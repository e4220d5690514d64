"""Inbound SMS commands through POST /sms/inbound: replies land in the outbox, then a job."""

from __future__ import annotations

import itertools

import pytest
import redis as redis_lib
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from dialogs.gsm import sms_parts
from dialogs.sms import Command, parse_command
from models import Database, Household, InboundSms, OptOut, OutboxMessage, Query
from tests.support import JUANA, ROSA, ROSA_PHONE, SHARED_PHONE, STRANGER_PHONE, Phone

_ids = itertools.count(1)


def text_in(client, phone: str, text: str, sms_id: str | None = None) -> int:
    response = client.post("/sms/inbound", data={
        "date": "2026-11-27 10:00:00", "from": phone, "to": "1880", "text": text,
        "id": sms_id or f"in{next(_ids)}", "linkId": "L1", "networkCode": "71610",
    })
    return response.status_code


def replies(db: Database) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def client(app: Flask, seeded: Database):
    return app.test_client()


@pytest.mark.parametrize("text, expected", [
    ("PAGO", Command.PAGO), (" juntos  pago ", Command.PAGO), ("Pagó", Command.PAGO),
    ("JUNTOS 01234567 25081990", Command.PAGO), ("01234567 25/08/1990 estado", Command.ESTADO),
    ("estado", Command.ESTADO), ("ALTA", Command.ALTA), ("baja", Command.BAJA),
    ("STOP", Command.BAJA), ("Salir", Command.BAJA), ("AYUDA", Command.AYUDA),
    ("hola buenas", Command.AYUDA), ("", Command.AYUDA), ("pago estado", Command.AYUDA),
    ("01234567 25 08 1990", Command.PAGO),
])
def test_commands_are_parsed_tolerantly(text: str, expected: Command) -> None:
    assert parse_command(text).kind is expected


CASES = [
    # (phone, text, fragments the reply must hold)
    (ROSA_PHONE, "PAGO", ["pago 2026-6", "12/12 al 16/12/2026", "Agencia BN Chulucanas", "*1880#"]),
    (STRANGER_PHONE, f"{ROSA['dni']} {ROSA['dob']}", ["Agencia BN Chulucanas"]),
    (STRANGER_PHONE, f"JUNTOS {JUANA['dni']} {JUANA['dob']}",
     ["no hay pago por corresponsabilidades", "opcion 2"]),
    (STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']} ESTADO", ["corresponsabilidades"]),
    (ROSA_PHONE, "estado", ["2026-6 esta programado. Envie PAGO para la fecha"]),
    (SHARED_PHONE, "55500002 PAGO", ["tarjeta pendiente"]),  # phone of record: DNI alone
    # typed as our own replies word it ("envie DNI PAGO"), or the command twice
    (SHARED_PHONE, "DNI 55500002 PAGO", ["tarjeta pendiente"]),
    (STRANGER_PHONE, f"dni: {ROSA['dni']} {ROSA['dob']}", ["Agencia BN Chulucanas"]),
    (ROSA_PHONE, "pago pago", ["12/12 al 16/12/2026"]),
    (SHARED_PHONE, "55500001 estado", ["2026-6 esta programado", "Envie DNI PAGO para la fecha"]),
    # PAGO alone would not answer these phones: the reply says what does
    (STRANGER_PHONE, f"{ROSA['dni']} {ROSA['dob']} ESTADO",
     ["esta programado", "envie DNI y fecha de nacimiento"]),
    (SHARED_PHONE, "PAGO", ["varios hogares", "envie DNI PAGO, ej. 45678901 PAGO"]),
    (SHARED_PHONE, "estado", ["varios hogares", "envie DNI ESTADO"]),
    (SHARED_PHONE, f"{JUANA['dni']} PAGO", ["fecha de nacimiento DDMMAAAA"]),  # not of this phone
    (STRANGER_PHONE, "PAGO", ["envie el DNI de la titular"]),
    (STRANGER_PHONE, "99999999 01011990", ["ese DNI no esta en Juntos"]),
    (STRANGER_PHONE, f"{JUANA['dni']} 3113", ["fecha de nacimiento DDMMAAAA"]),
    (STRANGER_PHONE, "hola", ["envie PAGO", "*1880#", "1880"]),
    (STRANGER_PHONE, "ALTA", ["no esta registrado", "opcion 4"]),
]


@pytest.mark.parametrize("phone, text, fragments", CASES)
def test_each_command_gets_one_gsm7_reply_without_private_data(
    client, seeded: Database, redis: redis_lib.Redis, phone: str, text: str, fragments: list[str]
) -> None:
    assert text_in(client, phone, text) == 200
    [row] = replies(seeded)
    for fragment in fragments:
        assert fragment in row.text, row.text
    assert (row.recipient, row.purpose, row.status) == (phone, "reply", "pending")
    assert (row.encoding, row.segments) == ("gsm7", 1) == sms_parts(row.text)
    for private in ("S/", "200", ROSA["dni"], JUANA["dni"], "salud", "Rosa", "Juana", "Luis"):
        assert private not in row.text
    queue = Queue("sms", connection=redis)
    assert queue.job_ids == [f"sms-{row.id}"]


def test_a_resent_inbound_sms_is_answered_once(client, seeded: Database, redis) -> None:
    for _ in range(3):
        assert text_in(client, ROSA_PHONE, "PAGO", sms_id="ATXid_same") == 200
    assert len(replies(seeded)) == 1
    with seeded.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundSms)) == 1
        assert s.scalar(select(InboundSms.command)) == "pago"
    assert len(Queue("sms", connection=redis).job_ids) == 1


def test_inbound_text_with_a_dni_is_not_stored(client, seeded: Database) -> None:
    text_in(client, STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']}")
    with seeded.session() as s:
        stored = [str(v) for row in s.execute(select(InboundSms)).all() for v in row[0].__dict__.values()]
    assert not any(JUANA["dni"] in v or JUANA["dob"] in v for v in stored)


def test_baja_and_alta_switch_reminders_for_the_sending_phone(client, seeded: Database) -> None:
    for word, enabled, fragment in [("BAJA", False, "ya no enviaremos"), ("ALTA", True, "recibira"),
                                    ("stop", False, "envie ALTA"), ("Alta", True, "envie BAJA")]:
        text_in(client, ROSA_PHONE, word)
        with seeded.session() as s:
            rosa = s.get(Household, ROSA["hogar_id"])
            assert rosa is not None and rosa.reminders_enabled is enabled
            opted = s.get(OptOut, ROSA_PHONE)
            assert (opted is None) is enabled
        assert fragment in replies(seeded)[-1].text


def test_wrong_dates_by_sms_lock_the_dni_for_ussd_too(client, app: Flask, seeded: Database) -> None:
    text_in(client, STRANGER_PHONE, f"{JUANA['dni']} 01011999")
    assert "Intentos que quedan: 2" in replies(seeded)[-1].text
    text_in(client, "+51944444444", f"{JUANA['dni']} 02011999")
    assert "Intentos que quedan: 1" in replies(seeded)[-1].text
    text_in(client, STRANGER_PHONE, f"{JUANA['dni']} 03011999")
    assert "bloqueado 30 minutos" in replies(seeded)[-1].text
    text_in(client, STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']}")  # right date, still locked
    assert "bloqueado" in replies(seeded)[-1].text
    phone = Phone(app.test_client(), "+51933333333")
    phone.dial()
    assert phone.send(JUANA["dni"]).startswith("END Por seguridad")


def test_sms_lookups_are_recorded_by_channel(client, seeded: Database) -> None:
    text_in(client, ROSA_PHONE, "PAGO")
    text_in(client, STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']} ESTADO")
    with seeded.session() as s:
        got = [(q.channel, q.kind, q.outcome, q.unidad_territorial)
               for q in s.scalars(select(Query).order_by(Query.id))]
    assert got == [("sms", "verify", "ok_phone", "PIURA"), ("sms", "next_payment", "programado", "PIURA"),
                   ("sms", "verify", "ok_dob", "PUNO"), ("sms", "status", "sin_abono", "PUNO")]


@pytest.mark.parametrize("form, reason", [
    ({"from": ROSA_PHONE, "text": "PAGO"}, "id: missing"),
    ({"id": "x1", "text": "PAGO"}, "from: missing"),
    ({"id": "x1", "from": "not-a-phone", "text": "PAGO"}, "from: not a phone number"),
    ({"id": "x1", "from": ROSA_PHONE, "text": "P" * 5000}, "text: longer than"),
])
def test_malformed_inbound_gets_400_and_writes_nothing(client, seeded: Database, redis, form,
                                                       reason: str) -> None:
    response = client.post("/sms/inbound", data=form)
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    assert replies(seeded) == []
    assert Queue("sms", connection=redis).job_ids == []


def test_optout_callback_marks_the_phone(client, seeded: Database) -> None:
    response = client.post("/sms/optout", data={"senderId": "JUNTOS", "phoneNumber": "987654321"})
    assert response.status_code == 200
    with seeded.session() as s:
        assert s.get(OptOut, ROSA_PHONE) is not None
        rosa = s.get(Household, ROSA["hogar_id"])
        assert rosa is not None and rosa.reminders_enabled is False
    assert client.post("/sms/optout", data={"senderId": "JUNTOS"}).status_code == 400
    again = client.post("/sms/optout", data={"senderId": "JUNTOS", "phoneNumber": ROSA_PHONE})
    assert again.status_code == 200


def test_distinct_dnis_per_phone_are_counted_across_channels(client, app: Flask, seeded) -> None:
    phone = Phone(app.test_client(), STRANGER_PHONE)
    phone.dial()
    phone.send("99999999")
    phone.send("99999998")
    text_in(client, STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']}")  # the third: answered
    assert "no hay pago" in replies(seeded)[-1].text
    text_in(client, STRANGER_PHONE, f"{ROSA['dni']} {ROSA['dob']}")  # the fourth: refused
    assert "ya consulto varios DNI hoy" in replies(seeded)[-1].text
    assert "Agencia" not in replies(seeded)[-1].text
    text_in(client, "+51944444444", f"{ROSA['dni']} {ROSA['dob']}")  # another phone: fine
    assert "Agencia BN Chulucanas" in replies(seeded)[-1].text


def test_by_sms_too_a_phone_past_its_limit_cannot_learn_that_a_dni_is_locked(client, seeded) -> None:
    for wrong in ("01011999", "02011999", "03011999"):
        text_in(client, "+51944444444", f"{ROSA['dni']} {wrong}")
    assert "bloqueado" in replies(seeded)[-1].text
    for dni in ("99999999", "99999998", JUANA["dni"]):
        text_in(client, STRANGER_PHONE, f"{dni} 01011980")
    text_in(client, STRANGER_PHONE, f"{ROSA['dni']} 01011980")
    assert "ya consulto varios DNI hoy" in replies(seeded)[-1].text
