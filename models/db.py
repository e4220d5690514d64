"""Engine, sessions and migrations for one database URL (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_MS = 5000  # how long a SQLite write waits for another's lock, by default


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web workers read while an import writes; busy_timeout waits for the lock
    # instead of failing at once.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, statement_timeout_ms: int | None = None) -> Engine:
    """An engine with short timeouts, so an unreachable database fails fast instead of hanging."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # reported on first use, where the caller can answer politely
        # hide_parameters: an error's message (and so a log line) must not carry the row's values
        # (a reply text may name a reason; a phone, a DNI). The scrubbing formatter is the second line.
        engine = create_engine(url, connect_args={"timeout": 5}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 2}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    return create_engine(
        url,
        pool_pre_ping=False,
        pool_size=5,
        max_overflow=5,
        pool_timeout=1,
        connect_args=connect_args,
        hide_parameters=True,
    )


class Database:
    """One database: its engine, a session factory and its migrations."""

    def __init__(self, url: str, *, statement_timeout_ms: int | None = None,
                 read_timeout_ms: int | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, statement_timeout_ms)
        # The read connections' own statement timeout (a USSD hop's deadline), shorter than the
        # engine's: a hop's SELECT blocked by a lock gives up in time for the polite END.
        self.read_timeout_ms = read_timeout_ms
        # Same pool, connections in autocommit: for work that only reads (a USSD hop's facts).
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._local = threading.local()
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def read_connection(self) -> Connection:
        """This thread's autocommit connection for reads, kept from one call to the next.

        A USSD hop's SELECTs go out alone (no BEGIN before, no ROLLBACK after) on a connection
        taken from the pool once per thread rather than once per hop: checking one out and back
        in was 5 % of a hop's CPU. A connection that failed is dropped (`drop_read_connection`)
        and the next call takes a fresh one.
        """
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.read_engine.connect()
            if self.read_timeout_ms and conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET statement_timeout = {int(self.read_timeout_ms)}")
            self._local.conn = conn
        return conn

    def drop_read_connection(self) -> None:
        """Give this thread's read connection back (after a failure, or on shutdown)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection: the pool discards it
                pass

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def bounded_session(self, wait_ms: int) -> Iterator[Session]:
        """A session (as `session`) whose lock waits and statements give up after `wait_ms`:
        a USSD hop's writes, within what is left of its deadline. PostgreSQL: lock_timeout and
        statement_timeout for this transaction only; SQLite: the busy timeout, put back after."""
        wait_ms = max(int(wait_ms), 50)
        with self.session() as session:
            conn = session.connection()
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            else:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {wait_ms}")
            try:
                yield session
            finally:
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")

    def alembic_config(self) -> Any:
        """The Alembic configuration for this database, without an ini file."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to `revision` (default: the newest)."""
        from alembic import command

        command.upgrade(self.alembic_config(), revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision`."""
        from alembic import command

        command.downgrade(self.alembic_config(), revision)

    def dispose(self) -> None:
        """Close every pooled connection (and this thread's read connection)."""
        self.drop_read_connection()
        self.engine.dispose()
