"""Moving a household's phone of record (menu 4 from another phone): confirmed on the new phone,
told at once to the old one by SMS (a real rq worker, the real SDK, the stand-in provider), undone
from the old phone in its grace period, recorded with hashed phones and shown to staff."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from core.privacy import phone_key
from core.settings import Settings
from dialogs.gsm import is_gsm7
from mijuntos.cli import main
from models import Household, OptOut, OutboxMessage, PhoneChange, Query
from models.base import utcnow
from tests.admin_support import log_in
from tests.support import JUANA, ROSA, ROSA_PHONE, SHARED_PHONE, STRANGER_PHONE, Phone
from tests.test_sms_sending import Stack, stack  # noqa: F401  (the fixture `world` runs on)
from workers.usage import drain_usage

ROSA_DIGITS, STRANGER_DIGITS = "987654321", "955555555"


@pytest.fixture
def world(stack: Stack) -> Stack:  # noqa: F811
    """The app, a real rq worker and the stand-in provider over HTTP (tests/test_sms_sending.py)."""
    return stack


def phone(world: Stack, number: str) -> Phone:
    return Phone(world.app.test_client(), number, redis=world.redis)


def takeover(world: Stack, *, confirm: bool = True, hogar: dict[str, str] = ROSA) -> Phone:
    """A relative on another phone, who knows the DNI and date of birth, goes to menu 4."""
    relative = phone(world, STRANGER_PHONE)
    relative.dial()
    relative.send(hogar["dni"])
    assert "Hola" in relative.send(hogar["dob"])
    relative.send("4")
    shown = relative.send("1")
    assert "1 Confirmar" in shown, shown
    if confirm:
        assert "Listo" in relative.send("1")
    return relative


def household(world: Stack, hogar_id: str = ROSA["hogar_id"]) -> Household:
    with world.db.session() as s:
        found = s.get(Household, hogar_id)
        assert found is not None
        s.expunge(found)
        return found


def changes(world: Stack) -> list[PhoneChange]:
    with world.db.session() as s:
        rows = list(s.scalars(select(PhoneChange).order_by(PhoneChange.id)))
        s.expunge_all()
        return rows


def test_nothing_changes_until_the_new_phone_confirms(world: Stack) -> None:
    relative = takeover(world, confirm=False)
    assert "van al celular *** *** 321" in relative.send("0")  # backs out
    relative.send("00")
    assert household(world).phone == ROSA_PHONE
    assert changes(world) == [] and world.rows() == []
    world.work()
    assert world.fake.messages == []
    assert "Hola Rosa" in phone(world, ROSA_PHONE).dial()  # the mother's phone: as before


def test_a_confirmed_move_is_recorded_hashed_and_the_old_phone_is_told_at_once(world: Stack) -> None:
    takeover(world)
    rosa = household(world)
    assert (rosa.phone, rosa.reminders_enabled) == (STRANGER_PHONE, True)
    [change] = changes(world)
    secret = world.settings.secret_key
    assert (change.hogar_id, change.channel) == (ROSA["hogar_id"], "ussd")
    assert change.old_phone_key == phone_key(secret, ROSA_PHONE)
    assert change.new_phone_key == phone_key(secret, STRANGER_PHONE)
    assert (change.old_last3, change.new_last3) == ("321", "555")
    assert change.grace_until == change.created_at + dt.timedelta(hours=72)
    assert change.undone_at is None and change.reminders_before is True
    stored = " ".join(str(getattr(change, c.key)) for c in PhoneChange.__table__.columns)
    assert ROSA_DIGITS not in stored and STRANGER_DIGITS not in stored
    [row] = world.rows()
    assert (row.recipient, row.purpose, row.id) == (ROSA_PHONE, "security", change.notice_id)
    world.work()  # the job was queued by the hop itself, after its commit
    [sent] = world.fake.messages
    assert [r["number"] for r in sent["recipients"]] == [ROSA_PHONE]
    text = sent["message"]
    assert "pasan al celular ***555" in text and "*1880#" in text and "1880" in text
    assert is_gsm7(text) and len(text) <= 160
    for private in (ROSA["dni"], "Rosa", "ROSA", "QUISPE", "S/", "200", STRANGER_DIGITS):
        assert private not in text, private
    # The new phone is now the phone of record: known without DNI.
    assert "Hola Rosa" in phone(world, STRANGER_PHONE).dial()


def test_an_opted_out_old_phone_is_told_all_the_same(world: Stack) -> None:
    with world.db.session() as s:
        s.add(OptOut(phone=ROSA_PHONE, source="sms_command"))
    takeover(world)
    world.work()
    [sent] = world.fake.messages
    assert [r["number"] for r in sent["recipients"]] == [ROSA_PHONE]
    assert world.rows()[0].status in ("submitted", "delivered")


def test_a_dropped_session_on_the_old_phone_does_not_hide_the_undo_offer(world: Stack) -> None:
    mother = phone(world, ROSA_PHONE)
    mother.dial()
    assert "Agencia BN Chulucanas" in mother.send("1")  # and the call drops here
    takeover(world)
    first = mother.dial()
    assert "pasaron al celular *** *** 555" in first and "1 Deshacer el cambio" in first, first
    assert "Tiene una consulta sin terminar" in mother.send("2")  # Continuar: her dropped session
    assert "Agencia BN Chulucanas" in mother.send("1")
    assert household(world).phone == STRANGER_PHONE  # nothing undone
    mother.dial()
    assert "Cambio deshecho" in mother.send("1")
    assert "Hola Rosa" in mother.send("0")  # back to the menu, not to the dropped screen
    assert household(world).phone == ROSA_PHONE


def test_the_old_phone_undoes_the_move_in_its_grace_period(world: Stack) -> None:
    with world.db.session() as s:  # reminders were off: the undo puts them back as they were
        s.execute(update(Household).where(Household.hogar_id == ROSA["hogar_id"])
                  .values(reminders_enabled=False))
    takeover(world)
    assert household(world).reminders_enabled is True
    mother = phone(world, ROSA_PHONE)
    assert "pasaron al celular *** *** 555" in mother.dial()
    assert "Cambio deshecho" in mother.send("1")
    assert "Hola Rosa" in mother.send("0")
    rosa = household(world)
    assert (rosa.phone, rosa.reminders_enabled) == (ROSA_PHONE, False)
    [change] = changes(world)
    assert change.undone_at is not None and change.undone_by == "ussd"
    assert "Ingrese el DNI" in phone(world, STRANGER_PHONE).dial()  # the relative's phone: no more
    world.work()
    by_number = {m["recipients"][0]["number"]: m["message"] for m in world.fake.messages}
    assert set(by_number) == {ROSA_PHONE, STRANGER_PHONE}  # each phone that lost it was told
    assert "vuelven al celular ***321" in by_number[STRANGER_PHONE]
    assert is_gsm7(by_number[STRANGER_PHONE]) and len(by_number[STRANGER_PHONE]) <= 160
    assert "Hola Rosa" in mother.dial()  # no offer any more


def test_by_sms_the_old_phone_is_recognised_but_its_opt_out_leaves_the_household_alone(
    world: Stack,
) -> None:
    takeover(world)
    world.text_in(ROSA_PHONE, "BAJA", "in-baja")
    assert household(world).reminders_enabled is True  # they go to the new phone now
    world.text_in(ROSA_PHONE, "PAGO", "in-pago")  # in the grace period: still hers to ask about
    with world.db.session() as s:
        reply = s.scalar(select(OutboxMessage.text).where(OutboxMessage.dedupe_key == "reply:in-pago"))
    assert reply is not None and "Agencia BN Chulucanas" in reply


def test_after_the_grace_period_the_old_phone_is_not_recognised(world: Stack) -> None:
    takeover(world)
    mother = phone(world, ROSA_PHONE)
    assert "1 Deshacer el cambio" in mother.dial()
    with world.db.session() as s:
        s.execute(update(PhoneChange).values(grace_until=utcnow() - dt.timedelta(minutes=1)))
    assert "Ingrese el DNI" in mother.dial()
    assert "Hola Rosa" not in mother.send("1")


def test_the_grace_period_ends_between_the_offer_and_the_undo(world: Stack) -> None:
    takeover(world)
    mother = phone(world, ROSA_PHONE)
    assert "1 Deshacer el cambio" in mother.dial()
    with world.db.session() as s:
        s.execute(update(PhoneChange).values(grace_until=utcnow() - dt.timedelta(minutes=1)))
    assert "Ingrese el DNI" in mother.send("1")
    assert household(world).phone == STRANGER_PHONE and changes(world)[0].undone_at is None


def test_inputs_dialed_with_the_code_do_not_answer_the_undo_offer(world: Stack) -> None:
    takeover(world)
    assert "Agencia BN Chulucanas" in phone(world, ROSA_PHONE).dial("1")  # *1880*1#: next payment
    assert household(world).phone == STRANGER_PHONE and changes(world)[0].undone_at is None


def test_a_household_without_a_phone_gets_its_first_recorded_and_nothing_to_announce(
    world: Stack,
) -> None:
    relative = phone(world, STRANGER_PHONE)
    relative.dial()
    relative.send(JUANA["dni"])
    relative.send(JUANA["dob"])
    relative.send("4")
    assert "llegaran a este celular *** *** 555" in relative.send("1")
    assert "Listo" in relative.send("1")
    assert household(world, JUANA["hogar_id"]).phone == STRANGER_PHONE
    [change] = changes(world)
    assert (change.old_phone_key, change.old_last3, change.grace_until) == (None, None, None)
    assert change.notice_id is None and world.rows() == []


def test_the_grace_period_is_a_setting(world: Stack) -> None:
    world.app.extensions["mijuntos"].settings = world.settings.with_(phone_change_grace_hours=24)
    relative = phone(world, STRANGER_PHONE)
    for value in (None, ROSA["dni"], ROSA["dob"], "4"):
        relative.dial() if value is None else relative.send(value)
    assert "deshacerlo en 24 horas" in relative.send("1")
    relative.send("1")
    [change] = changes(world)
    assert change.grace_until == change.created_at + dt.timedelta(hours=24)
    world.work()
    assert "proximas 24 horas" in world.fake.messages[0]["message"]


@pytest.mark.parametrize("raw", ["0", "721", "tres"])
def test_a_grace_period_out_of_range_is_refused_at_start(raw: str) -> None:
    with pytest.raises(ValueError, match="PHONE_CHANGE_GRACE_HOURS"):
        Settings.from_env({"PHONE_CHANGE_GRACE_HOURS": raw})
    assert Settings.from_env({}).phone_change_grace_hours == 72


def test_a_notice_stored_while_redis_was_down_is_queued_by_the_requeue_job(world: Stack) -> None:
    from rq import Queue

    from workers.context import configure
    from workers.jobs import requeue_job

    takeover(world)
    Queue("sms", connection=world.redis).empty()  # as if the hop's enqueue had failed
    with world.db.session() as s:
        s.execute(update(OutboxMessage).values(updated_at=utcnow() - dt.timedelta(minutes=5)))
    configure(world.settings)
    assert requeue_job() == "requeued 1 replies"
    world.work()
    assert [m["recipients"][0]["number"] for m in world.fake.messages] == [ROSA_PHONE]


def test_staff_see_every_change_behind_the_login(world: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    anonymous = world.app.test_client().get("/admin/cambios-de-celular")
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    takeover(world)
    phone(world, ROSA_PHONE).dial()
    staff = log_in(world.app, world.db, monkeypatch)
    html = staff.get("/admin/cambios-de-celular").get_data(as_text=True)
    assert ROSA["hogar_id"] in html and "***321" in html and "***555" in html
    assert "USSD" in html and "puede deshacerse hasta" in html
    assert ROSA_DIGITS not in html and STRANGER_DIGITS not in html
    mother = phone(world, ROSA_PHONE)
    mother.dial()
    mother.send("1")
    html = staff.get(f"/admin/cambios-de-celular?hogar={ROSA['hogar_id']}").get_data(as_text=True)
    assert "deshecho el" in html
    assert "Ningun cambio" in staff.get("/admin/cambios-de-celular?hogar=H00000002").get_data(as_text=True)
    monkeypatch.setenv("DATABASE_URL", world.db.url)
    out = CliRunner().invoke(main, ["phone-changes", "--hogar", ROSA["hogar_id"]])
    assert out.exit_code == 0, out.output
    assert ROSA["hogar_id"] in out.output and "***321 -> ***555" in out.output
    assert "deshecho" in out.output and ROSA_DIGITS not in out.output


def test_a_shared_phone_is_told_whose_messages_move_and_whose_come_back(world: Stack) -> None:
    luz = {"dni": "55500002", "dob": "06051994", "hogar_id": "H00000004"}
    takeover(world, hogar=luz)  # the shared phone of Carmen T. and Luz T. loses Luz's
    world.work()
    [told] = [m["message"] for m in world.fake.messages]
    assert "los avisos del hogar de L.T. pasan al celular ***555" in told, told
    assert "Luz" not in told and "LUZ" not in told and is_gsm7(told) and len(told) <= 160
    shared = phone(world, SHARED_PHONE)
    offer = shared.dial()
    assert "Los avisos del hogar de L.T. pasaron al celular *** *** 555" in offer, offer
    assert "Cambio deshecho" in shared.send("1")
    # A relative's phone that serves two households takes Rosa's; her undo names it there.
    relative = phone(world, SHARED_PHONE)
    relative.dial()
    relative.send(ROSA["dni"])
    relative.send(ROSA["dob"])
    relative.send("4")
    relative.send("1")
    assert "Listo" in relative.send("1")
    mother = phone(world, ROSA_PHONE)
    assert "Los avisos de su hogar pasaron" in mother.dial()  # her phone serves one household
    mother.send("1")
    world.work()
    texts = {m["recipients"][0]["number"]: m["message"] for m in world.fake.messages}
    assert "los avisos de su hogar pasan" in texts[ROSA_PHONE]
    assert "los avisos del hogar de R.Q.H. vuelven al celular ***321" in texts[SHARED_PHONE]


# --- retake: no re-take right after an undo, no move on while another is in its grace period.
OTHER_PHONE = "+51900000002"
REFUSED = "Por seguridad, el celular de este hogar no puede cambiarse ahora. Llame gratis al 1880."


def confirm_from(world: Stack, number: str) -> str:
    """Another phone verifies as Rosa and confirms menu 4's move: the screen that follows."""
    caller = phone(world, number)
    assert "Ingrese el DNI" in caller.dial()
    caller.send(ROSA["dni"])
    assert "Hola Rosa" in caller.send(ROSA["dob"])
    caller.send("4")
    assert "1 Confirmar" in caller.send("1")
    return caller.send("1")


def usage(world: Stack) -> list[tuple[str, str, str | None]]:
    drain_usage(world.db, world.redis)
    with world.db.session() as s:
        return [(q.kind, q.outcome, q.hogar_id) for q in s.scalars(select(Query).order_by(Query.id))]


def test_a_move_right_after_an_undo_is_refused_recorded_and_allowed_again_later(
    world: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    takeover(world)
    mother = phone(world, ROSA_PHONE)
    mother.dial()
    assert "Cambio deshecho" in mother.send("1")
    with caplog.at_level(logging.INFO, logger="mijuntos"):
        refused = confirm_from(world, STRANGER_PHONE)  # the relative at once again
    assert refused.startswith("CON " + REFUSED) and "00 Menu" in refused, refused
    assert household(world).phone == ROSA_PHONE and len(changes(world)) == 1
    assert ("phone_move", "refused_undone", ROSA["hogar_id"]) in usage(world)
    [line] = [r.getMessage() for r in caplog.records if "phone move refused" in r.getMessage()]
    assert "reason=undone" in line and STRANGER_DIGITS not in line and ROSA_DIGITS not in line
    assert "Hola Rosa" in mother.dial()  # no offer: nothing was moved
    with world.db.session() as s:  # the cooling-off period (the grace length) is over
        s.execute(update(PhoneChange).values(undone_at=utcnow() - dt.timedelta(hours=73)))
    assert "Listo" in confirm_from(world, STRANGER_PHONE)
    assert household(world).phone == STRANGER_PHONE


def test_a_move_on_while_another_is_in_its_grace_period_is_refused(world: Stack) -> None:
    takeover(world)
    refused = confirm_from(world, OTHER_PHONE)  # a second relative, or the first moving it on
    assert REFUSED in refused, refused
    assert household(world).phone == STRANGER_PHONE and len(changes(world)) == 1
    assert ("phone_move", "refused_open", ROSA["hogar_id"]) in usage(world)
    mother = phone(world, ROSA_PHONE)  # her undo offer still names the first move
    assert "pasaron al celular *** *** 555" in mother.dial()


def test_the_former_phone_confirming_a_move_back_undoes_the_move(world: Stack) -> None:
    takeover(world)
    mother = phone(world, ROSA_PHONE)
    mother.dial()
    assert "Hola Rosa" in mother.send("2")  # Continuar, past the undo offer
    mother.send("4")
    assert "1 Confirmar" in mother.send("1")
    assert "Cambio deshecho" in mother.send("1")
    assert household(world).phone == ROSA_PHONE
    [change] = changes(world)
    assert change.undone_at is not None and change.undone_by == "ussd"
