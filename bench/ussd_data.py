"""Data and processes the USSD, session-memory and import benchmarks share (cached per size)."""

from __future__ import annotations

import hashlib
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from support import PG_SERVER, say

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("MIJUNTOS_USSD_BENCH_DIR", "/tmp/mj-ussd-bench"))
DB_PREFIX = "mj_ussd_bench"  # the only databases these benchmarks create, fill or drop


def children_peak_mib() -> float:
    """Peak resident set of the largest waited-for child so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def demo_csv(households: int, periods: int = 2) -> Path:
    """A demo CSV set (`mijuntos demo-data`), written once per size, period count and day."""
    directory = CACHE / f"csv-h{households}-p{periods}"
    marker = directory / "written.txt"
    stamp = f"{households} {periods} {time.strftime('%Y-%m-%d')}"
    if marker.is_file() and marker.read_text().strip() == stamp:
        return directory
    say(f"writing demo data: {households} households, {periods} periods")
    started = time.monotonic()
    subprocess.run(
        [str(BIN / "mijuntos"), "demo-data", str(directory), "--households", str(households),
         "--periods", str(periods)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    marker.write_text(stamp + "\n")
    say(f"  written in {time.monotonic() - started:.0f} s")
    return directory


def pg_url(name: str) -> str:
    if not re.fullmatch(rf"{DB_PREFIX}\w*", name):
        raise ValueError(f"database: refusing to use {name!r} for a benchmark")
    return f"{PG_SERVER}/{name}"


def recreate_pg(name: str) -> str:
    """An empty PostgreSQL database `name` (dropped first if it exists); its URL."""
    url = pg_url(name)
    engine = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url


def household_count(url: str) -> int | None:
    """How many households `url` holds, or None when it has no schema (or no database)."""
    from models import Household

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Household)) or 0)
    except Exception:
        return None
    finally:
        engine.dispose()


def run_import(url: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """`mijuntos import DIR --no-plan` into `url`, as an operator would run it."""
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [str(BIN / "mijuntos"), "import", str(directory), "--no-plan", "--no-progress",
         "--batch-size", "5000"],
        check=True, cwd=ROOT, env=env, capture_output=True, text=True,
    )


def demo_sqlite(households: int) -> str:
    """A SQLite database of `households` demo households, imported once per size and day."""
    directory = demo_csv(households)
    path = CACHE / f"sqlite-h{households}" / "bench.db"
    url = f"sqlite:///{path}"
    stamp = path.parent / "imported.txt"
    if stamp.is_file() and stamp.read_text() == (directory / "written.txt").read_text():
        return url
    path.parent.mkdir(parents=True, exist_ok=True)
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    run_import(url, directory)
    stamp.write_text((directory / "written.txt").read_text())
    return url


def schema_tag() -> str:
    """A short digest of the migrations: a database made by other code (another branch's schema,
    one migration fewer) is never reused for this one, nor changed under the code using it."""
    versions = ROOT / "models" / "migrations" / "versions"
    digest = hashlib.sha256()
    for path in sorted(versions.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:8]


def national_pg(households: int) -> str:
    """A PostgreSQL database holding `households` demo households, imported once per size and schema."""
    name = f"{DB_PREFIX}_h{households}_s{schema_tag()}"
    url = pg_url(name)
    if household_count(url) == households:
        from models import Database

        db = Database(url)
        try:
            db.upgrade()  # the schema may have moved on since the import (as bench/support.py)
        finally:
            db.dispose()
        say(f"reusing {name}")
        return url
    directory = demo_csv(households)
    recreate_pg(name)
    say(f"importing {households} households into {name}")
    started = time.monotonic()
    run_import(url, directory)
    say(f"  imported in {time.monotonic() - started:.0f} s")
    return url


def sample_identities(url: str, count: int, seed: int = 1) -> tuple[list[str], list[tuple[str, str]]]:
    """Real callers: phones of record (of one household each) and (DNI, DDMMAAAA) pairs."""
    from models import Household

    rng = random.Random(seed)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            total = int(conn.scalar(select(func.count()).select_from(Household)) or 0)
            step = max(total // (count * 2), 1)
            # A phone of exactly one household: that caller lands on the main menu.
            single = (
                select(Household.phone)
                .where(Household.phone.is_not(None))
                .group_by(Household.phone)
                .having(func.count() == 1)
                .subquery()
            )
            phones = [p for (p,) in conn.execute(select(single.c.phone).limit(count * step))][::step]
            rows = conn.execute(
                select(Household.dni, Household.fecha_nacimiento)
                .where(Household.estado == "afiliado")
                .limit(count * step)
            ).all()
    finally:
        engine.dispose()
    dnis = [(dni, born.strftime("%d%m%Y")) for dni, born in rows[::step]]
    rng.shuffle(phones)
    rng.shuffle(dnis)
    return phones[:count], dnis[:count]


def stranger_phones(url: str, count: int, seed: int = 2) -> list[str]:
    """Mobile numbers that are no household's phone of record: DNI callers dial from these."""
    from models import Household

    rng = random.Random(seed)
    candidates = sorted({f"+519{rng.randrange(10**8):08d}" for _ in range(count * 2)})
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            taken: set[str] = set()
            for i in range(0, len(candidates), 1000):
                chunk = candidates[i:i + 1000]
                taken.update(conn.scalars(select(Household.phone).where(Household.phone.in_(chunk))))
    finally:
        engine.dispose()
    free = [p for p in candidates if p not in taken]
    rng.shuffle(free)
    return free[:count]


def export_identities(url: str, path: Path, count: int, seed: int = 1) -> tuple[int, int]:
    """Write a Lua table of callers: phones of record, (DNI, DDMMAAAA) pairs, other phones."""
    phones, dnis = sample_identities(url, count, seed)
    strangers = stranger_phones(url, count)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["return {", " strangers = {"]
    lines += [f'  "{p}",' for p in strangers]
    lines += [" },", " phones = {"]
    lines += [f'  "{p}",' for p in phones]
    lines += [" },", " dnis = {"]
    lines += [f'  {{"{d}", "{b}"}},' for d, b in dnis]
    lines += [" },", "}"]
    path.write_text("\n".join(lines) + "\n")
    return len(phones), len(dnis)
