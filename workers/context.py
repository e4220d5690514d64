"""What a job needs (database, provider, Redis), built once per worker process."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from core.connections import redis_client
from core.connections import redis_url as core_redis_url
from core.settings import Settings
from models import Database
from workers.sender import Sender


@dataclass
class WorkerContext:
    settings: Settings
    db: Database
    redis: redis.Redis
    sender: Sender
    redis_url: str


_current: WorkerContext | None = None


def configure(settings: Settings, redis_url: str | None = None) -> WorkerContext:
    """Build the context for this process (the worker command and the tests call this)."""
    global _current
    url = redis_url or core_redis_url(settings)[0]
    _current = WorkerContext(
        settings=settings,
        db=Database(settings.database_url),
        redis=redis_client(url),
        redis_url=url,
        sender=Sender(
            settings.at_username,
            settings.at_api_key,
            settings.at_sender_id,
            settings.at_base_url,
            timeout=(3.05, settings.sms_timeout_seconds),
        ),
    )
    return _current


def current() -> WorkerContext:
    """This process's context, built from the environment on first use."""
    return _current if _current is not None else configure(Settings.from_env())
