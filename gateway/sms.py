"""POST /sms/inbound, /sms/delivery and /sms/optout: the Africa's Talking SMS callbacks."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError

from dialogs import Context
from dialogs.gsm import sms_parts
from dialogs.sms import answer, parse_command
from gateway.backlog import ParkingFailed, park, replay
from gateway.effects import apply_effects, record_optout
from gateway.facts import DbFacts
from gateway.hops import (
    DeliveryReportForm,
    InboundSms,
    parse_delivery_report,
    parse_inbound_sms,
    parse_optout,
)
from gateway.http import parse_or_400, plain
from gateway.ops import count_effects
from gateway.privacy import mask_phone
from gateway.services import Services
from models import InboundSms as InboundRow
from models import OutboxMessage, Purpose
from models.base import utcnow
from workers.context import enqueue_send
from workers.delivery import DeliveryReport, apply_kept, apply_report, keep_early_report

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


def replay_parked(services: Services) -> int:
    """Replay callbacks parked during an outage (the scheduler runs this every minute)."""
    return replay(services.redis, services.db, lambda kind, form: handle_parked(services, kind, form))


def handle_parked(services: Services, kind: str, form: Mapping[str, str]) -> None:
    if kind == "inbound":
        handle_inbound(services, parse_inbound_sms(form))
    elif kind == "delivery":
        apply_delivery(services, parse_delivery_report(form))
    elif kind == "optout":
        with services.db.session() as session:
            record_optout(session, parse_optout(form), "aggregator", utcnow())


def sms_context(services: Services, phone: str) -> Context:
    settings = services.settings
    return Context(
        phone=phone,
        secret=settings.secret_key,
        helpline=settings.helpline,
        service_code=settings.service_code,
        max_dob_attempts=settings.dob_max_attempts,
        lock_minutes=settings.dob_lock_seconds // 60,
        today=settings.local_today(),
        channel="sms",
    )


def handle_inbound(services: Services, sms: InboundSms) -> str:
    """Answer one inbound SMS once: the reply is an outbox row, committed, then queued."""
    store = services.store
    command = parse_command(sms.text)
    with services.db.session() as session:
        if session.get(InboundRow, sms.id) is not None:
            return "repeated"
        reply = answer(command, sms_context(services, sms.phone),
                       DbFacts(session.connection, store, services.guard), services.catalog)
        encoding, segments = sms_parts(reply.text)
        row = OutboxMessage(
            recipient=sms.phone, text=reply.text, encoding=encoding, segments=segments,
            purpose=Purpose.REPLY, dedupe_key=f"reply:{sms.id}", hogar_id=reply.hogar_id,
        )
        session.add(InboundRow(id=sms.id, command=command.kind, received_at=utcnow()))
        session.add(row)
        pipe = store.client.pipeline(transaction=True)
        apply_effects(reply.effects, session, store, pipe, "sms", services.guard)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return "repeated"  # the same SMS, handled at the same moment by another worker
        message_id = row.id
    count_effects(reply.effects, "sms")
    try:
        pipe.execute()
        enqueue_send(services.queue, message_id, services.settings)
    except redis.RedisError:
        # The reply is durable; the scheduler's requeue job sends it once Redis is back.
        log.warning("reply %s stored; Redis is down, it is queued later", message_id)
        return f"command={command.kind} reply={message_id} queued-later"
    return f"command={command.kind} reply={message_id}"


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
    log.info("delivery report id=%s status=%s %s", form.message_id, form.status, outcome)
    return plain("OK")


def apply_delivery(services: Services, form: DeliveryReportForm) -> str:
    report = DeliveryReport(form.message_id, form.status, form.network_code, form.failure_reason)
    with services.db.session() as session:
        outcome = apply_report(session, report)
    if outcome == "unknown":
        keep_early_report(services.redis, report)
        # The send may have recorded the id and looked for kept reports in between.
        if apply_kept(services.db, services.redis, report.message_id):
            outcome = "applied"
    return outcome


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


__all__ = ["bp", "handle_inbound"]
