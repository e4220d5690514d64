"""What a dialog step asks its host to do, as data: the gateway carries these out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordQuery:
    """Record one lookup for the usage reports (no DNI, no phone)."""

    kind: str  # verify, next_payment, status, co_responsibilities
    outcome: str
    hogar_id: str | None = None
    unidad_territorial: str | None = None  # the household's
    periodo: str | None = None
    # An assisted consultation's (channel gestor): the gestor, the UT they serve, their Tambo.
    gestor_id: str | None = None
    gestor_ut: str | None = None
    tambo: str | None = None


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
    # The SMS to the new phone when it is not the caller's own (a gestor typed it): it learns
    # whose messages it now gets, and whom to call if it is not the household's.
    welcome: str | None = None


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


@dataclass(frozen=True)
class SendSummary:
    """Send the household's next-payment summary to its phone of record, once per Lima day.

    Asked by a gestor for the titular in front of them: `phone` is the household's phone of
    record as read in this hop, never the gestor's nor a number typed in the session.
    """

    hogar_id: str
    phone: str
    text: str
    day: str  # the Lima day, ISO: one summary per household per day

    @property
    def dedupe_key(self) -> str:
        return summary_key(self.hogar_id, self.day)


def summary_key(hogar_id: str, day: str) -> str:
    """The outbox dedupe key of a household's summary SMS on a Lima day (ISO)."""
    return f"summary:{hogar_id}:{day}"


Effect = (
    RecordQuery | DobFailed | DobCleared | DniTried | SetLanguage | SetReminders
    | SetPhoneOfRecord | SetOptOut | SetOptIn | UndoPhoneChange | SendSummary
)
