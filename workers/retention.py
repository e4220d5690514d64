"""Retention: sent messages keep their text and number only as long as operations need them."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select, update

from core import backlog
from core.privacy import mask_phone
from models import Database, InboundSms, OutboxMessage, OutboxStatus, ParkedCallback
from models.base import utcnow

log = logging.getLogger("mijuntos.retention")
PURGED = "[texto eliminado]"
DONE = (OutboxStatus.SUBMITTED, OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.SKIPPED)
PAGE = 5000


def purge(db: Database, days: int, now: dt.datetime | None = None) -> int:
    """Mask the number and drop the text of messages older than `days`; returns how many."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=days)
    total = 0
    while True:
        with db.session() as s:
            rows = s.execute(
                select(OutboxMessage.id, OutboxMessage.recipient)
                .where(OutboxMessage.created_at < cutoff, OutboxMessage.status.in_(DONE),
                       OutboxMessage.text != PURGED)
                .limit(PAGE)
            ).all()
            if not rows:
                break
            s.execute(update(OutboxMessage), [
                {"id": r.id, "recipient": mask_phone(r.recipient)[:16], "text": PURGED} for r in rows
            ])
            total += len(rows)
    with db.session() as s:
        s.execute(delete(InboundSms).where(InboundSms.received_at < cutoff))
        # Parked callbacks hold what was typed (maybe a DNI and a date of birth): replayed within
        # minutes, or set aside as unreplayable; either way gone after a week, as in Redis.
        parked_cutoff = now - dt.timedelta(seconds=backlog.KEEP)
        gone = s.execute(delete(ParkedCallback).where(ParkedCallback.created_at < parked_cutoff))
        dropped = int(getattr(gone, "rowcount", 0) or 0)
        if dropped:
            log.warning("retention: dropped %s parked callbacks older than a week", dropped)
    if total:
        log.info("retention: purged %s messages older than %s days", total, days)
    return total
