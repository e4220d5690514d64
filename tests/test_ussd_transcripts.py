"""Conversations as tables: (input, what the screen must say), through the real app, Redis and DB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from flask import Flask
from sqlalchemy import select

from core.usage_stream import STREAM as USAGE_STREAM
from core.usage_stream import as_text
from dialogs.screens import SCREENS
from models import Database, Household, Query
from tests.support import (
    GESTOR_PHONE,
    JUANA,
    ROSA,
    ROSA_PHONE,
    SHARED_PHONE,
    STRANGER_PHONE,
    Phone,
    seed_gestores,
)
from workers.usage import drain_usage

SEEN_SCREENS: set[str] = set()
DIAL = None
Step = tuple[str | None, Sequence[str]]

TRANSCRIPTS: dict[str, tuple[str, list[Step]]] = {
    "phone of record goes straight to the menu and sees the next payment": (ROSA_PHONE, [
        (DIAL, ["CON Hola Rosa. Mi Juntos:", "1 Proximo pago", "5 Idioma", "0 Salir"]),
        ("1", ["Pago 2026-6", "del 12/12 al 16/12/2026", "08:00 a 17:30", "Agencia BN Chulucanas"]),
    ]),
    "address and DNI reminder are on the next payment screen": (ROSA_PHONE, [
        (DIAL, ["Hola Rosa"]),
        ("1", ["Agencia BN Chulucanas", "Jr. Lima 123", "Lleve su DNI", "0 Atras 00 Menu"]),
        ("98", ["Opcion no valida.", "Agencia BN Chulucanas"]),
        ("0", ["Hola Rosa"]),
    ]),
    "DNI and date of birth verify a stranger's phone; sin_abono shows reason and action": (
        STRANGER_PHONE, [
            (DIAL, ["CON ", "Ingrese el DNI"]),
            (JUANA["dni"], ["fecha de nacimiento", "DDMMAAAA", "0 Atras"]),
            (JUANA["dob"], ["Hola Juana"]),
            ("1", ["No hay pago", "controles de salud", "establecimiento de salud"]),
            ("00", ["Hola Juana"]),
            ("2", ["Pago 2026-6: sin abono", "controles de salud", "98 Mas"]),
            ("98", ["Periodos anteriores", "2026-5: cobrado, S/ 200.00"]),
            ("98", ["Opcion no valida.", "Periodos anteriores"]),
            ("00", ["Hola Juana"]),
            ("3", ["Ana, salud: NO cumple (control CRED)"]),
            ("0", ["Hola Juana"]),
            ("0", ["END Gracias por usar Mi Juntos"]),
        ]),
    "payment status shows amount, then the three periods before on page two": (ROSA_PHONE, [
        (DIAL, ["Hola Rosa"]),
        ("2", ["Pago 2026-6: programado", "Monto: S/ 200.00", "98 Mas"]),
        ("98", ["2026-5: cobrado, S/ 280.00", "2026-4: no cobrado", "2026-3: cobrado"]),
        ("0", ["Pago 2026-6: programado"]),
        ("0", ["Hola Rosa"]),
    ]),
    "co-responsibilities per member, paged": (ROSA_PHONE, [
        (DIAL, ["Hola Rosa"]),
        ("3", ["Corresponsabilidades 2026-6", "Luis, educacion: NO cumple (asistencia escolar)",
               "98 Mas"]),
        ("98", ["Wilfredo, educacion: cumple", "0 Atras 00 Menu"]),
    ]),
    "reminders switched off and on from the phone of record": (ROSA_PHONE, [
        (DIAL, ["Hola Rosa"]),
        ("4", ["ACTIVOS en este celular", "1 Desactivar"]),
        ("1", ["Ya no recibira avisos"]),
        ("0", ["DESACTIVADOS", "1 Activar"]),
        ("1", ["Recibira un SMS antes de cada pago"]),
        ("00", ["Hola Rosa"]),
    ]),
    "language menu and the choice kept": (ROSA_PHONE, [
        (DIAL, ["Hola Rosa"]),
        ("5", ["1 Espanol", "2 Runasimi", "3 Aymar aru", "0 Atras 00 Menu"]),
        ("9", ["Opcion no valida.", "1 Espanol"]),
        ("2", ["Idioma guardado; por ahora en espanol.", "1 Proximo pago"]),
        ("5", ["1 Espanol"]),
        ("1", ["CON Idioma guardado.\nHola Rosa", "1 Proximo pago"]),
    ]),
    "bad choices get a hint, too many end the session": (ROSA_PHONE, [
        (DIAL, ["Hola Rosa"]),
        ("7", ["CON Opcion no valida.", "Hola Rosa"]),
        ("x", ["Opcion no valida."]),
        ("", ["Opcion no valida."]),
        ("99", ["Opcion no valida."]),
        ("abc", ["END Demasiadas opciones no validas", "*1880#"]),
    ]),
    "malformed DNI and date of birth re-prompt with a hint and cost nothing": (STRANGER_PHONE, [
        (DIAL, ["Ingrese el DNI"]),
        ("1234", ["El DNI tiene 8 numeros", "Ingrese el DNI"]),
        ("01234567", ["fecha de nacimiento"]),
        ("3113", ["Escriba 8 numeros", "fecha de nacimiento"]),
        ("31022000", ["Escriba 8 numeros"]),
        ("0", ["Ingrese el DNI"]),
        ("012 345 67", ["fecha de nacimiento"]),
        (ROSA["dob"], ["Hola Rosa"]),
    ]),
    "unknown DNIs are told so, three end the session": (STRANGER_PHONE, [
        (DIAL, ["Ingrese el DNI"]),
        ("99999999", ["Ese DNI no esta en Juntos", "Ingrese el DNI"]),
        ("99999998", ["Ese DNI no esta en Juntos"]),
        ("99999997", ["END No pudimos encontrar su hogar", "1880"]),
    ]),
    "one phone may ask about three DNIs a day, not more (enumeration)": (STRANGER_PHONE, [
        (DIAL, ["Ingrese el DNI"]),
        ("99999999", ["Ese DNI no esta en Juntos"]),
        ("99999998", ["Ese DNI no esta en Juntos"]),
        (JUANA["dni"], ["fecha de nacimiento"]),
        ("0", ["Ingrese el DNI"]),
        ("99999999", ["END No pudimos encontrar su hogar"]),  # the same DNI again: allowed
    ]),
    "the fourth distinct DNI of the day is refused politely": (STRANGER_PHONE, [
        (DIAL, ["Ingrese el DNI"]),
        ("99999999", ["Ese DNI no esta en Juntos"]),
        ("99999998", ["Ese DNI no esta en Juntos"]),
        (JUANA["dni"], ["fecha de nacimiento"]),
        ("0", ["Ingrese el DNI"]),
        (ROSA["dni"], ["END Este celular ya consulto varios DNI hoy", "1880"]),
    ]),
    "a phone shared by two households takes a DNI instead of a number, without date of birth": (
        SHARED_PHONE, [
            (DIAL, ["Celular de 2 hogares", "O escriba el DNI"]),
            ("123", ["El DNI tiene 8 numeros", "1 Hogar C.T."]),
            ("55500002", ["Hola Luz", "6 Otro hogar"]),
            ("1", ["No hay pago", "no tiene tarjeta", "vaya al banco con su DNI"]),
        ]),
    "a shared phone's chooser names each household by initials; either can be chosen": (
        SHARED_PHONE, [
            (DIAL, ["CON Mi Juntos. Celular de 2 hogares:\n1 Hogar C.T.\n2 Hogar L.T.\n"
                    "O escriba el DNI:"]),
            ("7", ["Opcion no valida.", "1 Hogar C.T."]),
            ("2", ["Hola Luz", "5 Idioma/Simi/Aru\n6 Otro hogar\n0 Salir"]),
            ("1", ["No hay pago", "no tiene tarjeta"]),
            ("00", ["Hola Luz"]),
            ("6", ["Celular de 2 hogares", "1 Hogar C.T.", "2 Hogar L.T."]),
            ("1", ["Hola Carmen", "6 Otro hogar"]),
            ("1", ["Pago 2026-6 (operativo)"]),
            ("00", ["Hola Carmen"]),
            ("0", ["END Gracias"]),
        ]),
    "a DNI of another household at the chooser still needs the date of birth": (SHARED_PHONE, [
        (DIAL, ["1 Hogar C.T."]),
        (JUANA["dni"], ["fecha de nacimiento"]),
        ("0", ["1 Hogar C.T."]),
        (JUANA["dni"], ["fecha de nacimiento"]),
        (JUANA["dob"], ["Hola Juana"]),
    ]),
    "a verified session resumed on a phone not of record asks the date of birth again": (
        STRANGER_PHONE, [
            (DIAL, ["Ingrese el DNI"]),
            (JUANA["dni"], ["fecha de nacimiento"]),
            (JUANA["dob"], ["Hola Juana"]),
            ("2", ["Pago 2026-6: sin abono"]),
            ("98", ["Periodos anteriores"]),
            (DIAL, ["Tiene una consulta sin terminar"]),  # dropped: she dials again
            ("1", ["Para seguir donde se quedo", "fecha de nacimiento", "0 Empezar de nuevo"]),
            ("01011999", ["La fecha no coincide", "quedan: 2", "Para seguir donde se quedo"]),
            ("3113", ["DDMMAAAA", "Para seguir donde se quedo"]),
            (JUANA["dob"], ["Periodos anteriores", "2026-5: cobrado"]),  # where she was
            ("0", ["Pago 2026-6: sin abono"]),
        ]),
    "0 at the date asked on resuming starts over": (STRANGER_PHONE, [
        (DIAL, []),
        (JUANA["dni"], []),
        (JUANA["dob"], ["Hola Juana"]),
        ("1", ["No hay pago"]),
        (DIAL, ["Tiene una consulta"]),
        ("1", ["Para seguir donde se quedo"]),
        ("0", ["Bienvenida a Mi Juntos", "Ingrese el DNI"]),
    ]),
    "a session resumed on the household's own shared phone resumes directly": (SHARED_PHONE, [
        (DIAL, []),
        ("2", ["Hola Luz"]),
        ("2", ["Pago 2026-6: sin abono"]),
        (DIAL, ["Tiene una consulta"]),
        ("1", ["Pago 2026-6: sin abono", "tarjeta"]),
    ]),
    "field operation (ETV) with a long place name is paged, never cut": (SHARED_PHONE, [
        (DIAL, ["O escriba el DNI"]),
        ("55500001", ["Hola Carmen"]),
("1", ["Pago 2026-6 (operativo)", "14/12 al 15/12/2026", "Operativo ETV Comunidad Campesina",
               "98 Mas"]),
        ("98", ["Direccion: Local comunal", "Lleve su DNI"]),
        ("0", ["Operativo ETV Comunidad Campesina"]),
    ]),
    "a household with no data yet gets clear answers": (STRANGER_PHONE, [
        (DIAL, ["Ingrese el DNI"]),
        ("55500003", ["fecha de nacimiento"]),
        ("01011980", ["Hola Elena"]),
        ("1", ["Aun no hay cronograma"]),
        ("00", ["Hola Elena"]),
        ("2", ["Aun no hay pagos"]),
        ("00", ["Hola Elena"]),
        ("3", ["No hay registros"]),
        ("00", ["Hola Elena"]),
        ("4", ["no tiene celular", "1 Recibir"]),
        ("1", ["llegaran a este celular *** *** 555", "1 Confirmar", "0 Atras"]),
        ("1", ["Listo. Los avisos de su hogar llegaran a este celular."]),
    ]),
}


def run(phone: Phone, steps: list[Step]) -> None:
    for value, expected in steps:
        screen = phone.dial() if value is None else phone.send(value)
        assert len(screen) - 4 <= 182, screen
        for fragment in expected:
            assert fragment in screen, f"after {value!r}: {fragment!r} not in {screen!r}"
    SEEN_SCREENS.update(phone.screens)


@pytest.fixture
def phone_for(app: Flask, seeded: Database, redis: redis_lib.Redis):
    def make(number: str) -> Phone:
        return Phone(app.test_client(), number, redis=redis)

    return make


@pytest.mark.parametrize("name", list(TRANSCRIPTS))
def test_transcript(name: str, phone_for) -> None:
    number, steps = TRANSCRIPTS[name]
    run(phone_for(number), steps)


def test_a_phone_past_its_dni_limit_cannot_learn_that_a_dni_is_locked(phone_for) -> None:
    """Only a real DNI can be locked: the limit answers first, the same for any new DNI."""
    run(phone_for("+51944444444"), [(DIAL, []), (ROSA["dni"], ["fecha de nacimiento"]),
                                    ("01011999", ["quedan: 2"]), ("02011999", ["quedan: 1"]),
                                    ("03011999", ["END Por seguridad, este DNI esta bloqueado"])])
    run(phone_for(STRANGER_PHONE), [(DIAL, []), ("99999999", ["no esta en Juntos"]),
                                    ("99999998", ["no esta en Juntos"]),
                                    (JUANA["dni"], ["fecha de nacimiento"]), ("0", ["Ingrese el DNI"]),
                                    (ROSA["dni"], ["END Este celular ya consulto varios DNI hoy"])])


def test_asking_again_about_the_same_locked_dni_does_not_use_up_the_phones_limit(phone_for) -> None:
    run(phone_for("+51944444444"), [(DIAL, []), (ROSA["dni"], []), ("01011999", []), ("02011999", []),
                                    ("03011999", ["END Por seguridad, este DNI esta bloqueado"])])
    for _ in range(4):  # one distinct DNI, however many times: still "locked", never the limit
        run(phone_for(STRANGER_PHONE), [(DIAL, []), (ROSA["dni"], ["END Por seguridad"])])
    run(phone_for(STRANGER_PHONE), [(DIAL, []), (JUANA["dni"], ["fecha de nacimiento"])])


def test_many_sessions_of_one_phone_at_once_cannot_pass_the_dni_limit(phone_for) -> None:
    """Twelve sessions of one phone, each typing another DNI at the same moment: the check and
    the count are one atomic step on Redis, so no more than the limit get past it."""
    import threading

    phones = [phone_for(STRANGER_PHONE) for _ in range(12)]
    for phone in phones:
        phone.dial()
    barrier = threading.Barrier(len(phones))
    answers: list[str] = []

    def ask(phone: Phone, dni: str) -> None:
        barrier.wait()
        answers.append(phone.send(dni))

    threads = [threading.Thread(target=ask, args=(p, f"9999{n:04d}")) for n, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 12
    passed = [a for a in answers if "ya consulto varios DNI" not in a]
    assert len(passed) == 3, answers  # each told "not in Juntos"; the other nine refused


def test_choices_are_stored_for_the_household(phone_for, seeded: Database) -> None:
    run(phone_for(ROSA_PHONE), [(DIAL, ["Hola Rosa"]), ("5", ["Espanol"]), ("3", ["guardado"]),
                                ("4", ["ACTIVOS"]), ("1", ["Ya no recibira"])])
    run(phone_for(STRANGER_PHONE), [(DIAL, []), (JUANA["dni"], []), (JUANA["dob"], ["Hola Juana"]),
                                    ("4", ["no tiene celular"]), ("1", ["1 Confirmar"]),
                                    ("1", ["Listo"])])
    with seeded.session() as s:
        rosa = s.get(Household, ROSA["hogar_id"])
        juana = s.get(Household, JUANA["hogar_id"])
        assert rosa is not None and juana is not None
        assert (rosa.idioma, rosa.reminders_enabled) == ("ay", False)
        assert rosa.idioma_set_by_caller_at is not None
        assert (juana.phone, juana.reminders_enabled) == (STRANGER_PHONE, True)
        assert juana.phone_set_by_caller_at is not None
    # The next call from the newly registered phone is recognised without DNI.
    run(phone_for(STRANGER_PHONE), [(DIAL, ["Hola Juana"])])


def test_reason_is_only_shown_after_verification(phone_for) -> None:
    phone = phone_for(STRANGER_PHONE)
    before = [phone.dial(), phone.send("1"), phone.send("2"), phone.send(JUANA["dni"]),
              phone.send("1"), phone.send("2")]
    for screen in before:
        assert "salud" not in screen and "Motivo" not in screen and "Juana" not in screen
    assert "Hola Juana" in phone.send(JUANA["dob"])
    assert "controles de salud" in phone.send("1")


def test_three_wrong_dates_lock_the_dni_on_any_phone(phone_for, app: Flask) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    assert "Intentos que quedan: 2" in phone.send("01011999")
    assert "Intentos que quedan: 1" in phone.send("02011999")
    locked = phone.send("03011999")
    assert locked.startswith("END ") and "bloqueado 30 minutos" in locked
    SEEN_SCREENS.update(phone.screens)
    # Another phone, another session, even with the right date: still locked.
    other = phone_for("+51944444444")
    other.dial()
    assert other.send(JUANA["dni"]).startswith("END Por seguridad")
    # Other DNIs are not affected.
    other.dial()
    other.send(ROSA["dni"])
    assert "Hola Rosa" in other.send(ROSA["dob"])


def test_failures_are_forgotten_after_a_right_date(phone_for) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    assert "Intentos que quedan: 2" in phone.send("01011999")
    phone.send("0")
    phone.send(JUANA["dni"])
    assert "Intentos que quedan: 1" in phone.send("01011999")  # counted per DNI, not per screen
    assert "Hola Juana" in phone.send(JUANA["dob"])
    assert phone.send("0").startswith("END ")
    phone.dial()
    phone.send(JUANA["dni"])
    assert "Intentos que quedan: 2" in phone.send("01011999")


def test_lock_expires_after_the_cooling_off_period(phone_for, redis: redis_lib.Redis) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    for wrong in ("01011999", "02011999", "03011999"):
        last = phone.send(wrong)
    assert last.startswith("END ")
    keys = redis.keys("mijuntos:dobfail:*")
    assert len(keys) == 1
    assert 29 * 60 < redis.ttl(keys[0]) <= 30 * 60
    assert JUANA["dni"].encode() not in keys[0]
    redis.delete(keys[0])  # what the TTL does after 30 minutes
    phone.dial()
    phone.send(JUANA["dni"])
    assert "Hola Juana" in phone.send(JUANA["dob"])


def test_resent_hop_gets_the_same_reply_and_does_not_advance(phone_for) -> None:
    phone = phone_for(ROSA_PHONE)
    phone.dial()
    first = phone.send("4")
    assert phone.resend() == first
    toggled = phone.send("1")
    assert "Ya no recibira" in toggled
    assert phone.resend() == toggled  # the toggle is not applied twice
    assert "DESACTIVADOS" in phone.send("0")


def test_resent_first_hop_is_not_a_new_session(
    phone_for, seeded: Database, redis: redis_lib.Redis
) -> None:
    phone = phone_for(ROSA_PHONE)
    first = phone.dial()
    assert phone.resend() == first
    assert drain_usage(seeded, redis) == 1
    with seeded.session() as s:
        verifications = s.scalars(select(Query).where(Query.kind == "verify")).all()
    assert len(verifications) == 1


def test_dropped_session_can_be_resumed_or_restarted(phone_for) -> None:
    phone = phone_for(ROSA_PHONE)
    phone.dial()
    phone.send("2")
    offer = phone.dial()
    assert "CON Tiene una consulta sin terminar" in offer and "1 Continuar" in offer
    assert "Pago 2026-6: programado" in phone.send("1")
    assert "Tiene una consulta" in phone.dial()  # dropped again, on the same screen
    assert "Hola Rosa" in phone.send("2")
    assert "Hola Rosa" in phone.dial()  # dropped on the main menu: nothing to offer
    SEEN_SCREENS.update(phone.screens)


def test_no_resume_after_a_clean_exit(phone_for) -> None:
    phone = phone_for(ROSA_PHONE)
    phone.dial()
    phone.send("2")
    assert phone.send("00").startswith("CON Hola")
    assert phone.send("0").startswith("END ")
    assert "Hola Rosa" in phone.dial()


def test_resume_of_a_half_verified_session_asks_the_date_again(phone_for) -> None:
    phone = phone_for(STRANGER_PHONE)
    phone.dial()
    phone.send(JUANA["dni"])
    assert "Tiene una consulta" in phone.dial()
    assert "fecha de nacimiento" in phone.send("1")
    assert "Hola Juana" in phone.send(JUANA["dob"])


def test_inputs_built_into_the_dial_string_are_honoured(phone_for) -> None:
    assert "Agencia BN Chulucanas" in phone_for(ROSA_PHONE).dial("1")
    assert "fecha de nacimiento" in phone_for(STRANGER_PHONE).dial(JUANA["dni"])
    assert "Hola Juana" in phone_for("+51933333333").dial(JUANA["dni"], JUANA["dob"])


def test_lookups_are_recorded_without_dni_or_phone(
    phone_for, seeded: Database, redis: redis_lib.Redis
) -> None:
    run(phone_for(STRANGER_PHONE), [(DIAL, []), ("99999999", []), (JUANA["dni"], []),
                                    (JUANA["dob"], []), ("1", []), ("00", []), ("2", [])])
    # Staged in Redis by the hops (no DNI or phone there either), moved by the usage job.
    staged = [fields or {} for _id, fields in redis.xrange(USAGE_STREAM) or []]
    assert len(staged) == 4
    values = [as_text(v) for fields in staged for v in fields.values()]
    assert values and not any(JUANA["dni"] in v or "987654321" in v for v in values)
    assert drain_usage(seeded, redis) == 4 and redis.xlen(USAGE_STREAM) == 0
    with seeded.session() as s:
        rows = s.scalars(select(Query).order_by(Query.id)).all()
    got = [(q.channel, q.kind, q.outcome, q.unidad_territorial) for q in rows]
    assert got == [
        ("ussd", "verify", "dni_unknown", None),
        ("ussd", "verify", "ok_dob", "PUNO"),
        ("ussd", "next_payment", "sin_abono", "PUNO"),
        ("ussd", "status", "sin_abono", "PUNO"),
    ]
    assert rows[-1].hogar_id == JUANA["hogar_id"] and rows[-1].periodo == "2026-6"
    assert all(r.created_at.tzinfo is not None for r in rows)


def test_session_state_lives_in_one_key_with_a_ttl(phone_for, redis: redis_lib.Redis) -> None:
    phone = phone_for(ROSA_PHONE)
    phone.dial()
    phone.send("1")
    session_keys = redis.keys("mijuntos:ussd:*")
    assert session_keys == [f"mijuntos:ussd:{phone.session_id}".encode()]
    for key in redis.keys("mijuntos:*"):
        if key == USAGE_STREAM.encode():  # a queue, emptied every minute by the usage job
            assert 0 < redis.ttl(key) <= 7 * 24 * 3600
            continue
        assert 0 < redis.ttl(key) <= 600, key
        assert ROSA_PHONE.encode() not in key and b"987654321" not in key


def test_moving_the_phone_of_record_is_confirmed_and_the_former_phone_may_undo_it(phone_for) -> None:
    """Menu 4 from another phone: a confirmation first; then the former phone is offered the undo."""
    run(phone_for(STRANGER_PHONE), [
        (DIAL, ["Ingrese el DNI"]), (ROSA["dni"], ["fecha de nacimiento"]), (ROSA["dob"], ["Hola Rosa"]),
        ("4", ["van al celular *** *** 321", "1 Recibir"]),
        ("1", ["pasaran a este celular *** *** 555", "Avisaremos al *** *** 321",
               "deshacerlo en 72 horas", "1 Confirmar", "0 Atras"]),
        ("0", ["van al celular *** *** 321"]),  # backed out: nothing changed
        ("1", ["1 Confirmar"]),
        ("1", ["Listo", "Enviamos un SMS al celular anterior"]),
        ("0", ["ACTIVOS en este celular"]),  # back to option 4, now this phone's
    ])
    moved_on = dt.datetime.now(ZoneInfo("America/Lima")).strftime("%d/%m")  # the move's own time
    run(phone_for(ROSA_PHONE), [
        (DIAL, [f"CON Los avisos de su hogar pasaron al celular *** *** 555 el {moved_on}.",
                "1 Deshacer el cambio", "2 Continuar"]),
        ("7", ["Opcion no valida.", "1 Deshacer"]),
        ("2", ["Hola Rosa"]),  # still recognised in the grace period
    ])
    run(phone_for(ROSA_PHONE), [
        (DIAL, ["1 Deshacer el cambio"]),
        ("1", ["Cambio deshecho", "vuelven a este celular"]),
        ("0", ["Hola Rosa"]),
    ])
    run(phone_for(ROSA_PHONE), [(DIAL, ["Hola Rosa"]), ("4", ["ACTIVOS en este celular"])])
    run(phone_for(STRANGER_PHONE), [  # retake: the relative at once again, refused
        (DIAL, ["Tiene una consulta sin terminar"]), ("2", ["Ingrese el DNI"]),
        (ROSA["dni"], ["fecha de nacimiento"]), (ROSA["dob"], ["Hola Rosa"]),
        ("4", ["van al celular *** *** 321"]), ("1", ["1 Confirmar"]),
        ("1", ["Por seguridad, el celular de este hogar no puede cambiarse ahora. Llame gratis al 1880.",
               "0 Atras 00 Menu"]),
    ])


def test_the_simulator_never_moves_a_real_households_phone(
    app: Flask, seeded: Database, redis: redis_lib.Redis
) -> None:
    """Staff train on the simulator (behind the login in production): a confirmed move there
    must not take a mother's reminders, nor text her phone."""
    from models import OutboxMessage

    phone = Phone(app.test_client(), STRANGER_PHONE, redis=redis, path="/simulator/hop")
    run(phone, [
        (DIAL, ["Ingrese el DNI"]),
        (ROSA["dni"], ["fecha de nacimiento"]),
        (ROSA["dob"], ["Hola Rosa"]),
        ("4", ["1 Recibir"]),
        ("1", ["1 Confirmar"]),
        ("1", ["En el simulador el celular no se cambia y no se envia ningun SMS.",
               "0 Atras 00 Menu"]),
        ("00", ["Hola Rosa"]),
    ])
    with seeded.session() as s:
        assert s.get(Household, ROSA["hogar_id"]).phone == ROSA_PHONE  # type: ignore[union-attr]
        assert s.scalars(select(OutboxMessage.id)).all() == []


def test_a_gestor_reaches_every_assisted_screen(
    phone_for, seeded: Database, settings, redis: redis_lib.Redis
) -> None:
    """The assisted menu's screens (tests/test_ussd_gestor.py has the behaviour in detail)."""
    from gateway.app import create_app
    from models import Gestor, OptOut

    seed_gestores(seeded)
    with seeded.session() as s:
        s.add(OptOut(phone=SHARED_PHONE, source="sms_command"))
    run(phone_for(GESTOR_PHONE), [
        (DIAL, ["CON Modo gestor Pilar", "1 Consultar para una usuaria", "2 Mis consultas de hoy"]),
        ("2", ["Hoy consulto 0 DNI de 150"]),
        ("0", ["Modo gestor Pilar"]),
        ("1", ["Consulta asistida", "DNI de la titular", "00 Menu gestor"]),
        (ROSA["dni"], ["fecha de nacimiento"]),
        (ROSA["dob"], ["Consulta asistida: Rosa", "7 SMS al hogar", "00 Otra usuaria"]),
        ("7", ["Enviamos el resumen", "*** *** 321"]),
        ("0", ["Consulta asistida: Rosa"]),
        ("7", ["Hoy ya se envio el resumen"]),
        ("0", ["Consulta asistida: Rosa"]),
        ("4", ["van al celular *** *** 321", "1 Cambiar el celular del hogar"]),
        ("1", ["Escriba el celular de la titular"]),
        ("12345", ["El celular tiene 9 numeros", "Escriba el celular"]),
        ("955 444 333", ["iran al ***333", "Avisaremos al *** *** 321", "repita el numero"]),
        ("955444332", ["no coinciden", "Escriba el celular"]),
        ("955444333", ["iran al ***333"]),
        ("955444333", ["Listo. Los avisos del hogar iran al ***333"]),
        ("00", ["Modo gestor Pilar"]),
        ("1", ["DNI de la titular"]),
        ("55500003", ["fecha de nacimiento"]),
        ("01011980", ["Consulta asistida: Elena"]),
        ("7", ["no tiene celular para avisos"]),
        ("00", ["Modo gestor Pilar"]),
        ("1", []), ("55500001", []), ("04031992", ["Consulta asistida: Carmen"]),
        ("7", ["pidio no recibir SMS (BAJA)"]),
        ("00", ["Modo gestor Pilar"]),
        ("0", ["END Gracias por usar Mi Juntos"]),
    ])
    simulator = Phone(phone_for(GESTOR_PHONE).client, GESTOR_PHONE, redis=redis,
                      path="/simulator/hop")
    # (Rosa's household reads Spanish: the simulator shows the drafts of the others.)
    run(simulator, [(DIAL, ["Modo gestor Pilar"]), ("1", []), (ROSA["dni"], []),
                    (ROSA["dob"], ["Consulta asistida: Rosa"]), ("4", ["1 Cambiar"]),
                    ("1", []), ("955444777", []), ("955444777", ["En el simulador"]),
                    ("00", ["Modo gestor"]), ("1", []), (ROSA["dni"], []), (ROSA["dob"], []),
                    ("7", ["En el simulador no se envia ningun SMS"])])
    # Deactivated mid-session: the next hop ends it.
    gestor = phone_for(GESTOR_PHONE)
    run(gestor, [(DIAL, ["Modo gestor"]), ("1", ["DNI de la titular"])])
    with seeded.session() as s:
        s.get(Gestor, "G900001").estado = "inactivo"  # type: ignore[union-attr]
    run(gestor, [(JUANA["dni"], ["END Su modo gestor no esta activo"])])
    with seeded.session() as s:
        s.get(Gestor, "G900001").estado = "activo"  # type: ignore[union-attr]
    # The day's cap reached (a cap of 1 here): the session ends there.
    capped = create_app(settings.with_(gestor_daily_cap=1))
    try:
        phone = Phone(capped.test_client(), GESTOR_PHONE, redis=redis)
        run(phone, [(DIAL, []), ("1", []), ("55500002", ["END Llego al limite de 1 DNI"])])
    finally:
        capped.extensions["mijuntos"].close()


def test_every_screen_appears_in_some_transcript() -> None:
    """Runs last in this module: the transcripts above must have shown every screen."""
    if not SEEN_SCREENS:
        pytest.skip("run with the whole module")
    assert set(SCREENS) - SEEN_SCREENS == set()


def test_a_long_pay_point_pages_without_a_page_of_one_word(app: Flask, seeded: Database) -> None:
    from decimal import Decimal

    from models import PayPoint, Settlement

    place = "Operativo ETV Comunidad Campesina San Juan Bautista de Pampamarca Alta"
    address = ("Local comunal de la Comunidad Campesina San Juan Bautista, frente a la plaza "
               "principal, distrito de Pampamarca, provincia de Canas")
    with seeded.session() as s:
        s.add(PayPoint(periodo="2026-7", punto_id="P009", modalidad="etv", lugar=place,
                       direccion=address, fecha_inicio=dt.date(2027, 2, 10),
                       fecha_fin=dt.date(2027, 2, 11), hora_inicio=dt.time(7, 0),
                       hora_fin=dt.time(15, 0), ubigeo="200501"))
        s.flush()
        s.add(Settlement(periodo="2026-7", hogar_id=ROSA["hogar_id"], monto=Decimal("200"),
                         estado="programado", motivo=None, punto_id="P009"))
    phone = Phone(app.test_client(), ROSA_PHONE)
    phone.dial()
    pages = [phone.send("1")]
    while "98 Mas" in pages[-1]:
        pages.append(phone.send("98"))
    bodies = [p.removeprefix("CON ").split("\n98 Mas")[0].split("\n0 Atras")[0] for p in pages]
    assert all(len(p) - 4 <= 160 for p in pages), pages
    assert " ".join(" ".join(bodies).split()) == " ".join(
        f"Pago 2026-7 (operativo): del 10/02 al 11/02/2027, 07:00 a 15:00, en {place} "
        f"Direccion: {address} Lleve su DNI.".split())  # nothing lost, nothing repeated
    assert len(pages) == 3, pages  # not a page for "Alta" alone
    assert all(len(b) > 100 for b in bodies[:-1]), bodies
