"""A hop answers within its own deadline (HOP_DEADLINE_MS) even when a lock holds its rows: the
polite END, nothing half-written, and the same hop answered normally once the lock is gone."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import redis as redis_lib
from flask import Flask
from sqlalchemy import text

from core.settings import Settings
from gateway.app import create_app
from models import Database, Household
from tests.support import ROSA, ROSA_PHONE, Phone

POLITE = "END Lo sentimos, el servicio no esta disponible ahora"
DEADLINE_MS = 600


@pytest.fixture
def quick(settings: Settings, seeded: Database) -> Iterator[Flask]:
    app = create_app(settings.with_(hop_deadline_ms=DEADLINE_MS))
    yield app
    app.extensions["mijuntos"].close()


def language(db: Database) -> str:
    with db.session() as s:
        found = s.get(Household, ROSA["hogar_id"])
        assert found is not None
        return found.idioma


def timed(phone: Phone, value: str) -> tuple[str, float]:
    started = time.monotonic()
    body = phone.send(value)
    return body, time.monotonic() - started


def test_a_write_blocked_by_a_held_lock_gets_the_polite_end_in_time(
    quick: Flask, seeded: Database, redis: redis_lib.Redis, caplog
) -> None:
    """Rosa changes her language while another transaction holds her household's row (an
    import, say): PostgreSQL's lock_timeout, SQLite's busy timeout, bounded by the deadline."""
    phone = Phone(quick.test_client(), ROSA_PHONE, redis=redis)
    assert "Hola Rosa" in phone.dial()
    phone.send("5")
    with seeded.engine.connect() as holder:
        holder.exec_driver_sql("BEGIN" if seeded.engine.dialect.name == "postgresql"
                               else "BEGIN IMMEDIATE")
        holder.execute(text("UPDATE household SET updated_at = updated_at WHERE hogar_id = :h"),
                       {"h": ROSA["hogar_id"]})
        with caplog.at_level(logging.WARNING, logger="mijuntos.ussd"):
            body, took = timed(phone, "2")
        holder.rollback()
    assert body.startswith(POLITE), body
    assert took < DEADLINE_MS / 1000 + 1.0, took  # its own deadline, far from the aggregator's
    assert "over its deadline" in caplog.text
    assert language(seeded) == "es"  # nothing half-written
    # The lock gone, the aggregator's resend of the same hop (same sessionId and text) answers.
    assert "Idioma guardado" in phone.resend()
    assert language(seeded) == "qu"


def test_a_read_blocked_by_a_table_lock_gets_the_polite_end_in_time(
    quick: Flask, seeded: Database, redis: redis_lib.Redis
) -> None:
    if seeded.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's readers are never blocked by a writer (WAL)")
    phone = Phone(quick.test_client(), ROSA_PHONE, redis=redis)
    with seeded.engine.connect() as holder:
        holder.exec_driver_sql("BEGIN")
        holder.exec_driver_sql("LOCK TABLE household IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        body = phone.dial()
        took = time.monotonic() - started
        holder.rollback()
    assert body.startswith(POLITE), body
    assert took < DEADLINE_MS / 1000 + 1.0, took
    assert "Hola Rosa" in Phone(quick.test_client(), ROSA_PHONE, redis=redis).dial()


def test_the_deadline_is_a_setting_checked_at_start() -> None:
    from core.errors import SettingsError

    assert Settings.from_env({"HOP_DEADLINE_MS": "1500"}).hop_deadline_ms == 1500
    assert Settings.from_env({}).hop_deadline_ms == 2000
    with pytest.raises(SettingsError, match="HOP_DEADLINE_MS"):
        Settings.from_env({"HOP_DEADLINE_MS": "50"})
