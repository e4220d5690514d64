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
from models.reports import DEFAULT_DAYS, default_start

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
    # Staff training in the simulator: on its own line, in no total (PIURA stays at 3).
    ("sim", "next_payment", "programado", "PIURA", "H7", _at(8)),
    ("sim", "verify", "ok_phone", None, "H7", _at(8)),
    ("sim", "verify", "dob_wrong", None, None, _at(8)),
]
# Assisted lookups (channel gestor: a gestor's phone, for a titular): a column of their own beside
# USSD and SMS, and sections by the gestor's UT, Tambo and gestor.
# kind, outcome, the household's UT, household, when, gestor, the gestor's UT, Tambo
TAMBO = "Tambo Chulucanas"
ASSISTED = [
    ("next_payment", "programado", "PIURA", "H8", _at(9), "G000001", "PIURA", TAMBO),
    ("status", "sin_abono", "PIURA", "H9", _at(9), "G000001", "PIURA", TAMBO),
    ("verify", "ok_dob", None, "H8", _at(9), "G000001", "PIURA", TAMBO),
    ("verify", "gestor_cap", None, None, _at(9), "G000001", "PIURA", TAMBO),  # the daily cap: failed
    ("summary_sms", "sent", "PIURA", "H8", _at(9), "G000001", "PIURA", TAMBO),
    ("summary_sms", "already", "PIURA", "H8", _at(9), "G000001", "PIURA", TAMBO),  # not sent again
    ("co_responsibilities", "programado", "PUNO", "H2", _at(11), "G000002", "PUNO", None),  # no Tambo
]
MESSAGES = [  # kind, UT, period, status, failure reason, sent (accepted by the provider), network
    ("reminder", "PIURA", "2026-6", "delivered", None, True, "71610"),
    ("reminder", "PIURA", "2026-6", "delivered", None, True, "71610"),
    ("reminder", "PIURA", "2026-6", "failed", "AbsentSubscriber", True, "71610"),  # delivery failed
    ("notice", "PUNO", "2026-6", "skipped", "opted_out", False, None),
    ("reminder", "PUNO", "2026-6", "pending", None, False, None),
    ("reminder", "PUNO", "2026-6", "failed", "retries_exhausted", False, None),  # never sent
    (None, None, None, "delivered", None, True, "71606"),  # a reply: not a reminder, but delivered
    ("broadcast", "PIURA", None, "pending", None, False, None),  # a broadcast: not a reminder
    ("reminder", "PUNO", "2026-6", "skipped", "reminders_off", False, None),  # switched off: opted out
    ("reminder", "PUNO", "2026-6", "skipped", "merged", False, None),  # in another SMS: not a message
    ("change", "PIURA", "2026-6", "submitted", None, True, None),  # sent, no delivery report yet
    ("reminder", "CUSCO", "2026-5", "skipped", "plan_changed", False, None),  # withdrawn
    ("broadcast", "PUNO", None, "delivered", None, True, "71699"),  # a network the table does not know
]


@pytest.fixture
def usage(seeded: Database, redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with seeded.session() as s:
        s.add_all(Query(channel=c, kind=k, outcome=o, unidad_territorial=ut, hogar_id=h, created_at=when)
                  for c, k, o, ut, h, when in LOOKUPS)
        s.add_all(Query(channel="gestor", kind=k, outcome=o, unidad_territorial=ut, hogar_id=h,
                        created_at=when, gestor_id=g, gestor_ut=gut, tambo=tambo)
                  for k, o, ut, h, when, g, gut, tambo in ASSISTED)
        s.add_all(OutboxMessage(recipient="+51987654321", text="Mi Juntos", encoding="gsm7", segments=1,
                                purpose="reminder" if kind else "reply", kind=kind, periodo=periodo,
                                unidad_territorial=ut, status=status, failure_reason=reason,
                                sent_at=_at(10, 18) if sent else None, network_code=network,
                                created_at=_at(10))
                  for kind, ut, periodo, status, reason, sent, network in MESSAGES)
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    monkeypatch.setenv("REDIS_URL", redis_url)


def report(*args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--from", "2026-03-01", "--to", "2026-03-31", *args])
    assert result.exit_code == 0, result.output
    return result.output


ASSISTED_MEASURES = ("lookups", "households", "verified", "failed", "summaries_sent")
STAGES = ("planned", "waiting", "sent", "delivered", "delivery_failed", "no_report", "send_failed",
          "opted_out", "withdrawn")


def assisted(section: str, rows: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """A section of assisted figures, its rows then `all` (3 lookups, 3 households, 1 of each else)."""
    return [(section, key, m, n) for key, counts in [*rows, ("all", "3 3 1 1 1")]
            for m, n in zip(ASSISTED_MEASURES, counts.split(), strict=True)]


def by_stage(section: str, key: str, counts: str) -> list[tuple[str, str, str, str]]:
    return [(section, key, stage, n) for stage, n in zip(STAGES, counts.split(), strict=True)]


EXPECTED = [
    ("period", "", "from", "2026-03-01"),
    ("period", "", "to", "2026-03-31"),
    ("period", "", "days", "31"),
    ("period", "", "wave", "2026-6"),
    ("lookups", "all", "ussd", "4"),
    ("lookups", "all", "sms", "2"),
    ("lookups", "all", "gestor", "3"),
    ("lookups", "all", "voice", "0"),
    ("lookups", "all", "total", "9"),
    ("verifications", "all", "verified", "4"),
    ("verifications", "all", "failed", "4"),
    ("households", "all", "reached", "7"),
    ("lookups_by_ut", "PIURA", "ussd", "2"),
    ("lookups_by_ut", "PIURA", "sms", "1"),
    ("lookups_by_ut", "PIURA", "gestor", "2"),
    ("lookups_by_ut", "PIURA", "voice", "0"),
    ("lookups_by_ut", "PIURA", "total", "5"),
    ("lookups_by_ut", "PUNO", "ussd", "2"),
    ("lookups_by_ut", "PUNO", "sms", "0"),
    ("lookups_by_ut", "PUNO", "gestor", "1"),
    ("lookups_by_ut", "PUNO", "voice", "0"),
    ("lookups_by_ut", "PUNO", "total", "3"),
    ("lookups_by_ut", "CUSCO", "ussd", "0"),
    ("lookups_by_ut", "CUSCO", "sms", "1"),
    ("lookups_by_ut", "CUSCO", "gestor", "0"),
    ("lookups_by_ut", "CUSCO", "voice", "0"),
    ("lookups_by_ut", "CUSCO", "total", "1"),
    *((("lookups_by_day", day, measure, n) for day, counts in (
        ("2026-03-02", "10001"), ("2026-03-03", "10001"), ("2026-03-04", "10001"),
        ("2026-03-05", "01001"), ("2026-03-06", "01001"), ("2026-03-09", "00202"),
        ("2026-03-11", "00101"), ("2026-03-31", "10001"))
       for measure, n in zip(("ussd", "sms", "gestor", "voice", "total"), counts, strict=True))),
    *assisted("assisted_by_ut", [("PIURA", "2 2 1 1 1"), ("PUNO", "1 1 0 0 0")]),
    *assisted("assisted_by_tambo", [(TAMBO, "2 2 1 1 1"), ("-", "1 1 0 0 0")]),
    *assisted("assisted_by_gestor", [("G000001", "2 2 1 1 1"), ("G000002", "1 1 0 0 0")]),
    ("simulator", "all", "lookups", "1"),
    ("simulator", "all", "verified", "1"),
    ("simulator", "all", "failed", "1"),
    *by_stage("reminders_by_ut", "CUSCO", "1 0 0 0 0 0 0 0 1"),
    *by_stage("reminders_by_ut", "PIURA", "4 0 4 2 1 1 0 0 0"),
    *by_stage("reminders_by_ut", "PUNO", "4 1 0 0 0 0 1 2 0"),
    *by_stage("reminders_by_ut", "all", "9 1 4 2 1 1 1 2 1"),
    *by_stage("wave", "reminder", "6 1 3 2 1 0 1 1 0"),
    *by_stage("wave", "notice", "1 0 0 0 0 0 0 1 0"),
    *by_stage("wave", "change", "1 0 1 0 0 1 0 0 0"),
    *by_stage("wave", "all", "8 1 4 2 1 1 1 2 0"),
    *by_stage("broadcasts", "all", "2 1 1 1 0 0 0 0 0"),
    ("delivery_by_operator", "71606", "operator", "Movistar"),
    ("delivery_by_operator", "71606", "delivered", "1"),
    ("delivery_by_operator", "71606", "delivery_failed", "0"),
    ("delivery_by_operator", "71606", "rate_percent", "100.0"),
    ("delivery_by_operator", "71610", "operator", "Claro"),
    ("delivery_by_operator", "71610", "delivered", "2"),
    ("delivery_by_operator", "71610", "delivery_failed", "1"),
    ("delivery_by_operator", "71610", "rate_percent", "66.7"),
    ("delivery_by_operator", "71699", "operator", "unknown"),
    ("delivery_by_operator", "71699", "delivered", "1"),
    ("delivery_by_operator", "71699", "delivery_failed", "0"),
    ("delivery_by_operator", "71699", "rate_percent", "100.0"),
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
    for line in ("Mi Juntos usage 2026-03-01 to 2026-03-31 (31 days on the Lima clock)",
                 "lookups: 9 (USSD 4, SMS 2, gestor 3, voz 0)", "verifications: 4 verified, 4 failed",
                 "households reached: 7",
                 "simulator (staff training; in no other figure of this report): 1 lookups, "
                 "2 verifications (1 verified, 1 failed)",
                 "  planned = waiting + sent + send_failed + opted_out + withdrawn",
                 "  sent = delivered + delivery_failed + no_report",
                 "wave of period 2026-6 (its reminders and notices, created on any day):",
                 "  Movistar (71606): 100.0% of 1 (1 delivered, 0 delivery_failed)",
                 "  Claro (71610): 66.7% of 3 (2 delivered, 1 delivery_failed)",
                 "  71699 (unknown): 100.0% of 1 (1 delivered, 0 delivery_failed)"):
        assert line in text.splitlines(), text
    table = [line.split() for line in text.splitlines()]
    assert ["Unidad", "Territorial", "USSD", "SMS", "gestor", "voz", "total"] in table
    assert table.index(["PIURA", "2", "1", "2", "0", "5"]) < table.index(["PUNO", "2", "0", "1", "0", "3"]) \
        < table.index(["CUSCO", "0", "1", "0", "0", "1"])  # top UTs first
    assert ["Unidad", "Territorial", *STAGES] in table and ["kind", *STAGES] in table
    for row in (["PIURA", *"4 0 4 2 1 1 0 0 0".split()], ["PUNO", *"4 1 0 0 0 0 1 2 0".split()],
                ["total", *"9 1 4 2 1 1 1 2 1".split()], ["reminder", *"6 1 3 2 1 0 1 1 0".split()],
                ["broadcasts", *"2 1 1 1 0 0 0 0 0".split()], ["2026-03-31", "1", "0", "0", "0", "1"],
                ["Tambo", "Chulucanas", *"2 2 1 1 1".split()], ["G000002", *"1 1 0 0 0".split()],
                ["gestor", *ASSISTED_MEASURES]):
        assert row in table, text
    rows = list(csv.reader(io.StringIO(report("--csv"))))
    assert rows[0] == ["section", "key", "measure", "value"]
    assert [tuple(r) for r in rows[1:]] == EXPECTED


@pytest.mark.usefixtures("usage")
def test_the_wave_is_the_period_asked_for_and_an_unknown_period_is_refused() -> None:
    rows = list(csv.reader(io.StringIO(report("--csv", "--periodo", "2026-5"))))
    wave = {(key, measure): value for section, key, measure, value in rows if section == "wave"}
    assert ("period", "", "wave", "2026-5") in {tuple(r) for r in rows}
    assert (wave["reminder", "planned"], wave["reminder", "withdrawn"]) == ("1", "1")
    assert (wave["all", "planned"], wave["notice", "planned"]) == ("1", "0")
    result = CliRunner().invoke(main, ["report", "--periodo", "2031-1"])
    assert result.exit_code == 2 and "--periodo 2031-1: no settlements of that period" in result.output
    assert "settled: 2026-6, 2026-5, 2026-4" in result.output


def test_the_default_period_is_the_same_constant_everywhere() -> None:
    assert default_start(dt.date(2026, 3, 31)) == dt.date(2026, 3, 31) - dt.timedelta(days=DEFAULT_DAYS - 1)
    help_text = CliRunner().invoke(main, ["report", "--help"]).output
    assert f"the last {DEFAULT_DAYS} days" in " ".join(help_text.split())


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
