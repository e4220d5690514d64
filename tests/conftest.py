"""Real services for the tests: a real Redis server and real databases (SQLite, PostgreSQL).

- Redis: TEST_REDIS_URL if set (CI points it at the machine's server), else an embedded
  redis-server started for the session under a temporary directory.
- Databases: every `db` test runs on SQLite; it also runs on PostgreSQL when TEST_POSTGRES_URL
  is set. With TEST_POSTGRES_REQUIRED=1 an unreachable PostgreSQL fails the run instead of
  skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis as redis_lib
from sqlalchemy import text

from core.embedded import EmbeddedRedis
from models import Base, Database
from tests.support import TEST_TODAY

if TYPE_CHECKING:
    from flask import Flask

    from core.settings import Settings

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "").strip()
POSTGRES_REQUIRED = os.environ.get("TEST_POSTGRES_REQUIRED", "") == "1"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _db_params() -> list[object]:
    params: list[object] = [pytest.param("sqlite", id="sqlite")]
    if POSTGRES_URL or POSTGRES_REQUIRED:
        params.append(pytest.param("postgresql", id="postgresql"))
    return params


_migrated: dict[str, Database] = {}


def _database(kind: str, tmp_root: Path) -> Database:
    if kind in _migrated:
        return _migrated[kind]
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_root / 'test.db'}")
    else:
        if not POSTGRES_URL:
            pytest.fail("TEST_POSTGRES_REQUIRED=1 but TEST_POSTGRES_URL is not set")
        db = Database(POSTGRES_URL)
        try:
            with db.engine.begin() as conn:
                # Start from nothing, so the migrations themselves are what is tested.
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except Exception as exc:  # pragma: no cover - depends on the machine
            if POSTGRES_REQUIRED:
                raise
            pytest.skip(f"PostgreSQL not reachable: {exc}")
    db.upgrade()
    _migrated[kind] = db
    return db


def truncate_all(db: Database) -> None:
    """Empty every table (children first) without dropping the schema."""
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=_db_params())
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = _database(request.param, tmp_path_factory.getbasetemp())
    truncate_all(database)
    yield database
    database.engine.dispose()


@pytest.fixture
def settings(db: Database, redis_url: str, tmp_path: Path) -> Settings:
    from core.settings import Settings

    return Settings(
        var_dir=tmp_path / "var",
        database_url=db.url,
        redis_url=redis_url,
        secret_key="test-secret",
        today=TEST_TODAY,  # the seed's pay dates are judged against a fixed day, not the calendar
    )


@pytest.fixture
def app(settings: Settings, redis: redis_lib.Redis) -> Iterator[Flask]:
    from gateway.app import create_app

    application = create_app(settings)
    application.testing = True
    yield application
    application.extensions["mijuntos"].close()


@pytest.fixture
def seeded(db: Database) -> Database:
    from tests.support import seed

    seed(db)
    return db


@pytest.fixture(autouse=True)
def _delivery_summary_written() -> Iterator[None]:
    """The delivery-report summary of a test is written while its log capture is open (at exit,
    where the web writes its last one, pytest has closed the stream: a 'Logging error')."""
    yield
    from gateway.sms import DELIVERIES

    DELIVERIES.flush()
