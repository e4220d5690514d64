"""For engineers: liveness, readiness and Prometheus metrics; request ids on every log line."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core import backlog
from core.logs import REQUEST_ID
from core.usage_stream import STREAM as USAGE_STREAM
from gateway.metrics import PROCESS_METRICS, observe, request_id
from models import OutboxMessage, schedule_freshness
from models.base import utcnow
from models.outbox import REPORT_HORIZON, REPORT_LATE, report_backlog

if TYPE_CHECKING:
    from gateway.services import Services

log = logging.getLogger("mijuntos.ops")
bp = Blueprint("ops", __name__)

class StateCollector:
    """Read at scrape time: outbox, provider errors, schedule data's age, queue, usage backlog,
    parked callbacks and the delivery reports still awaited.

    Gauges of shared state (the database, Redis), the same whichever worker is scraped, so they
    are computed here rather than kept per process. A part that cannot be read leaves out its
    samples (and logs a warning): an alert then sees no value, never a zero that is not true.
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        services = self.services
        outbox = GaugeMetricFamily("mijuntos_outbox_messages", "Outbox rows by state and kind",
                                   labels=["status", "kind"])
        errors = GaugeMetricFamily("mijuntos_provider_failures", "Failed messages by reason",
                                   labels=["reason"])
        freshness = self._freshness_gauges()
        reports = self._report_gauges()
        parked = GaugeMetricFamily(
            "mijuntos_parked_callbacks",
            "Callbacks parked during an outage, by where they wait (redis, database) and state "
            "(waiting for the replay, or set_aside: they cannot be replayed)",
            labels=["store", "state"])
        try:
            with services.db.session() as s:
                for status, kind, count in s.execute(
                    select(OutboxMessage.status, OutboxMessage.kind, func.count())
                    .group_by(OutboxMessage.status, OutboxMessage.kind)
                ):
                    outbox.add_metric([status, kind or "reply"], count)
                for reason, count in s.execute(
                    select(OutboxMessage.failure_reason, func.count())
                    .where(OutboxMessage.status == "failed").group_by(OutboxMessage.failure_reason)
                ):
                    errors.add_metric([reason or "-"], count)
                self._read_freshness(s, freshness)
                self._read_reports(s, reports)
                in_database = backlog.counts_in_database(s)
            self._add_parked(parked, "database", in_database)
        except Exception:
            log.warning("metrics: database not readable")
        yield outbox
        yield errors
        yield from freshness
        yield from reports
        depth = GaugeMetricFamily("mijuntos_queue_depth", "Jobs waiting in the SMS queue")
        staged = GaugeMetricFamily("mijuntos_usage_backlog",
                                   "Usage records staged in Redis, not yet moved to the database")
        try:
            depth.add_metric([], services.queue.count)
            staged.add_metric([], services.redis.xlen(USAGE_STREAM))
            self._add_parked(parked, "redis", backlog.counts_in_redis(services.redis))
        except Exception:
            log.warning("metrics: Redis not readable")
        yield depth
        yield staged
        yield parked

    @staticmethod
    def _add_parked(parked: GaugeMetricFamily, store: str, counts: dict[str, int]) -> None:
        for state in ("waiting", "set_aside"):  # both, zeros too: an alert tells 0 from unreadable
            parked.add_metric([store, state], counts[state])

    @staticmethod
    def _report_gauges() -> list[GaugeMetricFamily]:
        horizon, late = (int(d.total_seconds()) // 3600 for d in (REPORT_HORIZON, REPORT_LATE))
        return [
            GaugeMetricFamily("mijuntos_outbox_oldest_submitted_seconds",
                              f"Age of the oldest SMS sent in the last {horizon} h that has no final "
                              "delivery report yet (0: none)"),
            GaugeMetricFamily("mijuntos_outbox_submitted_late",
                              f"SMS sent {late} h to {horizon} h ago that have no final delivery "
                              "report yet"),
        ]

    @staticmethod
    def _read_reports(session: Session, gauges: list[GaugeMetricFamily]) -> None:
        """The delivery reports still awaited (docs/DEPLOY.md, MiJuntosDeliveryReportsLate)."""
        now = utcnow()
        waiting = report_backlog(session, now)
        oldest, late = gauges
        age = (now - waiting.oldest_sent_at).total_seconds() if waiting.oldest_sent_at else 0.0
        oldest.add_metric([], max(age, 0.0))  # a web machine's clock a little behind a worker's
        late.add_metric([], waiting.late)

    @staticmethod
    def _freshness_gauges() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("mijuntos_schedule_data_age_seconds",
                              "Seconds since the programme exported the schedule data in use "
                              "(the latest import of cronograma.csv or abonos.csv)"),
            GaugeMetricFamily("mijuntos_schedule_data_exported_timestamp_seconds",
                              "When that export was made (Unix time)"),
            GaugeMetricFamily("mijuntos_schedule_data_stale",
                              "1 when the schedule data is older than DATA_MAX_AGE_DAYS "
                              "(payment screens say 'Datos al DD/MM')"),
        ]

    def _read_freshness(self, session: Session, gauges: list[GaugeMetricFamily]) -> None:
        """The same figures as the dashboard and `mijuntos report` (one function computes them).

        No sample at all before an import has recorded an export time: an alert on
        `absent(...)` tells that apart from fresh data.
        """
        settings = self.services.settings
        fresh = schedule_freshness(session, settings.local_today(), settings.data_max_age_days)
        if fresh.exported_at is None:
            return
        age, exported, stale = gauges
        age.add_metric([], fresh.age_seconds(utcnow()) or 0.0)
        exported.add_metric([], fresh.exported_at.timestamp())
        stale.add_metric([], 1.0 if fresh.stale else 0.0)


def install(app: Flask, services: Services) -> None:
    """Request ids, timing and the ops routes."""

    @app.before_request
    def _start() -> None:
        g.request_id = request_id(request.headers.get("X-Request-Id"))
        g.request_id_token = REQUEST_ID.set(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        observe(route, response.status_code, g.get("started", time.perf_counter()))
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            REQUEST_ID.reset(token)

    app.extensions["mijuntos_state_collector"] = StateCollector(services)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return Response("ok", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: Redis, the database and the queue answer."""
    services: Services = current_app.extensions["mijuntos"]
    checks: dict[str, str] = {}
    try:
        services.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = type(exc).__name__
    try:
        with services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = type(exc).__name__
    try:
        checks["queue"] = f"ok ({services.queue.count} waiting)"
    except Exception as exc:
        checks["queue"] = type(exc).__name__
    ready = all(v.startswith("ok") for v in checks.values())
    body = "\n".join(f"{k}: {v}" for k, v in checks.items())
    return Response(body, status=200 if ready else 503, mimetype="text/plain")


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: every gunicorn worker's counters summed (PROMETHEUS_MULTIPROC_DIR)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:  # one process (the Flask test client, `flask run`): its own counters
        for metric in PROCESS_METRICS:
            registry.register(metric)
    registry.register(current_app.extensions["mijuntos_state_collector"])
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


