"""`mijuntos report`: usage by channel and Unidad Territorial, and the reminder funnel."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Sequence

import click

from core.connections import redis_client, redis_url
from core.settings import Settings
from models import Database, Freshness, funnel, schedule_freshness
from models.assisted import GROUPINGS, MEASURES
from models.operators import operator_label
from models.query import CHANNEL_NAMES
from models.reports import (
    DEFAULT_DAYS,
    FUNNEL,
    ROW_FIELDS,
    UsageReport,
    default_start,
    delivery_rate,
    usage_report,
)
from models.wave import WAVE_KINDS, periods
from workers.usage import drain_before_counting

DAY = click.DateTime(formats=["%Y-%m-%d"])
# Each caller channel's column is named by models/query.py CHANNEL_NAMES; "gestor" (assisted
# lookups: a gestor's phone consulting for a titular) has sections of its own (assisted_lines).


@click.command("report")
@click.option("--from", "start", type=DAY, default=None,
              help=f"first day, YYYY-MM-DD, Lima (default: the last {DEFAULT_DAYS} days to --to)")
@click.option("--to", "end", type=DAY, default=None, help="last day, YYYY-MM-DD, Lima (default: today)")
@click.option("--periodo", default=None, metavar="YYYY-M",
              help="the wave whose reminders to show by kind (default: the newest settled period)")
@click.option("--csv", "as_csv", is_flag=True,
              help="every figure as a CSV row: section,key,measure,value (docs/DEPLOY.md)")
def report_command(start: dt.datetime | None, end: dt.datetime | None, periodo: str | None,
                   as_csv: bool) -> None:
    """Lookups by channel and UT, verifications, households reached, reminders by UT.

    Real callers only, the simulator's use on its own line; lookups by day too; messages by
    stage (reminders by UT, a period's wave by kind, broadcasts); delivery by operator.
    """
    settings = Settings.from_env()
    today = settings.local_today()
    last = end.date() if end else today
    first = start.date() if start else default_start(last)
    if first > last:
        raise click.UsageError(f"--from {first} is after --to {last}")
    db = Database(settings.database_url)
    move_usage_records(settings, db)
    with db.session() as session:
        known = periods(session)
        report = usage_report(session, first, last, periodo) if periodo in (None, *known) else None
        if report is not None:
            report.freshness = schedule_freshness(session, today, settings.data_max_age_days)
    db.dispose()
    if report is None:
        raise click.UsageError(f"--periodo {periodo}: no settlements of that period "
                               f"(settled: {', '.join(known) or 'none'})")
    if as_csv:
        write_csv(report)
    else:
        click.echo("\n".join(text_lines(report)))


def move_usage_records(settings: Settings, db: Database) -> None:
    """Lookups wait in Redis for up to a minute (core/usage_stream.py): count them too."""
    url, _ = redis_url(settings)
    client = redis_client(url)
    if not drain_before_counting(db, client):
        click.echo("warning: Redis did not answer; lookups of the last minute may be missing",
                   err=True)
    client.close()


def text_lines(r: UsageReport) -> list[str]:
    lines = [f"Mi Juntos usage {r.start} to {r.end} ({r.days} days on the Lima clock)"]
    if r.freshness is not None:
        lines.append(freshness_line(r.freshness))
    names = [CHANNEL_NAMES[ch] for ch in r.channels]
    shares = ", ".join(f"{n} {r.by_channel.get(ch, 0)}" for n, ch in zip(names, r.channels, strict=True))
    sim = r.simulator
    lines += ["", "Real callers (gestor: assisted lookups, detailed below; the simulator is counted "
              "apart, on its own line):",
              f"lookups: {r.lookups} ({shares})",
              f"verifications: {r.verified} verified, {r.failed_verifications} failed",
              f"households reached: {r.households}",
              f"simulator (staff training; in no other figure of this report): {sim.lookups} lookups, "
              f"{sim.verified + sim.failed_verifications} verifications ({sim.verified} verified, "
              f"{sim.failed_verifications} failed)", "", "lookups by Unidad Territorial, busiest first:"]
    lines += table("Unidad Territorial", [*names, "total"],
                   [(ut, [*(r.by_ut[ut].get(ch, 0) for ch in r.channels), total]) for ut, total in r.top_uts])
    lines += ["", "lookups by day (the days with any):"]
    lines += table("day", [*names, "total"],
                   [(day, [*(c.get(ch, 0) for ch in r.channels), sum(c.get(ch, 0) for ch in r.channels)])
                    for day, c in sorted(r.per_day.items())])
    lines += assisted_lines(r)
    lines += ["", "messages by stage (docs/REMINDERS.md):", *(f"  {line}" for line in funnel.sums()),
              "", "reminders and notices created in these days, by UT:"]
    lines += table("Unidad Territorial", FUNNEL,
                   [*((ut, [r.funnel[ut][s] for s in FUNNEL]) for ut in sorted(r.funnel)),
                    ("total", [r.funnel_total[s] for s in FUNNEL])])
    lines += ["", f"wave of period {r.periodo or '-'} (its reminders and notices, created on any day):"]
    lines += table("kind", FUNNEL, [*((kind, [r.wave[kind][s] for s in FUNNEL]) for kind in WAVE_KINDS),
                                    ("total", [r.wave_total[s] for s in FUNNEL])])
    lines += ["", "broadcasts created in these days:"]
    lines += table("", FUNNEL, [("broadcasts", [r.broadcasts[s] for s in FUNNEL])])
    if r.delivery_by_network:
        lines += ["", "delivery rate by operator (networkCode), every message created in these days:"]
        for network, (ok, bad) in sorted(r.delivery_by_network.items()):
            lines.append(f"  {operator_label(network, 'unknown')}: {delivery_rate(ok, bad):.1f}% of "
                         f"{ok + bad} ({ok} delivered, {bad} delivery_failed)")
    return lines


def assisted_lines(r: UsageReport) -> list[str]:
    """The gestor channel's lookups by the gestor's UT, their Tambo and the gestor."""
    a = r.assisted
    if a is None:
        return []
    lines = ["", "assisted lookups (channel gestor: a gestor's phone, for a titular), in three ways:",
             "  verified, failed: their verifications; summaries_sent: next-payment SMS sent to the",
             "  household's phone of record; households: distinct in each row (a household two",
             "  gestores helped counts in each row, once in the total)"]
    titles = {"ut": "assisted lookups by the gestor's Unidad Territorial, busiest first:",
              "tambo": "assisted lookups by Tambo, busiest first:",
              "gestor": "assisted lookups by gestor, busiest first:"}
    for _, by, label in GROUPINGS:
        lines += ["", titles[by]]
        rows = [*a.busiest(by), ("total", a.total)]
        lines += table(label, MEASURES, [(key, [getattr(c, m) for m in MEASURES]) for key, c in rows])
    return lines


def table(first: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[int | str]]]
          ) -> list[str]:
    """A text table: a label column, then right-aligned number columns as wide as they need."""
    left = max([len(first), *(len(label) for label, _ in rows)]) + 2
    widths = [max([len(c), *(len(str(values[i])) for _, values in rows)]) + 2 for i, c in enumerate(columns)]
    out = [f"{first:<{left}}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))]
    out += [f"{label:<{left}}" + "".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))
            for label, values in rows]
    return out


def freshness_line(f: Freshness) -> str:
    """The schedule data's export day and age, and whether it is past DATA_MAX_AGE_DAYS."""
    if f.exported_on is None:
        return "schedule data: export date unknown (no import has recorded one)"
    verdict = (f"STALE: older than DATA_MAX_AGE_DAYS={f.max_age_days}" if f.stale
               else f"within DATA_MAX_AGE_DAYS={f.max_age_days}")
    source = "manifest.csv" if f.source == "manifest" else "files' time"
    return (f"schedule data: exported {f.exported_on} ({source}), {f.age_days} day(s) old, "
            f"{verdict}")


def write_csv(r: UsageReport) -> None:
    """Every figure of the text report, one a row (a spreadsheet's pivot table regroups them)."""
    out = csv.writer(sys.stdout)
    out.writerow(ROW_FIELDS)
    out.writerows(r.rows())
