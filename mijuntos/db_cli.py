"""`mijuntos db upgrade`: the schema's migrations (the Procfile's `release` step)."""

from __future__ import annotations

import click

from core.settings import Settings
from models import Database


@click.group("db")
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations to DATABASE_URL (SQLite under var/ by default)."""
    settings = Settings.from_env()
    Database(settings.database_url).upgrade(revision)
    click.echo(f"database at revision {revision}")
