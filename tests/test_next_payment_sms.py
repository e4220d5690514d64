"""SMS PAGO and ESTADO never name an operation that is over as the next payment."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from models import Database, OutboxMessage
from tests.stale_support import ELSEWHERE, dni_and_dob, phone_of, seed_stale
from tests.support import sms_reply, text_in


@pytest.fixture
def client(app: Flask, db: Database) -> FlaskClient:
    seed_stale(db)
    return app.test_client()


def reply_to(client: FlaskClient, db: Database, phone: str, text: str) -> str:
    reply = sms_reply(client, db, phone, text)
    assert "S/" not in reply and "200" not in reply and "Lleve DNI" not in reply
    return reply


@pytest.mark.parametrize("name, says", [
    ("cobrado", "Mi Juntos: su pago 2026-5 ya fue cobrado."),
    ("no_cobrado", "Mi Juntos: su pago 2026-5 no fue cobrado a tiempo. Consulte a su gestor"),
    ("over", "Mi Juntos: su pago 2026-5 fue hasta el 24/10/2026; aun no figura cobrado."),
    ("sin_abono", "Mi Juntos: en 2026-5 no hubo pago por corresponsabilidades."),
])
@pytest.mark.parametrize("command", ["PAGO", "ESTADO"])
def test_an_operation_over_is_the_last_payment_by_sms(
    client: FlaskClient, db: Database, name: str, says: str, command: str
) -> None:
    text = reply_to(client, db, phone_of(name), command)
    assert text.startswith(says), text
    assert text.endswith("Proximo pago: aun sin fecha. Le avisaremos por SMS."), text


@pytest.mark.parametrize("name, phone, command, tail", [
    ("over", ELSEWHERE, " ".join(dni_and_dob("over")), "Avisos aqui: *1880# opcion 4."),
    ("reminders_off", phone_of("reminders_off"), "PAGO", "Para avisos envie ALTA."),
    ("opted_out", phone_of("opted_out"), "PAGO", "Para avisos envie ALTA."),
    ("opted_out", phone_of("opted_out"), "ESTADO", "Para avisos envie ALTA."),
])
def test_an_sms_promises_reminders_only_to_a_phone_that_gets_them(
    client: FlaskClient, db: Database, name: str, phone: str, command: str, tail: str
) -> None:
    text = reply_to(client, db, phone, command)
    assert "fue hasta el 24/10/2026" in text and text.endswith(tail), text
    assert "Le avisaremos" not in text


def test_no_settlement_by_sms(client: FlaskClient, db: Database) -> None:
    own = reply_to(client, db, phone_of("nothing"), "PAGO")
    assert own == "Mi Juntos: aun no hay cronograma de pago para su hogar. Le avisaremos por SMS."
    other = reply_to(client, db, ELSEWHERE, " ".join(dni_and_dob("nothing")))
    assert "Le avisaremos" not in other and "opcion 4" in other


class TestWithTheNextPeriodScheduled:
    @pytest.fixture
    def client(self, app: Flask, db: Database) -> FlaskClient:
        seed_stale(db, next_period=True)
        return app.test_client()

    def test_an_operation_ending_today_is_still_the_next_payment(
        self, client: FlaskClient, db: Database
    ) -> None:
        text_in(client, phone_of("today"), "PAGO")
        with db.session() as s:
            text = s.scalars(select(OutboxMessage.text)).one()
        assert text.startswith("Mi Juntos: pago 2026-6 del 30/11 al 02/12/2026"), text
        assert "Agencia BN Paita" in text and "Lleve DNI" in text

    def test_the_newer_programado_ahead_is_the_one_named(
        self, client: FlaskClient, db: Database
    ) -> None:
        text_in(client, phone_of("ahead"), "PAGO")
        with db.session() as s:
            text = s.scalars(select(OutboxMessage.text)).one()
        assert "pago 2026-6 del 20/12 al 22/12/2026" in text and "Agencia BN Talara" in text

    def test_a_newer_period_without_her_settlement_is_named(
        self, client: FlaskClient, db: Database
    ) -> None:
        text = reply_to(client, db, phone_of("over"), "PAGO")
        assert "fue hasta el 24/10/2026" in text and "Su pago 2026-6 aun no figura." in text, text
