"""`import_dir`: load the programme's CSV exports (the contract in DOMAIN.md) into the database.

Headers of every present file are checked first; a missing column rejects the import before
anything is written. Then each file is streamed row by row in contract order (padron,
cronograma, abonos, corresponsabilidades, gestores), so references to households and pay points
hold. gestores.csv, a full list of the programme's staff, is read whole and written in one
transaction instead (mijuntos/import_gestores.py).
Bad rows are reported as `file:line: reason` and skipped. Good rows are upserted in batches,
one transaction per batch; rows whose values equal the stored ones are not written at all, so
a re-import of the same files changes nothing and reports every row as unchanged.

Choices the contract leaves open: every contract column must be in the header, even those
whose values may be empty (a missing `celular` column must not blank every phone), except a
FileSpec's `optional` ones (gestores.csv's `tambo`: without it stored Tambos are kept); a key
repeated in a file is applied in file order, so the last row wins; a DNI held by another
household is rejected (moving a DNI between households takes two imports).

When the files were exported (manifest.csv, or the files' newest modification time; see
mijuntos/manifest.py) is checked with the headers, so a malformed manifest also rejects the
import before anything is written, and is recorded in `data_export` once every file is in.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import select
from tqdm import tqdm

from mijuntos.csv_rows import FILES, FileSpec, RowError
from mijuntos.import_batch import BatchWriter, Line
from mijuntos.import_gestores import SourceRow, import_gestores
from mijuntos.import_report import ExportStamp, FileStats, ImportHeaderError, ImportReport, RowIssue
from mijuntos.manifest import ManifestError, export_stamp
from models import Database, DataExport
from models.base import utcnow
from models.export import SCHEDULE_FILES

__all__ = ["ImportHeaderError", "ImportReport", "import_dir"]

log = logging.getLogger(__name__)


def import_dir(
    db: Database, directory: Path, *, batch_size: int = 2000, progress: bool = False,
    now: dt.datetime | None = None, on_commit: Callable[[], None] | None = None,
) -> ImportReport:
    """Import every contract CSV file present in `directory` and report what happened.

    `on_commit` is called after each batch that wrote rows is committed (the CLI tells the web
    processes there, so no worker keeps showing what a batch replaced)."""
    directory = Path(directory)
    now = now or utcnow()
    present = [spec for spec in FILES if (directory / spec.name).is_file()]
    problems: list[str] = []
    stamp = None
    if present:
        try:
            stamp = export_stamp(directory, [directory / spec.name for spec in present], now)
        except ManifestError as exc:
            problems.append(str(exc))
    headers = check_headers(directory, present, problems)
    report = ImportReport(export=stamp)
    for spec in present:
        stats = report.stats(spec.name)
        if spec.full_list:
            import_gestores(db, spec, _whole_file(directory / spec.name, headers[spec.name]),
                            report, stats, now)
        else:
            _import_file(db, directory / spec.name, spec, headers[spec.name], report, stats,
                         batch_size=batch_size, progress=progress, on_commit=on_commit)
        log.info("import %s", stats.line())
    if stamp is not None:
        _record_export(db, stamp, report, now)
        log.info("import %s", stamp.line())
    return report


def _record_export(db: Database, stamp: ExportStamp, report: ImportReport, now: dt.datetime) -> None:
    """Record the import's export time: one row per export and set of files."""
    # A re-import of the latest export changes nothing. The same export imported again after
    # another one is the latest import again (its rows overwrote the other's): its row takes
    # this import's time and counts.
    files = ",".join(report.files)
    with db.session() as s:
        row = s.scalar(select(DataExport).where(DataExport.exported_at == stamp.exported_at,
                                                DataExport.files == files))
        latest = s.scalar(select(DataExport.id).order_by(DataExport.imported_at.desc(),
                                                         DataExport.id.desc()).limit(1))
        if row is not None and row.id == latest:
            return
        if row is None:
            row = DataExport(exported_at=stamp.exported_at, files=files)
            s.add(row)
        row.source = stamp.source
        row.imported_at = now
        row.schedule = any(name in report.files for name in SCHEDULE_FILES)
        row.rows_read = sum(f.read for f in report.files.values())
        row.rows_changed = sum(f.changed for f in report.files.values())
        row.rows_rejected = report.rejected


def check_headers(
    directory: Path, specs: list[FileSpec], problems: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Each file's column positions; raise ImportHeaderError naming every file that lacks some.

    `problems` found before (a malformed manifest.csv) are reported with the headers' own.
    """
    headers: dict[str, dict[str, int]] = {}
    problems = list(problems or [])
    for spec in specs:
        with open(directory / spec.name, "rb") as raw:
            first = next(csv.reader(_decoded_lines(raw, set())), None)
        if first is None:
            problems.append(f"{spec.name}: empty file, no header row")
            continue
        positions: dict[str, int] = {}
        for i, name in enumerate(first):
            positions.setdefault(name.strip().lower(), i)
        missing = [c for c in spec.columns if c not in positions and c not in spec.optional]
        if missing:
            problems.append(f"{spec.name}: header lacks required column(s) {', '.join(missing)}")
        headers[spec.name] = {c: positions[c] for c in spec.columns if c in positions}
    if problems:
        raise ImportHeaderError("; ".join(problems) + " (nothing was imported)")
    return headers


def _decoded_lines(raw: IO[bytes], bad: set[int]) -> Iterator[str]:
    """The file's lines as text, without a byte-order mark; undecodable line numbers go in `bad`.

    Decoding line by line (not in 8 KB chunks) keeps one bad byte from costing its neighbours.
    """
    for number, chunk in enumerate(raw, start=1):
        if number == 1 and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8):]
        try:
            yield chunk.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(number)
            yield chunk.decode("utf-8", "replace")


def _rows(lines: Iterator[str], columns: dict[str, int]) -> Iterator[tuple[int, int, dict[str, str]]]:
    """Data rows as (first line, last line, {column: raw value}), blank lines skipped."""
    reader = csv.reader(lines)
    next(reader, None)
    last = reader.line_num
    for fields in reader:
        first, last = last + 1, reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        width = len(fields)
        yield first, last, {c: fields[i] if i < width else "" for c, i in columns.items()}


def _whole_file(path: Path, columns: dict[str, int]) -> list[SourceRow]:
    """Every data row of a (small) file, each with whether all its lines decoded as UTF-8."""
    undecodable: set[int] = set()
    with open(path, "rb") as raw:
        return [(first, row, undecodable.isdisjoint(range(first, last + 1)))
                for first, last, row in _rows(_decoded_lines(raw, undecodable), columns)]


def _import_file(
    db: Database,
    path: Path,
    spec: FileSpec,
    columns: dict[str, int],
    report: ImportReport,
    stats: FileStats,
    *,
    batch_size: int,
    progress: bool,
    on_commit: Callable[[], None] | None,
) -> None:
    """Stream one file through the parser and the batch writer."""
    writer = BatchWriter(spec, db.engine.dialect.name)
    size = path.stat().st_size
    with open(path, "rb") as raw, tqdm(
        total=size, unit="B", unit_scale=True, desc=spec.name, disable=not progress, leave=True
    ) as bar:
        batch: list[Line] = []
        issues: list[RowIssue] = []
        undecodable: set[int] = set()

        def flush() -> None:
            _flush(db, writer, spec, batch, issues, report, stats, on_commit)
            batch.clear()
            issues.clear()
            bar.update(raw.tell() - bar.n)

        for first, last, row in _rows(_decoded_lines(raw, undecodable), columns):
            stats.read += 1
            try:
                if undecodable and not undecodable.isdisjoint(range(first, last + 1)):
                    raise RowError("encoding: not valid UTF-8 (save the file as UTF-8)")
                batch.append((first, spec.parse(row)))
            except RowError as exc:
                issues.append(RowIssue(spec.name, first, str(exc)))
            if len(batch) + len(issues) >= batch_size:
                flush()
        flush()
        with db.engine.begin() as conn:
            writer.analyze(conn)
        bar.update(size - bar.n)


def _flush(
    db: Database,
    writer: BatchWriter,
    spec: FileSpec,
    batch: list[Line],
    issues: list[RowIssue],
    report: ImportReport,
    stats: FileStats,
    on_commit: Callable[[], None] | None,
) -> None:
    """Write one batch in its own transaction and record its rejected rows."""
    rejected = list(issues)
    if batch:
        written = stats.changed
        with db.engine.begin() as conn:
            bad = writer.write(conn, batch, stats)
        rejected += [RowIssue(spec.name, line, reason) for line, reason in bad]
        if on_commit is not None and stats.changed > written:
            on_commit()
    stats.rejected += len(rejected)
    report.add_errors(rejected)
