"""`import_dir` and `mijuntos import` against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from mijuntos.cli import main
from mijuntos.import_report import MAX_KEPT_ERRORS
from mijuntos.importer import ImportHeaderError, import_dir
from models import Base, CoResponsibility, Database, Household, PayPoint, Settlement

HEADERS = {
    "padron.csv": "hogar_id,dni,nombres,apellidos,fecha_nacimiento,celular,idioma,ubigeo,"
    "unidad_territorial,estado",
    "cronograma.csv": "periodo,punto_id,modalidad,lugar,direccion,fecha_inicio,fecha_fin,"
    "hora_inicio,hora_fin,ubigeo",
    "abonos.csv": "periodo,hogar_id,monto,estado,motivo,punto_id",
    "corresponsabilidades.csv": "periodo,hogar_id,miembro,tipo,cumple,detalle",
}
GOOD = {
    "padron.csv": [
        "H1,01234567,ROSA,QUISPE MAMANI,1990-05-17,987654321,qu,080601,CUSCO,afiliado",
        "H2,12345678,JUANA,FLORES RUIZ,1985-01-02,51987654322,,200401,PIURA,afiliado",
        "H3,23456789,MARIA,CONDORI APAZA,1979-12-31,+51 987 654 323,ay,210401,PUNO,suspendido",
        "H4,00000042,ELENA,CCORI TITO,2000-02-29,,es,050401,AYACUCHO,desafiliado",
    ],
    "cronograma.csv": [
        '2026-6,P0001,agencia,Agencia BN Sicuani,"Jr. Lima 123, Sicuani",2026-12-02,2026-12-10,'
        "08:30,17:30,080601",
        "2026-6,P0002,etv,Operativo ETV Ccollpa,,2026-12-05,2026-12-05,07:00,15:00,210401",
    ],
    "abonos.csv": [
        "2026-6,H1,300,programado,,P0001",
        "2026-6,H2,380.50,cobrado,,P0002",
        "2026-6,H3,0,sin_abono,SUSPENDIDO,",
        "2026-6,H4,0,sin_abono,DESAFILIADO,",
    ],
    "corresponsabilidades.csv": [
        "2026-6,H1,Luis,salud,si,control CRED",
        "2026-6,H1,Rosa,salud,no,control prenatal",
        "2026-6,H2,Ana,educacion,si,asistencia escolar",
    ],
}
MODELS: list[Any] = [Household, PayPoint, Settlement, CoResponsibility]


def write_files(directory: Path, files: dict[str, list[str]], *, bom: bool = False) -> Path:
    """Write each file as its contract header plus `lines`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        text = "\n".join([HEADERS[name], *lines]) + "\n"
        (directory / name).write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return directory


def with_extra(name: str, *lines: str) -> dict[str, list[str]]:
    """The good files with `lines` appended to `name`."""
    files = {k: list(v) for k, v in GOOD.items()}
    files[name].extend(lines)
    return files


def count(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the imported tables, as plain tuples in key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def household(db: Database, hogar_id: str) -> Household:
    with db.session() as s:
        found = s.get(Household, hogar_id)
        assert found is not None
        return found


def test_good_files_land_with_typed_values(db: Database, tmp_path: Path) -> None:
    report = import_dir(db, write_files(tmp_path, GOOD))
    assert report.ok and report.errors == []
    assert [(s.read, s.inserted, s.rejected) for s in report.files.values()] == [
        (4, 4, 0), (2, 2, 0), (4, 4, 0), (3, 3, 0)
    ]
    h1, h2, h4 = household(db, "H1"), household(db, "H2"), household(db, "H4")
    assert (h1.phone, h1.idioma, h1.reminders_enabled) == ("+51987654321", "qu", True)
    assert (h2.phone, h2.idioma) == ("+51987654322", "es")  # empty idioma means es
    assert (h4.dni, h4.phone, h4.fecha_nacimiento) == ("00000042", None, dt.date(2000, 2, 29))
    with db.session() as s:
        point = s.get(PayPoint, ("2026-6", "P0001"))
        paid = s.get(Settlement, ("2026-6", "H2"))
        member = s.get(CoResponsibility, ("2026-6", "H1", "Rosa", "salud"))
    assert point is not None and point.direccion == "Jr. Lima 123, Sicuani"
    assert (point.hora_inicio, point.hora_fin) == (dt.time(8, 30), dt.time(17, 30))
    assert paid is not None and paid.monto == Decimal("380.50") and paid.motivo is None
    assert member is not None and member.cumple is False


@pytest.mark.parametrize(
    "spelled",
    ["987654399", "51987654399", "+51 987 654 399", "+51987654399", "987 654 399",
     "0051 987-654-399", "(+51) 987654399"],
)
def test_phone_spellings_become_e164(db: Database, tmp_path: Path, spelled: str) -> None:
    line = f'H9,87654321,LUZ,NINA,1991-03-04,"{spelled}",es,210401,PUNO,afiliado'
    report = import_dir(db, write_files(tmp_path, {"padron.csv": [line]}))
    assert report.ok
    assert household(db, "H9").phone == "+51987654399"


BAD_ROWS = [
    ("padron.csv", "H9,1234567,A,B,1990-01-01,,es,080601,CUSCO,afiliado", "dni: must be 8 digits"),
    ("padron.csv", "H9,1234567X,A,B,1990-01-01,,es,080601,CUSCO,afiliado", "dni: must be 8"),
    ("padron.csv", "H9,99999999,A,B,17/05/1990,,es,080601,CUSCO,afiliado",
     "fecha_nacimiento: must be a date YYYY-MM-DD"),
    ("padron.csv", "H9,99999999,A,B,1992-02-31,,es,080601,CUSCO,afiliado",
     "fecha_nacimiento: not a real date"),
    ("padron.csv", "H9,99999999,A,B,1990-13-01,,es,080601,CUSCO,afiliado",
     "fecha_nacimiento: not a real date"),
    ("padron.csv", "H9,99999999,A,B,1990-01-01,014261234,es,080601,CUSCO,afiliado",
     "celular: ****1234 is not a Peruvian mobile"),
    ("padron.csv", "H9,99999999,A,B,1990-01-01,98765432,es,080601,CUSCO,afiliado", "celular:"),
    ("padron.csv", "H9,99999999,A,B,1990-01-01,+1 650 253 0000,es,080601,CUSCO,afiliado",
     "celular: ****0000 is not a Peruvian mobile"),
    ("padron.csv", "H9,99999999,A,B,1990-01-01,,fr,080601,CUSCO,afiliado",
     "idioma: fr is not one of es, qu, ay"),
    ("padron.csv", "H9,99999999,A,B,1990-01-01,,es,80601,CUSCO,afiliado", "ubigeo: must be 6"),
    ("padron.csv", "H9,99999999,A,B,1990-01-01,,es,080601,CUSCO,activo", "estado: activo is not"),
    ("padron.csv", "H9,99999999,,B,1990-01-01,,es,080601,CUSCO,afiliado", "nombres: required"),
    ("padron.csv", "H9,12345678,A,B,1990-01-01,,es,080601,CUSCO,afiliado",
     "dni: ****5678 already belongs to household H2"),
    ("cronograma.csv", "2026-7,P9,agencia,X,,2026-12-01,2026-12-02,08:00,17:00,080601",
     "periodo: must be YEAR-BIMESTER"),
    ("cronograma.csv", "2026-6,P9,banco,X,,2026-12-01,2026-12-02,08:00,17:00,080601",
     "modalidad: banco is not one of agencia, etv"),
    ("cronograma.csv", "2026-6,P9,etv,X,,2026-12-03,2026-12-02,08:00,17:00,080601",
     "fecha_fin: before fecha_inicio"),
    ("cronograma.csv", "2026-6,P9,etv,X,,2026-11-31,2026-12-02,08:00,17:00,080601",
     "fecha_inicio: not a real date, got 2026-11-31"),
    ("cronograma.csv", "2026-6,P9,etv,X,,2026-12-01,2026/12/02,08:00,17:00,080601",
     "fecha_fin: must be a date YYYY-MM-DD, got 2026/12/02"),
    ("cronograma.csv", "2026-6,P9,etv,X,,2026-12-01,2026-12-02,8h,17:00,080601",
     "hora_inicio: must be HH:MM"),
    ("cronograma.csv", "2026-6,P9,etv,X,,2026-12-01,2026-12-02,17:00,08:00,080601",
     "hora_fin: before hora_inicio"),
    ("abonos.csv", "2026-6,H9,200,programado,,P0001", "hogar_id: H9 is not in the padron"),
    ("abonos.csv", "2026-6,H1,-5,cobrado,,P0001", "monto: must be 0 or more"),
    ("abonos.csv", "2026-6,H1,doscientos,cobrado,,P0001", "monto: must be a decimal"),
    ("abonos.csv", "2026-6,H1,200,pagado,,P0001", "estado: pagado is not one of"),
    ("abonos.csv", "2026-6,H1,0,sin_abono,,", "motivo: (empty) is not one of INC_SALUD"),
    ("abonos.csv", "2026-6,H1,0,sin_abono,MOROSO,", "motivo: MOROSO is not one of"),
    ("abonos.csv", "2026-6,H1,200,cobrado,INC_SALUD,P0001",
     "motivo: must be empty when estado is cobrado"),
    ("abonos.csv", "2026-6,H1,200,programado,,", "punto_id: required when estado is programado"),
    ("abonos.csv", "2026-6,H1,200,programado,,P0099",
     "punto_id: P0099 is not in cronograma for 2026-6"),
    ("abonos.csv", "2026-5,H1,200,programado,,P0001",
     "punto_id: P0001 is not in cronograma for 2026-5"),
    ("corresponsabilidades.csv", "2026-6,H9,Luis,salud,si,", "hogar_id: H9 is not in the padron"),
    ("corresponsabilidades.csv", "2026-6,H1,Luis,vivienda,si,", "tipo: vivienda is not one of"),
    ("corresponsabilidades.csv", "2026-6,H1,Luis,salud,yes,", "cumple: must be si or no"),
]


@pytest.mark.parametrize(("name", "bad", "reason"), BAD_ROWS)
def test_bad_row_is_reported_and_skipped(
    db: Database, tmp_path: Path, name: str, bad: str, reason: str
) -> None:
    good_after = {
        "padron.csv": "H5,55555555,NORMA,PARI,1988-08-08,,es,080601,CUSCO,afiliado",
        "cronograma.csv": "2026-6,P0003,etv,Operativo ETV Totora,,2026-12-06,2026-12-06,"
        "07:00,15:00,080601",
        "abonos.csv": "2026-5,H1,200,cobrado,,",
        "corresponsabilidades.csv": "2026-6,H2,Kevin,educacion,si,asistencia escolar",
    }[name]
    report = import_dir(db, write_files(tmp_path, with_extra(name, bad, good_after)))
    line = len(GOOD[name]) + 2  # header is line 1
    assert len(report.errors) == 1
    assert str(report.errors[0]).startswith(f"{name}:{line}: {reason}")
    stats = report.files[name]
    assert (stats.read, stats.inserted, stats.rejected) == (len(GOOD[name]) + 2,
                                                            len(GOOD[name]) + 1, 1)
    model = MODELS[list(HEADERS).index(name)]
    assert count(db, model) == len(GOOD[name]) + 1


def test_personal_data_is_never_echoed_in_errors(db: Database, tmp_path: Path) -> None:
    lines = ["H8,1234567,A,B,1990-13-01,+51 987 111 222 333,es,080601,CUSCO,afiliado"]
    report = import_dir(db, write_files(tmp_path, {"padron.csv": lines}))
    text = str(report.errors[0])
    assert "1234567" not in text and "1990-13-01" not in text


def test_line_numbers_count_physical_lines(db: Database, tmp_path: Path) -> None:
    lines = [
        '2026-6,P0001,agencia,Agencia BN Sicuani,"Jr. Lima 123\nfrente a la plaza",2026-12-02,'
        "2026-12-10,08:30,17:30,08060",
        "",
        "2026-6,P0002,etv,Operativo,,2026-12-05,2026-12-05,07:00,15:00,2104",
        '2026-6,P0003,etv,Operativo,"a\nb\nc",2026-12-05,2026-12-05,07:00,15:00,210401',
        "2026-6,P0004,etv,Operativo,,2026-12-05,2026-12-05,07:00,15:00,210401",
    ]
    report = import_dir(db, write_files(tmp_path, {"cronograma.csv": lines}))
    # A quoted newline makes a row span lines; a row's number is the line it starts on.
    assert [str(e) for e in report.errors] == [
        "cronograma.csv:2: ubigeo: must be 6 digits, got 08060",
        "cronograma.csv:5: ubigeo: must be 6 digits, got 2104",
    ]
    assert report.files["cronograma.csv"].read == 4
    assert count(db, PayPoint) == 2


def test_missing_column_rejects_every_file_before_writing(db: Database, tmp_path: Path) -> None:
    write_files(tmp_path, GOOD)
    (tmp_path / "abonos.csv").write_text("periodo,hogar_id,punto_id\n2026-6,H1,P0001\n")
    with pytest.raises(ImportHeaderError) as info:
        import_dir(db, tmp_path)
    assert "abonos.csv" in str(info.value) and "monto, estado, motivo" in str(info.value)
    assert "padron.csv" not in str(info.value)
    assert [count(db, m) for m in MODELS] == [0, 0, 0, 0]


def test_extra_columns_and_any_subset(db: Database, tmp_path: Path) -> None:
    text = "region,hogar_id,dni,nombres,apellidos,fecha_nacimiento,celular,idioma,ubigeo," \
        "unidad_territorial,estado,notas\nX,H7,07070707,ANA,TITO,1995-07-07,,,080601,CUSCO,afiliado,z\n"
    (tmp_path / "padron.csv").write_text(text)
    report = import_dir(db, tmp_path)
    assert list(report.files) == ["padron.csv"] and report.ok
    assert household(db, "H7").dni == "07070707"


def test_byte_order_mark_is_ignored(db: Database, tmp_path: Path) -> None:
    report = import_dir(db, write_files(tmp_path, GOOD, bom=True))
    assert report.ok and report.files["padron.csv"].inserted == 4
    assert household(db, "H1").hogar_id == "H1"


def test_undecodable_line_is_rejected_alone(db: Database, tmp_path: Path) -> None:
    write_files(tmp_path, {"padron.csv": GOOD["padron.csv"][:1]})
    latin1 = "H5,55555555,NORMA,PEÑA,1988-08-08,,es,080601,CUSCO,afiliado\n".encode("latin-1")
    good = b"H6,66666666,NILDA,PARI,1988-08-08,,es,080601,CUSCO,afiliado\n"
    with open(tmp_path / "padron.csv", "ab") as f:
        f.write(latin1 + good)
    report = import_dir(db, tmp_path)
    assert [str(e) for e in report.errors] == [
        "padron.csv:3: encoding: not valid UTF-8 (save the file as UTF-8)"
    ]
    assert count(db, Household) == 2


def test_windows_line_endings(db: Database, tmp_path: Path) -> None:
    text = "\r\n".join([HEADERS["padron.csv"], *GOOD["padron.csv"]]) + "\r\n"
    (tmp_path / "padron.csv").write_bytes(("\ufeff" + text).encode("utf-8"))
    report = import_dir(db, tmp_path)
    assert report.ok and report.files["padron.csv"].inserted == 4
    assert household(db, "H4").estado == "desafiliado"


def test_reimport_changes_nothing(db: Database, tmp_path: Path) -> None:
    directory = write_files(tmp_path, GOOD)
    import_dir(db, directory)
    before = dump(db)
    again = import_dir(db, directory)
    assert dump(db) == before
    for name, stats in again.files.items():
        assert (stats.inserted, stats.updated, stats.unchanged) == (0, 0, len(GOOD[name]))


def test_changed_row_is_updated(db: Database, tmp_path: Path) -> None:
    import_dir(db, write_files(tmp_path / "a", GOOD))
    files = {k: list(v) for k, v in GOOD.items()}
    files["padron.csv"][1] = (
        "H2,12345678,JUANA,FLORES RUIZ,1985-01-02,976000111,qu,200401,PIURA,suspendido"
    )
    files["abonos.csv"][0] = "2026-6,H1,300,cobrado,,P0001"
    report = import_dir(db, write_files(tmp_path / "b", files))
    assert (report.files["padron.csv"].updated, report.files["padron.csv"].unchanged) == (1, 3)
    assert report.files["abonos.csv"].updated == 1
    h2 = household(db, "H2")
    assert (h2.phone, h2.idioma, h2.estado) == ("+51976000111", "qu", "suspendido")
    with db.session() as s:
        assert s.get(Settlement, ("2026-6", "H1")).estado == "cobrado"  # type: ignore[union-attr]


def test_caller_choices_survive_reimport(db: Database, tmp_path: Path) -> None:
    import_dir(db, write_files(tmp_path / "a", GOOD))
    with db.session() as s:
        s.execute(update(Household).where(Household.hogar_id == "H1").values(
            phone="+51911222333", phone_set_by_caller_at=dt.datetime.now(dt.UTC),
            reminders_enabled=False))
        s.execute(update(Household).where(Household.hogar_id == "H2").values(
            idioma="qu", idioma_set_by_caller_at=dt.datetime.now(dt.UTC)))
    files = {k: list(v) for k, v in GOOD.items()}
    files["padron.csv"][:2] = [
        "H1,01234567,ROSA,QUISPE MAMANI,1990-05-17,987000000,es,080601,CUSCO,suspendido",
        "H2,12345678,JUANA,FLORES RUIZ,1985-01-02,987000001,es,200401,PIURA,afiliado",
    ]
    report = import_dir(db, write_files(tmp_path / "b", files))
    assert report.ok
    h1, h2 = household(db, "H1"), household(db, "H2")
    assert (h1.phone, h1.idioma, h1.estado, h1.reminders_enabled) == (
        "+51911222333", "es", "suspendido", False)
    assert (h2.phone, h2.idioma) == ("+51987000001", "qu")
    assert report.files["padron.csv"].updated == 2
    # Nothing else changed: a third import of the same files is all unchanged.
    third = import_dir(db, tmp_path / "b")
    assert third.files["padron.csv"].unchanged == 4


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_duplicate_key_last_row_wins(db: Database, tmp_path: Path, batch_size: int) -> None:
    files = with_extra(
        "abonos.csv", "2026-6,H1,200,cobrado,,P0001", "2026-6,H1,250,no_cobrado,,P0002"
    )
    report = import_dir(db, write_files(tmp_path, files), batch_size=batch_size)
    stats = report.files["abonos.csv"]
    assert (stats.read, stats.inserted, stats.updated, stats.rejected) == (6, 4, 2, 0)
    with db.session() as s:
        row = s.get(Settlement, ("2026-6", "H1"))
    assert row is not None and (row.monto, row.estado, row.punto_id) == (250, "no_cobrado", "P0002")


def test_small_batches_give_the_same_result(db: Database, tmp_path: Path) -> None:
    files = with_extra("abonos.csv", "2026-6,H9,200,programado,,P0001")
    report = import_dir(db, write_files(tmp_path, files), batch_size=1)
    assert [str(e) for e in report.errors] == ["abonos.csv:6: hogar_id: H9 is not in the padron"]
    assert [count(db, m) for m in MODELS] == [4, 2, 4, 3]


def test_only_the_first_errors_are_kept(db: Database, tmp_path: Path) -> None:
    bad = [f"2026-6,H1,{i},pagado,," for i in range(MAX_KEPT_ERRORS + 5)]
    report = import_dir(db, write_files(tmp_path, with_extra("abonos.csv", *bad)))
    assert report.error_count == report.files["abonos.csv"].rejected == MAX_KEPT_ERRORS + 5
    assert len(report.errors) == MAX_KEPT_ERRORS
    assert report.errors[0].line == 6


def invoke(db: Database, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("DATABASE_URL", db.url)
    return CliRunner().invoke(main, list(args))


def test_cli_import_all_good_exits_0(db: Database, tmp_path: Path, monkeypatch: Any) -> None:
    result = invoke(db, monkeypatch, "import", str(write_files(tmp_path, GOOD)))
    assert result.exit_code == 0, result.output
    assert "padron.csv: 4 read, 4 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stdout
    assert count(db, Household) == 4


def test_cli_import_bad_rows_exits_1(db: Database, tmp_path: Path, monkeypatch: Any) -> None:
    bad = [f"2026-6,H1,{i},pagado,," for i in range(60)]
    directory = write_files(tmp_path, with_extra("abonos.csv", *bad))
    result = invoke(db, monkeypatch, "import", str(directory))
    assert result.exit_code == 1
    assert "abonos.csv:6: estado: pagado is not one of" in result.stdout
    assert "abonos.csv:55: estado" in result.stdout and "abonos.csv:56:" not in result.stdout
    assert "... 10 more" in result.stdout
    assert count(db, Settlement) == 4


def test_cli_import_bad_header_exits_2(db: Database, tmp_path: Path, monkeypatch: Any) -> None:
    write_files(tmp_path, GOOD)
    (tmp_path / "padron.csv").write_text("hogar_id,nombres\nH1,ROSA\n")
    result = invoke(db, monkeypatch, "import", str(tmp_path))
    assert result.exit_code == 2
    assert "padron.csv: header lacks required column(s) dni" in result.stderr
    assert count(db, PayPoint) == 0


def test_cli_import_database_down_exits_3(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    result = CliRunner().invoke(main, ["import", str(write_files(tmp_path, GOOD))])
    assert result.exit_code == 3
    assert "database error (OperationalError)" in result.stderr


def test_cli_import_of_a_folder_without_contract_files_exits_4(
    db: Database, tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "Padron_2026.csv").write_text("hogar_id\n")
    result = invoke(db, monkeypatch, "import", str(tmp_path))
    assert result.exit_code == 4, result.output
    assert "all rows ok" not in result.output
    assert (f"nothing imported: {tmp_path} has none of padron.csv, cronograma.csv, abonos.csv, "
            "corresponsabilidades.csv, gestores.csv; its CSV files: Padron_2026.csv") in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(db, monkeypatch, "import", str(empty))
    assert result.exit_code == 4 and "; it has no CSV file" in result.stderr, result.output
    assert import_dir(db, empty).summary_lines() == ["no contract files found: nothing was imported"]
