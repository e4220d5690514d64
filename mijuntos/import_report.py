"""What an import did: per-file counts and the rejected rows, each with file, line and reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from models.base import LIMA
from models.export import ExportSource

MAX_KEPT_ERRORS = 1000


class ImportHeaderError(ValueError):
    """A file's header lacks required columns; nothing was written."""


@dataclass(frozen=True)
class ExportStamp:
    """When the imported files were exported, and where that time came from."""

    exported_at: dt.datetime  # UTC
    source: ExportSource

    def line(self) -> str:
        """One summary line, on the Lima clock."""
        where = ("manifest.csv exportado_el" if self.source is ExportSource.MANIFEST
                 else "no manifest.csv: the files' newest modification time")
        return f"exported: {self.exported_at.astimezone(LIMA):%Y-%m-%d %H:%M} Lima ({where})"


@dataclass(frozen=True, order=True)
class RowIssue:
    """One rejected row: `file:line: reason` (the line is the physical line, header is 1)."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class FileStats:
    """Counts for one file.

    Every data row read is exactly one of: inserted (a new key), updated (an existing key
    whose values changed), unchanged (an existing key with the same values: nothing is
    written, so a re-import reports all rows unchanged), or rejected. A key repeated in one
    file is applied in file order, so the last row wins and the earlier ones count as if
    they had been written first. A full-list file (gestores.csv) also counts the stored rows it
    left out, which the import deactivated; other files have no such count (None).
    """

    file: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deactivated: int | None = None

    def line(self) -> str:
        """One summary line."""
        deactivated = "" if self.deactivated is None else f", {self.deactivated} deactivated"
        return (
            f"{self.file}: {self.read} read, {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected{deactivated}"
        )

    @property
    def changed(self) -> int:
        """Rows written: inserted, updated or deactivated."""
        return self.inserted + self.updated + (self.deactivated or 0)


@dataclass
class ImportReport:
    """Per-file stats, the first MAX_KEPT_ERRORS rejected rows and warnings (and their counts).

    A warning is a row that was imported but deserves a look (its reason starts `warning:`).
    """

    files: dict[str, FileStats] = field(default_factory=dict)
    errors: list[RowIssue] = field(default_factory=list)
    error_count: int = 0
    warnings: list[RowIssue] = field(default_factory=list)
    warning_count: int = 0
    export: ExportStamp | None = None  # recorded in data_export; None when no file was imported

    def stats(self, file: str) -> FileStats:
        """The stats of `file`, created on first use."""
        return self.files.setdefault(file, FileStats(file))

    def add_errors(self, issues: list[RowIssue]) -> None:
        """Record rejected rows, keeping only the first MAX_KEPT_ERRORS in memory."""
        self.error_count += len(issues)
        room = MAX_KEPT_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(sorted(issues)[:room])

    def add_warnings(self, issues: list[RowIssue]) -> None:
        """Record accepted rows worth a look, keeping only the first MAX_KEPT_ERRORS."""
        self.warning_count += len(issues)
        room = MAX_KEPT_ERRORS - len(self.warnings)
        if room > 0:
            self.warnings.extend(sorted(issues)[:room])

    @property
    def rejected(self) -> int:
        """Rows rejected over all files."""
        return sum(s.rejected for s in self.files.values())

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return self.error_count == 0

    def summary_lines(self) -> list[str]:
        """One line per file, then a total."""
        lines = [stats.line() for stats in self.files.values()]
        if not self.files:
            return ["no contract files found: nothing was imported"]
        lines.append(f"{self.error_count} row(s) rejected" if self.error_count else "all rows ok")
        if self.warning_count:
            lines.append(f"{self.warning_count} row(s) imported with a warning")
        if self.export is not None:
            lines.append(self.export.line())
        return lines
