"""How fresh the schedule data is: recorded at import, shown on USSD, the dashboard, /metrics, report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.settings import Settings
from mijuntos.cli import main
from mijuntos.importer import ImportHeaderError, import_dir
from models import Database, DataExport, Household
from models.base import LIMA, utcnow
from tests.admin_support import log_in
from tests.support import ROSA_PHONE, TEST_TODAY, Phone
from tests.test_import import GOOD, dump, write_files

NOW = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)  # the import's clock in these tests


def exports(db: Database) -> list[DataExport]:
    with db.session() as s:
        return list(s.scalars(select(DataExport).order_by(DataExport.id)))


def record(db: Database, exported_at: dt.datetime, files: str = "cronograma.csv,abonos.csv") -> None:
    """An import's record, as `mijuntos import` writes it (the seed writes the data itself)."""
    with db.session() as s:
        s.add(DataExport(exported_at=exported_at, source="manifest", imported_at=utcnow(),
                         files=files, schedule=True, rows_read=1, rows_changed=1, rows_rejected=0))


def lima_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), LIMA)


def days_before_today(days: int) -> dt.datetime:
    """An export made `days` Lima days before the tests' pinned today (at 10:00 Lima)."""
    return dt.datetime.combine(TEST_TODAY - dt.timedelta(days=days), dt.time(10), LIMA)


# --- the import ----------------------------------------------------------------------------


def test_manifest_gives_the_export_time(db: Database, tmp_path: Path, monkeypatch: Any) -> None:
    directory = write_files(tmp_path, GOOD)
    (directory / "manifest.csv").write_text("exportado_el\n2026-11-20T18:30:00-05:00\n")
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["import", "--no-plan", str(directory)])
    assert result.exit_code == 0, result.output
    assert "exported: 2026-11-20 18:30 Lima (manifest.csv exportado_el)" in result.stdout
    [row] = exports(db)
    assert row.exported_at == dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    assert (row.source, row.schedule, row.rows_read, row.rows_rejected) == ("manifest", True, 13, 0)
    assert row.files == "padron.csv,cronograma.csv,abonos.csv,corresponsabilidades.csv"


def test_a_manifest_date_alone_is_the_start_of_that_day_in_lima(db: Database, tmp_path: Path) -> None:
    directory = write_files(tmp_path, GOOD)
    (directory / "manifest.csv").write_text("\ufeffExportado_El,nota\n2026-11-20,ok\n\n")
    report = import_dir(db, directory, now=NOW)
    assert report.export is not None and report.export.exported_at == lima_midnight(dt.date(2026, 11, 20))
    assert exports(db)[0].exported_at == dt.datetime(2026, 11, 20, 5, tzinfo=dt.UTC)


def test_without_a_manifest_the_files_newest_time_stands_in(db: Database, tmp_path: Path) -> None:
    directory = write_files(tmp_path, GOOD)
    old, newest = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC), dt.datetime(2026, 10, 3, 9, tzinfo=dt.UTC)
    for name in GOOD:
        os.utime(directory / name, (old.timestamp(), old.timestamp()))
    os.utime(directory / "abonos.csv", (newest.timestamp(), newest.timestamp()))
    report = import_dir(db, directory, now=NOW)
    assert "exported: 2026-10-03 04:00 Lima (no manifest.csv: the files' newest modification time)" \
        in report.summary_lines()
    [row] = exports(db)
    assert (row.exported_at, row.source) == (newest, "file_time")


def test_a_file_time_in_the_future_is_taken_as_the_import_time(db: Database, tmp_path: Path) -> None:
    directory = write_files(tmp_path, GOOD)
    ahead = (NOW + dt.timedelta(days=3)).timestamp()
    os.utime(directory / "padron.csv", (ahead, ahead))
    import_dir(db, directory, now=NOW)
    assert exports(db)[0].exported_at == NOW


@pytest.mark.parametrize("manifest, where", [
    ("exportado_el\nayer\n",
     "manifest.csv:2: exportado_el: must be YYYY-MM-DD or an ISO date-time, got ayer"),
    ("exportado_el\n2026-02-30\n", "manifest.csv:2: exportado_el: must be YYYY-MM-DD"),
    ("exportado_el\n\n20261120\n", "manifest.csv:3: exportado_el: must be YYYY-MM-DD"),
    ("fecha\n2026-11-20\n", "manifest.csv:1: header lacks required column exportado_el"),
    ("exportado_el\n2026-11-20\n2026-11-21\n", "manifest.csv:3: a second row (the manifest has one)"),
    ("exportado_el\n", "manifest.csv:2: exportado_el: required"),
    ("", "manifest.csv:1: empty file, no header row"),
    ("exportado_el\n2026-12-03\n", "manifest.csv:2: exportado_el: 2026-12-03 is in the future"),
    ("exportado_el\n2026-12-02T11:00:00-05:00\n",
     "manifest.csv:2: exportado_el: 2026-12-02T11:00:00-05:00 is in the future"),
])
def test_a_malformed_manifest_rejects_the_import_before_anything_is_written(
    db: Database, tmp_path: Path, manifest: str, where: str
) -> None:
    directory = write_files(tmp_path, GOOD)
    (directory / "manifest.csv").write_text(manifest)
    with pytest.raises(ImportHeaderError) as caught:
        import_dir(db, directory, now=NOW)  # 10:00 in Lima
    assert where in str(caught.value) and "(nothing was imported)" in str(caught.value)
    assert exports(db) == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Household)) == 0


def test_a_little_clock_skew_is_not_the_future(db: Database, tmp_path: Path) -> None:
    directory = write_files(tmp_path, GOOD)
    (directory / "manifest.csv").write_text("exportado_el\n2026-12-02T10:05:00-05:00\n")
    import_dir(db, directory, now=NOW)
    assert exports(db)[0].exported_at == NOW + dt.timedelta(minutes=5)


def test_the_cli_names_the_manifest_line_and_imports_nothing(db: Database, tmp_path: Path,
                                                             monkeypatch: Any) -> None:
    directory = write_files(tmp_path, GOOD)
    (directory / "manifest.csv").write_text("exportado_el\nnoviembre\n")
    (directory / "padron.csv").write_text("hogar_id,nombres\nH1,ROSA\n")
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["import", str(directory)])
    assert result.exit_code == 2
    assert "manifest.csv:2: exportado_el: must be YYYY-MM-DD or an ISO date-time, got noviembre" \
        in result.stderr
    assert "padron.csv: header lacks required column(s)" in result.stderr  # every problem at once
    assert exports(db) == []


def test_reimport_of_the_same_export_records_nothing_new(db: Database, tmp_path: Path) -> None:
    directory = write_files(tmp_path, GOOD)
    (directory / "manifest.csv").write_text("exportado_el\n2026-11-20\n")
    import_dir(db, directory, now=NOW)
    before = dump(db)
    import_dir(db, directory, now=NOW + dt.timedelta(hours=1))
    assert dump(db) == before and len(exports(db)) == 1


def test_the_schedule_age_is_the_latest_schedule_import(db: Database, tmp_path: Path) -> None:
    from models import schedule_freshness

    older, newer = write_files(tmp_path / "a", GOOD), write_files(tmp_path / "b", GOOD)
    (older / "manifest.csv").write_text("exportado_el\n2026-10-01\n")
    (newer / "manifest.csv").write_text("exportado_el\n2026-11-25\n")
    padron = write_files(tmp_path / "c", {"padron.csv": GOOD["padron.csv"]})
    (padron / "manifest.csv").write_text("exportado_el\n2026-12-01\n")

    def age() -> tuple[dt.date | None, str | None]:
        with db.session() as s:
            f = schedule_freshness(s, TEST_TODAY, 21)
        return f.exported_on, f.source

    import_dir(db, older, now=NOW)
    import_dir(db, newer, now=NOW + dt.timedelta(minutes=1))
    assert age() == (dt.date(2026, 11, 25), "manifest")
    import_dir(db, padron, now=NOW + dt.timedelta(minutes=2))  # no dates in it: the age stays
    assert age() == (dt.date(2026, 11, 25), "manifest")
    import_dir(db, older, now=NOW + dt.timedelta(minutes=3))  # the old export overwrote the rows
    assert age() == (dt.date(2026, 10, 1), "manifest")
    assert len(exports(db)) == 3


# --- the setting ---------------------------------------------------------------------------


def test_data_max_age_days_is_validated_at_start() -> None:
    assert Settings.from_env({}).data_max_age_days == 21
    assert Settings.from_env({"DATA_MAX_AGE_DAYS": "30"}).data_max_age_days == 30
    for bad, message in (("tres", "DATA_MAX_AGE_DAYS: must be an integer"),
                         ("-1", "DATA_MAX_AGE_DAYS: must be 0 or more days")):
        with pytest.raises(ValueError, match=message):
            Settings.from_env({"DATA_MAX_AGE_DAYS": bad})


# --- USSD ----------------------------------------------------------------------------------


def pay_and_status(app: Flask) -> tuple[str, str]:
    """Rosa's option 1 and option 2, every page of each read (pages joined by a blank line)."""
    phone = Phone(app.test_client(), ROSA_PHONE)
    phone.dial()
    screens = []
    for option in ("1", "2"):
        pages = [phone.send(option)]
        while "98 Mas" in pages[-1]:
            pages.append(phone.send("98"))
        assert all(len(p) - 4 <= 160 for p in pages), pages
        screens.append("\n\n".join(pages))
        phone.send("00")
    return screens[0], screens[1]


@pytest.mark.parametrize("days", [22, 60])
def test_stale_data_adds_datos_al_to_the_payment_screens(app: Flask, seeded: Database, days: int) -> None:
    record(seeded, days_before_today(days))
    day = (TEST_TODAY - dt.timedelta(days=days)).strftime("%d/%m")
    pay, status = pay_and_status(app)
    # The first line of the first page: a caller who stops there still sees how old it is.
    assert pay.startswith(f"CON Datos al {day}.\nPago 2026-6: del 12/12 al 16/12/2026"), pay
    assert "Lleve su DNI." in pay  # the answer itself is all there, paged
    assert status.startswith(f"CON Datos al {day}.\nPago 2026-6: programado\nMonto: S/ 200.00"), status
    assert status.count("Datos al") == 1


@pytest.mark.parametrize("days", [0, 21])
def test_fresh_data_shows_no_date_line(app: Flask, seeded: Database, days: int) -> None:
    record(seeded, days_before_today(days))
    pay, status = pay_and_status(app)
    assert "Agencia BN Chulucanas" in pay
    assert "Datos al" not in pay and "Datos al" not in status


def test_no_recorded_export_shows_no_date_line(app: Flask, seeded: Database) -> None:
    pay, status = pay_and_status(app)
    assert "Datos al" not in pay + status


def test_the_limit_is_the_setting(settings: Settings, redis: Any, seeded: Database) -> None:
    from gateway.app import create_app

    record(seeded, days_before_today(30))
    lenient = create_app(settings.with_(data_max_age_days=45))
    try:
        pay, _ = pay_and_status(lenient)
    finally:
        lenient.extensions["mijuntos"].close()
    assert "Datos al" not in pay


def test_other_screens_never_carry_the_line(app: Flask, seeded: Database) -> None:
    record(seeded, days_before_today(60))
    phone = Phone(app.test_client(), ROSA_PHONE)
    assert "Datos al" not in phone.dial()
    assert "Datos al" not in phone.send("3")


def test_the_export_day_is_read_once_a_minute_per_process(app: Flask, seeded: Database,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway import facts

    record(seeded, days_before_today(60))
    stale_day = (TEST_TODAY - dt.timedelta(days=60)).strftime("%d/%m")
    assert f"Datos al {stale_day}." in pay_and_status(app)[0]
    record(seeded, days_before_today(1))  # a new import: hops see it within the minute
    assert f"Datos al {stale_day}." in pay_and_status(app)[0]  # still the cached day
    monkeypatch.setattr(facts, "EXPORT_TTL", 0.0)
    assert "Datos al" not in pay_and_status(app)[0]


# --- the dashboard, /metrics, /readyz, the report ------------------------------------------


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    return log_in(app, seeded, monkeypatch)


def test_dashboard_warns_when_the_data_is_stale(staff: FlaskClient, seeded: Database) -> None:
    record(seeded, days_before_today(30))
    html = staff.get("/admin/").get_data(as_text=True)
    warning = re.search(r'<p class="error" id="stale-warning">(.*?)</p>', html, re.S)
    assert warning, html
    text = " ".join(warning[1].split())
    assert "tienen 30 dias" in text and "exportados el 02/11/2026" in text and "limite es 21 dias" in text
    assert "Datos exportados el <strong>02/11/2026</strong> (hace 30 dias)" in html


def test_dashboard_shows_the_export_date_plainly_when_fresh(staff: FlaskClient, seeded: Database) -> None:
    record(seeded, days_before_today(3))
    html = staff.get("/admin/").get_data(as_text=True)
    assert "stale-warning" not in html
    assert "Datos exportados el <strong>29/11/2026</strong> (hace 3 dias)" in html


def test_dashboard_says_when_no_export_date_is_known(staff: FlaskClient) -> None:
    html = staff.get("/admin/").get_data(as_text=True)
    assert "Ninguna importacion registro la fecha de exportacion" in html


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, text
    return float(found[1])


def test_metrics_expose_the_age_and_readyz_stays_ready(settings: Settings, redis: Any,
                                                        seeded: Database) -> None:
    from gateway.app import create_app

    # The real clock here: the gauge's age is measured to the scrape's instant.
    app = create_app(settings.with_(today=None))
    client = app.test_client()
    try:
        before = client.get("/metrics").get_data(as_text=True)
        assert not re.search(r"^mijuntos_schedule_data_age_seconds ", before, re.M)  # no sample yet
        exported = utcnow() - dt.timedelta(days=30)
        record(seeded, exported)
        ready = client.get("/readyz")
        text = client.get("/metrics").get_data(as_text=True)
    finally:
        app.extensions["mijuntos"].close()
    assert ready.status_code == 200
    assert abs(metric(text, "mijuntos_schedule_data_age_seconds") - 30 * 86400) < 120
    assert metric(text, "mijuntos_schedule_data_exported_timestamp_seconds") == pytest.approx(
        exported.timestamp(), abs=1e-3)
    assert metric(text, "mijuntos_schedule_data_stale") == 1.0


def test_report_prints_the_age_and_the_csv_carries_it(seeded: Database, redis_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    exported = utcnow() - dt.timedelta(days=30)  # `mijuntos report` judges by the real clock
    record(seeded, exported)
    day = exported.astimezone(LIMA).date().isoformat()
    text = CliRunner().invoke(main, ["report"]).output
    assert (f"schedule data: exported {day} (manifest.csv), 30 day(s) old, "
            "STALE: older than DATA_MAX_AGE_DAYS=21") in text
    rows = list(csv.reader(io.StringIO(CliRunner().invoke(main, ["report", "--csv"]).output)))
    assert ["schedule_data", "all", "exported_on", day] in rows
    assert ["schedule_data", "all", "age_days", "30"] in rows
    assert ["schedule_data", "all", "stale", "yes"] in rows
    monkeypatch.setenv("DATA_MAX_AGE_DAYS", "40")
    assert "30 day(s) old, within DATA_MAX_AGE_DAYS=40" in CliRunner().invoke(main, ["report"]).output


def test_the_line_leads_the_first_page_in_every_language() -> None:
    from core.catalogs import load_catalog
    from dialogs import Context
    from dialogs.engine import _Step
    from dialogs.state import SessionState
    from dialogs.texts import LANGUAGES
    from tests.dialog_facts import MemoryFacts, settlement

    catalog = load_catalog()
    ctx = Context(phone="+51987654321", secret="s", today=TEST_TODAY)
    facts = MemoryFacts(history=[settlement("sin_abono", "DATOS_EN_VERIFICACION"), settlement()],
                        exported_on=dt.date(2026, 10, 1))
    for lang in LANGUAGES:
        for screen in ("pay", "status"):
            text = _Step(SessionState(screen=screen, lang=lang, hogar_id="H1"), ctx, facts,
                         catalog).reply().text
            assert text.startswith(catalog.text(lang, "data_as_of", day="01/10") + "\n"), text
            assert len(text) <= 160
