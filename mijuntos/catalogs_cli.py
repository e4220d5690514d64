"""`mijuntos catalogs`: how complete each language's texts are."""

from __future__ import annotations

import click

from core.catalogs import load_catalog
from dialogs.texts import LANGUAGES


@click.command("catalogs")
def catalogs_command() -> None:
    """How complete each language's texts are; untranslated ones show in Spanish."""
    catalog = load_catalog()
    total = len(catalog.keys)
    for lang in LANGUAGES:
        missing = catalog.missing(lang)
        click.echo(f"{lang}: {total - len(missing)}/{total} translated")
        for key in missing:
            click.echo(f"  missing {key}: {catalog.text('es', key)!r}")
