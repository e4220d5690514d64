"""The log an operator reads: one development-key warning at start, delivery reports summed up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib
from flask import Flask
from rq import Queue

from core.settings import DEV_SECRET_WARNED
from gateway import sms
from gateway.replay import replay_job
from models import Database, OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
WARNING = "SECRET_KEY is not set: using the development key"


def test_a_worker_warns_of_the_development_key_once_not_per_job(
    db: Database, redis_url: str, redis: redis_lib.Redis
) -> None:
    # rq forks a work horse per job and the replay job (every minute) builds the web's services
    # in it: each used to say the warning again, 35 times in 35 minutes.
    queue = Queue("sms", connection=redis)
    for _ in range(3):
        queue.enqueue(replay_job)
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "MIJUNTOS_ENV", DEV_SECRET_WARNED)}
    env.update(DATABASE_URL=db.url, REDIS_URL=redis_url)
    done = subprocess.run([sys.executable, "-m", "mijuntos.cli", "worker", "--burst"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("replay_job() job in") == 3, done.stderr[-3000:]
    assert done.stderr.count(WARNING) == 1, done.stderr[-3000:]


def _sent(db: Database, count: int) -> list[str]:
    ids = [f"ATXid_{n:032x}" for n in range(count)]
    with db.session() as s:
        s.add_all(OutboxMessage(recipient=f"+5198765{n:04d}", text="Mi Juntos: aviso", encoding="gsm7",
                                segments=1, purpose="reminder", status="submitted",
                                provider_message_id=mid) for n, mid in enumerate(ids))
    return ids


def own_summary(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> sms.DeliverySummary:
    """A summary for this test alone. The process's own one is written out first, and its line
    left out of this test's log: reports that earlier tests posted would otherwise be summed up
    by its timer in the middle of this test."""
    sms.DELIVERIES.flush()
    caplog.clear()
    summary = sms.DeliverySummary(window=3600)
    monkeypatch.setattr(sms, "DELIVERIES", summary)
    return summary


def test_delivery_reports_are_one_summary_line_not_one_line_each(
    app: Flask, seeded: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = own_summary(monkeypatch, caplog)
    ids = _sent(seeded, 40)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="mijuntos")
    for n, mid in enumerate(ids + ["ATXid_" + "f" * 32]):  # the last: no such message (yet)
        form = {"id": mid, "status": "Success", "phoneNumber": f"+5198765{n:04d}", "networkCode": "71610"}
        if n < 4:
            form.update(status="Failed", failureReason="UserIsInactive" if n < 3 else "DeliveryFailure")
        assert client.post("/sms/delivery", data=form).status_code == 200
    assert client.post("/sms/delivery", data={"id": ids[0], "status": "Success"}).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("mijuntos")]
    assert not [line for line in lines if "delivery report" in line], lines[:3]
    line = summary.flush()
    assert line is not None and line in caplog.messages
    assert line.startswith("delivery reports: 42 in ")
    assert "Success 38, Failed 4; failures: UserIsInactive 3, DeliveryFailure 1)" in line, line
    assert line.endswith("applied 40, ignored 1, unknown 1"), line
    assert summary.flush() is None  # counted once


def test_a_summary_is_written_when_its_window_closes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mijuntos.sms")
    summary = sms.DeliverySummary(window=0.05)
    summary.add("Success", None, "applied")
    summary.add("Rejected", "UserInBlackList", "applied")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not caplog.messages:
        time.sleep(0.02)
    assert len(caplog.messages) == 1 and caplog.messages[0].startswith("delivery reports: 2 in ")
    assert "failures: UserInBlackList 1" in caplog.messages[0]


def test_debug_still_shows_each_report(
    app: Flask, seeded: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_summary(monkeypatch, caplog)
    mid = _sent(seeded, 1)[0]
    caplog.set_level(logging.DEBUG, logger="mijuntos.sms")
    form = {"id": mid, "status": "Failed", "failureReason": "UserIsInactive", "phoneNumber": "+51987650000",
            "networkCode": "71606"}
    assert app.test_client().post("/sms/delivery", data=form).status_code == 200
    assert (f"delivery report id={mid} status=Failed reason=UserIsInactive network=71606 applied"
            in caplog.messages)
