"""Connections every process opens: Redis (a server, or the embedded one for development).

The choice "REDIS_URL, else the embedded server under var/redis" is made here and only here.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.embedded import EmbeddedRedis
from core.settings import Settings

log = logging.getLogger("mijuntos")


def embedded_redis_url(var_dir: Path) -> tuple[str, EmbeddedRedis]:
    """Start (or reuse) the embedded redis-server under var/redis; one per directory."""
    directory = var_dir.resolve() / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    server = EmbeddedRedis(directory)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # gunicorn workers may all try at once
        url = server.start()
    return url, server


def redis_url(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """The Redis to use: REDIS_URL, else the embedded server (started if none answers).

    The embedded server is returned when this process started or reused it; production refuses
    to start without REDIS_URL (`core.settings.check_production`).
    """
    if settings.redis_url:
        return settings.redis_url, None
    url, server = embedded_redis_url(settings.var_dir)
    log.info("no REDIS_URL: using the embedded redis-server at %s", url)
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


def limits_url(url: str) -> str:
    """The `limits` storage URL for a redis-py URL (unix sockets are spelled differently)."""
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url
