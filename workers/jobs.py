"""rq jobs. Each takes ids, re-reads its rows, and is safe to run twice."""

from __future__ import annotations

import datetime as dt
import logging

from rq import get_current_job
from sqlalchemy import select, update

from core.catalogs import catalog_for
from core.delivery_reports import apply_kept
from core.privacy import mask_phone
from models import FINAL, IMMEDIATE, OptOut, OutboxMessage, OutboxStatus, SkipReason
from models.base import utcnow
from workers.context import current
from workers.dispatch import Dispatcher
from workers.planner import plan_reminders, withdraw_opted_out
from workers.queues import enqueue_send, sms_queue
from workers.retention import purge
from workers.sender import ProviderError, RecipientResult

log = logging.getLogger("mijuntos.sms")


class TransientSendError(Exception):
    """The message could not be sent this time; rq retries the job later."""


def send_outbox(message_id: int) -> str:
    """Send one outbox row; its outcome is recorded on the row. Returns the new status."""
    ctx = current()
    with ctx.db.session() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            return "missing"
        if row.status in FINAL or row.status == OutboxStatus.SUBMITTED:
            return row.status  # already done: running twice sends nothing twice
        if row.purpose not in IMMEDIATE and session.scalar(
            select(OptOut.phone).where(OptOut.phone == row.recipient)
        ):
            row.status, row.final_at = OutboxStatus.SKIPPED, utcnow()
            row.failure_reason = SkipReason.OPTED_OUT
            return row.status
        # Taken only if still pending, in one conditional UPDATE: the same reply queued twice
        # (a requeue racing a retry, two schedulers) is sent by one worker, not both; one that
        # is `sending` is in flight elsewhere (the requeue job recovers it if that worker died).
        taken = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENDING, attempts=OutboxMessage.attempts + 1,
                    updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if not int(getattr(taken, "rowcount", 0) or 0):
            return OutboxStatus.SENDING
        text, recipient = row.text, row.recipient
    try:
        result = ctx.sender.send(text, [recipient])[0]
    except (ProviderError, IndexError) as exc:
        maybe_sent = isinstance(exc, ProviderError) and exc.maybe_sent
        return _retry_or_fail(message_id, str(exc) or type(exc).__name__, maybe_sent=maybe_sent)
    return _record(message_id, result)


def _record(message_id: int, result: RecipientResult) -> str:
    ctx = current()
    with ctx.db.session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        row.provider_status_code = result.status_code
        if result.accepted:
            row.status, row.sent_at = OutboxStatus.SUBMITTED, utcnow()
            row.provider_message_id, row.cost = result.message_id, result.cost
            log.info("sms sent id=%s to=%s code=%s", row.id, mask_phone(row.recipient),
                     result.status_code)
        elif not result.transient:
            row.status, row.final_at = OutboxStatus.FAILED, utcnow()
            row.failure_reason = result.status[:64] or str(result.status_code)
            log.warning("sms failed id=%s to=%s code=%s %s", row.id, mask_phone(row.recipient),
                        result.status_code, result.status)
    if result.accepted:
        if result.message_id:
            apply_kept(ctx.db, ctx.redis, result.message_id)
        return OutboxStatus.SUBMITTED
    if not result.transient:
        return OutboxStatus.FAILED
    return _retry_or_fail(message_id, f"statusCode {result.status_code} {result.status}")


def _retry_or_fail(message_id: int, error: str, *, maybe_sent: bool = False) -> str:
    """Put the row back to pending and raise for rq to retry, or fail it when retries are spent.

    `maybe_sent`: the provider may have taken the failed attempt; a retry may send a copy.
    """
    ctx = current()
    job = get_current_job()
    retries_left = bool(job and job.retries_left)
    with ctx.db.session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        row.last_error = error[:200]
        row.dup_risk = row.dup_risk or maybe_sent
        if retries_left:
            row.status = OutboxStatus.PENDING
        else:
            row.status, row.final_at = OutboxStatus.FAILED, utcnow()
            row.failure_reason = "retries_exhausted"
    log.warning("sms attempt failed id=%s retry=%s: %s", message_id, retries_left, error)
    if retries_left:
        raise TransientSendError(error)
    return OutboxStatus.FAILED


def plan_job() -> str:
    """Cron: plan reminders and notices for the active periods (idempotent)."""

    ctx = current()
    report = plan_reminders(ctx.db, catalog_for(ctx.settings), ctx.settings)
    withdrawn = withdraw_opted_out(ctx.db)
    return f"{report.line()}; {withdrawn} withdrawn after opt-out"


def dispatch_job() -> str:
    """Cron: send the reminders and notices that are due, within the send window."""

    return Dispatcher(current()).run().line()


def purge_job() -> str:
    """Cron: purge texts and numbers of messages past the retention period."""

    ctx = current()
    return f"purged {purge(ctx.db, ctx.settings.retention_days)} messages"


def requeue_job(older_than: int = 60) -> str:
    """Cron: queue replies (and phone-change notices) stored while Redis was down, and recover
    those cut off mid-send."""

    ctx = current()
    cutoff = utcnow() - dt.timedelta(seconds=older_than)
    stale = utcnow() - dt.timedelta(seconds=ctx.settings.claim_stale_seconds)
    replies = OutboxMessage.purpose.in_(IMMEDIATE)
    cut_off = (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.updated_at < stale)
    with ctx.db.session() as session:
        waiting = list(session.scalars(
            select(OutboxMessage.id).where(
                replies, OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.updated_at < cutoff,
            ).limit(1000)
        ))
        # Taken back only if still cut off, in one conditional UPDATE: another requeue job (a
        # second scheduler) may have taken it back and a worker be sending it again by now.
        taken_back = session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(
                select(OutboxMessage.id).where(replies, cut_off).limit(1000).scalar_subquery()
            ), cut_off)
            .values(status=OutboxStatus.PENDING, dup_risk=True, updated_at=utcnow(),
                    last_error="cut off mid-send; may have gone out")
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        ids = waiting + list(taken_back)
    queue = sms_queue(ctx.redis)
    for message_id in ids:
        enqueue_send(queue, message_id, ctx.settings)
    return f"requeued {len(ids)} replies"
