"""Reminder texts and times, as data: when each reminder is due, on the Lima clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from dialogs import choice
from dialogs.gsm import fit_place, gsm_safe
from dialogs.texts import Catalog
from dialogs.views import fmt_dates, fmt_time


@dataclass(frozen=True)
class Operation:
    """A payment operation: where and when one household is paid this period."""

    periodo: str
    punto_id: str
    modalidad: str
    lugar: str
    fecha_inicio: dt.date
    fecha_fin: dt.date
    hora_inicio: dt.time
    hora_fin: dt.time

    @property
    def subject(self) -> str:
        """What a reminder announces; when it changes after sending, the household is told."""
        return f"{self.punto_id}|{self.fecha_inicio.isoformat()}|{self.hora_inicio:%H:%M}"

    def as_told(self, subject: str) -> Operation:
        """This pay point's operation as a household was told it (`subject` of that SMS).

        A pay point moved and then cancelled for her is cancelled as she heard it: its first
        day and hour from the subject, its length as the schedule has it now.
        """
        punto, _, rest = subject.partition("|")
        day, _, hour = rest.partition("|")
        try:
            start, opens = dt.date.fromisoformat(day), dt.time.fromisoformat(hour)
        except ValueError:
            return self
        if punto != self.punto_id or (start, opens) == (self.fecha_inicio, self.hora_inicio):
            return self
        length = self.fecha_fin - self.fecha_inicio
        return replace(self, fecha_inicio=start, fecha_fin=start + length, hora_inicio=opens)


@dataclass(frozen=True)
class Clock:
    """The local clock reminders follow: the send window and the hour planned ones go out."""

    tz: ZoneInfo
    window_start: dt.time
    window_end: dt.time
    send_at: dt.time

    @classmethod
    def from_strings(cls, tz: str, window: tuple[str, str], send_at: str) -> Clock:
        def parse(raw: str) -> dt.time:
            return dt.time.max if raw == "24:00" else dt.time.fromisoformat(raw)

        return cls(ZoneInfo(tz), parse(window[0]), parse(window[1]), parse(send_at))

    def local(self, day: dt.date, hour: dt.time) -> dt.datetime:
        """A local day and hour as a UTC instant."""
        return dt.datetime.combine(day, hour, self.tz).astimezone(dt.UTC)

    def in_window(self, now: dt.datetime) -> bool:
        """True while messages may be sent (not in quiet hours)."""
        local = now.astimezone(self.tz).time()
        return self.window_start <= local < self.window_end

    def opens(self, op: Operation) -> dt.datetime:
        """When the payment operation starts: after that no reminder for it is sent."""
        return self.local(op.fecha_inicio, op.hora_inicio)

    def slots(
        self, op: Operation, offsets: tuple[int, ...], now: dt.datetime
    ) -> list[tuple[int, dt.datetime]]:
        """(offset, due time) of each reminder still worth planning for `op`.

        Future slots are kept; of the slots already past, only the one closest to the operation
        is kept (due now), so a late plan sends one reminder, not a burst of stale ones. Not even
        that one when it could only go out (now, or when quiet hours end) on the day the next
        slot is due: two reminders an hour apart are a burst too.
        """
        if now >= self.opens(op):
            return []
        slots = sorted(
            ((off, self.local(op.fecha_inicio - dt.timedelta(days=off), self.send_at)) for off in offsets),
            key=lambda s: s[1],
        )
        future = [s for s in slots if s[1] >= now]
        past = [s for s in slots if s[1] < now]
        if past and future and self.first_send(now).date() == future[0][1].astimezone(self.tz).date():
            past = []
        return ([past[-1]] if past else []) + future

    def first_send(self, now: dt.datetime) -> dt.datetime:
        """When a message due at `now` can go out: now, or when the send window next opens (local)."""
        local = now.astimezone(self.tz)
        if self.in_window(now):
            return local
        day = local.date() if local.time() < self.window_start else local.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, self.window_start, self.tz)


MAX_NAMED = 3  # households one SMS names at most: the names must leave room for the place


def initials(nombres: str, apellidos: str, *, full: bool = False) -> str:
    """The titular's initials as the USSD chooser shows them ("C.T.", "R.Q.H."; dialogs/choice.py).

    `full`: every given name's initial too ("R.M.Q.H."), for two titulares on one phone whose
    short initials are the same. Never more than initials: no full name in an unsolicited SMS.
    """
    raw = choice.initials(nombres, apellidos)
    label = choice.long_label(raw) if full else choice.short_label(raw)
    return gsm_safe(label) if raw.strip() else "-"


def household_label(catalog: Catalog, lang: str, names: list[str], *, unsure: int = 0) -> str:
    """Whom an SMS to a shared phone is for: "hogar de C.T.", "hogares de C.T. y L.T.".

    `unsure`: this many households of the phone have the same initials, so they do not say
    which; the label says so and how to find out (DNI PAGO), never more of a name.
    """
    if unsure and len(names) == 1:
        return catalog.text(lang, "reminder_who_unsure", initials=names[0], count=unsure)
    if len(names) == 1:
        return catalog.text(lang, "reminder_who_one", initials=names[0])
    return catalog.text(lang, "reminder_who_many", initials=", ".join(names[:-1]), last=names[-1])


def reminder_text(catalog: Catalog, lang: str, op: Operation, params: dict[str, str], *,
                  change: bool = False, who: str | None = None) -> str:
    """The reminder (or change notice) SMS for one operation: no amount, no name, no DNI.

    `who` names the households (by initials) when the phone serves more than one.
    """
    key = "change" if change else ("pay_etv" if op.modalidad == "etv" else "pay_agencia")
    key = f"reminder_{key}_for" if who else f"sms_{key}"
    t = catalog.translator(lang)
    return fit_place(lambda place: gsm_safe(t(
        key, periodo=op.periodo, dates=fmt_dates(t, op.fecha_inicio, op.fecha_fin),
        open=fmt_time(op.hora_inicio), close=fmt_time(op.hora_fin), place=place, who=who, **params,
    )), op.lugar)


def notice_text(catalog: Catalog, lang: str, periodo: str, params: dict[str, str], *,
                who: str | None = None) -> str:
    """The no-payment notice: never the reason (anyone may read a shared phone)."""
    if who:
        return gsm_safe(catalog.text(lang, "reminder_notice_no_pay_for", periodo=periodo, who=who,
                                     **params))
    return gsm_safe(catalog.text(lang, "sms_notice_no_pay", periodo=periodo, **params))


def cancel_text(catalog: Catalog, lang: str, op: Operation, params: dict[str, str], *,
                who: str | None = None) -> str:
    """The operation a household was reminded of will not pay her: do not travel. No reason."""
    key = "reminder_cancel_for" if who else "reminder_cancel"
    t = catalog.translator(lang)
    return fit_place(lambda place: gsm_safe(t(
        key, periodo=op.periodo, dates=fmt_dates(t, op.fecha_inicio, op.fecha_fin), place=place,
        who=who, **params,
    )), op.lugar)
