"""The translators' review workflow: a catalog out to a spreadsheet (CSV) and back, checked.

Export: one row per key with the Spanish source, the current text, its status, where it appears
(a screen or an SMS), the characters left once its placeholders hold the longest real values of
the imported data, and the text rendered with them. Import: every row checked (placeholders,
GSM-7, the limit with real data, no empty text) and nothing written unless every row passes;
rows marked `reviewed` become reviewed texts, the others drafts (docs/TRANSLATIONS.md).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.catalogs import DRAFT, LOCALES_DIR, MISSING, REVIEWED, entries, load_catalog, write_texts
from dialogs.gsm import fit_place, gsm_safe, is_gsm7, septets
from dialogs.texts import Catalog, placeholders
from models import CoResponsibility, Gestor, Household, PayPoint

COLUMNS = ("key", "where", "limit", "source_es", "text", "status", "budget_left", "example")
STATUSES = (REVIEWED, DRAFT, MISSING)
SCREEN_LIMIT = 160  # a screen's text before its notice line and footer (dialogs/engine.py)
SMS_LIMIT = 160  # one GSM-7 SMS part, in septets
MAX_NAME = 14  # a greeting's first name is cut to this (dialogs/engine.py)
SHORTENED = 40  # place names and addresses: SMS shorten them, screens page them


def where(key: str) -> str:
    """Where a key's text appears: an SMS (or a part of one), else a USSD screen."""
    return "SMS" if key.startswith(("sms_", "reminder_", "category_")) else "screen"


def limit(key: str) -> int:
    return SMS_LIMIT if where(key) == "SMS" else SCREEN_LIMIT


def _longest(session: Session, column: object, fallback: str) -> str:
    value = session.scalar(select(column).order_by(func.length(column).desc()).limit(1))  # type: ignore[call-overload]
    return str(value) if value else fallback


@dataclass(frozen=True)
class Samples:
    """The longest real value of each placeholder, from the imported data (or a worst case)."""

    values: dict[str, str]

    @classmethod
    def from_data(cls, session: Session | None, code: str = "*1880#", helpline: str = "1880",
                  grace_hours: int = 72, lock_minutes: int = 30, cap: int = 150) -> Samples:
        names = {"name": "Maximilianaaaa", "place": "Agencia BN", "address": "Jr. Lima 123",
                 "member": "Maximiliano", "detail": "control CRED", "periodo": "2026-12"}
        if session is not None:
            nombres = _longest(session, Household.nombres, names["name"]).split()
            gestor = _longest(session, Gestor.nombres, "").split()
            first = max([nombres[0] if nombres else "", gestor[0] if gestor else ""], key=len)
            names = {
                "name": (first.title() or names["name"])[:MAX_NAME],
                "place": _longest(session, PayPoint.lugar, names["place"]),
                "address": _longest(session, PayPoint.direccion, names["address"]),
                "member": _longest(session, CoResponsibility.miembro, names["member"]),
                "detail": _longest(session, CoResponsibility.detalle, names["detail"]),
                "periodo": _longest(session, PayPoint.periodo, names["periodo"]),
            }
        values = {
            **{k: gsm_safe(v) for k, v in names.items()},
            "dates": "del 28/12 al 02/01/2027", "start": "28/12", "end": "02/01/2027",
            "day": "28/12", "date": "28/12", "open": "08:00", "close": "17:30",
            "masked": "*** *** 321", "old": "*** *** 321", "new": "***321", "last3": "321",
            "who": "hogar de R.M.Q.H.", "initials": "R.M.Q.H.", "last": "R.M.Q.H.",
            "hours": str(grace_hours), "minutes": str(lock_minutes), "cap": str(cap),
            "count": str(cap), "left": "2", "n": "4", "amount": "S/ 9999.99",
            "code": code, "helpline": helpline, "command": "ESTADO", "which": "2026-12",
            "type": "educacion", "state": "no cobrado",
        }
        return cls(values)

    def render(self, catalog: Catalog, lang: str, key: str, text: str) -> str:
        """`text` with every placeholder filled by its longest value; places and addresses as
        the service shows them (shortened in an SMS, paged on a screen)."""
        t = catalog.translator(lang)
        values = dict(self.values)
        wanted = placeholders(text)
        for name in ("category", "reason", "action", "state", "type"):
            if name in wanted:  # the longest text of that kind, in this language
                values[name] = max((t(k) for k in catalog.keys if k.startswith(name + "_")),
                                   key=len, default="x" * 20)
        used = {name: values.get(name, "x" * 10) for name in wanted}
        if "address" in used:
            used["address"] = values["address"][:SHORTENED]
        if "place" in used and where(key) == "SMS":
            return fit_place(lambda place: gsm_safe(text.format(**{**used, "place": place})),
                             values["place"])
        if "place" in used:
            used["place"] = values["place"][:SHORTENED]
        return gsm_safe(text.format(**used))


def budget(key: str, example: str) -> int:
    """Characters (septets, for an SMS) left under the key's limit with the longest values."""
    size = septets(example) if where(key) == "SMS" and is_gsm7(example) else len(example)
    return limit(key) - size


def export_rows(lang: str, samples: Samples, directory: Path = LOCALES_DIR) -> list[dict[str, str]]:
    """One row per key, in the catalog's order."""
    catalog = load_catalog(directory, drafts=True)
    spanish = entries(directory / "es.po")
    own = entries(directory / f"{lang}.po")
    rows = []
    for key, source in spanish.items():
        entry = own.get(key)
        text = entry.text if entry else ""
        shown = text or source.text
        example = samples.render(catalog, lang, key, shown)
        rows.append({
            "key": key, "where": where(key), "limit": str(limit(key)), "source_es": source.text,
            "text": text, "status": entry.status if entry else MISSING,
            "budget_left": str(budget(key, example)), "example": example,
        })
    return rows


def write_csv(path: Path, rows: Iterable[dict[str, str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


@dataclass
class ImportResult:
    errors: list[str]
    changed: dict[str, tuple[str, bool]]  # key -> (text, reviewed)
    reviewed: int = 0
    drafts: int = 0


def check_rows(lang: str, path: Path, samples: Samples,
               directory: Path = LOCALES_DIR) -> ImportResult:
    """Every row of a translator's CSV checked; what would change. Nothing is written here."""
    spanish = entries(directory / "es.po")
    own = entries(directory / f"{lang}.po")
    catalog = load_catalog(directory, drafts=True)
    result = ImportResult([], {})
    seen: set[str] = set()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = set(reader.fieldnames or [])
        lacking = {"key", "text", "status"} - header
        if lacking:
            result.errors.append(f"{path.name}: line 1: the header lacks {', '.join(sorted(lacking))}")
            return result
        # A row's number as a spreadsheet shows it (the header is 1), whatever line breaks its
        # cells hold.
        for line, row in enumerate(reader, start=2):
            key = (row.get("key") or "").strip()
            text = (row.get("text") or "").replace("\r\n", "\n").strip()
            status = (row.get("status") or "").strip().lower() or DRAFT

            def error(reason: str, *, line: int = line, key: str = key) -> None:
                result.errors.append(f"{path.name}: line {line}: {key or '(no key)'}: {reason}")

            if key not in spanish:
                error("not a key of the catalog")
                continue
            if key in seen:
                error("the key is given twice")
                continue
            seen.add(key)
            if status not in STATUSES:
                error(f"status {status!r}: expected reviewed, draft or missing")
                continue
            if not text:
                if status != MISSING:
                    error("empty text")
                continue
            want, have = placeholders(spanish[key].text), placeholders(text)
            if have != want:
                parts = []
                if want - have:
                    parts.append("missing " + ", ".join("{" + p + "}" for p in sorted(want - have)))
                if have - want:
                    parts.append("unknown " + ", ".join("{" + p + "}" for p in sorted(have - want)))
                error("placeholders: " + "; ".join(parts))
                continue
            if not is_gsm7(text):
                bad = sorted({c for c in text if not is_gsm7(c)})
                error("characters outside GSM-7: " + " ".join(bad))
                continue
            try:
                left = budget(key, samples.render(catalog, lang, key, text))
            except (ValueError, IndexError, KeyError) as exc:
                error(f"not a valid text: {exc}")
                continue
            if left < 0:
                error(f"{-left} characters over the {where(key)} limit of {limit(key)} "
                      "with the longest real values")
                continue
            reviewed = status == REVIEWED
            result.reviewed += reviewed
            result.drafts += not reviewed
            current = own.get(key)
            if current is None or current.text != text or (current.status == REVIEWED) != reviewed:
                result.changed[key] = (text, reviewed)
    return result


def import_csv(lang: str, path: Path, samples: Samples,
               directory: Path = LOCALES_DIR) -> ImportResult:
    """Check every row, then write the catalog only if none is wrong."""
    result = check_rows(lang, path, samples, directory)
    if not result.errors and result.changed:
        write_texts(directory / f"{lang}.po", result.changed)
    return result
