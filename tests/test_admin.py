"""The staff dashboard, the usage report, broadcasts, the simulator and the ops endpoints."""

from __future__ import annotations

import datetime as dt
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from mijuntos.cli import main
from models import Database, OutboxMessage
from models.base import utcnow
from models.clock import lima_date
from tests.admin_support import PASSWORD, create_user, csrf_of, log_in
from tests.support import JUANA, ROSA_PHONE, STRANGER_PHONE, TEST_TODAY, Phone, simulator_token


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    return log_in(app, seeded, monkeypatch)


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
    today = lima_date(utcnow())  # the traffic's day: the app's own today is pinned (TEST_TODAY)
    html = staff.get(f"/admin/?from={today}&to={today}").get_data(as_text=True)
    assert "Consultas: <strong>3</strong>" in html and "(USSD 2, SMS 1, gestor 0, voz 0)" in html
    assert "verificadas 3" in html and "hogares 2" in html
    assert '<svg class="chart"' in html and "cdn" not in html.lower()
    assert 'data-series="USSD" data-value="1"' in html  # PIURA and PUNO: one USSD lookup each


def test_report_cli_and_csv(app: Flask, seeded: Database, monkeypatch) -> None:
    traffic(app)
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    # Lookups wait in Redis until moved; the report moves them from the service's Redis first.
    monkeypatch.setenv("REDIS_URL", app.extensions["mijuntos"].settings.redis_url)
    today = lima_date(utcnow()).isoformat()
    out = CliRunner().invoke(main, ["report", "--from", today, "--to", today]).output
    assert "lookups: 3 (USSD 2, SMS 1, gestor 0, voz 0)" in out and "households reached: 2" in out
    assert "verifications: 3 verified, 0 failed" in out
    csv_out = CliRunner().invoke(main, ["report", "--from", today, "--to", today, "--csv"]).output
    assert csv_out.splitlines()[0] == "section,key,measure,value"
    assert "lookups_by_ut,PIURA,ussd,1" in csv_out and "lookups_by_ut,PIURA,sms,1" in csv_out
    assert "lookups_by_ut,PUNO,ussd,1" in csv_out and "lookups_by_ut,PUNO,sms,0" in csv_out


def test_simulator_drives_the_dialog(app: Flask, seeded) -> None:
    client = app.test_client()
    assert 'id="screen"' in client.get("/simulator").get_data(as_text=True)
    token = {"X-CSRFToken": simulator_token(client)}
    first = client.post("/simulator/hop", data={"sessionId": "sim1", "phoneNumber": ROSA_PHONE,
                                                 "text": ""}, headers=token).get_data(as_text=True)
    assert first.startswith("CON Hola Rosa")
    second = client.post("/simulator/hop", data={"sessionId": "sim1", "phoneNumber": ROSA_PHONE,
                                                  "text": "1"}, headers=token).get_data(as_text=True)
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
    from gateway.app import create_app

    down = create_app(settings.with_(database_url="postgresql+psycopg://postgres@127.0.0.1:1/x"))
    response = down.test_client().get("/readyz")
    assert response.status_code == 503 and "database: OperationalError" in response.get_data(as_text=True)


def test_hops_are_counted_by_screen(app: Flask, seeded) -> None:
    client = app.test_client()
    phone = Phone(client, ROSA_PHONE)
    phone.dial()
    phone.send("2")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'mijuntos_ussd_hops_total{kind="CON",outcome="answered",screen="status"}' in metrics


def chart(html: str, card: str) -> dict[str, dict[str, int]]:
    """The bars of the chart in card `card`: label -> series -> value."""
    svg = html.split(f'id="{card}"', 1)[1].split("</svg>", 1)[0]
    out: dict[str, dict[str, int]] = {}
    for part in svg.split('class="label">')[1:]:
        label = part.split("<", 1)[0]
        out[label] = {s: int(v) for s, v in re.findall(r'data-series="([^"]+)" data-value="(\d+)"', part)}
    return out


def test_dashboard_funnel_is_the_current_waves_reminders_and_notices(staff: FlaskClient,
                                                                    seeded: Database) -> None:
    rows = [("reminder", "2026-6", "pending", None)] * 2 + [
        ("reminder", "2026-6", "delivered", None), ("reminder", "2026-6", "skipped", "opted_out"),
        ("notice", "2026-6", "failed", "UserInBlacklist"), ("change", "2026-6", "submitted", None),
    ] + [("reminder", "2026-5", "delivered", None)] * 5 + [("broadcast", "2026-6", "pending", None)] * 3 + [
        (None, None, "submitted", None)] * 2  # replies
    made = dt.datetime.combine(TEST_TODAY, dt.time(17), tzinfo=dt.UTC)  # noon in Lima, "today"
    with seeded.session() as s:
        s.add_all([OutboxMessage(recipient=ROSA_PHONE, text="Mi Juntos: prueba", encoding="gsm7", segments=1,
                                 purpose=kind or "reply", kind=kind, periodo=periodo, status=status,
                                 failure_reason=reason, dedupe_key=f"test:{n}", unidad_territorial="PIURA",
                                 created_at=made)
                   for n, (kind, periodo, status, reason) in enumerate(rows)])
    html = staff.get("/admin/").get_data(as_text=True)
    assert "Recordatorios y avisos del periodo 2026-6" in html
    funnel = chart(html, "funnel")  # the newest period's wave only: no 2026-5, broadcasts or replies
    assert funnel["planificados"] == {"recordatorios": 4, "avisos sin pago": 1, "avisos de cambio": 1}
    assert funnel["en espera"] == {"recordatorios": 2}
    # Sent: the delivered reminder and the change notice the provider accepted (no report yet).
    assert funnel["enviados"] == {"recordatorios": 1, "avisos de cambio": 1}
    assert funnel["entregados"] == {"recordatorios": 1}
    assert funnel["sin reporte aun"] == {"avisos de cambio": 1}
    assert funnel["dados de baja"] == {"recordatorios": 1}
    assert funnel["fallo de envio"] == {"avisos sin pago": 1}  # refused: never sent
    assert funnel["fallo de entrega"] == {}
    assert chart(html, "broadcasts")["planificados"] == {"avisos masivos": 3}
    older = chart(staff.get("/admin/?periodo=2026-5").get_data(as_text=True), "funnel")
    assert older["planificados"] == {"recordatorios": 5} and older["entregados"] == {"recordatorios": 5}


def test_failed_logins_are_throttled_per_username_and_per_address(app: Flask, seeded: Database,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway import login_guard

    monkeypatch.setattr(login_guard, "WINDOW_SECONDS", 2)
    monkeypatch.setattr(login_guard, "PER_USERNAME", 3)
    monkeypatch.setattr(login_guard, "PER_ADDRESS", 5)
    create_user(seeded, monkeypatch)
    client = app.test_client()

    def attempt(name: str, password: str, address: str = "127.0.0.1"):
        csrf = csrf_of(client, "/admin/login")
        return client.post("/admin/login", data={"csrf": csrf, "username": name, "password": password},
                           environ_base={"REMOTE_ADDR": address})

    for _ in range(3):
        wrong = attempt("ana", "adivinanza")
        assert wrong.status_code == 200 and "Usuario o clave incorrectos" in wrong.get_data(as_text=True)
    refused = attempt("ana", PASSWORD)  # the right password, but the username used up its failures
    assert refused.status_code == 429 and "Demasiados intentos" in refused.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # not logged in
    assert attempt("ANA ", PASSWORD).status_code == 429  # the same name however it is typed
    time.sleep(2.2)  # the window passes
    assert attempt("ana", PASSWORD).status_code == 302
    client.post("/admin/logout", data={"csrf": csrf_of(client, "/admin/")})
    for n in range(5):  # one address trying many names
        assert attempt(f"usuario{n}", "adivinanza").status_code == 200
    assert attempt("ana", PASSWORD).status_code == 429
    assert attempt("ana", PASSWORD, address="10.0.0.2").status_code == 302  # another office


@pytest.mark.parametrize(("target", "lands"), [
    ("/simulator", "/simulator"),
    ("/admin/broadcast", "/admin/broadcast"),
    ("/admin/?from=2026-12-01", "/admin/?from=2026-12-01"),
    ("//evil.example/x", "/admin/"),
    ("/\\evil.example", "/admin/"),
    ("https://evil.example/admin", "/admin/"),
    ("javascript:alert(1)", "/admin/"),
    ("simulator", "/admin/"),
])
def test_login_returns_to_a_page_of_this_site_only(app: Flask, seeded: Database,
                                                   monkeypatch: pytest.MonkeyPatch, target: str,
                                                   lands: str) -> None:
    create_user(seeded, monkeypatch)
    client = app.test_client()
    csrf = csrf_of(client, "/admin/login")
    done = client.post("/admin/login", query_string={"next": target},
                       data={"csrf": csrf, "username": "ana", "password": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == lands


def test_the_simulator_login_returns_to_the_simulator(app: Flask, seeded: Database,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    app.extensions["mijuntos"].settings = app.extensions["mijuntos"].settings.with_(env="production")
    client = app.test_client()
    to_login = client.get("/simulator")
    assert to_login.status_code == 302
    assert "next=/simulator" in to_login.headers["Location"].replace("%2F", "/")
    create_user(seeded, monkeypatch)
    csrf = csrf_of(client, to_login.headers["Location"])
    done = client.post(to_login.headers["Location"], data={"csrf": csrf, "username": "ana",
                                                           "password": PASSWORD})
    assert done.headers["Location"] == "/simulator"
    assert 'id="screen"' in client.get("/simulator").get_data(as_text=True)
    # A page with a query string comes back with it.
    to_login = app.test_client().get("/admin/?periodo=2026-5")
    assert parse_qs(urlsplit(to_login.headers["Location"]).query)["next"] == ["/admin/?periodo=2026-5"]


def test_create_user_states_the_password_rule_before_asking(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["admin", "create-user", "rosa"],
                                input=f"corta\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    # The rule is in the first prompt, and a short password is refused at once, not after
    # it was typed a second time.
    assert result.output.startswith("Password (at least 10 characters): \n"), result.output
    prompts = result.output.splitlines()
    assert prompts[1] == "Error: at least 10 characters"
    assert prompts[2].startswith("Password (at least 10 characters):")
    assert prompts[3].startswith("Repeat for confirmation:") and "user rosa created" in result.output
    assert result.output.count("Repeat for confirmation") == 1
