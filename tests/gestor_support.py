"""Gestores and their assisted lookups, seeded through the models (not gestores.csv)."""

from __future__ import annotations

import datetime as dt

from models import Database, Gestor, Query
from models.clock import lima_day_start

# Phones no household of tests/support.py's seed has (gestores' own phones).
GESTORES = {"G000001": ("Maria", "Quispe", "+51911000001", "PIURA", "Tambo Chulucanas"),
            "G000002": ("Luis", "Mamani", "+51911000002", "PUNO", "Tambo Ilave"),
            "G000003": ("Elena", "Torres", "+51911000003", "PUNO", None),
            "G000004": ("Jose", "Huaman", "+51911000004", "PIURA", "Tambo Chulucanas"),
            "G000005": ("Ana", "Flores", "+51911000005", "CUSCO", None)}


def add_gestores(db: Database, *codes: str, estado: str = "activo") -> None:
    with db.session() as s:
        for code in codes or tuple(GESTORES):
            nombres, apellidos, phone, ut, tambo = GESTORES[code]
            s.add(Gestor(gestor_id=code, nombres=nombres, apellidos=apellidos, phone=phone,
                         unidad_territorial=ut, tambo=tambo, estado=estado))


def add_lookups(db: Database, code: str, day: dt.date, n: int, household_ut: str | None = None,
                kind: str = "next_payment", outcome: str = "programado", hour: int = 10) -> None:
    """`n` assisted lookups by gestor `code` on the Lima day `day` (households of their own UT
    unless `household_ut`), as the dialog records them."""
    _, _, _, ut, tambo = GESTORES[code]
    at = lima_day_start(day) + dt.timedelta(hours=hour)
    with db.session() as s:
        s.add_all(Query(channel="gestor", kind=kind, outcome=outcome, created_at=at + dt.timedelta(seconds=i),
                        unidad_territorial=household_ut or ut, hogar_id=f"H{i % 997:08d}", gestor_id=code,
                        gestor_ut=ut, tambo=tambo) for i in range(n))
