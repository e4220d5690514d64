"""Assisted lookups (channel `gestor`): what gestores did for titulares, by UT, Tambo and gestor.

The figures follow models/reports.py's rules (models/query.py LOOKUP_KINDS, VERIFIED_OUTCOMES)
over the rows of channel `gestor` only. They are grouped by the gestor's UT (`Query.gestor_ut`,
the UT they served at the time, not the household's), their Tambo and the gestor's code. Every
measure but `households` adds up: a group's lookups, verifications and SMS summaries are its
part of the total. `households` counts distinct households in each group, so a household two
gestores helped counts once in each of their rows and once in the total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.clock import lima_days
from models.gestor import Gestor
from models.query import (
    LOOKUP_KINDS,
    SUMMARY_SENT,
    SUMMARY_SMS_KIND,
    VERIFIED_OUTCOMES,
    VERIFY_KIND,
    Channel,
    Query,
)

Row = tuple[str, str, str, str | int]  # models/reports.py's (section, key, measure, value)
NONE = "-"  # the key of rows without a UT, a Tambo or a gestor's code
# The report's sections: (section, what it groups by, the text report's title of its label).
GROUPINGS = (("assisted_by_ut", "ut", "Unidad Territorial"), ("assisted_by_tambo", "tambo", "Tambo"),
             ("assisted_by_gestor", "gestor", "gestor"))


@dataclass
class Assisted:
    """One group's assisted lookups, households reached, verifications and SMS summaries sent."""

    lookups: int = 0
    households: int = 0  # distinct: not the sum of the groups' (see the module's docstring)
    verified: int = 0
    failed: int = 0  # a `verify` row with any other outcome than VERIFIED_OUTCOMES
    summaries_sent: int = 0  # kind summary_sms, outcome sent

    @property
    def verifications(self) -> int:
        return self.verified + self.failed


MEASURES = tuple(f.name for f in fields(Assisted))


@dataclass
class AssistedReport:
    start: dt.date
    end: dt.date  # inclusive, Lima days
    total: Assisted = field(default_factory=Assisted)
    by_ut: dict[str, Assisted] = field(default_factory=dict)
    by_tambo: dict[str, Assisted] = field(default_factory=dict)
    by_gestor: dict[str, Assisted] = field(default_factory=dict)

    def groups(self, by: str) -> dict[str, Assisted]:
        return {"ut": self.by_ut, "tambo": self.by_tambo, "gestor": self.by_gestor}[by]

    def busiest(self, by: str) -> list[tuple[str, Assisted]]:
        """A grouping's rows, most lookups first (then by key)."""
        return sorted(self.groups(by).items(), key=lambda kv: (-kv[1].lookups, kv[0]))

    def rows(self) -> list[Row]:
        """Every figure as (section, key, measure, value): each group busiest first, then `all`."""
        out: list[Row] = []
        for section, by, _ in GROUPINGS:
            for key, counts in [*self.busiest(by), ("all", self.total)]:
                out += [(section, key, m, getattr(counts, m)) for m in MEASURES]
        return out


def _measures(since: dt.datetime, until: dt.datetime) -> tuple[list[Any], tuple[Any, ...]]:
    """The SELECT columns of `Assisted`'s measures, and the WHERE of the rows they count."""
    lookup = Query.kind.in_(LOOKUP_KINDS)
    verify = Query.kind == VERIFY_KIND
    ok = Query.outcome.in_(VERIFIED_OUTCOMES)

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = [count(lookup), func.count(func.distinct(case((lookup, Query.hogar_id), else_=None))),
               count(and_(verify, ok)), count(and_(verify, ~ok)),
               count(and_(Query.kind == SUMMARY_SMS_KIND, Query.outcome == SUMMARY_SENT))]
    where = (Query.channel == Channel.GESTOR, Query.created_at >= since, Query.created_at < until)
    return columns, where


def _assisted(values: Any) -> Assisted:
    return Assisted(*(int(v or 0) for v in values))


GROUP_COLUMNS: dict[str, InstrumentedAttribute[str | None]] = {
    "ut": Query.gestor_ut, "tambo": Query.tambo, "gestor": Query.gestor_id}


def assisted_report(session: Session, start: dt.date, end: dt.date) -> AssistedReport:
    """Assisted lookups on the Lima days `start` to `end`, in total and by UT, Tambo and gestor."""
    columns, where = _measures(*lima_days(start, end))
    report = AssistedReport(start, end, _assisted(session.execute(select(*columns).where(*where)).one()))
    for by, column in GROUP_COLUMNS.items():
        into = report.groups(by)
        for key, *values in session.execute(select(column, *columns).where(*where).group_by(column)):
            counts = _assisted(values)
            if any(getattr(counts, m) for m in MEASURES):  # not a group of uncounted kinds only
                into[key or NONE] = counts
    return report


@dataclass
class RosterRow:
    """A gestor as the staff page lists them, with the day's assisted figures."""

    gestor: Gestor
    day: Assisted

    @property
    def name(self) -> str:
        return f"{self.gestor.nombres} {self.gestor.apellidos}"


def roster(session: Session, day: dt.date) -> list[RosterRow]:
    """Every gestor (by UT, then code) with their assisted figures of the Lima day `day`."""
    today = assisted_report(session, day, day).by_gestor
    gestores = session.scalars(select(Gestor).order_by(Gestor.unidad_territorial, Gestor.gestor_id))
    return [RosterRow(g, today.get(g.gestor_id, Assisted())) for g in gestores]
