"""Reminders to a phone shared by two households: say whose, one SMS per operation, true counts."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from models import Household
from models.reports import usage_report
from models.wave import wave_stages
from tests.reminder_support import Wave, at, wave
from tests.support import ROSA_PHONE, SHARED_PHONE

__all__ = ["wave"]
CARMEN, LUZ = "H00000003", "H00000004"  # CARMEN TICONA (ay) and LUZ TICONA (es), one phone
NEW_PHONE = "+51922222222"


def assert_unsolicited_is_private(text: str) -> None:
    """No full name, DNI or amount in an SMS anyone holding the phone may read."""
    for secret in ("CARMEN", "LUZ", "TICONA", "55500001", "55500002", "S/", "200"):
        assert secret not in text, (secret, text)


def test_two_households_at_one_operation_get_one_sms_naming_both(wave: Wave) -> None:
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P002", monto=200)
    first = wave.plan(at("2026-12-01 10:00"))
    carried = wave.rows(hogar_id=LUZ)
    assert {(r.status, r.failure_reason) for r in carried} == {("skipped", "merged")}
    assert first.merged == 2  # Luz's two reminders ride on Carmen's
    wave.send(at("2026-12-11 09:30"))  # the three-day reminder of P002 (opens 14/12)
    [sms] = wave.texts_to(SHARED_PHONE)
    assert sms.startswith("Mi Juntos, hogares de C.T. y L.T.: pago 2026-6 (operativo)")
    assert "del 14/12 al 15/12/2026" in sms and sms.endswith("*1880#")
    assert_unsolicited_is_private(sms)
    # The SMS is in Spanish: the households' languages differ (Carmen's is Aymara).
    assert "Lleve DNI" in sms
    # Planning again, at once or later: nothing new, nothing changed, still one SMS per slot.
    for minutes in (0, 10):
        again = wave.plan(at(f"2026-12-11 09:{31 + minutes}"))
        assert (again.created, again.updated, again.skipped, again.changes) == (0, 0, 0, 0)
    wave.send(at("2026-12-13 09:30"))  # the one-day reminder
    assert len(wave.texts_to(SHARED_PHONE)) == 2
    # The figures count messages, not rows: Rosa's two, and two for the shared phone.
    with wave.db.session() as s:
        stages = wave_stages(s, "2026-6")["reminder"]
        funnel = usage_report(s, at("2026-12-01 00:00").date(), at("2026-12-01 00:00").date()).funnel_total
    assert (stages["planned"], stages["sent"], stages["withdrawn"]) == (4, 4, 0)
    assert (funnel["planned"], funnel["sent"]) == (4, 4)


def test_households_at_different_operations_each_get_their_own_sms_saying_whose(wave: Wave) -> None:
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P001", monto=200)
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))  # Luz's three-day reminder (P001 opens 12/12)
    wave.send(at("2026-12-11 09:30"))  # Luz's one-day and Carmen's three-day reminder
    texts = wave.texts_to(SHARED_PHONE)
    luz = [t for t in texts if "Agencia BN Chulucanas" in t]
    carmen = [t for t in texts if "Operativo ETV" in t]
    assert len(luz) == 2 and len(carmen) == 1 and len(texts) == 3
    assert all(t.startswith("Mi Juntos, hogar de L.T.: pago 2026-6") for t in luz)
    assert carmen[0].startswith("Mi Juntos, hogar de C.T.: pago 2026-6 (operativo)")
    for text in texts:
        assert_unsolicited_is_private(text)
    # A phone of one household is not tagged.
    assert all(t.startswith("Mi Juntos: pago") for t in wave.texts_to(ROSA_PHONE))


def test_a_no_payment_notice_to_a_shared_phone_says_whose(wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-01 10:05"))
    [notice] = wave.texts_to(SHARED_PHONE)
    assert notice.startswith("Mi Juntos, hogar de L.T.: este periodo (2026-6) no hay pago.")
    assert_unsolicited_is_private(notice)


def test_a_household_that_moves_away_gets_its_own_reminders_on_its_new_phone(wave: Wave) -> None:
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P002", monto=200)
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-11 09:30"))  # one SMS for both households
    assert len(wave.texts_to(SHARED_PHONE)) == 1
    with wave.db.session() as s:  # the padron now has Luz on a phone of her own
        s.execute(update(Household).where(Household.hogar_id == LUZ).values(phone=NEW_PHONE))
    report = wave.plan(at("2026-12-11 12:00"))
    assert report.created == 0 and report.updated == 2  # Carmen's text, Luz's row back on its own
    wave.send(at("2026-12-13 09:30"))
    # The shared phone now serves Carmen only: no tag, no L.T.; Luz is told on her new phone,
    # once (her three-day reminder reached her in the SMS to the old phone).
    old = wave.texts_to(SHARED_PHONE)
    assert len(old) == 2 and old[1].startswith("Mi Juntos: pago 2026-6 (operativo)")
    [new] = wave.texts_to(NEW_PHONE)
    assert new.startswith("Mi Juntos: pago 2026-6 (operativo)")
    assert wave.plan(at("2026-12-13 10:00")).created == 0


def test_reminders_switched_off_for_one_household_leave_the_other_its_own(wave: Wave) -> None:
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P002", monto=200)
    wave.plan(at("2026-12-01 10:00"))
    with wave.db.session() as s:
        s.execute(update(Household).where(Household.hogar_id == CARMEN).values(reminders_enabled=False))
    wave.plan(at("2026-12-01 10:10"))
    carmen = wave.rows(hogar_id=CARMEN)
    assert {(r.status, r.failure_reason) for r in carmen} == {("skipped", "reminders_off")}
    wave.send(at("2026-12-11 09:30"))
    [sms] = wave.texts_to(SHARED_PHONE)  # Luz's, naming only her: the phone is still shared
    assert sms.startswith("Mi Juntos, hogar de L.T.: pago") and "C.T." not in sms


def test_households_of_one_phone_on_different_pages_still_get_one_sms(
        wave: Wave, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages are cut by hogar_id; a phone's households are planned together on every page."""
    import workers.planner

    monkeypatch.setattr(workers.planner, "PAGE", 2)  # Carmen and Luz on two pages
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P002", monto=200)
    first = wave.plan(at("2026-12-01 10:00"))
    assert first.households == 4 and first.created == 6
    again = wave.plan(at("2026-12-01 10:10"))
    assert (again.created, again.updated, again.skipped, again.changes) == (0, 0, 0, 0)
    wave.send(at("2026-12-11 09:30"))
    [sms] = wave.texts_to(SHARED_PHONE)
    assert sms.startswith("Mi Juntos, hogares de C.T. y L.T.:")


def test_two_households_without_payment_on_one_phone_get_one_notice(wave: Wave) -> None:
    wave.settle(CARMEN, estado="sin_abono", motivo="INC_SALUD", punto_id=None, monto=0)
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-01 10:05"))
    [notice] = wave.texts_to(SHARED_PHONE)
    assert notice.startswith("Mi Juntos, hogares de C.T. y L.T.: este periodo (2026-6) no hay pago.")
    assert_unsolicited_is_private(notice)
    assert "salud" not in notice.lower()


def test_households_whose_initials_are_the_same_are_told_so_and_how_to_tell(wave: Wave) -> None:
    # Sisters CARMEN and CELIA TICONA: both "C.T."; at different operations "hogar de C.T."
    # alone would not say whose, and one of them could travel to the other's pay point.
    with wave.db.session() as s:
        s.execute(update(Household).where(Household.hogar_id == LUZ).values(nombres="CELIA"))
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P001", monto=200)
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))
    wave.send(at("2026-12-11 09:30"))
    texts = wave.texts_to(SHARED_PHONE)
    assert len(texts) == 3
    for sms in texts:
        assert sms.startswith("Mi Juntos, hogar de C.T. (hay 2: envie DNI PAGO): "), sms
        assert "CELIA" not in sms and "CARMEN" not in sms and "55500002" not in sms
