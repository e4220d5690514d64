"""When the programme exported each imported set of files, and how fresh the schedule data is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Boolean, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dialogs.freshness import data_age_days, is_stale
from models.base import Base, UTCDateTime, utcnow
from models.clock import lima_date

# The files that carry dates a caller is told: pay points' days and which one a household uses.
SCHEDULE_FILES = ("cronograma.csv", "abonos.csv")


class ExportSource(StrEnum):
    MANIFEST = "manifest"  # manifest.csv's exportado_el
    FILE_TIME = "file_time"  # no manifest: the newest modification time of the imported files


class DataExport(Base):
    """One import: when its files were exported, what it carried, how many rows it read."""

    __tablename__ = "data_export"
    # A re-import of the same export updates its row instead of adding one (idempotent).
    __table_args__ = (UniqueConstraint("exported_at", "files"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(10))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    files: Mapped[str] = mapped_column(String(120))  # the contract files, comma-separated
    schedule: Mapped[bool] = mapped_column(Boolean)  # it carried cronograma.csv or abonos.csv
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_changed: Mapped[int] = mapped_column(Integer, default=0)  # inserted or updated
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)


# The schedule data in use is what the latest import carrying a schedule file wrote: the newest
# by import time, not by export time, so an older export imported last (it overwrote the rows
# it carried) shows its own, older date instead of hiding behind a newer one.
LATEST_SCHEDULE_EXPORT = (
    select(DataExport.exported_at, DataExport.source)
    .where(DataExport.schedule.is_(True))
    .order_by(DataExport.imported_at.desc(), DataExport.id.desc())
    .limit(1)
)


@dataclass(frozen=True)
class Freshness:
    """How old the schedule data is on `today` (Lima), against the DATA_MAX_AGE_DAYS limit."""

    exported_at: dt.datetime | None  # None: no import recorded an export time
    source: str | None
    today: dt.date
    max_age_days: int

    @property
    def exported_on(self) -> dt.date | None:
        """The export's day on the Lima calendar."""
        return lima_date(self.exported_at) if self.exported_at else None

    @property
    def age_days(self) -> int | None:
        """Whole Lima days since the export (0 on the day itself)."""
        return data_age_days(self.exported_on, self.today)

    @property
    def stale(self) -> bool:
        """Older than the limit; unknown is not stale (there is no date to show)."""
        return is_stale(self.exported_on, self.today, self.max_age_days)

    def age_seconds(self, now: dt.datetime) -> float | None:
        """Seconds since the export at `now` (never negative)."""
        return max((now - self.exported_at).total_seconds(), 0.0) if self.exported_at else None


def schedule_freshness(session: Session, today: dt.date, max_age_days: int) -> Freshness:
    """The age of the schedule data: the export time of the latest import of cronograma/abonos."""
    row = session.execute(LATEST_SCHEDULE_EXPORT).first()
    return Freshness(row[0] if row else None, row[1] if row else None, today, max_age_days)
