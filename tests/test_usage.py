"""Usage records staged on Redis by the hops and moved into `query` exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import redis as redis_lib
from sqlalchemy import func, select, update

from core import usage_stream as usage
from models import Database, Query, UsageCursor
from workers.usage import backlog, drain_usage

pytestmark = pytest.mark.usefixtures("redis")


def stage(client: redis_lib.Redis, count: int, kind: str = "status") -> None:
    pipe = client.pipeline(transaction=True)
    now = dt.datetime.now(dt.UTC)
    usage.stage(pipe, [
        {"created_at": now, "channel": "ussd", "kind": kind, "outcome": "programado",
         "hogar_id": f"H{i:07d}", "unidad_territorial": "PIURA", "periodo": None}
        for i in range(count)
    ])
    pipe.execute()


def rows(db: Database) -> list[tuple[str, str | None, str | None]]:
    with db.session() as s:
        return [(q.hogar_id or "", q.unidad_territorial, q.periodo)
                for q in s.scalars(select(Query).order_by(Query.id))]


def test_records_move_once_in_batches(db: Database, redis: redis_lib.Redis) -> None:
    stage(redis, 7)
    assert backlog(redis) == 7
    assert drain_usage(db, redis, batch=3) == 7
    assert drain_usage(db, redis, batch=3) == 0
    got = rows(db)
    assert [h for h, _, _ in got] == [f"H{i:07d}" for i in range(7)]
    assert got[0][1:] == ("PIURA", None)  # an absent periodo comes back as NULL, not ""
    assert backlog(redis) == 0
    with db.session() as s:
        created = s.scalar(select(Query.created_at))
    assert created is not None and created.tzinfo is not None


def test_a_bounded_drain_leaves_the_rest_for_the_next(db: Database, redis: redis_lib.Redis) -> None:
    stage(redis, 10)
    assert drain_usage(db, redis, batch=3, max_batches=2) == 6
    assert backlog(redis) == 4
    assert drain_usage(db, redis, batch=3) == 4
    assert [h for h, _, _ in rows(db)] == [f"H{i:07d}" for i in range(10)]


def test_two_drains_at_once_move_each_record_once(db: Database, redis: redis_lib.Redis,
                                                  redis_url: str) -> None:
    stage(redis, 400)
    moved: list[int] = []

    def drain() -> None:
        client = redis_lib.Redis.from_url(redis_url)
        moved.append(drain_usage(db, client, batch=25))
        client.close()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(moved) == 400
    assert len(rows(db)) == 400 and len({h for h, _, _ in rows(db)}) == 400


class TrimFails(redis_lib.Redis):
    """A real client to the real server whose trims fail: a drain killed after its commit."""

    def xtrim(self, *args: object, **kwargs: object) -> int:  # type: ignore[override]
        raise redis_lib.ConnectionError("killed before the trim")


def test_a_drain_that_dies_before_its_trim_repeats_nothing(
    db: Database, redis: redis_lib.Redis, redis_url: str
) -> None:
    stage(redis, 5)
    dying = TrimFails.from_url(redis_url)
    with pytest.raises(redis_lib.ConnectionError):
        drain_usage(db, dying)
    dying.close()
    assert len(rows(db)) == 5 and backlog(redis) == 5  # committed, not trimmed
    stage(redis, 2, kind="pay")
    assert drain_usage(db, redis) == 2
    assert drain_usage(db, redis) == 0
    assert len(rows(db)) == 7 and backlog(redis) == 0


def test_a_stream_made_anew_below_the_cursor_is_still_moved(
    db: Database, redis: redis_lib.Redis
) -> None:
    # Redis lost its data and its new stream's ids are behind the cursor (a clock behind).
    drain_usage(db, redis)  # makes the cursor row if the schema has none
    with db.session() as s:
        s.execute(update(UsageCursor).values(last_id=f"{2**50}-0"))
    stage(redis, 3)
    assert drain_usage(db, redis) == 3
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Query)) == 3
    assert backlog(redis) == 0


def test_the_scheduled_job_moves_a_sessions_lookups_on_a_real_worker(
    app, seeded: Database, settings, redis: redis_lib.Redis, redis_url: str
) -> None:
    from rq import Queue, Worker

    from tests.support import ROSA_PHONE, Phone
    from workers.context import configure
    from workers.usage import usage_job

    phone = Phone(app.test_client(), ROSA_PHONE)
    phone.dial()
    phone.send("1")
    assert backlog(redis) == 2 and rows(seeded) == []  # the hops wrote nothing to the database
    configure(settings, redis_url)
    queue = Queue("sms", connection=redis)
    job = queue.enqueue(usage_job)
    Worker([queue], connection=redis).work(burst=True)
    result = job.latest_result()
    assert result is not None and result.return_value == 2
    with seeded.session() as s:
        got = [(q.channel, q.kind, q.outcome) for q in s.scalars(select(Query).order_by(Query.id))]
    assert got == [("ussd", "verify", "ok_phone"), ("ussd", "next_payment", "programado")]
    assert backlog(redis) == 0


def test_an_over_long_value_is_cut_not_a_batch_that_never_moves(db: Database, redis: redis_lib.Redis) -> None:
    """PostgreSQL refuses a value longer than its column: one such record would fail its whole
    batch at every drain, and nothing would move any more."""
    pipe = redis.pipeline()
    usage.stage(pipe, [{"created_at": dt.datetime(2026, 11, 27, tzinfo=dt.UTC), "channel": "simulator",
                        "kind": "next_payment", "outcome": "x" * 40, "unidad_territorial": "U" * 60}])
    pipe.execute()
    stage(redis, 3)
    assert drain_usage(db, redis) == 4
    with db.session() as s:
        first = s.scalars(select(Query).order_by(Query.id)).first()
    assert first is not None
    assert (first.channel, len(first.outcome), len(first.unidad_territorial or "")) == ("simulato", 24, 40)
