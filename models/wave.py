"""The reminder funnel of one wave: a period's reminders, notices and change notices, by state.

Broadcasts are counted apart (`broadcast_stages`): they follow an operator's decision, not the
payment schedule, and mixed in they would hide how the wave itself is going.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.outbox import OutboxMessage, OutboxStatus, SkipReason
from models.settlement import Settlement

WAVE_KINDS = ("reminder", "notice", "change")
# Each row is in "planned" and in exactly one of the others.
STAGES = ("planned", "waiting", "submitted", "delivered", "failed", "opted_out", "withdrawn")


def latest_period(session: Session) -> str | None:
    """The newest settled period: the one the planner's current wave is about."""
    return session.scalar(select(func.max(Settlement.periodo)))


def periods(session: Session) -> list[str]:
    """Settled periods, newest first."""
    return list(session.scalars(select(Settlement.periodo).distinct().order_by(Settlement.periodo.desc())))


def stage_of(status: str, reason: str | None) -> str:
    """Where a row of `status` (and failure reason) stands in the funnel."""
    if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return "waiting"
    if status == OutboxStatus.SKIPPED:
        return "opted_out" if reason == "opted_out" else "withdrawn"
    if status == OutboxStatus.SUBMITTED:
        return "submitted"
    return "delivered" if status == OutboxStatus.DELIVERED else "failed"


def _tally(rows: Iterable[Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind, status, reason, count in rows:
        stages = out.setdefault(kind, dict.fromkeys(STAGES, 0))
        if status == OutboxStatus.SKIPPED and reason == SkipReason.MERGED:
            continue  # carried by another household's SMS to the same phone: not a message
        stages["planned"] += count
        stages[stage_of(status, reason)] += count
    return out


def wave_stages(session: Session, periodo: str) -> dict[str, dict[str, int]]:
    """kind (reminder, notice, change) -> stage -> messages, for the wave of `periodo`."""
    found = _tally(session.execute(
        select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.failure_reason, func.count())
        .where(OutboxMessage.periodo == periodo, OutboxMessage.kind.in_(WAVE_KINDS))
        .group_by(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.failure_reason)
    ))
    return {kind: found.get(kind, dict.fromkeys(STAGES, 0)) for kind in WAVE_KINDS}


def broadcast_stages(session: Session, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """stage -> messages, for broadcasts created in [since, until)."""
    found = _tally(session.execute(
        select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.failure_reason, func.count())
        .where(OutboxMessage.kind == "broadcast", OutboxMessage.created_at >= since,
               OutboxMessage.created_at < until)
        .group_by(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.failure_reason)
    ))
    return found.get("broadcast", dict.fromkeys(STAGES, 0))
