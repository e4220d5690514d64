"""The dialogs' Facts, read from the database (and the lockout counters from Redis)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, Result, and_, select
from sqlalchemy.orm import Session

from dialogs.facts import CoRespFacts, HouseholdFacts, SettlementFacts
from gateway.abuse import DniGuard
from gateway.sessions import SessionStore
from models import CoResponsibility, Household, PayPoint, Settlement

_HOUSEHOLD_COLUMNS = (
    Household.hogar_id,
    Household.dni,
    Household.nombres,
    Household.fecha_nacimiento,
    Household.idioma,
    Household.unidad_territorial,
    Household.estado,
    Household.phone,
    Household.reminders_enabled,
)


def _household(row: object) -> HouseholdFacts:
    r = row._mapping  # type: ignore[attr-defined]
    nombres = (r["nombres"] or "").strip()
    return HouseholdFacts(
        hogar_id=r["hogar_id"],
        dni=r["dni"],
        first_name=nombres.split()[0].title() if nombres else "",
        fecha_nacimiento=r["fecha_nacimiento"],
        idioma=r["idioma"] or "es",
        unidad_territorial=r["unidad_territorial"],
        estado=r["estado"],
        phone=r["phone"],
        reminders_enabled=bool(r["reminders_enabled"]),
    )


class DbFacts:
    """Facts for one hop: one database session, results memoised for the hop."""

    def __init__(self, session: Session, store: SessionStore, guard: DniGuard) -> None:
        self.session = session
        self.store = store
        self.guard = guard
        self._households: dict[str, HouseholdFacts | None] = {}
        self._settlements: dict[str, list[SettlementFacts]] = {}

    def _run(self, stmt: Executable) -> Result[Any]:
        # Plain SELECTs of columns: the session's connection runs them without the ORM's
        # per-statement work (its execution context, identity map), a third of a lookup's CPU.
        return self.session.connection().execute(stmt)

    def households_by_phone(self, phone: str) -> list[HouseholdFacts]:
        rows = self._run(
            select(*_HOUSEHOLD_COLUMNS).where(Household.phone == phone).limit(5)
        ).all()
        found = [_household(r) for r in rows]
        for h in found:
            self._households[h.hogar_id] = h
        return found

    def household_by_dni(self, dni: str) -> HouseholdFacts | None:
        row = self._run(select(*_HOUSEHOLD_COLUMNS).where(Household.dni == dni)).first()
        return _household(row) if row else None

    def household(self, hogar_id: str) -> HouseholdFacts | None:
        if hogar_id not in self._households:
            row = self._run(
                select(*_HOUSEHOLD_COLUMNS).where(Household.hogar_id == hogar_id)
            ).first()
            self._households[hogar_id] = _household(row) if row else None
        return self._households[hogar_id]

    def dob_failures(self, dni_key: str) -> int:
        return self.store.dob_failures(dni_key) if dni_key else 0

    def may_try_dni(self, phone: str, dni_key: str) -> bool:
        return self.guard.allowed(phone, dni_key)

    def settlements(self, hogar_id: str, limit: int) -> list[SettlementFacts]:
        cached = self._settlements.get(hogar_id)
        if cached is not None and len(cached) >= limit:
            return cached[:limit]
        stmt = (
            select(
                Settlement.periodo,
                Settlement.estado,
                Settlement.monto,
                Settlement.motivo,
                PayPoint.modalidad,
                PayPoint.lugar,
                PayPoint.direccion,
                PayPoint.fecha_inicio,
                PayPoint.fecha_fin,
                PayPoint.hora_inicio,
                PayPoint.hora_fin,
            )
            .outerjoin(
                PayPoint,
                and_(PayPoint.periodo == Settlement.periodo, PayPoint.punto_id == Settlement.punto_id),
            )
            .where(Settlement.hogar_id == hogar_id)
            .order_by(Settlement.periodo.desc())
            .limit(max(limit, 4))
        )
        found = [SettlementFacts(**row._mapping) for row in self._run(stmt)]
        self._settlements[hogar_id] = found
        return found[:limit]

    def co_responsibilities(self, hogar_id: str, periodo: str) -> list[CoRespFacts]:
        stmt = (
            select(
                CoResponsibility.miembro,
                CoResponsibility.tipo,
                CoResponsibility.cumple,
                CoResponsibility.detalle,
            )
            .where(CoResponsibility.hogar_id == hogar_id, CoResponsibility.periodo == periodo)
            .order_by(CoResponsibility.miembro, CoResponsibility.tipo)
        )
        return [CoRespFacts(**row._mapping) for row in self._run(stmt)]
