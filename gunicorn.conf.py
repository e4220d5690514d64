"""gunicorn's settings for the web process (the Procfile's `web`, and `mijuntos up`).

Metrics: each worker is its own process, so prometheus-client's multiprocess mode is what makes
/metrics show the whole server rather than whichever worker answers the scrape. It needs
PROMETHEUS_MULTIPROC_DIR set before any worker imports the app: an operator's directory is used
as given (and its metric files are deleted at start, as the library requires); without one, a
fresh directory is made under the temporary directory for this server and removed when it stops.

Settings: checked here, in the master, before any worker boots: wrong or unsafe settings stop the
server with one line naming the variables (exit status 4, gunicorn's "App failed to load"), not
a message per worker and a race between their exits.

Workers: gthread, each with WEB_THREADS threads (2) and connections kept alive WEB_KEEPALIVE
seconds (75). A hop spends part of its time waiting on Redis and the database, which a second
thread fills; and the balancer in front (Heroku's router, an ALB, nginx with `keepalive`) keeps
its connections to the app open between requests, which a sync worker closes after every one:
with the same code they served 15 % more hops than sync workers at 64 connections, and 2
threads as many as 4 with a p99 a fifth lower at 16 (docs/BENCHMARKS.md "Against the peer").
The keep-alive outlasts a balancer's usual 60 s idle timeout, so the balancer, not gunicorn,
closes an idle connection (no request is sent on a connection the app is closing).
`--worker-class sync` on the command line still wins, as any gunicorn setting does.

Logs: an answered delivery report gets no access line (QuietLogger; the app sums them up).
With LOG_FORMAT=json gunicorn's own lines (start, worker boots and deaths, timeouts) are JSON
objects too, through the app's scrubbing formatter, so every line on stderr parses.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from typing import Any

from gunicorn.glogging import Logger

from core.settings import Settings, SettingsError, check_production, warn_dev_secret

APP_LOAD_ERROR = 4  # gunicorn.arbiter.Arbiter.APP_LOAD_ERROR


def _check_settings() -> Settings:
    try:
        settings = Settings.from_env()
        check_production(settings)
    except SettingsError as exc:
        print(f"mijuntos web: cannot start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(APP_LOAD_ERROR) from None
    warn_dev_secret(settings)  # once, here: the workers forked from this master inherit the mark
    return settings


_SETTINGS = _check_settings()

worker_class = "gthread"
threads = _SETTINGS.web_threads
keepalive = _SETTINGS.web_keepalive_seconds

_OWNER = "MIJUNTOS_METRICS_DIR_OWNER"  # the pid of the master that made the directory
_PREFIX = "mijuntos-metrics-"


def _metrics_dir() -> str:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    owner = os.environ.get(_OWNER, "")
    if given and (not owner or owner == str(os.getpid())):
        return given  # the operator's, or this master's own (the file is read again on HUP)
    # None yet, or one inherited from another master (a USR2 upgrade): never share a directory
    # with a running server, whose workers' files a start would delete.
    made = tempfile.mkdtemp(prefix=_PREFIX)
    os.environ.update(PROMETHEUS_MULTIPROC_DIR=made, **{_OWNER: str(os.getpid())})
    return made


METRICS_DIR = _metrics_dir()


def on_starting(server: Any) -> None:
    """Start from zero: files of a previous run would be summed into this one's counters."""
    os.makedirs(METRICS_DIR, exist_ok=True)
    for path in glob.glob(os.path.join(METRICS_DIR, "*.db")):
        os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges go; its counters stay in the sums (they must not go down)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, METRICS_DIR)


def on_exit(server: Any) -> None:
    if os.environ.get(_OWNER) == str(os.getpid()):
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


def quiet_access(environ: dict[str, Any], status: object) -> bool:
    """An access line not written: an answered delivery report. A wave of reminders brings
    hundreds a second; the app writes a summary of them (gateway/sms.py DeliverySummary), and a
    refused or failed one (not 2xx) still gets its line."""
    return environ.get("PATH_INFO") == "/sms/delivery" and str(status or "").startswith("2")


class QuietLogger(Logger):
    """gunicorn's logger; its access log (on under `mijuntos up`) without answered delivery reports."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if quiet_access(environ, getattr(resp, "status", None)):
            return
        super().access(resp, req, environ, request_time)


logger_class = QuietLogger

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":

    class JsonLogger(QuietLogger):
        """gunicorn's own lines through the app's scrubbing JSON formatter (same handlers)."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            from core.logs import JsonFormatter

            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    logger_class = JsonLogger
