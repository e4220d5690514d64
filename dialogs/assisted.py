"""Assisted consultations: a gestor's registered phone consults for the titulares they attend.

A gestor at a Tambo attends a queue of mothers who cannot consult alone. Their phone is not any
mother's phone of record, so each titular is verified as on any other phone, by the DNI and the
date of birth (never less): the per-DNI lockout after wrong dates applies as everywhere. What
changes is the limit on distinct DNIs: not the phone's 3 a day but the gestor's own daily cap
(GESTOR_DAILY_CAP). The gestor is read again on every hop: one deactivated by an import, or
suspended by staff on the dashboard, loses the mode on the next hop, mid-session included.

From the household menu the gestor may send the household's next-payment summary to the
household's own phone of record (never to theirs, never to a number typed here), once a day, as
an unsolicited SMS (no amount, no reason); and make the number the mother gives her household's
phone of record, typed twice, with the notice to the phone it replaces and its undo, as any
move. Every record of the session carries the gestor, their UT and their Tambo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogs import phone_move, views
from dialogs.effects import SendSummary, SetPhoneOfRecord, SetReminders
from dialogs.facts import HouseholdFacts
from dialogs.gsm import gsm_safe
from dialogs.nextpay import pay_answer
from dialogs.reminders import Operation, notice_text, reminder_text
from dialogs.validate import mobile_key, parse_mobile

if TYPE_CHECKING:
    from dialogs.engine import _Step
    from dialogs.facts import GestorFacts

HOME = "00"  # in an assisted session: the assisted menu, for the next titular
MAX_NAME = 14  # the gestor's name on the assisted menu
MAX_NAME_MENU = 10  # the titular's on her household's menu, which has a line more than hers
# Rendered here: the assisted menu and its screens (main and option 4 too, in assisted mode).
RENDERED = ("assist", "assist_dni", "assist_today", "assist_phone", "assist_phone_again",
            "assist_moved", "assist_sms_sent", "assist_cap")
# Where a self-service caller's session ends, a gestor goes back to the assisted menu, told why:
# the queue goes on.
REDIRECT = {"locked": "assist_locked", "not_verified": "dni_unknown"}


def begin(step: _Step, gestor: GestorFacts) -> None:
    """A session dialed from an active gestor's phone: the assisted menu."""
    step.state.screen, step.state.gestor, step.gestor = "assist", gestor.gestor_id, gestor


def check(step: _Step) -> bool:
    """Read the gestor again, on every hop of their session: False (and the session ended) once
    they are deactivated or suspended, at once."""
    step.gestor = step.facts.gestor(step.state.gestor or "")
    if step.gestor is None:
        step.query("assist", "gestor_off")
        step.go("assist_off", push=False)
        return False
    return True


def handle(step: _Step, inp: str) -> None:
    """One input of an assisted session: `00` is the next titular, anywhere but the menu."""
    if inp.strip() == HOME and step.state.screen != "assist":
        next_titular(step)
    else:
        step.handle(inp)


def next_titular(step: _Step, notice: str | None = None) -> None:
    """Back to the assisted menu with nothing of the last household kept."""
    s = step.state
    s.hogar_id = s.pending = s.dni_key = s.ut = s.new_phone_key = s.new_last3 = None
    s.name, s.lang, s.back, s.dni_tries = "", "es", [], 0
    step.go("assist", push=False, notice=notice)


def render(step: _Step, screen_id: str) -> str:
    t, s, ctx = step.t, step.state, step.ctx
    gestor = step.gestor
    if screen_id == "assist":
        return t("screen_assist", name=(gestor.first_name if gestor else "")[:MAX_NAME])
    if screen_id == "assist_dni":
        return t("screen_assist_dni")
    if screen_id == "assist_cap":
        return t("screen_assist_cap", cap=ctx.gestor_cap, helpline=ctx.helpline)
    if screen_id == "assist_today":
        count = step.facts.assisted_today(s.gestor or "", ctx.today)
        return t("screen_assist_today", count=count, cap=ctx.gestor_cap) + "\n" + t("nav_back")
    household = step.household()
    masked = views.mask_phone(household.phone if household else None)
    if screen_id == "main":
        return t("main_menu_assist", name=s.name[:MAX_NAME_MENU])
    if screen_id == "remind":
        key = "assist_remind" if household and household.phone else "assist_remind_none"
        return t(key, masked=masked) + "\n" + t("nav_full")
    new = f"***{s.new_last3 or '---'}"
    if screen_id == "assist_phone":
        return t("screen_assist_phone") + "\n" + t("nav_back")
    if screen_id == "assist_phone_again":
        if household is None or household.phone is None:
            body = t("screen_assist_phone_again_first", new=new)
        else:
            body = t("screen_assist_phone_again", new=new, old=masked, hours=ctx.phone_grace_hours)
        return body + "\n" + t("nav_back")
    if screen_id == "assist_moved":
        return t("screen_assist_moved", new=new) + "\n" + t("nav_full")
    return t("screen_assist_sms_sent", masked=masked) + "\n" + t("nav_full")


def take_phone(step: _Step, inp: str) -> None:
    """The household's new phone of record, typed by the gestor: first entry, then the second,
    which confirms it after the screen saying what the move does."""
    s, ctx = step.state, step.ctx
    household = step.household()
    if household is None:
        next_titular(step)
        return
    phone = parse_mobile(inp)
    if phone is None:
        step.bad_input("assist_phone_invalid")
        return
    # A staff phone never becomes a household's: the household's messages would reach the
    # gestor, and the gestor's phone would open her data without a DNI.
    if phone == ctx.phone or step.facts.is_staff_phone(phone):
        step.bad_input("assist_phone_staff")
        return
    if phone == household.phone:
        step.bad_input("assist_phone_same")
        return
    key = mobile_key(ctx.secret, phone)
    if s.screen == "assist_phone":
        s.new_phone_key, s.new_last3 = key, phone[-3:]
        step.go("assist_phone_again")
        return
    if key != s.new_phone_key:
        s.new_phone_key = s.new_last3 = None
        if s.back and s.back[-1] == "assist_phone":
            s.back.pop()
        step.go("assist_phone", push=False, notice="assist_phone_mismatch")
        return
    move(step, household, phone)


def move(step: _Step, household: HouseholdFacts, phone: str) -> None:
    """The move, by the rule of every move: refused while another is open or just undone; the
    phone it replaces told at once (and may undo it); the new phone told whose messages it gets."""
    s, ctx = step.state, step.ctx
    s.new_phone_key = None  # the last three digits stay, for the screen that says it is done
    if ctx.channel == phone_move.SIMULATOR:  # training on real data: nothing moves
        step.go("move_simulated", push=False)
        return
    hold = step.facts.phone_move_hold(household.hogar_id, ctx.phone_grace_hours)
    if hold is not None:
        step.query("phone_move", f"refused_{hold}")
        step.go("move_refused", push=False)
        return
    sms = step.catalog.translator(household.idioma)
    params = {"code": ctx.service_code, "helpline": ctx.helpline}
    notice = None
    if household.phone:
        who = phone_move.whose(step, household.phone, household.hogar_id, sms)
        notice = gsm_safe(sms("sms_phone_moved_for" if who else "sms_phone_moved", who=who,
                              last3=phone[-3:], hours=ctx.phone_grace_hours, **params))
    welcome = gsm_safe(sms("sms_phone_welcome", **params))
    step.effects.append(SetPhoneOfRecord(household.hogar_id, phone, ctx.phone_grace_hours,
                                         notice, welcome=welcome))
    step.effects.append(SetReminders(household.hogar_id, True))
    step.query("assist_phone", "moved")
    step.go("assist_moved", push=False)


def send_summary(step: _Step) -> None:
    """"7 Enviar SMS al hogar": the summary to the household's phone of record, once a day."""
    ctx, facts = step.ctx, step.facts
    household = step.household()
    if household is None:
        next_titular(step)
        return
    if household.phone is None:
        step.query("summary_sms", "no_phone")
        step.go("assist_sms_no_phone")
        return
    if facts.outlook(household.hogar_id, household.phone, None).phone_opted_out:
        step.query("summary_sms", "opted_out")  # she sent BAJA: no SMS she did not ask for
        step.go("assist_sms_opted_out")
        return
    if ctx.channel == phone_move.SIMULATOR:
        step.go("assist_sms_simulated")
        return
    day = ctx.today.isoformat() if ctx.today else "-"
    if ctx.today is not None and facts.summary_sent_today(household.hogar_id, ctx.today):
        step.query("summary_sms", "already")
        step.go("assist_sms_already")
        return
    text = summary_text(step, household, household.phone)
    step.effects.append(SendSummary(household.hogar_id, household.phone, text, day))
    step.query("summary_sms", "sent")
    step.go("assist_sms_sent")


def summary_text(step: _Step, household: HouseholdFacts, phone: str) -> str:
    """The next-payment summary as an unsolicited SMS: the reminder's text when the next payment
    has its date and place, the no-payment notice when none is paid this period, else that none
    is scheduled yet. No amount, no reason, no name; on a shared phone, whose (initials)."""
    ctx, catalog, lang = step.ctx, step.catalog, household.idioma
    t = catalog.translator(lang)
    params = {"code": ctx.service_code, "helpline": ctx.helpline}
    who = phone_move.whose(step, phone, household.hogar_id, t)
    history = step.history(household.hogar_id)
    a = pay_answer(step.facts, household.hogar_id, phone, ctx.today, history)
    up = a.upcoming
    if (up is not None and up.lugar and up.fecha_inicio and up.fecha_fin and up.hora_inicio
            and up.hora_fin):
        op = Operation(up.periodo, "", up.modalidad or "agencia", up.lugar, up.fecha_inicio,
                       up.fecha_fin, up.hora_inicio, up.hora_fin)
        return reminder_text(catalog, lang, op, params, who=who)
    if up is not None:
        key = "sms_summary_later_for" if who else "sms_summary_later"
        return gsm_safe(t(key, periodo=up.periodo, who=who, **params))
    if a.last is not None and a.last.estado == "sin_abono" and not a.over:
        return notice_text(catalog, lang, a.last.periodo, params, who=who)
    return gsm_safe(t("sms_summary_none_for" if who else "sms_summary_none", who=who, **params))
