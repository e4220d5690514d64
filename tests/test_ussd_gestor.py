"""Assisted consultations through /ussd: a gestor's phone consulting for the titulares in a queue.

The real app, Redis and database; the summary SMS and the phone-move notices through a real rq
worker, the real SDK and the stand-in provider over HTTP (tests/test_sms_sending.py's stack).
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from core.usage_stream import STREAM as USAGE_STREAM
from core.usage_stream import as_text
from models import Gestor, Household, OptOut, OutboxMessage, PhoneChange, Query
from models.base import utcnow
from tests.support import (
    FORMER_GESTOR_PHONE,
    GESTOR,
    GESTOR_PHONE,
    JUANA,
    ROSA,
    ROSA_PHONE,
    SHARED_PHONE,
    STRANGER_PHONE,
    Phone,
    seed_gestores,
)
from tests.test_sms_sending import Stack, stack  # noqa: F401  (the fixture `world` runs on)
from workers.usage import drain_usage

# The five seeded titulares: DNI, date of birth, the name the menu greets.
TITULARES = [
    (ROSA["dni"], ROSA["dob"], "Rosa"),
    (JUANA["dni"], JUANA["dob"], "Juana"),
    ("55500001", "04031992", "Carmen"),
    ("55500002", "06051994", "Luz"),
    ("55500003", "01011980", "Elena"),
]


@pytest.fixture
def world(stack: Stack) -> Stack:  # noqa: F811
    seed_gestores(stack.db)
    return stack


def phone(world: Stack, number: str = GESTOR_PHONE) -> Phone:
    return Phone(world.app.test_client(), number, redis=world.redis)


def consult(gestor: Phone, dni: str, dob: str) -> str:
    """From the assisted menu: option 1, the DNI, the date; the screen that follows."""
    assert "DNI de la titular" in gestor.send("1")
    assert "fecha de nacimiento" in gestor.send(dni)
    return gestor.send(dob)


def records(world: Stack) -> list[Query]:
    drain_usage(world.db, world.redis)
    with world.db.session() as s:
        rows = list(s.scalars(select(Query).order_by(Query.id)))
        s.expunge_all()
        return rows


def test_a_gestor_serves_five_households_in_a_row(world: Stack) -> None:
    gestor = phone(world)
    assert "Modo gestor Pilar" in gestor.dial()
    for dni, dob, name in TITULARES:  # more than a phone's 3 DNIs a day
        menu = consult(gestor, dni, dob)
        assert f"Consulta asistida: {name}" in menu and "00 Otra usuaria" in menu, menu
        assert "Pago 2026-6" in gestor.send("1") or name in ("Elena", "Juana", "Luz")
        assert "Modo gestor Pilar" in gestor.send("00")
    assert "Hoy consulto 5 DNI de 150" in gestor.send("2")
    # Juana's household reads Quechua: her menu was in her language (Spanish while its catalog
    # has no reviewed text), and the assisted menu after her is Spanish again.
    rows = records(world)
    verified = [r for r in rows if r.kind == "verify"]
    assert [r.outcome for r in verified] == ["ok_dob"] * 5
    assert {r.channel for r in rows} == {"gestor"}
    assert {(r.gestor_id, r.gestor_ut, r.tambo) for r in rows} == {
        (GESTOR["gestor_id"], GESTOR["ut"], GESTOR["tambo"])}
    assert {r.hogar_id for r in verified} == {f"H0000000{n}" for n in range(1, 6)}
    assert {r.unidad_territorial for r in verified} == {"PIURA", "PUNO"}  # the households' UTs
    # Nothing of the titulares nor of the gestor's phone in the records (staged or moved).
    stored = " ".join(str(getattr(r, c.key)) for r in rows for c in Query.__table__.columns)
    for private in [d for d, _, _ in TITULARES] + [GESTOR_PHONE[3:], ROSA_PHONE[3:]]:
        assert private not in stored
    # No resume offer is kept for a gestor's phone: the next dial is the next titular's.
    assert "Modo gestor Pilar" in phone(world).dial()


def test_the_date_of_birth_is_always_asked_even_on_the_households_own_phone(world: Stack) -> None:
    """A gestor whose phone is also their own household's phone of record: the assisted menu
    first, and that household too only with its DNI and date."""
    with world.db.session() as s:
        s.execute(update(Household).where(Household.hogar_id == ROSA["hogar_id"])
                  .values(phone=GESTOR_PHONE))
    gestor = phone(world)
    assert "Modo gestor" in gestor.dial()
    gestor.send("1")
    assert "fecha de nacimiento" in gestor.send(ROSA["dni"])


def test_the_cap_is_the_gestors_own_per_day_not_the_phones(world: Stack) -> None:
    capped = world.settings.with_(gestor_daily_cap=3)
    from gateway.app import create_app

    app = create_app(capped)
    try:
        gestor = Phone(app.test_client(), GESTOR_PHONE, redis=world.redis)
        gestor.dial()
        for dni, dob, name in TITULARES[:3]:
            assert name in consult(gestor, dni, dob)
            gestor.send("00")
        gestor.send("1")
        refused = gestor.send(TITULARES[3][0])
        assert refused.startswith("END ") and "limite de 3 DNI" in refused
        assert "Luz" not in refused
        # A titular already attended today is not a new DNI: she may still be consulted.
        again = Phone(app.test_client(), GESTOR_PHONE, redis=world.redis)
        again.dial()
        assert "Rosa" in consult(again, ROSA["dni"], ROSA["dob"])
        # A new phone for the same gestor (a re-import) does not reset the day's cap.
        with world.db.session() as s:
            s.execute(update(Gestor).values(phone="+51966000199")
                      .where(Gestor.gestor_id == GESTOR["gestor_id"]))
        moved = Phone(app.test_client(), "+51966000199", redis=world.redis)
        assert "Modo gestor Pilar" in moved.dial()
        moved.send("1")
        assert "limite de 3 DNI" in moved.send(TITULARES[4][0])
    finally:
        app.extensions["mijuntos"].close()
    capped_rows = [r for r in records(world) if r.outcome == "gestor_cap"]
    assert len(capped_rows) == 2 and {r.channel for r in capped_rows} == {"gestor"}


@pytest.mark.parametrize("how", ["inactivo", "suspended", "gone"])
def test_a_gestor_deactivated_mid_session_loses_the_mode_on_the_next_hop(
    world: Stack, how: str
) -> None:
    gestor = phone(world)
    gestor.dial()
    assert "Consulta asistida: Rosa" in consult(gestor, ROSA["dni"], ROSA["dob"])
    with world.db.session() as s:
        if how == "gone":
            s.execute(delete(Gestor).where(Gestor.gestor_id == GESTOR["gestor_id"]))
        else:
            values = ({"estado": "inactivo"} if how == "inactivo"
                      else {"suspended_at": utcnow(), "suspended_by": "ops"})
            s.execute(update(Gestor).where(Gestor.gestor_id == GESTOR["gestor_id"]).values(**values))
    ended = gestor.send("1")  # the payment screen it asked for is not shown
    assert ended.startswith("END Su modo gestor no esta activo"), ended
    assert "Pago" not in ended
    assert any(r.outcome == "gestor_off" for r in records(world))
    # The phone is an ordinary phone again: the DNI prompt and the phone's limit of 3 DNIs.
    ordinary = phone(world)
    assert "Bienvenida a Mi Juntos" in ordinary.dial()
    for dni, _, _ in TITULARES[1:4]:
        assert "fecha de nacimiento" in ordinary.send(dni)
        ordinary.send("0")
    assert "ya consulto varios DNI" in ordinary.send(TITULARES[4][0])


def test_a_locked_dni_stays_locked_for_the_gestor_and_for_everyone(world: Stack) -> None:
    gestor = phone(world)
    gestor.dial()
    gestor.send("1")
    gestor.send(JUANA["dni"])
    assert "Intentos que quedan: 2" in gestor.send("01011999")
    assert "Intentos que quedan: 1" in gestor.send("02011999")
    locked = gestor.send("03011999")
    # The queue goes on: back on the assisted menu, told why, the session open.
    assert locked.startswith("CON ") and "DNI bloqueado 30 min" in locked
    assert "Modo gestor Pilar" in locked
    gestor.send("1")
    assert "bloqueado" in gestor.send(JUANA["dni"])  # even with the right date next: not asked
    other = phone(world, STRANGER_PHONE)
    other.dial()
    assert other.send(JUANA["dni"]).startswith("END Por seguridad")
    # A DNI locked by self-service is locked for the gestor too.
    relative = phone(world, "+51944444444")
    relative.dial()
    relative.send(ROSA["dni"])
    for wrong in ("01011999", "02011999", "03011999"):
        relative.send(wrong)
    gestor.send("1")
    assert "DNI bloqueado" in gestor.send(ROSA["dni"])
    outcomes = [r.outcome for r in records(world) if r.kind == "verify" and r.channel == "gestor"]
    assert outcomes.count("locked") >= 2


def test_the_summary_goes_to_the_households_phone_through_a_real_worker_once_a_day(
    world: Stack,
) -> None:
    gestor = phone(world)
    gestor.dial()
    consult(gestor, ROSA["dni"], ROSA["dob"])
    assert "Enviamos el resumen" in gestor.send("7")
    gestor.send("0")
    assert "Hoy ya se envio" in gestor.send("7")
    world.work()
    [sent] = world.fake.messages
    assert [r["number"] for r in sent["recipients"]] == [ROSA_PHONE]  # never the gestor's
    text = sent["message"]
    assert "Agencia BN Chulucanas" in text and "12/12" in text and "*1880#" in text, text
    for private in ("S/", "200", ROSA["dni"], "Rosa", "QUISPE"):
        assert private not in text, private
    [row] = world.rows()
    assert (row.recipient, row.purpose, row.hogar_id) == (ROSA_PHONE, "reply", ROSA["hogar_id"])
    # Another session of the gestor the same day: still one summary for the household.
    again = phone(world)
    again.dial()
    consult(again, ROSA["dni"], ROSA["dob"])
    assert "Hoy ya se envio" in again.send("7")
    summaries = [r.outcome for r in records(world) if r.kind == "summary_sms"]
    assert summaries == ["sent", "already", "already"]


def test_a_summary_never_carries_the_reason_and_names_whose_on_a_shared_phone(world: Stack) -> None:
    gestor = phone(world)
    gestor.dial()
    consult(gestor, "55500002", "06051994")  # Luz: no payment this period (card pending)
    assert "Enviamos el resumen" in gestor.send("7")
    gestor.send("00")
    consult(gestor, "55500001", "04031992")  # Carmen, on the same shared phone: paid
    gestor.send("7")
    world.work()
    texts = sorted(m["message"] for m in world.fake.messages)
    assert all([r["number"] for r in m["recipients"]] == [SHARED_PHONE] for m in world.fake.messages)
    luz = next(t for t in texts if "no hay pago" in t)
    carmen = next(t for t in texts if "Llachon" in t)
    assert "hogar de L.T." in luz and "hogar de C.T." in carmen
    for text in texts:
        for private in ("tarjeta", "TARJETA", "S/", "200", "Luz", "Carmen", "55500001"):
            assert private not in text, (private, text)


def test_no_summary_to_a_phone_that_sent_baja_nor_to_a_household_without_a_phone(
    world: Stack,
) -> None:
    with world.db.session() as s:
        s.add(OptOut(phone=ROSA_PHONE, source="sms_command"))
    gestor = phone(world)
    gestor.dial()
    consult(gestor, ROSA["dni"], ROSA["dob"])
    assert "pidio no recibir SMS (BAJA)" in gestor.send("7")
    gestor.send("00")
    consult(gestor, JUANA["dni"], JUANA["dob"])
    assert "no tiene celular para avisos" in gestor.send("7")
    world.work()
    assert world.fake.messages == [] and world.rows() == []


def test_the_gestor_registers_the_number_the_mother_gives_with_both_phones_told(
    world: Stack,
) -> None:
    gestor = phone(world)
    gestor.dial()
    consult(gestor, ROSA["dni"], ROSA["dob"])
    assert "1 Cambiar el celular del hogar" in gestor.send("4")
    gestor.send("1")
    # Never a staff phone: the gestor's own, nor a former gestor's.
    assert "celular de gestor" in gestor.send(GESTOR_PHONE[3:])
    assert "celular de gestor" in gestor.send(FORMER_GESTOR_PHONE)
    assert "ya es el celular del hogar" in gestor.send(ROSA_PHONE[3:])
    with world.db.session() as s:
        assert s.get(Household, ROSA["hogar_id"]).phone == ROSA_PHONE  # type: ignore[union-attr]
    assert "iran al ***333" in gestor.send("955444333")
    # The number is not kept in clear between its two entries.
    for key in world.redis.scan_iter("mijuntos:*"):
        if world.redis.type(key) == b"string":
            assert b"955444333" not in (world.redis.get(key) or b""), key
    assert "Listo" in gestor.send("955444333")
    with world.db.session() as s:
        rosa = s.get(Household, ROSA["hogar_id"])
        assert rosa is not None and (rosa.phone, rosa.reminders_enabled) == ("+51955444333", True)
        [change] = s.scalars(select(PhoneChange)).all()
        assert (change.channel, change.old_last3, change.new_last3) == ("gestor", "321", "333")
    world.work()
    sent = {m["recipients"][0]["number"]: m["message"] for m in world.fake.messages}
    assert set(sent) == {ROSA_PHONE, "+51955444333"}
    assert "pasan al celular ***333" in sent[ROSA_PHONE]
    assert "recibira los avisos de pago" in sent["+51955444333"]
    # The mother's old phone may undo it in its grace period, as after any move.
    assert "deshacer" in phone(world, ROSA_PHONE).dial().lower()


def test_a_move_is_refused_while_another_is_in_its_grace_period(world: Stack) -> None:
    gestor = phone(world)
    gestor.dial()
    consult(gestor, ROSA["dni"], ROSA["dob"])
    gestor.send("4")
    gestor.send("1")
    gestor.send("955444333")
    gestor.send("955444333")
    gestor.send("00")
    consult(gestor, ROSA["dni"], ROSA["dob"])
    gestor.send("4")
    gestor.send("1")
    gestor.send("955444334")
    assert "no puede cambiarse ahora" in gestor.send("955444334")
    with world.db.session() as s:
        assert s.get(Household, ROSA["hogar_id"]).phone == "+51955444333"  # type: ignore[union-attr]


def test_a_non_gestor_phone_is_unchanged(world: Stack) -> None:
    assert "Hola Rosa" in phone(world, ROSA_PHONE).dial()
    assert "7 SMS" not in phone(world, ROSA_PHONE).dial()
    rosa = phone(world, ROSA_PHONE)
    rosa.dial()
    assert "Opcion no valida" in rosa.send("7")
    stranger = phone(world, STRANGER_PHONE)
    assert "Bienvenida a Mi Juntos" in stranger.dial()
    # A former gestor's phone is an ordinary phone: no assisted menu, the phone's limit applies.
    former = phone(world, FORMER_GESTOR_PHONE)
    assert "Bienvenida a Mi Juntos" in former.dial()
    for dni, _, _ in TITULARES[:3]:
        former.send(dni)
        former.send("0")
    assert "ya consulto varios DNI" in former.send(TITULARES[3][0])
    assert {r.channel for r in records(world)} <= {"ussd"}


def test_outbound_texts_and_rows_hold_no_gestor_phone(world: Stack) -> None:
    gestor = phone(world)
    gestor.dial()
    consult(gestor, ROSA["dni"], ROSA["dob"])
    gestor.send("7")
    world.work()
    with world.db.session() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert all(GESTOR_PHONE not in (r.recipient + r.text) for r in rows)
    staged = world.redis.xrange(USAGE_STREAM)
    assert staged and all(GESTOR_PHONE[3:] not in as_text(v) for _, e in staged for v in (e or {}).values())
