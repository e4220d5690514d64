"""`mijuntos report`: the text report and its CSV carry the same figures; bad dates are refused."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import redis as redis_lib
from click.testing import CliRunner

from mijuntos.cli import main
from models import Database, OutboxMessage, Query

UTC = dt.UTC


def _at(day: int, hour: int = 17, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


LOOKUPS = [  # channel, kind, outcome, UT, household, when (UTC)
    ("ussd", "next_payment", "programado", "PIURA", "H1", _at(2)),
    ("ussd", "next_payment", "programado", "PIURA", "H1", _at(3)),
    ("ussd", "status", "sin_abono", "PUNO", "H2", _at(4)),
    ("sms", "next_payment", "cobrado", "PIURA", "H3", _at(5)),
    ("sms", "co_responsibilities", "cobrado", "CUSCO", "H4", _at(6)),
    # 04:30 UTC on 1 April is still 31 March in Lima: in the report.
    ("ussd", "status", "programado", "PUNO", "H5", _at(1, 4, month=4)),
    # 06:00 UTC on 1 April is 1 April in Lima: not in a report to 31 March.
    ("ussd", "status", "programado", "PUNO", "H6", _at(1, 6, month=4)),
    ("ussd", "verify", "ok_phone", None, "H1", _at(2)),
    ("sms", "verify", "ok_phone", None, "H3", _at(5)),
    ("ussd", "verify", "ok_dob", None, "H2", _at(4)),
    ("ussd", "verify", "dob_wrong", "PUNO", None, _at(4)),
    ("ussd", "verify", "locked", "PUNO", None, _at(4)),
    ("sms", "verify", "dni_limit", None, None, _at(7)),
]
MESSAGES = [  # kind, UT, status, failure reason, network code
    ("reminder", "PIURA", "delivered", None, "71610"),
    ("reminder", "PIURA", "delivered", None, "71610"),
    ("reminder", "PIURA", "failed", "AbsentSubscriber", "71610"),
    ("notice", "PUNO", "skipped", "opted_out", None),
    ("reminder", "PUNO", "pending", None, None),
    ("reminder", "PUNO", "failed", "retries_exhausted", None),
    (None, None, "delivered", None, "71606"),  # a reply: not a reminder, but an operator's delivery
    ("broadcast", "PIURA", "pending", None, None),  # an ad-hoc broadcast: not in the reminder funnel
    ("reminder", "PUNO", "skipped", "reminders_off", None),  # switched off on USSD: opted out too
]


@pytest.fixture
def usage(db: Database, redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.session() as s:
        s.add_all(Query(channel=c, kind=k, outcome=o, unidad_territorial=ut, hogar_id=h, created_at=when)
                  for c, k, o, ut, h, when in LOOKUPS)
        s.add_all(OutboxMessage(recipient="+51987654321", text="Mi Juntos", encoding="gsm7", segments=1,
                                purpose="reminder" if kind else "reply", kind=kind,
                                unidad_territorial=ut, status=status, failure_reason=reason,
                                network_code=network, created_at=_at(10))
                  for kind, ut, status, reason, network in MESSAGES)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("REDIS_URL", redis_url)


def report(*args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--from", "2026-03-01", "--to", "2026-03-31", *args])
    assert result.exit_code == 0, result.output
    return result.output


EXPECTED = [
    ("period", "", "from", "2026-03-01"),
    ("period", "", "to", "2026-03-31"),
    ("lookups", "all", "ussd", "4"),
    ("lookups", "all", "sms", "2"),
    ("lookups", "all", "total", "6"),
    ("verifications", "all", "verified", "3"),
    ("verifications", "all", "failed", "3"),
    ("households", "all", "reached", "5"),
    ("lookups_by_ut", "PIURA", "ussd", "2"),
    ("lookups_by_ut", "PIURA", "sms", "1"),
    ("lookups_by_ut", "PIURA", "total", "3"),
    ("lookups_by_ut", "PUNO", "ussd", "2"),
    ("lookups_by_ut", "PUNO", "sms", "0"),
    ("lookups_by_ut", "PUNO", "total", "2"),
    ("lookups_by_ut", "CUSCO", "ussd", "0"),
    ("lookups_by_ut", "CUSCO", "sms", "1"),
    ("lookups_by_ut", "CUSCO", "total", "1"),
    *(("reminders_by_ut", "PIURA", stage, n) for stage, n in
      zip(("planned", "sent", "delivered", "failed", "opted_out"), "33210", strict=True)),
    *(("reminders_by_ut", "PUNO", stage, n) for stage, n in
      zip(("planned", "sent", "delivered", "failed", "opted_out"), "40012", strict=True)),
    *(("reminders_by_ut", "all", stage, n) for stage, n in
      zip(("planned", "sent", "delivered", "failed", "opted_out"), "73222", strict=True)),
    ("delivery_by_operator", "71606", "delivered", "1"),
    ("delivery_by_operator", "71606", "failed", "0"),
    ("delivery_by_operator", "71606", "rate_percent", "100.0"),
    ("delivery_by_operator", "71610", "delivered", "2"),
    ("delivery_by_operator", "71610", "failed", "1"),
    ("delivery_by_operator", "71610", "rate_percent", "66.7"),
    # No import has recorded an export time in this data set.
    ("schedule_data", "all", "exported_on", ""),
    ("schedule_data", "all", "source", ""),
    ("schedule_data", "all", "age_days", ""),
    ("schedule_data", "all", "max_age_days", "21"),
    ("schedule_data", "all", "stale", "no"),
]


@pytest.mark.usefixtures("usage")
def test_the_csv_carries_every_figure_of_the_text_report() -> None:
    text = report()
    for line in ("lookups: 6 (USSD 4, SMS 2)", "verifications: 3 verified, 3 failed",
                 "households reached: 5", "71606: 100.0% of 1", "71610: 66.7% of 3"):
        assert line in text, text
    table = [line.split() for line in text.splitlines()]
    assert table.index(["PIURA", "2", "1", "3"]) < table.index(["PUNO", "2", "0", "2"]) \
        < table.index(["CUSCO", "0", "1", "1"])  # top UTs first
    for row in (["PIURA", "3", "3", "2", "1", "0"], ["PUNO", "4", "0", "0", "1", "2"],
                ["total", "7", "3", "2", "2", "2"]):
        assert row in table, text
    rows = list(csv.reader(io.StringIO(report("--csv"))))
    assert rows[0] == ["section", "key", "measure", "value"]
    assert [tuple(r) for r in rows[1:]] == EXPECTED


def test_dates_are_checked_before_anything_is_read() -> None:
    runner = CliRunner()
    for args, message in (
        (["--from", "bad"], "Invalid value for '--from': 'bad' does not match the format '%Y-%m-%d'"),
        (["--to", "2026-02-30"], "Invalid value for '--to'"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "--from 2026-03-02 is after --to 2026-03-01"),
    ):
        result = runner.invoke(main, ["report", *args])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
        assert not isinstance(result.exception, ValueError)
