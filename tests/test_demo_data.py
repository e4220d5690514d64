"""The synthetic data set: deterministic, realistic, complete, and accepted by the importer."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mijuntos_dev.demo_data import period_labels, write_demo_data
from mijuntos_dev.demo_geo import DISTRICTS_BY_UT
from mijuntos_dev.demo_gestores import demo_gestores
from mijuntos_dev.demo_people import BORN_BY, People
from sqlalchemy import func, select

from core.privacy import mask_phone
from mijuntos.cli import main
from mijuntos.importer import import_dir
from models import (
    CoResponsibility,
    Database,
    Gestor,
    GestorStatus,
    Household,
    HouseholdStatus,
    Language,
    Modality,
    PayPoint,
    Reason,
    Settlement,
    SettlementStatus,
)

TODAY = dt.date(2026, 11, 27)
FILES = ["padron.csv", "cronograma.csv", "abonos.csv", "corresponsabilidades.csv", "gestores.csv"]
# The gestor `mijuntos up` prints (seed 7, any size, any day): docs may quote it.
PRINTED_GESTOR = "gestor (assisted mode): +51959413843, G000101, Tambo Camicachi, PUNO"


def read(directory: Path, name: str) -> list[dict[str, str]]:
    with open(directory / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def digest(directory: Path) -> dict[str, str]:
    return {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in FILES}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo30")
    write_demo_data(directory, 30, today=TODAY)
    return directory


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    write_demo_data(tmp_path / "a", 300, seed=3, today=TODAY)
    write_demo_data(tmp_path / "b", 300, seed=3, today=TODAY)
    write_demo_data(tmp_path / "c", 300, seed=4, today=TODAY)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["padron.csv"] != digest(tmp_path / "c")["padron.csv"]


def test_periods_end_with_todays_bimester_paid_days_ahead(small: Path) -> None:
    assert period_labels(TODAY, 4) == ["2026-3", "2026-4", "2026-5", "2026-6"]
    assert period_labels(dt.date(2026, 1, 15), 3) == ["2025-5", "2025-6", "2026-1"]
    assert period_labels(dt.date(2026, 12, 31), 1) == ["2026-6"]
    for row in read(small, "cronograma.csv"):
        start = dt.date.fromisoformat(row["fecha_inicio"])
        end = dt.date.fromisoformat(row["fecha_fin"])
        if row["periodo"] == "2026-6":
            assert TODAY + dt.timedelta(days=5) <= start <= end <= TODAY + dt.timedelta(days=20)
        else:
            assert end < TODAY


def test_tiny_set_has_every_value(small: Path) -> None:
    padron = read(small, "padron.csv")
    abonos = read(small, "abonos.csv")
    assert {r["estado"] for r in padron} == set(HouseholdStatus)
    assert {r["idioma"] or "es" for r in padron} == set(Language)
    assert "" in {r["idioma"] for r in padron}
    assert {r["modalidad"] for r in read(small, "cronograma.csv")} == set(Modality)
    assert {r["estado"] for r in abonos} == set(SettlementStatus)
    assert {r["motivo"] for r in abonos} - {""} == set(Reason)
    assert {r["tipo"] for r in read(small, "corresponsabilidades.csv")} == {"salud", "educacion"}


def test_reasons_agree_with_households_and_members(tmp_path: Path) -> None:
    write_demo_data(tmp_path, 2000, today=TODAY)
    estado = {r["hogar_id"]: r["estado"] for r in read(tmp_path, "padron.csv")}
    failing: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in read(tmp_path, "corresponsabilidades.csv"):
        if r["cumple"] == "no":
            failing[(r["periodo"], r["hogar_id"])].add(r["tipo"])
    motivos: Counter[str] = Counter()
    for r in read(tmp_path, "abonos.csv"):
        motivos[r["motivo"]] += 1
        key = (r["periodo"], r["hogar_id"])
        if r["estado"] == "sin_abono":
            assert r["monto"] == "0" and r["punto_id"] == ""
        else:
            assert int(r["monto"]) >= 200 and r["punto_id"]
        if r["periodo"] == "2026-6" and estado[r["hogar_id"]] != "afiliado":
            assert r["motivo"] == estado[r["hogar_id"]].upper()
        expected = {"INC_SALUD": {"salud"}, "INC_EDUCACION": {"educacion"}}.get(r["motivo"], set())
        assert failing.get(key, set()) == expected, key
    assert all(motivos[reason] > 0 for reason in Reason)


def test_people_look_real(tmp_path: Path) -> None:
    write_demo_data(tmp_path, 3000, today=TODAY)
    padron = read(tmp_path, "padron.csv")
    dnis = [r["dni"] for r in padron]
    assert len(set(dnis)) == len(dnis) and all(len(d) == 8 and d.isdigit() for d in dnis)
    assert any(d.startswith("0") for d in dnis)
    phones = [r["celular"] for r in padron if r["celular"]]
    assert 0.80 < len(phones) / len(padron) < 0.90
    assert {p[:3] for p in phones} >= {"+51", "519"} and any(len(p) == 9 for p in phones)
    assert len({r["unidad_territorial"] for r in padron}) >= 10
    assert Counter(r["estado"] for r in padron).most_common(1)[0][0] == "afiliado"
    # Ages count from the fixed day birth dates are drawn from (stable README identities): a
    # titular of 18 then is older on any later day.
    ages = [(BORN_BY - dt.date.fromisoformat(r["fecha_nacimiento"])).days / 365.25 for r in padron]
    assert 18 <= min(ages) and max(ages) <= 55.1
    by_ut = Counter((r["unidad_territorial"], r["idioma"]) for r in padron)
    assert by_ut[("PUNO", "ay")] > 0 and by_ut[("CUSCO", "qu")] > 0 and by_ut[("PIURA", "qu")] == 0
    rows = len(read(tmp_path, "corresponsabilidades.csv"))
    assert 2.3 < rows / len(padron) < 3.1  # ~1.35 members with duties, two periods
    assert len(read(tmp_path, "cronograma.csv")) / 4 == round(3000 / 211)


def test_output_imports_without_rejections(db: Database, tmp_path: Path) -> None:
    summary = write_demo_data(tmp_path, 1500, today=TODAY)
    report = import_dir(db, tmp_path, batch_size=700)
    assert report.ok, report.errors[:5]
    assert report.warnings == [], report.warnings[:5]  # no gestor on a household's phone
    assert report.files["gestores.csv"].inserted == len(summary.gestores) == 6
    assert report.files["padron.csv"].inserted == summary.households == 1500
    assert report.files["abonos.csv"].inserted == summary.abonos
    assert report.files["corresponsabilidades.csv"].inserted == summary.corresponsabilidades
    with db.session() as s:
        def values(column: Any) -> set[Any]:
            return set(s.scalars(select(column).distinct()))

        assert values(Household.estado) == set(HouseholdStatus)
        assert values(Household.idioma) == set(Language)
        assert values(PayPoint.modalidad) == set(Modality)
        assert values(Settlement.estado) == set(SettlementStatus)
        assert values(Settlement.motivo) - {None} == set(Reason)
        assert values(CoResponsibility.cumple) == {True, False}
        assert s.scalar(select(func.count()).select_from(PayPoint)) == summary.pay_points
    again = import_dir(db, tmp_path)
    assert sum(s.inserted + s.updated for s in again.files.values()) == 0


def test_samples_match_the_database(db: Database, tmp_path: Path) -> None:
    summary = write_demo_data(tmp_path, 30, today=TODAY)
    import_dir(db, tmp_path)
    with_phone, by_dni = summary.samples[0], summary.samples[1]
    with db.session() as s:
        first = s.get(Household, with_phone.hogar_id)
        second = s.get(Household, by_dni.hogar_id)
        strangers = s.scalar(select(func.count()).where(Household.phone == by_dni.dial_from))
        paid = s.get(Settlement, ("2026-6", with_phone.hogar_id))
        unpaid = s.get(Settlement, ("2026-6", by_dni.hogar_id))
    assert first is not None and second is not None and paid is not None and unpaid is not None
    assert first.phone == with_phone.phone_of_record == with_phone.dial_from
    assert paid.estado == with_phone.estado == "programado"
    assert (second.dni, second.fecha_nacimiento.strftime("%d%m%Y")) == (
        by_dni.dni, by_dni.fecha_nacimiento)
    assert strangers == 0 and unpaid.estado == "sin_abono" and unpaid.motivo == by_dni.motivo


def test_demo_data_command(tmp_path: Path) -> None:
    args = ["demo-data", str(tmp_path), "--households", "40", "--seed", "9"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote 40 households" in result.stdout and "DNI" in result.stdout
    assert len(read(tmp_path, "padron.csv")) == 40


@pytest.mark.parametrize("households", [40, 1000, 2000])
def test_the_phones_a_demo_prints_differ_in_their_last_three_digits(tmp_path: Path, households: int) -> None:
    # A masked log line shows a phone's last three digits only: the phone of record and the
    # "any other phone" the demo prints (and the README quotes) once both ended in 436.
    summary = write_demo_data(tmp_path / "demo", households, today=dt.date(2026, 12, 2))
    samples = summary.samples
    phones = {p for s in samples for p in (s.phone_of_record, s.dial_from) if p}
    phones |= {g.phone for g in summary.gestores}
    assert len(phones) >= 9
    assert len({mask_phone(p) for p in phones}) == len(phones), sorted(phones)
    with open(tmp_path / "demo" / "padron.csv", encoding="utf-8") as f:
        padron = {"".join(c for c in row["celular"] if c.isdigit())[-9:] for row in csv.DictReader(f)}
    strangers = {s.dial_from for s in samples if s.dial_from != s.phone_of_record}
    assert strangers and not {p[-9:] for p in strangers} & padron  # still nobody's phone


def test_demo_gestores(db: Database, tmp_path: Path) -> None:
    summary = write_demo_data(tmp_path, 2000, today=TODAY)
    rows = read(tmp_path, "gestores.csv")
    assert len(rows) == 6 and len({r["gestor_id"] for r in rows}) == 6
    assert [r["estado"] for r in rows].count("inactivo") == 1
    assert {r["unidad_territorial"] for r in rows} <= set(DISTRICTS_BY_UT)
    assert all(r["nombres"] and r["apellidos"] for r in rows)
    assert sum(1 for r in rows if r["tambo"].startswith("Tambo ")) >= 4
    # A masked log line shows three digits: no two gestores' phones may look alike there.
    assert len({mask_phone(g.phone) for g in summary.gestores}) == 6
    report = import_dir(db, tmp_path)
    assert report.ok and report.warnings == [], (report.errors[:3], report.warnings[:3])
    printed = summary.gestor_sample
    assert summary.identity_lines()[-1] == printed.line() == PRINTED_GESTOR
    assert PRINTED_GESTOR in summary.lines()
    with db.session() as s:
        gestores = {g.gestor_id: g for g in s.scalars(select(Gestor))}
        household_phones = set(s.scalars(select(Household.phone).where(Household.phone.is_not(None))))
        titular_ut = s.scalar(select(Household.unidad_territorial).where(Household.dni == "27000020"))
    assert gestores[printed.gestor_id].active and gestores[printed.gestor_id].phone == printed.phone
    assert [g.estado for g in gestores.values()].count(GestorStatus.INACTIVO) == 1
    assert not {g.phone for g in gestores.values()} & household_phones
    # The README's titular (by DNI) lives where the printed gestor serves: not an outside-UT lookup.
    assert titular_ut == printed.unidad_territorial


@pytest.mark.parametrize(("households", "seed"), [(1, 7), (40, 7), (300, 3), (760_000, 7)])
def test_gestor_phones_are_nobodys(tmp_path: Path, households: int, seed: int) -> None:
    people = People(random.Random(seed), seed, households, TODAY)
    household_phones = {people._phone_digits(i) for i in range(households)}
    gestor_phones = {g.phone.removeprefix("+51") for g in demo_gestores(people)}
    assert len(gestor_phones) == 6 and not gestor_phones & household_phones
    assert people.stranger not in gestor_phones
    if seed == 7:
        assert demo_gestores(people)[0].line() == PRINTED_GESTOR
