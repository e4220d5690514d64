"""A full scenario, then every log line, every table and every Redis key and value is scanned for
the fixture DNIs, birth dates and phone numbers in clear."""

from __future__ import annotations

import datetime as dt
import logging

import redis as redis_lib
from flask import Flask
from mijuntos_dev.fake_at import FakeAT
from sqlalchemy import select

from core.backlog import REDIS_KEY
from core.logs import ScrubbingFormatter
from core.settings import Settings
from gateway.app import create_app
from models import Base, Database, OutboxMessage
from tests.support import (
    GESTOR_PHONE,
    JUANA,
    ROSA,
    ROSA_PHONE,
    SHARED_PHONE,
    STRANGER_PHONE,
    Phone,
    seed_gestores,
)
from workers.retention import PURGED, purge

CARMEN = ("55500001", "04031992")  # a titular of the shared phone, consulted by the gestor
SECRETS = [ROSA["dni"], JUANA["dni"], ROSA["dob"], JUANA["dob"], "1990-08-25", "1985-01-02",
           *CARMEN, "1992-03-04"]
GIVEN_PHONE = "+51955444333"  # the number a titular gives a gestor (her new phone of record)
PHONES = [ROSA_PHONE, STRANGER_PHONE, SHARED_PHONE, GESTOR_PHONE, GIVEN_PHONE]
# Tables that must hold personal data to do their job: the padron itself (household), the
# opt-out list (a phone's own request to get nothing, honoured by number), and the staff list
# (gestor: a gestor's registered phone is what opens the assisted mode, as gestores.csv gives it).
EXEMPT = {"household", "sms_optout", "gestor"}


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
    # A voice call: a stranger's DNI and dates on the keypad (a wrong one first), each option.
    from mijuntos_dev.fake_voice import inbound_call

    inbound_call("http://localhost/voice", STRANGER_PHONE,
                 [ROSA["dni"], "01011999", ROSA["dob"], "1", "0", "2", "0", "3", "0", "0"],
                 client=client)
    # A gestor at a Tambo: a wrong date, two titulares, a summary SMS, a new phone of record.
    seed_gestores(app.extensions["mijuntos"].db)
    gestor = Phone(client, GESTOR_PHONE)
    gestor.dial()
    for value in ("2", "0", "1", JUANA["dni"], "01011998", JUANA["dob"], "1", "00", "7", "00",
                  "1", CARMEN[0], CARMEN[1], "7", "00", "1", ROSA["dni"], ROSA["dob"], "4", "1",
                  GIVEN_PHONE[3:], GIVEN_PHONE[3:], "00", "0"):
        gestor.send(value)


def send_and_report(app: Flask, settings: Settings, redis: redis_lib.Redis, redis_url: str,
                    fake: FakeAT) -> None:
    """What follows the hops: a callback parked during a database outage and replayed, the
    replies sent by a real rq worker (in-process, so its log lines are captured), a reminder
    wave planned and dispatched, and every message's delivery report posted back."""
    from rq import Queue, SimpleWorker

    from core.catalogs import load_catalog
    from gateway.inbound import replay_parked
    from workers.context import configure
    from workers.dispatch import Dispatcher
    from workers.planner import plan_reminders

    down = create_app(settings.with_(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none"))
    parked = down.test_client().post("/sms/inbound", data={
        "id": "scan-parked", "from": STRANGER_PHONE, "text": f"{JUANA['dni']} {JUANA['dob']} ESTADO"})
    assert parked.status_code == 200 and redis.llen(REDIS_KEY) == 1
    down.extensions["mijuntos"].close()
    assert replay_parked(app.extensions["mijuntos"]) == 1
    ctx = configure(settings, redis_url)
    SimpleWorker([Queue("sms", connection=redis)], connection=redis).work(burst=True)
    lima = dt.timezone(dt.timedelta(hours=-5))
    plan_reminders(seeded_db(app), load_catalog(), settings,
                   now=dt.datetime(2026, 12, 9, 9, 0, tzinfo=lima))
    Dispatcher(ctx, now=lambda: dt.datetime(2026, 12, 9, 9, 30, tzinfo=lima)).run(budget_seconds=30)
    # Days later the operations have opened: what was planned and not sent is expired.
    Dispatcher(ctx, now=lambda: dt.datetime(2026, 12, 20, 9, 0, tzinfo=lima)).run(budget_seconds=30)
    client = app.test_client()
    for message in fake.messages:
        for r in message["recipients"]:
            if r["messageId"] != "None":
                client.post("/sms/delivery", data={"id": r["messageId"], "status": "Success",
                                                   "phoneNumber": r["number"], "networkCode": "71610"})
    ctx.db.dispose()


def seeded_db(app: Flask) -> Database:
    return app.extensions["mijuntos"].db


def test_nothing_personal_is_left_in_clear(settings: Settings, seeded: Database, redis: redis_lib.Redis,
                                            redis_url: str, caplog) -> None:
    formatter = ScrubbingFormatter("%(name)s %(message)s")
    with FakeAT.running() as fake:
        sending = settings.with_(at_base_url=fake.root_url, at_api_key="k")
        app = create_app(sending)
        with caplog.at_level(logging.DEBUG):
            scenario(app)
            send_and_report(app, sending, redis, redis_url, fake)
        app.extensions["mijuntos"].close()
    with seeded.session() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        summaries = [r for r in rows if (r.dedupe_key or "").startswith("summary:")]
        replies = [r for r in rows if r.purpose == "reply" and r not in summaries]
        assert len(replies) == 6  # one per inbound SMS, the parked one included
        assert len(summaries) == 1  # the gestor's
        assert any(r.kind == "reminder" for r in rows) and any(r.kind == "notice" for r in rows)
        sent = [r for r in rows if r.status in ("submitted", "delivered")]
        assert sent and all(r.status == "delivered" for r in sent)  # the reports came back
    # 91 days after the wave (planned and sent on 2026-12-09 by the scenario's clock).
    purge(seeded, days=90, now=dt.datetime(2026, 12, 9, tzinfo=dt.UTC) + dt.timedelta(days=91))
    logs = "\n".join(formatter.format(r) for r in caplog.records)
    assert "ussd hop" in logs and "inbound sms" in logs and "voice call ended" in logs
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
