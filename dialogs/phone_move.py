"""Moving a household's phone of record: the confirmation, the SMS to the phone it replaces, the undo.

A relative who knows the titular's DNI and date of birth (both printed on the DNI card) could
otherwise take the household's reminders and its access without DNI in two key presses. So the
move states what it will do and waits for "1 Confirmar"; the phone it replaces is told at once
and, for a grace period, is still recognised and offered to undo the move when it dials.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dialogs import views
from dialogs.choice import labelled
from dialogs.effects import SetPhoneOfRecord, SetReminders, UndoPhoneChange
from dialogs.facts import HouseholdFacts
from dialogs.gsm import gsm_safe
from dialogs.texts import Translate

if TYPE_CHECKING:
    from dialogs.engine import _Step

SCREENS = ("remind_move", "moved_away")  # the screens rendered here

# Context.channel of the browser simulator (models.query.Channel.SIMULATOR).
SIMULATOR = "sim"


def moved_away(households: Iterable[HouseholdFacts], phone: str) -> HouseholdFacts | None:
    """The household `phone` was the phone of record of until a move still in its grace period.

    The same one every time (the lowest code) when a phone lost several.
    """
    moved = [h for h in households if h.moved_away_on is not None and h.phone != phone]
    return min(moved, key=lambda h: h.hogar_id) if moved else None


def whose(step: _Step, phone: str | None, hogar_id: str, t: Translate) -> str | None:
    """"hogar de R.Q.H." when `phone` serves several households, named as its chooser names them."""
    households = step.facts.households_by_phone(phone) if phone else []
    label = dict(labelled(households)).get(hogar_id) if len(households) > 1 else None
    return t("reminder_who_one", initials=label) if label else None


def render(step: _Step, screen_id: str) -> str:
    """The confirmation on the new phone, or the undo offer on the former one."""
    t, ctx = step.t, step.ctx
    if screen_id == "moved_away":
        moved = moved_away(step.facts.households_by_phone(ctx.phone), ctx.phone)
        on = moved.moved_away_on if moved else None
        who = whose(step, ctx.phone, moved.hogar_id, t) if moved else None  # a shared phone: whose
        return t("moved_away_for" if who else "moved_away", who=who,
                 masked=views.mask_phone(moved.phone if moved else None),
                 date=on.strftime("%d/%m") if on else "--/--")
    household = step.household()
    new = views.mask_phone(ctx.phone)
    if household is None or household.phone is None:
        return t("move_confirm_first", new=new) + "\n" + t("nav_back")
    return t("move_confirm", new=new, old=views.mask_phone(household.phone),
             hours=ctx.phone_grace_hours) + "\n" + t("nav_back")


def confirm(step: _Step) -> None:
    """Confirmed on the new phone: the move, and the SMS that tells the phone it replaces."""
    ctx, household = step.ctx, step.household()
    if household is None:
        step.go("dni", push=False)
        return
    # "0" from the screen that follows goes back to option 4, not to this confirmation.
    if household.phone == ctx.phone:  # moved meanwhile, by another session of this phone
        step.go("remind_moved_done", push=False)
        return
    if ctx.channel == SIMULATOR:  # training on real data: nothing moves, no mother is texted
        step.go("move_simulated", push=False)
        return
    if held(step, household):
        return
    sms = step.catalog.translator(household.idioma)  # the household's language, not the caller's
    who = whose(step, household.phone, household.hogar_id, sms)  # a shared old phone: whose
    notice = gsm_safe(sms("sms_phone_moved_for" if who else "sms_phone_moved", who=who,
                          last3=ctx.phone[-3:], hours=ctx.phone_grace_hours,
                          code=ctx.service_code, helpline=ctx.helpline))
    step.effects.append(SetPhoneOfRecord(household.hogar_id, ctx.phone, ctx.phone_grace_hours, notice))
    step.effects.append(SetReminders(household.hogar_id, True))
    step.go("remind_moved_told" if household.phone else "remind_moved_done", push=False)


# --- retake: one move of a household at a time, and none soon after an undo.
def held(step: _Step, household: HouseholdFacts) -> bool:
    """A move while another is in its grace period, or soon after an undo, waits (True).

    Else a relative re-takes the household each time the mother undoes, or moves it on to a
    third phone, whose undo offer the mother never gets. Her own phone, in its grace period,
    takes the household back instead (the undo). Refused: a screen saying to call, and a record.
    """
    hold = step.facts.phone_move_hold(household.hogar_id, step.ctx.phone_grace_hours)
    if hold is None:
        return False
    former = [h for h in step.mine() if h.hogar_id == household.hogar_id and h.moved_away_on]
    if hold == "open" and former:
        undo(step, former[0])
        return True
    step.query("phone_move", f"refused_{hold}")
    step.go("move_refused", push=False)
    return True


def undo(step: _Step, moved: HouseholdFacts | None = None) -> None:
    """The former phone takes its household back (`moved`, else the one it is offered); the
    phone that loses it is told."""
    ctx = step.ctx
    if moved is None:
        moved = moved_away(step.facts.households_by_phone(ctx.phone), ctx.phone)
    if moved is None:  # the grace period ended since the offer was shown
        step.go("dni", push=False)
        return
    sms = step.catalog.translator(moved.idioma)
    who = whose(step, moved.phone, moved.hogar_id, sms)  # a shared phone loses it: whose
    notice = gsm_safe(sms("sms_phone_undone_for" if who else "sms_phone_undone", who=who,
                          last3=ctx.phone[-3:], code=ctx.service_code, helpline=ctx.helpline))
    step.effects.append(UndoPhoneChange(moved.hogar_id, ctx.phone, notice))
    step.state.saved = None  # a dropped session kept for "2 Continuar" is not resumed by the undo
    step.verified(moved)
    step.query("verify", "ok_phone")
    step.go("moved_undone")
