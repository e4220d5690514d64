"""Usage reports as the programme reports the app: by channel and by Unidad Territorial."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models.clock import lima_date_of, lima_days
from models.export import Freshness
from models.outbox import OutboxMessage, OutboxStatus, SkipReason
from models.query import Query

VERIFIED = ("ok_phone", "ok_dob")
LOOKUPS = ("next_payment", "status", "co_responsibilities")
FUNNEL = ("planned", "sent", "delivered", "failed", "opted_out")
CHANNELS = ("ussd", "sms")
# The long form of a report (`UsageReport.rows`, `mijuntos report --csv`): one figure a row.
ROW_FIELDS = ("section", "key", "measure", "value")


@dataclass
class UsageReport:
    start: dt.date
    end: dt.date  # inclusive
    by_channel: dict[str, int] = field(default_factory=dict)
    by_ut: dict[str, dict[str, int]] = field(default_factory=dict)  # UT -> channel -> lookups
    verified: int = 0
    failed_verifications: int = 0
    households: int = 0
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> channel -> lookups
    funnel: dict[str, dict[str, int]] = field(default_factory=dict)  # UT -> stage -> messages
    delivery_by_network: dict[str, tuple[int, int]] = field(default_factory=dict)  # delivered, failed
    freshness: Freshness | None = None  # the schedule data's age (models/export.py)

    @property
    def top_uts(self) -> list[tuple[str, int]]:
        totals = {ut: sum(c.values()) for ut, c in self.by_ut.items()}
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def funnel_total(self) -> dict[str, int]:
        return {stage: sum(ut.get(stage, 0) for ut in self.funnel.values()) for stage in FUNNEL}

    def rows(self) -> list[tuple[str, str, str, str | int]]:
        """Every figure of the report as (section, key, measure, value), in the text's order."""
        out: list[tuple[str, str, str, str | int]] = [
            ("period", "", "from", self.start.isoformat()),
            ("period", "", "to", self.end.isoformat()),
        ]
        out += [("lookups", "all", ch, self.by_channel.get(ch, 0)) for ch in CHANNELS]
        out.append(("lookups", "all", "total", sum(self.by_channel.values())))
        out += [("verifications", "all", "verified", self.verified),
                ("verifications", "all", "failed", self.failed_verifications),
                ("households", "all", "reached", self.households)]
        for ut, total in self.top_uts:
            out += [("lookups_by_ut", ut, ch, self.by_ut[ut].get(ch, 0)) for ch in CHANNELS]
            out.append(("lookups_by_ut", ut, "total", total))
        for ut in sorted(self.funnel):
            out += [("reminders_by_ut", ut, stage, self.funnel[ut][stage]) for stage in FUNNEL]
        out += [("reminders_by_ut", "all", stage, n) for stage, n in self.funnel_total.items()]
        for network, (ok, bad) in sorted(self.delivery_by_network.items()):
            out += [("delivery_by_operator", network, "delivered", ok),
                    ("delivery_by_operator", network, "failed", bad),
                    ("delivery_by_operator", network, "rate_percent", f"{delivery_rate(ok, bad):.1f}")]
        if self.freshness is not None:
            out += freshness_rows(self.freshness)
        return out


def freshness_rows(f: Freshness) -> list[tuple[str, str, str, str | int]]:
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


def usage_report(session: Session, start: dt.date, end: dt.date) -> UsageReport:
    """Lookups by channel, UT and day; verifications; households reached; reminder funnel."""
    since, until = lima_days(start, end)
    report = UsageReport(start, end)
    in_range = (Query.created_at >= since, Query.created_at < until)
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
    _funnel(session, report, since, until)
    return report


def _funnel(session: Session, report: UsageReport, since: dt.datetime, until: dt.datetime) -> None:
    sent = (OutboxStatus.SUBMITTED, OutboxStatus.DELIVERED)
    # Reminders, no-payment notices and change notices: the wave. Broadcasts are not reminders.
    where = (OutboxMessage.kind.in_(("reminder", "notice", "change")),
             OutboxMessage.created_at >= since, OutboxMessage.created_at < until)
    for ut, status, reason, count in session.execute(
        select(OutboxMessage.unidad_territorial, OutboxMessage.status, OutboxMessage.failure_reason,
               func.count()).where(*where)
        .group_by(OutboxMessage.unidad_territorial, OutboxMessage.status, OutboxMessage.failure_reason)
    ):
        stages = report.funnel.setdefault(ut or "-", dict.fromkeys(FUNNEL, 0))
        if status == OutboxStatus.SKIPPED and reason == SkipReason.MERGED:
            continue  # carried by another household's SMS to the same phone: not a message
        stages["planned"] += count
        if status in sent or (status == OutboxStatus.FAILED and reason not in ("retries_exhausted",)):
            stages["sent"] += count
        if status == OutboxStatus.DELIVERED:
            stages["delivered"] += count
        if status == OutboxStatus.FAILED:
            stages["failed"] += count
        if status == OutboxStatus.SKIPPED and reason in ("opted_out", "reminders_off"):
            stages["opted_out"] += count
    for network, status, count in session.execute(
        select(OutboxMessage.network_code, OutboxMessage.status, func.count())
        .where(OutboxMessage.created_at >= since, OutboxMessage.created_at < until,
               OutboxMessage.status.in_((OutboxStatus.DELIVERED, OutboxStatus.FAILED)),
               OutboxMessage.network_code.is_not(None))
        .group_by(OutboxMessage.network_code, OutboxMessage.status)
    ):
        network = network or "-"
        delivered, failed = report.delivery_by_network.get(network, (0, 0))
        if status == OutboxStatus.DELIVERED:
            delivered += count
        else:
            failed += count
        report.delivery_by_network[network] = (delivered, failed)
