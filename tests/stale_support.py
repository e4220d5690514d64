"""Households whose newest settlement is for an operation already over (exports lag)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask.testing import FlaskClient

from models import Database, OptOut, PayPoint, Settlement
from tests.support import TEST_TODAY, Phone, household

# name: (hogar_id, dni, date of birth DDMMAAAA, phone of record)
PEOPLE = {
    "cobrado": ("H00000101", "60000101", "01021990", "+51960000101"),
    "no_cobrado": ("H00000102", "60000102", "02021990", "+51960000102"),
    "over": ("H00000103", "60000103", "03021990", "+51960000103"),
    "sin_abono": ("H00000104", "60000104", "04021990", "+51960000104"),
    "reminders_off": ("H00000105", "60000105", "05021990", "+51960000105"),
    "opted_out": ("H00000106", "60000106", "06021990", "+51960000106"),
    "nothing": ("H00000107", "60000107", "07021990", "+51960000107"),
    "today": ("H00000108", "60000108", "08021990", "+51960000108"),
    "ahead": ("H00000109", "60000109", "09021990", "+51960000109"),
}
ELSEWHERE = "+51977777777"  # a phone that is nobody's phone of record
LAST_DAY = dt.date(2026, 10, 24)  # the 2026-5 operation's last day, before TEST_TODAY


def phone_of(name: str) -> str:
    return PEOPLE[name][3]


def dni_and_dob(name: str) -> tuple[str, str]:
    return PEOPLE[name][1], PEOPLE[name][2]


def seed_stale(db: Database, *, next_period: bool = False) -> None:
    """The 2026-5 operation is over; with `next_period`, 2026-6 is scheduled (one point ends today)."""
    d, t = dt.date, dt.time
    points = [
        ("2026-4", "P401", "Agencia BN Sullana", d(2026, 8, 20), d(2026, 8, 22)),
        ("2026-5", "P501", "Agencia BN Sullana", d(2026, 10, 22), LAST_DAY),
    ]
    if next_period:
        points += [
            ("2026-6", "P601", "Agencia BN Paita", d(2026, 11, 30), TEST_TODAY),
            ("2026-6", "P602", "Agencia BN Talara", d(2026, 12, 20), d(2026, 12, 22)),
        ]
    rows: list[tuple[str, str, str, str | None, str | None]] = [
        ("cobrado", "2026-5", "cobrado", None, "P501"), ("cobrado", "2026-4", "cobrado", None, "P401"),
        ("no_cobrado", "2026-5", "no_cobrado", None, "P501"),
        ("over", "2026-5", "programado", None, "P501"), ("over", "2026-4", "cobrado", None, "P401"),
        ("sin_abono", "2026-5", "sin_abono", "INC_SALUD", None),
        ("sin_abono", "2026-4", "cobrado", None, "P401"),
        ("reminders_off", "2026-5", "programado", None, "P501"),
        ("opted_out", "2026-5", "programado", None, "P501"),
    ]
    if next_period:
        rows += [
            ("today", "2026-6", "programado", None, "P601"),
            ("today", "2026-5", "cobrado", None, "P501"),
            ("ahead", "2026-6", "programado", None, "P602"),
            ("ahead", "2026-5", "programado", None, "P501"),
        ]
    with db.session() as s:
        for name, (hid, dni, dob, phone) in PEOPLE.items():
            born = dt.datetime.strptime(dob, "%d%m%Y").date()
            s.add(household(hid, dni, name.upper().replace("_", " "), "PRUEBA", born, phone=phone,
                            ubigeo="200601", reminders_enabled=name != "reminders_off"))
        s.flush()
        s.add_all(PayPoint(periodo=p, punto_id=pid, modalidad="agencia", lugar=place,
                           direccion=None, fecha_inicio=start, fecha_fin=end,
                           hora_inicio=t(8, 0), hora_fin=t(17, 0), ubigeo="200601")
                  for p, pid, place, start, end in points)
        s.add_all(Settlement(periodo=p, hogar_id=PEOPLE[name][0], estado=e, motivo=m, punto_id=pt,
                             monto=Decimal("0" if e == "sin_abono" else "200.00"))
                  for name, p, e, m, pt in rows)
        # An opt-out with the household's reminders still on (a re-import of the padron turns
        # them on again): the opt-out alone must stop "le avisaremos".
        s.add(OptOut(phone=phone_of("opted_out"), source="sms_command"))






def first_hop(client: FlaskClient, phone: str, *inputs: str, path: str = "/ussd") -> str:
    """One session dialed with its inputs built in (*1880*1#): the screen they lead to."""
    return Phone(client, phone, path=path).dial(*inputs)
