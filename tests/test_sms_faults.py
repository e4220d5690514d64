"""SMS callbacks while the database or Redis is down: answered, parked, replayed: nothing lost."""

from __future__ import annotations

import redis as redis_lib
from rq import Queue
from sqlalchemy import select

from core.backlog import REDIS_KEY
from core.settings import Settings
from gateway.app import create_app
from gateway.inbound import replay_parked
from models import Database, OutboxMessage, ParkedCallback
from tests.support import JUANA, ROSA_PHONE, STRANGER_PHONE
from workers.context import configure

DB_DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/none"
REDIS_DOWN = "redis://127.0.0.1:1/0"


def inbound(app, sms_id: str, phone: str, text: str) -> tuple[int, str]:
    response = app.test_client().post("/sms/inbound", data={"id": sms_id, "from": phone, "text": text})
    return response.status_code, response.get_data(as_text=True)


def replies(db: Database) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_database_down_parks_in_redis_then_replays(settings: Settings, seeded: Database,
                                                    redis: redis_lib.Redis) -> None:
    down = create_app(settings.with_(database_url=DB_DOWN))
    assert inbound(down, "f1", STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']}") == (200, "OK (queued)")
    dlr = down.test_client().post("/sms/delivery", data={"id": "ATXid_x", "status": "Success"})
    assert dlr.status_code == 200
    assert redis.llen(REDIS_KEY) == 2
    assert replies(seeded) == []
    back = create_app(settings)
    assert replay_parked(back.extensions["mijuntos"]) == 2
    [reply] = replies(seeded)
    assert "no hay pago" in reply.text and reply.recipient == STRANGER_PHONE
    assert redis.llen(REDIS_KEY) == 0
    assert Queue("sms", connection=redis).job_ids == [f"sms-{reply.id}"]
    assert replay_parked(back.extensions["mijuntos"]) == 0  # replayed once


def test_redis_down_stores_the_reply_and_queues_it_later(settings: Settings, seeded: Database,
                                                         redis: redis_lib.Redis,
                                                         redis_url: str) -> None:
    from workers.jobs import requeue_job

    down = create_app(settings.with_(redis_url=REDIS_DOWN))
    status, body = inbound(down, "f2", ROSA_PHONE, "PAGO")
    assert status == 200
    [reply] = replies(seeded)
    assert reply.status == "pending" and "Agencia BN Chulucanas" in reply.text
    assert Queue("sms", connection=redis).job_ids == []
    configure(settings, redis_url)
    assert requeue_job(older_than=0) == "requeued 1 replies"
    assert Queue("sms", connection=redis).job_ids == [f"sms-{reply.id}"]


def test_redis_down_during_verification_parks_in_the_database(
    settings: Settings, seeded: Database, redis: redis_lib.Redis
) -> None:
    down = create_app(settings.with_(redis_url=REDIS_DOWN))
    assert inbound(down, "f3", STRANGER_PHONE, f"{JUANA['dni']} {JUANA['dob']}") == (200, "OK (queued)")
    with seeded.session() as s:
        assert len(s.scalars(select(ParkedCallback)).all()) == 1
    assert replies(seeded) == []
    assert replay_parked(create_app(settings).extensions["mijuntos"]) == 1
    assert "no hay pago" in replies(seeded)[0].text
    with seeded.session() as s:
        assert s.scalars(select(ParkedCallback)).all() == []


def test_both_down_asks_the_aggregator_to_resend(settings: Settings) -> None:
    down = create_app(settings.with_(redis_url=REDIS_DOWN, database_url=DB_DOWN))
    assert inbound(down, "f4", ROSA_PHONE, "PAGO")[0] == 503


def test_a_callback_that_can_never_replay_is_set_aside_not_blocking(
    settings: Settings, seeded: Database, redis: redis_lib.Redis
) -> None:
    """One unreplayable parked callback (in Redis and in the database) must not hold back the
    good ones parked after it; it is kept aside, the replay goes on."""
    import datetime as dt
    import json

    from core.backlog import REJECTED_KEY
    from models.base import utcnow
    from workers.retention import purge

    bad = json.dumps({"kind": "inbound", "form": {"id": "b1", "from": "not a phone"}, "at": "x"})
    good = json.dumps({"kind": "inbound", "form": {"id": "g1", "from": ROSA_PHONE, "text": "PAGO"},
                       "at": "x"})
    redis.rpush(REDIS_KEY, bad, good)
    with seeded.session() as s:
        s.add(ParkedCallback(kind="delivery", payload=json.dumps({"kind": "delivery", "form": {}})))
        s.add(ParkedCallback(kind="inbound", payload=json.dumps(
            {"kind": "inbound", "form": {"id": "g2", "from": STRANGER_PHONE, "text": "AYUDA"}})))
    services = create_app(settings).extensions["mijuntos"]
    assert replay_parked(services) == 2
    assert sorted(r.recipient for r in replies(seeded)) == sorted([ROSA_PHONE, STRANGER_PHONE])
    assert redis.llen(REDIS_KEY) == 0 and redis.lrange(REJECTED_KEY, 0, -1) == [bad.encode()]
    with seeded.session() as s:
        assert [p.kind for p in s.scalars(select(ParkedCallback))] == ["x:delivery"]
    assert replay_parked(services) == 0  # set aside for good, not retried every minute
    # A week later the retention job drops it (it may hold what someone typed).
    purge(seeded, 90, now=utcnow() + dt.timedelta(days=8))
    with seeded.session() as s:
        assert s.scalars(select(ParkedCallback)).all() == []
