"""`mijuntos gestores list|anomalies`: the gestores, their day's assisted lookups, and the
anomaly rule's flags (models/gestor_review.py; docs/DEPLOY.md "Gestores")."""

from __future__ import annotations

import datetime as dt

import click

from core.settings import Settings
from mijuntos.report_cli import DAY, move_usage_records, table
from models import Database
from models.assisted import roster
from models.clock import LIMA
from models.gestor_review import (
    HISTORY_DAYS,
    NO_HISTORY_MIN_LOOKUPS,
    VOLUME_FACTOR,
    VOLUME_MIN_LOOKUPS,
    anomalies,
)


@click.group("gestores")
def gestores() -> None:
    """Gestores: their assisted lookups and the anomaly flags."""


def _open(settings: Settings) -> Database:
    db = Database(settings.database_url)
    move_usage_records(settings, db)  # the last minute's lookups wait in Redis
    return db


@gestores.command("list")
@click.option("--day", type=DAY, default=None,
              help="the Lima day whose lookups to show, YYYY-MM-DD (default: today)")
def list_command(day: dt.datetime | None) -> None:
    """Every gestor: code, UT, Tambo, estado, suspension, today's lookups and verifications."""
    settings = Settings.from_env()
    today = day.date() if day else settings.local_today()
    db = _open(settings)
    with db.session() as s:
        rows = roster(s, today)
    db.dispose()
    click.echo(f"gestores, with their assisted lookups of {today} (Lima):")
    if not rows:
        click.echo("no gestores (import gestores.csv)")
        return
    for r in rows:
        g = r.gestor
        suspended = (f"suspended {g.suspended_at.astimezone(LIMA):%Y-%m-%d %H:%M} by {g.suspended_by}"
                     if g.suspended_at else "not suspended")
        click.echo(f"{g.gestor_id}  {r.name}  UT {g.unidad_territorial}  Tambo {g.tambo or '-'}  "
                   f"{g.estado}, {suspended}  today: {r.day.lookups} lookups, {r.day.verified} verified, "
                   f"{r.day.failed} failed")


@gestores.command("anomalies")
@click.option("--day", type=DAY, default=None, help="the Lima day to judge, YYYY-MM-DD (default: today)")
@click.option("--all", "show_all", is_flag=True, help="every gestor with lookups that day, flagged or not")
def anomalies_command(day: dt.datetime | None, show_all: bool) -> None:
    """Gestores above their usual volume, or looking up households outside their UT."""
    settings = Settings.from_env()
    judged = day.date() if day else settings.local_today()
    db = _open(settings)
    with db.session() as s:
        found = anomalies(s, judged, flagged_only=not show_all)
    db.dispose()
    click.echo(f"gestores flagged on {judged} (Lima): volume = at least {VOLUME_MIN_LOOKUPS} lookups and "
               f"more than {VOLUME_FACTOR}x the median of their days with lookups in the {HISTORY_DAYS} "
               f"days before (none: at least {NO_HISTORY_MIN_LOOKUPS}); outside_ut = lookups of "
               "households of another UT than the gestor's")
    if not found:
        click.echo("none")
        return
    rows: list[tuple[str, list[int | str]]] = [
        (a.gestor_id, [a.lookups, "-" if a.median is None else f"{a.median:g}", a.history_days,
                       a.outside_ut, ",".join(a.reasons) or "-"]) for a in found]
    click.echo("\n".join(table("gestor", ["lookups", "median", "history_days", "outside_ut", "flags"], rows)))
