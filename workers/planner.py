"""Planning reminders and no-payment notices from the schedule and the settlements.

Idempotent: one outbox row per (household, period, kind, offset), enforced by the unique
`dedupe_key`; planning twice, or two planners at once, creates nothing new. Rows not sent yet
follow the schedule when a re-import moves a date or a pay point; a household whose reminder
already went out is told the new place or date by a change notice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from tqdm import tqdm

from dialogs.gsm import sms_parts
from dialogs.reminders import Clock, Operation, cancel_text, household_label, notice_text, reminder_text
from dialogs.texts import Catalog
from gateway.config import Settings
from models import Database, Household, OptOut, OutboxMessage, OutboxStatus, PayPoint, Settlement
from models.base import utcnow
from workers.plan_rows import CANCEL, MERGED, PLANNED, REVIVABLE, RowBook, Want, merge, phone_groups
from workers.schedule import clock_for

log = logging.getLogger("mijuntos.reminders")
PAGE = 5000
FOLLOWED = ("text", "recipient", "send_after", "not_after", "subject")  # re-planned columns
# A notice is due "now" at every run: its first due time stands.
NOTICE_FOLLOWED = tuple(col for col in FOLLOWED if col != "send_after")


def _revivable(row: OutboxMessage) -> bool:
    return (row.status == OutboxStatus.SKIPPED and row.kind in PLANNED
            and row.failure_reason in REVIVABLE)


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

    def line(self) -> str:
        return (f"planned periods {', '.join(self.periods) or '-'}: {self.households} households, "
                f"{self.created} new, {self.updated} re-planned, {self.skipped} withdrawn, "
                f"{self.changes} change notices, {self.merged} carried by a shared phone's SMS")


def active_periods(db: Database, today: dt.date) -> list[str]:
    """Periods with a payment operation not over yet, and the newest settled period.

    The newest settled period is kept even when its operations are over: its no-payment notices
    may have no pay point to date them (a period of only `sin_abono` rows), and its pending rows
    must still be seen to be withdrawn once the period is over.
    """
    with db.session() as s:
        open_ops = s.scalars(select(PayPoint.periodo).where(PayPoint.fecha_fin >= today).distinct())
        periods = set(open_ops)
        newest = s.scalar(select(func.max(Settlement.periodo)))
    if newest:
        periods.add(newest)
    return sorted(periods)


_COLUMNS = (
    Settlement.hogar_id, Settlement.periodo, Settlement.estado, Settlement.punto_id,
    Household.phone, Household.idioma, Household.unidad_territorial, Household.reminders_enabled,
    Household.nombres, Household.apellidos,
    OptOut.phone.label("opted_out"), PayPoint.modalidad, PayPoint.lugar, PayPoint.fecha_inicio,
    PayPoint.fecha_fin, PayPoint.hora_inicio, PayPoint.hora_fin,
)


def _settlements(periods: list[str]) -> Select[*tuple[Any, ...]]:
    # Every estado: a settlement that stops being `programado` withdraws its reminders.
    return (
        select(*_COLUMNS)
        .join(Household, Household.hogar_id == Settlement.hogar_id)
        .outerjoin(PayPoint, and_(PayPoint.periodo == Settlement.periodo,
                                  PayPoint.punto_id == Settlement.punto_id))
        .outerjoin(OptOut, OptOut.phone == Household.phone)
        .where(Settlement.periodo.in_(periods))
    )


def _pages(db: Database, periods: list[str]) -> Iterator[list[Any]]:
    """Settlements to plan for, a page at a time (keyset by household: bounded memory)."""
    last = ""
    while True:
        stmt = (_settlements(periods).where(Settlement.hogar_id > last)
                .order_by(Settlement.hogar_id, Settlement.periodo).limit(PAGE))
        with db.session() as s:
            rows = s.execute(stmt).all()
        if not rows:
            return
        if len(rows) == PAGE:  # keep a household's periods together on one page
            cut = rows[-1].hogar_id
            whole = [r for r in rows if r.hogar_id != cut]
            rows = whole or rows
        last = rows[-1].hogar_id
        yield list(rows)


def _ineligible(row: Any) -> str | None:
    """Why a household gets no reminders, or None."""
    if not row.phone:
        return "no_phone"
    if row.opted_out is not None:
        return "opted_out"
    if not row.reminders_enabled:
        return "reminders_off"
    return None


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
        self.dialect = db.engine.dialect.name
        self.insert = (postgresql if self.dialect == "postgresql" else sqlite).insert
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
        who = household_label(self.catalog, want.lang, want.names) if want.names else None
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

    def wants(self, row: Any, book: RowBook) -> tuple[list[Want], str]:
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
            return out, "operation_started" if self.now >= opens else "plan_changed"
        # No operation for this household this period any more, or never one.
        if row.estado == "cobrado":  # collected: nothing to tell, nothing to cancel
            return [], "collected"
        if told_subject is not None and not told_subject.startswith(CANCEL):
            old = self.points.get((row.periodo, told_subject.split("|")[0]))
            if old is not None and old.fecha_fin >= self.today:
                # Reminded of an operation that will not pay her: one cancellation notice, in
                # place of the plain no-payment notice (one SMS, not two).
                key = book.free_key(f"cancel:{row.hogar_id}:{row.periodo}:{told_subject}")
                return [want(("cancel", old), key, kind="change", not_after=self.until(old.fecha_fin),
                             subject=f"{CANCEL}{told_subject}")], "operation_cancelled"
        if row.estado != "sin_abono" or told_subject is not None:
            return [], "operation_cancelled"
        if self.over(row.periodo):
            # "No payment in 2026-5" after 2026-5's pay days is stale and confusing.
            return [], "period_over"
        last = self.last_day.get(row.periodo)
        return [want(("notice", None), f"notice:{row.hogar_id}:{row.periodo}", kind="notice",
                     subject="sin_abono", not_after=self.until(last) if last else None)
                ], "operation_cancelled"

    def plan_page(self, rows: list[Any], periods: list[str], report: PlanReport) -> None:
        report.households += len({r.hogar_id for r in rows})
        with self.db.session() as s:
            # The other households on this page's shared phones are planned with them (and
            # again on their own page, to the same result): one SMS per phone and slot.
            groups = phone_groups(s, (r.phone for r in rows))
            on_page = {r.hogar_id for r in rows}
            mates = sorted({h for g in groups.values() for h in g} - on_page)
            if mates:
                rows = rows + list(s.execute(_settlements(periods).where(Settlement.hogar_id.in_(mates))))
            hids = sorted({r.hogar_id for r in rows})
            book = RowBook(s, s.scalars(
                select(OutboxMessage).where(OutboxMessage.hogar_id.in_(hids),
                                            OutboxMessage.periodo.in_(periods),
                                            OutboxMessage.kind.is_not(None))
            ).all(), periods)
            withdrawn: dict[tuple[str, str], str] = {}  # why a settlement's pending rows are not sent
            wants: list[Want] = []
            for row in rows:
                why = _ineligible(row)
                if why:
                    withdrawn[(row.hogar_id, row.periodo)] = why
                    continue
                found, why = self.wants(row, book)
                wants += found
                withdrawn[(row.hogar_id, row.periodo)] = why
            merge(wants, groups)
            wanted_keys = {w.row["dedupe_key"] for w in wants}
            new = [self.apply(w, report) for w in wants if not w.settled]
            for m in book.rows:
                # Not wanted any more, a change notice included (its place or date is stale, or
                # the household is no longer to be texted): withdrawn before it goes out.
                if m.dedupe_key in wanted_keys or m.kind not in PLANNED or book.settled(m):
                    continue
                why = withdrawn.get((m.hogar_id or "", m.periodo or ""), "plan_changed")
                if m.status == OutboxStatus.PENDING:
                    m.status, m.final_at, m.failure_reason = OutboxStatus.SKIPPED, self.now, why
                    report.skipped += 1
                elif m.failure_reason == MERGED:  # carried by another's SMS: now why it is not
                    m.failure_reason = why
            fresh = [row for row in new if row is not None]
            if fresh:
                report.created += self.insert_new(s, fresh)

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
            for col in NOTICE_FOLLOWED if have.kind == "notice" else FOLLOWED:
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

    def insert_new(self, s: Session, rows: list[dict[str, Any]]) -> int:
        """Insert rows whose dedupe key is not taken yet; how many really were inserted."""
        if self.dialect == "postgresql":
            return _insert_unnest(s, rows)
        table = OutboxMessage.__table__
        stmt = (self.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(table.c.id))
        # A Core executemany (multi-row VALUES batches from one compiled statement); an ORM
        # bulk insert with RETURNING and ON CONFLICT goes a few rows at a time.
        # RETURNING counts the rows really inserted (another planner may have won).
        return len(s.connection().execute(stmt, rows).all())


def _insert_unnest(s: Session, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL: one INSERT of a page's rows, one array per column; how many were inserted.

    Arrays keep the statement short: a multi-row VALUES with ~20 parameters a row costs more
    to build and to parse (in Python) than sending the rows.
    """
    table = OutboxMessage.__table__
    names = list(rows[0])
    dialect = postgresql.dialect()
    params: dict[str, list[Any]] = {}
    casts = []
    for i, name in enumerate(names):
        column = table.c[name]
        params[f"c{i}"] = [str(r[name]) if isinstance(r[name], StrEnum) else r[name] for r in rows]
        casts.append(f"CAST(:c{i} AS {column.type.compile(dialect=dialect)}[])")
    stmt = text(
        f"INSERT INTO {OutboxMessage.__tablename__} ({', '.join(names)}) "
        f"SELECT * FROM unnest({', '.join(casts)}) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
    )
    # RETURNING counts the rows really inserted (another planner may have won).
    return len(s.execute(stmt, params).all())


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
        for rows in _pages(db, periods):
            planner.plan_page(rows, periods, report)
            bar.update(len(rows))
    if report.created >= ANALYZE_AFTER:
        analyze_outbox(db)
    log.info("%s", report.line())
    return report


ANALYZE_AFTER = 10_000  # new rows that call for fresh statistics before the dispatchers claim


def analyze_outbox(db: Database) -> None:
    """Refresh the outbox's statistics after a wave was planned (or a broadcast made).

    Autovacuum gets there minutes later; until then PostgreSQL believes there are a few hundred
    pending rows and claims by sorting all of them (~0.35 s a claim at national scale) instead
    of reading ix_outbox_claim in order (~0.03 s). SQLite's planner is guided the same way.
    """
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE outbox"))


def withdraw_opted_out(db: Database) -> int:
    """Pending reminders to phones that opted out since planning: skipped now, not at send time."""
    from gateway.effects import withdraw_pending

    with db.session() as s:
        return withdraw_pending(s, "opted_out", utcnow(),
                                who=OutboxMessage.recipient.in_(select(OptOut.phone)))
