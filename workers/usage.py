"""Moving the usage records staged on Redis (core/usage_stream.py) into the `query` table.

Exactly once, whatever dies when: each batch's rows and the stream id of its last record are
written in one transaction, and the cursor moves only if nobody moved it meanwhile (a
conditional UPDATE, which also makes two drains at once safe: the second finds the cursor moved
and rolls back). The stream is trimmed only below a committed cursor, so a drain killed between
its commit and the trim leaves records that the next drain skips.
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.usage_stream import STREAM, as_text, decode
from models import Database, Query, UsageCursor
from models.base import utcnow
from workers.context import current

log = logging.getLogger("mijuntos.usage")
CURSOR = "usage"
BATCH = 5000


def _cursor(db: Database) -> str:
    for _attempt in range(2):
        try:
            with db.session() as session:
                last = session.scalar(select(UsageCursor.last_id).where(UsageCursor.name == CURSOR))
                if last is None:  # the migration's row is gone (a truncated table)
                    session.add(UsageCursor(name=CURSOR, last_id="0-0"))
                    last = "0-0"
            return last
        except IntegrityError:
            continue  # another drain made the row at the same moment: read it
    raise RuntimeError("usage cursor: cannot read or make its row")


def _order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _after(stream_id: str) -> str:
    """The smallest stream id above `stream_id` (XTRIM MINID keeps ids from there on)."""
    ms, seq = _order(stream_id)
    return f"{ms}-{seq + 1}"


def _recreated(client: redis.Redis, last: str) -> bool:
    """Whether the stream was made anew below the cursor (Redis lost its data, or a failover
    to a server whose clock is behind): its records would otherwise be skipped for good."""
    info = client.xinfo_stream(STREAM)
    return _order(as_text(info["last-generated-id"])) < _order(last)


def _move_cursor(session: Session, last: str, to: str) -> bool:
    """Move the cursor from `last` to `to`, unless another drain moved it first."""
    moved = session.execute(
        update(UsageCursor)
        .where(UsageCursor.name == CURSOR, UsageCursor.last_id == last)
        .values(last_id=to, updated_at=utcnow())
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def drain_usage(
    db: Database, client: redis.Redis, batch: int = BATCH, max_batches: int | None = None
) -> int:
    """Move the staged usage records into `query` (all, or `max_batches` batches); how many."""
    moved = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        last = _cursor(db)
        entries = client.xrange(STREAM, min=f"({last}", count=batch)
        if not entries:
            left = client.xlen(STREAM)
            if left and _recreated(client, last):
                with db.session() as session:
                    _move_cursor(session, last, "0-0")  # every record there is new: take them all
                continue
            if left:  # a drain died between its commit and its trim
                client.xtrim(STREAM, minid=_after(last), approximate=False)
            break
        newest = as_text(entries[-1][0] or b"")
        with db.session() as session:
            if not _move_cursor(session, last, newest):
                session.rollback()  # another drain moved these records first
                continue
            session.execute(insert(Query), [decode(fields or {}) for _id, fields in entries])
        moved += len(entries)
        # Everything up to the committed cursor is in the database now.
        client.xtrim(STREAM, minid=_after(newest), approximate=False)
        if len(entries) < batch:
            break
    if moved:
        log.info("usage records moved to the database: %d", moved)
    return moved


def drain_before_counting(
    db: Database, client: redis.Redis, max_batches: int | None = None
) -> bool:
    """Drain before a report counts lookups; False (and a warning) when Redis cannot be read."""
    try:
        drain_usage(db, client, max_batches=max_batches)
    except redis.RedisError as exc:
        log.warning("usage records staged in Redis not moved (%s): the last minute may be missing",
                    type(exc).__name__)
        return False
    return True


def backlog(client: redis.Redis) -> int:
    """Records staged and not yet moved (and those of a drain that died before its trim)."""
    return int(client.xlen(STREAM))


def usage_job() -> int:
    """The scheduler's job: drain with the worker's database and Redis."""
    ctx = current()
    return drain_usage(ctx.db, ctx.redis)
