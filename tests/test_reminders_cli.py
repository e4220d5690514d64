"""Operators see and steer a wave from the command line; the scheduler is rq's cron."""

from __future__ import annotations

import datetime as dt

import pytest
import redis as redis_lib
from click.testing import CliRunner
from rq import Queue

from mijuntos.cli import main
from mijuntos.scheduler import build_scheduler
from models import Database
from models.base import LIMA


@pytest.fixture
def env(seeded: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MIJUNTOS_VAR_DIR", str(tmp_path))


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_status_pause_resume(env, redis) -> None:
    out = run("reminders", "plan", "--no-progress")
    assert "planned periods 2026-6" in out and "5 new" in out
    status = run("reminders", "status")
    assert "sending is running" in status
    assert "reminder  pending" in status and "notice    pending" in status
    assert "PIURA" in status and "PUNO" in status
    assert "reminders paused" in run("reminders", "pause")
    assert "sending is PAUSED" in run("reminders", "status")
    assert "(paused)" in run("reminders", "send", "--budget", "5")
    run("reminders", "resume")
    assert "sending is running" in run("reminders", "status")
    assert "0 new" in run("reminders", "plan", "--no-progress")


def test_send_shows_a_progress_bar(env, redis, monkeypatch: pytest.MonkeyPatch) -> None:
    # A window that is not now (Lima): the bar is drawn over what is due, and nothing is sent.
    later = dt.datetime.now(LIMA) + dt.timedelta(hours=2)
    monkeypatch.setenv("SMS_SEND_WINDOW", f"{later:%H}:00-{later:%H}:30")
    run("reminders", "plan", "--no-progress")
    result = CliRunner().invoke(main, ["reminders", "send", "--budget", "5"])
    assert result.exit_code == 0 and "(quiet_hours)" in result.stdout, result.output
    assert result.stderr.lstrip("\r").startswith("sending:"), result.stderr  # how many: the day's
    quiet = CliRunner().invoke(main, ["reminders", "send", "--budget", "5", "--no-progress"])
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output


def test_the_scheduler_enqueues_its_interval_jobs(redis: redis_lib.Redis) -> None:
    scheduler = build_scheduler(redis, plan_every=600, dispatch_every=30)
    enqueued = scheduler.enqueue_jobs()
    names = {getattr(job.func, "__name__", "") for job in enqueued}
    assert names == {"plan_job", "dispatch_job", "replay_job", "requeue_job", "usage_job"}
    assert len(Queue("sms", connection=redis).jobs) == 5  # purge: daily at 03:17
    assert scheduler.enqueue_jobs() == []  # not due again before their interval


def test_the_retention_purge_is_scheduled_daily_and_purges_when_it_runs(
    settings, seeded: Database, redis: redis_lib.Redis, redis_url: str
) -> None:
    import datetime as dt

    from rq import Worker
    from sqlalchemy import select

    from models import OutboxMessage
    from models.base import utcnow
    from workers.context import configure

    scheduler = build_scheduler(redis, plan_every=600, dispatch_every=30)
    [purge] = [job for job in scheduler.get_jobs() if job.name == "purge-old-messages"]
    assert purge.cron == "17 3 * * *" and getattr(purge.func, "__name__", "") == "purge_job"
    assert purge.next_enqueue_time is not None
    assert dt.timedelta(0) < purge.next_enqueue_time - utcnow() <= dt.timedelta(days=1)
    old = utcnow() - dt.timedelta(days=settings.retention_days + 1)
    with seeded.session() as s:
        s.add(OutboxMessage(recipient="+51987654321", text="Mi Juntos: pago 2026-6 ...", encoding="gsm7",
                            segments=1, purpose="reminder", status="delivered", created_at=old))
    configure(settings, redis_url)
    job = purge.enqueue(redis)  # what the scheduler does at 03:17
    Worker([Queue("sms", connection=redis)], connection=redis).work(burst=True)
    result = job.latest_result()
    assert result is not None and result.return_value == "purged 1 messages"
    with seeded.session() as s:
        [row] = s.scalars(select(OutboxMessage)).all()
    assert row.text == "[texto eliminado]" and "987654321" not in row.recipient
