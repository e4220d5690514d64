"""`mijuntos import`."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from core.catalogs import catalog_for
from core.connections import announce_data_change
from core.keys import FACTS_MAX_AGE
from core.settings import Settings
from mijuntos.csv_rows import FILES
from mijuntos.importer import ImportHeaderError, import_dir
from models import Database
from workers.planner import plan_reminders

SHOWN_ERRORS = 50
EXIT_REJECTED_ROWS = 1
EXIT_REJECTED_HEADER = 2
EXIT_DATABASE_ERROR = 3
EXIT_NOTHING_FOUND = 4


def nothing_found(directory: Path) -> str:
    """What to say of a directory holding no contract file (a wrong path, or renamed files)."""
    expected = ", ".join(spec.name for spec in FILES)
    others = sorted(p.name for p in directory.iterdir() if p.suffix.lower() == ".csv")
    found = f"; its CSV files: {', '.join(others[:10])}" if others else "; it has no CSV file"
    return f"nothing imported: {directory} has none of {expected}{found}"


class WebNotice:
    """Called after each committed batch: tells the web processes (a new data generation in
    Redis) so that none keeps showing what the batch replaced. Redis down does not stop an
    import: the first failure is kept, to be said once, and no more tries are made."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.failed: str | None = None

    def __call__(self) -> None:
        if self.failed is None:
            self.failed = announce_data_change(self.settings)


@click.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--batch-size", default=2000, show_default=True, help="Rows per transaction.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--plan/--no-plan", default=True, show_default=True,
              help="Plan reminders and no-payment notices for what was imported.")
def import_command(directory: Path, batch_size: int, progress: bool, plan: bool) -> None:
    """Import the programme's CSV files from DIRECTORY.

    Exit status: 0 all rows imported (warnings included), 1 some rows rejected, 2 a header was rejected
    (and nothing was imported), 3 the database failed, 4 no contract file in DIRECTORY.
    """
    if not any((directory / spec.name).is_file() for spec in FILES):
        click.echo(nothing_found(directory), err=True)
        raise click.exceptions.Exit(EXIT_NOTHING_FOUND)
    settings = Settings.from_env()
    db = Database(settings.database_url)
    tell_web = WebNotice(settings)
    try:
        db.upgrade()
        report = import_dir(db, directory, batch_size=batch_size, progress=progress,
                            on_commit=tell_web)
        if plan and any((directory / name).is_file() for name in ("cronograma.csv", "abonos.csv")):
            catalog = catalog_for(settings)
            click.echo(plan_reminders(db, catalog, settings, progress=progress).line())
    except ImportHeaderError as exc:
        click.echo(f"rejected: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_REJECTED_HEADER) from None
    except SQLAlchemyError as exc:
        # SQLAlchemy's own message lists the batch's parameters: DNIs, birth dates, phones.
        cause = type(getattr(exc, "orig", None) or exc).__name__
        click.echo(f"database error ({cause}); batches written before it are kept", err=True)
        raise click.exceptions.Exit(EXIT_DATABASE_ERROR) from None
    finally:
        db.dispose()
        if tell_web.failed:
            click.echo(f"warning: the web processes were not told of the new data: {tell_web.failed};"
                       f" they show it within {FACTS_MAX_AGE // 60} minutes", err=True)
    for line in report.summary_lines():
        click.echo(line)
    for issue in report.errors[:SHOWN_ERRORS]:
        click.echo(str(issue))
    if report.error_count > SHOWN_ERRORS:
        click.echo(f"... {report.error_count - SHOWN_ERRORS} more")
    for issue in report.warnings[:SHOWN_ERRORS]:
        click.echo(str(issue))
    if report.warning_count > SHOWN_ERRORS:
        click.echo(f"... {report.warning_count - SHOWN_ERRORS} more warnings")
    if not report.ok:
        raise click.exceptions.Exit(EXIT_REJECTED_ROWS)
