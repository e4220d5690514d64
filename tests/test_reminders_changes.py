"""Operations that end, move or are cancelled after reminders were planned: what the phone gets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from models import PayPoint
from tests.reminder_support import Wave, at, wave
from tests.support import ROSA, ROSA_PHONE, SHARED_PHONE

__all__ = ["wave"]
ROSA_ID, LUZ = ROSA["hogar_id"], "H00000004"


def move_p001(wave: Wave, start: int, end: int) -> None:
    with wave.db.session() as s:
        s.execute(update(PayPoint).where(PayPoint.punto_id == "P001")
                  .values(fecha_inicio=dt.date(2026, 12, start), fecha_fin=dt.date(2026, 12, end)))


def test_no_notice_for_a_period_whose_pay_days_are_over(wave: Wave) -> None:
    # 2026-6's last pay day is 16/12 (P001): that day still counts, the next one does not.
    wave.plan(at("2026-12-16 23:00"))
    assert [r.status for r in wave.rows(hogar_id=LUZ, kind="notice")] == ["pending"]
    report = wave.plan(at("2026-12-17 00:30"))
    assert report.periods == ["2026-6"]  # the newest settled period, though over, is looked at
    [notice] = wave.rows(hogar_id=LUZ, kind="notice")
    assert (notice.status, notice.failure_reason) == ("skipped", "period_over")
    wave.send(at("2026-12-17 10:00"))
    assert wave.texts_to(SHARED_PHONE) == []


def test_a_notice_first_planned_after_the_pay_days_is_not_planned(wave: Wave) -> None:
    wave.plan(at("2026-12-20 10:00"))
    assert wave.rows() == []  # no reminder for an operation over, no stale notice
    wave.send(at("2026-12-20 10:05"))
    assert wave.fake.messages == []


def test_a_moved_operation_is_announced_once_per_move_and_when_moved_back(wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))  # Rosa's three-day reminder: P001 from 12/12
    moves = [(15, 18, "del 15/12 al 18/12/2026", "2026-12-14 09:00"),
             (17, 19, "del 17/12 al 19/12/2026", "2026-12-16 09:00"),
             (12, 16, "del 12/12 al 16/12/2026", "2026-12-11 09:00")]  # and back to the first
    for n, (start, end, dates, due) in enumerate(moves):
        move_p001(wave, start, end)
        report = wave.plan(at(f"2026-12-09 1{n}:00"))
        assert report.changes == 1, (dates, report)
        assert wave.plan(at(f"2026-12-09 1{n}:05")).changes == 0  # told once
        [pending] = [r for r in wave.rows(hogar_id=ROSA_ID, kind="reminder") if r.status == "pending"]
        assert pending.send_after == at(due) and dates in pending.text  # re-planned, not sent
        wave.send(at(f"2026-12-09 1{n}:10"))
        assert wave.texts_to(ROSA_PHONE)[-1].startswith("Mi Juntos: CAMBIO, pago 2026-6 " + dates)
    changes = [t for t in wave.texts_to(ROSA_PHONE) if "CAMBIO" in t]
    assert len(changes) == 3 and len(wave.texts_to(ROSA_PHONE)) == 4


def test_a_cancelled_operation_after_a_reminder_gets_one_cancellation_notice(wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))  # Rosa was told: P001 from 12/12
    wave.settle(ROSA_ID, estado="sin_abono", punto_id=None, monto=0, motivo="INC_SALUD")
    report = wave.plan(at("2026-12-09 12:00"))
    assert (report.created, report.skipped) == (1, 1)
    reminders = {r.offset_days: r for r in wave.rows(hogar_id=ROSA_ID, kind="reminder")}
    assert (reminders[1].status, reminders[1].failure_reason) == ("skipped", "operation_cancelled")
    assert reminders[3].status == "submitted"
    assert wave.rows(hogar_id=ROSA_ID, kind="notice") == []  # not the plain notice as well
    assert wave.plan(at("2026-12-09 12:05")).created == 0
    wave.send(at("2026-12-09 12:10"))
    wave.send(at("2026-12-11 09:30"))  # the one-day reminder's time: nothing more
    first, cancel = wave.texts_to(ROSA_PHONE)
    assert first.startswith("Mi Juntos: pago 2026-6")
    assert cancel == ("Mi Juntos: el pago 2026-6 del 12/12 al 16/12/2026 en Agencia BN Chulucanas ya "
                      "no se hara alli. No viaje. Consulte en *1880# o al 1880.")
    assert wave.plan(at("2026-12-11 10:00")).created == 0  # told once


def test_a_cancelled_operation_before_any_reminder_gets_the_plain_notice(wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.settle(ROSA_ID, estado="sin_abono", punto_id=None, monto=0, motivo="INC_SALUD")
    wave.plan(at("2026-12-02 10:00"))
    assert {(r.status, r.failure_reason) for r in wave.rows(hogar_id=ROSA_ID, kind="reminder")} == {
        ("skipped", "operation_cancelled")}
    wave.send(at("2026-12-02 10:05"))
    wave.send(at("2026-12-11 09:30"))
    [notice] = wave.texts_to(ROSA_PHONE)
    assert notice.startswith("Mi Juntos: este periodo (2026-6) no hay pago para su hogar.")
    assert "ya no se hara" not in notice


def test_an_operation_restored_after_its_cancellation_notice_is_announced(wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))
    wave.settle(ROSA_ID, estado="sin_abono", punto_id=None, monto=0)
    wave.plan(at("2026-12-09 12:00"))
    wave.send(at("2026-12-09 12:05"))  # "no viaje"
    wave.settle(ROSA_ID, estado="programado", punto_id="P001", monto=200)
    assert wave.plan(at("2026-12-10 10:00")).changes == 1
    wave.send(at("2026-12-11 09:30"))
    texts = wave.texts_to(ROSA_PHONE)
    assert "ya no se hara" in texts[1] and texts[2].startswith("Mi Juntos: CAMBIO, pago 2026-6 del 12/12")
    assert len(texts) == 4  # and the one-day reminder, revived


def test_a_settlement_collected_early_withdraws_the_reminders_and_sends_nothing(wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))
    wave.settle(ROSA_ID, estado="cobrado")
    wave.plan(at("2026-12-10 10:00"))
    pending = [r for r in wave.rows(hogar_id=ROSA_ID) if r.status != "submitted"]
    assert [(r.offset_days, r.status, r.failure_reason) for r in pending] == [(1, "skipped", "collected")]
    wave.send(at("2026-12-11 09:30"))
    assert len(wave.texts_to(ROSA_PHONE)) == 1  # no cancellation notice for a payment collected


def test_a_cancellation_after_a_move_names_the_dates_she_was_told(wave: Wave) -> None:
    # One re-import moves P001 and takes Rosa off it: she heard "del 12/12 al 16/12", so the
    # cancellation says that, not the new dates she never heard (she would still go on 12/12).
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))
    move_p001(wave, 15, 19)
    wave.settle(ROSA_ID, estado="sin_abono", punto_id=None, monto=0, motivo="INC_SALUD")
    wave.plan(at("2026-12-09 12:00"))
    wave.send(at("2026-12-09 12:10"))
    first, cancel = wave.texts_to(ROSA_PHONE)
    assert "del 12/12 al 16/12/2026" in first
    assert cancel == ("Mi Juntos: el pago 2026-6 del 12/12 al 16/12/2026 en Agencia BN Chulucanas ya "
                      "no se hara alli. No viaje. Consulte en *1880# o al 1880.")
    assert wave.plan(at("2026-12-09 12:15")).created == 0  # told once


def test_planned_after_the_send_window_the_eve_before_one_reminder_goes_out(wave: Wave) -> None:
    # An import at 21:00 on the 10th for P001 (opens 12/12): the 3-day reminder is overdue and
    # could only go at 08:00 on the 11th, an hour before the 1-day one. One SMS, not two.
    wave.plan(at("2026-12-10 21:00"))
    for instant in ("2026-12-11 08:05", "2026-12-11 09:05", "2026-12-11 12:00"):
        wave.send(at(instant))
    assert len(wave.texts_to(ROSA_PHONE)) == 1


def test_planning_again_leaves_a_pending_change_notice_as_it_was(wave: Wave) -> None:
    # The scheduler plans every 10 minutes: a change notice waiting for the send window keeps
    # its first due time (it is not re-dated and re-written at every run).
    wave.plan(at("2026-12-01 10:00"))
    wave.send(at("2026-12-09 09:30"))
    move_p001(wave, 15, 18)
    assert wave.plan(at("2026-12-09 21:00")).changes == 1
    [notice] = wave.rows(hogar_id=ROSA_ID, kind="change")
    report = wave.plan(at("2026-12-09 21:10"))
    assert (report.created, report.updated, report.changes) == (0, 0, 0)
    [again] = wave.rows(hogar_id=ROSA_ID, kind="change")
    assert again.send_after == notice.send_after == at("2026-12-09 21:00")
