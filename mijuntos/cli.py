"""The `mijuntos` command."""

from __future__ import annotations

import click

from gateway.config import Settings
from models import Database


@click.group()
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
    from dialogs.texts import LANGUAGES
    from gateway.i18n import load_catalog

    catalog = load_catalog()
    total = len(catalog.keys)
    for lang in LANGUAGES:
        missing = catalog.missing(lang)
        click.echo(f"{lang}: {total - len(missing)}/{total} translated")
        for key in missing:
            click.echo(f"  missing {key}: {catalog.text('es', key)!r}")


def _register() -> None:
    from mijuntos.admin_cli import admin
    from mijuntos.data_commands import demo_data_command, import_command
    from mijuntos.dial import dial_command
    from mijuntos.fake_at import fake_at_command
    from mijuntos.phone_changes_cli import phone_changes_command
    from mijuntos.reminders_cli import reminders
    from mijuntos.report_cli import report_command
    from mijuntos.scheduler import scheduler_command
    from mijuntos.serve import up_command
    from mijuntos.sms_cli import sms_command
    from mijuntos.worker import worker_command

    main.add_command(import_command)
    main.add_command(demo_data_command)
    main.add_command(dial_command)
    main.add_command(fake_at_command)
    main.add_command(phone_changes_command)
    main.add_command(up_command)
    main.add_command(reminders)
    main.add_command(report_command)
    main.add_command(admin)
    main.add_command(scheduler_command)
    main.add_command(sms_command)
    main.add_command(worker_command)


_register()


if __name__ == "__main__":
    main()
