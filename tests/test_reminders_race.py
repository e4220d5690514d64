"""A planner and a dispatcher on one outbox row at once (docs/REMINDERS.md, "A planner and a
dispatcher on one row"), one scheduler enough: the planner reads a pending row, a dispatcher
claims and sends it, and only then does the planner write what it decided from what it read.

Held as tests/test_two_schedulers.py holds its races: the planner right after it read the outbox.
On PostgreSQL the dispatcher is not held back and sends meanwhile (the planner's write used to
land on the sent row: a sent reminder recorded with text it never had, or as withdrawn, or as
carried by another household's SMS, which then named that household a second time). On SQLite
the planner's page holds the one write lock, so the dispatcher waits for the page: no race.
The last test holds the planner a second time, between a page's first try and its second.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from models import Household, OutboxMessage, PayPoint
from tests.reminder_support import HELD, Wave, at, held_after_reading_outbox, in_thread, wave
from tests.support import ROSA, ROSA_PHONE, SHARED_PHONE
from workers.dispatch import Dispatcher
from workers.planner import PlanReport

__all__ = ["wave"]
ROSA_ID = ROSA["hogar_id"]
CARMEN, LUZ = "H00000003", "H00000004"  # CARMEN TICONA (ay) and LUZ TICONA (es), one phone
BOOK_READ = "outbox.hogar_id IN"  # the planner's read of its households' rows


def overtaken(wave: Wave, now: dt.datetime) -> bool:
    """Plan at `now`, the planner held right after it read the outbox while a dispatcher sends
    what is due; whether the dispatcher was done before the planner went on."""
    reports: list[PlanReport] = []
    with held_after_reading_outbox(wave.db.engine) as (reached, go):
        planner = in_thread(lambda: reports.append(wave.plan(now)), HELD)
        assert reached.wait(10)
        sender = in_thread(lambda: Dispatcher(wave.ctx, now=lambda: now).run(budget_seconds=10))
        sender.join(3)
        done = not sender.is_alive()
        go.set()
        for thread in (planner, sender):
            thread.join(30)
            assert not thread.is_alive()
    assert len(reports) == 1  # the planner finished, with no error
    # PostgreSQL: nothing the planner holds stops a claim; SQLite: its page's write lock does.
    assert done == (wave.db.engine.dialect.name == "postgresql")
    return done


def assert_rows_tell_what_was_sent(wave: Wave, phone: str) -> None:
    """Every SMS the phone got is one row's, submitted with its message id and the very text;
    no other row of the phone has a message id."""
    got = {n["messageId"]: m["message"] for m in wave.fake.messages for n in m["recipients"]
           if n["number"] == phone}
    with wave.db.session() as s:
        rows = s.execute(select(OutboxMessage.provider_message_id, OutboxMessage.text, OutboxMessage.status)
                         .where(OutboxMessage.recipient == phone,
                                OutboxMessage.provider_message_id.is_not(None))).all()
    assert {r.provider_message_id: r.text for r in rows} == got
    assert {r.status for r in rows} <= {"submitted"}


def test_a_reminder_sent_while_the_planner_moves_it_keeps_its_text_and_a_change_notice_follows(
        wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    with wave.db.session() as s:  # a re-import moves Rosa's operation (P001) one day later
        s.execute(update(PayPoint).where(PayPoint.punto_id == "P001")
                  .values(fecha_inicio=dt.date(2026, 12, 13), fecha_fin=dt.date(2026, 12, 17)))
    raced = overtaken(wave, at("2026-12-09 10:00"))  # her 3-day reminder for 12/12 is due
    wave.send(at("2026-12-09 10:05"))
    wave.send(at("2026-12-10 09:30"))  # the 3-day reminder's time for 13/12
    texts = wave.texts_to(ROSA_PHONE)
    if raced:  # sent with the old dates: she is told of the move, as any household told before it
        first, change = texts
        assert first.startswith("Mi Juntos: pago 2026-6 del 12/12 al 16/12/2026")
        assert change.startswith("Mi Juntos: CAMBIO, pago 2026-6 del 13/12 al 17/12/2026")
    else:  # re-planned before the dispatcher could take it: sent once, with the new dates
        [only] = texts
        assert only.startswith("Mi Juntos: pago 2026-6 del 13/12 al 17/12/2026")
    [three] = wave.rows(hogar_id=ROSA_ID, kind="reminder", offset_days=3)
    assert three.status == "submitted" and three.provider_message_id is not None
    assert_rows_tell_what_was_sent(wave, ROSA_PHONE)
    assert wave.plan(at("2026-12-10 10:00")).changes == 0  # told once


def test_a_reminder_sent_while_the_planner_withdraws_it_stays_sent_and_a_cancellation_follows(
        wave: Wave) -> None:
    wave.plan(at("2026-12-01 10:00"))
    wave.settle(ROSA_ID, estado="sin_abono", punto_id=None, monto=0, motivo="INC_SALUD")
    raced = overtaken(wave, at("2026-12-09 10:00"))  # her 3-day reminder is due
    wave.send(at("2026-12-09 10:05"))
    wave.send(at("2026-12-11 09:30"))  # the one-day reminder's time: nothing more
    reminders = {r.offset_days: r for r in wave.rows(hogar_id=ROSA_ID, kind="reminder")}
    assert (reminders[1].status, reminders[1].failure_reason) == ("skipped", "operation_cancelled")
    texts = wave.texts_to(ROSA_PHONE)
    if raced:  # she was reminded: one cancellation notice, not the plain no-payment notice too
        assert (reminders[3].status, reminders[3].failure_reason) == ("submitted", None)
        first, cancel = texts
        assert first.startswith("Mi Juntos: pago 2026-6 del 12/12 al 16/12/2026")
        assert cancel.startswith("Mi Juntos: el pago 2026-6 del 12/12 al 16/12/2026 en Agencia BN "
                                 "Chulucanas ya no se hara alli.")
        assert wave.rows(hogar_id=ROSA_ID, kind="notice") == []
    else:  # withdrawn before the dispatcher could take it: the no-payment notice instead
        assert (reminders[3].status, reminders[3].failure_reason) == ("skipped", "operation_cancelled")
        [notice] = texts
        assert [r.status for r in wave.rows(hogar_id=ROSA_ID, kind="notice")] == ["submitted"]
        assert "2026-6" in notice and "12/12" not in notice
    assert_rows_tell_what_was_sent(wave, ROSA_PHONE)
    assert wave.plan(at("2026-12-11 10:00")).created == 0  # told once


def carmen_back_on(wave: Wave) -> None:
    """Luz's reminders planned alone ("hogar de L.T."), then Carmen switches hers back on: her
    reminder and Luz's, to their one phone, are now one SMS naming both."""
    wave.settle(LUZ, estado="programado", motivo=None, punto_id="P002", monto=200)
    carmen = Household.hogar_id == CARMEN
    with wave.db.session() as s:
        s.execute(update(Household).where(carmen).values(reminders_enabled=False))
    wave.plan(at("2026-12-01 10:00"))
    with wave.db.session() as s:
        s.execute(update(Household).where(carmen).values(reminders_enabled=True))


def test_a_reminder_sent_alone_while_the_planner_merges_it_is_not_named_again(wave: Wave) -> None:
    """Luz's own reminder went out while the planner merged it into Carmen's: Carmen's SMS names
    Carmen only."""
    carmen_back_on(wave)
    raced = overtaken(wave, at("2026-12-11 10:00"))  # P002 opens 14/12: the 3-day reminders due
    wave.send(at("2026-12-11 10:05"))
    texts = wave.texts_to(SHARED_PHONE)
    if raced:  # Luz's went out alone: Carmen's names Carmen only, Luz is not told twice
        luz, carmen_sms = texts
        assert luz.startswith("Mi Juntos, hogar de L.T.: pago 2026-6")
        assert carmen_sms.startswith("Mi Juntos, hogar de C.T.:")
        assert [r.status for r in wave.rows(hogar_id=LUZ, offset_days=3)] == ["submitted"]
    else:  # merged before the dispatcher could take Luz's: one SMS naming both
        [both] = texts
        assert both.startswith("Mi Juntos, hogares de C.T. y L.T.: pago 2026-6")
    assert_rows_tell_what_was_sent(wave, SHARED_PHONE)
    again = wave.plan(at("2026-12-11 10:10"))
    assert (again.created, again.changes) == (0, 0)


def test_the_other_households_on_the_phone_wait_for_the_second_try(wave: Wave) -> None:
    """The page read Luz's reminder as not sent, so it would have Carmen's SMS name Luz too: when
    Luz's is found taken, nothing of Carmen's is written either until the page's second try (a
    dispatcher in between finds nothing of hers to send), which names Carmen alone."""
    if wave.db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite: the dispatcher waits for the page, which needs no second try")
    carmen_back_on(wave)
    now = at("2026-12-11 10:00")

    def send() -> None:
        Dispatcher(wave.ctx, now=lambda: now).run(budget_seconds=10)

    with held_after_reading_outbox(wave.db.engine, BOOK_READ) as (first, go), \
            held_after_reading_outbox(wave.db.engine, BOOK_READ, nth=2) as (second, go_on):
        planner = in_thread(lambda: wave.plan(now), HELD)
        assert first.wait(10)
        send()  # Luz's reminder, alone
        go.set()
        assert second.wait(10)  # the first try committed; the second reads the rows again
        send()
        go_on.set()
        planner.join(30)
        assert not planner.is_alive()
    wave.send(at("2026-12-11 10:05"))
    luz, carmen_sms = wave.texts_to(SHARED_PHONE)
    assert luz.startswith("Mi Juntos, hogar de L.T.: pago 2026-6")
    assert carmen_sms.startswith("Mi Juntos, hogar de C.T.:")
    assert_rows_tell_what_was_sent(wave, SHARED_PHONE)
