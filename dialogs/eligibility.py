"""Whether a household's phone of record gets its reminders: one rule for every part that asks.

The planner applies it to decide whom to text (workers/plan_source.py); the payment answers
apply it before promising "le avisaremos por SMS" (dialogs/nextpay.py). Two copies of it would
let the screen promise an SMS the planner never sends.
"""

from __future__ import annotations

from enum import StrEnum


class NoReminders(StrEnum):
    """Why a phone of record gets no reminders (the values are models.SkipReason's)."""

    NO_PHONE = "no_phone"
    OPTED_OUT = "opted_out"
    REMINDERS_OFF = "reminders_off"


def no_reminders(has_phone: bool, opted_out: bool, reminders_enabled: bool) -> NoReminders | None:
    """Why the household's phone of record gets no reminders, or None when it gets them."""
    if not has_phone:
        return NoReminders.NO_PHONE
    if opted_out:  # a BAJA wins over the household's setting (a re-import may turn it on again)
        return NoReminders.OPTED_OUT
    if not reminders_enabled:
        return NoReminders.REMINDERS_OFF
    return None
