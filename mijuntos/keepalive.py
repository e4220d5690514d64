"""The worker and the scheduler outlive a Redis failover.

rq's worker and its cron scheduler quit when their Redis connection drops under them (a job's
status read mid-job, a heartbeat): rq leaves starting them again to a supervisor. On payment day
that would leave no worker and no scheduler after a Sentinel failover until someone noticed. So
`mijuntos worker` and `mijuntos scheduler` start theirs again themselves, after a short pause,
until they are asked to stop (SIGTERM or SIGINT): the new one's connections ask the Sentinels for
the new primary. A stop asked while one runs is rq's own (a warm shutdown for a worker).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger("mijuntos.keepalive")
REDIS_LOST = (redis.ConnectionError, redis.TimeoutError)
PAUSES = (1.0, 2.0, 5.0)  # before the 1st, 2nd and every later new start in a row
STEADY = 60.0  # a run that lasted this long resets the pauses


def keep_running(run: Callable[[], bool], what: str, pauses: tuple[float, ...] = PAUSES) -> int:
    """Call `run` until it says it stopped on request (True); how many times it was started again.

    `run` returning False (rq quit by itself) or raising a lost-Redis error means: start again.
    Any other exception is a fault of ours and propagates.
    """
    stopping = threading.Event()
    restarts = 0
    in_a_row = 0
    while True:
        started = time.monotonic()
        try:
            if run():
                return restarts
            reason = "it quit"
        except REDIS_LOST as exc:
            reason = f"Redis lost ({type(exc).__name__})"
        if time.monotonic() - started >= STEADY:
            in_a_row = 0
        pause = pauses[min(in_a_row, len(pauses) - 1)]
        in_a_row += 1
        restarts += 1
        log.warning("%s: %s; starting it again in %.0f s", what, reason, pause)
        if _wait_unless_stopped(stopping, pause):
            log.info("%s: stopped on request", what)
            return restarts


def _wait_unless_stopped(stopping: threading.Event, seconds: float) -> bool:
    """Sleep `seconds`, or less if SIGTERM or SIGINT comes; True if one came."""
    def stop(_signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return stopping.wait(seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
