"""The dialogs' Facts, read from the database (and the lockout counters from Redis)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Executable,
    Integer,
    Result,
    and_,
    bindparam,
    null,
    select,
    type_coerce,
    union_all,
)

from dialogs.facts import CoRespFacts, HouseholdFacts, SettlementFacts
from gateway.abuse import DniGuard
from gateway.privacy import phone_key
from gateway.sessions import SessionStore
from models import CoResponsibility, Household, PayPoint, PhoneChange, Settlement
from models.base import UTCDateTime, utcnow

LIMA = ZoneInfo("America/Lima")  # the programme's calendar (Settings.timezone)

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
    moved_at: dt.datetime | None = r.get("moved_at")
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
        moved_away_on=moved_at.astimezone(LIMA).date() if moved_at else None,
    )


# Built once: making a statement (coercing every column and clause) cost about as much CPU
# as running it. Each hop binds its values.
# A phone's households: those it is the phone of record of, and (phonechange) those it was the
# phone of record of until a move still in its grace period, found by the phone's keyed hash.
# One statement, an index lookup on each table; the second is a small table.
_BY_PHONE = union_all(
    select(*_HOUSEHOLD_COLUMNS, type_coerce(null(), UTCDateTime()).label("moved_at"))
    .where(Household.phone == bindparam("phone")),
    select(*_HOUSEHOLD_COLUMNS, PhoneChange.created_at.label("moved_at"))
    .join(PhoneChange, PhoneChange.hogar_id == Household.hogar_id)
    .where(PhoneChange.old_phone_key == bindparam("key"), PhoneChange.undone_at.is_(None),
           PhoneChange.grace_until > bindparam("now", type_=UTCDateTime())),
).limit(5)
_BY_DNI = select(*_HOUSEHOLD_COLUMNS).where(Household.dni == bindparam("dni"))
_BY_ID = select(*_HOUSEHOLD_COLUMNS).where(Household.hogar_id == bindparam("hogar_id"))
_SETTLEMENTS = (
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
    .where(Settlement.hogar_id == bindparam("hogar_id"))
    .order_by(Settlement.periodo.desc())
    .limit(bindparam("limit", type_=Integer))
)
_CO_RESPONSIBILITIES = (
    select(
        CoResponsibility.miembro,
        CoResponsibility.tipo,
        CoResponsibility.cumple,
        CoResponsibility.detalle,
    )
    .where(
        CoResponsibility.hogar_id == bindparam("hogar_id"),
        CoResponsibility.periodo == bindparam("periodo"),
    )
    .order_by(CoResponsibility.miembro, CoResponsibility.tipo)
)


class DbFacts:
    """Facts for one hop, read on `connection()`, results memoised for the hop."""

    def __init__(
        self, connection: Callable[[], Connection], store: SessionStore, guard: DniGuard
    ) -> None:
        self.connection = connection
        self.store = store
        self.guard = guard
        self._households: dict[str, HouseholdFacts | None] = {}
        self._settlements: dict[str, tuple[int, list[SettlementFacts]]] = {}

    def _run(self, stmt: Executable, **params: Any) -> Result[Any]:
        # Plain SELECTs of columns on a Core connection, without the ORM's per-statement work
        # (its execution context, identity map): that was a third of a lookup's CPU.
        return self.connection().execute(stmt, params)

    def households_by_phone(self, phone: str) -> list[HouseholdFacts]:
        rows = self._run(_BY_PHONE, phone=phone, key=phone_key(self.guard.secret, phone), now=utcnow())
        found: dict[str, HouseholdFacts] = {}
        for h in map(_household, rows.all()):
            # Its phone of record again (moved back) counts as that, not as a former phone.
            if h.hogar_id not in found or h.moved_away_on is None:
                found[h.hogar_id] = h
        self._households.update(found)
        return list(found.values())

    def household_by_dni(self, dni: str) -> HouseholdFacts | None:
        row = self._run(_BY_DNI, dni=dni).first()
        return _household(row) if row else None

    def household(self, hogar_id: str) -> HouseholdFacts | None:
        if hogar_id not in self._households:
            row = self._run(_BY_ID, hogar_id=hogar_id).first()
            self._households[hogar_id] = _household(row) if row else None
        return self._households[hogar_id]

    def dob_failures(self, dni_key: str) -> int:
        return self.store.dob_failures(dni_key) if dni_key else 0

    def may_try_dni(self, phone: str, dni_key: str) -> bool:
        return self.guard.allowed(phone, dni_key)

    def settlements(self, hogar_id: str, limit: int) -> list[SettlementFacts]:
        # Keyed by the limit read with, not by the rows found: a household with fewer periods
        # than asked for is answered from memory too (the status screen read them twice).
        asked, cached = self._settlements.get(hogar_id, (0, []))
        if asked >= limit:
            return cached[:limit]
        rows = self._run(_SETTLEMENTS, hogar_id=hogar_id, limit=max(limit, 4))
        found = [SettlementFacts(**row._mapping) for row in rows]
        self._settlements[hogar_id] = (max(limit, 4), found)
        return found[:limit]

    def co_responsibilities(self, hogar_id: str, periodo: str) -> list[CoRespFacts]:
        rows = self._run(_CO_RESPONSIBILITIES, hogar_id=hogar_id, periodo=periodo)
        return [CoRespFacts(**row._mapping) for row in rows]
