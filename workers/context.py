"""What a job needs (database, provider, Redis), built once per worker process."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq import Queue, Retry

from gateway.config import Settings
from gateway.services import SMS_QUEUE, redis_client
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
    _current = WorkerContext(
        settings=settings,
        db=Database(settings.database_url),
        redis=redis_client(redis_url or settings.redis_url),
        redis_url=redis_url or settings.redis_url,
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


def sms_queue(connection: redis.Redis) -> Queue:
    return Queue(SMS_QUEUE, connection=connection)


def enqueue_send(queue: Queue, message_id: int, settings: Settings) -> None:
    """Queue the job that sends outbox row `message_id` (after the row is committed)."""
    from workers.jobs import send_outbox

    intervals = list(settings.sms_retry_intervals) or [0]
    queue.enqueue(
        send_outbox,
        message_id,
        job_id=f"sms-{message_id}",
        retry=Retry(max=settings.sms_max_retries, interval=intervals),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
