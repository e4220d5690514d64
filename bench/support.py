"""What the benchmarks share: cached data sets, the stand-in provider and Redis as processes, peak RSS."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import delete, func, select, text

from core.embedded import EmbeddedRedis
from core.settings import Settings
from models import Database, Household, OutboxMessage, PayPoint, ReminderControl, Settlement

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("MIJUNTOS_BENCH_DIR", "/tmp/mijuntos-bench"))
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
# The planner reads only these; corresponsabilidades.csv (2 million rows) is left out of the import.
PLANNER_FILES = ("padron.csv", "cronograma.csv", "abonos.csv")


def say(msg: str) -> None:
    print(msg, flush=True)


def mib(kib: int) -> float:
    return kib / 1024


def self_peak_kib() -> int:
    """This process's peak resident set (ru_maxrss is in KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_kib(pid: int) -> int:
    """A live process's peak resident set (VmHWM), in KiB; 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- data ---------------------------------------------------------------------------------------


def _csv_is_current(directory: Path, households: int) -> bool:
    """The CSV set exists, has `households` rows, and its newest period is still to be paid."""
    if not all((directory / name).is_file() for name in PLANNER_FILES):
        return False
    marker = directory / "households.txt"
    if not marker.is_file() or marker.read_text().strip() != str(households):
        return False
    with open(directory / "cronograma.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    newest = max(r["periodo"] for r in rows)
    first_day = min(r["fecha_inicio"] for r in rows if r["periodo"] == newest)
    return first_day > dt.date.today().isoformat()


def demo_csv(households: int) -> Path:
    """A demo CSV set of `households` households, written once per size and day it stays valid."""
    from mijuntos_dev.demo_data import write_demo_data

    directory = CACHE / f"csv-h{households}"
    if not _csv_is_current(directory, households):
        say(f"writing demo data for {households} households to {directory}")
        started = time.monotonic()
        write_demo_data(directory, households)
        (directory / "households.txt").write_text(f"{households}\n")
        say(f"  demo data written in {time.monotonic() - started:.1f} s")
    only = directory / "planner-only"
    only.mkdir(exist_ok=True)
    for name in PLANNER_FILES:
        link = only / name
        if not link.exists():
            link.symlink_to(directory / name)
    return only


def database_url(kind: str, households: int) -> str:
    if kind == "sqlite":
        return f"sqlite:///{CACHE / f'sqlite-h{households}' / 'bench.db'}"
    if kind == "postgresql":
        return f"{PG_SERVER}/mj_bench_h{households}"
    raise ValueError(f"db: must be sqlite or postgresql, got {kind!r}")


def _ensure_pg_database(url: str) -> None:
    from sqlalchemy import create_engine

    server, _, name = url.rpartition("/")
    if not re.fullmatch(r"mj_bench_h\d+", name):
        raise ValueError(f"database: refusing to use {name!r} for a benchmark")
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _import_is_current(db: Database, households: int) -> bool:
    try:
        with db.session() as s:
            count = s.scalar(select(func.count()).select_from(Household))
            newest = s.scalar(select(func.max(Settlement.periodo)))
            first_day = s.scalar(select(func.min(PayPoint.fecha_inicio)).where(PayPoint.periodo == newest))
    except Exception:  # no schema yet
        return False
    return count == households and first_day is not None and first_day > dt.date.today()


def prepare_database(kind: str, households: int) -> str:
    """A database holding `households` demo households (imported once, reused while valid); its URL."""
    url = database_url(kind, households)
    if kind == "postgresql":
        _ensure_pg_database(url)
    db = Database(url)
    try:
        if _import_is_current(db, households):
            db.upgrade()  # the schema may have moved on since the import
            say(f"reusing the import in {url}")
            return url
        directory = demo_csv(households)
        if kind == "sqlite":
            db.dispose()
            Path(url.split("///", 1)[1]).unlink(missing_ok=True)
            db = Database(url)
        else:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        db.upgrade()
        from mijuntos.importer import import_dir

        say(f"importing {households} households into {url}")
        started = time.monotonic()
        import_dir(db, directory, batch_size=5000)
        say(f"  imported in {time.monotonic() - started:.1f} s")
        return url
    finally:
        db.dispose()


def reset_outbox(url: str) -> None:
    """Start a wave from nothing: no outbox rows, sending not paused."""
    db = Database(url)
    try:
        with db.session() as s:
            if db.engine.dialect.name == "postgresql":
                s.execute(text("TRUNCATE outbox RESTART IDENTITY"))
            else:
                s.execute(delete(OutboxMessage))
            s.execute(delete(ReminderControl))
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE outbox"))
        else:
            with db.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        db.dispose()


def outbox_counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        with db.session() as s:
            rows = s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
            return {str(status): int(n) for status, n in rows}
    finally:
        db.dispose()


def bench_settings(url: str, redis_url: str, fake_url: str, **changes: Any) -> Settings:
    """Settings for a wave: every household's one reminder due now, at any hour of the day."""
    base = Settings(
        database_url=url,
        redis_url=redis_url,
        at_username="sandbox",
        at_api_key="bench",
        at_base_url=fake_url,
        # The demo's newest period opens 5 to 20 days ahead, on different days per pay point; an
        # offset further back than that puts every household's single reminder slot in the past,
        # so the planner makes it due now (one per household), as on the day of a real wave.
        reminder_offsets=(30,),
        send_window=("00:00", "24:00"),
    )
    return base.with_(**changes)


# -- processes ------------------------------------------------------------------------------------


@dataclass
class FakeProcess:
    """The stand-in provider in count-only mode, in its own process."""

    process: subprocess.Popen[str]
    root_url: str

    @classmethod
    def start(cls) -> FakeProcess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mijuntos_dev.fake_at", "--port", "0", "--count-only"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        found = re.search(r"(http://[\d.]+:\d+)/version1", banner)
        if not found:
            proc.kill()
            raise RuntimeError(f"fake-at: no URL in its banner {banner!r}")
        return cls(proc, found.group(1))

    @property
    def base_url(self) -> str:
        return self.root_url + "/version1"

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(self.root_url + "/_stats", timeout=5).json()
        return answer

    def reset(self) -> None:
        requests.post(self.root_url + "/_control/reset", timeout=5).raise_for_status()

    def peak_kib(self) -> int:
        return peak_kib(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_redis() -> EmbeddedRedis:
    """A private redis-server for this run (the rate limit and early delivery reports live there)."""
    directory = CACHE / f"redis-{os.getpid()}"
    server = EmbeddedRedis(directory)
    server.start()
    return server


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
