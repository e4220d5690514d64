"""Test data and a phone that talks to the app exactly as the aggregator does."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from dialogs.gsm import sms_parts
from models import (
    CoResponsibility,
    Database,
    Gestor,
    GestorStatus,
    Household,
    OutboxMessage,
    PayPoint,
    Settlement,
)

ROSA_PHONE = "+51987654321"
SHARED_PHONE = "+51911111111"
STRANGER_PHONE = "+51955555555"
ROSA = {"dni": "01234567", "dob": "25081990", "hogar_id": "H00000001"}
JUANA = {"dni": "40123456", "dob": "02011985", "hogar_id": "H00000002"}
# Gestores (seed_gestores): Pilar attends at a Tambo in Puno; Teo's phone is a former gestor's.
GESTOR_PHONE = "+51966000101"
GESTOR = {"gestor_id": "G900001", "ut": "PUNO", "tambo": "Tambo Chucuito"}
FORMER_GESTOR_PHONE = "+51966000102"
# The day the tests' app believes it is (Lima): the seed's operations lie ahead of it.
TEST_TODAY = dt.date(2026, 12, 2)
LONG_PLACE = "Operativo ETV Comunidad Campesina San Juan de Llachon Capachica"


def household(hid: str, dni: str, nombres: str, apellidos: str, born: dt.date, **kw: Any) -> Household:
    """A padron row with the defaults the tests share (Piura, Spanish, reminders on, no phone)."""
    base: dict[str, Any] = dict(
        hogar_id=hid, dni=dni, nombres=nombres, apellidos=apellidos, fecha_nacimiento=born,
        phone=None, idioma="es", ubigeo="200101", unidad_territorial="PIURA", estado="afiliado",
        reminders_enabled=True,
    )
    base.update(kw)
    return Household(**base)


def seed(db: Database) -> None:
    """A few households that between them reach every screen and every state."""
    d, t = dt.date, dt.time
    with db.session() as s:
        s.add_all([
            household("H00000001", "01234567", "ROSA MARIA", "QUISPE HUAMAN", d(1990, 8, 25),
                       phone=ROSA_PHONE, ubigeo="200501"),
            household("H00000002", "40123456", "JUANA", "MAMANI CONDORI", d(1985, 1, 2),
                       idioma="qu", ubigeo="210101", unidad_territorial="PUNO"),
            household("H00000003", "55500001", "CARMEN", "TICONA", d(1992, 3, 4),
                       phone=SHARED_PHONE, idioma="ay", unidad_territorial="PUNO"),
            household("H00000004", "55500002", "LUZ", "TICONA", d(1994, 5, 6),
                       phone=SHARED_PHONE, unidad_territorial="PUNO"),
            household("H00000005", "55500003", "ELENA", "SIN DATOS", d(1980, 1, 1)),
        ])
        s.flush()
        s.add_all([
            PayPoint(periodo="2026-6", punto_id="P001", modalidad="agencia",
                     lugar="Agencia BN Chulucanas", direccion="Jr. Lima 123, Plaza de Armas",
                     fecha_inicio=d(2026, 12, 12), fecha_fin=d(2026, 12, 16),
                     hora_inicio=t(8, 0), hora_fin=t(17, 30), ubigeo="200501"),
            PayPoint(periodo="2026-6", punto_id="P002", modalidad="etv", lugar=LONG_PLACE,
                     direccion="Local comunal, frente a la posta de salud de Llachon",
                     fecha_inicio=d(2026, 12, 14), fecha_fin=d(2026, 12, 15),
                     hora_inicio=t(9, 0), hora_fin=t(15, 0), ubigeo="210101"),
        ])
        rows = [
            ("2026-6", "H00000001", "200.00", "programado", None, "P001"),
            ("2026-5", "H00000001", "280.00", "cobrado", None, "P001"),
            ("2026-4", "H00000001", "200.00", "no_cobrado", None, "P001"),
            ("2026-3", "H00000001", "200.00", "cobrado", None, "P001"),
            ("2026-2", "H00000001", "200.00", "cobrado", None, "P001"),
            ("2026-6", "H00000002", "0", "sin_abono", "INC_SALUD", None),
            ("2026-5", "H00000002", "200.00", "cobrado", None, None),
            ("2026-6", "H00000003", "200.00", "programado", None, "P002"),
            ("2026-6", "H00000004", "0", "sin_abono", "TARJETA_PENDIENTE", None),
        ]
        s.add_all([
            Settlement(periodo=p, hogar_id=h, monto=Decimal(m), estado=e, motivo=r, punto_id=pt)
            for p, h, m, e, r, pt in rows
        ])
        members = [
            ("Rosa", "salud", True, "control prenatal"),
            ("Luis", "educacion", False, "asistencia escolar"),
            ("Ana", "salud", True, "control CRED"),
            ("Maximiliano", "educacion", True, "asistencia escolar"),
            ("Florencia", "salud", True, "control CRED"),
            ("Wilfredo", "educacion", True, "asistencia escolar"),
        ]
        s.add_all([
            CoResponsibility(periodo="2026-6", hogar_id="H00000001", miembro=m, tipo=ty, cumple=c,
                             detalle=de)
            for m, ty, c, de in members
        ])
        s.add(CoResponsibility(periodo="2026-6", hogar_id="H00000002", miembro="Ana", tipo="salud",
                               cumple=False, detalle="control CRED"))


def seed_gestores(db: Database) -> None:
    """An active gestor at a Tambo, and an inactive one (whose phone is a staff phone still)."""
    with db.session() as s:
        s.add_all([
            Gestor(gestor_id=GESTOR["gestor_id"], nombres="PILAR", apellidos="NINA CCAMA",
                   phone=GESTOR_PHONE, unidad_territorial=GESTOR["ut"], tambo=GESTOR["tambo"]),
            Gestor(gestor_id="G900002", nombres="TEODORO", apellidos="APAZA", phone=FORMER_GESTOR_PHONE,
                   unidad_territorial="PIURA", tambo=None, estado=GestorStatus.INACTIVO),
        ])


_ids = itertools.count(1)


def text_in(client: FlaskClient, phone: str, text: str) -> str:
    """An inbound SMS posted to /sms/inbound as the aggregator posts it; its id."""
    sms_id = f"in{next(_ids)}"
    response = client.post("/sms/inbound", data={
        "date": "2026-12-02 10:00:00", "from": phone, "to": "1880", "text": text,
        "id": sms_id, "linkId": "L1", "networkCode": "71610",
    })
    assert response.status_code == 200
    return sms_id


def sms_reply(client: FlaskClient, db: Database, phone: str, text: str) -> str:
    """Send `text` from `phone` by SMS; the reply the outbox holds for it (one GSM-7 part)."""
    sms_id = text_in(client, phone, text)
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"reply:{sms_id}"))
    assert row is not None and row.recipient == phone
    assert sms_parts(row.text) == ("gsm7", 1), row.text
    return row.text


def simulator_token(client: FlaskClient) -> str:
    """The CSRF token the simulator's page gives its script (sent back as X-CSRFToken)."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/simulator").get_data(as_text=True))
    assert found
    return found[1]


@dataclass
class Phone:
    """A handset dialing the service through POST /ussd, as Africa's Talking would."""

    client: FlaskClient
    number: str
    service_code: str = "*1880#"
    session_id: str = ""
    path: str = "/ussd"  # or the simulator's /simulator/hop
    inputs: list[str] = field(default_factory=list)
    screens: list[str] = field(default_factory=list)
    redis: Any = None

    def dial(self, *built_in: str) -> str:
        """A new session; `built_in` inputs as in *1880*1#."""
        self.session_id = f"ATUid_test_{next(_ids)}"
        self.inputs = list(built_in)
        return self._hop()

    def send(self, value: str) -> str:
        self.inputs.append(value)
        return self._hop()

    def resend(self) -> str:
        """The aggregator repeats the last hop (same sessionId and text)."""
        return self._hop()

    @property
    def text(self) -> str:
        return "*".join(self.inputs)

    def _hop(self) -> str:
        page = self.path.startswith("/simulator")  # the simulator's script sends its page's token
        response = self.client.post(
            self.path,
            headers={"X-CSRFToken": simulator_token(self.client)} if page else {},
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.number,
                "networkCode": "71610",
                "text": self.text,
            },
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/plain"
        body = response.get_data(as_text=True)
        assert body.startswith(("CON ", "END ")), body
        if self.redis is not None:
            raw = self.redis.get(f"mijuntos:ussd:{self.session_id}")
            if raw:
                self.screens.append(json.loads(raw)["s"].get("screen", "dni"))
        return body
