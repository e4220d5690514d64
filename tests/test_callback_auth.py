"""Callbacks carry a secret in their URL and may be limited to networks; production refuses
unsafe settings."""

from __future__ import annotations

import logging

import pytest

from core.settings import ConfigError, Settings
from gateway.app import create_app
from models import Database, OutboxMessage
from tests.support import ROSA_PHONE

HOP = {"sessionId": "s1", "serviceCode": "*1880#", "phoneNumber": ROSA_PHONE, "text": ""}
CALLBACKS = [
    ("/ussd", HOP),
    ("/ussd/events", {"sessionId": "s1", "status": "Success"}),
    ("/sms/inbound", {"id": "i1", "from": ROSA_PHONE, "text": "PAGO"}),
    ("/sms/delivery", {"id": "m1", "status": "Success"}),
    ("/sms/optout", {"phoneNumber": ROSA_PHONE}),
]


@pytest.mark.parametrize("path, form", CALLBACKS)
def test_every_callback_needs_the_key(settings: Settings, seeded: Database, redis, path, form,
                                      caplog) -> None:
    app = create_app(settings.with_(callback_secret="s3cret-Key"))
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="mijuntos.auth"):
        for url in (path, f"{path}?key=wrong", f"{path}?key=", f"{path}?key=%C3%A9"):
            response = client.post(url, data=form)
            assert response.status_code == 403, url
            assert "forbidden" in response.get_data(as_text=True)
    assert any("callback refused" in r.getMessage() for r in caplog.records)
    with seeded.session() as s:
        assert s.query(OutboxMessage).count() == 0  # nothing was written by a refused call
    assert client.post(f"{path}?key=s3cret-Key", data=form).status_code == 200
    assert client.get("/healthz").status_code == 200  # not a callback: no key needed


@pytest.mark.parametrize("path, form", CALLBACKS)
@pytest.mark.parametrize("networks, status", [(("10.0.0.0/8",), 403), (("127.0.0.0/8",), 200),
                                              (("10.0.0.0/8", "127.0.0.1/32"), 200)])
def test_callbacks_may_be_limited_to_networks(settings: Settings, seeded, redis, networks,
                                              status: int, path: str, form) -> None:
    app = create_app(settings.with_(callback_networks=networks))
    assert app.test_client().post(path, data=form).status_code == status


def test_production_refuses_to_start_with_unsafe_settings(tmp_path) -> None:
    unsafe = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.db", env="production")
    with pytest.raises(ConfigError) as exc:
        create_app(unsafe)
    message = str(exc.value)
    for problem in ("CALLBACK_SECRET", "REDIS_URL", "DATABASE_URL", "SECRET_KEY"):
        assert problem in message


@pytest.mark.parametrize("command", [["worker", "--burst"], ["scheduler"], ["up", "--no-demo"]])
def test_every_process_refuses_unsafe_production_settings(tmp_path, command) -> None:
    """The worker, the scheduler and `mijuntos up` check as the web app does, before they
    start anything (`up` would otherwise hand its embedded Redis to the others as REDIS_URL)."""
    from click.testing import CliRunner

    from mijuntos.cli import main

    env = {"MIJUNTOS_ENV": "production", "MIJUNTOS_VAR_DIR": str(tmp_path / "var"), "REDIS_URL": None,
           "DATABASE_URL": None, "SECRET_KEY": None, "CALLBACK_SECRET": None, "AT_API_KEY": None}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1, result.output
    assert "production settings" in result.output and "REDIS_URL" in result.output
    assert ("AT_API_KEY" in result.output) is (command[0] != "scheduler")
    assert not (tmp_path / "var" / "redis").exists()  # nothing was started
    # with every setting given, the check lets it start (only the scheduler is cheap to try)
    safe = {**env, "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "k", "CALLBACK_SECRET": "c",
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none", "AT_API_KEY": "a"}
    result = CliRunner().invoke(main, command, env=safe)
    assert "production settings" not in result.output


def test_production_starts_with_safe_settings(settings: Settings, redis) -> None:
    if settings.database_url.startswith("sqlite"):
        settings = settings.with_(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    safe = settings.with_(env="production", callback_secret="k", secret_key="real-secret")
    app = create_app(safe)
    assert app.test_client().post("/ussd?key=k", data=HOP).status_code == 200


@pytest.mark.parametrize("path, form", [CALLBACKS[0], CALLBACKS[4]])
def test_behind_a_trusted_balancer_the_network_list_sees_the_aggregator(
    settings: Settings, seeded, redis, path: str, form
) -> None:
    """TRUSTED_PROXIES: the client address comes from the balancer's X-Forwarded-For; without
    it the header is ignored (anyone could write it)."""
    behind = create_app(settings.with_(callback_networks=("10.0.0.0/8",), trusted_proxies=1)).test_client()
    assert behind.post(path, data=form, headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 200
    assert behind.post(path, data=form, headers={"X-Forwarded-For": "8.8.8.8"}).status_code == 403
    direct = create_app(settings.with_(callback_networks=("10.0.0.0/8",))).test_client()
    assert direct.post(path, data=form, headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 403


def test_the_staff_cookie_is_secure_and_same_site_in_production(settings: Settings, redis) -> None:
    if settings.database_url.startswith("sqlite"):
        settings = settings.with_(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    app = create_app(settings.with_(env="production", callback_secret="k", secret_key="real-secret"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["SESSION_COOKIE_HTTPONLY"]


@pytest.mark.parametrize("command", [["worker"], ["worker", "--burst"], ["scheduler"]])
def test_a_worker_or_scheduler_that_cannot_reach_redis_at_start_says_so(tmp_path, command) -> None:
    """Once running they outlive a lost Redis (mijuntos/keepalive.py); at start, an unreachable
    one is a wrong REDIS_URL or a start too soon, told at once (exit status 1), password masked."""
    from click.testing import CliRunner

    from mijuntos.cli import main

    env = {"MIJUNTOS_ENV": "development", "MIJUNTOS_VAR_DIR": str(tmp_path / "var"),
           "REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1, result.output
    assert "REDIS_URL: Redis does not answer at redis://***@127.0.0.1:1/0" in result.output
    assert "hunter2" not in result.output
