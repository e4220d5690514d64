"""Parse one row of each contract CSV file into typed column values, or say what is wrong."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from models import (
    CoResponsibilityType,
    GestorStatus,
    HouseholdStatus,
    Language,
    Modality,
    Reason,
    SettlementStatus,
)

Record = dict[str, Any]

_DNI = re.compile(r"\d{8}")
_UBIGEO = re.compile(r"\d{6}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOUR = re.compile(r"(\d{1,2}):(\d{2})")
_PERIODO = re.compile(r"(\d{4})-([1-6])")
_MOBILE = re.compile(r"9\d{8}")


class RowError(ValueError):
    """A row that breaks the contract; the message starts with the column name."""


def mask(value: str) -> str:
    """Hide all but the last four characters of an identifier (DNI, phone) for messages."""
    return "****" + value[-4:] if len(value) > 4 else "****"


def required(row: Mapping[str, str], column: str, max_len: int | None = None) -> str:
    """A non-empty, stripped text value."""
    value = row[column].strip()
    if not value:
        raise RowError(f"{column}: required")
    if max_len is not None and len(value) > max_len:
        raise RowError(f"{column}: longer than {max_len} characters")
    return value


def optional(row: Mapping[str, str], column: str, max_len: int) -> str | None:
    """A stripped text value, None when empty."""
    value = row[column].strip()
    if len(value) > max_len:
        raise RowError(f"{column}: longer than {max_len} characters")
    return value or None


def choice(row: Mapping[str, str], column: str, allowed: type[Any], default: str = "") -> str:
    """A value from a StrEnum (empty gives `default` when one is set)."""
    value = row[column].strip() or default
    if value not in allowed._value2member_map_:
        shown = value or "(empty)"
        raise RowError(f"{column}: {shown} is not one of {', '.join(m.value for m in allowed)}")
    return str(value)


def dni(row: Mapping[str, str], column: str = "dni") -> str:
    """An 8-digit DNI, leading zeros kept."""
    value = row[column].strip()
    if not _DNI.fullmatch(value):
        raise RowError(f"{column}: must be 8 digits")
    return value


def ubigeo(row: Mapping[str, str], column: str = "ubigeo") -> str:
    """A 6-digit INEI district code."""
    value = row[column].strip()
    if not _UBIGEO.fullmatch(value):
        raise RowError(f"{column}: must be 6 digits, got {value or '(empty)'}")
    return value


def date(row: Mapping[str, str], column: str, *, secret: bool = False) -> dt.date:
    """A YYYY-MM-DD date (the value is not echoed when it is personal data); a date of that shape
    that no calendar has (1992-02-31, month 13) is "not a real date", not a format error."""
    value = row[column].strip()
    shown = "" if secret else f", got {value or '(empty)'}"
    if not _DATE.fullmatch(value):
        raise RowError(f"{column}: must be a date YYYY-MM-DD{shown}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{column}: not a real date{shown}") from None


def hour(row: Mapping[str, str], column: str) -> dt.time:
    """An HH:MM time of day."""
    value = row[column].strip()
    match = _HOUR.fullmatch(value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise RowError(f"{column}: must be HH:MM, got {value or '(empty)'}")
    return dt.time(int(match[1]), int(match[2]))


def periodo(row: Mapping[str, str], column: str = "periodo") -> str:
    """A bimester label YYYY-B with B from 1 to 6."""
    value = row[column].strip()
    if not _PERIODO.fullmatch(value):
        raise RowError(f"{column}: must be YEAR-BIMESTER like 2026-6, got {value or '(empty)'}")
    return value


def phone(row: Mapping[str, str], column: str = "celular") -> str | None:
    """A Peruvian mobile in any common spelling, as E.164; None when empty."""
    value = row[column].strip()
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, "PE")
    except phonenumbers.NumberParseException:
        raise RowError(f"{column}: {mask(value)} is not a phone number") from None
    national = str(number.national_number)
    if number.country_code != 51 or not _MOBILE.fullmatch(national):
        raise RowError(f"{column}: {mask(value)} is not a Peruvian mobile (9 digits starting 9)")
    return "+51" + national


def required_phone(row: Mapping[str, str], column: str = "celular") -> str:
    """A Peruvian mobile that must be there."""
    value = phone(row, column)
    if value is None:
        raise RowError(f"{column}: required")
    return value


def money(row: Mapping[str, str], column: str) -> Decimal:
    """A non-negative amount in soles with at most two decimals."""
    value = row[column].strip()
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RowError(f"{column}: must be a decimal number, got {value or '(empty)'}") from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RowError(f"{column}: must be 0 or more with at most 2 decimals, got {value}")
    if amount >= Decimal("100000000"):
        raise RowError(f"{column}: too large, got {value}")
    return amount


def yes_no(row: Mapping[str, str], column: str) -> bool:
    """`si` or `no` as a bool."""
    value = row[column].strip().lower()
    if value not in ("si", "no"):
        raise RowError(f"{column}: must be si or no, got {value or '(empty)'}")
    return value == "si"


def parse_padron(row: Mapping[str, str]) -> Record:
    """One household of padron.csv."""
    return {
        "hogar_id": required(row, "hogar_id", 16),
        "dni": dni(row),
        "nombres": required(row, "nombres", 120),
        "apellidos": required(row, "apellidos", 120),
        "fecha_nacimiento": date(row, "fecha_nacimiento", secret=True),
        "phone": phone(row),
        "idioma": choice(row, "idioma", Language, default=Language.ES),
        "ubigeo": ubigeo(row),
        "unidad_territorial": required(row, "unidad_territorial", 40).upper(),
        "estado": choice(row, "estado", HouseholdStatus),
    }


def parse_cronograma(row: Mapping[str, str]) -> Record:
    """One pay point of one period of cronograma.csv."""
    record: Record = {
        "periodo": periodo(row),
        "punto_id": required(row, "punto_id", 20),
        "modalidad": choice(row, "modalidad", Modality),
        "lugar": required(row, "lugar", 120),
        "direccion": optional(row, "direccion", 200),
    }
    fecha_inicio, fecha_fin = date(row, "fecha_inicio"), date(row, "fecha_fin")
    hora_inicio, hora_fin = hour(row, "hora_inicio"), hour(row, "hora_fin")
    if fecha_fin < fecha_inicio:
        raise RowError("fecha_fin: before fecha_inicio")
    if hora_fin < hora_inicio:
        raise RowError("hora_fin: before hora_inicio")
    record.update(fecha_inicio=fecha_inicio, fecha_fin=fecha_fin, hora_inicio=hora_inicio,
                  hora_fin=hora_fin, ubigeo=ubigeo(row))
    return record


def parse_abono(row: Mapping[str, str]) -> Record:
    """One settlement of abonos.csv (the punto_id's existence is checked later, in batches)."""
    record = {
        "periodo": periodo(row),
        "hogar_id": required(row, "hogar_id", 16),
        "monto": money(row, "monto"),
        "estado": choice(row, "estado", SettlementStatus),
        "motivo": optional(row, "motivo", 24),
        "punto_id": optional(row, "punto_id", 20),
    }
    if record["estado"] == SettlementStatus.SIN_ABONO:
        record["motivo"] = choice(row, "motivo", Reason)
    elif record["motivo"] is not None:
        raise RowError(f"motivo: must be empty when estado is {record['estado']}")
    if record["estado"] == SettlementStatus.PROGRAMADO and record["punto_id"] is None:
        raise RowError("punto_id: required when estado is programado")
    return record


def gestor_estado(row: Mapping[str, str], column: str = "estado") -> str:
    """`activo` or `inactivo`, in any case."""
    value = row[column].strip()
    if value.lower() not in GestorStatus._value2member_map_:
        shown = value or "(empty)"
        raise RowError(f"{column}: {shown} is not one of {', '.join(m.value for m in GestorStatus)}")
    return value.lower()


def parse_gestor(row: Mapping[str, str]) -> Record:
    """One gestor of gestores.csv; without a tambo column the record has no tambo (kept as stored)."""
    record: Record = {
        "gestor_id": required(row, "gestor_id", 16),
        "nombres": required(row, "nombres", 120),
        "apellidos": required(row, "apellidos", 120),
        "phone": required_phone(row),
        "unidad_territorial": required(row, "unidad_territorial", 40).upper(),
        "estado": gestor_estado(row),
    }
    if "tambo" in row:
        record["tambo"] = optional(row, "tambo", 80)
    return record


def parse_corresponsabilidad(row: Mapping[str, str]) -> Record:
    """One member's co-responsibility of corresponsabilidades.csv."""
    return {
        "periodo": periodo(row),
        "hogar_id": required(row, "hogar_id", 16),
        "miembro": required(row, "miembro", 60),
        "tipo": choice(row, "tipo", CoResponsibilityType),
        "cumple": yes_no(row, "cumple"),
        "detalle": optional(row, "detalle", 80) or "",
    }


@dataclass(frozen=True)
class FileSpec:
    """A contract file: its name, header columns, row parser and table key.

    Every column must be in the header except those in `optional`. A `full_list` file lists
    every row of its table: it is checked and written whole, and a key it leaves out is
    deactivated (mijuntos/import_gestores.py).
    """

    name: str
    columns: tuple[str, ...]
    parse: Callable[[Mapping[str, str]], Record]
    table: str
    key: tuple[str, ...]
    optional: tuple[str, ...] = ()
    full_list: bool = False


FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "padron.csv",
        ("hogar_id", "dni", "nombres", "apellidos", "fecha_nacimiento", "celular", "idioma",
         "ubigeo", "unidad_territorial", "estado"),
        parse_padron, "household", ("hogar_id",),
    ),
    FileSpec(
        "cronograma.csv",
        ("periodo", "punto_id", "modalidad", "lugar", "direccion", "fecha_inicio", "fecha_fin",
         "hora_inicio", "hora_fin", "ubigeo"),
        parse_cronograma, "pay_point", ("periodo", "punto_id"),
    ),
    FileSpec(
        "abonos.csv",
        ("periodo", "hogar_id", "monto", "estado", "motivo", "punto_id"),
        parse_abono, "settlement", ("periodo", "hogar_id"),
    ),
    FileSpec(
        "corresponsabilidades.csv",
        ("periodo", "hogar_id", "miembro", "tipo", "cumple", "detalle"),
        parse_corresponsabilidad, "co_responsibility", ("periodo", "hogar_id", "miembro", "tipo"),
    ),
    # Last: its check against households' phones sees a padron.csv imported with it.
    FileSpec(
        "gestores.csv",
        ("gestor_id", "nombres", "apellidos", "celular", "unidad_territorial", "tambo", "estado"),
        parse_gestor, "gestor", ("gestor_id",), optional=("tambo",), full_list=True,
    ),
)
