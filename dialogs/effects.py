"""What a dialog step asks its host to do, as data: the gateway carries these out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordQuery:
    """Record one lookup for the usage reports (no DNI, no phone)."""

    kind: str  # verify, next_payment, status, co_responsibilities
    outcome: str
    hogar_id: str | None = None
    unidad_territorial: str | None = None
    periodo: str | None = None


@dataclass(frozen=True)
class DobFailed:
    """A wrong date of birth was given for the DNI behind `dni_key`."""

    dni_key: str


@dataclass(frozen=True)
class DobCleared:
    """The DNI behind `dni_key` was verified: forget its failed attempts."""

    dni_key: str


@dataclass(frozen=True)
class DniTried:
    """`phone` asked about the DNI behind `dni_key`: counts toward its daily distinct-DNI limit."""

    phone: str
    dni_key: str


@dataclass(frozen=True)
class SetLanguage:
    hogar_id: str
    idioma: str


@dataclass(frozen=True)
class SetReminders:
    hogar_id: str
    enabled: bool


@dataclass(frozen=True)
class SetPhoneOfRecord:
    """Make the caller's phone the household's phone of record (reminders go there, it is known
    without a DNI). The phone it replaces gets `notice` at once and may undo it for `grace_hours`;
    the change is recorded."""

    hogar_id: str
    phone: str
    grace_hours: int = 72
    notice: str | None = None  # the SMS to the phone that loses the household's messages


@dataclass(frozen=True)
class UndoPhoneChange:
    """The former phone of record `phone`, in its grace period, takes the household back; the
    phone that loses it gets `notice`."""

    hogar_id: str
    phone: str
    notice: str | None = None


@dataclass(frozen=True)
class SetOptOut:
    """The phone asked for no more messages: record the opt-out, reminders off for its households."""

    phone: str
    hogar_ids: tuple[str, ...]


@dataclass(frozen=True)
class SetOptIn:
    """The phone asked for reminders again: forget its opt-out, reminders on for its households."""

    phone: str
    hogar_ids: tuple[str, ...]


Effect = (
    RecordQuery | DobFailed | DobCleared | DniTried | SetLanguage | SetReminders
    | SetPhoneOfRecord | SetOptOut | SetOptIn | UndoPhoneChange
)
