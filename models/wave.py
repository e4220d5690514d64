"""The reminder funnel of one wave: a period's reminders, notices and change notices, by stage.

The stages are models/funnel.py's, the same as every other funnel. Broadcasts are counted apart
(`broadcast_stages`): they follow an operator's decision, not the payment schedule, and mixed in
they would hide how the wave itself is going.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import funnel
from models.outbox import OutboxMessage
from models.settlement import Settlement

WAVE_KINDS = ("reminder", "notice", "change")


def latest_period(session: Session) -> str | None:
    """The newest settled period: the one the planner's current wave is about."""
    return session.scalar(select(func.max(Settlement.periodo)))


def periods(session: Session) -> list[str]:
    """Settled periods, newest first."""
    return list(session.scalars(select(Settlement.periodo).distinct().order_by(Settlement.periodo.desc())))


def wave_stages(session: Session, periodo: str) -> dict[str, dict[str, int]]:
    """kind (reminder, notice, change) -> stage -> messages, for the wave of `periodo`."""
    found = funnel.stage_counts(session, OutboxMessage.kind, OutboxMessage.periodo == periodo,
                                OutboxMessage.kind.in_(WAVE_KINDS))
    return {kind: found.get(kind, funnel.empty()) for kind in WAVE_KINDS}


def broadcast_stages(session: Session, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """stage -> messages, for broadcasts created in [since, until)."""
    found = funnel.stage_counts(session, OutboxMessage.kind, OutboxMessage.kind == "broadcast",
                                OutboxMessage.created_at >= since, OutboxMessage.created_at < until)
    return found.get("broadcast", funnel.empty())
