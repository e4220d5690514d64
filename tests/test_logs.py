"""No log line carries a DNI, a phone number or a date of birth in clear."""

from __future__ import annotations

import logging

from flask import Flask

from core.logs import ScrubbingFormatter, scrub
from models import Database
from tests.support import JUANA, ROSA_PHONE, STRANGER_PHONE, Phone


def test_scrub_masks_dnis_phones_and_dates_but_not_timestamps() -> None:
    line = "2026-11-27 13:00:53,535 dni=01234567 phone=+51 987 654 321 dob 25081990 [('40123456',)]"
    out = scrub(line)
    for secret in ("01234567", "987 654 321", "987654321", "25081990", "40123456"):
        assert secret not in out
    assert out.startswith("2026-11-27 13:00:53,535")
    assert "******67" in out


def test_scrub_keeps_message_ids_and_worker_names_whole() -> None:
    ids = "id=ATXid_0a12345678904b06b6cc32ad180a0208 worker 0ddde12345678f6babb220f10d94c2f5"
    assert scrub(ids) == ids
    # a DNI or phone next to such a token is still masked
    out = scrub("ATXid_0a12345678904b06b6cc32ad180a0208 to 987654321 dni 40123456ab")
    assert "987654321" not in out and "40123456" not in out
    assert "51987654321" not in scrub("to=51987654321deadbeefcafe00")  # not an id's shape


def test_a_traceback_with_sql_parameters_is_scrubbed() -> None:
    formatter = ScrubbingFormatter("%(message)s")
    try:
        raise RuntimeError("[SQL: SELECT ... WHERE dni = ?] [parameters: ('40123456',)]")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    assert "40123456" not in formatter.format(record)


def test_a_whole_session_logs_nothing_personal(app: Flask, seeded: Database, caplog) -> None:
    formatter = ScrubbingFormatter("%(message)s")
    with caplog.at_level(logging.DEBUG):
        phone = Phone(app.test_client(), STRANGER_PHONE)
        phone.dial()
        phone.send(JUANA["dni"])
        phone.send("01011999")
        phone.send(JUANA["dob"])
        phone.send("1")
        Phone(app.test_client(), ROSA_PHONE).dial()
    lines = [formatter.format(r) for r in caplog.records]
    assert any("ussd hop" in line for line in lines)
    text = "\n".join(lines)
    for secret in (JUANA["dni"], JUANA["dob"], "955555555", "987654321", "Juana", "JUANA"):
        assert secret not in text


def test_a_database_error_carries_no_row_values(db: Database) -> None:
    """An error's text (logged with its traceback) shows the statement, not the values."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from models import OutboxMessage

    secret = "no hay pago por corresponsabilidades 40123456"
    row = {"recipient": "+51987654321", "text": secret, "encoding": "gsm7", "segments": 1,
           "purpose": "reply", "dedupe_key": "same"}
    with pytest.raises(IntegrityError) as exc:
        with db.session() as s:
            s.add(OutboxMessage(**row))
            s.add(OutboxMessage(**row))
    assert "hidden due to hide_parameters" in str(exc.value)
    assert secret not in str(exc.value) and "987654321" not in str(exc.value)
