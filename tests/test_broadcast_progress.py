"""A confirmed broadcast's page follows its job until the job is done or has failed for good:
a failed try whose retry is scheduled is still on its way (the browser side: test_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from rq.job import Job, JobStatus

from core.settings import Settings
from models import Database
from tests.admin_support import csrf_of, log_in, run_jobs
from workers import broadcast
from workers.context import WorkerContext, configure

TEXT = "Mi Juntos: el punto de pago P002 cierra por huaico. Nueva fecha por SMS."


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    return log_in(app, seeded, monkeypatch)


@pytest.fixture
def worker_ctx(settings: Settings, seeded: Database, redis_url: str) -> Iterator[WorkerContext]:
    ctx = configure(settings, redis_url)
    yield ctx
    ctx.db.dispose()


def confirmed(staff: FlaskClient) -> str:
    form = {"csrf": csrf_of(staff, "/admin/broadcast"), "ut": ["PIURA"], "text": TEXT}
    page = staff.post("/admin/broadcast", data={**form, "action": "preview"}).get_data(as_text=True)
    found = re.search(r'name="broadcast" value="([^"]+)"', page)
    assert found, page
    done = staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": found[1]})
    assert done.status_code == 302
    return found[1]


def progress(staff: FlaskClient, bid: str) -> dict[str, Any]:
    answer = staff.get(f"/admin/broadcast/{bid}/progreso")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.get_json()  # type: ignore[no-any-return]


def follows(staff: FlaskClient, bid: str) -> bool:
    """Whether the status page carries its script (it does while the job is under way)."""
    return "broadcast.js" in staff.get(f"/admin/broadcast/{bid}").get_data(as_text=True)


def test_the_page_follows_a_retry_until_the_rows_are_made(
        staff: FlaskClient, redis: redis_lib.Redis, worker_ctx: WorkerContext,
        monkeypatch: pytest.MonkeyPatch) -> None:
    bid = confirmed(staff)
    queued = progress(staff, bid)
    assert (queued["state"], queued["final"]) == ("queued", False) and "En cola" in queued["html"]
    assert "Tarea: en cola" in queued["html"] and follows(staff, bid)
    real = broadcast.create_rows

    def broken(*args: object, **kwargs: object) -> broadcast.Progress:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(broadcast, "create_rows", broken)
    run_jobs(redis)
    failed = progress(staff, bid)
    assert (failed["state"], failed["final"]) == ("failed", False)  # a retry is scheduled
    assert "se reintenta solo" in failed["html"] and "esperando un reintento" in failed["html"]
    assert follows(staff, bid)
    monkeypatch.setattr(broadcast, "create_rows", real)
    run_jobs(redis)
    done = progress(staff, bid)
    assert (done["state"], done["final"]) == ("done", True) and "Listo: 1 mensajes en cola" in done["html"]
    assert not follows(staff, bid)


def test_the_page_stops_when_the_job_gives_up(staff: FlaskClient, redis: redis_lib.Redis,
                                              worker_ctx: WorkerContext,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bid = confirmed(staff)

    def broken(*args: object, **kwargs: object) -> broadcast.Progress:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(broadcast, "create_rows", broken)
    job = Job.fetch(broadcast.job_id(bid), connection=redis)
    for _ in range(4):  # the first try and its three retries
        assert not progress(staff, bid)["final"]
        run_jobs(redis)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    given_up = progress(staff, bid)
    assert (given_up["state"], given_up["final"]) == ("failed", True)
    assert "no se reintenta mas" in given_up["html"] and "fallo (sin mas reintentos)" in given_up["html"]
    assert not follows(staff, bid)


def test_the_progress_of_an_unknown_broadcast_is_a_404_and_needs_a_login(app: Flask,
                                                                         staff: FlaskClient) -> None:
    assert staff.get("/admin/broadcast/" + "0" * 16 + "/progreso").status_code == 404
    assert app.test_client().get("/admin/broadcast/" + "0" * 16 + "/progreso").status_code == 302
