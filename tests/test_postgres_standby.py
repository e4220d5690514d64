"""PostgreSQL with a streaming standby, on the real engine: a primary and a standby made with
pg_basebackup on other ports, the service on a libpq multi-host URL with
`target_session_attrs=read-write`. The primary is stopped hard mid-session and the standby
promoted: callers get the polite END meanwhile, never a 5xx; an inbound SMS is parked and
replayed; then the service is whole again (reads and writes) without restarting anything."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from mijuntos_dev.ha import PostgresPair, free_port, postgres_available
from sqlalchemy import select

from core.backlog import REDIS_KEY
from core.settings import Settings
from gateway.app import create_app
from gateway.inbound import replay_parked
from models import Database, Household, OutboxMessage
from tests.support import JUANA, ROSA, ROSA_PHONE, STRANGER_PHONE, TEST_TODAY, Phone, seed

POLITE = "END Lo sentimos"


@pytest.fixture
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresPair]:
    if not postgres_available():
        pytest.skip("needs PostgreSQL's server binaries and root (to run them as postgres)")
    # Not under pytest's tmp_path: the postgres user must reach it, and its socket path stay short.
    root = Path("/tmp") / f"mijuntos-pgha-{os.getpid()}-{free_port()}"
    found = PostgresPair(root)
    try:
        found.create()
        yield found
    finally:
        found.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_standby_promoted_under_a_session_takes_over(
    pair: PostgresPair, redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    db = Database(pair.url)
    db.upgrade()
    seed(db)
    db.dispose()
    settings = Settings(var_dir=tmp_path / "var", database_url=pair.url, redis_url=redis_url,
                        secret_key="test-secret", today=TEST_TODAY)
    app = create_app(settings)
    try:
        phone = Phone(app.test_client(), ROSA_PHONE)
        assert "Hola Rosa" in phone.dial()
        pair.stop_primary()  # the primary's machine is gone
        stopped = time.monotonic()
        down = Phone(app.test_client(), ROSA_PHONE).dial()
        assert down.startswith(POLITE), down  # answered (200, Phone checks), politely
        # An inbound SMS meanwhile is parked, not lost.
        parked = app.test_client().post("/sms/inbound", data={
            "id": "ha-1", "from": STRANGER_PHONE, "text": f"{JUANA['dni']} {JUANA['dob']}"})
        assert parked.status_code == 200 and redis.llen(REDIS_KEY) == 1
        pair.promote()
        promoted = time.monotonic() - stopped
        answers = []
        while time.monotonic() - stopped < 30:
            body = Phone(app.test_client(), ROSA_PHONE).dial()
            answers.append(body)
            if "Hola Rosa" in body:
                break
            assert body.startswith(POLITE), body
            time.sleep(0.2)
        whole = time.monotonic() - stopped
        assert "Hola Rosa" in answers[-1] and whole < 20, (whole, answers[-2:])
        # Writes go to the promoted standby: a language changed and read back.
        phone = Phone(app.test_client(), ROSA_PHONE)
        phone.dial()
        phone.send("5")
        assert "Idioma guardado" in phone.send("2")
        assert replay_parked(app.extensions["mijuntos"]) == 1
    finally:
        app.extensions["mijuntos"].close()
    db.dispose()  # its pool held connections to the stopped primary
    with db.session() as s:
        assert s.get(Household, ROSA["hogar_id"]).idioma == "qu"  # type: ignore[union-attr]
        replies = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "reply:ha-1")).all()
        assert len(replies) == 1 and replies[0].recipient == STRANGER_PHONE
    db.dispose()
    print(f"promotion: standby promoted {promoted:.1f} s after the primary stopped, whole again "
          f"after {whole:.1f} s ({len(answers)} dials after the promotion)")
