"""Inbound SMS, delivery reports and opt-outs, handled: by the callbacks as they arrive, and on
a worker when a parked one is replayed (no Flask here)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import redis
from sqlalchemy.exc import IntegrityError

from core.backlog import replay
from core.delivery_reports import DeliveryReport, apply_kept, apply_report, keep_early_report
from dialogs import Context
from dialogs.gsm import sms_parts
from dialogs.sms import answer, parse_command
from gateway.effects import apply_effects, record_optout
from gateway.facts import DbFacts
from gateway.hops import (
    DeliveryReportForm,
    InboundSms,
    parse_delivery_report,
    parse_inbound_sms,
    parse_optout,
)
from gateway.metrics import count_effects
from gateway.services import Services
from models import InboundSms as InboundRow
from models import OutboxMessage, Purpose
from models.base import utcnow
from workers.api import enqueue_send

log = logging.getLogger("mijuntos.sms")


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
