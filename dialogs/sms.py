"""Inbound SMS commands, parsed and answered as data (the same rules and facts as USSD)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from dialogs.effects import (
    DniTried,
    DobCleared,
    DobFailed,
    Effect,
    RecordQuery,
    SetOptIn,
    SetOptOut,
)
from dialogs.engine import HISTORY, Context
from dialogs.facts import Facts, HouseholdFacts
from dialogs.gsm import fit_place, gsm_safe
from dialogs.nextpay import PayAnswer, last_told, pay_answer, then
from dialogs.texts import Catalog, Translate
from dialogs.validate import dni_key, parse_dni, parse_dob, possible_dob, split_identity, wrong_check_char
from dialogs.views import REASONS, fmt_date, fmt_dates, fmt_time


class Command(StrEnum):
    PAGO = "pago"
    ESTADO = "estado"
    ALTA = "alta"
    BAJA = "baja"
    AYUDA = "ayuda"


KEYWORDS = {
    "PAGO": Command.PAGO, "PAGOS": Command.PAGO, "FECHA": Command.PAGO,
    "ESTADO": Command.ESTADO,
    "ALTA": Command.ALTA, "ACTIVAR": Command.ALTA,
    "BAJA": Command.BAJA, "STOP": Command.BAJA, "SALIR": Command.BAJA, "PARAR": Command.BAJA,
    "AYUDA": Command.AYUDA, "HELP": Command.AYUDA, "INFO": Command.AYUDA,
}
# Anything but letters, digits and the marks typed inside a DNI or a date (emoji, "!", "?",
# commas) separates words: "PAGO 👍", "pago!" and "¿pago?" are PAGO.
_SEPARATORS = re.compile(r"[^A-Z0-9./\-]+")
_NUMBER = re.compile(r"[0-9./\-]*[0-9][0-9./\-]*[A-K]?")  # a DNI (maybe with its check letter) or date
_CHECK_LETTER = re.compile(r"[A-K]")
_FILLER = {"DNI"}


@dataclass(frozen=True)
class SmsCommand:
    kind: Command
    dni: str | None = None  # as typed; validated when answered
    dob: str | None = None
    understood: bool = True


def _plain_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _is_number(tokens: list[str], i: int) -> bool:
    token = tokens[i]
    if _NUMBER.fullmatch(token):
        return True
    # A check letter typed apart from its DNI: 01234567 K
    return bool(_CHECK_LETTER.fullmatch(token)) and i > 0 and tokens[i - 1][-1:].isdigit()


def parse_command(text: str) -> SmsCommand:
    """What an inbound SMS asks for; anything not understood is a request for help."""
    tokens = [t.strip(".-/") for t in _SEPARATORS.split(_plain_upper(text))]
    tokens = [t for t in tokens if t]
    if tokens and tokens[0] in ("JUNTOS", "MIJUNTOS"):
        tokens = tokens[1:]
    if len(tokens) >= 2 and tokens[0] == "MI" and tokens[1] == "JUNTOS":
        tokens = tokens[2:]
    numbers = [t for i, t in enumerate(tokens) if _is_number(tokens, i)]
    # "DNI 45678901 PAGO" is how our own replies put it ("envie DNI PAGO"): the word is filler.
    words = [t for i, t in enumerate(tokens) if not _is_number(tokens, i) and t not in _FILLER]
    kinds = list(dict.fromkeys(KEYWORDS[w] for w in words if w in KEYWORDS))  # "pago pago": PAGO
    unknown = [w for w in words if w not in KEYWORDS]
    if unknown or len(kinds) > 1 or (not kinds and not numbers):
        return SmsCommand(Command.AYUDA, understood=not text.strip() or tokens == ["AYUDA"])
    kind = kinds[0] if kinds else Command.PAGO
    if kind in (Command.ALTA, Command.BAJA, Command.AYUDA) and numbers:
        return SmsCommand(Command.AYUDA, understood=False)
    dni, dob = split_identity(numbers) if numbers else (None, None)
    return SmsCommand(kind, dni, dob)


@dataclass
class SmsAnswer:
    text: str
    effects: list[Effect] = field(default_factory=list)
    hogar_id: str | None = None


CATEGORY = {
    "INC_SALUD": "corresponsabilidades",
    "INC_EDUCACION": "corresponsabilidades",
    "SUSPENDIDO": "suspension",
    "DESAFILIADO": "desafiliacion",
    "SIN_MIEMBRO_OBJETIVO": "sin_miembro",
    "DATOS_EN_VERIFICACION": "verificacion",
    "TARJETA_PENDIENTE": "tarjeta",
}


def answer(cmd: SmsCommand, ctx: Context, facts: Facts, catalog: Catalog) -> SmsAnswer:
    """The reply to one inbound SMS and what to record, for the phone `ctx.phone`."""
    # Before verification, speak the language of the household this phone belongs to, if one.
    known = facts.households_by_phone(ctx.phone)
    first = catalog.translator(known[0].idioma if len(known) == 1 else "es")
    params = {"code": ctx.service_code, "helpline": ctx.helpline}
    if cmd.kind is Command.AYUDA:
        return SmsAnswer(gsm_safe(first("sms_help", **params)))
    if cmd.kind in (Command.ALTA, Command.BAJA):
        # The phone's own households: not one it lost by a move it may still undo (phonechange).
        return _switch(cmd.kind, ctx, [h for h in known if h.phone == ctx.phone], catalog)
    found = _verify(cmd, ctx, facts, first)
    if isinstance(found, SmsAnswer):
        return found
    household, effects = found
    t = catalog.translator(household.idioma)
    history = facts.settlements(household.hogar_id, HISTORY)
    # ESTADO: the newest period's state (ahead, or over and what follows); PAGO: the next one.
    asked = history if cmd.kind is Command.PAGO else history[:1]
    pay = pay_answer(facts, household.hogar_id, ctx.phone, ctx.today, asked)
    shown = pay.upcoming or pay.last
    kind = "next_payment" if cmd.kind is Command.PAGO else "status"
    effects.append(RecordQuery(kind, shown.estado if shown else "no_data", household.hogar_id,
                               household.unidad_territorial, shown.periodo if shown else None))
    # How this phone asks for the date and place: PAGO alone only from a phone of one household.
    mine = [h.hogar_id for h in known]
    ask = "" if mine == [household.hogar_id] else ("_shared" if household.hogar_id in mine else "_other")
    text = _payment_text(t, pay, params, ask) if cmd.kind is Command.PAGO else _status_text(
        t, pay, params, ask)
    return SmsAnswer(gsm_safe(text), effects, household.hogar_id)


def _verify(
    cmd: SmsCommand, ctx: Context, facts: Facts, t: Translate
) -> SmsAnswer | tuple[HouseholdFacts, list[Effect]]:
    params = {"code": ctx.service_code, "helpline": ctx.helpline}
    if cmd.dni is None:
        households = facts.households_by_phone(ctx.phone)
        if len(households) == 1:
            return households[0], [RecordQuery("verify", "ok_phone", households[0].hogar_id,
                                               households[0].unidad_territorial)]
        if households:  # a shared phone of record: the DNI picks the household, no date needed
            return SmsAnswer(t("sms_need_dni_shared", command=cmd.kind.name, **params))
        return SmsAnswer(t("sms_need_id", **params))
    dni = parse_dni(cmd.dni)
    if dni is None:
        # A mistyped check character says so and costs nothing (no DNI try is counted).
        wrong = wrong_check_char(cmd.dni)
        return SmsAnswer(t("sms_dni_check_wrong" if wrong else "sms_dni_invalid", **params))
    key = dni_key(ctx.secret, dni)
    # The limit first: only a real DNI can be locked, so "locked" would reveal it exists.
    if not facts.may_try_dni(ctx.phone, key):
        return SmsAnswer(t("sms_dni_limit", **params), [RecordQuery("verify", "dni_limit")])
    tried: list[Effect] = [DniTried(ctx.phone, key)]
    failures = facts.dob_failures(key)
    if failures >= ctx.max_dob_attempts:
        return SmsAnswer(t("sms_locked", minutes=ctx.lock_minutes, **params),
                         [*tried, RecordQuery("verify", "locked")])
    household = facts.household_by_dni(dni)
    if household is None:
        return SmsAnswer(t("sms_dni_unknown", **params),
                         [*tried, RecordQuery("verify", "dni_unknown")])
    by_phone = household.hogar_id in {h.hogar_id for h in facts.households_by_phone(ctx.phone)}
    born = parse_dob(cmd.dob) if cmd.dob else None
    if by_phone and cmd.dob is None:
        return household, [*tried, RecordQuery("verify", "ok_phone", household.hogar_id,
                                               household.unidad_territorial)]
    if born is None:
        return SmsAnswer(t("sms_dob_invalid", **params), tried)
    if not possible_dob(born, ctx.today):
        return SmsAnswer(t("sms_dob_impossible", **params), tried)  # a slip: no attempt spent
    if born != household.fecha_nacimiento:
        ut = household.unidad_territorial
        if failures + 1 >= ctx.max_dob_attempts:
            return SmsAnswer(t("sms_locked", minutes=ctx.lock_minutes, **params),
                             [*tried, DobFailed(key), RecordQuery("verify", "locked", None, ut)])
        left = ctx.max_dob_attempts - failures - 1
        return SmsAnswer(t("sms_dob_wrong", left=left, **params),
                         [*tried, DobFailed(key), RecordQuery("verify", "dob_wrong", None, ut)])
    return household, [*tried, DobCleared(key), RecordQuery("verify", "ok_dob", household.hogar_id,
                                                    household.unidad_territorial)]


def _switch(
    kind: Command, ctx: Context, households: list[HouseholdFacts], catalog: Catalog
) -> SmsAnswer:
    lang = households[0].idioma if households else "es"
    t = catalog.translator(lang)
    params = {"code": ctx.service_code, "helpline": ctx.helpline}
    ids = tuple(h.hogar_id for h in households)
    if kind is Command.BAJA:
        return SmsAnswer(gsm_safe(t("sms_baja", **params)), [SetOptOut(ctx.phone, ids)])
    key = "sms_alta" if households else "sms_alta_unknown"
    return SmsAnswer(gsm_safe(t(key, **params)), [SetOptIn(ctx.phone, ids)])


def _payment_text(t: Translate, a: PayAnswer, params: dict[str, str], ask: str = "") -> str:
    s = a.upcoming
    if s is not None and s.lugar:
        return fit_place(lambda place: gsm_safe(t(
            "sms_pay_etv" if s.modalidad == "etv" else "sms_pay_agencia",
            periodo=s.periodo, dates=fmt_dates(t, s.fecha_inicio, s.fecha_fin),
            open=fmt_time(s.hora_inicio), close=fmt_time(s.hora_fin),
            place=place, **params,
        )), s.lugar)
    return _status_text(t, a, params, ask)


# How the last payment is told in an SMS reply, by `nextpay.last_told`.
_LAST_KEYS = {"no_pay": "sms_no_pay", "no_pay_over": "sms_last_no_pay",
              "cobrado": "sms_last_cobrado", "no_cobrado": "sms_last_no_cobrado",
              "unconfirmed": "sms_last_unconfirmed"}


def _status_text(t: Translate, a: PayAnswer, params: dict[str, str], ask: str = "") -> str:
    if a.upcoming is not None:
        return t(f"sms_status_programado{ask}", periodo=a.upcoming.periodo, **params)
    s, tail = a.last, t(f"sms_tail_{a.tail}", **params)
    if s is None:
        return t("sms_pay_none", **params) + " " + tail
    key = _LAST_KEYS[last_told(s, a.over)]
    if s.estado == "sin_abono":
        code = s.motivo if s.motivo in REASONS else None
        category = t(f"category_{CATEGORY[code]}") if code else t("category_otro")
        head = t(key, periodo=s.periodo, category=category, **params)
    else:
        head = t(key, periodo=s.periodo, end=fmt_date(a.ended), **params)
    follows = then(a)
    if follows is None:
        return head
    return f"{head} {t(f'sms_next_{follows}', periodo=a.missing_periodo)} {tail}"
