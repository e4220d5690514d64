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

from sqlalchemy import and_, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from tqdm import tqdm

from dialogs.gsm import sms_parts
from dialogs.reminders import Clock, Operation, notice_text, reminder_text
from dialogs.texts import Catalog
from gateway.config import Settings
from models import Database, Household, OptOut, OutboxMessage, OutboxStatus, PayPoint, Settlement
from models.base import utcnow
from workers.schedule import clock_for

log = logging.getLogger("mijuntos.reminders")
PAGE = 5000
SENT = (OutboxStatus.SUBMITTED, OutboxStatus.DELIVERED)
# Why a planned row was withdrawn, when it may be planned again (not: its operation started).
REVIVABLE = frozenset({"opted_out", "reminders_off", "no_phone", "plan_changed"})
PLANNED = ("reminder", "notice", "change")  # the kinds of rows the planner owns
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
    periods: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"planned periods {', '.join(self.periods) or '-'}: {self.households} households, "
                f"{self.created} new, {self.updated} re-planned, {self.skipped} withdrawn, "
                f"{self.changes} change notices")


def active_periods(db: Database, today: dt.date) -> list[str]:
    """Periods with a payment operation not over yet, and the newest settled period."""
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
    OptOut.phone.label("opted_out"), PayPoint.modalidad, PayPoint.lugar, PayPoint.fecha_inicio,
    PayPoint.fecha_fin, PayPoint.hora_inicio, PayPoint.hora_fin,
)


def _pages(db: Database, periods: list[str]) -> Iterator[list[Any]]:
    """Settlements to plan for, a page at a time (keyset by household: bounded memory)."""
    last = ""
    while True:
        stmt = (
            select(*_COLUMNS)
            .join(Household, Household.hogar_id == Settlement.hogar_id)
            .outerjoin(PayPoint, and_(PayPoint.periodo == Settlement.periodo,
                                      PayPoint.punto_id == Settlement.punto_id))
            .outerjoin(OptOut, OptOut.phone == Household.phone)
            .where(Settlement.periodo.in_(periods), Settlement.hogar_id > last,
                   Settlement.estado.in_(("programado", "sin_abono")))
            .order_by(Settlement.hogar_id, Settlement.periodo)
            .limit(PAGE)
        )
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


class Planner:
    """Turns settlement rows into the outbox rows they call for."""

    def __init__(self, db: Database, catalog: Catalog, settings: Settings, now: dt.datetime) -> None:
        self.db, self.catalog, self.settings, self.now = db, catalog, settings, now
        self.clock: Clock = clock_for(settings)
        self.params = {"code": settings.service_code, "helpline": settings.helpline}
        self.texts: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self.dialect = db.engine.dialect.name
        self.insert = (postgresql if self.dialect == "postgresql" else sqlite).insert

    def text(self, lang: str, op: Operation | None, periodo: str, change: bool = False) -> dict[str, Any]:
        """The text with its encoding and part count (computed once per language and operation)."""
        key = (lang, periodo, op.subject if op else "", "c" if change else "")
        if key not in self.texts:
            text = (reminder_text(self.catalog, lang, op, self.params, change=change)
                    if op else notice_text(self.catalog, lang, periodo, self.params))
            self.texts[key] = (text, *sms_parts(text))
        text, encoding, segments = self.texts[key]
        return {"text": text, "encoding": encoding, "segments": segments}

    def desired(self, row: Any) -> list[dict[str, Any]]:
        """The outbox rows one settlement calls for (ignoring who may receive them)."""
        base = {"hogar_id": row.hogar_id, "periodo": row.periodo, "recipient": row.phone,
                "unidad_territorial": row.unidad_territorial, "purpose": "notice"}
        lang = row.idioma or "es"
        if row.estado == "sin_abono":
            return [{**base, **self.text(lang, None, row.periodo), "kind": "notice",
                     "dedupe_key": f"notice:{row.hogar_id}:{row.periodo}", "send_after": self.now,
                     "not_after": None, "subject": "sin_abono", "offset_days": None}]
        if row.lugar is None:
            return []
        op = Operation(row.periodo, row.punto_id, row.modalidad, row.lugar, row.fecha_inicio,
                       row.fecha_fin, row.hora_inicio, row.hora_fin)
        text = self.text(lang, op, row.periodo)
        return [
            {**base, **text, "purpose": "reminder", "kind": "reminder", "offset_days": offset,
             "dedupe_key": f"reminder:{row.hogar_id}:{row.periodo}:{offset}",
             "send_after": due, "not_after": self.clock.opens(op), "subject": op.subject}
            for offset, due in self.clock.slots(op, self.settings.reminder_offsets, self.now)
        ]

    def change_notice(self, row: Any, wanted: dict[str, Any]) -> dict[str, Any]:
        op = Operation(row.periodo, row.punto_id, row.modalidad, row.lugar, row.fecha_inicio,
                       row.fecha_fin, row.hora_inicio, row.hora_fin)
        return {**wanted, **self.text(row.idioma or "es", op, row.periodo, change=True),
                "kind": "change", "offset_days": None, "send_after": self.now,
                "dedupe_key": f"change:{row.hogar_id}:{row.periodo}:{op.subject}"}

    def plan_page(self, rows: list[Any], periods: list[str], report: PlanReport) -> None:
        hids = sorted({r.hogar_id for r in rows})
        report.households += len(hids)
        with self.db.session() as s:
            existing = s.scalars(
                select(OutboxMessage).where(OutboxMessage.hogar_id.in_(hids),
                                            OutboxMessage.periodo.in_(periods),
                                            OutboxMessage.kind.is_not(None))
            ).all()
            by_key = {m.dedupe_key: m for m in existing}
            wanted_keys: set[str] = set()
            withdrawn: dict[str, str] = {}  # household -> why its pending rows are not sent
            new: list[dict[str, Any]] = []
            for row in rows:
                why = _ineligible(row)
                if why:
                    withdrawn[row.hogar_id] = why
                    continue
                for wanted in self.desired(row):
                    key = wanted["dedupe_key"]
                    wanted_keys.add(key)
                    have = by_key.get(key)
                    if have is None:
                        new.append(wanted)
                    elif have.status == OutboxStatus.PENDING and have.batch_id is None:
                        changed = False
                        cols = NOTICE_FOLLOWED if have.kind == "notice" else FOLLOWED
                        for col in cols:
                            if getattr(have, col) != wanted[col]:
                                setattr(have, col, wanted[col])
                                changed = True
                        report.updated += changed
                    elif _revivable(have):
                        _revive(have, wanted)
                        report.updated += 1
                    elif (have.status in SENT and have.kind == "reminder"
                          and have.subject != wanted["subject"]):
                        # Told the old place or date: a change notice, once (several sent
                        # reminders of the household call for the same one).
                        change = self.change_notice(row, wanted)
                        key = change["dedupe_key"]
                        if key in wanted_keys:
                            continue
                        wanted_keys.add(key)
                        have_change = by_key.get(key)
                        if have_change is None:
                            new.append(change)
                            report.changes += 1
                        elif _revivable(have_change):
                            _revive(have_change, change)
                            report.changes += 1
            for m in existing:
                # Not wanted any more, a change notice included (its place or date is stale, or
                # the household is no longer to be texted): withdrawn before it goes out.
                if (m.dedupe_key not in wanted_keys and m.status == OutboxStatus.PENDING
                        and m.batch_id is None and m.kind in PLANNED):
                    m.status, m.final_at = OutboxStatus.SKIPPED, self.now
                    m.failure_reason = withdrawn.get(m.hogar_id or "", "plan_changed")
                    report.skipped += 1
            if new:
                for item in new:
                    item.setdefault("status", OutboxStatus.PENDING)
                    item.setdefault("created_at", self.now)
                    item.setdefault("updated_at", self.now)
                    item.setdefault("attempts", 0)
                    item.setdefault("dup_risk", False)
                report.created += self.insert_new(s, new)

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
    now = now or utcnow()
    clock = clock_for(settings)
    periods = active_periods(db, now.astimezone(clock.tz).date())
    report = PlanReport(periods=periods)
    if not periods:
        return report
    planner = Planner(db, catalog, settings, now)
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
