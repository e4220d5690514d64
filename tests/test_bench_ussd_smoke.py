"""The USSD, session-memory and import benchmarks run at a tiny size, so they cannot rot.

Nothing here is timed: each benchmark must complete and print its figures.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


needs_postgres = pytest.mark.skipif(not _postgres_answers(), reason="no PostgreSQL on 127.0.0.1:5432")


def run_bench(script: str, tmp_path: Path, *args: str) -> str:
    env = {**os.environ, "MIJUNTOS_USSD_BENCH_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@needs_postgres
@pytest.mark.skipif(shutil.which("wrk") is None, reason="no wrk (bench/ussd_load.py installs it)")
def test_ussd_load_replays_sessions_against_both_servers(tmp_path: Path) -> None:
    out = run_bench("ussd_load.py", tmp_path, "--households", "300", "--duration", "1",
                    "--repeats", "1", "--connections", "2", "--identities", "50")
    table = out[out.index("medians of 1 runs"):]
    for server in ("bare", "mijuntos"):
        row = next(line.split() for line in table.splitlines() if line.startswith(server))
        hops_s, errors = float(row[2]), int(row[6])
        assert hops_s > 0
        assert errors == 0, out


def test_session_memory_reports_bytes_per_session(tmp_path: Path) -> None:
    out = run_bench("session_memory.py", tmp_path, "--sessions", "1000", "--households", "300",
                    "--samples", "20")
    assert "1000 live sessions" in out
    assert "bytes per live session" in out
    assert "MEMORY USAGE session key" in out


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def test_import_benchmark_imports_the_cut_data_set(tmp_path: Path, db: str) -> None:
    out = run_bench("import_national.py", tmp_path, "--households", "300", "--db", db,
                    "--database", "mj_ussd_bench_smoke_import")
    assert "data set: 300 padron.csv" in out
    assert "300 abonos.csv" in out  # one settlement per household
    assert f"{db}: " in out and "peak" in out


@needs_postgres
def test_ussd_profile_reports_cpu_per_hop(tmp_path: Path) -> None:
    out = run_bench("ussd_profile.py", tmp_path, "--households", "300", "--sessions", "20",
                    "--runs", "1", "--cprofile", "5")
    assert "CPU ms/hop median" in out and "function calls" in out


def test_the_voice_load_benchmark_runs_whole_calls_beside_ussd(tmp_path: Path) -> None:
    out = run_bench("voice_load.py", tmp_path, "--households", "300", "--seconds", "1",
                    "--rounds", "1", "--callers", "2", "--workers", "1")
    assert "round 1 voice:" in out and "round 1 ussd:" in out, out
    assert "voice / ussd requests per second:" in out, out
