"""POST /sms/inbound, /sms/delivery and /sms/optout: the Africa's Talking SMS callbacks."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping

from flask import Blueprint, Response, current_app, request

from core.backlog import ParkingFailed, park
from core.privacy import mask_phone
from gateway.effects import record_optout
from gateway.hops import (
    parse_delivery_report,
    parse_inbound_sms,
    parse_optout,
)
from gateway.http import parse_or_400, plain
from gateway.inbound import apply_delivery, handle_inbound
from gateway.services import Services
from models.base import utcnow

log = logging.getLogger("mijuntos.sms")
bp = Blueprint("sms", __name__)


@bp.post("/sms/inbound")
def inbound() -> Response:
    """An SMS from a beneficiary: answer it through the outbox (durable, retried)."""
    sms = parse_or_400(parse_inbound_sms, request.form, "inbound sms", log)
    if isinstance(sms, Response):
        return sms
    services: Services = current_app.extensions["mijuntos"]
    try:
        outcome = handle_inbound(services, sms)
    except Exception:
        log.exception("inbound sms failed id=%s from=%s", sms.id, mask_phone(sms.phone))
        return _park(services, "inbound", request.form)
    log.info("inbound sms id=%s from=%s %s", sms.id, mask_phone(sms.phone), outcome)
    return plain("OK")


def _park(services: Services, kind: str, form: Mapping[str, str]) -> Response:
    """Keep the callback for replay and answer 200; 503 (the aggregator resends) if we cannot."""
    try:
        where = park(services.redis, services.db, kind, dict(form))
    except ParkingFailed:
        log.error("%s callback could not be parked: asking the aggregator to resend", kind)
        return plain("temporarily unavailable", 503)
    log.warning("%s callback parked in %s for replay", kind, where)
    return plain("OK (queued)")


class DeliverySummary:
    """Delivery reports, one DEBUG line each and an INFO line per `window` seconds of them.

    A wave of reminders brings a report per message (hundreds a second): one INFO line each
    buried everything else. The summary keeps what an operator reads them for: how many, by
    status, failures by reason, and how many were applied, ignored (repeated or late) or not
    matched to a sent message yet. Each report, its message id included, is at DEBUG
    (LOG_LEVEL=DEBUG) and on its outbox row. The summary is written `window` seconds after the
    first report it counts (a timer thread), and at exit.
    """

    def __init__(self, window: float = 10.0, logger: logging.Logger = log) -> None:
        self.window = window
        self.log = logger
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.started = 0.0
        self.timer: threading.Timer | None = None

    def add(self, status: str, reason: str | None, outcome: str) -> None:
        with self.lock:
            self.statuses[status] += 1
            if reason:
                self.reasons[reason] += 1
            self.outcomes[outcome] += 1
            if self.timer is None:
                self.started = time.monotonic()
                self.timer = threading.Timer(self.window, self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> str | None:
        """Write the summary of the reports counted since the last one; the line, or None."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            total = sum(self.statuses.values())
            if not total:
                return None
            statuses = ", ".join(f"{k} {v}" for k, v in self.statuses.most_common())
            reasons = ", ".join(f"{k} {v}" for k, v in self.reasons.most_common())
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
            seconds = time.monotonic() - self.started
            self.statuses, self.reasons, self.outcomes = Counter(), Counter(), Counter()
        line = (f"delivery reports: {total} in {seconds:.0f} s ({statuses}"
                + (f"; failures: {reasons}" if reasons else "") + f"); {outcomes}")
        self.log.info("%s", line)
        return line


DELIVERIES = DeliverySummary()
atexit.register(DELIVERIES.flush)


@bp.post("/sms/delivery")
def delivery() -> Response:
    """A delivery report; repeated or late reports never undo a final state."""
    form = parse_or_400(parse_delivery_report, request.form, "delivery report", log)
    if isinstance(form, Response):
        return form
    services: Services = current_app.extensions["mijuntos"]
    try:
        outcome = apply_delivery(services, form)
    except Exception:
        log.exception("delivery report failed id=%s", form.message_id)
        return _park(services, "delivery", request.form)
    log.debug("delivery report id=%s status=%s reason=%s network=%s %s", form.message_id,
              form.status, form.failure_reason or "-", form.network_code or "-", outcome)
    DELIVERIES.add(form.status, form.failure_reason, outcome)
    return plain("OK")


@bp.post("/sms/optout")
def optout() -> Response:
    """The aggregator says this phone opted out of bulk SMS."""
    phone = parse_or_400(parse_optout, request.form, "opt-out", log)
    if isinstance(phone, Response):
        return phone
    services: Services = current_app.extensions["mijuntos"]
    try:
        with services.db.session() as session:
            record_optout(session, phone, "aggregator", utcnow())
    except Exception:
        log.exception("opt-out failed phone=%s", mask_phone(phone))
        return _park(services, "optout", request.form)
    log.info("opt-out phone=%s", mask_phone(phone))
    return plain("OK")


