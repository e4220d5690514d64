"""The text of the information screens: next payment, payment status, co-responsibilities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dialogs.facts import CoRespFacts, SettlementFacts
from dialogs.nextpay import PayAnswer, is_over, last_told, then
from dialogs.texts import Translate

REASONS = (
    "INC_SALUD",
    "INC_EDUCACION",
    "SUSPENDIDO",
    "DESAFILIADO",
    "SIN_MIEMBRO_OBJETIVO",
    "DATOS_EN_VERIFICACION",
    "TARJETA_PENDIENTE",
)
STATES = ("programado", "cobrado", "no_cobrado", "sin_abono")


def fmt_date(day: dt.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else "-"


def fmt_range_start(start: dt.date | None, end: dt.date | None) -> str:
    """The first day of a range; its year only when the range crosses into another year."""
    if start and end and start.year == end.year:
        return start.strftime("%d/%m")
    return fmt_date(start)


def fmt_dates(t: Translate, start: dt.date | None, end: dt.date | None) -> str:
    """A payment operation's dates: "el 04/12/2026" for one day, "del 04/12 al 06/12/2026"."""
    if start is not None and start == end:
        return t("dates_one", day=fmt_date(start))
    return t("dates_range", start=fmt_range_start(start, end), end=fmt_date(end))


def fmt_time(hour: dt.time | None) -> str:
    return hour.strftime("%H:%M") if hour else "-"


def fmt_amount(amount: Decimal) -> str:
    return f"{amount:.2f}"


def mask_phone(phone: str | None) -> str:
    """A phone shown as its last three digits only."""
    return f"*** *** {phone[-3:]}" if phone else "-"


def reason_lines(t: Translate, motivo: str | None, helpline: str) -> str:
    """What happened and what to do, for a sin_abono reason code."""
    code = motivo if motivo in REASONS else "OTRO"
    return t(
        "reason_and_action",
        reason=t(f"reason_{code}"),
        action=t(f"action_{code}", helpline=helpline),
    )


def pay_blocks(t: Translate, a: PayAnswer, helpline: str, code: str) -> list[str]:
    """Option 1: when and where the next payment is, or the last one and what follows it."""
    s = a.upcoming
    if s is not None:  # always a programado whose operation has not ended
        if s.lugar is None:
            return [t("pay_point_pending", periodo=s.periodo)]
        key = "pay_etv" if s.modalidad == "etv" else "pay_agencia"
        text = t(
            key,
            periodo=s.periodo,
            dates=fmt_dates(t, s.fecha_inicio, s.fecha_fin),
            open=fmt_time(s.hora_inicio),
            close=fmt_time(s.hora_fin),
            place=s.lugar,
        )
        if s.direccion:
            text += "\n" + t("pay_address", address=s.direccion)
        return [text + "\n" + t("pay_bring_dni")]
    return [_after_text(t, a, helpline, code)]


# How the last payment is told on a screen, by `nextpay.last_told`.
_LAST_KEYS = {"no_pay": "pay_sin_abono", "no_pay_over": "pay_last_sin_abono",
              "cobrado": "pay_last_cobrado", "no_cobrado": "pay_last_no_cobrado",
              "unconfirmed": "pay_last_unconfirmed"}


def _after_text(t: Translate, a: PayAnswer, helpline: str, code: str) -> str:
    """No payment ahead: the last one (collected or not), then how the next date will come."""
    s, tail = a.last, t(f"pay_tail_{a.tail}", code=code)
    if s is None:
        return t("pay_none") + "\n" + tail
    key = _LAST_KEYS[last_told(s, a.over)]
    if s.estado == "sin_abono":
        head = t(key, periodo=s.periodo) + "\n" + reason_lines(t, s.motivo, helpline)
    else:
        which = s.periodo
        if s.fecha_inicio is not None:
            which = t("pay_last_dates", periodo=s.periodo,
                      dates=fmt_dates(t, s.fecha_inicio, s.fecha_fin))
        head = t(key, which=which, helpline=helpline)
    follows = then(a)
    if follows is None:
        return head  # this period's own answer, or no payment to come: the reason is all
    return f"{head}\n{t(f'pay_next_{follows}', periodo=a.missing_periodo)}\n{tail}"


def state_label(t: Translate, s: SettlementFacts, today: dt.date | None) -> str:
    """A settlement's state in words; a `programado` whose dates are over does not read as ahead."""
    if s.estado == "programado" and is_over(s.fecha_fin, today):
        return t("state_programado_over")
    return t(f"state_{s.estado}") if s.estado in STATES else s.estado


def status_blocks(
    t: Translate, history: list[SettlementFacts], helpline: str, today: dt.date | None = None
) -> list[str]:
    """Option 2: this period's state (and reason), then the three before it on a new page."""
    if not history:
        return [t("status_none")]
    current, earlier = history[0], history[1:4]
    state = state_label(t, current, today)
    text = t("status_head", periodo=current.periodo, state=state)
    if current.estado != "sin_abono":
        text += "\n" + t("status_amount", amount=fmt_amount(current.monto))
    if current.estado == "sin_abono":
        text += "\n" + reason_lines(t, current.motivo, helpline)
    elif current.estado == "no_cobrado":
        text += "\n" + t("status_no_cobrado_action", helpline=helpline)
    elif current.estado == "programado" and is_over(current.fecha_fin, today):
        text += "\n" + t("status_unconfirmed_action", helpline=helpline)
    lines = [t("history_head")]
    for s in earlier:
        label = state_label(t, s, today)
        lines.append(t("history_line", periodo=s.periodo, state=label, amount=fmt_amount(s.monto)))
    if not earlier:
        lines.append(t("history_none"))
    return [text, "\n".join(lines)]


def coresp_blocks(t: Translate, periodo: str | None, rows: list[CoRespFacts]) -> list[str]:
    """Option 3: each member's health and school co-responsibilities this period."""
    if periodo is None or not rows:
        return [t("coresp_none")]
    lines = [t("coresp_head", periodo=periodo)]
    for row in rows:
        kind = t(f"type_{row.tipo}") if row.tipo in ("salud", "educacion") else row.tipo
        if row.cumple:
            lines.append(t("coresp_ok", member=row.miembro, type=kind))
        else:
            lines.append(t("coresp_no", member=row.miembro, type=kind, detail=row.detalle))
    return ["\n".join(lines)]
