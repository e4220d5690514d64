"""The browser simulator runs the real dialog, but its lookups are not the programme's usage."""

from __future__ import annotations

import redis as redis_lib
from flask import Flask
from sqlalchemy import select

from models import Database, Query
from tests.support import ROSA_PHONE, Phone, simulator_token
from workers.usage import drain_usage


def test_simulator_lookups_are_recorded_apart_from_real_ussd(app: Flask, seeded: Database,
                                                            redis: redis_lib.Redis) -> None:
    client = app.test_client()
    token = {"X-CSRFToken": simulator_token(client)}
    for text in ("", "1"):
        reply = client.post("/simulator/hop", data={"sessionId": "sim9", "phoneNumber": ROSA_PHONE,
                                                    "text": text}, headers=token).get_data(as_text=True)
    assert "Agencia BN Chulucanas" in reply
    phone = Phone(client, ROSA_PHONE)
    assert "1 Continuar" in phone.dial()  # the same phone, within minutes: resume offered
    assert "Hola Rosa" in phone.send("2")  # start over
    assert "Agencia BN Chulucanas" in phone.send("1")
    drain_usage(seeded, redis)
    with seeded.session() as s:
        channels = sorted(s.scalars(select(Query.channel).where(Query.kind == "next_payment")))
    assert channels == ["sim", "ussd"]
