"""USSD option 1 never shows an operation that is over as the next payment (exports lag)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from models import Database, Household, Settlement
from tests.stale_support import ELSEWHERE, dni_and_dob, first_hop, phone_of, seed_stale
from tests.support import Phone, sms_reply

TOLD_AS_NEXT = ("Pago 2026-5", "Lleve su DNI", "con tarjeta en")


@pytest.fixture
def client(app: Flask, db: Database) -> FlaskClient:
    seed_stale(db)
    return app.test_client()


def pay_screen(client: FlaskClient, name: str) -> str:
    """Option 1 from the household's phone of record, both pages."""
    phone = Phone(client, phone_of(name))
    assert "Mi Juntos" in phone.dial()
    first = phone.send("1")
    return first + "\n" + phone.send("98") if "98 Mas" in first else first


@pytest.mark.parametrize("name, says", [
    ("cobrado", ["Su ultimo pago (2026-5, del 22/10 al 24/10/2026) ya lo cobro."]),
    ("no_cobrado", ["Su ultimo pago (2026-5, del 22/10 al 24/10/2026) no fue cobrado a tiempo",
                    "gestor", "1880"]),
    ("over", ["Su ultimo pago (2026-5, del 22/10 al 24/10/2026) ya paso",
              "aun no figura cobrado", "Si no lo cobro, consulte en el banco"]),
    ("sin_abono", ["No hubo pago en el periodo 2026-5.", "controles de salud",
                   "establecimiento de salud"]),
])
def test_an_operation_over_is_told_as_the_last_payment(client: FlaskClient, name: str,
                                                        says: list[str]) -> None:
    screen = pay_screen(client, name)
    for fragment in says + ["Aun no hay fecha para su proximo pago.", "Le avisaremos por SMS."]:
        assert fragment in screen, screen
    for fragment in TOLD_AS_NEXT:
        assert fragment not in screen, screen
    assert "S/" not in screen and "200" not in screen


@pytest.mark.parametrize("name, phone, inputs, hint", [
    # Verified by DNI and date of birth on a phone that is not the phone of record.
    ("over", ELSEWHERE, [*dni_and_dob("over"), "1"], "o elija 4 en el menu para recibir avisos"),
    ("reminders_off", phone_of("reminders_off"), ["1"], "envie ALTA"),
    ("opted_out", phone_of("opted_out"), ["1"], "envie ALTA"),
])
def test_we_promise_an_sms_only_to_a_phone_that_gets_the_reminders(
    client: FlaskClient, name: str, phone: str, inputs: list[str], hint: str
) -> None:
    screen = first_hop(client, phone, *inputs)
    if "98 Mas" in screen:
        screen += first_hop(client, phone, *inputs, "98")
    assert "ya paso" in screen, screen
    assert "Vuelva a marcar *1880# en unos dias" in screen and hint in screen, screen
    assert "Le avisaremos" not in screen, screen


def test_the_status_does_not_read_a_programado_over_as_still_ahead(client: FlaskClient) -> None:
    phone = Phone(client, phone_of("over"))
    phone.dial()
    screen = phone.send("2")
    assert "Pago 2026-5: fechas pasadas, cobro sin confirmar" in screen, screen
    assert "Si no lo cobro, consulte en el banco" in screen
    assert "2026-4: cobrado" in phone.send("98")


def test_no_settlement_at_all_promises_an_sms_only_to_the_phone_of_record(client: FlaskClient) -> None:
    own = first_hop(client, phone_of("nothing"), "1")
    assert "Aun no hay cronograma de pago para su hogar." in own and "Le avisaremos por SMS" in own
    other = first_hop(client, ELSEWHERE, *dni_and_dob("nothing"), "1")
    if "98 Mas" in other:
        other += first_hop(client, ELSEWHERE, *dni_and_dob("nothing"), "1", "98")
    assert "Aun no hay cronograma de pago" in other and "Le avisaremos" not in other, other
    assert "o elija 4 en el menu" in other


def test_the_simulator_shows_what_ussd_shows(client: FlaskClient) -> None:
    screen = first_hop(client, phone_of("over"), "1", path="/simulator/hop")
    assert "Su ultimo pago (2026-5, del 22/10 al 24/10/2026) ya paso" in screen, screen
    assert "Lleve su DNI" not in screen


class TestWithTheNextPeriodScheduled:
    @pytest.fixture
    def client(self, app: Flask, db: Database) -> FlaskClient:
        seed_stale(db, next_period=True)
        return app.test_client()

    def test_an_operation_ending_today_is_still_the_next_payment(self, client: FlaskClient) -> None:
        screen = first_hop(client, phone_of("today"), "1")
        assert "Pago 2026-6: del 30/11 al 02/12/2026" in screen and "Agencia BN Paita" in screen
        assert "Lleve su DNI" in screen

    def test_the_newer_programado_ahead_is_shown_not_the_older_one_over(
        self, client: FlaskClient
    ) -> None:
        screen = first_hop(client, phone_of("ahead"), "1")
        assert "Pago 2026-6: del 20/12 al 22/12/2026" in screen and "Agencia BN Talara" in screen
        status = first_hop(client, phone_of("ahead"), "2", "98")
        assert "2026-5: fechas pasadas, cobro sin confirmar" in status, status

    def test_a_newer_period_without_her_settlement_is_not_called_unpublished(
        self, client: FlaskClient
    ) -> None:
        screen = pay_screen(client, "over")
        assert "ya paso" in screen and "Su pago 2026-6 aun no figura en nuestros datos." in screen
        assert "Aun no hay fecha" not in screen and "Lleve su DNI" not in screen


@pytest.mark.parametrize("motivo", ["DESAFILIADO", "SIN_MIEMBRO_OBJETIVO"])
def test_a_household_that_left_is_not_promised_a_next_payment(
    client: FlaskClient, db: Database, motivo: str
) -> None:
    left = "+51960000199"
    with db.session() as s:
        s.add(Household(hogar_id="H00000199", dni="60000199", nombres="GLORIA", apellidos="PRUEBA",
                        fecha_nacimiento=dt.date(1970, 1, 1), phone=left, idioma="es",
                        ubigeo="200601", unidad_territorial="PIURA", estado="desafiliado",
                        reminders_enabled=True))
        s.flush()
        s.add(Settlement(periodo="2026-5", hogar_id="H00000199", estado="sin_abono", motivo=motivo,
                         punto_id=None, monto=Decimal("0")))
    screen = first_hop(client, left, "1")
    if "98 Mas" in screen:
        screen += first_hop(client, left, "1", "98")
    assert "No hubo pago en el periodo 2026-5." in screen and "1880" in screen, screen
    for promise in ("Aun no hay fecha", "aun no figura", "Le avisaremos", "Vuelva a marcar"):
        assert promise not in screen, screen
    reply = sms_reply(client, db, left, "PAGO")
    assert "no hubo pago" in reply and "avisaremos" not in reply, reply
