"""Writing many planned outbox rows at once, and refreshing the outbox's statistics after."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import Database, OutboxMessage

ANALYZE_AFTER = 10_000  # new rows that call for fresh statistics before the dispatchers claim


def insert_new(s: Session, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose dedupe key is not taken yet; how many really were inserted."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        return _insert_unnest(s, rows)
    table = cast(Table, OutboxMessage.__table__)
    stmt = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.id))
    # A Core executemany (multi-row VALUES batches from one compiled statement); an ORM
    # bulk insert with RETURNING and ON CONFLICT goes a few rows at a time.
    # RETURNING counts the rows really inserted (another planner may have won).
    return len(s.connection().execute(stmt, rows).all())


def _insert_unnest(s: Session, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL: one INSERT of a page's rows, one array per column; how many were inserted.

    Arrays keep the statement short: a multi-row VALUES with ~20 parameters a row costs more
    to build and to parse (in Python) than sending the rows.
    """
    table = OutboxMessage.__table__
    names = list(rows[0])
    dialect = postgresql.dialect()
    params: dict[str, list[Any]] = {}
    casts = []
    for i, name in enumerate(names):
        column = table.c[name]
        params[f"c{i}"] = [str(r[name]) if isinstance(r[name], StrEnum) else r[name] for r in rows]
        casts.append(f"CAST(:c{i} AS {column.type.compile(dialect=dialect)}[])")
    stmt = text(
        f"INSERT INTO {OutboxMessage.__tablename__} ({', '.join(names)}) "
        f"SELECT * FROM unnest({', '.join(casts)}) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
    )
    # RETURNING counts the rows really inserted (another planner may have won).
    return len(s.execute(stmt, params).all())


def analyze_outbox(db: Database) -> None:
    """Refresh the outbox's statistics after a wave was planned (or a broadcast made).

    Autovacuum gets there minutes later; until then PostgreSQL believes there are a few hundred
    pending rows and claims by sorting all of them (~0.35 s a claim at national scale) instead
    of reading ix_outbox_claim in order (~0.03 s). SQLite's planner is guided the same way.
    """
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE outbox"))
