"""A reminder wave for tests: plan with the real planner, send with a real rq worker.

The worker runs the real dispatcher at a pinned instant (the seed's pay dates are in December
2026; the real calendar moves on), through the real SDK to the stand-in provider over HTTP.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis as redis_lib
from mijuntos_dev.fake_at import FakeAT
from rq import Queue, Worker
from sqlalchemy import Engine, event, select, update

from core.catalogs import load_catalog
from core.settings import Settings
from models import Database, OutboxMessage, Settlement
from models.base import LIMA
from workers.context import WorkerContext, configure, current
from workers.dispatch import Dispatcher
from workers.planner import PlanReport, plan_reminders

CATALOG = load_catalog()
HELD = "held-run"  # the thread whose run is held after it read the outbox


def at(text: str) -> dt.datetime:
    """An instant written in Lima time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=LIMA)


def dispatch_at(instant: str) -> str:
    """rq job: the real dispatcher, with its clock pinned at `instant`."""
    now = dt.datetime.fromisoformat(instant)
    return Dispatcher(current(), now=lambda: now).run(budget_seconds=30).line()


@dataclass
class Wave:
    db: Database
    ctx: WorkerContext
    fake: FakeAT
    settings: Settings
    redis: redis_lib.Redis

    def plan(self, now: dt.datetime) -> PlanReport:
        return plan_reminders(self.db, CATALOG, self.settings, now=now)

    def send(self, now: dt.datetime) -> str:
        """One dispatch job run by a real rq worker (burst); its report line."""
        queue = Queue("sms", connection=self.redis)
        job = queue.enqueue(dispatch_at, now.isoformat())
        Worker([queue], connection=self.redis).work(burst=True)
        result = job.latest_result()
        assert result is not None and result.return_value, result
        return str(result.return_value)

    def rows(self, **where: object) -> list[OutboxMessage]:
        with self.db.session() as s:
            stmt = select(OutboxMessage).where(OutboxMessage.kind.is_not(None))
            for col, value in where.items():
                stmt = stmt.where(getattr(OutboxMessage, col) == value)
            return list(s.scalars(stmt.order_by(OutboxMessage.id)))

    def texts_to(self, phone: str) -> list[str]:
        """Every SMS the provider took for `phone`, in order."""
        return [m["message"] for m in self.fake.messages
                for n in m["recipients"] if n["number"] == phone]

    def settle(self, hogar_id: str, **values: object) -> None:
        """A re-import changed the household's 2026-6 settlement."""
        with self.db.session() as s:
            s.execute(update(Settlement).where(Settlement.hogar_id == hogar_id,
                                               Settlement.periodo == "2026-6").values(**values))


@pytest.fixture
def wave(settings: Settings, seeded: Database, redis: redis_lib.Redis, redis_url: str) -> Iterator[Wave]:
    with FakeAT.running(dlr_delay=0.01) as fake:
        configured = settings.with_(at_base_url=fake.root_url, at_api_key="k")
        ctx = configure(configured, redis_url)
        yield Wave(seeded, ctx, fake, configured, redis)
        ctx.db.dispose()


@contextmanager
def held_after_reading_outbox(
    engine: Engine, reading: str = "outbox", nth: int = 1,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold the `HELD` thread right after its `nth` statement with `reading` in it (by default
    its first on the outbox), until `go` is set."""
    reached, go = threading.Event(), threading.Event()
    seen = 0

    def hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal seen
        if threading.current_thread().name == HELD and reading in statement and not reached.is_set():
            seen += 1
            if seen == nth:
                reached.set()
                go.wait(30)

    event.listen(engine, "after_cursor_execute", hold)
    try:
        yield reached, go
    finally:
        go.set()
        event.remove(engine, "after_cursor_execute", hold)


def in_thread(target: Callable[[], object], name: str = "") -> threading.Thread:
    thread = threading.Thread(target=target, name=name or None, daemon=True)
    thread.start()
    return thread
