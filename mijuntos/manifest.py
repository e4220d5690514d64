"""`manifest.csv`: when the programme exported a set of files (or, without it, the files' time).

The contract (DOMAIN.md): an optional file with one row and the column `exportado_el`, a
`YYYY-MM-DD` date or an ISO date-time. A date alone means the start of that day in Lima (the
oldest it can be: staleness is never underestimated); a date-time without a zone is Lima time.
Without the file, the newest modification time of the imported contract files stands in: it is
when the export was written to disk, the closest thing to an export time the files carry (the
import's own time would call a month-old export fresh). A modification time in the future (a
skewed file server) is taken as the import's time.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

from mijuntos.import_report import ExportStamp
from models import ExportSource
from models.clock import LIMA, lima_day_start

NAME = "manifest.csv"
COLUMN = "exportado_el"
# An export stamped a little ahead of this machine's clock is a skew, not an error.
CLOCK_SKEW = dt.timedelta(minutes=10)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")


class ManifestError(ValueError):
    """manifest.csv breaks the contract: `manifest.csv:line: what is wrong`."""


def export_stamp(directory: Path, files: Iterable[Path], now: dt.datetime) -> ExportStamp:
    """The export time from manifest.csv when present, else the files' newest modification time."""
    path = directory / NAME
    if path.is_file():
        return ExportStamp(read_manifest(path, now), ExportSource.MANIFEST)
    newest = max((p.stat().st_mtime for p in files), default=now.timestamp())
    return ExportStamp(min(dt.datetime.fromtimestamp(newest, dt.UTC), now), ExportSource.FILE_TIME)


def read_manifest(path: Path, now: dt.datetime) -> dt.datetime:
    """The `exportado_el` of manifest.csv, in UTC; ManifestError naming the line when wrong."""
    try:
        text = path.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{NAME}:1: encoding: not valid UTF-8 (save the file as UTF-8)") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ManifestError(f"{NAME}:1: empty file, no header row")
    names = [h.strip().lower() for h in header]
    if COLUMN not in names:
        raise ManifestError(f"{NAME}:1: header lacks required column {COLUMN}")
    position = names.index(COLUMN)
    found: tuple[int, str] | None = None
    for fields in reader:
        if not fields or not "".join(fields).strip():
            continue
        if found is not None:
            raise ManifestError(f"{NAME}:{reader.line_num}: a second row (the manifest has one)")
        found = reader.line_num, fields[position].strip() if position < len(fields) else ""
    if found is None:
        raise ManifestError(f"{NAME}:2: {COLUMN}: required (one row after the header)")
    line, value = found
    exported = _parse(value)
    if exported is None:
        raise ManifestError(f"{NAME}:{line}: {COLUMN}: must be YYYY-MM-DD or an ISO date-time, "
                            f"got {value or '(empty)'}")
    if exported > now + CLOCK_SKEW:
        raise ManifestError(f"{NAME}:{line}: {COLUMN}: {value} is in the future "
                            f"(now is {now.astimezone(LIMA):%Y-%m-%d %H:%M} Lima)")
    return exported


def _parse(value: str) -> dt.datetime | None:
    try:
        if _DATE.fullmatch(value):
            return lima_day_start(dt.date.fromisoformat(value))
        if _DATE_TIME.fullmatch(value):
            moment = dt.datetime.fromisoformat(value)
            return (moment if moment.tzinfo else moment.replace(tzinfo=LIMA)).astimezone(dt.UTC)
    except ValueError:
        return None
    return None
