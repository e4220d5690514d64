"""`mijuntos demo-data`: a synthetic data set in the import contract's format."""

from __future__ import annotations

from pathlib import Path

import click

from mijuntos_dev.demo_data import write_demo_data


@click.command("demo-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--households", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=7, show_default=True)
@click.option("--periods", default=4, show_default=True, type=click.IntRange(min=2))
def demo_data_command(directory: Path, households: int, seed: int, periods: int) -> None:
    """Write a synthetic data set in the CSV contract format to DIRECTORY."""
    summary = write_demo_data(directory, households, seed=seed, periods=periods)
    for line in summary.lines():
        click.echo(line)
