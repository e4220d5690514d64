"""The programme's calendar: Lima's days, in Python and in SQL, written once.

Moments are stored in UTC (models/base.py); a caller's "today", an export's day and a report's
days are days on the Lima clock. Every conversion between the two goes through here: the Lima
day of a moment, the UTC instants that bound a range of Lima days, and the SQL expression for
the Lima day of a timestamp column. "Today" itself belongs to the running process
(`Settings.local_today()`, which honours a pinned day); this module never reads the clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from models.base import LIMA

__all__ = ["LIMA", "lima_date", "lima_day_start", "lima_days", "lima_date_of"]


def lima_date(moment: dt.datetime) -> dt.date:
    """The day on the Lima calendar of a timezone-aware moment (2026-12-02 03:30 UTC: 12-01)."""
    if moment.tzinfo is None:
        raise ValueError("moment: must be timezone-aware")
    return moment.astimezone(LIMA).date()


def lima_day_start(day: dt.date) -> dt.datetime:
    """The UTC instant at which `day` begins in Lima (00:00 Lima is 05:00 UTC)."""
    return dt.datetime.combine(day, dt.time(), LIMA).astimezone(dt.UTC)


def lima_days(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants bounding the Lima days `start` to `end`, both included: [since, until)."""
    return lima_day_start(start), lima_day_start(end + dt.timedelta(days=1))


class lima_date_of(FunctionElement[dt.date]):  # noqa: N801 - used like a SQL function
    """SQL: the Lima day of a UTC timestamp column, compiled for the database in use.

    PostgreSQL converts with the zone's rules (`timezone('America/Lima', column)`). SQLite has
    no time zones: its timestamps are UTC text (`YYYY-MM-DD HH:MM:SS.ffffff`), shifted by the
    `-5 hours` modifier. That fixed offset is right for Lima, which has kept UTC-5 with no
    daylight saving since 1994; should Peru ever change its clock, tests/test_clock.py fails (it
    compares every day of a span of years against zoneinfo) and this modifier must follow. The
    text is cut to whole seconds first: SQLite's date functions round to the millisecond, which
    would put 04:59:59.9996 UTC (still the previous day in Lima) on the next day.
    """

    type = Date()
    inherit_cache = True
    name = "lima_date_of"


SQLITE_LIMA_OFFSET = "-5 hours"  # see lima_date_of: Lima has been UTC-5 without DST since 1994


@compiles(lima_date_of)
def _lima_date_other(element: lima_date_of, compiler: Any, **kw: Any) -> str:
    raise CompileError(f"lima_date_of: no Lima day for the {compiler.dialect.name} dialect "
                       "(SQLite and PostgreSQL only)")


@compiles(lima_date_of, "sqlite")
def _lima_date_sqlite(element: lima_date_of, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"date(substr({column}, 1, 19), '{SQLITE_LIMA_OFFSET}')"


@compiles(lima_date_of, "postgresql")
def _lima_date_postgresql(element: lima_date_of, compiler: Any, **kw: Any) -> str:
    return f"CAST(timezone('{LIMA.key}', {compiler.process(element.clauses, **kw)}) AS DATE)"
