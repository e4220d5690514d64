"""`mijuntos phone-changes`: the newest moves of households' phones of record, for staff."""

from __future__ import annotations

import datetime as dt

import click

from core.settings import Settings
from models import Database
from models.phone_change import describe, recent_changes


@click.command("phone-changes")
@click.option("--hogar", "hogar_ids", multiple=True, help="only this household (repeatable)")
@click.option("--limit", default=200, show_default=True, help="newest first, at most this many")
def phone_changes_command(hogar_ids: tuple[str, ...], limit: int) -> None:
    """Every move of a phone of record: household, when (Lima), channel, masked phones, undone."""
    db = Database(Settings.from_env().database_url)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        rows = [describe(c, n, now) for c, n in recent_changes(
            session, tuple(h.strip().upper() for h in hogar_ids), limit)]
    db.dispose()
    if not rows:
        click.echo("no phone changes")
    for r in rows:
        click.echo(f"{r['hogar_id']}  {r['when']}  {r['channel']}  {r['old']} -> {r['new']}  "
                   f"SMS al anterior: {r['notice']}  {r['state']}")
