"""Reminders and notices: planning on the Lima clock, re-plans, opt-outs, bulk sending, limits."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis as redis_lib
from flask import Flask
from mijuntos_dev.fake_at import FakeAT
from rq import Queue, Worker
from sqlalchemy import select, update

from core.catalogs import load_catalog
from core.settings import Settings
from models import Database, Household, OptOut, OutboxMessage, PayPoint, Settlement
from tests.reminder_support import at
from tests.support import ROSA, ROSA_PHONE, SHARED_PHONE, Phone
from workers.context import WorkerContext, configure
from workers.dispatch import Dispatcher, set_paused
from workers.planner import plan_reminders

CATALOG = load_catalog()
UTC = dt.UTC


PLAN_TIME = at("2026-12-01 10:00")


@dataclass
class Wave:
    db: Database
    ctx: WorkerContext
    fake: FakeAT
    settings: Settings

    def plan(self, now: dt.datetime = PLAN_TIME):
        return plan_reminders(self.db, CATALOG, self.settings, now=now)

    def rows(self, **where: object) -> list[OutboxMessage]:
        with self.db.session() as s:
            stmt = select(OutboxMessage).where(OutboxMessage.kind.is_not(None))
            for col, value in where.items():
                stmt = stmt.where(getattr(OutboxMessage, col) == value)
            return list(s.scalars(stmt.order_by(OutboxMessage.id)))

    def dispatch(self, now: dt.datetime):
        return Dispatcher(self.ctx, now=lambda: now).run(budget_seconds=30)


@pytest.fixture
def wave(settings: Settings, seeded: Database, redis: redis_lib.Redis, redis_url: str) -> Iterator[Wave]:
    with FakeAT.running(dlr_delay=0.01) as fake:
        configured = settings.with_(at_base_url=fake.root_url, at_api_key="k", sms_retry_intervals=(60,),
                                    sms_max_retries=2)
        ctx = configure(configured, redis_url)
        yield Wave(seeded, ctx, fake, configured)
        ctx.db.dispose()


def test_reminders_are_planned_at_the_offsets_on_the_lima_clock(wave: Wave) -> None:
    report = wave.plan()
    assert report.periods == ["2026-6"]
    rosa = wave.rows(hogar_id=ROSA["hogar_id"])
    assert [(r.kind, r.offset_days) for r in rosa] == [("reminder", 3), ("reminder", 1)]
    # P001 opens 2026-12-12 08:00 in Lima: reminders at 09:00 Lima three and one day before.
    assert [r.send_after for r in rosa] == [at("2026-12-09 09:00"), at("2026-12-11 09:00")]
    assert all(r.not_after == at("2026-12-12 08:00") for r in rosa)
    text = rosa[0].text
    assert "del 12/12 al 16/12/2026" in text and "Agencia BN Chulucanas" in text
    assert text.endswith("*1880#") and "S/" not in text and "200" not in text
    assert ROSA["dni"] not in text
    assert (rosa[0].encoding, rosa[0].segments, rosa[0].recipient) == ("gsm7", 1, ROSA_PHONE)
    assert rosa[0].unidad_territorial == "PIURA" and rosa[0].periodo == "2026-6"
    # The shared phone: Carmen is paid at P002, Luz has no payment (a notice, no reason).
    [notice] = wave.rows(kind="notice")
    assert notice.hogar_id == "H00000004" and notice.send_after == PLAN_TIME
    assert "no hay pago" in notice.text and "tarjeta" not in notice.text.lower()
    carmen = wave.rows(hogar_id="H00000003")
    assert [r.send_after for r in carmen] == [at("2026-12-11 09:00"), at("2026-12-13 09:00")]
    # Juana has no phone of record, Elena no settlement: nothing for them.
    assert wave.rows(hogar_id="H00000002") == [] and wave.rows(hogar_id="H00000005") == []


def test_planning_twice_or_at_once_creates_nothing_new(wave: Wave) -> None:
    first = wave.plan()
    assert first.created == 5
    assert wave.plan().created == 0
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(wave.plan())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.created for r in reports] == [0, 0, 0]
    assert len(wave.rows()) == 5


def test_concurrent_first_plans_make_each_row_once(wave: Wave) -> None:
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(wave.plan())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reports) == 4
    keys = [r.dedupe_key for r in wave.rows()]
    assert len(keys) == len(set(keys)) == 5
    assert sum(r.created for r in reports) == 5


@pytest.mark.parametrize("late, offsets", [
    (at("2026-12-10 10:00"), [3, 1]),  # the 3-day slot passed: due now, the 1-day one ahead
    (at("2026-12-11 18:00"), [1]),  # both passed: only the closest one, not a burst
    # Planned after the send window on the 10th: the 3-day reminder could only go out at 08:00
    # on the 11th, an hour before the 1-day one: that one alone.
    (at("2026-12-10 21:00"), [1]),
    (at("2026-12-11 07:00"), [1]),
    (at("2026-12-09 21:00"), [3, 1]),  # the 3-day one goes out on the 10th, a day before
    (at("2026-12-12 08:00"), []),  # the operation has started: nothing
])
def test_late_planning_sends_one_reminder_not_a_burst(wave: Wave, late, offsets) -> None:
    wave.plan(now=late)
    assert [r.offset_days for r in wave.rows(hogar_id=ROSA["hogar_id"])] == offsets


def test_opted_out_and_switched_off_households_get_nothing(wave: Wave) -> None:
    wave.plan()
    with wave.db.session() as s:
        s.add(OptOut(phone=ROSA_PHONE, source="sms_command"))
        s.execute(update(Household).where(Household.hogar_id == "H00000003")
                  .values(reminders_enabled=False))
    report = wave.plan()
    assert report.skipped == 4  # two reminders each
    assert {r.failure_reason for r in wave.rows(hogar_id=ROSA["hogar_id"])} == {"opted_out"}
    assert {r.failure_reason for r in wave.rows(hogar_id="H00000003")} == {"reminders_off"}
    assert all(r.status == "skipped" for r in wave.rows(hogar_id="H00000003"))
    wave.dispatch(at("2026-12-11 10:00"))
    sent_to = {n["number"] for m in wave.fake.messages for n in m["recipients"]}
    assert ROSA_PHONE not in sent_to


def _sent_to(wave: Wave) -> list[str]:
    return [n["number"] for m in wave.fake.messages for n in m["recipients"]]


def test_an_opt_out_holds_at_once_not_at_the_next_planning_run(wave: Wave, app: Flask) -> None:
    wave.plan(now=at("2026-12-10 10:00"))  # Rosa's 3-day reminder is due now, the 1-day one ahead
    client = app.test_client()
    optout = {"senderId": "JUNTOS", "phoneNumber": ROSA_PHONE}
    assert client.post("/sms/optout", data=optout).status_code == 200
    rosa = wave.rows(hogar_id=ROSA["hogar_id"])
    assert {(r.status, r.failure_reason) for r in rosa} == {("skipped", "opted_out")}
    wave.dispatch(at("2026-12-10 10:01"))  # no planning run in between
    assert ROSA_PHONE not in _sent_to(wave) and _sent_to(wave)  # the others went out
    # She texts ALTA: the next planning run puts her reminders back, and the due one goes out.
    client.post("/sms/inbound", data={"date": "2026-12-10 10:02:00", "from": ROSA_PHONE, "to": "1880",
                                      "text": "ALTA", "id": "alta1", "linkId": "L1", "networkCode": "71610"})
    report = wave.plan(now=at("2026-12-10 10:05"))
    assert report.updated == 2
    assert [r.status for r in wave.rows(hogar_id=ROSA["hogar_id"])] == ["pending", "pending"]
    wave.dispatch(at("2026-12-10 10:06"))
    assert _sent_to(wave).count(ROSA_PHONE) == 1


def test_switching_reminders_off_by_ussd_withdraws_them_at_once(wave: Wave, app: Flask) -> None:
    wave.plan(now=at("2026-12-10 10:00"))
    phone = Phone(app.test_client(), ROSA_PHONE)
    assert "ACTIVOS" in phone.dial("4")
    assert "Ya no recibira avisos" in phone.send("1")
    assert {(r.status, r.failure_reason) for r in wave.rows(hogar_id=ROSA["hogar_id"])} == {
        ("skipped", "reminders_off")}
    wave.dispatch(at("2026-12-10 10:01"))
    assert ROSA_PHONE not in _sent_to(wave)


def test_a_row_an_opt_out_missed_is_never_claimed(wave: Wave) -> None:
    wave.plan(now=at("2026-12-10 10:00"))
    with wave.db.session() as s:  # an opt-out written behind the service's back
        s.add(OptOut(phone=ROSA_PHONE, source="sms_command"))
    wave.dispatch(at("2026-12-10 10:01"))
    assert ROSA_PHONE not in _sent_to(wave)
    assert {r.status for r in wave.rows(hogar_id=ROSA["hogar_id"])} == {"pending"}
    wave.plan(now=at("2026-12-10 10:05"))  # and the planner marks them
    assert {r.failure_reason for r in wave.rows(hogar_id=ROSA["hogar_id"])} == {"opted_out"}


def test_a_moved_date_replans_what_is_not_sent_and_announces_what_was(wave: Wave) -> None:
    wave.plan()
    wave.dispatch(at("2026-12-09 09:30"))  # the 3-day reminder goes out
    sent = [r for r in wave.rows(hogar_id=ROSA["hogar_id"]) if r.status == "submitted"]
    assert [r.offset_days for r in sent] == [3]
    with wave.db.session() as s:
        s.execute(update(PayPoint).where(PayPoint.punto_id == "P001")
                  .values(fecha_inicio=dt.date(2026, 12, 15), fecha_fin=dt.date(2026, 12, 18)))
    report = wave.plan(now=at("2026-12-09 12:00"))
    assert report.updated >= 1 and report.changes == 1
    rosa = {(r.kind, r.offset_days): r for r in wave.rows(hogar_id=ROSA["hogar_id"])}
    assert rosa[("reminder", 1)].send_after == at("2026-12-14 09:00")
    assert "15/12 al 18/12/2026" in rosa[("reminder", 1)].text
    change = rosa[("change", None)]
    assert change.text.startswith("Mi Juntos: CAMBIO") and "15/12 al 18/12/2026" in change.text
    assert change.send_after == at("2026-12-09 12:00")
    assert wave.plan(now=at("2026-12-09 12:05")).changes == 0  # told once


def test_a_household_moved_to_another_pay_point_is_told_the_new_place(wave: Wave) -> None:
    wave.plan()
    wave.dispatch(at("2026-12-09 09:30"))
    with wave.db.session() as s:
        s.execute(update(Settlement).where(Settlement.hogar_id == ROSA["hogar_id"],
                                           Settlement.periodo == "2026-6").values(punto_id="P002"))
    wave.plan(now=at("2026-12-09 12:00"))
    [change] = wave.rows(hogar_id=ROSA["hogar_id"], kind="change")
    assert "Operativo ETV Comunidad Campesina" in change.text


def test_a_change_notice_no_longer_true_is_withdrawn_before_it_goes_out(wave: Wave) -> None:
    wave.plan()
    wave.dispatch(at("2026-12-09 09:30"))  # the 3-day reminder names P001
    move = update(Settlement).where(Settlement.hogar_id == ROSA["hogar_id"], Settlement.periodo == "2026-6")
    with wave.db.session() as s:
        s.execute(move.values(punto_id="P002"))
    wave.plan(now=at("2026-12-09 12:00"))
    [change] = wave.rows(hogar_id=ROSA["hogar_id"], kind="change")
    assert change.status == "pending"
    with wave.db.session() as s:  # moved back before the change notice went out
        s.execute(move.values(punto_id="P001"))
    wave.plan(now=at("2026-12-09 12:05"))
    [change] = wave.rows(hogar_id=ROSA["hogar_id"], kind="change")
    assert (change.status, change.failure_reason) == ("skipped", "plan_changed")
    wave.dispatch(at("2026-12-09 12:10"))
    assert not any("CAMBIO" in m["message"] for m in wave.fake.messages)
    with wave.db.session() as s:  # and moved again: the same change notice goes out after all
        s.execute(move.values(punto_id="P002"))
    assert wave.plan(now=at("2026-12-09 12:15")).changes == 1
    wave.dispatch(at("2026-12-09 12:20"))
    assert [m["message"][:17] for m in wave.fake.messages if "CAMBIO" in m["message"]] == [
        "Mi Juntos: CAMBIO"]


def test_a_change_notice_is_withdrawn_when_reminders_are_switched_off(wave: Wave, app: Flask) -> None:
    wave.plan()
    wave.dispatch(at("2026-12-09 09:30"))
    with wave.db.session() as s:
        s.execute(update(Settlement).where(Settlement.hogar_id == ROSA["hogar_id"])
                  .values(punto_id="P002"))
    wave.plan(now=at("2026-12-09 12:00"))
    phone = Phone(app.test_client(), ROSA_PHONE)
    phone.dial("4")
    phone.send("1")  # reminders off
    [change] = wave.rows(hogar_id=ROSA["hogar_id"], kind="change")
    assert (change.status, change.failure_reason) == ("skipped", "reminders_off")


def test_planning_again_with_nothing_changed_changes_nothing(wave: Wave) -> None:
    first = wave.plan()
    assert first.created == 5
    again = wave.plan(now=PLAN_TIME + dt.timedelta(minutes=10))
    assert (again.created, again.updated, again.skipped, again.changes) == (0, 0, 0, 0)
    [notice] = wave.rows(kind="notice")
    assert notice.send_after == PLAN_TIME  # a notice keeps its first due time


def test_quiet_hours_hold_messages_until_the_window(wave: Wave) -> None:
    wave.plan(now=at("2026-12-09 07:00"))
    assert wave.dispatch(at("2026-12-09 07:59")).stopped == "quiet_hours"
    assert wave.dispatch(at("2026-12-09 20:00")).stopped == "quiet_hours"
    assert wave.fake.messages == []
    report = wave.dispatch(at("2026-12-09 08:00"))
    assert report.submitted == 1  # the notice (due since planning); the reminder is due at 09:00
    assert wave.dispatch(at("2026-12-09 09:00")).submitted == 1


def test_nothing_is_sent_once_the_operation_has_started(wave: Wave) -> None:
    wave.plan()
    report = wave.dispatch(at("2026-12-12 08:30"))
    rosa = wave.rows(hogar_id=ROSA["hogar_id"])
    assert {r.status for r in rosa} == {"skipped"}
    assert {r.failure_reason for r in rosa} == {"operation_started"}
    assert report.expired == 2


def add_households_at_p001(db: Database, count: int) -> list[str]:
    phones = [f"+519700000{i:02d}" for i in range(count)]
    with db.session() as s:
        for i, phone in enumerate(phones):
            hid = f"H9{i:07d}"
            s.add(Household(hogar_id=hid, dni=f"7{i:07d}", nombres="ANA", apellidos="X",
                            fecha_nacimiento=dt.date(1990, 1, 1), phone=phone, idioma="es",
                            ubigeo="200501", unidad_territorial="PIURA", estado="afiliado"))
            s.flush()
            s.add(Settlement(periodo="2026-6", hogar_id=hid, monto=200, estado="programado",
                             punto_id="P001"))
    return phones


def test_identical_texts_go_out_in_bulk_calls_of_the_batch_size(wave: Wave) -> None:
    phones = add_households_at_p001(wave.db, 9)
    wave.ctx.settings = wave.settings.with_(sms_batch_size=4)
    wave.plan()
    wave.dispatch(at("2026-12-09 09:30"))
    p001 = [m for m in wave.fake.messages if "Agencia BN Chulucanas" in (m["message"] or "")]
    assert [len(m["recipients"]) for m in p001] == [4, 4, 2]  # Rosa and nine neighbours
    sent = {n["number"] for m in p001 for n in m["recipients"]}
    assert sent == set(phones) | {ROSA_PHONE}
    rows = [r for r in wave.rows(offset_days=3) if r.hogar_id != "H00000003"]
    assert {r.status for r in rows} == {"submitted"}
    assert len({r.provider_message_id for r in rows}) == 10


def test_a_real_worker_runs_the_dispatch_job(wave: Wave, redis: redis_lib.Redis) -> None:
    from workers.jobs import dispatch_job

    with wave.db.session() as s:
        s.add(OutboxMessage(recipient=ROSA_PHONE, text="Mi Juntos: prueba", encoding="gsm7",
                            segments=1, purpose="reminder", kind="reminder", periodo="2026-6",
                            dedupe_key="reminder:test", send_after=dt.datetime(2020, 1, 1, tzinfo=UTC)))
    configure(wave.settings.with_(send_window=("00:00", "24:00")), wave.ctx.redis_url)
    queue = Queue("sms", connection=redis)
    job = queue.enqueue(dispatch_job)
    Worker([queue], connection=redis).work(burst=True)
    result = job.latest_result()
    assert result is not None and "1 submitted" in (result.return_value or "")
    assert [m["message"] for m in wave.fake.messages] == ["Mi Juntos: prueba"]


def test_transient_failures_retry_and_permanent_ones_fail(wave: Wave) -> None:
    wave.fake.fail_next(503)
    wave.fake.set_number_status(SHARED_PHONE, 406)
    wave.plan()
    first = wave.dispatch(at("2026-12-01 10:05"))
    assert first.retried == 1 and first.failed == 0  # Luz's notice: the call failed
    [notice] = wave.rows(kind="notice")
    assert notice.status == "pending" and notice.send_after == at("2026-12-01 10:06")
    wave.dispatch(at("2026-12-01 10:06"))
    [notice] = wave.rows(kind="notice")
    assert (notice.status, notice.failure_reason, notice.attempts) == ("failed", "UserInBlacklist", 2)


def test_a_timed_out_bulk_call_is_retried_and_marked_as_a_possible_duplicate(wave: Wave) -> None:
    wave.ctx.sender.timeout = (3.05, 0.3)
    wave.fake.delay_next(1.0, count=1)  # the provider takes the call but answers too late
    wave.plan()
    first = wave.dispatch(at("2026-12-01 10:05"))
    assert first.retried == 1
    [notice] = wave.rows(kind="notice")
    assert (notice.status, notice.dup_risk) == ("pending", True)
    assert "ReadTimeout" in (notice.last_error or "")
    wave.dispatch(at("2026-12-01 10:06"))
    [notice] = wave.rows(kind="notice")
    assert (notice.status, notice.dup_risk) == ("submitted", True)


def test_provider_down_the_wave_waits_and_goes_out_once_it_is_back(wave: Wave) -> None:
    """Connection refused (the provider, or the network to it, is down): every row waits for its
    retry, none is marked as a possible duplicate (nothing left), and the dispatcher does not
    stall; once the provider answers again the wave goes out."""
    import socket
    import time

    from workers.sender import Sender

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    working = wave.ctx.sender
    wave.ctx.sender = Sender("sandbox", "k", base_url=dead, timeout=(1.0, 1.0))
    wave.plan()
    started = time.monotonic()
    report = wave.dispatch(at("2026-12-01 10:05"))
    assert time.monotonic() - started < 5 and report.retried == 1 and report.submitted == 0
    [notice] = wave.rows(kind="notice")
    assert (notice.status, notice.dup_risk) == ("pending", False)
    assert "ConnectionError" in (notice.last_error or "")
    wave.ctx.sender = working
    assert wave.dispatch(at("2026-12-01 10:06")).submitted == 1
    assert len(wave.fake.messages) == 1


def test_a_refused_call_is_not_a_possible_duplicate(wave: Wave) -> None:
    wave.fake.fail_next(503)
    wave.plan()
    wave.dispatch(at("2026-12-01 10:05"))
    [notice] = wave.rows(kind="notice")
    assert (notice.status, notice.dup_risk) == ("pending", False)


def test_retries_end(wave: Wave) -> None:
    wave.fake.fail_next(500, count=10)
    wave.plan()
    for minute in (5, 6, 7, 8):
        wave.dispatch(at(f"2026-12-01 10:0{minute}"))
    [notice] = wave.rows(kind="notice")
    assert (notice.status, notice.failure_reason, notice.attempts) == ("failed", "retries_exhausted", 3)


def test_pause_holds_the_wave_and_resume_lets_it_go(wave: Wave) -> None:
    wave.plan()
    set_paused(wave.db, True)
    assert wave.dispatch(at("2026-12-01 10:05")).stopped == "paused"
    assert wave.fake.messages == []
    set_paused(wave.db, False)
    assert wave.dispatch(at("2026-12-01 10:05")).submitted == 1


def test_the_rate_limit_is_never_exceeded(wave: Wave) -> None:
    add_households_at_p001(wave.db, 24)
    wave.ctx.settings = wave.settings.with_(sms_rate_limit=10)
    wave.plan()
    report = Dispatcher(wave.ctx, now=lambda: at("2026-12-09 09:30")).run()
    assert report.submitted == 26  # 25 reminders and the notice of the shared phone
    times = sorted(dt.datetime.fromisoformat(m["time"]).timestamp()
                   for m in wave.fake.messages for _ in m["recipients"])
    assert all(len(m["recipients"]) <= 2 for m in wave.fake.messages)  # 10/s in fifths
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t < start + 1.0]
        assert len(in_window) <= 10 + 2  # the provider records a call when it answers


def test_a_claim_taken_back_as_dead_is_not_sent_by_its_slow_owner(wave: Wave) -> None:
    """Claims are declared dead by age; a dispatcher that was only slow finds, before its next
    API call, that the rows are no longer its own, and sends nothing of them."""
    from workers.dispatch import claim, reconcile, start_call

    wave.plan()
    now = at("2026-12-01 10:05")
    rows = claim(wave.ctx, now, 10)
    assert rows
    half = [r.id for r in rows][: max(1, len(rows) // 2)]
    assert start_call(wave.ctx, rows[0].batch_id, half, now) == set(half)
    later = now + dt.timedelta(seconds=wave.settings.claim_stale_seconds + 1)
    assert reconcile(wave.ctx, later) == len(rows)
    after = {r.id: r for r in wave.rows()}
    assert {i for i in after if after[i].dup_risk} == set(half)  # only the call that had started
    assert all(after[r.id].batch_id is None and after[r.id].status == "pending" for r in rows)
    assert start_call(wave.ctx, rows[0].batch_id, [r.id for r in rows], later) == set()


def test_dispatchers_at_once_send_each_row_once(wave: Wave) -> None:
    """Four dispatchers on one wave (small claims, so they take turns): every row goes out once."""
    from workers.context import configure

    phones = add_households_at_p001(wave.db, 60)
    wave.plan()
    settings = wave.settings.with_(sms_claim_size=7, sms_batch_size=3)
    reports = []

    def run() -> None:
        ctx = configure(settings, wave.ctx.redis_url)
        try:
            reports.append(Dispatcher(ctx, now=lambda: at("2026-12-09 09:30")).run(budget_seconds=30))
        finally:
            ctx.db.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = [n["number"] for m in wave.fake.messages for n in m["recipients"]]
    assert sorted(sent) == sorted(set(sent)) and set(phones) <= set(sent)
    assert sum(r.submitted for r in reports) == len(wave.rows(status="submitted"))
    assert sum(1 for r in reports if r.claimed) >= 2  # they did work side by side


def test_a_dispatch_shows_its_progress_when_asked(wave: Wave, capsys: pytest.CaptureFixture[str]) -> None:
    # `mijuntos reminders send` used to be silent for minutes on a big wave.
    add_households_at_p001(wave.db, 24)
    wave.plan()
    Dispatcher(wave.ctx, now=lambda: at("2026-12-09 09:30")).run(budget_seconds=30, progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert any(line.startswith("sending: 100%") and "| 26/26 " in line for line in bar), bar
    wave.plan()
    Dispatcher(wave.ctx, now=lambda: at("2026-12-09 09:31")).run(budget_seconds=30)
    assert capsys.readouterr().err == ""  # a dispatch job (the scheduler's) draws nothing
