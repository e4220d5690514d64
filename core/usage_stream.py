"""Usage records (a caller's lookups, for the programme's reports) staged on a Redis stream.

A USSD hop already ends with one Redis pipeline (its session state); its usage records ride in
that pipeline instead of a database transaction of their own, so a hop that only reads the
programme's data writes nothing to the database. `workers/usage.py` moves the records into the
`query` table in batches, exactly once (the scheduler runs it every minute; `mijuntos report`
and the dashboard run it before they count). A record waits in Redis until then: Redis must be
persistent in production (docs/DEPLOY.md), as it already must be for the rq queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from core.keys import Pipeline, key_for
from models import Query

STREAM = key_for("usage", "records")
# Every key has a TTL, this queue too, renewed by each write: it outlives any drain pause an
# operator would allow (the scheduler runs the drain every minute; /metrics shows the backlog as
# mijuntos_usage_backlog), and a stream left by a service taken down does not stay for ever.
TTL = 7 * 24 * 3600
FIELDS = ("channel", "kind", "outcome", "hogar_id", "unidad_territorial", "periodo", "gestor_id",
          "gestor_ut", "tambo")
WIDTHS = {name: Query.__table__.c[name].type.length for name in FIELDS}  # type: ignore[attr-defined]


def stage(pipeline: Pipeline, records: Iterable[Mapping[str, Any]]) -> None:
    """Append `records` (the `query` table's columns) to the stream, on `pipeline`."""
    staged = False
    for record in records:
        entry = {name: record.get(name) or "" for name in FIELDS}
        entry["created_at"] = record["created_at"].isoformat()
        pipeline.xadd(STREAM, entry)
        staged = True
    if staged:
        pipeline.expire(STREAM, TTL)


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A staged record as the `query` table's columns (empty strings were None)."""
    text = {as_text(k): as_text(v) for k, v in fields.items()}
    # Cut to the columns' sizes: one over-long value must not fail the whole batch's insert
    # (the drain would retry it every minute and move nothing more).
    row: dict[str, Any] = {name: (text.get(name) or None) and text[name][:WIDTHS[name]]
                           for name in FIELDS}
    row["created_at"] = dt.datetime.fromisoformat(text["created_at"])
    return row
