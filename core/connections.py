"""Connections every process opens: Redis (a server, Sentinel-managed, or the embedded one).

The choice "REDIS_URL, else the embedded server under var/redis" is made here and only here, and
so is the client for a `redis+sentinel://` URL: redis-py's Sentinel-managed connections, which
find the current primary through the Sentinels and follow a failover (docs/OPERATIONS.md).
"""

from __future__ import annotations

import fcntl
import inspect
import logging
import secrets
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from core.embedded import EmbeddedRedis
from core.keys import DATA_GENERATION
from core.redis_urls import SENTINEL_SCHEME, parse_sentinel_url
from core.settings import Settings

log = logging.getLogger("mijuntos")


def _embedded(var_dir: Path) -> EmbeddedRedis:
    """The embedded redis-server of `var_dir` (var/redis), not started."""
    return EmbeddedRedis(var_dir.resolve() / "redis")


def embedded_redis_url(var_dir: Path) -> tuple[str, EmbeddedRedis]:
    """Start (or reuse) the embedded redis-server under var/redis; one per directory."""
    server = _embedded(var_dir)
    directory = server.directory
    directory.mkdir(parents=True, exist_ok=True)
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


# A caller must get an answer even when Redis is down: no retries, short timeouts (a retry with
# backoff would spend her few seconds waiting).
_QUICK: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5,
                          "retry": Retry(NoBackoff(), 0), "retry_on_timeout": False}


def redis_client(url: str, *, blocking: bool = False) -> redis.Redis:
    """A client for REDIS_URL that gives up quickly; `blocking`: one that may wait on a queue (an
    rq worker's, the scheduler's), with no socket timeout. A `redis+sentinel://` URL gives a
    Sentinel-managed client: every new connection asks the Sentinels for the current primary,
    and one that finds a replica (after a failover) is dropped and made again."""
    options: dict[str, Any] = {} if blocking else dict(_QUICK)
    if not url.startswith(SENTINEL_SCHEME + "://"):
        return redis.Redis.from_url(url, **options)
    target = parse_sentinel_url(url)
    auth: dict[str, Any] = {"password": target.password} if target.password else {}
    sentinel = Sentinel(list(target.sentinels),
                        sentinel_kwargs={"socket_timeout": 0.5, "socket_connect_timeout": 0.5, **auth},
                        **auth, **options)
    return sentinel.master_for(target.service, connection_class=_SentinelConnection, **options)


class _SentinelConnection(SentinelManagedConnection):
    """redis-py's Sentinel-managed connection, dropped when a read is cut short.

    redis-py's own keeps the connection after an error or a signal in mid-read (its
    `disconnect_on_error` defaults to False there, True for a plain connection). A worker asked to
    stop while it waited on the queue (BLMOVE) then gave that connection back to the pool with the
    server still blocked on it, and its next command waited behind the blocking one: minutes.
    """

    def read_response(  # type: ignore[override]  # redis-py 5 lacks some of 8's keywords
        self, disable_decoding: bool = False, *, disconnect_on_error: bool = True, **kwargs: Any
    ) -> Any:
        # Only the keywords this redis-py's own method takes: 5.0's has no `push_request`,
        # which its pubsub passes all the same (rq's pubsub thread then died of a TypeError).
        given = {k: v for k, v in kwargs.items() if k in _PARENT_KEYWORDS}
        return super().read_response(disable_decoding, disconnect_on_error=disconnect_on_error,
                                     **given)


_PARENT_KEYWORDS = frozenset(inspect.signature(SentinelManagedConnection.read_response).parameters)


def limits_url(url: str) -> str:
    """The `limits` storage URL for a redis-py URL (unix sockets are spelled differently; a
    Sentinel URL is the same in both)."""
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url


def announce_data_change(settings: Settings) -> str | None:
    """Tell the web processes that an import wrote rows: a new DATA_GENERATION token, which
    the next hop of every worker reads in its MGET (gateway/facts.py: ImportedFacts).

    None when told; else why not, for the import to say (the web's copies then lapse within
    FACTS_MAX_AGE). Without REDIS_URL, the embedded server is told only if it is running: a web
    started later reads everything afresh.
    """
    url = settings.redis_url
    if not url:
        server = _embedded(settings.var_dir)
        if not server.answering():
            return None
        url = server.url
    client = redis_client(url)
    try:
        client.set(DATA_GENERATION, secrets.token_hex(8))
        return None
    except redis.RedisError as exc:
        return f"Redis unreachable ({type(exc).__name__})"
    finally:
        client.close()

