"""Broadcasts: an operator's ad-hoc SMS to the households of some UTs, pay points or a period.

A preview stores a draft under a fresh broadcast id (Redis, with a TTL). Confirming claims the
draft once (HSETNX): a second confirm of the same preview finds it claimed and queues nothing.
The outbox rows are made by an rq job, not in the request (a national broadcast is 760k rows),
in pages that commit one by one; each row's dedupe key `broadcast:{id}:{hogar}` makes a retried
or repeated job skip what is already there. The dispatcher sends them like reminders: in the
send window, under the rate limit, never to an opted-out phone.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue, Retry
from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.keys import key_for
from dialogs.gsm import sms_parts
from models import Database, Household, OptOut, OutboxMessage, Settlement
from models.base import utcnow
from workers.context import current
from workers.outbox_insert import ANALYZE_AFTER, analyze_outbox
from workers.queues import sms_queue

log = logging.getLogger("mijuntos.broadcast")

DRAFT_TTL = 3600  # a preview may be confirmed within the hour
KEEP_TTL = 30 * 24 * 3600  # a confirmed broadcast's record (status page, second confirms)
PAGE = 5000
PAGES_PER_JOB = 10


@dataclass
class Draft:
    """What a preview showed; a confirm must match it."""

    uts: list[str]
    points: list[str]
    periodo: str
    text: str
    id: str = ""
    user: str = ""
    households: int = 0
    phones: int = 0
    excluded: int = 0
    state: str = "preview"  # preview, queued, creating, done, failed
    created: int = 0  # households with their row in the outbox
    created_phones: int = 0
    confirmed_by: str = ""
    confirmed_at: str = ""
    error: str = ""
    job: str = ""  # the rq job making its rows now

    def same_form(self, other: Draft) -> bool:
        return (self.uts, self.points, self.periodo, self.text) == (
            other.uts, other.points, other.periodo, other.text)

    @property
    def encoding(self) -> str:
        return sms_parts(self.text)[0]

    @property
    def segments(self) -> int:
        return sms_parts(self.text)[1]


def _key(bid: str) -> str:
    return key_for("broadcast", bid)


_LISTS = ("uts", "points")
_INTS = ("households", "phones", "excluded", "created", "created_phones")


def save_draft(client: redis.Redis, draft: Draft) -> str:
    """Store a new draft under a fresh id; returns the id."""
    draft.id = secrets.token_hex(8)
    fields: dict[str, str | int] = {
        "uts": json.dumps(draft.uts), "points": json.dumps(draft.points), "periodo": draft.periodo,
        "text": draft.text, "user": draft.user, "households": draft.households,
        "phones": draft.phones, "excluded": draft.excluded, "state": "preview",
    }
    pipe = client.pipeline(transaction=True)
    pipe.hset(_key(draft.id), mapping=fields)  # type: ignore[arg-type]
    pipe.expire(_key(draft.id), DRAFT_TTL)
    pipe.execute()
    return draft.id


def load(client: redis.Redis, bid: str) -> Draft | None:
    """The draft or broadcast `bid`, or None (unknown, or a preview that expired)."""
    if not bid.isalnum() or len(bid) > 32:
        return None
    raw = {k.decode(): v.decode() for k, v in client.hgetall(_key(bid)).items()}  # type: ignore[union-attr]
    if "text" not in raw:
        return None
    values: dict[str, Any] = {k: v for k, v in raw.items() if k in Draft.__dataclass_fields__}
    for name in _LISTS:
        values[name] = json.loads(values.get(name) or "[]")
    for name in _INTS:
        values[name] = int(values.get(name) or 0)
    return Draft(**{**values, "id": bid})


_CLAIM = """
if redis.call('HEXISTS', KEYS[1], 'text') == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], 'confirmed_by', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'queued', 'confirmed_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def claim(client: redis.Redis, bid: str, user: str) -> int:
    """Mark the draft confirmed, in one step: 1 done, 0 it already was (a second confirm of one
    preview), -1 no such draft (expired)."""
    return int(client.eval(_CLAIM, 1, _key(bid), user, utcnow().isoformat(), KEEP_TTL))  # type: ignore[arg-type]


def unclaim(client: redis.Redis, bid: str) -> None:
    """Undo a claim whose job could not be queued, so the operator can confirm again."""
    pipe = client.pipeline(transaction=True)
    pipe.hdel(_key(bid), "confirmed_by", "confirmed_at")
    pipe.hset(_key(bid), "state", "preview")
    pipe.expire(_key(bid), DRAFT_TTL)
    pipe.execute()


def _update(client: redis.Redis, bid: str, **values: str | int) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.hset(_key(bid), mapping=values)  # type: ignore[arg-type]
    pipe.expire(_key(bid), KEEP_TTL)
    pipe.execute()


def audience(draft: Draft) -> tuple[Any, Any]:
    """(households who get it, households left out: opted out or reminders off)."""
    where: list[Any] = [Household.phone.is_not(None)]
    if draft.uts:
        where.append(Household.unidad_territorial.in_(draft.uts))
    if draft.points or draft.periodo:
        cond = [Settlement.hogar_id == Household.hogar_id]
        if draft.points:
            cond.append(Settlement.punto_id.in_(draft.points))
        if draft.periodo:
            cond.append(Settlement.periodo == draft.periodo)
        where.append(exists().where(and_(*cond)))
    opted = exists().where(OptOut.phone == Household.phone)
    return and_(*where, Household.reminders_enabled.is_(True), ~opted), and_(
        *where, (Household.reminders_enabled.is_(False)) | opted)


def count(s: Session, draft: Draft) -> None:
    """Fill in the draft's households, distinct phones (one SMS each) and households left out."""
    included, excluded = audience(draft)
    households, phones = s.execute(
        select(func.count(), func.count(func.distinct(Household.phone))).where(included)).one()
    draft.households, draft.phones = int(households), int(phones)
    draft.excluded = int(s.scalar(select(func.count()).select_from(Household).where(excluded)) or 0)


@dataclass
class Progress:
    """How far the rows of a broadcast are made: rows go in phone order, `after` the last phone done."""

    households: int = 0
    phones: int = 0
    after: str = ""
    finished: bool = False


def create_rows(db: Database, draft: Draft, start: Progress | None = None, pages: int | None = None,
                on_page: Callable[[Progress], None] | None = None) -> Progress:
    """The broadcast's outbox rows from `start` on, a page per transaction, `pages` pages at most.

    Rows are made in phone order, so the rows of a phone shared by several households get
    neighbouring ids and the dispatcher sends that phone one SMS (it joins a claim's rows by
    recipient). Rows already there (a retried job) are skipped by their dedupe key.
    """
    done = Progress(**vars(start)) if start else Progress()
    included, _ = audience(draft)
    encoding, segments = sms_parts(draft.text)
    columns = (Household.hogar_id, Household.phone, Household.unidad_territorial)
    for _page in itertools.count() if pages is None else range(pages):
        with db.session() as s:
            rows = list(s.execute(
                select(*columns).where(included, Household.phone > done.after)
                .order_by(Household.phone).limit(PAGE)
            ).all())
            if not rows:
                done.finished = True
                return done
            if len(rows) == PAGE:  # the page may have cut the last phone's households: take them all
                tail = rows[-1].phone
                rows = [r for r in rows if r.phone != tail] + sorted(s.execute(
                    select(*columns).where(included, Household.phone == tail)).all())
            now = utcnow()
            values = [
                {"recipient": r.phone, "text": draft.text, "encoding": encoding, "segments": segments,
                 "purpose": "broadcast", "kind": "broadcast", "status": "pending",
                 "periodo": draft.periodo or None, "dedupe_key": f"broadcast:{draft.id}:{r.hogar_id}",
                 "hogar_id": r.hogar_id, "unidad_territorial": r.unidad_territorial,
                 "subject": draft.id, "send_after": now, "attempts": 0, "dup_risk": False,
                 "created_at": now, "updated_at": now}
                for r in rows
            ]
            # Rows already there are skipped. (RETURNING would count the new ones, at twice the
            # time; an IN list of the page's keys is slow while the planner thinks the outbox small.)
            s.execute(_insert_new(s), values)
        done.households += len(rows)
        done.phones += len({r.phone for r in rows})
        done.after = rows[-1].phone
        if on_page is not None:
            on_page(done)
    return done


def _insert_new(s: Session) -> Any:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, in this database's dialect."""
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = OutboxMessage.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])  # type: ignore[arg-type]


def create_broadcast(bid: str, households: int = 0, phones: int = 0, after: str = "") -> str:
    """rq job: make the outbox rows of confirmed broadcast `bid` (safe to run twice).

    One job makes `PAGES_PER_JOB` pages (a few seconds), then queues the next from where it
    stopped: replies to people waiting share the `sms` queue and get their turn in between.
    """
    ctx = current()
    draft = load(ctx.redis, bid)
    if draft is None or not draft.confirmed_by:
        log.warning("broadcast %s: no confirmed broadcast by that id", bid)
        return "missing"
    _update(ctx.redis, bid, state="creating")
    start = Progress(households=households, phones=phones, after=after)

    def progress(done: Progress) -> None:
        _update(ctx.redis, bid, created=done.households, created_phones=done.phones)

    try:
        done = create_rows(ctx.db, draft, start, PAGES_PER_JOB, progress)
    except Exception as exc:
        _update(ctx.redis, bid, state="failed", error=type(exc).__name__)
        raise
    if not done.finished:
        enqueue(sms_queue(ctx.redis), bid, done)
        return f"broadcast {bid}: {done.households} households so far; continues"
    if done.households >= ANALYZE_AFTER:
        analyze_outbox(ctx.db)  # the dispatcher's claims read the new rows in index order
    _update(ctx.redis, bid, state="done", created=done.households, created_phones=done.phones, error="")
    log.info("broadcast %s: %s households, %s phones", bid, done.households, done.phones)
    return f"broadcast {bid}: {done.households} households, {done.phones} phones"


def enqueue(queue: Queue, bid: str, done: Progress | None = None) -> None:
    """Queue the job that makes broadcast `bid`'s rows (after `done`, when it goes on)."""
    done = done or Progress()
    job = job_id(bid, done.households)
    queue.enqueue(
        create_broadcast, bid, done.households, done.phones, done.after,
        job_id=job,
        job_timeout=600,  # a job makes ~50k rows: about 3 s on PostgreSQL
        retry=Retry(max=3, interval=[30, 120, 600]),
        result_ttl=7 * 24 * 3600,
        failure_ttl=7 * 24 * 3600,
    )
    _update(queue.connection, bid, job=job)  # type: ignore[arg-type]


def job_id(bid: str, households_done: int = 0) -> str:
    """The first job of a broadcast, and each next one by where it starts (a retry reuses it)."""
    return f"broadcast-{bid}" + (f"-{households_done}" if households_done else "")
