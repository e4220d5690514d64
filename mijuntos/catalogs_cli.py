"""`mijuntos catalogs`: how complete each language is, and the translators' review workflow.

`mijuntos catalogs` prints the summary (reviewed, draft, missing per language), `--detail` every
text not reviewed; `export LANG FILE.csv` writes the spreadsheet a translator fills in, `import
LANG FILE.csv` checks it whole and writes the catalog only if every row passes
(docs/TRANSLATIONS.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.catalogs import LOCALES_DIR, completeness, entries
from core.settings import Settings
from mijuntos.catalog_review import Samples, export_rows, import_csv, write_csv
from models import Database

TRANSLATED = click.Choice(["qu", "ay"])


@click.group("catalogs", invoke_without_command=True)
@click.option("--detail", is_flag=True, help="list every text that is a draft or missing")
@click.pass_context
def catalogs_command(ctx: click.Context, detail: bool) -> None:
    """How complete each language's texts are: reviewed, draft, missing (then the detail)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings.from_env()
    directory = settings.locales_dir or LOCALES_DIR
    counts = completeness(directory)
    total = len(entries(directory / "es.po"))
    mode = settings.translations
    shown = "reviewed texts and drafts" if mode == "drafts" else "reviewed texts"
    click.echo(f"{total} texts; callers see {shown} (TRANSLATIONS={mode}), Spanish for the rest")
    for lang, c in counts.items():
        click.echo(f"{lang}: {c['reviewed']} reviewed, {c['draft']} draft, {c['missing']} missing")
    if not detail:
        click.echo("(--detail lists them; `mijuntos catalogs export LANG FILE.csv` for review)")
        return
    spanish = entries(directory / "es.po")
    for lang in counts:
        own = entries(directory / f"{lang}.po")
        for key, source in spanish.items():
            entry = own.get(key)
            status = entry.status if entry else "missing"
            if status != "reviewed":
                click.echo(f"  {lang} {status:8} {key}: {source.text!r}")


def _samples(settings: Settings) -> Samples:
    """The longest real values, from the database the settings name (or worst cases if none)."""
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            return Samples.from_data(s, settings.service_code, settings.helpline,
                                     settings.phone_change_grace_hours,
                                     settings.dob_lock_seconds // 60, settings.gestor_daily_cap)
    except Exception as exc:  # no database yet: the worst cases the tests use
        click.echo(f"(no imported data to measure with: {type(exc).__name__}; using worst cases)",
                   err=True)
        return Samples.from_data(None, settings.service_code, settings.helpline)
    finally:
        db.dispose()


@catalogs_command.command("export")
@click.argument("lang", type=TRANSLATED)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_command(lang: str, path: Path) -> None:
    """Write LANG's texts to a CSV for review: source, text, status, budget, example."""
    settings = Settings.from_env()
    count = write_csv(path, export_rows(lang, _samples(settings), settings.locales_dir or LOCALES_DIR))
    click.echo(f"{path}: {count} rows ({lang}); fill `text`, set `status` to reviewed or draft, "
               f"then `mijuntos catalogs import {lang} {path}`")


@catalogs_command.command("import")
@click.argument("lang", type=TRANSLATED)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(lang: str, path: Path) -> None:
    """Check a reviewed CSV and write LANG's catalog; nothing is written if any row is wrong."""
    settings = Settings.from_env()
    result = import_csv(lang, path, _samples(settings), settings.locales_dir or LOCALES_DIR)
    for error in result.errors:
        click.echo(error, err=True)
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} rows wrong: nothing written")
    click.echo(f"{lang}: {len(result.changed)} texts changed ({result.reviewed} reviewed, "
               f"{result.drafts} drafts in the file); the service reads them on its next start")
