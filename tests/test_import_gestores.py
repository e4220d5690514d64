"""gestores.csv through `import_dir` and `mijuntos import`, on real SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from mijuntos.cli import main
from mijuntos.importer import ImportHeaderError, import_dir
from models import Database, Gestor, Household
from tests.test_import import GOOD, write_files

HEADER = "gestor_id,nombres,apellidos,celular,unidad_territorial,tambo,estado"
ROWS = [
    "G000101,ROSA ELENA,HUAMAN TITO,987 100 101,piura,Tambo Pampa Grande,activo",
    "G000102,JUAN,MAMANI APAZA,+51 987 100 202,PUNO,,ACTIVO",
    "G000103,NELIDA,CCORI PAUCAR,51987100303,CUSCO,Tambo Ccollpa,Inactivo",
]
T0 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def write(directory: Path, *rows: str, header: str = HEADER) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "gestores.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return directory


def gestores(db: Database) -> dict[str, Gestor]:
    with db.session() as s:
        return {g.gestor_id: g for g in s.scalars(select(Gestor))}


def state(db: Database) -> dict[str, tuple[Any, ...]]:
    """Every stored column of every gestor."""
    return {gid: (g.nombres, g.apellidos, g.phone, g.unidad_territorial, g.tambo, g.estado,
                  g.suspended_at, g.suspended_by, g.updated_at)
            for gid, g in gestores(db).items()}


def counts(report: Any) -> tuple[int | None, ...]:
    s = report.files["gestores.csv"]
    return (s.read, s.inserted, s.updated, s.unchanged, s.rejected, s.deactivated)


def test_good_file_lands_with_typed_values(db: Database, tmp_path: Path) -> None:
    report = import_dir(db, write(tmp_path, *ROWS), now=T0)
    assert report.ok and report.warnings == []
    assert counts(report) == (3, 3, 0, 0, 0, 0)
    found = gestores(db)
    g1, g2, g3 = found["G000101"], found["G000102"], found["G000103"]
    assert (g1.nombres, g1.apellidos, g1.phone, g1.unidad_territorial, g1.tambo, g1.estado) == (
        "ROSA ELENA", "HUAMAN TITO", "+51987100101", "PIURA", "Tambo Pampa Grande", "activo")
    assert (g2.phone, g2.tambo, g2.estado) == ("+51987100202", None, "activo")
    assert (g3.phone, g3.estado) == ("+51987100303", "inactivo")
    assert (g1.active, g3.active) == (True, False)
    assert g1.updated_at == T0 and g1.suspended_at is None


def test_tambo_column_may_be_absent(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS))
    header = "gestor_id,nombres,apellidos,celular,unidad_territorial,estado"
    rows = [",".join(r.split(",")[:5] + r.split(",")[6:]) for r in ROWS]
    rows.append("G000104,ELSA,CHOQUE,987100404,PUNO,activo")
    report = import_dir(db, write(tmp_path / "b", *rows, header=header))
    assert report.ok and counts(report) == (4, 1, 0, 3, 0, 0)
    found = gestores(db)
    # Without the column the stored Tambos stay (a missing column must not blank them all).
    assert found["G000101"].tambo == "Tambo Pampa Grande" and found["G000104"].tambo is None
    # An empty cell in a file that has the column does clear it.
    rows = [ROWS[0].replace("Tambo Pampa Grande", ""), *ROWS[1:]]
    report = import_dir(db, write(tmp_path / "c", *rows))
    assert gestores(db)["G000101"].tambo is None and report.files["gestores.csv"].updated == 1


def test_header_without_estado_rejects_the_import(db: Database, tmp_path: Path) -> None:
    write_files(tmp_path, {"padron.csv": GOOD["padron.csv"]})
    write(tmp_path, "G1,A,B,987100101,PUNO", header="gestor_id,nombres,apellidos,celular,"
          "unidad_territorial")
    with pytest.raises(ImportHeaderError, match="gestores.csv: header lacks required column.s. estado"):
        import_dir(db, tmp_path)
    assert gestores(db) == {}


BAD_ROWS = [
    (",ANA,ROJAS,987100909,PUNO,,activo", "gestor_id: required"),
    ("G000109,ANA,ROJAS,98710090,PUNO,,activo", "celular: ****0090 is not a Peruvian mobile"),
    ("G000109,ANA,ROJAS,014261234,PUNO,,activo", "celular: ****1234 is not a Peruvian mobile"),
    ("G000109,ANA,ROJAS,,PUNO,,activo", "celular: required"),
    ("G000109,ANA,ROJAS,987100909,PUNO,,suspendido", "estado: suspendido is not one of activo, inactivo"),
    ("G000109,ANA,ROJAS,987100909,PUNO,,", "estado: (empty) is not one of activo, inactivo"),
    ("G000109,,ROJAS,987100909,PUNO,,activo", "nombres: required"),
    ("G000109,ANA,ROJAS,987100909,,,activo", "unidad_territorial: required"),
    ("G00010900000000000,ANA,ROJAS,987100909,PUNO,,activo", "gestor_id: longer than 16"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS)
def test_bad_row_is_reported_with_its_line_and_skipped(
    db: Database, tmp_path: Path, bad: str, reason: str
) -> None:
    report = import_dir(db, write(tmp_path, ROWS[0], bad, *ROWS[1:]))
    assert len(report.errors) == 1, report.errors
    assert str(report.errors[0]).startswith(f"gestores.csv:3: {reason}"), report.errors
    assert counts(report) == (4, 3, 0, 0, 1, 0)
    assert sorted(gestores(db)) == ["G000101", "G000102", "G000103"]


def test_repeated_gestor_id_rejects_every_one_of_its_rows(db: Database, tmp_path: Path) -> None:
    again = "G000102,JUAN,MAMANI APAZA,987100999,PUNO,,inactivo"
    report = import_dir(db, write(tmp_path, *ROWS, again))
    assert [str(e) for e in report.errors] == [
        "gestores.csv:3: gestor_id: G000102 is also on line 5 (one row per gestor and per "
        "phone; none of these rows was imported)",
        "gestores.csv:5: gestor_id: G000102 is also on line 3 (one row per gestor and per "
        "phone; none of these rows was imported)",
    ]
    assert counts(report) == (4, 2, 0, 0, 2, 0) and "G000102" not in gestores(db)


def test_a_phone_on_two_rows_rejects_both(db: Database, tmp_path: Path) -> None:
    same = "G000104,ELSA,CHOQUE,987-100-101,PUNO,,activo"
    report = import_dir(db, write(tmp_path, *ROWS, same))
    assert [(e.line, e.reason.split(" (")[0]) for e in report.errors] == [
        (2, "celular: ****0101 is also on line 5"), (5, "celular: ****0101 is also on line 2")]
    assert sorted(gestores(db)) == ["G000102", "G000103"]


def test_a_phone_of_another_gestor_is_rejected(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS))
    # G000102 and G000103 are left out, but their rows (and phones) stay, inactive.
    newcomer = "G000104,ELSA,CHOQUE,987100202,PUNO,,activo"  # G000102's phone
    retired = "G000105,ELSA,CHOQUE,987100303,CUSCO,,activo"  # G000103's, inactivo already
    report = import_dir(db, write(tmp_path / "b", ROWS[0], newcomer, retired))
    assert [str(e) for e in report.errors] == [
        "gestores.csv:3: celular: ****0202 is already the phone of gestor G000102",
        "gestores.csv:4: celular: ****0303 is already the phone of gestor G000103, inactivo",
    ]
    assert counts(report) == (3, 0, 0, 1, 2, 1)
    found = gestores(db)
    assert (found["G000102"].phone, found["G000102"].estado) == ("+51987100202", "inactivo")
    assert "G000104" not in found and "G000105" not in found


def test_phones_may_move_between_gestores_in_one_file(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS))
    swapped = [
        "G000101,ROSA ELENA,HUAMAN TITO,987100202,PIURA,Tambo Pampa Grande,activo",
        "G000102,JUAN,MAMANI APAZA,987100101,PUNO,,activo",
        "G000103,NELIDA,CCORI PAUCAR,987100505,CUSCO,Tambo Ccollpa,inactivo",
        "G000104,ELSA,CHOQUE,987100303,CUSCO,,activo",  # G000103's old phone
    ]
    report = import_dir(db, write(tmp_path / "b", *swapped))
    assert report.ok, report.errors
    assert counts(report) == (4, 1, 3, 0, 0, 0)
    phones = {gid: g.phone for gid, g in gestores(db).items()}
    assert phones == {"G000101": "+51987100202", "G000102": "+51987100101",
                      "G000103": "+51987100505", "G000104": "+51987100303"}


def test_a_rejected_row_keeps_its_phone_taken(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS))
    rows = [
        "G000101,ROSA ELENA,HUAMAN TITO,987100202,PIURA,,activo",  # takes G000102's phone...
        "G000102,JUAN,MAMANI APAZA,987100606,PUNO,,retirado",  # ...whose move is rejected
        ROWS[2],
    ]
    report = import_dir(db, write(tmp_path / "b", *rows))
    assert [str(e) for e in report.errors] == [
        "gestores.csv:2: celular: ****0202 is already the phone of gestor G000102",
        "gestores.csv:3: estado: retirado is not one of activo, inactivo",
    ]
    assert {gid: g.phone for gid, g in gestores(db).items()} == {
        "G000101": "+51987100101", "G000102": "+51987100202", "G000103": "+51987100303"}


def test_a_households_phone_is_imported_with_a_warning(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {"padron.csv": GOOD["padron.csv"]})  # H1's phone is 987654321
    shared = "G000104,ELSA,CHOQUE,51987654321,CUSCO,,activo"
    write(tmp_path, *ROWS, shared)
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["import", "--no-progress", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ("gestores.csv:5: warning: celular: ****4321 is also the phone of record of household "
            "H1; while the gestor is active, a call from it opens the assisted menu") in result.stdout
    assert "1 row(s) imported with a warning" in result.stdout and "all rows ok" in result.stdout
    assert "****4321" in result.stdout and "987654321" not in result.stdout
    assert gestores(db)["G000104"].phone == "+51987654321"


def test_cli_summary_counts_gestores(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["import", "--no-progress", str(write(tmp_path / "a", *ROWS))])
    assert result.exit_code == 0, result.output
    assert "gestores.csv: 3 read, 3 inserted, 0 updated, 0 unchanged, 0 rejected, 0 deactivated" \
        in result.stdout
    rows = [ROWS[0].replace("activo", "inactivo"), "G000104,ELSA,CHOQUE,987100404,PUNO,,x"]
    result = CliRunner().invoke(main, ["import", "--no-progress", str(write(tmp_path / "b", *rows))])
    assert result.exit_code == 1, result.output
    assert "gestores.csv: 2 read, 0 inserted, 1 updated, 0 unchanged, 1 rejected, 1 deactivated" \
        in result.stdout
    assert "gestores.csv:3: estado: x is not one of activo, inactivo" in result.stdout


def test_reimport_changes_nothing(db: Database, tmp_path: Path) -> None:
    directory = write(tmp_path, *ROWS)
    import_dir(db, directory, now=T0)
    before = state(db)
    again = import_dir(db, directory, now=T0 + dt.timedelta(hours=1))
    assert state(db) == before  # updated_at included
    assert counts(again) == (3, 0, 0, 3, 0, 0)
    assert again.files["gestores.csv"].changed == 0


def test_a_changed_row_is_updated_and_stamped(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    later = T0 + dt.timedelta(days=1)
    rows = [ROWS[0], ROWS[1].replace("PUNO,,", "PUNO,Tambo Ccota,"), ROWS[2]]
    report = import_dir(db, write(tmp_path / "b", *rows), now=later)
    assert counts(report) == (3, 0, 1, 2, 0, 0)
    found = gestores(db)
    assert (found["G000102"].tambo, found["G000102"].updated_at) == ("Tambo Ccota", later)
    assert found["G000101"].updated_at == T0


def test_a_gestor_left_out_becomes_inactivo(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    later = T0 + dt.timedelta(days=1)
    report = import_dir(db, write(tmp_path / "b", ROWS[1]), now=later)
    assert counts(report) == (1, 0, 0, 1, 0, 1)  # G000103 was inactivo already
    found = gestores(db)
    assert (found["G000101"].estado, found["G000101"].updated_at) == ("inactivo", later)
    assert found["G000101"].phone == "+51987100101"  # kept: the row stays, inactive
    assert found["G000103"].updated_at == T0
    assert found["G000102"].active
    third = import_dir(db, tmp_path / "b", now=later + dt.timedelta(hours=1))
    assert counts(third) == (1, 0, 0, 1, 0, 0)


@pytest.mark.parametrize("rejected", [
    "G000101,ROSA ELENA,HUAMAN TITO,987100101,PIURA,,de baja",  # a bad value
    "G000101,ROSA ELENA,HUAMAN TITO,9871,PIURA,,activo",  # a bad phone
])
def test_a_gestor_whose_row_is_rejected_keeps_its_state(
    db: Database, tmp_path: Path, rejected: str
) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    before = state(db)["G000101"]
    report = import_dir(db, write(tmp_path / "b", rejected, ROWS[1]), now=T0 + dt.timedelta(days=1))
    assert [e.line for e in report.errors] == [2]
    assert counts(report) == (2, 0, 0, 1, 1, 0)
    assert state(db)["G000101"] == before


def test_a_repeated_gestor_keeps_its_state(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    before = state(db)["G000101"]
    twice = [ROWS[0].replace("activo", "inactivo"), ROWS[0], ROWS[1]]
    report = import_dir(db, write(tmp_path / "b", *twice))
    assert [e.line for e in report.errors] == [2, 3] and report.files["gestores.csv"].deactivated == 0
    assert state(db)["G000101"] == before


def test_an_import_without_gestores_touches_none(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    before = state(db)
    report = import_dir(db, write_files(tmp_path / "b", GOOD), now=T0 + dt.timedelta(days=1))
    assert report.ok and "gestores.csv" not in report.files
    assert state(db) == before


def test_an_empty_list_deactivates_everyone(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS))
    report = import_dir(db, write(tmp_path / "b"))
    assert counts(report) == (0, 0, 0, 0, 0, 2)
    assert {g.estado for g in gestores(db).values()} == {"inactivo"}


def test_an_import_never_touches_the_staff_suspension(db: Database, tmp_path: Path) -> None:
    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    suspended = dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.UTC)
    with db.session() as s:
        s.execute(update(Gestor).where(Gestor.gestor_id.in_(["G000101", "G000102"]))
                  .values(suspended_at=suspended, suspended_by="supervisora"))
    rows = [ROWS[0].replace("Tambo Pampa Grande", "Tambo Sechura"), ROWS[2]]  # G000102 left out
    report = import_dir(db, write(tmp_path / "b", *rows), now=T0 + dt.timedelta(days=1))
    assert counts(report) == (2, 0, 1, 1, 0, 1)
    found = gestores(db)
    for gid in ("G000101", "G000102"):
        assert (found[gid].suspended_at, found[gid].suspended_by) == (suspended, "supervisora")
        assert not found[gid].active
    assert found["G000101"].estado == "activo" and found["G000102"].estado == "inactivo"


def test_an_undecodable_line_is_rejected_alone(db: Database, tmp_path: Path) -> None:
    write(tmp_path, *ROWS)
    with open(tmp_path / "gestores.csv", "ab") as f:
        f.write("G000104,ELSA,PEÑA,987100404,PUNO,,activo\n".encode("latin-1"))
    report = import_dir(db, tmp_path)
    assert [str(e) for e in report.errors] == [
        "gestores.csv:5: encoding: not valid UTF-8 (save the file as UTF-8)"]
    assert sorted(gestores(db)) == ["G000101", "G000102", "G000103"]


def test_the_export_record_counts_deactivations(db: Database, tmp_path: Path) -> None:
    from models import DataExport

    import_dir(db, write(tmp_path / "a", *ROWS), now=T0)
    import_dir(db, write(tmp_path / "b", ROWS[1]), now=T0 + dt.timedelta(days=1))
    with db.session() as s:
        latest = s.scalars(select(DataExport).order_by(DataExport.imported_at.desc())).first()
    assert latest is not None and (latest.files, latest.rows_changed) == ("gestores.csv", 1)
    assert latest.schedule is False


def test_household_phone_check_sees_the_padron_of_the_same_import(
    db: Database, tmp_path: Path
) -> None:
    write_files(tmp_path, {"padron.csv": GOOD["padron.csv"]})
    write(tmp_path, "G000104,ELSA,CHOQUE,987654322,PIURA,,activo")  # H2's phone
    report = import_dir(db, tmp_path)
    assert [(w.file, w.line) for w in report.warnings] == [("gestores.csv", 2)]
    assert "household H2;" in report.warnings[0].reason
    with db.session() as s:
        assert s.get(Household, "H2") is not None
