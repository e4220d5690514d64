"""The service's parts, built once per process from the settings."""

from __future__ import annotations

import fcntl
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from dialogs.texts import Catalog
from gateway.abuse import DniGuard
from gateway.config import DEV_SECRET, Settings
from gateway.embedded import EmbeddedRedis
from gateway.i18n import load_catalog
from gateway.sessions import SessionStore
from models import Database

SMS_QUEUE = "sms"

log = logging.getLogger("mijuntos")


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: redis.Redis
    store: SessionStore
    catalog: Catalog
    queue: Queue
    guard: DniGuard
    embedded: EmbeddedRedis | None = None

    def close(self) -> None:
        self.redis.close()
        self.db.dispose()


def embedded_redis_url(var_dir: Path) -> tuple[str, EmbeddedRedis]:
    """Start (or reuse) the embedded redis-server under var/redis; one per directory."""
    directory = var_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    server = EmbeddedRedis(directory)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # gunicorn workers may all try at once
        url = server.start()
    return url, server


def redis_client(url: str) -> redis.Redis:
    """A client that gives up quickly: a caller must get an answer even when Redis is down."""
    # No retries: a retry with backoff would spend the caller's few seconds waiting.
    return redis.Redis.from_url(
        url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )


@functools.cache
def _warn_dev_secret() -> None:
    """Once a process (a worker's jobs build their services again every minute)."""
    log.warning("SECRET_KEY is not set: using the development key")


def build_services(settings: Settings) -> Services:
    """Every part the web process needs."""
    embedded = None
    url = settings.redis_url
    if not url:
        url, embedded = embedded_redis_url(settings.var_dir)
        log.info("no REDIS_URL: using the embedded redis-server at %s", url)
    if settings.secret_key == DEV_SECRET:
        _warn_dev_secret()
    client = redis_client(url)
    store = SessionStore(
        client,
        session_ttl=settings.session_ttl_seconds,
        resume_ttl=settings.resume_window_seconds,
        lock_ttl=settings.dob_lock_seconds,
    )
    return Services(
        settings=settings,
        # A stuck query must not outlive the aggregator's ~10 s patience with a caller.
        db=Database(settings.database_url, statement_timeout_ms=5000),
        redis=client,
        store=store,
        catalog=load_catalog(),
        queue=Queue(SMS_QUEUE, connection=client),
        guard=DniGuard(client, url, settings.secret_key, settings.max_dnis_per_phone_per_day),
        embedded=embedded,
    )
