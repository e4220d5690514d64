"""Properties over random input: never a crash, always CON/END within 182 GSM-7 characters."""

from __future__ import annotations

import itertools

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.gsm import is_gsm7
from models import Database
from tests.support import JUANA, ROSA, ROSA_PHONE, STRANGER_PHONE

_sessions = itertools.count(1)

MENU_WORDS = ["", "0", "00", "1", "2", "3", "4", "5", "98", "99", "9", JUANA["dni"], JUANA["dob"],
              ROSA["dni"], ROSA["dob"], "01011999", "12345678", "*", "#", "1*2", "abc", " 1 "]
ANY_INPUT = st.one_of(
    st.sampled_from(MENU_WORDS),
    st.text(max_size=40),
    st.text(alphabet="0123456789*#", max_size=20),
)


def hop(client, session_id: str, phone: str, text: str) -> str:
    response = client.post("/ussd", data={"sessionId": session_id, "serviceCode": "*1880#",
                                          "phoneNumber": phone, "networkCode": "71610", "text": text})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    assert body[:4] in ("CON ", "END "), body
    assert len(body) - 4 <= 182, body
    assert is_gsm7(body[4:]), body
    return body


@pytest.fixture
def client(app: Flask, seeded: Database, db: Database):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("random walks run once, on SQLite; the transcripts cover PostgreSQL")
    return app.test_client()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    phone=st.sampled_from([ROSA_PHONE, STRANGER_PHONE, "+51900000001"]),
    inputs=st.lists(ANY_INPUT, max_size=12),
    resend_every=st.integers(min_value=2, max_value=6),
)
def test_any_walk_gets_a_valid_screen_and_no_data_before_verification(
    client, phone: str, inputs: list[str], resend_every: int
) -> None:
    session = f"prop{next(_sessions)}"
    text_so_far: list[str] = []
    verified = phone == ROSA_PHONE
    body = hop(client, session, phone, "")
    for i, value in enumerate(inputs):
        text_so_far.append(value)
        body = hop(client, session, phone, "*".join(text_so_far))
        if i % resend_every == 0:
            assert hop(client, session, phone, "*".join(text_so_far)) == body
        if "Hola " in body:
            verified = True
        if not verified:
            for private in ("Juana", "Rosa", "salud", "Monto", "Pago 2026", "Agencia"):
                assert private not in body, (inputs, body)
        if body.startswith("END "):
            break


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_a_first_hop_with_any_text_is_answered(client, text: str) -> None:
    hop(client, f"first{next(_sessions)}", STRANGER_PHONE, text[:500])
