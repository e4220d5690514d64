"""`mijuntos scheduler`: rq's own cron scheduler, enqueuing planning and dispatch jobs."""

from __future__ import annotations

from typing import Any

import click
from rq.cron import CronScheduler

from core.connections import redis_client, redis_url
from core.logs import configure_logging
from core.settings import Settings
from gateway.replay import replay_job
from mijuntos.keepalive import REDIS_LOST, keep_running
from mijuntos.startup import check_production_or_exit, reach_redis_or_exit
from workers.jobs import dispatch_job, plan_job, purge_job, requeue_job
from workers.queues import SMS_QUEUE
from workers.usage import usage_job


class _Cron(CronScheduler):
    """rq's cron scheduler, remembering a stop asked by a signal."""

    stop_asked = False

    def _request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_asked = True
        super()._request_stop(signum, frame)


def build_scheduler(connection: object, plan_every: int, dispatch_every: int) -> CronScheduler:
    """The cron jobs: plan every `plan_every` seconds, dispatch every `dispatch_every`."""
    scheduler = _Cron(connection=connection)  # type: ignore[arg-type]
    scheduler.register(plan_job, SMS_QUEUE, interval=plan_every, job_timeout=1800,
                       name="plan-reminders")
    scheduler.register(dispatch_job, SMS_QUEUE, interval=dispatch_every, job_timeout=600,
                       name="dispatch-reminders")
    scheduler.register(replay_job, SMS_QUEUE, interval=60, job_timeout=600, name="replay-parked")
    scheduler.register(requeue_job, SMS_QUEUE, interval=60, job_timeout=300, name="requeue-replies")
    scheduler.register(usage_job, SMS_QUEUE, interval=60, job_timeout=300, name="move-usage-records")
    scheduler.register(purge_job, SMS_QUEUE, cron="17 3 * * *", job_timeout=3600,
                       name="purge-old-messages")  # daily, 03:17 UTC
    return scheduler


@click.command("scheduler")
@click.option("--plan-every", default=600, show_default=True, help="seconds between plannings")
@click.option("--dispatch-every", default=30, show_default=True, help="seconds between dispatches")
def scheduler_command(plan_every: int, dispatch_every: int) -> None:
    """Run rq's cron scheduler for reminders (the Procfile's `scheduler` process)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    check_production_or_exit(settings)
    url, _ = redis_url(settings)
    connection = redis_client(url, blocking=True)
    reach_redis_or_exit(connection, url)

    def run() -> bool:
        scheduler = build_scheduler(connection, plan_every, dispatch_every)
        try:
            scheduler.start()  # returns once a signal asked it to stop
        except REDIS_LOST:
            if isinstance(scheduler, _Cron) and scheduler.stop_asked:
                return True  # Redis lost while it said goodbye: stopped all the same
            raise
        return True

    keep_running(run, "scheduler")

