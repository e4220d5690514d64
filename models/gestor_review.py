"""Gestores for staff review: the anomaly rule, and the staff's switch that suspends one at once.

The anomaly rule (docs/DEPLOY.md "Gestores"), judged on one Lima day D:
- volume: the gestor's assisted lookups on D are at least VOLUME_MIN_LOOKUPS and more than
  VOLUME_FACTOR times the median of their daily lookups over the HISTORY_DAYS Lima days before
  D, counting only the days on which they made any (a gestor who attends one Tambo day a week
  is compared with their Tambo days, not with the empty days between). A gestor without any
  such day is new or back after a long gap: nothing to compare with, so only an absolute
  NO_HISTORY_MIN_LOOKUPS flags them (a full day of a busy Tambo queue stays under it).
- outside the UT: any assisted lookup on D of a household whose UT (`Query.unidad_territorial`)
  is not the UT the gestor served at the time (`Query.gestor_ut`); lookups of a household with
  no UT on record are not counted. A flag is a reason to look, not a verdict: suspending is the
  staff's decision (`suspend`).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.clock import lima_date_of, lima_days
from models.gestor import Gestor
from models.query import LOOKUP_KINDS, Channel, Query

VOLUME_MIN_LOOKUPS = 20  # below this a day is never "above their usual volume"
VOLUME_FACTOR = 2  # ...and it must exceed this many times the gestor's median day
HISTORY_DAYS = 28  # the Lima days before the judged day that make "their usual volume"
NO_HISTORY_MIN_LOOKUPS = 100  # no day with lookups in HISTORY_DAYS: flagged from this many

VOLUME = "volume"
OUTSIDE_UT = "outside_ut"


class ReviewError(Exception):
    """A staff action on a gestor that cannot be done (unknown code)."""


@dataclass
class Anomaly:
    """One gestor's figures on the judged day and why they are flagged (empty: not flagged)."""

    gestor_id: str
    lookups: int = 0  # assisted lookups on the day
    history_days: int = 0  # days with lookups among the HISTORY_DAYS before
    median: float | None = None  # the median lookups of those days; None without any
    outside_ut: int = 0  # the day's lookups of households outside the gestor's UT
    reasons: list[str] = field(default_factory=list)
    gestor: Gestor | None = None  # None: a code in `query` that the gestor table no longer has

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)


def volume_flag(lookups: int, history: list[int]) -> bool:
    """The volume rule: `history` holds the gestor's lookups of each earlier day that had any."""
    if not history:
        return lookups >= NO_HISTORY_MIN_LOOKUPS
    return lookups >= VOLUME_MIN_LOOKUPS and lookups > VOLUME_FACTOR * statistics.median(history)


def anomalies(session: Session, day: dt.date, flagged_only: bool = True) -> list[Anomaly]:
    """The gestores the rule flags on the Lima day `day` (every gestor with lookups that day, or
    flagged, with `flagged_only=False`), the most lookups first."""
    since, until = lima_days(day - dt.timedelta(days=HISTORY_DAYS), day)
    assisted = (Query.channel == Channel.GESTOR, Query.kind.in_(LOOKUP_KINDS),
                Query.gestor_id.is_not(None))
    lima_day = lima_date_of(Query.created_at)
    found: dict[str, Anomaly] = {}
    history: dict[str, list[int]] = {}

    def entry(code: str | None) -> Anomaly:  # the query selects rows with a code only
        return found.setdefault(str(code), Anomaly(str(code)))

    for gestor_id, on, n in session.execute(
        select(Query.gestor_id, lima_day, func.count())
        .where(*assisted, Query.created_at >= since, Query.created_at < until)
        .group_by(Query.gestor_id, lima_day)
    ):
        if str(on) == day.isoformat():
            entry(gestor_id).lookups = n
        else:
            history.setdefault(str(gestor_id), []).append(n)
    today = lima_days(day, day)
    for gestor_id, n in session.execute(
        select(Query.gestor_id, func.count())
        .where(*assisted, Query.created_at >= today[0], Query.created_at < today[1],
               Query.unidad_territorial.is_not(None), Query.gestor_ut.is_not(None),
               Query.unidad_territorial != Query.gestor_ut)
        .group_by(Query.gestor_id)
    ):
        entry(gestor_id).outside_ut = n
    for a in found.values():
        past = history.get(a.gestor_id, [])
        a.history_days, a.median = len(past), (statistics.median(past) if past else None)
        a.reasons = [*([VOLUME] if volume_flag(a.lookups, past) else []),
                     *([OUTSIDE_UT] if a.outside_ut else [])]
    known = session.scalars(select(Gestor).where(Gestor.gestor_id.in_(list(found))))
    gestores = {g.gestor_id: g for g in known}
    out = [a for a in found.values() if a.flagged or not flagged_only]
    for a in out:
        a.gestor = gestores.get(a.gestor_id)
    return sorted(out, key=lambda a: (-a.lookups, a.gestor_id))


def set_suspended(session: Session, gestor_id: str, suspend: bool, by: str,
                  now: dt.datetime | None = None) -> bool:
    """Suspend a gestor at once (their next hop has no assisted mode), or lift the suspension.

    The programme's `estado` is never touched: a suspension is the staff's own, and only staff
    lift it. `by` is the staff user recorded on a suspension. True when something changed (a
    second click on the same button changes nothing, and keeps who suspended first).
    """
    gestor = session.get(Gestor, gestor_id, with_for_update=True)
    if gestor is None:
        raise ReviewError(f"gestor_id: no gestor {gestor_id!r}")
    if suspend == (gestor.suspended_at is not None):
        return False
    gestor.suspended_at = (now or dt.datetime.now(dt.UTC)) if suspend else None
    gestor.suspended_by = by if suspend else None
    return True
