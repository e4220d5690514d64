"""Hostile or broken callbacks: a clear 4xx or a polite END, and nothing written that should not be."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from models import Database, InboundSms, OutboxMessage, Query
from tests.support import ROSA_PHONE, STRANGER_PHONE

PAYLOADS = [
    "' OR 1=1 --", "1; DROP TABLE household; --", "%s%s%s%n", "{0.__class__}", "{helpline}",
    "${jndi:ldap://x}", "<script>alert(1)</script>", "\x00\x01\x02", "*" * 400, "1" * 499,
    "ÁÉÍÓÚ ñ 😀 中文",
]


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
                s.scalar(select(func.count()).select_from(InboundSms)) or 0,
                s.scalar(select(func.count()).select_from(Query)) or 0)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_ussd_payloads_get_a_polite_screen(app: Flask, seeded: Database, payload: str) -> None:
    client = app.test_client()
    for n, text in enumerate(["", payload]):
        response = client.post("/ussd", data={"sessionId": "evil1", "phoneNumber": STRANGER_PHONE,
                                              "serviceCode": "*1880#", "text": text})
        assert response.status_code == 200, n
        body = response.get_data(as_text=True)
        assert body.startswith(("CON ", "END ")) and len(body) <= 186
        assert "Traceback" not in body and "{" not in body
    with seeded.session() as s:  # the tables are all still there
        assert s.scalar(select(func.count()).select_from(Query)) is not None


def test_invalid_utf8_is_answered_not_crashed(app: Flask, seeded: Database) -> None:
    client = app.test_client()
    raw = b"sessionId=bad1&phoneNumber=%2B51987654321&serviceCode=x&text=%ff%fe%fa"
    response = client.post("/ussd", data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400)
    body = response.get_data(as_text=True)
    assert body.startswith(("CON ", "END ", "bad request"))
    sms = b"id=u1&from=%2B51987654321&text=%ff%fe"
    response = client.post("/sms/inbound", data=sms, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sms_payloads_get_a_fixed_text(app: Flask, seeded: Database, payload: str) -> None:
    client = app.test_client()
    response = client.post("/sms/inbound", data={"id": "evil", "from": ROSA_PHONE, "text": payload})
    assert response.status_code == 200
    with seeded.session() as s:
        [reply] = s.scalars(select(OutboxMessage)).all()
    assert reply.text.startswith("Mi Juntos: ")  # help, or the DNI hint for a long number
    assert payload.strip() not in reply.text  # never echoed back


@pytest.mark.parametrize("path, form, reason", [
    ("/sms/inbound", {"id": "x" * 65, "from": ROSA_PHONE}, "id: longer than"),
    ("/sms/inbound", {"id": "x", "from": "+51 ' OR 1=1"}, "from: not a phone number"),
    ("/sms/delivery", {"id": "m", "status": "Success'; --"}, "status: unknown value"),
    ("/sms/optout", {"phoneNumber": "%s%s%n"}, "phoneNumber: not a phone number"),
    ("/ussd/events", {"sessionId": "s", "status": "{0}"}, "status: unknown value"),
    ("/ussd", {"sessionId": "s", "phoneNumber": ROSA_PHONE, "text": "1*" * 300}, "text: longer than"),
    # NUL: PostgreSQL refuses it in text; such a callback must not be parked as if the database
    # were down (its replay could never succeed).
    ("/sms/inbound", {"id": "a\x00b", "from": ROSA_PHONE, "text": "PAGO"}, "id: control characters"),
    ("/sms/inbound", {"id": "a", "from": ROSA_PHONE, "linkId": "l\x00", "text": "PAGO"},
     "linkId: control characters"),
    ("/sms/delivery", {"id": "x\x00y", "status": "Success"}, "id: control characters"),
    ("/sms/delivery", {"id": "m", "status": "Success", "networkCode": "6\x00"},
     "networkCode: control characters"),
    ("/ussd/events", {"sessionId": "s", "status": "Success", "errorMessage": "\x07"},
     "errorMessage: control characters"),
])
def test_malformed_callbacks_get_400_with_a_reason(app: Flask, seeded: Database, path, form,
                                                  reason: str) -> None:
    before = counts(seeded)
    response = app.test_client().post(path, data=form)
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    assert counts(seeded) == before


@pytest.mark.parametrize("path, form", [
    ("/ussd", {"sessionId": "nul1", "phoneNumber": ROSA_PHONE, "serviceCode": "*1880#", "text": "1\x00"}),
    ("/sms/inbound", {"id": "nul2", "from": ROSA_PHONE, "text": "PA\x00GO\x1b"}),
])
def test_control_characters_in_what_a_person_typed_are_dropped(app: Flask, seeded: Database,
                                                                path: str, form) -> None:
    response = app.test_client().post(path, data=form)
    assert response.status_code == 200
    with seeded.session() as s:
        stored = [r.text for r in s.scalars(select(OutboxMessage))]
    if path == "/sms/inbound":  # answered as PAGO, stored without a NUL (PostgreSQL would refuse it)
        assert len(stored) == 1 and "pago" in stored[0].lower()
    else:
        assert response.get_data(as_text=True).startswith("CON ")


@pytest.mark.parametrize("path", ["/sms/inbound", "/sms/delivery", "/sms/optout", "/ussd/events"])
def test_a_callback_that_is_not_a_form_gets_415(app: Flask, seeded: Database, path: str) -> None:
    before = counts(seeded)
    response = app.test_client().post(path, json={"id": "j1", "from": ROSA_PHONE, "text": "PAGO"})
    assert response.status_code == 415 and "form fields expected" in response.get_data(as_text=True)
    assert counts(seeded) == before


def test_wrong_method_and_unknown_paths_are_4xx(app: Flask) -> None:
    client = app.test_client()
    wrong = client.get("/ussd")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert client.post("/nothing-here").status_code == 404


def test_a_hop_that_is_not_a_form_or_too_big_gets_a_4xx(app: Flask, seeded: Database) -> None:
    client = app.test_client()
    before = counts(seeded)
    as_json = client.post("/ussd", json={"sessionId": "s1", "phoneNumber": ROSA_PHONE})
    assert as_json.status_code == 415 and "form fields expected" in as_json.get_data(as_text=True)
    huge = client.post("/ussd", data="sessionId=s1&text=" + "1" * 20_000,
                       content_type="application/x-www-form-urlencoded")
    assert huge.status_code == 413 and "body over" in huge.get_data(as_text=True)
    assert counts(seeded) == before


def test_a_hop_keeps_the_aggregator_request_id_on_its_log_line(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from core.logs import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level("DEBUG", logger="mijuntos.ussd")
    reply = app.test_client().post(
        "/ussd", data={"sessionId": "rid1", "phoneNumber": ROSA_PHONE, "text": ""},
        headers={"X-Request-Id": "at-req-42"})
    assert reply.status_code == 200 and reply.headers["X-Request-Id"] == "at-req-42"
    hop_lines = [r for r in caplog.records if r.getMessage().startswith("ussd hop session=rid1")]
    assert [getattr(r, "request_id", None) for r in hop_lines] == ["at-req-42"]
