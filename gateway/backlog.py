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
from sqlalchemy import delete, select

from gateway.sessions import key_for
from models import Database, ParkedCallback
from models.base import utcnow

log = logging.getLogger("mijuntos.backlog")
REDIS_KEY = key_for("backlog", "callbacks")
KEEP = 7 * 24 * 3600


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


Handler = Callable[[str, dict[str, str]], Any]


def replay(client: redis.Redis, db: Database, handle: Handler, limit: int = 1000) -> int:
    """Replay parked callbacks through `handle(kind, form)`; stops at the first failure."""
    done = 0
    with db.session() as s:
        parked = s.scalars(select(ParkedCallback).order_by(ParkedCallback.id).limit(limit)).all()
        items = [(p.id, p.payload) for p in parked]
    for row_id, payload in items:
        data = json.loads(payload)
        handle(data["kind"], data["form"])
        with db.session() as s:
            s.execute(delete(ParkedCallback).where(ParkedCallback.id == row_id))
        done += 1
    while done < limit:
        raw = client.lpop(REDIS_KEY)
        if not isinstance(raw, (bytes, str)):
            break
        data = json.loads(raw)
        try:
            handle(data["kind"], data["form"])
        except Exception:
            client.lpush(REDIS_KEY, raw)  # put it back for the next run
            raise
        done += 1
    if done:
        log.info("replayed %s parked callbacks", done)
    return done
