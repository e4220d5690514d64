"""Two `mijuntos scheduler` processes started by mistake: every cron job is enqueued twice, and
each message still goes out once.

rq's CronScheduler has no leader election: each scheduler enqueues every job on its own clock,
so with several workers the same job runs twice at once. Each job must be safe so; the races
that were not are shown here with one of the two runs held at its worst moment (right after it
read the outbox), then the whole thing with real processes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rq import Queue, Worker
from sqlalchemy import Engine, event, update

from models import Household, OutboxMessage
from tests.reminder_support import Wave, at, wave
from tests.support import ROSA, ROSA_PHONE, STRANGER_PHONE
from workers.dispatch import Dispatcher

__all__ = ["wave"]
HELD = "held-run"  # the thread whose run is held after it read the outbox


@contextmanager
def held_after_reading_outbox(engine: Engine) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold the `HELD` thread right after its first statement on the outbox, until `go` is set."""
    reached, go = threading.Event(), threading.Event()

    def hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == HELD and "outbox" in statement and not reached.is_set():
            reached.set()
            go.wait(30)

    event.listen(engine, "after_cursor_execute", hold)
    try:
        yield reached, go
    finally:
        go.set()
        event.remove(engine, "after_cursor_execute", hold)


def in_thread(target: Callable[[], object], name: str = "") -> threading.Thread:
    thread = threading.Thread(target=target, name=name or None, daemon=True)
    thread.start()
    return thread


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
