"""The staff dashboard, the usage report, broadcasts, the simulator and the ops endpoints."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from mijuntos.cli import main
from models import Database, OptOut, OutboxMessage
from tests.support import JUANA, ROSA_PHONE, SHARED_PHONE, STRANGER_PHONE, Phone


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch, tmp_path) -> FlaskClient:
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    result = CliRunner().invoke(main, ["admin", "create-user", "ana"],
                                input="una-clave-larga\nuna-clave-larga\n")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    bad = client.post("/admin/login", data={"csrf": csrf[1], "username": "ana", "password": "nope"})
    assert "Usuario o clave incorrectos" in bad.get_data(as_text=True)
    ok = client.post("/admin/login", data={"csrf": csrf[1], "username": "ana",
                                          "password": "una-clave-larga"})
    assert ok.status_code == 302
    return client


def csrf_of(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found[1]


def traffic(app: Flask) -> None:
    client = app.test_client()
    Phone(client, ROSA_PHONE).dial("1")
    stranger = Phone(client, STRANGER_PHONE)
    stranger.dial()
    stranger.send(JUANA["dni"])
    stranger.send(JUANA["dob"])
    stranger.send("2")
    client.post("/sms/inbound", data={"id": "a1", "from": ROSA_PHONE, "text": "ESTADO"})


def test_dashboard_needs_a_login_and_shows_real_numbers(app: Flask, seeded, staff) -> None:
    assert app.test_client().get("/admin/").status_code == 302  # not logged in: to the login
    traffic(app)
    html = staff.get("/admin/").get_data(as_text=True)
    assert "Consultas: <strong>3</strong>" in html and "(USSD 2, SMS 1)" in html
    assert "verificadas 3" in html and "hogares 2" in html
    assert '<svg class="chart"' in html and "cdn" not in html.lower()
    assert 'data-series="USSD" data-value="1"' in html  # PIURA and PUNO: one USSD lookup each


def test_report_cli_and_csv(app: Flask, seeded: Database, monkeypatch) -> None:
    traffic(app)
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    # Lookups wait in Redis until moved; the report moves them from the service's Redis first.
    monkeypatch.setenv("REDIS_URL", app.extensions["mijuntos"].settings.redis_url)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=-5))).date().isoformat()
    out = CliRunner().invoke(main, ["report", "--from", today, "--to", today]).output
    assert "lookups: 3 (USSD 2, SMS 1)" in out and "households reached: 2" in out
    assert "verifications: 3 verified, 0 failed" in out
    csv_out = CliRunner().invoke(main, ["report", "--from", today, "--to", today, "--csv"]).output
    assert csv_out.splitlines()[0].startswith("unidad_territorial,lookups_ussd,lookups_sms,planned")
    assert "PIURA,1,1," in csv_out and "PUNO,1,0," in csv_out


def test_broadcast_previews_then_confirms(staff: FlaskClient, seeded: Database) -> None:
    with seeded.session() as s:
        s.add(OptOut(phone=SHARED_PHONE, source="aggregator"))
    text = "Mi Juntos: el punto de pago P002 cierra por huaico. Nueva fecha por SMS."
    form: dict[str, object] = {"csrf": csrf_of(staff, "/admin/broadcast"), "ut": ["PIURA", "PUNO"],
                               "text": text, "action": "preview"}
    preview = staff.post("/admin/broadcast", data=form).get_data(as_text=True)
    assert "Destinatarios: <strong>1</strong>" in preview  # Rosa; the shared phone opted out
    assert "GSM7, 1 parte(s)" in preview
    token = re.search(r'name="token" value="([^"]+)"', preview)
    assert token
    with seeded.session() as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # a preview sends nothing
    changed = staff.post("/admin/broadcast", data={**form, "action": "confirm", "token": token[1],
                                                   "text": text + "!"})
    assert "El aviso cambio" in changed.get_data(as_text=True)
    done = staff.post("/admin/broadcast", data={**form, "action": "confirm", "token": token[1]})
    assert "Aviso creado para 1 hogares" in done.get_data(as_text=True)
    with seeded.session() as s:
        [row] = s.scalars(select(OutboxMessage)).all()
    assert (row.recipient, row.kind, row.purpose, row.status) == (ROSA_PHONE, "broadcast", "broadcast",
                                                                  "pending")
    no_csrf = staff.post("/admin/broadcast", data={**form, "csrf": "forged"})
    assert no_csrf.status_code == 403


def test_simulator_drives_the_dialog(app: Flask, seeded) -> None:
    client = app.test_client()
    assert 'id="screen"' in client.get("/simulator").get_data(as_text=True)
    first = client.post("/simulator/hop", data={"sessionId": "sim1", "phoneNumber": ROSA_PHONE,
                                                 "text": ""}).get_data(as_text=True)
    assert first.startswith("CON Hola Rosa")
    second = client.post("/simulator/hop", data={"sessionId": "sim1", "phoneNumber": ROSA_PHONE,
                                                  "text": "1"}).get_data(as_text=True)
    assert "Agencia BN Chulucanas" in second


def test_health_readiness_and_metrics(app: Flask, seeded) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_data(as_text=True) == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "redis: ok" in ready.get_data(as_text=True)
    Phone(client, ROSA_PHONE).dial()
    client.post("/sms/inbound", data={"id": "m1", "from": ROSA_PHONE, "text": "PAGO"})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'mijuntos_http_requests_total{route="/ussd",status="200"}' in metrics
    assert "mijuntos_http_request_seconds_bucket" in metrics
    assert 'mijuntos_outbox_messages{kind="reply",status="pending"} 1.0' in metrics
    assert "mijuntos_queue_depth 1.0" in metrics
    assert client.get("/ussd").headers.get("X-Request-Id")


def test_readiness_fails_when_the_database_is_down(settings, redis) -> None:
    from gateway import create_app

    down = create_app(settings.with_(database_url="postgresql+psycopg://postgres@127.0.0.1:1/x"))
    response = down.test_client().get("/readyz")
    assert response.status_code == 503 and "database: OperationalError" in response.get_data(as_text=True)


def test_hops_are_counted_by_screen(app: Flask, seeded) -> None:
    client = app.test_client()
    phone = Phone(client, ROSA_PHONE)
    phone.dial()
    phone.send("2")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'mijuntos_ussd_replies_total{kind="CON",screen="status"}' in metrics
