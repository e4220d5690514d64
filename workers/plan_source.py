"""What the planner reads: the periods to plan, and their settlements with household and pay point."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, and_, func, select

from dialogs.eligibility import no_reminders
from models import Database, Household, OptOut, PayPoint, Settlement, SkipReason


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


COLUMNS = (
    Settlement.hogar_id, Settlement.periodo, Settlement.estado, Settlement.punto_id,
    Household.phone, Household.idioma, Household.unidad_territorial, Household.reminders_enabled,
    Household.nombres, Household.apellidos,
    OptOut.phone.label("opted_out"), PayPoint.modalidad, PayPoint.lugar, PayPoint.fecha_inicio,
    PayPoint.fecha_fin, PayPoint.hora_inicio, PayPoint.hora_fin,
)


def settlements(periods: list[str]) -> Select[*tuple[Any, ...]]:
    """The settlements of `periods` with their household, opt-out and pay point columns."""
    # Every estado: a settlement that stops being `programado` withdraws its reminders.
    return (
        select(*COLUMNS)
        .join(Household, Household.hogar_id == Settlement.hogar_id)
        .outerjoin(PayPoint, and_(PayPoint.periodo == Settlement.periodo,
                                  PayPoint.punto_id == Settlement.punto_id))
        .outerjoin(OptOut, OptOut.phone == Household.phone)
        .where(Settlement.periodo.in_(periods))
    )


def pages(db: Database, periods: list[str], size: int) -> Iterator[list[Any]]:
    """Settlements to plan for, a page at a time (keyset by household: bounded memory)."""
    last = ""
    while True:
        stmt = (settlements(periods).where(Settlement.hogar_id > last)
                .order_by(Settlement.hogar_id, Settlement.periodo).limit(size))
        with db.session() as s:
            rows = s.execute(stmt).all()
        if not rows:
            return
        if len(rows) == size:  # keep a household's periods together on one page
            cut = rows[-1].hogar_id
            whole = [r for r in rows if r.hogar_id != cut]
            rows = whole or rows
        last = rows[-1].hogar_id
        yield list(rows)


def ineligible(row: Any) -> SkipReason | None:
    """Why a household gets no reminders, or None (the rule is dialogs/eligibility.py's)."""
    why = no_reminders(bool(row.phone), row.opted_out is not None, bool(row.reminders_enabled))
    return SkipReason(why) if why else None
