"""Redis or the database down: the caller gets a polite END at once, never a 5xx."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from core.embedded import EmbeddedRedis
from core.settings import Settings
from gateway.app import create_app
from models import Database
from tests.support import ROSA_PHONE, Phone, seed

POLITE = "END Lo sentimos, el servicio no esta disponible ahora"
# The contract: a polite END within a second (Redis timeouts are 0.5 s, no retries).
HANG = 1.0


def timed_dial(phone: Phone, *inputs: str) -> tuple[str, float]:
    started = time.monotonic()
    body = phone.dial(*inputs)
    return body, time.monotonic() - started


def test_redis_killed_mid_session_then_back(tmp_path: Path, db: Database, caplog) -> None:
    seed(db)
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    app = create_app(Settings(var_dir=tmp_path, database_url=db.url, redis_url=url,
                              secret_key="k"))
    phone = Phone(app.test_client(), ROSA_PHONE)
    assert "Hola Rosa" in phone.dial()
    server.kill()
    with caplog.at_level(logging.ERROR, logger="mijuntos.ussd"):
        started = time.monotonic()
        body = phone.send("1")
        assert time.monotonic() - started < HANG
    assert body.startswith(POLITE) and "1880" in body
    assert any("ussd hop failed" in r.getMessage() for r in caplog.records)
    assert all("987654321" not in r.getMessage() for r in caplog.records)
    server.start()  # back, empty: the same hop is answered from scratch
    assert "Agencia BN Chulucanas" in phone.resend()
    app.extensions["mijuntos"].close()


def test_redis_unreachable_from_the_start(tmp_path: Path, db: Database) -> None:
    seed(db)
    app = create_app(Settings(var_dir=tmp_path, database_url=db.url,
                              redis_url="redis://127.0.0.1:1/0", secret_key="k"))
    body, took = timed_dial(Phone(app.test_client(), ROSA_PHONE))
    assert body.startswith(POLITE) and took < HANG


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/test",
    "sqlite:////proc/no-such-dir/mijuntos.db",
])
def test_database_unreachable(tmp_path: Path, redis_url: str, redis, url: str, caplog) -> None:
    app = create_app(Settings(var_dir=tmp_path, database_url=url, redis_url=redis_url,
                              secret_key="k"))
    with caplog.at_level(logging.ERROR, logger="mijuntos.ussd"):
        body, took = timed_dial(Phone(app.test_client(), ROSA_PHONE))
    assert body.startswith(POLITE) and took < HANG
    assert any("ussd hop failed" in r.getMessage() for r in caplog.records)
    assert redis.keys("mijuntos:ussd:*") == []  # nothing half-done left behind


def test_malformed_hops_get_a_400_with_a_reason(app) -> None:
    client = app.test_client()
    cases = [
        ({}, "sessionId: missing"),
        ({"sessionId": "s1"}, "phoneNumber: missing"),
        ({"sessionId": "s1", "phoneNumber": "hello"}, "phoneNumber: not a phone number"),
        ({"sessionId": "s 1;drop", "phoneNumber": ROSA_PHONE}, "sessionId: unexpected characters"),
        ({"sessionId": "s1", "phoneNumber": ROSA_PHONE, "text": "1*" * 5000}, "text: longer than"),
    ]
    for form, reason in cases:
        response = client.post("/ussd", data=form)
        assert response.status_code == 400
        assert reason in response.get_data(as_text=True)


def test_session_end_events_are_accepted_or_rejected_with_a_reason(app) -> None:
    client = app.test_client()
    ok = client.post("/ussd/events", data={
        "date": "2026-11-27 10:00:00", "sessionId": "ATUid_1", "serviceCode": "*1880#",
        "networkCode": "71610", "phoneNumber": ROSA_PHONE, "status": "Incomplete", "cost": "PEN 0.05",
        "durationInMillis": "12000", "hopsCount": "3", "input": "1", "lastAppResponse": "CON x",
        "errorMessage": "",
    })
    assert ok.status_code == 200
    bad = client.post("/ussd/events", data={"sessionId": "ATUid_1", "status": "Maybe"})
    assert bad.status_code == 400 and "status: unknown value" in bad.get_data(as_text=True)


def test_a_star_flood_is_answered_as_its_last_input(app, seeded) -> None:
    from sqlalchemy import func, select

    from models import Query

    client = app.test_client()
    form = {"sessionId": "flood1", "phoneNumber": ROSA_PHONE, "text": "*".join(["1", "0"] * 100)}
    response = client.post("/ussd", data=form)
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("END Gracias")  # the last input: 0 = exit
    with seeded.session() as s:
        lookups = s.scalar(select(func.count()).select_from(Query).where(Query.kind != "verify"))
    assert lookups == 0  # the 100 "1"s before it were not each run as a lookup


def test_a_database_restart_between_hops_is_not_seen_by_the_caller(app, seeded: Database) -> None:
    if seeded.engine.dialect.name != "postgresql":
        pytest.skip("kills PostgreSQL backends, as a restart or a failover does")
    phone = Phone(app.test_client(), ROSA_PHONE)
    assert phone.dial().startswith("CON Hola Rosa")
    with seeded.engine.connect() as conn:  # every other backend of this database: the web's too
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert killed and killed >= 1
    assert "Agencia BN Chulucanas" in phone.send("1")  # read again on a fresh connection
    assert phone.send("00").startswith("CON Hola Rosa")
