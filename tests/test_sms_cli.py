"""`mijuntos sms` texts a running server and prints the reply the phone gets, or says why not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from click.testing import CliRunner
from flask import Flask
from mijuntos_dev.fake_at import FakeAT
from sqlalchemy import select
from werkzeug.serving import make_server

from core.settings import Settings
from gateway.app import create_app
from mijuntos.cli import main
from models import Database, OutboxMessage, OutboxStatus
from tests.support import ROSA_PHONE
from workers.context import configure
from workers.jobs import send_outbox


@pytest.fixture
def server(settings: Settings, seeded: Database, redis: redis_lib.Redis) -> Iterator[tuple[str, Settings]]:
    holder: dict[str, Flask] = {}

    def wsgi(environ, start_response):  # the app is built once the stand-in's URL is known
        return holder["app"].wsgi_app(environ, start_response)

    web = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{web.server_port}"
    with FakeAT.running(callback_url=f"{base}/sms/delivery", dlr_delay=0.05) as fake:
        configured = settings.with_(at_base_url=fake.root_url, at_api_key="test-key")
        holder["app"] = create_app(configured)
        yield f"{base}/sms/inbound", configured
        holder["app"].extensions["mijuntos"].close()
    web.shutdown()


def _worker(settings: Settings, db: Database, stop: threading.Event) -> None:
    """What the rq worker does with a reply: send each pending one through the stand-in."""
    configure(settings)
    while not stop.is_set():
        with db.session() as s:
            ids = list(s.scalars(select(OutboxMessage.id)
                                .where(OutboxMessage.status == OutboxStatus.PENDING)))
        for message_id in ids:
            send_outbox(message_id)
        time.sleep(0.05)


def _text(url: str, db: Database, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sms", "--from", ROSA_PHONE, "--url", url, *args],
                                env={"DATABASE_URL": db.url})
    return result.exit_code, result.output


def test_sms_prints_the_reply_the_phone_gets(server: tuple[str, Settings], seeded: Database) -> None:
    url, settings = server
    stop = threading.Event()
    worker = threading.Thread(target=_worker, args=(settings, seeded, stop), daemon=True)
    worker.start()
    try:
        code, output = _text(url, seeded, "PAGO")
    finally:
        stop.set()
        worker.join(5)
    assert code == 0, output
    assert "reply from 1880 (delivered):" in output, output
    assert "| Mi Juntos: pago" in output, output


def test_sms_says_when_no_reply_comes_in_time(server: tuple[str, Settings], seeded: Database) -> None:
    url, _ = server  # no worker: the reply stays pending
    started = time.monotonic()
    code, output = _text(url, seeded, "--wait", "1", "PAGO")
    assert code == 1 and time.monotonic() - started < 10
    assert "no reply within 1 s: it is pending in the outbox (is the worker running?" in output, output
    code, output = _text(url, seeded, "--wait", "0", "PAGO")
    assert code == 0 and "not waiting" in output, output


def test_sms_says_when_it_cannot_see_the_outbox(
    server: tuple[str, Settings], seeded: Database, tmp_path: Path
) -> None:
    url, _ = server
    missing = tmp_path / "elsewhere" / "mijuntos.db"
    result = CliRunner().invoke(main, ["sms", "--from", ROSA_PHONE, "--url", url, "PAGO"],
                                env={"DATABASE_URL": f"sqlite:///{missing}"})
    assert result.exit_code == 1 and f"no database file at {missing}" in result.output, result.output
    assert not missing.exists()  # looking made no empty database
