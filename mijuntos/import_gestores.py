"""gestores.csv: the programme's full list of field staff, checked whole and written at once.

The other files stream in batches and a key repeated in one of them is applied in file order.
gestores.csv is small (a few thousand staff) and decides who may open the assisted menu, so it
is read whole, checked as a whole and written in one transaction:
- a gestor_id or a celular on two rows rejects every one of those rows: the file does not say
  which of them is right;
- a celular that stays another gestor's after this import (the database's, unless this file
  moves that gestor to another phone) rejects the row; phones swapped between gestores in one
  file are fine;
- a celular that is also a household's phone of record is imported with a warning: a call from
  it opens the assisted menu, not that household's own;
- a gestor of the database that the file leaves out becomes `inactivo`; one whose row was
  rejected keeps its state (the file names it, so it did not leave); a row without a readable
  gestor_id holds no one;
- `suspended_at` and `suspended_by` (the staff's switch) are never written, `updated_at` only
  when a value changed; a file without the `tambo` column leaves the stored Tambos alone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mijuntos.csv_rows import FileSpec, Record, RowError, mask
from mijuntos.import_batch import among
from mijuntos.import_report import FileStats, ImportReport, RowIssue
from models import Database, Gestor, GestorStatus, Household

# (line, {column: raw value}, whether every line of the row decoded as UTF-8)
SourceRow = tuple[int, Mapping[str, str], bool]
SHOWN_HOUSEHOLDS = 3


def import_gestores(
    db: Database, spec: FileSpec, rows: Iterable[SourceRow], report: ImportReport,
    stats: FileStats, now: dt.datetime,
) -> None:
    """Check every row of gestores.csv, then upsert and deactivate in one transaction."""
    stats.deactivated = 0
    issues: list[RowIssue] = []
    held: set[str] = set()  # gestor_ids whose row was rejected: they keep their state

    def reject(line: int, reason: str, gestor_id: str | None) -> None:
        issues.append(RowIssue(spec.name, line, reason))
        if gestor_id:
            held.add(gestor_id)

    parsed: list[tuple[int, Record]] = []
    for line, raw, decodable in rows:
        stats.read += 1
        try:
            if not decodable:
                raise RowError("encoding: not valid UTF-8 (save the file as UTF-8)")
            parsed.append((line, spec.parse(raw)))
        except RowError as exc:
            key = raw["gestor_id"].strip()
            reject(line, str(exc), key if 0 < len(key) <= 16 else None)
    candidates: dict[str, tuple[int, Record]] = {}
    for line, record, reason in _repeated(parsed):
        if reason:
            reject(line, reason, record["gestor_id"])
        else:
            candidates[record["gestor_id"]] = (line, record)
    with db.session() as session:
        existing = {g.gestor_id: g for g in session.scalars(select(Gestor))}
        for line, gestor_id, reason in _taken_phones(candidates, existing):
            del candidates[gestor_id]
            reject(line, reason, gestor_id)
        report.add_warnings(_household_phones(session, spec.name, candidates))
        _write(session, candidates, existing, held, stats, now)
    stats.rejected += len(issues)
    report.add_errors(issues)


def _repeated(parsed: list[tuple[int, Record]]) -> list[tuple[int, Record, str | None]]:
    """Each row with the reason it is rejected for a gestor_id or celular on another row too."""
    lines: dict[str, dict[Any, list[int]]] = {"gestor_id": defaultdict(list), "phone": defaultdict(list)}
    for line, record in parsed:
        for column, seen in lines.items():
            seen[record[column]].append(line)
    out: list[tuple[int, Record, str | None]] = []
    for line, record in parsed:
        reason = None
        for column, shown in (("gestor_id", record["gestor_id"]), ("phone", mask(record["phone"]))):
            others = [n for n in lines[column][record[column]] if n != line]
            if others and reason is None:
                name = "celular" if column == "phone" else column
                reason = (f"{name}: {shown} is also on line {', '.join(map(str, others))} "
                          "(one row per gestor and per phone; none of these rows was imported)")
        out.append((line, record, reason))
    return out


def _taken_phones(
    candidates: Mapping[str, tuple[int, Record]], existing: Mapping[str, Gestor]
) -> list[tuple[int, str, str]]:
    """(line, gestor_id, reason) of the rows whose phone stays another gestor's after the import.

    A rejected row keeps its gestor's stored phone, which can reject another row in turn: the
    check repeats until nothing changes.
    """
    owners = {g.phone: g.gestor_id for g in existing.values()}
    left = dict(candidates)
    rejected: list[tuple[int, str, str]] = []
    while True:
        final = {gid: g.phone for gid, g in existing.items()}
        final.update({gid: record["phone"] for gid, (_, record) in left.items()})
        taken = [(line, gid, owners[record["phone"]]) for gid, (line, record) in left.items()
                 if owners.get(record["phone"], gid) != gid
                 and final[owners[record["phone"]]] == record["phone"]]
        if not taken:
            return sorted(rejected)
        for line, gid, owner in taken:
            del left[gid]
            state = "" if existing[owner].estado == GestorStatus.ACTIVO else f", {existing[owner].estado}"
            rejected.append((line, gid, f"celular: {mask(candidates[gid][1]['phone'])} is already "
                                        f"the phone of gestor {owner}{state}"))


def _household_phones(
    session: Session, file: str, candidates: Mapping[str, tuple[int, Record]]
) -> list[RowIssue]:
    """A warning for each imported row whose phone is also a household's phone of record."""
    by_phone = {record["phone"]: line for line, record in candidates.values()}
    if not by_phone:
        return []
    homes: dict[str, list[str]] = defaultdict(list)
    query = (select(Household.phone, Household.hogar_id)
             .where(among(session.connection(), Household.phone, by_phone))
             .order_by(Household.hogar_id))
    for phone, hogar_id in session.execute(query):
        homes[str(phone)].append(hogar_id)
    warnings = []
    for phone, hogares in homes.items():
        shown = ", ".join(hogares[:SHOWN_HOUSEHOLDS])
        more = f" and {len(hogares) - SHOWN_HOUSEHOLDS} more" if len(hogares) > SHOWN_HOUSEHOLDS else ""
        warnings.append(RowIssue(file, by_phone[phone], (
            f"warning: celular: {mask(phone)} is also the phone of record of household "
            f"{shown}{more}; while the gestor is active, a call from it opens the assisted menu")))
    return warnings


def _write(
    session: Session, candidates: Mapping[str, tuple[int, Record]], existing: Mapping[str, Gestor],
    held: set[str], stats: FileStats, now: dt.datetime,
) -> None:
    """Insert, update and deactivate; only rows whose values changed are written."""
    changed: list[tuple[Gestor, Record]] = []
    new: list[Gestor] = []
    for gestor_id, (_, record) in candidates.items():
        gestor = existing.get(gestor_id)
        if gestor is None:
            new.append(Gestor(**record, updated_at=now))
            stats.inserted += 1
        elif all(getattr(gestor, column) == value for column, value in record.items()):
            stats.unchanged += 1
        else:
            changed.append((gestor, record))
            stats.updated += 1
    # Phones that move between gestores (a swap), or to a new one, would meet in the unique
    # index half-way: park them on placeholders (no phone starts with '#') and flush first.
    moving = [gestor for gestor, record in changed if gestor.phone != record["phone"]]
    for n, gestor in enumerate(moving):
        gestor.phone = f"#{n}"
    if moving:
        session.flush()
    for gestor, record in changed:
        for column, value in record.items():
            setattr(gestor, column, value)
        gestor.updated_at = now
    session.add_all(new)
    for gestor_id, gestor in existing.items():
        if gestor_id in candidates or gestor_id in held or gestor.estado == GestorStatus.INACTIVO:
            continue
        gestor.estado = GestorStatus.INACTIVO
        gestor.updated_at = now
        stats.deactivated = (stats.deactivated or 0) + 1
