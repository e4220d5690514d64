"""A logged-in staff member for the /admin tests."""

from __future__ import annotations

import re

import pytest
import redis as redis_lib
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from mijuntos.cli import main
from models import Database

PASSWORD = "una-clave-larga"


def create_user(db: Database, monkeypatch: pytest.MonkeyPatch, name: str = "ana") -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["admin", "create-user", name], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output


def csrf_of(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found[1]


def log_in(app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    create_user(db, monkeypatch)
    client = app.test_client()
    csrf = csrf_of(client, "/admin/login")
    bad = client.post("/admin/login", data={"csrf": csrf, "username": "ana", "password": "nope"})
    assert "Usuario o clave incorrectos" in bad.get_data(as_text=True)
    ok = client.post("/admin/login", data={"csrf": csrf, "username": "ana", "password": PASSWORD})
    assert ok.status_code == 302
    return client


def run_jobs(redis: redis_lib.Redis) -> None:
    """One burst of an `sms` worker in this process, the retries that wait made due now."""
    queue = Queue("sms", connection=redis)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        job = Job.fetch(job_id, connection=redis)
        registry.remove(job)
        queue.enqueue_job(job)
    SimpleWorker([queue], connection=redis).work(burst=True)
