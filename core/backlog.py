"""Callbacks that arrive while the database or Redis is down are parked, answered 200, and
replayed when the part is back: the aggregator does not resend forever, and nothing is lost.

A parked inbound SMS holds its text (possibly a DNI and a date of birth) until it is replayed,
normally minutes; the replay deletes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from core.keys import key_for
from models import Database, ParkedCallback
from models.base import utcnow

log = logging.getLogger("mijuntos.backlog")
REDIS_KEY = key_for("backlog", "callbacks")
REJECTED_KEY = key_for("backlog", "rejected")  # parked callbacks that failed for good
REJECTED = "x:"  # a parked row's kind prefix once it failed for good
KEEP = 7 * 24 * 3600  # parked callbacks hold texts (maybe a DNI): purged after this


class ParkingFailed(Exception):
    """Neither Redis nor the database could take the callback."""


def park(client: redis.Redis, db: Database, kind: str, form: dict[str, str]) -> str:
    """Keep a callback for later, in Redis or, if Redis is down, in the database."""
    payload = json.dumps({"kind": kind, "form": form, "at": utcnow().isoformat()})
    try:
        pipe = client.pipeline(transaction=True)
        pipe.rpush(REDIS_KEY, payload)
        pipe.expire(REDIS_KEY, KEEP)
        pipe.execute()
        return "redis"
    except redis.RedisError:
        pass
    try:
        with db.session() as s:
            s.add(ParkedCallback(kind=kind, payload=payload, created_at=utcnow()))
        return "database"
    except Exception as exc:
        raise ParkingFailed(f"could not park a {kind} callback") from exc


def counts_in_redis(client: redis.Redis) -> dict[str, int]:
    """Parked callbacks in Redis: 'waiting' for the replay, 'set_aside' for good (two LLENs)."""
    pipe = client.pipeline(transaction=False)
    pipe.llen(REDIS_KEY)
    pipe.llen(REJECTED_KEY)
    waiting, set_aside = pipe.execute()
    return {"waiting": int(waiting), "set_aside": int(set_aside)}


def counts_in_database(session: Session) -> dict[str, int]:
    """Parked callbacks in the database, as `counts_in_redis` (one count of a small table)."""
    total, set_aside = session.execute(
        select(func.count(), func.count(case((ParkedCallback.kind.like(f"{REJECTED}%"), 1))))
        .select_from(ParkedCallback)
    ).one()
    return {"waiting": int(total) - int(set_aside), "set_aside": int(set_aside)}


Handler = Callable[[str, dict[str, str]], Any]


def _outage(exc: BaseException) -> bool:
    """The database or Redis is (still) down: the callback is fine, try it again later."""
    return isinstance(exc, (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)) \
        or bool(getattr(exc, "connection_invalidated", False))


def replay(client: redis.Redis, db: Database, handle: Handler, limit: int = 1000) -> int:
    """Replay parked callbacks through `handle(kind, form)`.

    An outage stops the run (the rest wait for the next one). A callback that fails for any
    other reason cannot succeed later: it is set aside (`REJECTED_KEY` in Redis, or its row
    marked rejected), logged without its content, and the replay goes on, so one bad
    callback never holds back the ones parked after it.
    """
    done = rejected = 0
    with db.session() as s:
        parked = s.scalars(
            select(ParkedCallback).where(ParkedCallback.kind.not_like(f"{REJECTED}%"))
            .order_by(ParkedCallback.id).limit(limit)
        ).all()
        items = [(p.id, p.kind, p.payload) for p in parked]
    for row_id, kind, payload in items:
        try:
            data = json.loads(payload)
            handle(data["kind"], data["form"])
        except Exception as exc:
            if _outage(exc):
                raise
            log.error("parked %s callback %s set aside, it cannot be replayed: %s", kind, row_id,
                      type(exc).__name__)
            with db.session() as s:
                s.execute(update(ParkedCallback).where(ParkedCallback.id == row_id)
                          .values(kind=f"{REJECTED}{kind}"[:16]))
            rejected += 1
            continue
        with db.session() as s:
            s.execute(delete(ParkedCallback).where(ParkedCallback.id == row_id))
        done += 1
    while done + rejected < limit:
        raw = client.lpop(REDIS_KEY)
        if not isinstance(raw, (bytes, str)):
            break
        try:
            data = json.loads(raw)
            handle(data["kind"], data["form"])
        except Exception as exc:
            if _outage(exc):
                client.lpush(REDIS_KEY, raw)  # put it back for the next run
                raise
            log.error("a parked callback from Redis set aside, it cannot be replayed: %s",
                      type(exc).__name__)
            pipe = client.pipeline(transaction=True)
            pipe.rpush(REJECTED_KEY, raw)
            pipe.expire(REJECTED_KEY, KEEP)
            pipe.execute()
            rejected += 1
            continue
        done += 1
    if done or rejected:
        log.info("replayed %s parked callbacks, %s set aside", done, rejected)
    return done
