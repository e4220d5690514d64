"""Delivery reports: applied in order of finality, whatever order they arrive in."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from core.keys import key_for
from models import FINAL, OutboxMessage, OutboxStatus
from models.base import utcnow

if TYPE_CHECKING:
    import redis

    from models import Database

log = logging.getLogger("mijuntos.sms")

# How far along a message is; a report never moves a message back. Final: Success, Failed,
# Rejected (DOMAIN.md).
RANK = {"Sent": 1, "Submitted": 2, "Buffered": 3, "AbsentSubscriber": 3, "Expired": 3,
        "Success": 9, "Failed": 9, "Rejected": 9}
EARLY_TTL = 3600


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str
    status: str
    network_code: str | None = None
    failure_reason: str | None = None


# A row's provider status as its rank, in SQL: the conditional UPDATE compares it.
_RANK_SQL = case(RANK, value=OutboxMessage.provider_status, else_=0)


def apply_report(session: Session, report: DeliveryReport) -> str:
    """Apply one report to its outbox row: 'applied', 'ignored' (stale or repeated) or 'unknown'.

    One conditional UPDATE, not a read then a write: two reports of one message posted at the
    same moment (Success and Failed, say) cannot both apply. The database checks the row is not
    final and the report not behind it in the same statement that changes it; the second one
    waits for the first's row lock (PostgreSQL) or its write lock (SQLite), then finds the row
    final and changes nothing.
    """
    row_id = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.provider_message_id == report.message_id)
    )
    if row_id is None:
        return "unknown"
    now = utcnow()
    values: dict[str, object] = {"provider_status": report.status, "updated_at": now}
    if report.network_code:
        values["network_code"] = report.network_code
    if report.status == "Success":
        values.update(status=OutboxStatus.DELIVERED, final_at=now)
    elif report.status in ("Failed", "Rejected"):
        values.update(status=OutboxStatus.FAILED, final_at=now,
                      failure_reason=(report.failure_reason or report.status)[:64])
    changed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status.not_in(FINAL),
               _RANK_SQL <= RANK.get(report.status, 0))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return "applied" if changed.rowcount else "ignored"  # type: ignore[attr-defined]


def keep_early_report(client: redis.Redis, report: DeliveryReport) -> None:
    """A report for a message id not recorded yet (the send is still committing): keep it."""
    key = key_for("dlr", report.message_id)
    client.rpush(key, json.dumps(asdict(report)))
    client.expire(key, EARLY_TTL)


def apply_kept(db: Database, client: redis.Redis, message_id: str) -> int:
    """Apply the reports kept for `message_id` if its row is recorded by now; how many.

    Both sides call this: the sender right after it records the id, and the webhook right after
    it keeps a report. Whichever runs last finds both the row and the report, so a report kept
    just after the sender looked is not stranded. Only the items applied are trimmed, after the
    commit: one pushed meanwhile stays for the next call.
    """
    key = key_for("dlr", message_id)
    raw = client.lrange(key, 0, -1)
    if not raw:
        return 0
    with db.session() as session:
        if session.scalar(select(OutboxMessage.id)
                          .where(OutboxMessage.provider_message_id == message_id)) is None:
            return 0
        for item in raw:
            apply_report(session, DeliveryReport(**json.loads(item)))
    client.ltrim(key, len(raw), -1)
    return len(raw)
