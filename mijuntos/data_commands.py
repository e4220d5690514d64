"""`mijuntos import` and `mijuntos demo-data` (placeholders until written)."""

from __future__ import annotations

import click


@click.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def import_command(directory: str) -> None:
    """Import the programme's CSV files from DIRECTORY."""
    raise click.ClickException("not written yet")


@click.command("demo-data")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--households", default=200, show_default=True)
def demo_data_command(directory: str, households: int) -> None:
    """Write a synthetic data set in the CSV contract format to DIRECTORY."""
    raise click.ClickException("not written yet")
