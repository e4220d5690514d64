"""`mijuntos worker`: the rq worker (with rq's scheduler, for retries) that sends SMS."""

from __future__ import annotations

from typing import Any

import click
from rq import Worker

from core.connections import redis_client, redis_url
from core.logs import configure_logging
from core.settings import Settings
from mijuntos.keepalive import REDIS_LOST, keep_running
from mijuntos.startup import check_production_or_exit, reach_redis_or_exit
from workers.context import configure
from workers.queues import sms_queue


@click.command("worker")
@click.option("--burst", is_flag=True, help="work until the queues are empty, then exit")
def worker_command(burst: bool) -> None:
    """Run a worker for the SMS queue; REDIS_URL, DATABASE_URL and AT_* from the environment."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    check_production_or_exit(settings, sends_sms=True)
    url, _ = redis_url(settings)
    configure(settings, url)
    # The worker's own connection blocks on the queue: no short socket timeout here.
    connection = redis_client(url, blocking=True)
    reach_redis_or_exit(connection, url)

    def run() -> bool:
        worker = _Worker([sms_queue(connection)], connection=connection)
        try:
            worker.work(with_scheduler=True, burst=burst, logging_level=settings.log_level)
        except REDIS_LOST:
            if worker.stop_asked:
                return True  # Redis lost while it said goodbye: stopped all the same
            raise
        finally:
            worker.let_go_of_pubsub()
        return burst or worker.stop_asked

    if burst:
        run()  # once: a burst that loses Redis fails, as any one-off command does
    else:
        keep_running(run, "worker")


PUBSUB_POLL = 1.0  # seconds; rq's 60 held a stop (or a start again) up to a minute


class _Worker(Worker):
    """rq's worker, remembering a stop asked by a signal (rq's loop also ends on a lost Redis),
    and with a pubsub thread that notices a stop within a second.

    rq listens for its commands (kill a job, stop) in a thread that waits up to 60 s for a
    message; redis-py 8's `stop()` waits for that thread. After a failover the thread is often
    in that wait, so the worker took a minute to honour a SIGTERM (a supervisor kills it
    first) and a run given up on Redis left its thread behind, reading a dead connection.
    """

    stop_asked = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_asked = True
        super().request_stop(signum, frame)

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL, daemon=True,
            exception_handler=self._pubsub_exception_handler)  # type: ignore[assignment]  # rq: None

    def let_go_of_pubsub(self) -> None:
        """Stop the pubsub thread if rq's teardown did not (its loop ended on a lost Redis)."""
        thread = getattr(self, "pubsub_thread", None)
        if thread is not None and thread.is_alive():
            thread.stop()
            thread.join(timeout=5)
