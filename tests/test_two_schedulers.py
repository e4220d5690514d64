"""Two `mijuntos scheduler` processes started by mistake: every cron job is enqueued twice, and
each message still goes out once (docs/REMINDERS.md, "Two schedulers by mistake").

rq's CronScheduler has no leader election: each scheduler enqueues every job on its own clock,
so with several workers the same job runs twice at once. The last test runs the real thing: two
scheduler processes and three workers, until plan and dispatch jobs have run side by side. The
races it would hit only by chance are shown first, in threads against the database (SQLite and
PostgreSQL), with one of the two runs held at its worst moment: right after it read the outbox.
Both held tests sent two SMS before the planner's page lock and requeue_job's conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import redis as redis_lib
from mijuntos_dev.fake_at import FakeAT
from rq import Queue, Worker
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from sqlalchemy import func, select, update

from core.privacy import mask_phone
from core.usage_stream import stage
from models import Database, Household, OutboxMessage, PayPoint, Query, Settlement
from models.base import LIMA
from tests.reminder_support import HELD, Wave, at, held_after_reading_outbox, in_thread, wave
from tests.support import ROSA, ROSA_PHONE, STRANGER_PHONE, household
from workers.dispatch import Dispatcher
from workers.queues import SMS_QUEUE

__all__ = ["wave"]
ROOT = Path(__file__).resolve().parent.parent


def at_once(run: Callable[[], object], times: int = 2) -> list[Exception]:
    """`run` in `times` threads let go together; what they raised."""
    barrier, errors = threading.Barrier(times), list[Exception]()

    def one() -> None:
        barrier.wait()
        try:
            run()
        except Exception as exc:
            errors.append(exc)

    for thread in [in_thread(one) for _ in range(times)]:
        thread.join(60)
    return errors


def work(wave: Wave) -> None:
    """A real rq worker (a work horse per job) in burst mode, sending what is queued."""
    queue = Queue("sms", connection=wave.redis)
    Worker([queue], connection=wave.redis).work(burst=True)


def test_two_planners_at_once_revive_a_withdrawn_reminder_once(wave: Wave) -> None:
    """A reminder withdrawn (reminders off) and wanted again (back on) is revived by both plan
    jobs. One revives it and a dispatcher sends it while the other, which read it as withdrawn,
    was still working: that one must not make the sent row pending again (a second SMS)."""
    now = at("2026-12-09 10:00")  # Rosa's 3-day reminder is due, her 1-day one is not
    rosa = Household.hogar_id == ROSA["hogar_id"]
    wave.plan(now)
    for enabled in (False, True):
        with wave.db.session() as s:
            s.execute(update(Household).where(rosa).values(reminders_enabled=enabled))
        if not enabled:
            wave.plan(now)
            assert {r.failure_reason for r in wave.rows(hogar_id=ROSA["hogar_id"])} == {"reminders_off"}
    with held_after_reading_outbox(wave.db.engine) as (reached, go):
        late = in_thread(lambda: wave.plan(now), HELD)
        assert reached.wait(10)
        first = in_thread(lambda: wave.plan(now))
        first.join(1.5)  # done at once, or waiting for the held planner's page
        sender = in_thread(lambda: Dispatcher(wave.ctx, now=lambda: now).run(budget_seconds=10))
        sender.join(1.5)
        go.set()
        for thread in (late, first, sender):
            thread.join(30)
            assert not thread.is_alive()
    wave.send(now)
    assert len(wave.texts_to(ROSA_PHONE)) == 1
    assert [r.status for r in wave.rows(hogar_id=ROSA["hogar_id"], offset_days=3)] == ["submitted"]


def test_two_requeue_jobs_at_once_send_a_cut_off_reply_once(wave: Wave) -> None:
    """A reply cut off mid-send is taken back by both requeue jobs. One takes it back and a
    worker sends it while the other, which read it as cut off, was still working: that one
    must not take it back again (a second SMS)."""
    from workers.jobs import requeue_job

    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    with wave.db.session() as s:
        row = OutboxMessage(recipient=STRANGER_PHONE, text="Mi Juntos: respuesta de prueba",
                            encoding="gsm7", segments=1, purpose="reply", status="sending",
                            attempts=1, dedupe_key="reply:cut-off", updated_at=long_ago)
        s.add(row)
    results: list[str] = []
    with held_after_reading_outbox(wave.ctx.db.engine) as (reached, go):
        late = in_thread(lambda: results.append(requeue_job()), HELD)
        assert reached.wait(10)
        assert requeue_job() == "requeued 1 replies"
        work(wave)  # sent
        assert [len(m["recipients"]) for m in wave.fake.messages] == [1]
        go.set()
        late.join(30)
    work(wave)
    sent = [n["number"] for m in wave.fake.messages for n in m["recipients"]]
    assert sent == [STRANGER_PHONE]
    assert results == ["requeued 0 replies"]
    with wave.db.session() as s:
        final = s.get(OutboxMessage, row.id)
        assert final is not None and (final.status, final.dup_risk) == ("submitted", True)


def test_two_purges_at_once_mask_each_message_once(db: Database) -> None:
    """The daily purge, enqueued by both schedulers at 03:17, runs twice side by side: every old
    message loses its text and has its number masked once (masking a mask would fail)."""
    from workers.retention import PURGED, purge

    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=200)
    for round_ in range(3):
        with db.session() as s:
            rows = [OutboxMessage(recipient=f"+5196{round_}{i:06d}", text="Mi Juntos: pago",
                                  encoding="gsm7", segments=1, purpose="reminder", status="delivered",
                                  created_at=old) for i in range(300)]
            s.add_all(rows)
            s.flush()
            numbers = {r.id: r.recipient for r in rows}
        assert at_once(lambda: purge(db, 90)) == []
        with db.session() as s:
            after = {r.id: (r.recipient, r.text) for r in s.execute(
                select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.text)
                .where(OutboxMessage.id.in_(numbers)))}
        assert after == {i: (mask_phone(n)[:16], PURGED) for i, n in numbers.items()}


# The real thing: two scheduler processes, three workers, the stand-in provider over HTTP.
PAID, UNPAID, REPLIES, LOOKUPS = 240, 40, 6, 300
COLLECTED = 12_000  # nothing to send them, but a planner takes a while to find that out
SHARED = "+51990000000"  # two households' phone: one SMS naming both


def wave_due_now(db: Database) -> list[str]:
    """Households due one message now on the real clock; the phones that must get one SMS."""
    today = dt.datetime.now(LIMA).date()
    phones = [f"+5199{i:07d}" for i in range(1, PAID + UNPAID + 1)]
    born = dt.date(1990, 1, 1)
    with db.session() as s:
        # Opens tomorrow at 08:00: with REMINDER_OFFSETS_DAYS=1 at 00:00 its reminder is due now.
        s.add(PayPoint(periodo="2031-1", punto_id="P100", modalidad="agencia", lugar="Agencia BN Sullana",
                       direccion=None, fecha_inicio=today + dt.timedelta(days=1),
                       fecha_fin=today + dt.timedelta(days=3), hora_inicio=dt.time(8),
                       hora_fin=dt.time(17), ubigeo="200601"))
        people = [(f"H7{i:07d}", phone) for i, phone in enumerate(phones)]
        people += [("H80000001", SHARED), ("H80000002", SHARED)]
        s.add_all([household(hid, f"6{i:07d}", "ANA", f"QUISPE{i}", born, phone=phone)
                   for i, (hid, phone) in enumerate(people)])
        s.flush()
        s.add_all([Settlement(periodo="2031-1", hogar_id=hid, monto=Decimal("200"),
                              estado="sin_abono" if PAID <= i < PAID + UNPAID else "programado",
                              punto_id=None if PAID <= i < PAID + UNPAID else "P100")
                   for i, (hid, _phone) in enumerate(people)])
        s.add_all([household(f"H6{i:07d}", f"5{i:07d}", "ROSA", "MAMANI", born, phone=f"+5197{i:07d}")
                   for i in range(COLLECTED)])
        s.flush()
        s.add_all([Settlement(periodo="2031-1", hogar_id=f"H6{i:07d}", monto=Decimal("200"),
                              estado="cobrado", punto_id="P100") for i in range(COLLECTED)])
        # Replies stored while Redis was down, and replies cut off mid-send (their worker died).
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        for i in range(REPLIES):
            s.add(OutboxMessage(recipient=f"+5198{i:07d}", text="Mi Juntos: respuesta", encoding="gsm7",
                                segments=1, purpose="reply", dedupe_key=f"reply:r{i}", attempts=i % 2,
                                status="sending" if i % 2 else "pending", updated_at=long_ago))
    return phones + [SHARED] + [f"+5198{i:07d}" for i in range(REPLIES)]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "mijuntos.cli", *args], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (a worker finishes its job first), then SIGKILL what is left of each one's group."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# The functions behind the cron jobs the test watches (mijuntos/scheduler.py).
CRON_FUNCTIONS = {"plan-reminders": "workers.jobs.plan_job",
                  "dispatch-reminders": "workers.jobs.dispatch_job"}


def jobs_of(name: str, connection: redis_lib.Redis) -> list[Job]:
    """The finished runs of a cron job, from the queue's registry (every rq version this project
    allows keeps one; rq 3's per-cron history is newer than the lowest allowed)."""
    registry = FinishedJobRegistry(SMS_QUEUE, connection=connection)
    jobs = Job.fetch_many(registry.get_job_ids(), connection)
    return [j for j in jobs if j is not None and j.func_name == CRON_FUNCTIONS[name]]


def ran_at_once(jobs: list[Job]) -> bool:
    """Whether two of `jobs` were running at the same moment."""
    spans = sorted((j.started_at, j.ended_at) for j in jobs if j.started_at and j.ended_at)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_two_real_schedulers_send_each_message_once(
    db: Database, redis: redis_lib.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Two `mijuntos scheduler` processes and three `mijuntos worker`s on one wave due now:
    planning, dispatch, requeue and the usage drain run twice, side by side, again and again;
    each household has one row, each phone gets one SMS, each lookup is recorded once."""
    phones = wave_due_now(db)
    pipe = redis.pipeline()
    now = dt.datetime.now(dt.UTC)
    stage(pipe, [{"channel": "ussd", "kind": "pago", "outcome": "ok", "created_at": now}] * LOOKUPS)
    pipe.execute()
    with FakeAT.running(dlr_delay=0.01) as fake:
        fake.configure({"delay_seconds": 0.03, "delay_count": 100_000})  # dispatches take a while
        env = dict(os.environ, DATABASE_URL=db.url, REDIS_URL=redis_url, AT_BASE_URL=fake.root_url,
                   AT_API_KEY="k", SECRET_KEY="test-secret", LOG_LEVEL="WARNING",
                   MIJUNTOS_VAR_DIR=str(tmp_path / "var"), SMS_SEND_WINDOW="00:00-24:00",
                   REMINDER_OFFSETS_DAYS="1", REMINDER_SEND_AT="00:00", SMS_BATCH_SIZE="10",
                   SMS_CLAIM_SIZE="30")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        procs = [start(["worker"], env, tmp_path / f"worker{i}.log") for i in range(3)]
        procs += [start(["scheduler", "--plan-every", "2", "--dispatch-every", "1"], env,
                        tmp_path / f"scheduler{i}.log") for i in range(2)]
        schedulers = 0
        try:
            deadline = time.monotonic() + 120
            while True:
                schedulers = max(schedulers, len(CronScheduler.all(redis)))
                plans, dispatches = jobs_of("plan-reminders", redis), jobs_of("dispatch-reminders", redis)
                sent = {n["number"] for m in fake.messages for n in m["recipients"]}
                if set(phones) <= sent and sum(j.is_finished for j in plans) >= 6 \
                        and ran_at_once(plans) and ran_at_once(dispatches):
                    break
                logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
                assert time.monotonic() < deadline, (len(sent), len(plans), logs)
                assert all(p.poll() is None for p in procs), logs
                time.sleep(0.2)
        finally:
            stop(procs[3:])  # the schedulers first, then the workers finish what they hold
            stop(procs[:3])
        sent_to = Counter(n["number"] for m in fake.messages for n in m["recipients"])
    assert schedulers == 2
    assert FailedJobRegistry("sms", connection=redis).get_job_ids() == []
    assert sent_to == dict.fromkeys(phones, 1)  # each phone one SMS, no other phone any
    with db.session() as s:
        planned = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind.is_not(None))))
        replies = list(s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "reply")))
        lookups = s.scalar(select(func.count()).select_from(Query))
    assert Counter(r.hogar_id for r in planned) == dict.fromkeys({r.hogar_id for r in planned}, 1)
    assert len(planned) == PAID + UNPAID + 2
    assert Counter((r.status, r.failure_reason) for r in planned) == {
        ("submitted", None): PAID + UNPAID + 1, ("skipped", "merged"): 1}
    assert {r.status for r in replies} == {"submitted"}
    assert lookups == LOOKUPS
