"""Planning reminders and no-payment notices from the schedule and the settlements.

Idempotent: one outbox row per (household, period, kind, offset), enforced by the unique
`dedupe_key`; planning twice, or two planners at once, creates nothing new. Rows not sent yet
follow the schedule when a re-import moves a date or a pay point; a household whose reminder
already went out is told the new place or date by a change notice. A row a dispatcher claims
while the planner works on it is left to the dispatcher (`Planner.plan_once`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from tqdm import tqdm

from core.settings import Settings
from dialogs.gsm import sms_parts
from dialogs.reminders import Clock, Operation, cancel_text, household_label, notice_text, reminder_text
from dialogs.texts import Catalog
from models import Database, OptOut, OutboxMessage, OutboxStatus, PayPoint, Settlement, SkipReason
from models.base import utcnow
from models.outbox import withdraw_pending
from workers.outbox_insert import ANALYZE_AFTER, analyze_outbox, insert_new
from workers.plan_rows import CANCEL, MERGED, PLANNED, RowBook, Want, merge, overtaken, phone_groups
from workers.plan_source import active_periods, ineligible, pages, settlements
from workers.schedule import clock_for

log = logging.getLogger("mijuntos.reminders")
PAGE = 5000  # settlements a page (workers/plan_source.py pages)
PLAN_LOCK = 0x6D6A706C616E  # "mjplan": the advisory lock a planner holds over one page
ATTEMPTS = 3  # a page's households planned again at once, when a dispatcher overtook the page
FOLLOWED = ("text", "recipient", "send_after", "not_after", "subject")  # re-planned columns
# A notice (no-payment, change, cancellation) is due "now" at every run: its first due time stands.
NOTICE_FOLLOWED = tuple(col for col in FOLLOWED if col != "send_after")


def _revive(row: OutboxMessage, wanted: dict[str, Any]) -> None:
    """A withdrawn row wanted again (reminders back on, plan changed back): it goes out after all."""
    for col in FOLLOWED:
        setattr(row, col, wanted[col])
    row.status, row.final_at, row.failure_reason = OutboxStatus.PENDING, None, None


@dataclass
class PlanReport:
    households: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    changes: int = 0
    merged: int = 0
    periods: list[str] = field(default_factory=list)

    def add(self, other: PlanReport) -> None:
        """Count `other`'s rows too (its households and periods aside)."""
        for name in ("created", "updated", "skipped", "changes", "merged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return (f"planned periods {', '.join(self.periods) or '-'}: {self.households} households, "
                f"{self.created} new, {self.updated} re-planned, {self.skipped} withdrawn, "
                f"{self.changes} change notices, {self.merged} carried by a shared phone's SMS")


def _operation(row: Any) -> Operation:
    return Operation(row.periodo, row.punto_id, row.modalidad, row.lugar, row.fecha_inicio,
                     row.fecha_fin, row.hora_inicio, row.hora_fin)


class Planner:
    """Turns settlement rows into the outbox rows they call for."""

    def __init__(self, db: Database, catalog: Catalog, settings: Settings, now: dt.datetime,
                 today: dt.date | None = None, periods: list[str] | None = None) -> None:
        self.db, self.catalog, self.settings, self.now = db, catalog, settings, now
        self.clock: Clock = clock_for(settings)
        self.today = today or now.astimezone(self.clock.tz).date()
        self.params = {"code": settings.service_code, "helpline": settings.helpline}
        self.texts: dict[tuple[Any, ...], tuple[str, str, int]] = {}
        self.schedules: dict[Operation, tuple[dt.datetime, list[tuple[int, dt.datetime]]]] = {}
        # The active periods' pay points (thousands, not millions): what a cancelled operation
        # was, and when each period's last pay day is.
        self.points: dict[tuple[str, str], Operation] = {}
        self.last_day: dict[str, dt.date] = {}
        with db.session() as s:
            for p in s.scalars(select(PayPoint).where(PayPoint.periodo.in_(periods or []))):
                self.points[(p.periodo, p.punto_id)] = Operation(
                    p.periodo, p.punto_id, p.modalidad, p.lugar, p.fecha_inicio, p.fecha_fin,
                    p.hora_inicio, p.hora_fin)
                self.last_day[p.periodo] = max(p.fecha_fin, self.last_day.get(p.periodo, p.fecha_fin))

    def text(self, want: Want) -> dict[str, Any]:
        """The text with its encoding and part count (computed once per language and subject)."""
        kind, op = want.spec
        periodo = want.row["periodo"]
        who = household_label(self.catalog, want.lang, want.names, unsure=want.unsure) if want.names else None
        key = (want.lang, kind, periodo, op.subject if op else "", who)
        if key not in self.texts:
            if kind == "notice":
                text = notice_text(self.catalog, want.lang, periodo, self.params, who=who)
            elif kind == "cancel":
                text = cancel_text(self.catalog, want.lang, op, self.params, who=who)
            else:
                text = reminder_text(self.catalog, want.lang, op, self.params,
                                     change=kind == "change", who=who)
            self.texts[key] = (text, *sms_parts(text))
        text, encoding, segments = self.texts[key]
        return {"text": text, "encoding": encoding, "segments": segments}

    def schedule(self, op: Operation) -> tuple[dt.datetime, list[tuple[int, dt.datetime]]]:
        """When `op` opens and its reminder slots (once per operation and run, not per household)."""
        if op not in self.schedules:
            self.schedules[op] = (self.clock.opens(op),
                                  self.clock.slots(op, self.settings.reminder_offsets, self.now))
        return self.schedules[op]

    def over(self, periodo: str) -> bool:
        """True when every payment operation of `periodo` has ended (today in Lima is not over)."""
        return periodo in self.last_day and self.last_day[periodo] < self.today

    def until(self, last: dt.date) -> dt.datetime:
        """The end of a last pay day on the Lima clock: a notice about it is not sent later."""
        return self.clock.local(last + dt.timedelta(days=1), dt.time())

    def wants(self, row: Any, book: RowBook) -> tuple[list[Want], SkipReason]:
        """The outbox rows one settlement calls for, and why its other pending rows are withdrawn."""
        base = {"hogar_id": row.hogar_id, "periodo": row.periodo, "recipient": row.phone,
                "unidad_territorial": row.unidad_territorial, "purpose": "notice",
                "send_after": self.now, "not_after": None, "offset_days": None}
        lang = row.idioma or "es"

        def want(spec: tuple[str, Any], key: str, **cols: Any) -> Want:
            have = book.by_key.get(key)
            return Want({**base, "dedupe_key": key, **cols}, spec, lang, have, book.settled(have))

        told = book.last_told(row.hogar_id, row.periodo)
        told_subject = told.subject if told is not None else None
        if row.estado == "programado" and row.lugar is not None:
            op = self.points.get((row.periodo, row.punto_id)) or _operation(row)
            opens, slots = self.schedule(op)
            out = [want(("reminder", op), f"reminder:{row.hogar_id}:{row.periodo}:{offset}",
                        purpose="reminder", kind="reminder", offset_days=offset, send_after=due,
                        not_after=opens, subject=op.subject)
                   for offset, due in slots]
            if told_subject is not None and told_subject != op.subject:
                # Told another place or date (or that it was cancelled): a change notice, once.
                key = book.free_key(f"change:{row.hogar_id}:{row.periodo}:{op.subject}")
                out.append(want(("change", op), key, kind="change", not_after=opens,
                                subject=op.subject))
            return out, (SkipReason.OPERATION_STARTED if self.now >= opens
                         else SkipReason.PLAN_CHANGED)
        # No operation for this household this period any more, or never one.
        if row.estado == "cobrado":  # collected: nothing to tell, nothing to cancel
            return [], SkipReason.COLLECTED
        if told_subject is not None and not told_subject.startswith(CANCEL):
            old = self.points.get((row.periodo, told_subject.split("|")[0]))
            old = old.as_told(told_subject) if old is not None else None  # what she was told
            if old is not None and old.fecha_fin >= self.today:
                # Reminded of an operation that will not pay her: one cancellation notice, in
                # place of the plain no-payment notice (one SMS, not two).
                key = book.free_key(f"cancel:{row.hogar_id}:{row.periodo}:{told_subject}")
                return [want(("cancel", old), key, kind="change", not_after=self.until(old.fecha_fin),
                             subject=f"{CANCEL}{told_subject}")], SkipReason.OPERATION_CANCELLED
        if row.estado != "sin_abono" or told_subject is not None:
            return [], SkipReason.OPERATION_CANCELLED
        if self.over(row.periodo):
            # "No payment in 2026-5" after 2026-5's pay days is stale and confusing.
            return [], SkipReason.PERIOD_OVER
        last = self.last_day.get(row.periodo)
        return [want(("notice", None), f"notice:{row.hogar_id}:{row.periodo}", kind="notice",
                     subject="sin_abono", not_after=self.until(last) if last else None)
                ], SkipReason.OPERATION_CANCELLED

    def plan_page(self, rows: list[Any], periods: list[str], report: PlanReport) -> None:
        """Plan one page of settlements; the households a dispatcher overtook, again at once."""
        report.households += len({r.hogar_id for r in rows})
        for _ in range(ATTEMPTS):
            rows = self.plan_once(rows, periods, report)
            if not rows:
                return
        log.warning("planning: %s households left for the next run (rows taken while planned)",
                    len({r.hogar_id for r in rows}))

    def plan_once(self, rows: list[Any], periods: list[str], report: PlanReport) -> list[Any]:
        """Plan `rows` in one transaction; the rows of the households to plan again.

        A dispatcher may claim and send a row after this page read it: the page then writes
        nothing for that household, nor for the others on its phone (one SMS may name them
        all), and returns them to be planned again from what the dispatcher left. A reminder
        sent meanwhile stays sent with its own text; a change or cancellation notice follows
        as for any household told before, and a shared SMS no longer names its household.
        """
        tally: dict[str, PlanReport] = defaultdict(PlanReport)  # per household, added if written
        with self.db.session() as s:
            one_planner_at_a_time(s)
            # The other households on this page's shared phones are planned with them (and
            # again on their own page, to the same result): one SMS per phone and slot.
            groups = phone_groups(s, (r.phone for r in rows))
            on_page = {r.hogar_id for r in rows}
            mates = sorted({h for g in groups.values() for h in g} - on_page)
            if mates:
                rows = rows + list(s.execute(settlements(periods).where(Settlement.hogar_id.in_(mates))))
            hids = sorted({r.hogar_id for r in rows})
            book = RowBook(s, s.scalars(
                select(OutboxMessage).where(OutboxMessage.hogar_id.in_(hids),
                                            OutboxMessage.periodo.in_(periods),
                                            OutboxMessage.kind.is_not(None))
            ).all(), periods)
            withdrawn: dict[tuple[str, str], SkipReason] = {}  # why a settlement's pending rows are not sent
            wants: list[Want] = []
            for row in rows:
                why = ineligible(row)
                if why:
                    withdrawn[(row.hogar_id, row.periodo)] = why
                    continue
                found, why = self.wants(row, book)
                wants += found
                withdrawn[(row.hogar_id, row.periodo)] = why
            merge(wants, groups)
            wanted_keys = {w.row["dedupe_key"] for w in wants}
            new = [self.apply(w, tally[w.row["hogar_id"]]) for w in wants if not w.settled]
            for m in book.rows:
                # Not wanted any more, a change notice included (its place or date is stale, or
                # the household is no longer to be texted): withdrawn before it goes out.
                if m.dedupe_key in wanted_keys or m.kind not in PLANNED or book.settled(m):
                    continue
                why = withdrawn.get((m.hogar_id or "", m.periodo or ""), SkipReason.PLAN_CHANGED)
                if m.status == OutboxStatus.PENDING:
                    m.status, m.final_at, m.failure_reason = OutboxStatus.SKIPPED, self.now, why
                    tally[m.hogar_id or ""].skipped += 1
                elif m.failure_reason == MERGED:  # carried by another's SMS: now why it is not
                    m.failure_reason = why
            again = overtaken(s, book, wants, groups)  # their changes are not written
            for hogar_id, counted in tally.items():
                if hogar_id not in again:
                    report.add(counted)
            fresh = [row for row in new if row is not None and row["hogar_id"] not in again]
            if fresh:
                report.created += insert_new(s, fresh)
        return [r for r in rows if r.hogar_id in again]

    def apply(self, want: Want, report: PlanReport) -> dict[str, Any] | None:
        """Bring the existing row in line with `want`; the new row to insert, if there is none."""
        wanted = {**want.row, **self.text(want)}
        have, change = want.have, wanted["kind"] == "change"
        report.merged += want.merged
        if have is None:
            report.changes += change and not want.merged
            status = OutboxStatus.SKIPPED if want.merged else OutboxStatus.PENDING
            return {**wanted, "status": status, "failure_reason": MERGED if want.merged else None,
                    "final_at": self.now if want.merged else None, "created_at": self.now,
                    "updated_at": self.now, "attempts": 0, "dup_risk": False}
        if want.merged or have.status == OutboxStatus.PENDING:
            changed = False
            for col in NOTICE_FOLLOWED if have.kind in ("notice", "change") else FOLLOWED:
                if getattr(have, col) != wanted[col]:
                    setattr(have, col, wanted[col])
                    changed = True
            if want.merged and (have.status, have.failure_reason) != (OutboxStatus.SKIPPED, MERGED):
                have.status, have.final_at, have.failure_reason = OutboxStatus.SKIPPED, self.now, MERGED
                changed = True
            report.updated += changed
        else:  # withdrawn before, or carried by another household's SMS: it goes out after all
            _revive(have, wanted)
            report.updated += 1
            report.changes += change
        return None


def one_planner_at_a_time(s: Session) -> None:
    """Wait until no other planner is inside a page: this page's reads and writes are then one.

    Two planners at once (two schedulers by mistake, an import's planning beside the cron's)
    would otherwise each change rows from what it read: one revives a withdrawn reminder and a
    dispatcher sends it, and the other, which read it as withdrawn, makes it pending again, so
    it goes out twice. PostgreSQL: a transaction-level advisory lock (let go at commit, or
    when a killed worker's connection closes); SQLite: its one write lock, taken at once.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLAN_LOCK})
    else:
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")


def plan_reminders(
    db: Database, catalog: Catalog, settings: Settings, *, now: dt.datetime | None = None,
    progress: bool = False,
) -> PlanReport:
    """Plan every reminder and notice the schedule calls for; safe to run any time, any number."""
    # "Today" (what is over) is the Lima date of the `now` a caller gives; without one, the
    # settings' (pinned in tests and training sessions on old data).
    today = now.astimezone(clock_for(settings).tz).date() if now else settings.local_today()
    now = now or utcnow()
    periods = active_periods(db, today)
    report = PlanReport(periods=periods)
    if not periods:
        return report
    planner = Planner(db, catalog, settings, now, today, periods)
    with db.session() as s:
        total = s.scalar(
            select(func.count()).select_from(Settlement).where(Settlement.periodo.in_(periods))
        )
    with tqdm(total=total, desc="planning", unit="row", disable=not progress) as bar:
        for rows in pages(db, periods, PAGE):
            planner.plan_page(rows, periods, report)
            bar.update(len(rows))
    if report.created >= ANALYZE_AFTER:
        analyze_outbox(db)
    log.info("%s", report.line())
    return report


def withdraw_opted_out(db: Database) -> int:
    """Pending reminders to phones that opted out since planning: skipped now, not at send time."""
    with db.session() as s:
        return withdraw_pending(s, SkipReason.OPTED_OUT, utcnow(),
                                who=OutboxMessage.recipient.in_(select(OptOut.phone)))
