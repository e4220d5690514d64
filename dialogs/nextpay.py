"""Which settlement is the next payment, and what to say when there is none ahead.

Exports lag behind the calendar: a household's newest settlement is often for an operation that
is already over. "Next payment" only ever names an operation that has not ended (today, in
Lima, counts as not ended); otherwise the answer is the last payment known and what follows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from dialogs.eligibility import no_reminders
from dialogs.facts import Facts, Outlook, SettlementFacts


class Tail(StrEnum):
    """How the caller will hear of the next date."""

    REMINDERS = "reminders"  # this phone gets the household's reminders: we will send an SMS
    ALTA = "alta"  # this phone opted out of SMS (or is the phone of record with reminders off)
    DIAL = "dial"  # another phone: dial again later, or take the reminders here (option 4)


@dataclass(frozen=True)
class PayAnswer:
    """Option 1 / PAGO: the next payment, or the last one known and what follows it."""

    upcoming: SettlementFacts | None = None
    last: SettlementFacts | None = None  # set when nothing is ahead: the newest settlement
    ended: dt.date | None = None  # when `last`'s operation (or its period's) ended
    over: bool = False  # `last`'s operation has ended
    missing_periodo: str | None = None  # a newer scheduled period with no settlement of hers
    tail: Tail = Tail.DIAL
    # `last` says the household left the programme (or has no member it pays): no next payment
    # will come, so none is promised (no "not published yet", no "we will tell you by SMS").
    final: bool = False


LEFT = ("DESAFILIADO", "SIN_MIEMBRO_OBJETIVO")  # reasons after which nothing more is paid


def is_over(end: dt.date | None, today: dt.date | None) -> bool:
    """True when an operation ending on `end` is over on `today` (its last day is not over)."""
    return today is not None and end is not None and end < today


def next_payment(history: list[SettlementFacts], today: dt.date | None) -> SettlementFacts | None:
    """The newest `programado` settlement whose operation has not ended (history newest first)."""
    for i, s in enumerate(history):
        if s.estado != "programado" or is_over(s.fecha_fin, today):
            continue
        if s.fecha_fin is None and i > 0:
            continue  # "date and place to be published" only makes sense for the newest period
        return s
    return None


def _period_key(periodo: str) -> tuple[int, int] | None:
    """`2026-6` as (2026, 6), so that 2026-10 would follow 2026-9; None for an odd label."""
    year, _, number = periodo.partition("-")
    return (int(year), int(number)) if year.isdigit() and number.isdigit() else None


def newer(periodo: str | None, than: str) -> bool:
    """True when `periodo` comes after `than`."""
    if periodo is None:
        return False
    a, b = _period_key(periodo), _period_key(than)
    return a > b if a is not None and b is not None else periodo > than


def tail(outlook: Outlook) -> Tail:
    """Whether this phone gets the reminders (as the planner decides), or how it could."""
    if outlook.phone_opted_out:
        return Tail.ALTA
    if outlook.phone_of_record:
        return Tail.ALTA if no_reminders(True, False, outlook.reminders_enabled) else Tail.REMINDERS
    return Tail.DIAL


def last_told(s: SettlementFacts, over: bool) -> str:
    """How the last payment is told, the same on every channel: `no_pay` (this period's, not
    over), `no_pay_over`, `cobrado`, `no_cobrado`, or `unconfirmed` (over, not shown collected)."""
    if s.estado == "sin_abono":
        return "no_pay_over" if over else "no_pay"
    return s.estado if s.estado in ("cobrado", "no_cobrado") else "unconfirmed"


def then(a: PayAnswer) -> str | None:
    """What follows the last payment: `missing` (a newer period is published without hers),
    `unknown`, or None when the head is the whole answer (a no-payment period not over yet,
    or a household that left the programme)."""
    s = a.last
    if s is not None and s.estado == "sin_abono" and (not a.over or a.final):
        return None
    return "missing" if a.missing_periodo else "unknown"


def pay_answer(
    facts: Facts, hogar_id: str, phone: str, today: dt.date | None, history: list[SettlementFacts]
) -> PayAnswer:
    """What to answer about the next payment; asks `facts.outlook` only when nothing is ahead."""
    upcoming = next_payment(history, today)
    if upcoming is not None and upcoming.fecha_fin is not None:
        return PayAnswer(upcoming=upcoming)
    last = upcoming or (history[0] if history else None)
    outlook = facts.outlook(hogar_id, phone, last.periodo if last else None)
    if last is None:
        return PayAnswer(tail=tail(outlook))
    # A settlement without its own pay point is judged by its period's operations.
    ended = last.fecha_fin or outlook.period_end
    over = is_over(ended, today)
    if upcoming is not None and not over:
        return PayAnswer(upcoming=upcoming)
    missing = outlook.newest_periodo if newer(outlook.newest_periodo, last.periodo) else None
    final = last.estado == "sin_abono" and last.motivo in LEFT
    return PayAnswer(last=last, ended=ended, over=over, missing_periodo=missing, tail=tail(outlook),
                     final=final)
