"""The rq queue the web and the scheduler put work on, and how a send is queued."""

from __future__ import annotations

import redis
from rq import Queue, Retry

from core.settings import Settings

SMS_QUEUE = "sms"
SEND_JOB = "workers.jobs.send_outbox"  # by name: queueing a send needs none of the job's code


def sms_queue(connection: redis.Redis) -> Queue:
    return Queue(SMS_QUEUE, connection=connection)


def enqueue_send(queue: Queue, message_id: int, settings: Settings) -> None:
    """Queue the job that sends outbox row `message_id` (after the row is committed)."""
    intervals = list(settings.sms_retry_intervals) or [0]
    queue.enqueue(
        SEND_JOB,
        message_id,
        job_id=f"sms-{message_id}",
        retry=Retry(max=settings.sms_max_retries, interval=intervals),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
