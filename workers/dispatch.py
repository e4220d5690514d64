"""Sending due reminders and notices in bulk: claim a batch, one API call per identical text.

Crash safety: rows are claimed (status `sending`, a batch id, the claim time) and committed
before the API call. A worker killed mid-call leaves them `sending`; the next dispatcher finds
claims older than `claim_stale_seconds`, puts them back to `pending` with `dup_risk` set (the
provider may have sent them) and sends them again. So no reminder is lost, and a duplicate can
reach only a recipient of the batch that was in flight.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, or_, select, update
from tqdm import tqdm

from core.delivery_reports import apply_kept
from core.keys import key_for
from models import Database, OptOut, OutboxMessage, OutboxStatus, ReminderControl, SkipReason
from models.base import utcnow
from workers.context import WorkerContext
from workers.ratelimit import SendRateLimit
from workers.schedule import clock_for
from workers.sender import ProviderError, RecipientResult

log = logging.getLogger("mijuntos.reminders")


@dataclass
class DispatchReport:
    claimed: int = 0
    submitted: int = 0
    failed: int = 0
    retried: int = 0
    expired: int = 0
    reconciled: int = 0
    api_calls: int = 0
    stopped: str = "done"

    def line(self) -> str:
        return (f"dispatch: {self.claimed} claimed, {self.submitted} submitted, {self.failed} failed, "
                f"{self.retried} to retry, {self.expired} too late, {self.reconciled} recovered, "
                f"{self.api_calls} API calls ({self.stopped})")


def is_paused(ctx: WorkerContext) -> bool:
    with ctx.db.session() as s:
        return bool(s.scalar(select(ReminderControl.paused).where(ReminderControl.id == 1)))


def set_paused(db: Database, paused: bool) -> None:
    """Pause or resume sending reminders and notices (replies are never held)."""
    with db.session() as s:
        row = s.get(ReminderControl, 1)
        if row is None:
            s.add(ReminderControl(id=1, paused=paused))
        else:
            row.paused = paused


def reconcile(ctx: WorkerContext, now: dt.datetime) -> int:
    """Claims left by a dead worker go back to pending; rows whose API call had started are
    marked as possibly sent already (the rest of the claim never left)."""
    stale = now - dt.timedelta(seconds=ctx.settings.claim_stale_seconds)
    called = OutboxMessage.call_at.is_not(None)
    with ctx.db.session() as s:
        result = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENDING,
                   OutboxMessage.kind.is_not(None), OutboxMessage.claimed_at < stale)
            .values(status=OutboxStatus.PENDING, dup_risk=or_(OutboxMessage.dup_risk, called),
                    send_after=now, batch_id=None, call_at=None,
                    last_error=case(
                        (called, "claimed by a worker that stopped mid-call; may have gone out"),
                        else_="claimed by a worker that stopped before its call"))
            .execution_options(synchronize_session=False)
        )
        count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.warning("recovered %s reminders from an interrupted batch", count)
    return count


def expire(ctx: WorkerContext, now: dt.datetime) -> int:
    """Reminders whose payment operation has started are not sent any more."""
    with ctx.db.session() as s:
        result = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_after <= now)
            .values(status=OutboxStatus.SKIPPED, failure_reason=SkipReason.OPERATION_STARTED, final_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _due(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """The rows a claim may take now."""
    return (OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.kind.is_not(None),
            OutboxMessage.send_after <= now,
            or_(OutboxMessage.not_after.is_(None), OutboxMessage.not_after > now),
            # An opt-out withdraws its rows when it lands; this holds for any row it missed
            # (the planner's next run marks them skipped).
            ~exists().where(OptOut.phone == OutboxMessage.recipient))


def due_count(ctx: WorkerContext, now: dt.datetime) -> int:
    """How many rows are due now (what a progress bar counts down)."""
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage).where(*_due(now))) or 0)


def claim(ctx: WorkerContext, now: dt.datetime, size: int) -> list[Any]:
    """Take up to `size` due rows for this worker; two workers never take the same row."""
    batch = uuid.uuid4().hex
    due = (
        select(OutboxMessage.id)
        .where(*_due(now))
        # Oldest due first; within one due time, one payment operation's rows together (they
        # share their text, but for the household's language), so a claim makes few bulk calls.
        # The partial index ix_outbox_claim holds exactly this order: a claim reads its rows
        # and stops, where sorting by text sorted every pending row of the due time each time.
        .order_by(OutboxMessage.send_after, OutboxMessage.subject, OutboxMessage.id)
        .limit(size)
    )
    claimed = update(OutboxMessage).values(
        status=OutboxStatus.SENDING, batch_id=batch, claimed_at=now,
        attempts=OutboxMessage.attempts + 1,
    )
    if ctx.db.engine.dialect.name == "postgresql":
        # A CTE runs the locking LIMIT once; `id IN (subquery)` may be re-evaluated by the
        # planner and take more rows than asked.
        picked = due.with_for_update(skip_locked=True).cte("picked")
        claimed = claimed.where(OutboxMessage.id == picked.c.id)
    else:
        claimed = claimed.where(OutboxMessage.id.in_(due.scalar_subquery()),
                                OutboxMessage.status == OutboxStatus.PENDING)
    with ctx.db.session() as s:
        s.execute(claimed.execution_options(synchronize_session=False))
    with ctx.db.session() as s:
        return list(s.execute(
            select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.text,
                   OutboxMessage.attempts, OutboxMessage.batch_id)
            .where(OutboxMessage.batch_id == batch, OutboxMessage.status == OutboxStatus.SENDING)
            .order_by(OutboxMessage.text, OutboxMessage.id)
        ).all())


def start_call(ctx: WorkerContext, batch: str, ids: list[int], now: dt.datetime) -> set[int]:
    """Mark `ids` as in an API call from now; the ones still this claim's (a claim reconciled
    as dead by another dispatcher while this one was slow is no longer ours to send)."""
    with ctx.db.session() as s:
        return set(s.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.batch_id == batch,
                   OutboxMessage.status == OutboxStatus.SENDING)
            .values(call_at=now)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ))


class Dispatcher:
    def __init__(self, ctx: WorkerContext, now: Callable[[], dt.datetime] = utcnow) -> None:
        self.ctx = ctx
        self.now = now
        settings = ctx.settings
        self.limit = SendRateLimit(ctx.redis_url, settings.sms_rate_limit)
        self.chunk = min(settings.sms_batch_size, self.limit.chunk or settings.sms_batch_size)
        # Under a rate limit, claim no more than ~10 s of sending: a claim must not go stale.
        self.claim_size = settings.sms_claim_size
        if settings.sms_rate_limit:
            self.claim_size = min(self.claim_size, settings.sms_rate_limit * 10)
        self.clock = clock_for(settings)
        self.bar: tqdm[Any] | None = None

    def run(self, budget_seconds: float = 50.0, progress: bool = False) -> DispatchReport:
        """Send due rows until none is left, the window closes, a pause, or the time budget.

        `progress`: a bar on stderr (`mijuntos reminders send`) over the rows due at the start,
        advanced as each is sent or fails for good; those to retry are shown beside it.
        """
        report = DispatchReport()
        started = time.monotonic()
        if is_paused(self.ctx):
            report.stopped = "paused"
            return report
        report.reconciled = reconcile(self.ctx, self.now())
        report.expired = expire(self.ctx, self.now())
        total = due_count(self.ctx, self.now()) if progress else 0
        with tqdm(total=total, desc="sending", unit="sms", disable=not progress) as bar:
            self.bar = bar
            try:
                self._loop(report, started, budget_seconds)
            finally:
                self.bar = None
        log.info("%s", report.line())
        return report

    def _loop(self, report: DispatchReport, started: float, budget_seconds: float) -> None:
        while True:
            now = self.now()
            if not self.clock.in_window(now):
                report.stopped = "quiet_hours"
                break
            if time.monotonic() - started > budget_seconds:
                report.stopped = "time_budget"
                break
            rows = claim(self.ctx, now, self.claim_size)
            if not rows:
                break
            report.claimed += len(rows)
            self.send(rows, report)
            if is_paused(self.ctx):
                report.stopped = "paused"
                break

    def send(self, rows: list[Any], report: DispatchReport) -> None:
        groups: dict[str, dict[str, list[Any]]] = {}
        for row in rows:
            groups.setdefault(row.text, {}).setdefault(row.recipient, []).append(row)
        batch = rows[0].batch_id
        for text, by_number in groups.items():
            numbers = list(by_number)
            for i in range(0, len(numbers), self.chunk):
                waiting = numbers[i:i + self.chunk]
                while waiting:
                    # As many as the shared window lets go now (at least a few, never more than
                    # it allows): waiting for room for the whole chunk would leave the room freed
                    # meanwhile unused, and a wave of many small groups would fall short of the rate.
                    take = self.limit.acquire_up_to(len(waiting))
                    part, waiting = waiting[:take], waiting[take:]
                    self.call(text, part, by_number, batch, report)

    def call(self, text: str, numbers: list[str], by_number: dict[str, list[Any]], batch: str,
             report: DispatchReport) -> None:
        """One API call: its rows marked as in a call first (only those still this claim's)."""
        ours = start_call(self.ctx, batch, [r.id for n in numbers for r in by_number[n]], self.now())
        mine = {n: [r for r in by_number[n] if r.id in ours] for n in numbers}
        chunk = [n for n in numbers if mine[n]]
        if not chunk:
            return
        report.api_calls += 1
        maybe_sent = False
        try:
            results = {r.number: r for r in self.ctx.sender.send(text, chunk)}
        except ProviderError as exc:
            results, error, maybe_sent = {}, str(exc), exc.maybe_sent
        else:
            error = "no result for this recipient"
        self.record([(mine[n], results.get(n)) for n in chunk], error, report, maybe_sent=maybe_sent)

    def record(self, outcomes: list[tuple[list[Any], RecipientResult | None]], error: str,
               report: DispatchReport, *, maybe_sent: bool = False) -> None:
        """Each row's outcome. `maybe_sent`: the call failed after it may have reached the
        provider (a read timeout): rows sent again are marked as possible duplicates."""
        settings = self.ctx.settings
        now = self.now()
        intervals = settings.sms_retry_intervals or (0,)
        changes: list[dict[str, Any]] = []
        delivered_ids: list[str] = []
        for rows, result in outcomes:
            for n, row in enumerate(rows):
                if result is not None and result.accepted:
                    first = n == 0  # one SMS reached a phone shared by several households
                    changes.append({"id": row.id, "status": OutboxStatus.SUBMITTED, "sent_at": now,
                                    "provider_message_id": result.message_id if first else None,
                                    "provider_status_code": result.status_code, "cost": result.cost,
                                    "last_error": None if first else f"sent once with outbox {rows[0].id}"})
                    report.submitted += 1
                    if first and result.message_id:
                        delivered_ids.append(result.message_id)
                elif result is not None and not result.transient:
                    changes.append({"id": row.id, "status": OutboxStatus.FAILED, "final_at": now,
                                    "provider_status_code": result.status_code,
                                    "failure_reason": result.status[:64] or str(result.status_code)})
                    report.failed += 1
                elif row.attempts > settings.sms_max_retries:
                    changes.append({"id": row.id, "status": OutboxStatus.FAILED, "final_at": now,
                                    "failure_reason": "retries_exhausted", "last_error": error[:200],
                                    **({"dup_risk": True} if maybe_sent else {})})
                    report.failed += 1
                else:
                    wait = intervals[min(row.attempts - 1, len(intervals) - 1)]
                    why = f"statusCode {result.status_code} {result.status}" if result else error
                    changes.append({"id": row.id, "status": OutboxStatus.PENDING, "batch_id": None,
                                    "call_at": None, "send_after": now + dt.timedelta(seconds=wait),
                                    "last_error": why[:200],
                                    **({"dup_risk": True} if maybe_sent else {})})
                    report.retried += 1
        with self.ctx.db.session() as s:
            s.execute(update(OutboxMessage), changes)
        if self.bar is not None:
            self.bar.update(sum(1 for c in changes if c["status"] != OutboxStatus.PENDING))
            self.bar.set_postfix(retry=report.retried, failed=report.failed, refresh=False)
        self.apply_early_reports(delivered_ids)

    def apply_early_reports(self, message_ids: list[str]) -> None:
        if not message_ids:
            return
        pipe = self.ctx.redis.pipeline(transaction=False)
        for mid in message_ids:
            pipe.exists(key_for("dlr", mid))
        for mid, waiting in zip(message_ids, pipe.execute(), strict=True):
            if waiting:
                apply_kept(self.ctx.db, self.ctx.redis, mid)

