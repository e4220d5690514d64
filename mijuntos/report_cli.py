"""`mijuntos report`: usage by channel and Unidad Territorial, and the reminder funnel."""

from __future__ import annotations

import csv
import datetime as dt
import sys

import click

from core.connections import redis_client, redis_url
from core.settings import Settings
from models import Database, Freshness, schedule_freshness
from models.reports import FUNNEL, ROW_FIELDS, UsageReport, delivery_rate, usage_report
from workers.usage import drain_before_counting

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command("report")
@click.option("--from", "start", type=DAY, default=None,
              help="first day, YYYY-MM-DD, Lima (default: 30 days before --to)")
@click.option("--to", "end", type=DAY, default=None, help="last day, YYYY-MM-DD, Lima (default: today)")
@click.option("--csv", "as_csv", is_flag=True,
              help="every figure as a CSV row: section,key,measure,value (docs/DEPLOY.md)")
def report_command(start: dt.datetime | None, end: dt.datetime | None, as_csv: bool) -> None:
    """Lookups by channel and UT, verifications, households reached, reminders by UT."""
    settings = Settings.from_env()
    last = end.date() if end else settings.local_today()
    first = start.date() if start else last - dt.timedelta(days=30)
    if first > last:
        raise click.UsageError(f"--from {first} is after --to {last}")
    db = Database(settings.database_url)
    _move_usage_records(settings, db)
    with db.session() as session:
        report = usage_report(session, first, last)
        report.freshness = schedule_freshness(session, settings.local_today(),
                                              settings.data_max_age_days)
    db.dispose()
    if as_csv:
        write_csv(report)
    else:
        click.echo("\n".join(text_lines(report)))


def _move_usage_records(settings: Settings, db: Database) -> None:
    """Lookups wait in Redis for up to a minute (core/usage_stream.py): count them too."""
    url, _ = redis_url(settings)
    client = redis_client(url)
    if not drain_before_counting(db, client):
        click.echo("warning: Redis did not answer; lookups of the last minute may be missing",
                   err=True)
    client.close()


def text_lines(r: UsageReport) -> list[str]:
    lines = [f"Mi Juntos usage {r.start} to {r.end} (days on the Lima clock)"]
    if r.freshness is not None:
        lines.append(freshness_line(r.freshness))
    lines.append("")
    total = sum(r.by_channel.values())
    lines.append(f"lookups: {total} (USSD {r.by_channel.get('ussd', 0)}, SMS {r.by_channel.get('sms', 0)})")
    lines.append(f"verifications: {r.verified} verified, {r.failed_verifications} failed")
    lines.append(f"households reached: {r.households}")
    lines += ["", f"{'Unidad Territorial':<20}{'USSD':>8}{'SMS':>8}{'total':>8}"]
    for ut, count in r.top_uts:
        c = r.by_ut[ut]
        lines.append(f"{ut:<20}{c.get('ussd', 0):>8}{c.get('sms', 0):>8}{count:>8}")
    lines += ["", "reminders and notices by UT:",
              f"{'Unidad Territorial':<20}" + "".join(f"{s:>11}" for s in FUNNEL)]
    for ut in sorted(r.funnel):
        lines.append(f"{ut:<20}" + "".join(f"{r.funnel[ut][s]:>11}" for s in FUNNEL))
    totals = r.funnel_total
    lines.append(f"{'total':<20}" + "".join(f"{totals[s]:>11}" for s in FUNNEL))
    if r.delivery_by_network:
        lines += ["", "delivery rate by operator (networkCode):"]
        for network, (ok, bad) in sorted(r.delivery_by_network.items()):
            lines.append(f"  {network}: {delivery_rate(ok, bad):.1f}% of {ok + bad}")
    return lines


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
