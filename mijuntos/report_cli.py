"""`mijuntos report`: usage by channel and Unidad Territorial, and the reminder funnel."""

from __future__ import annotations

import csv
import datetime as dt
import sys

import click

from gateway.config import Settings
from models import Database
from models.reports import FUNNEL, UsageReport, usage_report


def _date(value: str | None, default: dt.date) -> dt.date:
    return dt.date.fromisoformat(value) if value else default


@click.command("report")
@click.option("--from", "start", default=None, help="first day, YYYY-MM-DD (default: 30 days ago)")
@click.option("--to", "end", default=None, help="last day, YYYY-MM-DD (default: today)")
@click.option("--csv", "as_csv", is_flag=True, help="one table, for a spreadsheet")
def report_command(start: str | None, end: str | None, as_csv: bool) -> None:
    """Lookups by channel and UT, verifications, households reached, reminders by UT."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=-5))).date()
    first, last = _date(start, today - dt.timedelta(days=30)), _date(end, today)
    if first > last:
        raise click.BadParameter("--from is after --to")
    settings = Settings.from_env()
    db = Database(settings.database_url)
    _move_usage_records(settings, db)
    with db.session() as session:
        report = usage_report(session, first, last)
    db.dispose()
    if as_csv:
        write_csv(report)
    else:
        click.echo("\n".join(text_lines(report)))


def _move_usage_records(settings: Settings, db: Database) -> None:
    """Lookups wait in Redis for up to a minute (gateway/usage.py): count them too."""
    from gateway.services import embedded_redis_url, redis_client
    from workers.usage import drain_before_counting

    url = settings.redis_url
    if not url:
        url, _ = embedded_redis_url(settings.var_dir.resolve())
    client = redis_client(url)
    if not drain_before_counting(db, client):
        click.echo("warning: Redis did not answer; lookups of the last minute may be missing",
                   err=True)
    client.close()


def text_lines(r: UsageReport) -> list[str]:
    lines = [f"Mi Juntos usage {r.start} to {r.end} (days on the Lima clock)", ""]
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
            rate = 100.0 * ok / (ok + bad) if ok + bad else 0.0
            lines.append(f"  {network}: {rate:.1f}% of {ok + bad}")
    return lines


def write_csv(r: UsageReport) -> None:
    """One row per UT: lookups by channel and the reminder funnel."""
    out = csv.writer(sys.stdout)
    out.writerow(["unidad_territorial", "lookups_ussd", "lookups_sms", *FUNNEL])
    for ut in sorted(set(r.by_ut) | set(r.funnel)):
        lookups = r.by_ut.get(ut, {})
        funnel = r.funnel.get(ut, dict.fromkeys(FUNNEL, 0))
        out.writerow([ut, lookups.get("ussd", 0), lookups.get("sms", 0), *(funnel[s] for s in FUNNEL)])
