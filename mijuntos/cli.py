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


def _register() -> None:
    from mijuntos.data_commands import demo_data_command, import_command

    main.add_command(import_command)
    main.add_command(demo_data_command)


_register()
