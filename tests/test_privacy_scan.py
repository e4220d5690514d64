"""A full scenario, then every log line, every table and every Redis key and value is scanned for
the fixture DNIs, birth dates and phone numbers in clear."""

from __future__ import annotations

import datetime as dt
import logging

import redis as redis_lib
from flask import Flask
from sqlalchemy import select

from gateway.logs import ScrubbingFormatter
from models import Base, Database, OutboxMessage
from tests.support import JUANA, ROSA, ROSA_PHONE, SHARED_PHONE, STRANGER_PHONE, Phone
from workers.retention import PURGED, purge

SECRETS = [ROSA["dni"], JUANA["dni"], ROSA["dob"], JUANA["dob"], "1990-08-25", "1985-01-02"]
PHONES = [ROSA_PHONE, STRANGER_PHONE, SHARED_PHONE]
# Tables that must hold personal data to do their job: the padron itself (household), and the
# opt-out list (a phone's own request to get nothing, honoured by number).
EXEMPT = {"household", "sms_optout"}


def digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def scenario(app: Flask) -> None:
    client = app.test_client()
    stranger = Phone(client, STRANGER_PHONE)
    stranger.dial()
    stranger.send(JUANA["dni"])
    stranger.send("01011999")
    stranger.send(JUANA["dob"])
    for option in ("1", "00", "2", "98", "00", "3", "00", "4", "1"):
        stranger.send(option)
    rosa = Phone(client, ROSA_PHONE)
    rosa.dial()
    rosa.send("5")
    rosa.send("2")
    for n, text in enumerate(["PAGO", f"{ROSA['dni']} {ROSA['dob']} ESTADO", "BAJA", "hola"]):
        client.post("/sms/inbound", data={"id": f"scan{n}", "from": ROSA_PHONE, "text": text})
    client.post("/sms/inbound", data={"id": "scan9", "from": STRANGER_PHONE,
                                      "text": f"{JUANA['dni']} {JUANA['dob']}"})


def test_nothing_personal_is_left_in_clear(app: Flask, seeded: Database, redis: redis_lib.Redis,
                                            caplog) -> None:
    formatter = ScrubbingFormatter("%(name)s %(message)s")
    with caplog.at_level(logging.DEBUG):
        scenario(app)
    with seeded.session() as s:
        replies = s.scalars(select(OutboxMessage)).all()
        assert len(replies) == 5  # one per inbound SMS
        for row in replies:
            row.status = "delivered"  # as the worker and the delivery reports leave them
    purge(seeded, days=90, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=91))
    logs = "\n".join(formatter.format(r) for r in caplog.records)
    assert "ussd hop" in logs and "inbound sms" in logs
    needles = SECRETS + [digits(p)[-9:] for p in PHONES]
    for needle in needles:
        assert needle not in logs, f"log holds {needle}"
    with seeded.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in EXEMPT:
                continue
            for record in conn.execute(table.select()):
                cells = " ".join(str(v) for v in record)
                for needle in needles:
                    assert needle not in cells, f"{table.name} holds {needle}: {cells}"
    with seeded.session() as s:
        texts = {m.text for m in s.scalars(select(OutboxMessage))}
    assert texts == {PURGED}
    for key in redis.keys("*"):
        blob = redis_blob(redis, key)
        for needle in needles:
            assert needle not in blob, f"redis {key!r} holds {needle}"


def redis_blob(client: redis_lib.Redis, key: bytes | str) -> str:
    """A key and everything stored under it, as text."""
    kind = client.type(key)
    parts: list[object] = [key]
    if kind == b"string":
        parts.append(client.get(key))
    elif kind == b"set":
        parts.extend(client.smembers(key))
    elif kind == b"list":
        parts.extend(client.lrange(key, 0, -1))
    elif kind == b"hash":
        parts.extend(client.hgetall(key).items())
    elif kind == b"zset":
        parts.extend(client.zrange(key, 0, -1))
    return " ".join(repr(p) for p in parts)


def test_recent_messages_are_kept_until_the_retention_ends(app: Flask, seeded: Database) -> None:
    app.test_client().post("/sms/inbound", data={"id": "r1", "from": ROSA_PHONE, "text": "PAGO"})
    assert purge(seeded, days=90) == 0  # queued, not sent: never purged
    with seeded.session() as s:
        row = s.scalars(select(OutboxMessage)).one()
        row.status = "delivered"
    assert purge(seeded, days=90) == 0  # sent today: kept
    assert purge(seeded, days=90, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=91)) == 1
    with seeded.session() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert (row.text, row.recipient) == (PURGED, "+51 9** *** 321")
