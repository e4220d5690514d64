"""/admin/gestores and `mijuntos gestores`: the gestores with their day's assisted lookups, the
staff's suspension (CSRF-checked, recorded, logged without a phone) and the anomaly flags, on
SQLite and PostgreSQL, with assisted lookups seeded as the dialog records them."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from mijuntos.cli import main
from models import Database, Gestor
from models.gestor import is_active
from models.gestor_review import (
    HISTORY_DAYS,
    NO_HISTORY_MIN_LOOKUPS,
    VOLUME_FACTOR,
    VOLUME_MIN_LOOKUPS,
    anomalies,
    volume_flag,
)
from tests.admin_support import csrf_of, log_in
from tests.gestor_support import GESTORES, add_gestores, add_lookups
from tests.support import TEST_TODAY

D = TEST_TODAY  # the app's today (pinned in the settings): the page's "hoy"


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    add_gestores(seeded)
    return log_in(app, seeded, monkeypatch)


def gestor(db: Database, code: str) -> Gestor:
    with db.session() as s:
        found = s.get(Gestor, code)
        assert found is not None
        return found


def row_of(page: str, code: str) -> str:
    found = re.search(rf'<tr data-gestor="{code}">(.*?)</tr>', page.split('id="gestores"', 1)[1], re.S)
    assert found, code
    return found[1]


def cell(row: str, name: str) -> str:
    found = re.search(rf'data-(?:measure|field)="{name}">(.*?)</td>', row, re.S)
    assert found, name
    return " ".join(found[1].split())


def suspend(client: FlaskClient, code: str, action: str = "suspend",
            token: str | None = None) -> TestResponse:
    return client.post("/admin/gestores/suspension",
                       data={"gestor_id": code, "action": action,
                             "csrf": token if token is not None else csrf_of(client, "/admin/gestores")})


def test_the_page_and_the_form_need_a_login(app: Flask, seeded: Database) -> None:
    add_gestores(seeded)
    anonymous = app.test_client()
    page = anonymous.get("/admin/gestores")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]
    posted = suspend(anonymous, "G000001", token=csrf_of(anonymous, "/admin/login"))
    assert posted.status_code == 302 and "/admin/login" in posted.headers["Location"]
    assert gestor(seeded, "G000001").suspended_at is None


def test_the_list_shows_each_gestor_and_their_figures_of_today(staff: FlaskClient, seeded: Database) -> None:
    add_lookups(seeded, "G000001", D, 4)
    add_lookups(seeded, "G000001", D, 1, hour=23)  # 23:00 Lima is the next day in UTC: still today
    add_lookups(seeded, "G000001", D, 3, kind="verify", outcome="ok_dob")
    add_lookups(seeded, "G000001", D, 2, kind="verify", outcome="dob_wrong")
    add_lookups(seeded, "G000001", D, 1, kind="verify", outcome="gestor_cap")  # the cap: failed
    add_lookups(seeded, "G000001", D, 2, kind="summary_sms", outcome="sent")  # not a lookup
    add_lookups(seeded, "G000001", D - dt.timedelta(days=1), 7)  # yesterday: not today's
    add_lookups(seeded, "G000002", D + dt.timedelta(days=1), 3, hour=0)  # tomorrow: not today's
    page = staff.get("/admin/gestores").get_data(as_text=True)
    assert "Cifras de hoy, 02/12/2026" in page
    maria = row_of(page, "G000001")
    assert "Maria Quispe" in maria and "PIURA" in maria and "Tambo Chulucanas" in maria
    assert (cell(maria, "lookups"), cell(maria, "verified"), cell(maria, "failed")) == ("5", "3", "3")
    assert (cell(maria, "estado"), cell(maria, "suspended")) == ("activo", "no")
    luis = row_of(page, "G000002")
    assert (cell(luis, "lookups"), cell(luis, "verified"), cell(luis, "failed")) == ("0", "0", "0")
    assert "<td>-</td>" in row_of(page, "G000003")  # no Tambo
    assert all(GESTORES[code][2] not in page for code in GESTORES)  # no gestor's phone on the page
    assert staff.get("/admin/").get_data(as_text=True).count('href="/admin/gestores"') >= 2  # linked


def test_staff_suspend_at_once_and_lift_and_both_are_recorded(
        staff: FlaskClient, seeded: Database, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mijuntos.admin"):
        done = suspend(staff, "G000001")
    assert done.status_code == 302 and "hecho=suspendido" in done.headers["Location"]
    suspended = gestor(seeded, "G000001")
    assert suspended.suspended_at is not None and suspended.suspended_by == "ana"
    assert suspended.estado == "activo"  # the programme's estado is not the staff's switch
    assert not suspended.active
    with seeded.session() as s:  # the assisted mode's one definition (models/gestor.py) agrees
        assert set(s.scalars(select(Gestor.gestor_id).where(is_active()))) == {"G000002", "G000003",
                                                                             "G000004", "G000005"}
    logged = [r.getMessage() for r in caplog.records if "G000001" in r.getMessage()]
    assert logged == ["gestor G000001: assisted mode suspended by staff user ana"]
    assert not any(GESTORES["G000001"][2][-9:] in r.getMessage() for r in caplog.records)  # no phone
    page = staff.get(done.headers["Location"]).get_data(as_text=True)
    assert "Gestor G000001 suspendido" in page
    row = row_of(page, "G000001")
    assert cell(row, "suspended").startswith("si, desde ") and cell(row, "suspended").endswith("por ana")
    assert 'value="lift"' in row and 'value="suspend"' not in row

    again = suspend(staff, "G000001")  # a second click: nothing changes, the first is kept
    assert "hecho=sin_cambio" in again.headers["Location"]
    assert gestor(seeded, "G000001").suspended_at == suspended.suspended_at

    with caplog.at_level(logging.INFO, logger="mijuntos.admin"):
        lifted = suspend(staff, "G000001", "lift")
    assert "hecho=levantado" in lifted.headers["Location"]
    back = gestor(seeded, "G000001")
    assert back.suspended_at is None and back.suspended_by is None and back.active
    assert "gestor G000001: assisted mode restored (suspension lifted) by staff user ana" in caplog.messages


def test_a_suspension_needs_the_sessions_token_and_a_known_gestor(staff: FlaskClient, seeded: Database,
                                                                  app: Flask) -> None:
    for token in ("", "forged", csrf_of(app.test_client(), "/admin/login")):
        refused = suspend(staff, "G000002", token=token)
        assert refused.status_code == 400 and "vencio" in refused.get_data(as_text=True)
    assert gestor(seeded, "G000002").suspended_at is None
    unknown = suspend(staff, "G999999")
    assert unknown.status_code == 404 and "No existe el gestor G999999" in unknown.get_data(as_text=True)
    for code, action in (("G000002", "delete"), ("G000002", ""), ("<script>", "suspend"), ("", "suspend")):
        bad = suspend(staff, code, action)
        assert bad.status_code == 400 and "<script>" not in bad.get_data(as_text=True)
    assert gestor(seeded, "G000002").suspended_at is None


def test_any_staff_user_may_suspend_there_are_no_roles(app: Flask, seeded: Database,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard has one kind of account (models/admin.py: no role): a login is the right."""
    from models import AdminUser

    assert {c.name for c in AdminUser.__table__.columns} == {"id", "username", "password_hash", "created_at"}
    add_gestores(seeded)
    client = log_in(app, seeded, monkeypatch)
    assert suspend(client, "G000003").status_code == 302
    assert gestor(seeded, "G000003").suspended_by == "ana"


# -- the anomaly rule ---------------------------------------------------------------------------


def test_the_volume_rule_and_its_thresholds() -> None:
    assert (VOLUME_MIN_LOOKUPS, VOLUME_FACTOR, HISTORY_DAYS, NO_HISTORY_MIN_LOOKUPS) == (20, 2, 28, 100)
    assert volume_flag(21, [10]) and not volume_flag(20, [10])  # more than twice, not twice
    assert volume_flag(20, [1, 2, 9]) and not volume_flag(19, [1, 2, 9])  # at least 20
    assert volume_flag(46, [5, 20, 25, 30]) and not volume_flag(45, [5, 20, 25, 30])  # median 22.5
    assert volume_flag(51, [5, 20, 25, 30, 40]) and not volume_flag(50, [5, 20, 25, 30, 40])  # 25
    assert volume_flag(100, []) and not volume_flag(99, [])  # no history: the absolute threshold


def seed_history(db: Database) -> None:
    """Each gestor's story, judged on day D (docs/DEPLOY.md "Gestores")."""
    before = [D - dt.timedelta(days=n) for n in range(1, HISTORY_DAYS + 2)]
    for day in before[:5]:  # G1: 10 a day on 5 of the 28 days; today 25 late in the Lima day
        add_lookups(db, "G000001", day, 10)
    add_lookups(db, "G000001", D, 20)
    add_lookups(db, "G000001", D, 5, hour=23)
    for day in before[3:6]:  # G2: 15 a day on three days, nothing on the others; today 30
        add_lookups(db, "G000002", day, 15)  # (were the empty days counted, the median were 0)
    add_lookups(db, "G000002", D, 30)
    add_lookups(db, "G000002", D - dt.timedelta(days=2), 1, household_ut="CUSCO")  # outside, not D
    add_lookups(db, "G000003", D, 97)  # G3: new, 99 in all (under the no-history threshold)...
    add_lookups(db, "G000003", D, 2, household_ut="CUSCO", kind="status")  # ...two of them outside
    add_lookups(db, "G000004", before[0], 5)  # G4: 5 yesterday, 19 today, many verifications
    add_lookups(db, "G000004", D, 19)
    add_lookups(db, "G000004", D, 60, kind="verify", outcome="ok_dob")  # not lookups
    add_lookups(db, "G000004", D, 60, kind="summary_sms", outcome="sent")
    add_lookups(db, "G000005", before[HISTORY_DAYS], 200)  # G5: 29 days ago, out of the window
    add_lookups(db, "G000005", D, 100)  # so no history: 100 flags


EXPECTED = {"G000001": (25, 5, 10, 0, ["volume"]), "G000003": (99, 0, None, 2, ["outside_ut"]),
            "G000005": (100, 0, None, 0, ["volume"])}


def test_the_anomalies_of_a_day(db: Database) -> None:
    add_gestores(db)
    seed_history(db)
    with db.session() as s:
        flagged = anomalies(s, D)
        every = anomalies(s, D, flagged_only=False)
        before = anomalies(s, D - dt.timedelta(days=2))
    got = {a.gestor_id: (a.lookups, a.history_days, a.median, a.outside_ut, a.reasons) for a in flagged}
    assert got == EXPECTED
    assert [a.gestor_id for a in flagged] == ["G000005", "G000003", "G000001"]  # the most lookups first
    assert all(a.gestor is not None and a.gestor.gestor_id == a.gestor_id for a in flagged)
    others = {a.gestor_id: (a.lookups, a.history_days, a.median, a.reasons) for a in every
              if a.gestor_id not in EXPECTED}
    assert others == {"G000002": (30, 4, 15, []), "G000004": (19, 1, 5, [])}
    assert [(a.gestor_id, a.reasons, a.outside_ut) for a in before] == [("G000002", ["outside_ut"], 1)]


def test_the_cli_lists_the_gestores_and_the_anomalies(db: Database, redis_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    add_gestores(db)
    seed_history(db)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()
    out = runner.invoke(main, ["gestores", "anomalies", "--day", D.isoformat()])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith(f"gestores flagged on {D} (Lima): volume = at least 20 lookups")
    rows = [line.split() for line in lines[2:]]
    assert rows == [["G000005", "100", "-", "0", "0", "volume"],
                    ["G000003", "99", "-", "0", "2", "outside_ut"],
                    ["G000001", "25", "10", "5", "0", "volume"]]
    every = runner.invoke(main, ["gestores", "anomalies", "--day", D.isoformat(), "--all"]).output
    assert ["G000002", "30", "15", "4", "0", "-"] in [line.split() for line in every.splitlines()]
    quiet = runner.invoke(main, ["gestores", "anomalies", "--day", "2026-01-01"]).output
    assert quiet.splitlines()[-1] == "none"
    bad = runner.invoke(main, ["gestores", "anomalies", "--day", "2026-02-30"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output

    listed = runner.invoke(main, ["gestores", "list", "--day", D.isoformat()])
    assert listed.exit_code == 0, listed.output
    assert f"assisted lookups of {D}" in listed.output
    maria = next(line for line in listed.output.splitlines() if line.startswith("G000001"))
    assert "Maria Quispe" in maria and "Tambo Chulucanas" in maria and "not suspended" in maria
    assert "today: 25 lookups, 0 verified, 0 failed" in maria
    jose = next(line for line in listed.output.splitlines() if line.startswith("G000004"))
    assert "today: 19 lookups, 60 verified, 0 failed" in jose
    assert all(GESTORES[code][2] not in listed.output for code in GESTORES)  # no phones


def test_the_page_shows_the_same_anomalies(staff: FlaskClient, seeded: Database) -> None:
    seed_history(seeded)
    page = staff.get("/admin/gestores").get_data(as_text=True)  # today: the pinned D
    table = page.split('id="flagged"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-gestor="(\w+)" data-reasons="([\w ]*)">(.*?)</tr>', table, re.S)
    assert [(code, reasons) for code, reasons, _ in rows] == [
        ("G000005", "volume"), ("G000003", "outside_ut"), ("G000001", "volume")]
    for code, _, cells in rows:
        lookups, _, median, outside = EXPECTED[code][:4]
        assert cell(cells, "lookups") == str(lookups) and cell(cells, "outside_ut") == str(outside)
        assert cell(cells, "median") == ("-" if median is None else str(median))
    assert "hogares de otra UT" in table and "volumen inusual" in table
    earlier = staff.get(f"/admin/gestores?dia={D - dt.timedelta(days=2)}").get_data(as_text=True)
    assert re.findall(r'<tr data-gestor="(\w+)"', earlier.split('id="flagged"', 1)[1]) == ["G000002"]
    assert "Ninguna alerta ese dia" in staff.get("/admin/gestores?dia=2026-01-01").get_data(as_text=True)
