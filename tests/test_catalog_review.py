"""The translators' workflow: a catalog exported to CSV, changed, imported with line-numbered
checks (nothing written if a row is wrong), and the reviewed text then seen by a caller."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import redis as redis_lib
from click.testing import CliRunner

from core.catalogs import DRAFT, LOCALES_DIR, REVIEWED, entries, load_catalog
from core.settings import Settings
from gateway.app import create_app
from mijuntos.catalog_review import COLUMNS
from mijuntos.cli import main
from models import Database
from tests.support import JUANA, STRANGER_PHONE, Phone

# Test texts standing in for a translator's work (not translations).
MENU = "Rimaykullayki {name}. Mi Juntos:\n1 Pago\n2 Estado\n3 Ruwaykuna\n4 SMS\n5 Simi\n0 Lluqsiy"
NAV = "0 Kutiy 00 Qallariy"
WRONG = "Fecha mana tupanchu."  # dob_wrong without its {left}
RIGHT = "Fecha mana tupanchu. Kanraq: {left}"


@pytest.fixture
def locales(tmp_path: Path, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    monkeypatch.setenv("LOCALES_DIR", str(target))
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    return target


def export(path: Path, lang: str = "qu") -> list[dict[str, str]]:
    result = CliRunner().invoke(main, ["catalogs", "export", lang, str(path)])
    assert result.exit_code == 0, result.output
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def change(rows: list[dict[str, str]], key: str, text: str, status: str) -> int:
    """Set one row; its index among the data rows."""
    for n, row in enumerate(rows):
        if row["key"] == key:
            row["text"], row["status"] = text, status
            return n
    raise KeyError(key)


def test_export_lists_every_key_with_its_budget_and_example(locales: Path, tmp_path: Path) -> None:
    rows = export(tmp_path / "qu.csv")
    assert [r["key"] for r in rows] == list(entries(locales / "es.po"))
    by_key = {r["key"]: r for r in rows}
    assert by_key["sms_pay_etv"]["where"] == "SMS" and by_key["main_menu"]["where"] == "screen"
    pay = by_key["sms_pay_etv"]
    # The seed's longest pay point, shortened as the SMS shortens it, in the example.
    assert "Operativo ETV" in pay["example"] and "{" not in pay["example"]
    assert all(int(r["budget_left"]) >= 0 for r in rows), [r["key"] for r in rows
                                                            if int(r["budget_left"]) < 0]
    assert {r["status"] for r in rows} <= {"reviewed", "draft", "missing"}


def test_round_trip_refuses_a_wrong_row_then_the_caller_sees_the_reviewed_text(
    locales: Path, tmp_path: Path, settings: Settings, redis: redis_lib.Redis
) -> None:
    path = tmp_path / "qu.csv"
    rows = export(path)
    change(rows, "main_menu", MENU, "reviewed")
    change(rows, "nav_full", NAV, "draft")
    wrong = change(rows, "dob_wrong", WRONG, "reviewed")
    write(path, rows)
    before = (locales / "qu.po").read_bytes()
    line = wrong + 2  # its row in a spreadsheet: the header is row 1
    result = CliRunner().invoke(main, ["catalogs", "import", "qu", str(path)])
    assert result.exit_code == 1
    assert f"qu.csv: line {line}: dob_wrong: placeholders: missing {{left}}" in result.output, result.output
    assert "nothing written" in result.output
    assert (locales / "qu.po").read_bytes() == before
    change(rows, "dob_wrong", RIGHT, "reviewed")
    write(path, rows)
    result = CliRunner().invoke(main, ["catalogs", "import", "qu", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 texts changed" in result.output
    found = entries(locales / "qu.po")
    assert (found["main_menu"].status, found["nav_full"].status) == (REVIEWED, DRAFT)
    assert found["main_menu"].text == MENU
    assert "5 Simi" in load_catalog(locales).text("qu", "main_menu", name="x")
    # Re-importing the same file changes nothing.
    again = CliRunner().invoke(main, ["catalogs", "import", "qu", str(path)])
    assert again.exit_code == 0 and "0 texts changed" in again.output
    summary = CliRunner().invoke(main, ["catalogs"]).output
    drafts = sum(e.status == DRAFT for e in found.values())
    assert f"qu: 2 reviewed, {drafts} draft, {len(found) - 2 - drafts} missing" in summary, summary
    # A caller whose household reads Quechua: the reviewed menu; the draft only in drafts mode.
    for mode, nav, number in (("reviewed", "0 Atras 00 Menu", STRANGER_PHONE),
                              ("drafts", NAV, "+51944444444")):
        app = create_app(settings.with_(locales_dir=locales, translations=mode))
        try:
            phone = Phone(app.test_client(), number, redis=redis)
            phone.dial()
            phone.send(JUANA["dni"])
            menu = phone.send(JUANA["dob"])
            assert "Rimaykullayki Juana" in menu and "5 Simi" in menu, (mode, menu)
            assert nav in phone.send("3"), mode
        finally:
            app.extensions["mijuntos"].close()


@pytest.mark.parametrize(("key", "text", "reason"), [
    ("main_menu", "Hola {name} {nombre}", "placeholders: unknown {nombre}"),
    ("nav_full", "0 Ñawpaq 00 Menú", "characters outside GSM-7: ú"),
    ("screen_bye", "", "empty text"),
    ("sms_help", "Mi Juntos: {code} {helpline} " + "yanapay " * 20,
     "characters over the SMS limit of 160"),
    ("no_such_key", "x", "not a key of the catalog"),
])
def test_each_wrong_row_is_named_with_its_line(
    locales: Path, tmp_path: Path, key: str, text: str, reason: str
) -> None:
    path = tmp_path / "qu.csv"
    rows = export(path)
    if key == "no_such_key":
        rows.append({**rows[0], "key": key, "text": text, "status": "reviewed"})
    else:
        change(rows, key, text, "reviewed")
    write(path, rows)
    before = (locales / "qu.po").read_bytes()
    result = CliRunner().invoke(main, ["catalogs", "import", "qu", str(path)])
    assert result.exit_code == 1 and reason in result.output and f"{key}:" in result.output, result.output
    assert ": line " in result.output
    assert (locales / "qu.po").read_bytes() == before


def test_a_file_without_the_columns_is_refused(locales: Path, tmp_path: Path) -> None:
    path = tmp_path / "qu.csv"
    path.write_text("clave,texto\nmain_menu,hola\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["catalogs", "import", "qu", str(path)])
    assert result.exit_code == 1 and "line 1: the header lacks key, status, text" in result.output


def test_the_simulator_shows_drafts_in_the_language_chosen_and_the_keys(
    locales: Path, settings: Settings, redis: redis_lib.Redis
) -> None:
    """Reviewers see a draft in context: in the simulator, in the language picked on the page,
    with the keys of the texts shown; callers on /ussd keep the reviewed texts (Spanish here)."""
    from core.catalogs import write_texts
    from tests.support import simulator_token

    write_texts(locales / "qu.po", {"screen_dni": ("Mi Juntos. DNI qillqay (8 yupay):", False)})
    app = create_app(settings.with_(locales_dir=locales))
    try:
        client = app.test_client()
        form = {"sessionId": "SIMrev1", "serviceCode": "*1880#", "phoneNumber": STRANGER_PHONE,
                "networkCode": "71610", "text": "", "lang": "qu"}
        shown = client.post("/simulator/hop", data=form,
                            headers={"X-CSRFToken": simulator_token(client)})
        assert shown.get_data(as_text=True) == "CON Mi Juntos. DNI qillqay (8 yupay):"
        assert shown.headers["X-Catalog-Keys"] == "screen_dni"
        spanish = client.post("/simulator/hop", data={**form, "sessionId": "SIMrev2", "lang": ""},
                              headers={"X-CSRFToken": simulator_token(client)})
        assert "Bienvenida a Mi Juntos" in spanish.get_data(as_text=True)  # a stranger: Spanish
        caller = Phone(client, STRANGER_PHONE, redis=redis).dial()
        assert "Bienvenida a Mi Juntos" in caller  # TRANSLATIONS=reviewed: the draft is not shown
        page = client.get("/simulator").get_data(as_text=True)
        assert 'id="lang"' in page and 'id="keys"' in page
    finally:
        app.extensions["mijuntos"].close()


def test_the_dashboard_and_the_cli_give_the_same_completeness(
    locales: Path, settings: Settings, seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.catalogs import write_texts
    from tests.admin_support import log_in

    write_texts(locales / "ay.po", {"nav_back": ("0 Qhipa", False), "nav_more": ("98 Juk'a", True)})
    total = len(entries(locales / "es.po"))
    app = create_app(settings.with_(locales_dir=locales))
    try:
        client = log_in(app, seeded, monkeypatch)
        page = client.get("/admin/").get_data(as_text=True)
    finally:
        app.extensions["mijuntos"].close()
    found = entries(locales / "ay.po")
    reviewed, draft = (sum(e.status == s for e in found.values()) for s in (REVIEWED, DRAFT))
    assert reviewed == 1 and found["nav_more"].status == REVIEWED
    missing = total - reviewed - draft
    assert f"ay: {reviewed} revisados, {draft} borradores, {missing} faltan" in page, page
    out = CliRunner().invoke(main, ["catalogs"]).output
    assert f"ay: {reviewed} reviewed, {draft} draft, {missing} missing" in out, out
