"""How old the schedule data is, and when it is stale: the one rule for screens and staff.

The USSD payment screens ("Datos al DD/MM"), the dashboard, /metrics and `mijuntos report`
(models/export.py) all judge by these two functions, so they cannot disagree about one day.
"""

from __future__ import annotations

import datetime as dt


def data_age_days(exported_on: dt.date | None, today: dt.date) -> int | None:
    """Whole days from the export's Lima day to `today`; None when unknown."""
    return max((today - exported_on).days, 0) if exported_on else None


def is_stale(exported_on: dt.date | None, today: dt.date, max_age_days: int) -> bool:
    """Schedule data is stale when it is more than `max_age_days` days old; unknown is not."""
    age = data_age_days(exported_on, today)
    return age is not None and age > max_age_days
