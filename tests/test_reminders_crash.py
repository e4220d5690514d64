"""Fault injection: kill -9 a real worker process mid-wave; no reminder is lost, and duplicates
stay within the batch that was in flight."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import redis as redis_lib
from mijuntos_dev.fake_at import FakeAT
from rq import Queue
from sqlalchemy import select

from core.settings import Settings
from models import Database, OutboxMessage

ROWS = 60
ROOT = Path(__file__).resolve().parent.parent


def due_reminders(db: Database) -> None:
    """Sixty due reminders, in groups of ten identical texts."""
    past = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with db.session() as s:
        for i in range(ROWS):
            s.add(OutboxMessage(
                recipient=f"+5196{i:07d}", text=f"Mi Juntos: pago 2026-6 en el punto {i // 10}.",
                encoding="gsm7", segments=1, purpose="reminder", kind="reminder", periodo="2026-6",
                dedupe_key=f"reminder:H{i}:2026-6:1", offset_days=1, send_after=past))


def worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "mijuntos.cli", "worker", "--burst"], env=env,
                            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant, children first found, all at once."""
    os.kill(pid, signal.SIGSTOP)  # no new work horse while the tree is walked
    found = [pid]
    for parent in found:
        children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
        found.extend(int(p) for p in children.stdout.split())
    for each in found:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass


def rows(db: Database) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def call_started_within(db: Database, seconds: float) -> bool:
    """Whether an API call in flight started less than `seconds` ago."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    return any(r.status == "sending" and r.call_at is not None and r.call_at >= since
               for r in rows(db))


def test_a_worker_killed_mid_wave_loses_nothing(
    db: Database, redis: redis_lib.Redis, redis_url: str, settings: Settings
) -> None:
    from workers.jobs import dispatch_job

    due_reminders(db)
    with FakeAT.running(dlr_delay=0.01) as fake:
        fake.configure({"delay_seconds": 0.4, "delay_count": 1000})  # every call takes a while
        env = dict(os.environ, DATABASE_URL=db.url, REDIS_URL=redis_url, AT_BASE_URL=fake.root_url,
                   AT_API_KEY="k", SMS_BATCH_SIZE="5", SMS_CLAIM_SIZE="10",
                   SMS_SEND_WINDOW="00:00-24:00",
                   SMS_CLAIM_STALE_SECONDS="1", LOG_LEVEL="WARNING",
                   SECRET_KEY=settings.secret_key)
        queue = Queue("sms", connection=redis)
        queue.enqueue(dispatch_job)
        first = worker(env)
        # Mid-wave and mid-call: five calls answered and the next one just started (each takes
        # 0.4 s), not in the few milliseconds between one call's answer and the next call.
        deadline = time.monotonic() + 30
        while not (len(fake.messages) >= 5 and call_started_within(db, 0.15)) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fake.messages) >= 5, "the wave did not start"
        kill_tree(first.pid)  # the worker and its work horse (rq gives it its own session), mid-call
        first.wait()
        at_kill = rows(db)
        claimed = {r.recipient for r in at_kill if r.status == "sending"}
        in_flight = {r.recipient for r in at_kill if r.status == "sending" and r.call_at is not None}
        assert 0 < len(claimed) <= 10  # one claim
        assert 0 < len(in_flight) <= 5  # of which one API call (SMS_BATCH_SIZE) had started
        assert any(r.status == "submitted" for r in at_kill)  # killed mid-wave, not before
        assert any(r.status == "pending" for r in at_kill)
        time.sleep(1.2)  # older than SMS_CLAIM_STALE_SECONDS: the claim is known to be dead
        fake.configure({"delay_seconds": 0, "delay_count": 0})
        queue.enqueue(dispatch_job)
        second = worker(env)
        assert second.wait(60) == 0
        fake.wait_for_deliveries()
        final = rows(db)
        sent = Counter(n["number"] for m in fake.messages for n in m["recipients"]
                       if n["statusCode"] == 101)
    assert {r.status for r in final} == {"submitted"}  # nothing lost
    assert set(sent) == {r.recipient for r in final}
    duplicates = {number for number, times in sent.items() if times > 1}
    assert duplicates <= in_flight  # only the batch in flight can be sent twice
    assert {r.recipient for r in final if r.dup_risk} == in_flight  # and the outbox says so,
    # not of the claimed rows whose call had not started (they never left)
