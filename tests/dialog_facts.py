"""In-memory facts for unit tests of the pure dialogs (the app tests use the real database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from dialogs.facts import CoRespFacts, GestorFacts, HouseholdFacts, Outlook, SettlementFacts

LONG_PLACE = "Operativo ETV Comunidad Nativa Santa Rosa de Alto Yanajanca del Rio Huallaga"
LONG_ADDRESS = "Local comunal al costado de la posta de salud y frente a la losa deportiva, cruce"


def household(hid: str = "H1", **kw: object) -> HouseholdFacts:
    base: dict[str, object] = dict(
        hogar_id=hid, dni="01234567", first_name="Maximiliana", fecha_nacimiento=dt.date(1990, 8, 25),
        idioma="es", unidad_territorial="HUANCAVELICA", estado="afiliado", phone="+51987654321",
        reminders_enabled=True,
    )
    base.update(kw)
    return HouseholdFacts(**base)  # type: ignore[arg-type]


def settlement(estado: str = "programado", motivo: str | None = None, **kw: object) -> SettlementFacts:
    base: dict[str, object] = dict(
        periodo="2026-6", estado=estado, monto=Decimal("9999.99"), motivo=motivo,
        modalidad="etv", lugar=LONG_PLACE, direccion=LONG_ADDRESS,
        fecha_inicio=dt.date(2026, 12, 12), fecha_fin=dt.date(2026, 12, 31),
        hora_inicio=dt.time(8, 0), hora_fin=dt.time(17, 30),
    )
    base.update(kw)
    return SettlementFacts(**base)  # type: ignore[arg-type]


@dataclass
class MemoryFacts:
    households: list[HouseholdFacts] = field(default_factory=lambda: [household()])
    history: list[SettlementFacts] = field(default_factory=lambda: [settlement()])
    coresp: list[CoRespFacts] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    newest_periodo: str | None = None  # the schedule's newest period
    period_end: dt.date | None = None  # when the asked-about period's operations end
    opted_out: set[str] = field(default_factory=set)
    exported_on: dt.date | None = None
    holds: dict[str, str] = field(default_factory=dict)  # a household's phone move hold
    # Assisted consultations: gestores by phone (active ones; `inactive` lists the others'
    # phones), the DNIs each consulted today, the households sent a summary.
    gestores: dict[str, GestorFacts] = field(default_factory=dict)
    inactive: set[str] = field(default_factory=set)
    assisted: dict[str, set[str]] = field(default_factory=dict)
    summaries: set[str] = field(default_factory=set)

    def households_by_phone(self, phone: str) -> list[HouseholdFacts]:
        return [h for h in self.households if h.phone == phone]

    def household_by_dni(self, dni: str) -> HouseholdFacts | None:
        return next((h for h in self.households if h.dni == dni), None)

    def household(self, hogar_id: str) -> HouseholdFacts | None:
        return next((h for h in self.households if h.hogar_id == hogar_id), None)

    def dob_failures(self, dni_key: str) -> int:
        return self.failures.get(dni_key, 0)

    def may_try_dni(self, phone: str, dni_key: str) -> bool:
        return True

    def settlements(self, hogar_id: str, limit: int) -> list[SettlementFacts]:
        return self.history[:limit]

    def co_responsibilities(self, hogar_id: str, periodo: str) -> list[CoRespFacts]:
        return self.coresp

    def outlook(self, hogar_id: str, phone: str, periodo: str | None) -> Outlook:
        h = self.household(hogar_id)
        return Outlook(
            newest_periodo=self.newest_periodo,
            period_end=self.period_end,
            phone_of_record=h is not None and h.phone == phone,
            reminders_enabled=h is not None and h.reminders_enabled,
            phone_opted_out=phone in self.opted_out,
        )

    def schedule_exported_on(self) -> dt.date | None:
        return self.exported_on

    def phone_move_hold(self, hogar_id: str, hours: int) -> str | None:
        return self.holds.get(hogar_id)

    def gestor_by_phone(self, phone: str) -> GestorFacts | None:
        return self.gestores.get(phone)

    def gestor(self, gestor_id: str) -> GestorFacts | None:
        return next((g for g in self.gestores.values() if g.gestor_id == gestor_id), None)

    def is_staff_phone(self, phone: str) -> bool:
        return phone in self.gestores or phone in self.inactive

    def may_assist(self, gestor_id: str, dni_key: str, cap: int, day: dt.date | None) -> bool:
        seen = self.assisted.setdefault(gestor_id, set())
        if dni_key in seen:
            return True
        if len(seen) >= cap:
            return False
        seen.add(dni_key)
        return True

    def assisted_today(self, gestor_id: str, day: dt.date | None) -> int:
        return len(self.assisted.get(gestor_id, set()))

    def summary_sent_today(self, hogar_id: str, day: dt.date) -> bool:
        return hogar_id in self.summaries
