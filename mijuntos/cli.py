"""The `mijuntos` command: the programme's operations on top of every other part.

Development tools (the stand-in provider, demo data, a phone at the terminal, `mijuntos up`)
join it from the separate `mijuntos-dev` distribution (devtools/) through the
`mijuntos.commands` entry points; a production install has none of them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from core.catalogs import load_catalog
from core.settings import Settings
from dialogs.texts import LANGUAGES
from mijuntos.admin_cli import admin
from mijuntos.data_commands import import_command
from mijuntos.phone_changes_cli import phone_changes_command
from mijuntos.reminders_cli import reminders
from mijuntos.report_cli import report_command
from mijuntos.scheduler import scheduler_command
from mijuntos.startup import SettingsGroup
from mijuntos.worker import worker_command
from models import Database

COMMAND_GROUP = "mijuntos.commands"


@click.group(cls=SettingsGroup)
def main() -> None:
    """Mi Juntos by USSD and SMS."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations to DATABASE_URL (SQLite under var/ by default)."""
    settings = Settings.from_env()
    Database(settings.database_url).upgrade(revision)
    click.echo(f"database at revision {revision}")


@main.command("catalogs")
def catalogs() -> None:
    """How complete each language's texts are; untranslated ones show in Spanish."""
    catalog = load_catalog()
    total = len(catalog.keys)
    for lang in LANGUAGES:
        missing = catalog.missing(lang)
        click.echo(f"{lang}: {total - len(missing)}/{total} translated")
        for key in missing:
            click.echo(f"  missing {key}: {catalog.text('es', key)!r}")


for command in (import_command, phone_changes_command, reminders, report_command, admin,
                scheduler_command, worker_command):
    main.add_command(command)
for point in entry_points(group=COMMAND_GROUP):  # the development tools, when installed
    main.add_command(point.load(), point.name)


if __name__ == "__main__":
    main()
