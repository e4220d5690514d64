"""The facts a dialog reads, and the interface its host implements to provide them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class HouseholdFacts:
    hogar_id: str
    dni: str
    first_name: str
    fecha_nacimiento: dt.date
    idioma: str
    unidad_territorial: str
    estado: str
    phone: str | None
    reminders_enabled: bool
    # Given-name initials, a space, surname initials ("RM QH"): what a shared phone's chooser
    # may show (dialogs/choice.py); never the names themselves.
    initials: str = ""
    # Set when the caller's phone is known for this household only as its former phone of record,
    # in the grace period after a change: the day (Lima) the messages moved away from it.
    moved_away_on: dt.date | None = None


@dataclass(frozen=True)
class SettlementFacts:
    """One period's settlement, with its pay point when it has one."""

    periodo: str
    estado: str
    monto: Decimal
    motivo: str | None
    modalidad: str | None = None
    lugar: str | None = None
    direccion: str | None = None
    fecha_inicio: dt.date | None = None
    fecha_fin: dt.date | None = None
    hora_inicio: dt.time | None = None
    hora_fin: dt.time | None = None


@dataclass(frozen=True)
class CoRespFacts:
    miembro: str
    tipo: str
    cumple: bool
    detalle: str


@dataclass(frozen=True)
class Outlook:
    """Beyond a household's settlements: the schedule, and whether this phone gets its SMS."""

    newest_periodo: str | None  # the newest period in the payment schedule, anyone's
    period_end: dt.date | None  # the last day of any operation of the period asked about
    phone_of_record: bool  # the caller's phone is the household's phone of record
    reminders_enabled: bool  # the household's reminders are on
    phone_opted_out: bool  # the caller's phone sent BAJA (or the aggregator's opt-out)


@dataclass(frozen=True)
class GestorFacts:
    """A gestor whose registered phone has the assisted mode (active: not inactive, not suspended)."""

    gestor_id: str
    first_name: str
    unidad_territorial: str
    tambo: str | None = None


class Facts(Protocol):
    """Read access to the programme's data and the lockout counters."""

    def households_by_phone(self, phone: str) -> list[HouseholdFacts]: ...

    def household_by_dni(self, dni: str) -> HouseholdFacts | None: ...

    def household(self, hogar_id: str) -> HouseholdFacts | None: ...

    def dob_failures(self, dni_key: str) -> int: ...

    def may_try_dni(self, phone: str, dni_key: str) -> bool:
        """False when `phone` already asked about too many other DNIs today (enumeration)."""
        ...

    def settlements(self, hogar_id: str, limit: int) -> list[SettlementFacts]:
        """The household's newest settlements first."""
        ...

    def co_responsibilities(self, hogar_id: str, periodo: str) -> list[CoRespFacts]: ...

    def outlook(self, hogar_id: str, phone: str, periodo: str | None) -> Outlook:
        """What follows a household's last settlement of `periodo`, as seen from `phone`."""

    def schedule_exported_on(self) -> dt.date | None:
        """The Lima day the schedule data in use was exported; None when no import recorded it."""
        ...

    def phone_move_hold(self, hogar_id: str, hours: int) -> str | None:
        """Why a move of the household's phone must wait: "open" while a move of it is still in
        its grace period, "undone" when one was undone less than `hours` ago; else None."""
        ...

    # --- assisted consultations (dialogs/assisted.py)
    def gestor_by_phone(self, phone: str) -> GestorFacts | None:
        """The active gestor whose registered phone is `phone`, if any."""
        ...

    def gestor(self, gestor_id: str) -> GestorFacts | None:
        """The gestor, while active: None once deactivated, suspended or gone from the data."""
        ...

    def is_staff_phone(self, phone: str) -> bool:
        """`phone` is a gestor's registered phone (active or not): never a household's."""
        ...

    def may_assist(self, gestor_id: str, dni_key: str, cap: int, day: dt.date | None) -> bool:
        """A DNI this gestor already asked about on `day` (Lima; None: today), or a new one
        under `cap`: True, and a new one is counted at once. False once the cap is reached."""
        ...

    def assisted_today(self, gestor_id: str, day: dt.date | None) -> int:
        """The distinct DNIs the gestor asked about on `day` (Lima; None: today)."""
        ...

    def summary_sent_today(self, hogar_id: str, day: dt.date) -> bool:
        """A next-payment summary SMS was already made for the household on `day` (Lima)."""
        ...
