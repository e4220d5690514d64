"""Usage reports as the programme reports the app: by channel and by Unidad Territorial.

One report (`usage_report`) feeds `mijuntos report`, its CSV (`UsageReport.rows`) and the staff
dashboard, so the three show the same figures. Lookups, verifications and households count real
callers only (`models/query.py` CALLER_CHANNELS, one column each); the simulator's use is counted
apart (`simulator`). Messages are counted in the stages of `models/funnel.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models.assisted import AssistedReport, assisted_report
from models.clock import lima_date_of, lima_days
from models.export import Freshness
from models.funnel import STAGE_KEYS, empty, stage_counts
from models.operators import OPERATORS
from models.outbox import OutboxMessage, OutboxStatus
from models.query import CALLER_CHANNELS, LOOKUP_KINDS, NOT_CALLERS, VERIFIED_OUTCOMES, Query
from models.wave import WAVE_KINDS, broadcast_stages, latest_period, wave_stages

VERIFIED = VERIFIED_OUTCOMES
LOOKUPS = LOOKUP_KINDS
FUNNEL = STAGE_KEYS
CHANNELS: tuple[str, ...] = CALLER_CHANNELS
# The period a report covers when none is asked for: the last DEFAULT_DAYS days, today included
# (`mijuntos report` and the dashboard).
DEFAULT_DAYS = 30
# The long form of a report (`UsageReport.rows`, `mijuntos report --csv`): one figure a row.
ROW_FIELDS = ("section", "key", "measure", "value")
Row = tuple[str, str, str, str | int]


def default_start(end: dt.date) -> dt.date:
    """The first day of the default period ending on `end`."""
    return end - dt.timedelta(days=DEFAULT_DAYS - 1)


@dataclass
class SimulatorUse:
    """The simulator's lookups and verifications: staff training, in no other figure."""

    lookups: int = 0
    verified: int = 0
    failed_verifications: int = 0


@dataclass
class UsageReport:
    start: dt.date
    end: dt.date  # inclusive
    by_channel: dict[str, int] = field(default_factory=dict)  # real callers' lookups
    by_ut: dict[str, dict[str, int]] = field(default_factory=dict)  # UT -> channel -> lookups
    verified: int = 0
    failed_verifications: int = 0
    households: int = 0
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> channel -> lookups
    simulator: SimulatorUse = field(default_factory=SimulatorUse)
    # The gestor channel's lookups again, by the gestor's UT, Tambo and gestor (models/assisted.py).
    assisted: AssistedReport | None = None
    # Reminders, notices and change notices created in the period: UT -> stage -> messages.
    funnel: dict[str, dict[str, int]] = field(default_factory=dict)
    broadcasts: dict[str, int] = field(default_factory=empty)  # created in the period
    periodo: str | None = None  # the wave shown: the newest settled period unless asked
    wave: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> stage, any day
    # networkCode -> (delivered, delivery_failed), every message created in the period.
    delivery_by_network: dict[str, tuple[int, int]] = field(default_factory=dict)
    freshness: Freshness | None = None  # the schedule data's age (models/export.py)

    @property
    def channels(self) -> tuple[str, ...]:
        return CHANNELS

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def lookups(self) -> int:
        return sum(self.by_channel.get(ch, 0) for ch in CHANNELS)

    @property
    def top_uts(self) -> list[tuple[str, int]]:
        totals = {ut: sum(c.get(ch, 0) for ch in CHANNELS) for ut, c in self.by_ut.items()}
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def funnel_total(self) -> dict[str, int]:
        return {stage: sum(ut.get(stage, 0) for ut in self.funnel.values()) for stage in FUNNEL}

    @property
    def wave_total(self) -> dict[str, int]:
        return {stage: sum(kind.get(stage, 0) for kind in self.wave.values()) for stage in FUNNEL}

    def rows(self) -> list[Row]:
        """Every figure of the report as (section, key, measure, value), in the text's order."""
        out: list[Row] = [
            ("period", "", "from", self.start.isoformat()),
            ("period", "", "to", self.end.isoformat()),
            ("period", "", "days", self.days),
            ("period", "", "wave", self.periodo or ""),
        ]
        out += _channel_rows("lookups", "all", self.by_channel)
        out += [("verifications", "all", "verified", self.verified),
                ("verifications", "all", "failed", self.failed_verifications),
                ("households", "all", "reached", self.households)]
        for ut, _ in self.top_uts:
            out += _channel_rows("lookups_by_ut", ut, self.by_ut[ut])
        for day in sorted(self.per_day):
            out += _channel_rows("lookups_by_day", day, self.per_day[day])
        if self.assisted is not None:
            out += self.assisted.rows()
        sim = self.simulator
        out += [("simulator", "all", "lookups", sim.lookups),
                ("simulator", "all", "verified", sim.verified),
                ("simulator", "all", "failed", sim.failed_verifications)]
        for ut in sorted(self.funnel):
            out += [("reminders_by_ut", ut, stage, self.funnel[ut][stage]) for stage in FUNNEL]
        out += [("reminders_by_ut", "all", stage, n) for stage, n in self.funnel_total.items()]
        for kind in WAVE_KINDS:
            out += [("wave", kind, stage, self.wave[kind][stage]) for stage in FUNNEL]
        out += [("wave", "all", stage, n) for stage, n in self.wave_total.items()]
        out += [("broadcasts", "all", stage, self.broadcasts[stage]) for stage in FUNNEL]
        for network, (ok, bad) in sorted(self.delivery_by_network.items()):
            out += [("delivery_by_operator", network, "operator", OPERATORS.get(network, "unknown")),
                    ("delivery_by_operator", network, "delivered", ok),
                    ("delivery_by_operator", network, "delivery_failed", bad),
                    ("delivery_by_operator", network, "rate_percent", f"{delivery_rate(ok, bad):.1f}")]
        if self.freshness is not None:
            out += freshness_rows(self.freshness)
        return out


def _channel_rows(section: str, key: str, counts: dict[str, int]) -> list[Row]:
    """One row per caller channel, then their total."""
    out: list[Row] = [(section, key, ch, counts.get(ch, 0)) for ch in CHANNELS]
    out.append((section, key, "total", sum(counts.get(ch, 0) for ch in CHANNELS)))
    return out


def freshness_rows(f: Freshness) -> list[Row]:
    """The schedule data's age as report rows (empty values when no import recorded it)."""
    day, age = f.exported_on, f.age_days
    return [("schedule_data", "all", "exported_on", day.isoformat() if day else ""),
            ("schedule_data", "all", "source", f.source or ""),
            ("schedule_data", "all", "age_days", "" if age is None else age),
            ("schedule_data", "all", "max_age_days", f.max_age_days),
            ("schedule_data", "all", "stale", "yes" if f.stale else "no")]


def delivery_rate(delivered: int, failed: int) -> float:
    """Delivered as a percentage of the messages with a final report (0 when none has one)."""
    return 100.0 * delivered / (delivered + failed) if delivered + failed else 0.0


def usage_report(session: Session, start: dt.date, end: dt.date, periodo: str | None = None
                 ) -> UsageReport:
    """Lookups by channel, UT and day; verifications; households reached; assisted lookups by
    UT, Tambo and gestor; the simulator's use apart; reminders by UT, the wave of `periodo`
    (default the newest) and broadcasts by stage; delivery by operator."""
    since, until = lima_days(start, end)
    report = UsageReport(start, end)
    # Real callers only: the simulator's records are counted apart (`_simulator`).
    in_range = (Query.created_at >= since, Query.created_at < until, Query.channel.in_(CHANNELS))
    lookup = (*in_range, Query.kind.in_(LOOKUPS))
    for channel, count in session.execute(
        select(Query.channel, func.count()).where(*lookup).group_by(Query.channel)
    ):
        report.by_channel[channel] = count
    for ut, channel, count in session.execute(
        select(Query.unidad_territorial, Query.channel, func.count()).where(*lookup)
        .group_by(Query.unidad_territorial, Query.channel)
    ):
        report.by_ut.setdefault(ut or "-", {})[channel] = count
    verified = case((Query.outcome.in_(VERIFIED), 1), else_=0)
    row = session.execute(
        select(func.coalesce(func.sum(verified), 0), func.count())
        .where(*in_range, Query.kind == "verify")
    ).one()
    report.verified, report.failed_verifications = int(row[0]), int(row[1]) - int(row[0])
    report.households = int(session.scalar(
        select(func.count(func.distinct(Query.hogar_id))).where(*lookup)) or 0)
    lima_day = lima_date_of(Query.created_at)  # days on the Lima clock, per dialect
    for day, channel, count in session.execute(
        select(lima_day, Query.channel, func.count()).where(*lookup)
        .group_by(lima_day, Query.channel).order_by(lima_day)
    ):
        report.per_day.setdefault(str(day), {})[channel] = count
    report.assisted = assisted_report(session, start, end)
    report.simulator = _simulator(session, since, until)
    _messages(session, report, since, until)
    report.periodo = periodo or latest_period(session)
    report.wave = wave_stages(session, report.periodo or "")
    return report


def _simulator(session: Session, since: dt.datetime, until: dt.datetime) -> SimulatorUse:
    verified = case((Query.outcome.in_(VERIFIED), 1), else_=0)
    lookup = case((Query.kind.in_(LOOKUPS), 1), else_=0)
    verify = case((Query.kind == "verify", 1), else_=0)
    row = session.execute(
        select(func.coalesce(func.sum(lookup), 0), func.coalesce(func.sum(verify * verified), 0),
               func.coalesce(func.sum(verify), 0))
        .where(Query.created_at >= since, Query.created_at < until, Query.channel.in_(NOT_CALLERS))
    ).one()
    return SimulatorUse(int(row[0]), int(row[1]), int(row[2]) - int(row[1]))


def _messages(session: Session, report: UsageReport, since: dt.datetime, until: dt.datetime) -> None:
    created = (OutboxMessage.created_at >= since, OutboxMessage.created_at < until)
    # Reminders, no-payment notices and change notices: the wave. Broadcasts are not reminders.
    for ut, stages in stage_counts(session, OutboxMessage.unidad_territorial, *created,
                                   OutboxMessage.kind.in_(WAVE_KINDS)).items():
        if stages["planned"]:  # not a UT whose only rows are merged ones
            into = report.funnel.setdefault(ut or "-", empty())
            for stage, n in stages.items():
                into[stage] += n
    report.broadcasts = broadcast_stages(session, since, until)
    # Every message with a final delivery report, replies too: how each network delivers.
    for network, stages in stage_counts(
        session, OutboxMessage.network_code, *created, OutboxMessage.network_code.is_not(None),
        OutboxMessage.status.in_((OutboxStatus.DELIVERED, OutboxStatus.FAILED)),
    ).items():
        if stages["delivered"] or stages["delivery_failed"]:
            ok, bad = report.delivery_by_network.get(network or "-", (0, 0))
            report.delivery_by_network[network or "-"] = (ok + stages["delivered"],
                                                          bad + stages["delivery_failed"])
