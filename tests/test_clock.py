"""One Lima calendar (models/clock.py): Python and SQL agree with zoneinfo, on both databases,
and the staff pages count days from the process's today (pinned in the tests)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from models import Database, Query
from models.clock import LIMA, lima_date, lima_date_of, lima_day_start, lima_days
from models.reports import DEFAULT_DAYS, usage_report
from tests.admin_support import log_in
from tests.support import TEST_TODAY

UTC = dt.UTC
ZONE = ZoneInfo("America/Lima")  # the reference the helpers must agree with
MOMENTS = [  # around Lima's midnight (05:00 UTC), a month's, a year's and a leap day's end
    dt.datetime(2026, 12, 2, 3, 30, tzinfo=UTC),  # still 1 December in Lima
    dt.datetime(2026, 12, 2, 4, 59, 59, 999999, tzinfo=UTC),  # SQLite would round it to 05:00
    dt.datetime(2026, 12, 2, 5, 0, tzinfo=UTC),  # 2 December has begun in Lima
    dt.datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    dt.datetime(2027, 1, 1, 4, 0, tzinfo=UTC),  # New Year's Eve in Lima
    dt.datetime(2028, 3, 1, 2, 0, tzinfo=UTC),  # 29 February 2028 in Lima
    dt.datetime(2026, 3, 1, 4, 59, tzinfo=UTC),
]


def test_the_lima_day_of_a_moment_is_zoneinfos() -> None:
    assert lima_date(dt.datetime(2026, 12, 2, 3, 30, tzinfo=UTC)) == dt.date(2026, 12, 1)
    assert lima_date(dt.datetime(2026, 12, 2, 5, 0, tzinfo=UTC)) == dt.date(2026, 12, 2)
    for moment in MOMENTS:
        assert lima_date(moment) == moment.astimezone(ZONE).date(), moment
    offset = dt.timezone(dt.timedelta(hours=3))  # any aware moment, not only UTC ones
    assert lima_date(dt.datetime(2026, 12, 2, 7, 0, tzinfo=offset)) == dt.date(2026, 12, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        lima_date(dt.datetime(2026, 12, 2, 3, 30))


def test_a_range_of_lima_days_in_utc() -> None:
    assert lima_day_start(dt.date(2026, 12, 2)) == dt.datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    since, until = lima_days(dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    assert since == dt.datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert until == dt.datetime(2026, 12, 3, 5, tzinfo=UTC)
    for moment in MOMENTS:
        day = moment.astimezone(ZONE).date()
        first, after = lima_days(day, day)
        assert first <= moment < after, moment
        assert not lima_days(day + dt.timedelta(days=1), day + dt.timedelta(days=1))[0] <= moment


def test_sqlites_fixed_offset_is_limas_every_day_since_1994() -> None:
    """The SQLite expression shifts by -5 hours: right only while Lima keeps UTC-5 without DST
    (it has since 1994). Should the zone's rules change, this fails and models/clock.py must."""
    day, last = dt.date(1994, 4, 2), dt.date(2040, 1, 1)
    while day < last:
        for hour in (0, 12):
            assert LIMA.utcoffset(dt.datetime.combine(day, dt.time(hour))) == dt.timedelta(hours=-5), day
        day += dt.timedelta(days=1)


def test_the_sql_lima_day_is_the_python_one(db: Database) -> None:
    """On each database (SQLite, and PostgreSQL when the run has one) the column's Lima day in
    SQL is the helper's, for moments on both sides of Lima's midnight."""
    with db.session() as s:
        rows = [Query(channel="ussd", kind="status", outcome="programado", created_at=m) for m in MOMENTS]
        s.add_all(rows)
        s.flush()
        got = dict(s.execute(select(Query.id, lima_date_of(Query.created_at))).all())
        want = {r.id: lima_date(m) for r, m in zip(rows, MOMENTS, strict=True)}
        assert {r.id: got[r.id] for r in rows} == want
        assert all(type(day) is dt.date for day in got.values())  # a date on both, not text
        # usable to group and filter by, as the usage report does
        per_day = dict(s.execute(select(lima_date_of(Query.created_at), Query.id)
                                 .where(lima_date_of(Query.created_at) == dt.date(2026, 12, 1))).all())
        assert set(per_day) == {dt.date(2026, 12, 1)}


def test_the_report_counts_lookups_on_their_lima_day(db: Database) -> None:
    with db.session() as s:
        s.add_all(Query(channel="ussd", kind="next_payment", outcome="programado", created_at=m)
                  for m in MOMENTS[:4])
        s.flush()
        report = usage_report(s, dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    assert report.per_day == {"2026-12-01": {"ussd": 3}, "2026-12-02": {"ussd": 1}}


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    return log_in(app, seeded, monkeypatch)


def test_the_dashboard_counts_the_default_days_to_the_pinned_today(staff: FlaskClient,
                                                                   seeded: Database) -> None:
    """Its default range ends on the settings' today (TEST_TODAY here), not the machine's."""
    def at(days_before: int, hour: int) -> dt.datetime:
        return lima_day_start(TEST_TODAY - dt.timedelta(days=days_before)) + dt.timedelta(hours=hour)

    first = DEFAULT_DAYS - 1
    with seeded.session() as s:
        s.add_all(Query(channel=channel, kind="next_payment", outcome="programado", created_at=when)
                  for channel, when in [("ussd", at(0, 23)), ("sms", at(first, 0)),  # the first day
                                        ("ussd", at(first + 1, 23)),  # the day before: not counted
                                        ("ussd", at(-1, 0))])  # the day after today: not counted
    html = staff.get("/admin/").get_data(as_text=True)
    assert "Consultas: <strong>2</strong>" in html and "(USSD 1, SMS 1, gestor 0, voz 0)" in html
